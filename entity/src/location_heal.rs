//! Table `location_heal`: a location a push named but we did not have,
//! queued for a targeted pull from its CPO.

use sea_orm::entity::prelude::*;

/// A location queued for a targeted pull (one row per location).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "location_heal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// As first named by the push.
    pub country_code: String,
    pub party_id: String,
    pub location_id: String,
    /// Upper-cased, for case-insensitive uniqueness.
    pub country_code_key: String,
    pub party_id_key: String,
    pub location_id_key: String,
    /// pending, done or failed.
    pub status: String,
    /// When a push asked for it (first, or again once it was done or failed).
    pub requested_at: DateTimeUtc,
    /// Pulls tried since it was last asked for.
    pub attempts: i32,
    /// Not tried again before this instant (a claim's lease, or a backoff).
    pub next_attempt_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub done_at: Option<DateTimeUtc>,
    /// The reconciliation run that pulled it.
    pub run_pk: Option<i64>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
