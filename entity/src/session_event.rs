//! Table `session_event`: One row per Session push: the timeline.

use sea_orm::entity::prelude::*;

/// One row per Session push: the timeline.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "session_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub session_pk: i64,
    pub inbox_pk: Option<i64>,
    /// PUT, PATCH or PULL.
    pub method: String,
    /// Sender stamp when given, else receive time.
    pub at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub status: Option<String>,
    pub kwh_micro: Option<i64>,
    pub total_cost_micro: Option<i64>,
    /// False when stale or final.
    pub applied: bool,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
