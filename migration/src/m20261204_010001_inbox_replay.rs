//! Inbox columns for `chargegraph replay` and retention: `replay_of` on a
//! replay's row names the row it re-applied, `replayed_by` on the original
//! names its latest replay; an index on `received_at` keeps the pruner's
//! batches and the operators' time-range queries off a full scan.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const RECEIVED_INDEX: &str = "ix_inbox_received_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [Inbox::ReplayOf, Inbox::ReplayedBy] {
            let alter = Table::alter()
                .table(Inbox::Table)
                .add_column(big_integer_null(column))
                .to_owned();
            manager.alter_table(alter).await?;
        }
        let index = Index::create()
            .name(RECEIVED_INDEX)
            .table(Inbox::Table)
            .col(Inbox::ReceivedAt)
            .to_owned();
        manager.create_index(index).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let index = Index::drop()
            .name(RECEIVED_INDEX)
            .table(Inbox::Table)
            .to_owned();
        manager.drop_index(index).await?;
        for column in [Inbox::ReplayedBy, Inbox::ReplayOf] {
            let alter = Table::alter()
                .table(Inbox::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    ReceivedAt,
    ReplayOf,
    ReplayedBy,
}
