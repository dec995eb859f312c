//! Table `tariff`: An OCPI Tariff as last pushed; `deleted_at` set by a DELETE.

use sea_orm::entity::prelude::*;

/// An OCPI Tariff as last pushed; `deleted_at` set by a DELETE.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tariff")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub country_code_key: String,
    pub party_id_key: String,
    pub ocpi_id_key: String,
    /// ISO 4217.
    pub currency: Option<String>,
    /// TariffType (2.2.1 `type`), verbatim when unknown.
    pub tariff_type: Option<String>,
    pub start_date_time: Option<DateTimeUtc>,
    pub end_date_time: Option<DateTimeUtc>,
    /// Sender stamp.
    pub last_updated: Option<DateTimeUtc>,
    /// Receive stamp.
    pub received_at: DateTimeUtc,
    /// Set by a DELETE; a later PUT clears it.
    pub deleted_at: Option<DateTimeUtc>,
    /// Merged OCPI JSON, elements included.
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
