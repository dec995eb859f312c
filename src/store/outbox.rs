//! The outbox: change events written in the ingest transaction.

use entity::outbox;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;

use super::StoreError;
use crate::domain::Timestamp;

/// A change event to commit with the data it describes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// EVSE_STATUS_CHANGED, LOCATION_CHANGED, SESSION_UPDATED, CDR_RECEIVED, NOTIFICATION_RECEIVED.
    pub kind: &'static str,
    /// Country code, as first received.
    pub country_code: String,
    /// Party id, as first received.
    pub party_id: String,
    /// The location row, when the event concerns one.
    pub location_pk: Option<i64>,
    /// The EVSE row, when the event concerns one.
    pub evse_pk: Option<i64>,
    /// The session row, when the event concerns one.
    pub session_pk: Option<i64>,
    /// The event's JSON payload.
    pub payload: Value,
}

/// Writes an event row; its sequence number is the subscription cursor.
pub async fn insert(conn: &impl ConnectionTrait, event: NewEvent) -> Result<i64, StoreError> {
    let model = outbox::ActiveModel {
        created_at: Set(Timestamp::now().as_datetime()),
        kind: Set(event.kind.to_owned()),
        country_code: Set(Some(event.country_code)),
        party_id: Set(Some(event.party_id)),
        location_pk: Set(event.location_pk),
        evse_pk: Set(event.evse_pk),
        session_pk: Set(event.session_pk),
        payload: Set(event.payload.to_string()),
        ..Default::default()
    };
    Ok(model.insert(conn).await?.seq)
}
