//! Push token strictness becomes three-valued.
//!
//! `push_token.strict` (a boolean) gives way to `push_token.strictness`:
//! `by-version` (strict under /ocpi/2.2.1/, lenient under /ocpi/2.1.1/, the
//! default of new tokens), `strict` or `lenient`. Existing tokens keep the
//! behaviour they had: `strict` stays strict, the others become `lenient`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = Table::alter()
            .table(PushToken::Table)
            .add_column(string(PushToken::Strictness).default("by-version"))
            .to_owned();
        manager.alter_table(add).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE push_token SET strictness = \
                 CASE WHEN strict THEN 'strict' ELSE 'lenient' END",
            )
            .await?;
        let drop = Table::alter()
            .table(PushToken::Table)
            .drop_column(PushToken::Strict)
            .to_owned();
        manager.alter_table(drop).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add = Table::alter()
            .table(PushToken::Table)
            .add_column(boolean(PushToken::Strict).default(false))
            .to_owned();
        manager.alter_table(add).await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE push_token SET strict = (strictness = 'strict')")
            .await?;
        let drop = Table::alter()
            .table(PushToken::Table)
            .drop_column(PushToken::Strictness)
            .to_owned();
        manager.alter_table(drop).await
    }
}

#[derive(DeriveIden)]
enum PushToken {
    Table,
    Strict,
    Strictness,
}
