//! Table `evse_status_history`: One row per applied EVSE status change.

use sea_orm::entity::prelude::*;

/// One row per applied EVSE status change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "evse_status_history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub evse_pk: i64,
    pub location_pk: i64,
    pub previous_status: Option<String>,
    pub status: String,
    /// Sender stamp when given, else receive time.
    pub changed_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub stamp_from_sender: bool,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
