//! The inbox: every request the receiver saw, with its outcome.

use entity::inbox;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::StoreError;
use crate::domain::Timestamp;

/// One inbox row to write.
#[derive(Debug, Clone, Default)]
pub struct InboxRow {
    /// push, pull or replay.
    pub source: String,
    /// HTTP method.
    pub method: String,
    /// Request path as received.
    pub path: String,
    /// OCPI version of the URL.
    pub version: Option<String>,
    /// OCPI module of the URL.
    pub module: Option<String>,
    /// Country code of the object, when known.
    pub country_code: Option<String>,
    /// Party id of the object, when known.
    pub party_id: Option<String>,
    /// Object id (last URL id segment, or the CDR id).
    pub object_id: Option<String>,
    /// The authenticated token's row.
    pub token_pk: Option<i64>,
    /// X-Request-ID.
    pub request_id: Option<String>,
    /// HTTP status answered.
    pub http_status: u16,
    /// OCPI status code answered.
    pub status_code: u16,
    /// created, updated, unchanged, rejected, unauthorized, ...
    pub outcome: String,
    /// The status message answered.
    pub message: String,
    /// Warnings about the object.
    pub warnings: Vec<String>,
    /// The raw body, unless the request was unauthenticated or too large.
    pub body: Option<String>,
}

/// Writes an inbox row and returns its id.
pub async fn insert(
    conn: &impl ConnectionTrait,
    received_at: Timestamp,
    row: InboxRow,
) -> Result<i64, StoreError> {
    let warnings = serde_json::to_string(&row.warnings).unwrap_or_else(|_| "[]".into());
    let model = inbox::ActiveModel {
        received_at: Set(received_at.as_datetime()),
        source: Set(row.source),
        method: Set(row.method),
        path: Set(row.path),
        version: Set(row.version),
        module: Set(row.module),
        country_code: Set(row.country_code),
        party_id: Set(row.party_id),
        object_id: Set(row.object_id),
        token_pk: Set(row.token_pk),
        request_id: Set(row.request_id),
        http_status: Set(i32::from(row.http_status)),
        status_code: Set(i32::from(row.status_code)),
        outcome: Set(row.outcome),
        message: Set(row.message),
        warnings: Set(warnings),
        body: Set(row.body),
        ..Default::default()
    };
    Ok(model.insert(conn).await?.id)
}

/// Sets the final outcome of an accepted push's inbox row.
pub async fn finish(
    conn: &impl ConnectionTrait,
    inbox_pk: i64,
    outcome: &str,
    applied: &crate::ingest::Applied,
) -> Result<(), StoreError> {
    let model = inbox::ActiveModel {
        id: Set(inbox_pk),
        http_status: Set(if applied.created { 201 } else { 200 }),
        outcome: Set(outcome.to_owned()),
        message: Set(applied.message.clone()),
        warnings: Set(serde_json::to_string(&applied.warnings).unwrap_or_else(|_| "[]".into())),
        ..Default::default()
    };
    model.update(conn).await?;
    Ok(())
}
