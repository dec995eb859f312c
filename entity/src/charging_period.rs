//! Table `charging_period`: A Session charging period, unique by its start.

use sea_orm::entity::prelude::*;

/// A Session charging period, unique by its start.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "charging_period")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub session_pk: i64,
    pub start_date_time: DateTimeUtc,
    /// JSON array as sent.
    #[sea_orm(column_type = "Text")]
    pub dimensions: String,
    pub tariff_id: Option<String>,
    /// ENERGY dimension, kWh.
    pub energy_micro: Option<i64>,
    /// TIME dimension, hours.
    pub time_micro: Option<i64>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
