//! Pull reconciliation: the report of every run and the queue of targeted
//! location pulls.
//!
//! `reconcile_run` is one pull of one CPO (scheduled, manual or a heal),
//! `reconcile_module` its counts per OCPI module, and `location_heal` the
//! locations a push named but we did not have, queued so that a restart
//! loses none of them (one row per location, re-armed when asked again).

// Identifier enums name the table's columns, which often start with the table's name.
#![allow(clippy::enum_variant_names)]

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(reconcile_run()).await?;
        manager.create_table(reconcile_module()).await?;
        manager.create_table(location_heal()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["location_heal", "reconcile_module", "reconcile_run"] {
            let drop = Table::drop().table(Alias::new(name)).if_exists().to_owned();
            manager.drop_table(drop).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ReconcileRun {
    Table,
    Id,
    Cpo,
    Trigger,
    CountryCode,
    PartyId,
    StartedAt,
    FinishedAt,
    WindowFrom,
    WindowTo,
    Error,
}

fn reconcile_run() -> TableCreateStatement {
    Table::create()
        .table(ReconcileRun::Table)
        .col(big_pk_auto(ReconcileRun::Id))
        .col(string(ReconcileRun::Cpo))
        .col(string(ReconcileRun::Trigger))
        // The CPO's default party, which scopes the run for operators.
        .col(string_null(ReconcileRun::CountryCode))
        .col(string_null(ReconcileRun::PartyId))
        .col(timestamp_with_time_zone(ReconcileRun::StartedAt))
        .col(timestamp_with_time_zone_null(ReconcileRun::FinishedAt))
        .col(timestamp_with_time_zone_null(ReconcileRun::WindowFrom))
        .col(timestamp_with_time_zone_null(ReconcileRun::WindowTo))
        .col(text_null(ReconcileRun::Error))
        .to_owned()
}

#[derive(DeriveIden)]
enum ReconcileModule {
    Table,
    Id,
    RunPk,
    Module,
    Fetched,
    Missing,
    Updated,
    Unchanged,
    Failed,
    Error,
}

fn reconcile_module() -> TableCreateStatement {
    Table::create()
        .table(ReconcileModule::Table)
        .col(big_pk_auto(ReconcileModule::Id))
        .col(big_integer(ReconcileModule::RunPk))
        .col(string(ReconcileModule::Module))
        .col(big_integer(ReconcileModule::Fetched))
        .col(big_integer(ReconcileModule::Missing))
        .col(big_integer(ReconcileModule::Updated))
        .col(big_integer(ReconcileModule::Unchanged))
        .col(big_integer(ReconcileModule::Failed))
        .col(text_null(ReconcileModule::Error))
        .foreign_key(
            ForeignKey::create()
                .from(ReconcileModule::Table, ReconcileModule::RunPk)
                .to(ReconcileRun::Table, ReconcileRun::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum LocationHeal {
    Table,
    Id,
    CountryCode,
    PartyId,
    LocationId,
    CountryCodeKey,
    PartyIdKey,
    LocationIdKey,
    Status,
    RequestedAt,
    Attempts,
    NextAttemptAt,
    LastError,
    DoneAt,
    RunPk,
}

fn location_heal() -> TableCreateStatement {
    Table::create()
        .table(LocationHeal::Table)
        .col(big_pk_auto(LocationHeal::Id))
        .col(string(LocationHeal::CountryCode))
        .col(string(LocationHeal::PartyId))
        .col(string(LocationHeal::LocationId))
        .col(string(LocationHeal::CountryCodeKey))
        .col(string(LocationHeal::PartyIdKey))
        .col(string(LocationHeal::LocationIdKey))
        // pending, done or failed.
        .col(string(LocationHeal::Status))
        .col(timestamp_with_time_zone(LocationHeal::RequestedAt))
        .col(integer(LocationHeal::Attempts).default(0))
        .col(timestamp_with_time_zone(LocationHeal::NextAttemptAt))
        .col(text_null(LocationHeal::LastError))
        .col(timestamp_with_time_zone_null(LocationHeal::DoneAt))
        .col(big_integer_null(LocationHeal::RunPk))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ix_reconcile_module_run")
            .table(ReconcileModule::Table)
            .col(ReconcileModule::RunPk)
            .to_owned(),
        Index::create()
            .name("ux_location_heal_key")
            .table(LocationHeal::Table)
            .col(LocationHeal::CountryCodeKey)
            .col(LocationHeal::PartyIdKey)
            .col(LocationHeal::LocationIdKey)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_location_heal_due")
            .table(LocationHeal::Table)
            .col(LocationHeal::Status)
            .col(LocationHeal::NextAttemptAt)
            .to_owned(),
    ]
}
