//! Table `session`: An OCPI Session; `incomplete` until a whole Session (PUT or pull) was seen.

use sea_orm::entity::prelude::*;

/// An OCPI Session; `incomplete` until a whole Session (PUT or pull) was seen.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "session")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub country_code_key: String,
    pub party_id_key: String,
    pub ocpi_id_key: String,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub connector_id: Option<String>,
    pub location_pk: Option<i64>,
    pub start_date_time: Option<DateTimeUtc>,
    pub end_date_time: Option<DateTimeUtc>,
    pub kwh_micro: Option<i64>,
    pub auth_id: Option<String>,
    pub auth_method: Option<String>,
    pub token_uid: Option<String>,
    pub currency: Option<String>,
    /// Excl. VAT.
    pub total_cost_micro: Option<i64>,
    pub total_cost_incl_vat_micro: Option<i64>,
    pub status: Option<String>,
    pub incomplete: bool,
    pub last_updated: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    /// Merged OCPI JSON, charging periods excluded.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
    /// Sender stamp of each merged field and period (JSON), for out-of-order PATCHes.
    #[sea_orm(column_type = "Text", nullable)]
    pub merge_stamps: Option<String>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
