//! Table `reconcile_module`: what one run did in one OCPI module.

use sea_orm::entity::prelude::*;

/// What one reconciliation run did in one OCPI module.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reconcile_module")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_pk: i64,
    /// locations, sessions, cdrs, tariffs or notifications.
    pub module: String,
    /// Distinct objects received from the CPO.
    pub fetched: i64,
    /// Of those, objects we did not have (created).
    pub missing: i64,
    /// Objects we had in an older state (updated).
    pub updated: i64,
    /// Objects we already had as pulled (or newer): nothing written.
    pub unchanged: i64,
    /// Objects ingest refused or failed on.
    pub failed: i64,
    /// Why the module's crawl stopped early, if it did.
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
