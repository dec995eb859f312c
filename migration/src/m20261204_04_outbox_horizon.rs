//! Table `outbox_horizon`: how far the outbox has been pruned, so that a
//! subscription cursor older than the retention window is recognised as stale
//! (sequence numbers have gaps, so the lowest stored one cannot tell).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = Table::create()
            .table(OutboxHorizon::Table)
            .col(integer(OutboxHorizon::Id).primary_key())
            .col(big_integer(OutboxHorizon::PrunedThrough).default(0))
            .to_owned();
        manager.create_table(create).await?;
        let first = Query::insert()
            .into_table(OutboxHorizon::Table)
            .columns([OutboxHorizon::Id, OutboxHorizon::PrunedThrough])
            .values_panic([1.into(), 0.into()])
            .to_owned();
        manager.exec_stmt(first).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::drop().table(OutboxHorizon::Table).to_owned();
        manager.drop_table(drop).await
    }
}

#[derive(DeriveIden)]
enum OutboxHorizon {
    Table,
    Id,
    PrunedThrough,
}
