//! Table `evse`: An EVSE of a Location, keyed by its uid within the location.

use sea_orm::entity::prelude::*;

/// An EVSE of a Location, keyed by its uid within the location.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "evse")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub location_pk: i64,
    pub uid: String,
    pub uid_key: String,
    /// Public eMI3 id.
    pub evse_id: Option<String>,
    /// Raw OCPI status.
    pub status: Option<String>,
    pub status_since: Option<DateTimeUtc>,
    /// Sender stamp as served: the EVSE's own, moved forward by its
    /// connectors' changes (OCPI parent stamps).
    pub last_updated: Option<DateTimeUtc>,
    /// Sender stamp of the last applied EVSE-level write; the stale guard
    /// compares EVSE fields with it.
    pub own_last_updated: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    /// Merged OCPI JSON, connectors excluded.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
