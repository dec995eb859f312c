//! Token lifecycle and front-end API keys.
//!
//! `push_token.last_used_at` (shown by `token list`), `push_token.replaced_by`
//! (the token a rotation issued in its place), and the `api_key` table:
//! GraphQL credentials kept, like push tokens, only as their SHA-256.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            timestamp_with_time_zone_null(PushToken::LastUsedAt),
            big_integer_null(PushToken::ReplacedBy),
        ] {
            let alter = Table::alter()
                .table(PushToken::Table)
                .add_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        manager.create_table(api_key()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::drop().table(ApiKey::Table).if_exists().to_owned();
        manager.drop_table(drop).await?;
        for column in [PushToken::ReplacedBy, PushToken::LastUsedAt] {
            let alter = Table::alter()
                .table(PushToken::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum PushToken {
    Table,
    LastUsedAt,
    ReplacedBy,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    KeyHash,
    Label,
    Parties,
    Operator,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

fn api_key() -> TableCreateStatement {
    Table::create()
        .table(ApiKey::Table)
        .col(big_pk_auto(ApiKey::Id))
        .col(string_uniq(ApiKey::KeyHash))
        .col(string_null(ApiKey::Label))
        // JSON array of "CC/PTY"; NULL means every party.
        .col(text_null(ApiKey::Parties))
        .col(boolean(ApiKey::Operator).default(false))
        .col(timestamp_with_time_zone(ApiKey::CreatedAt))
        .col(timestamp_with_time_zone_null(ApiKey::ExpiresAt))
        .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
        .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
        .to_owned()
}
