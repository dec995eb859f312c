//! Writes and lookups of GreenFlux ChargeStation notifications.

use chrono::{DateTime, Utc};
use entity::notification;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    Select, Set, TryIntoModel,
};

use super::StoreError;
use crate::domain::party::key;

/// Derived columns of a notification row.
#[derive(Debug, Clone, Default)]
pub struct NotificationRow {
    pub country_code: String,
    pub party_id: String,
    pub notification_id: String,
    pub charge_station_notification_id: Option<String>,
    pub charge_station_id: Option<String>,
    pub evse_id: Option<String>,
    pub location_id: Option<String>,
    pub message_action: Option<String>,
    pub message_type: Option<String>,
    pub direction: Option<String>,
    pub level: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub payload: Option<String>,
    pub payload_json: Option<String>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// The notification of a party with this URL id.
pub async fn find(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    notification_id: &str,
) -> Result<Option<notification::Model>, StoreError> {
    let select = select_notification(country_code, party_id, notification_id);
    Ok(select.one(conn).await?)
}

/// The notification with this URL id, locked until the transaction ends
/// (PostgreSQL), so that two replicas replacing it take turns.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    notification_id: &str,
) -> Result<Option<notification::Model>, StoreError> {
    let select = select_notification(country_code, party_id, notification_id);
    Ok(super::for_update(select, conn).one(conn).await?)
}

fn select_notification(
    country_code: &str,
    party_id: &str,
    notification_id: &str,
) -> Select<notification::Entity> {
    notification::Entity::find()
        .filter(notification::Column::CountryCode.eq(key(country_code)))
        .filter(notification::Column::PartyId.eq(key(party_id)))
        .filter(notification::Column::NotificationIdKey.eq(key(notification_id)))
}

/// Inserts a notification, or replaces the stored one (a repeated PUT replaces).
pub async fn save(
    conn: &impl ConnectionTrait,
    existing: Option<notification::Model>,
    row: NotificationRow,
) -> Result<notification::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => notification::ActiveModel {
            country_code: Set(key(&row.country_code)),
            party_id: Set(key(&row.party_id)),
            notification_id: Set(row.notification_id.clone()),
            notification_id_key: Set(key(&row.notification_id)),
            ..Default::default()
        },
    };
    model.charge_station_notification_id = Set(row.charge_station_notification_id);
    model.charge_station_id = Set(row.charge_station_id);
    model.evse_id = Set(row.evse_id);
    model.location_id = Set(row.location_id);
    model.message_action = Set(row.message_action);
    model.message_type = Set(row.message_type);
    model.direction = Set(row.direction);
    model.level = Set(row.level);
    model.created = Set(row.created);
    model.payload = Set(row.payload);
    model.payload_json = Set(row.payload_json);
    model.received_at = Set(row.received_at);
    model.raw = Set(row.raw);
    Ok(model.save(conn).await?.try_into_model()?)
}
