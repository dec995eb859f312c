//! The Subscription root, fed by the in-memory fan-out of committed outbox rows.

use std::future::ready;

use async_graphql::{Context, InputObject, Object, Result, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::scalars::{DateTime, EvseStatus};
use super::types::{load_location, Location};
use crate::domain::time;
use crate::events::{Event, Events};

/// Outbox kind of an EVSE status change.
const EVSE_STATUS_CHANGED: &str = "EVSE_STATUS_CHANGED";

/// Live streams of changes.
pub struct SubscriptionRoot;

/// What `evseStatusChanged` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct EvseStatusChangedFilter {
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// The CPO's location id, case-insensitive.
    pub location_id: Option<String>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// Only changes to one of these statuses.
    pub statuses: Option<Vec<EvseStatus>>,
}

/// Live streams of changes.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every applied EVSE status change, as it commits.
    async fn evse_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which changes to send; every given field must match.")] filter: Option<
            EvseStatusChangedFilter,
        >,
    ) -> Result<impl Stream<Item = EvseStatusChange>> {
        let receiver = ctx.data::<Events>()?.subscribe();
        let filter = filter.unwrap_or_default();
        let changes = BroadcastStream::new(receiver).filter_map(move |item| {
            let change = match item {
                Ok(event) => EvseStatusChange::from_event(&event).filter(|c| filter.matches(c)),
                Err(BroadcastStreamRecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "evseStatusChanged subscriber fell behind");
                    None
                }
            };
            ready(change)
        });
        Ok(changes)
    }
}

impl EvseStatusChangedFilter {
    fn matches(&self, change: &EvseStatusChange) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(have))
        };
        same(&self.country_code, &change.country_code)
            && same(&self.party_id, &change.party_id)
            && same(&self.location_id, &change.location_id)
            && same(&self.evse_uid, &change.uid)
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.contains(&EvseStatus::from_raw(&change.status)))
    }
}

/// One applied EVSE status change.
#[derive(Debug, Clone, PartialEq)]
pub struct EvseStatusChange {
    seq: i64,
    country_code: String,
    party_id: String,
    location_id: String,
    uid: String,
    evse_id: Option<String>,
    previous_status: Option<String>,
    status: String,
    changed_at: chrono::DateTime<chrono::Utc>,
    location_pk: Option<i64>,
}

impl EvseStatusChange {
    /// Reads an `EVSE_STATUS_CHANGED` event; `None` for other kinds or a broken payload.
    pub fn from_event(event: &Event) -> Option<EvseStatusChange> {
        if event.kind != EVSE_STATUS_CHANGED {
            return None;
        }
        let p = &event.payload;
        let text = |key: &str| p[key].as_str().map(str::to_owned);
        let changed_at = text("changed_at")
            .and_then(|t| time::parse(&t).ok())
            .map_or(event.created_at, |parsed| parsed.at.as_datetime());
        Some(EvseStatusChange {
            seq: event.seq,
            country_code: text("country_code")?,
            party_id: text("party_id")?,
            location_id: text("location_id")?,
            uid: text("evse_uid")?,
            evse_id: text("evse_id"),
            previous_status: text("previous_status"),
            status: text("status")?,
            changed_at,
            location_pk: event.location_pk,
        })
    }
}

/// One applied EVSE status change.
#[Object]
impl EvseStatusChange {
    /// Resume point: the outbox sequence number of this change.
    async fn cursor(&self) -> String {
        self.seq.to_string()
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The CPO's location id.
    async fn location_id(&self) -> &str {
        &self.location_id
    }
    /// The CPO's EVSE uid.
    async fn uid(&self) -> &str {
        &self.uid
    }
    /// The public eMI3 EVSE id.
    async fn evse_id(&self) -> Option<&str> {
        self.evse_id.as_deref()
    }
    /// The status before; null for a new EVSE.
    async fn previous_status(&self) -> Option<EvseStatus> {
        self.previous_status.as_deref().map(EvseStatus::from_raw)
    }
    /// The new status.
    async fn status(&self) -> EvseStatus {
        EvseStatus::from_raw(&self.status)
    }
    /// The new status as sent.
    async fn status_raw(&self) -> &str {
        &self.status
    }
    /// The sender's stamp when given, else when we received it.
    async fn changed_at(&self) -> DateTime {
        DateTime(self.changed_at)
    }
    /// The location, as stored now.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.location_pk).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn event(kind: &str, payload: serde_json::Value) -> Event {
        Event {
            seq: 12,
            kind: kind.into(),
            created_at: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
            country_code: Some("NL".into()),
            party_id: Some("GFX".into()),
            location_pk: Some(3),
            evse_pk: Some(4),
            session_pk: None,
            payload,
        }
    }

    fn charging() -> EvseStatusChange {
        let payload = json!({
            "country_code": "NL", "party_id": "GFX", "location_id": "LOC1",
            "evse_uid": "BE-BEC-E041503001", "evse_id": null,
            "previous_status": "AVAILABLE", "status": "CHARGING",
            "changed_at": "2024-05-01T10:15:00.250Z"
        });
        EvseStatusChange::from_event(&event(EVSE_STATUS_CHANGED, payload)).unwrap()
    }

    #[test]
    fn status_event_is_read_from_its_payload() {
        let change = charging();
        assert_eq!(change.seq, 12);
        assert_eq!(change.uid, "BE-BEC-E041503001");
        assert_eq!(change.evse_id, None);
        assert_eq!(change.previous_status.as_deref(), Some("AVAILABLE"));
        assert_eq!(
            change.changed_at,
            chrono::Utc.timestamp_millis_opt(1_714_558_500_250).unwrap()
        );
        assert_eq!(change.location_pk, Some(3));
    }

    #[test]
    fn other_kinds_are_not_status_changes() {
        let located = event("LOCATION_CHANGED", json!({"location_id": "LOC1"}));
        assert_eq!(EvseStatusChange::from_event(&located), None);
    }

    #[test]
    fn filter_compares_ids_case_insensitively_and_statuses_by_enum() {
        let change = charging();
        let by_uid = EvseStatusChangedFilter {
            party_id: Some("gfx".into()),
            evse_uid: Some("be-bec-e041503001".into()),
            ..Default::default()
        };
        let other_location = EvseStatusChangedFilter {
            location_id: Some("LOC2".into()),
            ..Default::default()
        };
        let only_available = EvseStatusChangedFilter {
            statuses: Some(vec![EvseStatus::Available]),
            ..Default::default()
        };
        assert!(by_uid.matches(&change));
        assert!(EvseStatusChangedFilter::default().matches(&change));
        assert!(!other_location.matches(&change));
        assert!(!only_available.matches(&change));
    }
}
