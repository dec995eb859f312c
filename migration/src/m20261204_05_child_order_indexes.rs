//! Indexes that list a location's EVSEs and an EVSE's connectors in row
//! order, as a Location PUT (marking unlisted EVSEs REMOVED), the OCPI GET
//! and the GraphQL loaders read them, without sorting.
//!
//! The unique keys (location_pk, uid_key) and (evse_pk, connector_id_key)
//! find one child, but are ordered by the key, not by the row id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let evse = Index::create()
            .name("ix_evse_location_order")
            .table(Evse::Table)
            .col(Evse::LocationPk)
            .col(Evse::Id)
            .to_owned();
        manager.create_index(evse).await?;
        let connector = Index::create()
            .name("ix_connector_evse_order")
            .table(Connector::Table)
            .col(Connector::EvsePk)
            .col(Connector::Id)
            .to_owned();
        manager.create_index(connector).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_evse_location_order", Evse::Table.into_iden()),
            ("ix_connector_evse_order", Connector::Table.into_iden()),
        ] {
            let drop = Index::drop().name(name).table(table).to_owned();
            manager.drop_index(drop).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Evse {
    Table,
    Id,
    LocationPk,
}

#[derive(DeriveIden)]
enum Connector {
    Table,
    Id,
    EvsePk,
}
