use chrono::TimeZone;
use serde_json::json;

use super::feeds::{FeedKind, Meta};
use super::*;
use crate::events::Facts;

fn event(kind: Kind, payload: serde_json::Value) -> Event {
    Event {
        seq: 12,
        kind,
        created_at: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
        country_code: Some("NL".into()),
        party_id: Some("GFX".into()),
        location_pk: Some(3),
        evse_pk: Some(4),
        session_pk: None,
        facts: Facts::read(kind, &payload),
        payload,
    }
}

fn charging() -> Event {
    let payload = json!({
        "country_code": "NL", "party_id": "GFX", "location_id": "LOC1",
        "evse_uid": "BE-BEC-E041503001", "evse_id": null,
        "previous_status": "AVAILABLE", "status": "CHARGING",
        "changed_at": "2024-05-01T10:15:00.250Z", "city": "Gent"
    });
    event(Kind::EvseStatusChanged, payload)
}

#[test]
fn status_event_is_read_from_its_payload() {
    let e = charging();
    let change = EvseStatusChange::from_event(Meta::replay(&e), &e).unwrap();
    assert_eq!(change.meta.seq, 12);
    assert_eq!(change.meta.kind, FeedKind::Replay);
    assert_eq!(change.uid, "BE-BEC-E041503001");
    assert_eq!(change.evse_id, None);
    assert_eq!(change.previous_status.as_deref(), Some("AVAILABLE"));
    assert_eq!(
        change.changed_at,
        chrono::Utc.timestamp_millis_opt(1_714_558_500_250).unwrap()
    );
    assert_eq!(change.location_pk, Some(3));
    assert_eq!(change.place.city.as_deref(), Some("Gent"));
}

#[test]
fn other_kinds_are_not_status_changes() {
    let located = event(Kind::LocationChanged, json!({"location_id": "LOC1"}));
    let meta = Meta::replay(&located);
    assert_eq!(EvseStatusChange::from_event(meta, &located), None);
}

#[test]
fn a_merged_delivery_reports_the_status_before_the_first_skipped_change() {
    let newest = std::sync::Arc::new(charging());
    let mut first = charging();
    first.payload["previous_status"] = json!("OUTOFORDER");
    let delivery = Delivery {
        event: newest,
        skipped: 2,
        first_skipped: Some(std::sync::Arc::new(first)),
    };
    let change = EvseStatusChange::from_delivery(&delivery).unwrap();
    assert_eq!(change.meta.kind, FeedKind::Live);
    assert_eq!(change.meta.skipped, 2);
    assert_eq!(change.previous_status.as_deref(), Some("OUTOFORDER"));
    assert_eq!(change.status, "CHARGING");
}

#[test]
fn cursors_must_be_numbers() {
    assert_eq!(start_of(Some(" 42"), false).unwrap(), Start::After(42));
    assert_eq!(start_of(None, true).unwrap(), Start::Snapshot);
    assert_eq!(start_of(None, false).unwrap(), Start::Live);
    assert!(start_of(Some("abc"), false).is_err());
}
