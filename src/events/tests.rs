use std::time::Duration;

use chrono::TimeZone;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use tempfile::TempDir;

use super::*;
use crate::store::StoreOptions;

async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let store = Store::connect(&StoreOptions::new(&url)).await.unwrap();
    (dir, store)
}

async fn insert_outbox(store: &Store, kind: &str, payload: &str) {
    let row = entity::outbox::ActiveModel {
        created_at: Set(Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()),
        kind: Set(kind.to_owned()),
        country_code: Set(Some("NL".into())),
        party_id: Set(Some("GFX".into())),
        location_pk: Set(Some(7)),
        evse_pk: Set(None),
        session_pk: Set(None),
        payload: Set(payload.to_owned()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

async fn next(rx: &mut broadcast::Receiver<Arc<Event>>) -> Arc<Event> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("no event within 5 s")
        .expect("channel closed")
}

#[tokio::test]
async fn woken_reader_delivers_new_rows_in_order() {
    let (_dir, store) = temp_store().await;
    insert_outbox(&store, "LOCATION_CHANGED", r#"{"location_id":"OLD"}"#).await;
    let events = Events::start(store.clone());
    events.ready().await;
    let mut rx = events.subscribe();

    insert_outbox(&store, "LOCATION_CHANGED", r#"{"location_id":"L1"}"#).await;
    insert_outbox(&store, "CDR_RECEIVED", r#"{"cdr_id":"C1"}"#).await;
    events.wake();

    let first = next(&mut rx).await;
    assert_eq!(first.seq, 2);
    assert_eq!(first.kind, "LOCATION_CHANGED");
    assert_eq!(first.country_code.as_deref(), Some("NL"));
    assert_eq!(first.location_pk, Some(7));
    assert_eq!(first.payload, serde_json::json!({"location_id": "L1"}));
    let second = next(&mut rx).await;
    assert_eq!(second.seq, 3);
    assert_eq!(second.kind, "CDR_RECEIVED");
    assert_eq!(second.payload["cdr_id"], "C1");
}

#[tokio::test]
async fn rows_beyond_one_batch_all_arrive() {
    let (_dir, store) = temp_store().await;
    let events = Events::start(store.clone());
    events.ready().await;
    let mut rx = events.subscribe();

    for i in 0..(BATCH + 3) {
        insert_outbox(&store, "CDR_RECEIVED", &format!(r#"{{"cdr_id":"C{i}"}}"#)).await;
    }
    events.wake();

    for want in 1..=(BATCH as i64 + 3) {
        assert_eq!(next(&mut rx).await.seq, want);
    }
}

#[tokio::test]
async fn unparsable_payload_arrives_as_null() {
    let (_dir, store) = temp_store().await;
    let events = Events::start(store.clone());
    events.ready().await;
    let mut rx = events.subscribe();

    insert_outbox(&store, "LOCATION_CHANGED", "not json").await;
    events.wake();

    assert_eq!(next(&mut rx).await.payload, serde_json::Value::Null);
}
