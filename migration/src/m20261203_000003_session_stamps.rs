//! Column `session.merge_stamps`: the sender stamp of each merged field and
//! period, so that PATCHes arriving out of order converge to stamp order.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Session::Table)
            .add_column(text_null(Session::MergeStamps))
            .to_owned();
        manager.alter_table(alter).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Session::Table)
            .drop_column(Session::MergeStamps)
            .to_owned();
        manager.alter_table(alter).await
    }
}

#[derive(DeriveIden)]
enum Session {
    Table,
    MergeStamps,
}
