//! Table `outbox`: A committed change event; `seq` is the subscription cursor.

use sea_orm::entity::prelude::*;

/// A committed change event; `seq` is the subscription cursor.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub created_at: DateTimeUtc,
    pub kind: String,
    pub country_code: Option<String>,
    pub party_id: Option<String>,
    pub location_pk: Option<i64>,
    pub evse_pk: Option<i64>,
    pub session_pk: Option<i64>,
    /// Event JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
