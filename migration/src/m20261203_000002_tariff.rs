//! Table `tariff`: OCPI Tariffs pushed by a CPO (PUT, 2.1.1 PATCH, DELETE as a
//! soft delete), keyed like every OCPI object by the upper-cased
//! (country_code, party_id, id) with the first spelling kept for display.

// Identifier enums name the table's columns, which often start with the table's name.
#![allow(clippy::enum_variant_names)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(table()).await?;
        manager.create_index(key_index()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::drop().table(Tariff::Table).if_exists().to_owned();
        manager.drop_table(drop).await
    }
}

#[derive(DeriveIden)]
enum Tariff {
    Table,
    Id,
    CountryCode,
    PartyId,
    OcpiId,
    CountryCodeKey,
    PartyIdKey,
    OcpiIdKey,
    Currency,
    TariffType,
    StartDateTime,
    EndDateTime,
    LastUpdated,
    ReceivedAt,
    DeletedAt,
    Raw,
}

fn table() -> TableCreateStatement {
    Table::create()
        .table(Tariff::Table)
        .col(big_pk_auto(Tariff::Id))
        .col(string(Tariff::CountryCode))
        .col(string(Tariff::PartyId))
        .col(string(Tariff::OcpiId))
        .col(string(Tariff::CountryCodeKey))
        .col(string(Tariff::PartyIdKey))
        .col(string(Tariff::OcpiIdKey))
        .col(string_null(Tariff::Currency))
        .col(string_null(Tariff::TariffType))
        .col(timestamp_with_time_zone_null(Tariff::StartDateTime))
        .col(timestamp_with_time_zone_null(Tariff::EndDateTime))
        .col(timestamp_with_time_zone_null(Tariff::LastUpdated))
        .col(timestamp_with_time_zone(Tariff::ReceivedAt))
        .col(timestamp_with_time_zone_null(Tariff::DeletedAt))
        .col(text(Tariff::Raw))
        .to_owned()
}

fn key_index() -> IndexCreateStatement {
    Index::create()
        .name("ux_tariff_key")
        .table(Tariff::Table)
        .col(Tariff::CountryCodeKey)
        .col(Tariff::PartyIdKey)
        .col(Tariff::OcpiIdKey)
        .unique()
        .to_owned()
}
