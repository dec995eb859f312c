//! Table `inbox`: Every request the receiver saw, with its outcome.

use sea_orm::entity::prelude::*;

/// Every request the receiver saw, with its outcome.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub received_at: DateTimeUtc,
    /// Push, pull or replay.
    pub source: String,
    pub method: String,
    #[sea_orm(column_type = "Text")]
    pub path: String,
    pub version: Option<String>,
    pub module: Option<String>,
    pub country_code: Option<String>,
    pub party_id: Option<String>,
    pub object_id: Option<String>,
    pub token_pk: Option<i64>,
    pub request_id: Option<String>,
    pub http_status: i32,
    /// OCPI status code.
    pub status_code: i32,
    pub outcome: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// JSON array of strings.
    #[sea_orm(column_type = "Text")]
    pub warnings: String,
    /// Kept except for 401 and 413.
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    /// On a replay's row: the inbox row it re-applied.
    pub replay_of: Option<i64>,
    /// On a replayed row: the inbox row of its latest replay.
    pub replayed_by: Option<i64>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
