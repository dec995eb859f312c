//! Table `connector`: A Connector of an EVSE, keyed by its id within the EVSE.

use sea_orm::entity::prelude::*;

/// A Connector of an EVSE, keyed by its id within the EVSE.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "connector")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub evse_pk: i64,
    pub connector_id: String,
    pub connector_id_key: String,
    pub standard: Option<String>,
    pub format: Option<String>,
    pub power_type: Option<String>,
    pub max_voltage: Option<i64>,
    pub max_amperage: Option<i64>,
    pub max_electric_power: Option<i64>,
    /// JSON array.
    #[sea_orm(column_type = "Text")]
    pub tariff_ids: String,
    pub last_updated: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
