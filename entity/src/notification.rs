//! Table `notification`: A GreenFlux ChargeStation notification, keyed by the id in its URL.

use sea_orm::entity::prelude::*;

/// A GreenFlux ChargeStation notification, keyed by the id in its URL.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub country_code: String,
    pub party_id: String,
    pub notification_id: String,
    pub notification_id_key: String,
    pub charge_station_notification_id: Option<String>,
    pub charge_station_id: Option<String>,
    pub evse_id: Option<String>,
    pub location_id: Option<String>,
    pub message_action: Option<String>,
    pub message_type: Option<String>,
    pub direction: Option<String>,
    pub level: Option<String>,
    pub created: Option<DateTimeUtc>,
    /// The OCPP payload string as sent.
    #[sea_orm(column_type = "Text", nullable)]
    pub payload: Option<String>,
    /// The payload re-serialised when it parses as JSON.
    #[sea_orm(column_type = "Text", nullable)]
    pub payload_json: Option<String>,
    pub received_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub raw: String,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
