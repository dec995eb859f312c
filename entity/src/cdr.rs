//! Table `cdr`: An immutable OCPI CDR with its location snapshot kept in `raw`.

use sea_orm::entity::prelude::*;

/// An immutable OCPI CDR with its location snapshot kept in `raw`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cdr")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub country_code_key: String,
    pub party_id_key: String,
    pub ocpi_id_key: String,
    pub session_id: Option<String>,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub connector_id: Option<String>,
    pub location_pk: Option<i64>,
    pub start_date_time: Option<DateTimeUtc>,
    pub end_date_time: Option<DateTimeUtc>,
    pub auth_id: Option<String>,
    pub auth_method: Option<String>,
    pub token_uid: Option<String>,
    pub currency: Option<String>,
    /// Excl. VAT.
    pub total_cost_micro: Option<i64>,
    pub total_cost_incl_vat_micro: Option<i64>,
    pub total_energy_micro: Option<i64>,
    pub total_time_micro: Option<i64>,
    pub total_parking_time_micro: Option<i64>,
    /// JSON array.
    #[sea_orm(column_type = "Text")]
    pub tariff_ids: String,
    /// The tariff set's key: the ids upper-cased, deduplicated and sorted,
    /// as a JSON array; billing groups by it.
    #[sea_orm(column_type = "Text")]
    pub tariff_key: String,
    pub credit: bool,
    pub credit_reference_id: Option<String>,
    pub credit_of_pk: Option<i64>,
    pub last_updated: Option<DateTimeUtc>,
    pub received_at: DateTimeUtc,
    /// The CDR as sent.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
