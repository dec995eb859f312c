//! Table `location`: An OCPI Location as last merged from pushes and pulls.

use sea_orm::entity::prelude::*;

/// An OCPI Location as last merged from pushes and pulls.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "location")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub country_code_key: String,
    pub party_id_key: String,
    pub ocpi_id_key: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    /// As sent.
    pub latitude: Option<String>,
    /// As sent.
    pub longitude: Option<String>,
    /// Parsed copy for geo search.
    pub latitude_deg: Option<f64>,
    /// Parsed copy for geo search.
    pub longitude_deg: Option<f64>,
    /// Unit vector of the coordinates on the sphere (x, y, z), so that a
    /// haversine distance is plain arithmetic in SQL on either backend.
    pub geo_x: Option<f64>,
    /// See `geo_x`.
    pub geo_y: Option<f64>,
    /// See `geo_x`.
    pub geo_z: Option<f64>,
    pub publish: Option<bool>,
    pub time_zone: Option<String>,
    pub location_type: Option<String>,
    /// Sender stamp as served: the location's own, moved forward by its
    /// EVSEs' and connectors' changes (OCPI parent stamps).
    pub last_updated: Option<DateTimeUtc>,
    /// Sender stamp of the last applied location-level write; the stale
    /// guard compares location fields with it.
    pub own_last_updated: Option<DateTimeUtc>,
    /// Receive stamp.
    pub received_at: DateTimeUtc,
    /// Merged OCPI JSON, EVSEs excluded.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
