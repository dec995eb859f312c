use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures::StreamExt;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::*;
use crate::store::testdb::TestDb;

/// A store over the test's own database (SQLite, or PostgreSQL when
/// CHARGEGRAPH_TEST_DATABASE_URL names a server).
async fn temp_store() -> (TestDb, Store) {
    let db = TestDb::create().await;
    let store = db.store().await;
    (db, store)
}

async fn insert_outbox_at(store: &Store, kind: &str, payload: &str, at: chrono::DateTime<Utc>) {
    let row = entity::outbox::ActiveModel {
        created_at: Set(at),
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

async fn insert_outbox(store: &Store, kind: &str, payload: &str) {
    let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    insert_outbox_at(store, kind, payload, at).await;
}

async fn next(feed: &Feed) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("no event within 5 s")
        .expect("subscriber kept up")
}

#[tokio::test]
async fn woken_reader_delivers_new_rows_in_order() {
    let (_dir, store) = temp_store().await;
    insert_outbox(&store, "LOCATION_CHANGED", r#"{"location_id":"OLD"}"#).await;
    let events = Events::start(store.clone());
    events.ready().await;
    let feed = events.subscribe(Filter::everything());
    assert_eq!(feed.start(), 1);

    insert_outbox(&store, "LOCATION_CHANGED", r#"{"location_id":"L1"}"#).await;
    insert_outbox(&store, "CDR_RECEIVED", r#"{"cdr_id":"C1"}"#).await;
    events.wake();

    let first = next(&feed).await.event;
    assert_eq!(first.seq, 2);
    assert_eq!(first.kind, Kind::LocationChanged);
    assert_eq!(first.country_code.as_deref(), Some("NL"));
    assert_eq!(first.location_pk, Some(7));
    assert_eq!(first.payload, serde_json::json!({"location_id": "L1"}));
    assert_eq!(first.facts.location_id.as_deref(), Some("L1"));
    let second = next(&feed).await.event;
    assert_eq!(second.seq, 3);
    assert_eq!(second.kind, Kind::CdrReceived);
    assert_eq!(second.payload["cdr_id"], "C1");
}

#[tokio::test]
async fn rows_beyond_one_batch_all_arrive() {
    let (_dir, store) = temp_store().await;
    let settings = Settings {
        buffer: 2 * BATCH as usize,
        ..Settings::default()
    };
    let events = Events::start_with(store.clone(), settings);
    events.ready().await;
    let feed = events.subscribe(Filter::everything());

    for i in 0..(BATCH + 3) {
        insert_outbox(&store, "CDR_RECEIVED", &format!(r#"{{"cdr_id":"C{i}"}}"#)).await;
    }
    events.wake();

    for want in 1..=(BATCH as i64 + 3) {
        assert_eq!(next(&feed).await.event.seq, want);
    }
}

#[tokio::test]
async fn unparsable_payload_arrives_as_null() {
    let (_dir, store) = temp_store().await;
    let events = Events::start(store.clone());
    events.ready().await;
    let feed = events.subscribe(Filter::everything());

    insert_outbox(&store, "LOCATION_CHANGED", "not json").await;
    events.wake();

    assert_eq!(next(&feed).await.event.payload, serde_json::Value::Null);
}

fn cdrs_only() -> Filter {
    Filter::new(
        Kinds::of(&[Kind::CdrReceived]),
        crate::domain::Access::full(),
    )
}

async fn no_snapshot() -> Result<Snapshot<()>, StoreError> {
    Ok((0, Vec::new()))
}

/// The sequence numbers of the next `n` items, with R for replayed and L for live.
async fn take_seqs<S>(items: impl futures::Stream<Item = Item<S>>, n: usize) -> Vec<String> {
    let items = items.take(n).map(|item| match item {
        Item::Replay(e) => format!("R{}", e.seq),
        Item::Live(d) => format!("L{}", d.event.seq),
        Item::Reset { cursor, .. } => format!("RESET{cursor}"),
        Item::Snapshot { cursor, .. } => format!("S{cursor}"),
        Item::Lagged(l) => format!("LAGGED{}", l.last_seq),
        Item::Failed(e) => format!("FAILED {e}"),
    });
    let collected = tokio::time::timeout(Duration::from_secs(5), items.collect::<Vec<_>>());
    collected.await.expect("items within 5 s")
}

#[tokio::test]
async fn a_cursor_replays_what_followed_it_then_goes_live_without_a_seam() {
    let (_dir, store) = temp_store().await;
    for i in 1..=4 {
        let kind = if i == 2 {
            "LOCATION_CHANGED"
        } else {
            "CDR_RECEIVED"
        };
        insert_outbox(&store, kind, &format!(r#"{{"cdr_id":"C{i}"}}"#)).await;
    }
    let events = Events::start(store.clone());
    events.ready().await;
    let feed = events.subscribe(cdrs_only());
    // Committed after registration, before the replay reads: live, not replayed.
    insert_outbox(&store, "CDR_RECEIVED", r#"{"cdr_id":"C5"}"#).await;
    events.wake();

    let items = stream(&events, feed, Start::After(1), no_snapshot);
    assert_eq!(take_seqs(items, 3).await, ["R3", "R4", "L5"]);
}

#[tokio::test]
async fn a_pruned_cursor_resets_and_snapshots() {
    let (_dir, store) = temp_store().await;
    let old = Utc::now() - chrono::Duration::days(8);
    for i in 1..=3 {
        insert_outbox_at(
            &store,
            "CDR_RECEIVED",
            &format!(r#"{{"cdr_id":"C{i}"}}"#),
            old,
        )
        .await;
    }
    insert_outbox_at(&store, "CDR_RECEIVED", r#"{"cdr_id":"C4"}"#, Utc::now()).await;
    let pruned = prune_outbox(&store, Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    assert_eq!(outbox::pruned_through(store.db()).await.unwrap(), 3);
    let events = Events::start(store.clone());
    events.ready().await;

    let snapshot = || async { Ok((4, vec!["state"])) };
    let stale = stream(
        &events,
        events.subscribe(cdrs_only()),
        Start::After(2),
        snapshot,
    );
    assert_eq!(take_seqs(stale, 2).await, ["RESET4", "S4"]);
    let fresh = stream(
        &events,
        events.subscribe(cdrs_only()),
        Start::After(3),
        no_snapshot,
    );
    assert_eq!(take_seqs(fresh, 1).await, ["R4"]);
}

#[tokio::test]
async fn a_cursor_beyond_the_outbox_resets() {
    let (_dir, store) = temp_store().await;
    insert_outbox(&store, "CDR_RECEIVED", r#"{"cdr_id":"C1"}"#).await;
    let events = Events::start(store.clone());
    events.ready().await;

    let snapshot = || async { Ok((1, Vec::<()>::new())) };
    let items = stream(
        &events,
        events.subscribe(cdrs_only()),
        Start::After(99),
        snapshot,
    );
    assert_eq!(take_seqs(items, 1).await, ["RESET1"]);
}

#[tokio::test]
async fn the_pruner_runs_in_the_background() {
    let (_dir, store) = temp_store().await;
    let old = Utc::now() - chrono::Duration::hours(2);
    insert_outbox_at(&store, "CDR_RECEIVED", r#"{"cdr_id":"C1"}"#, old).await;
    insert_outbox_at(&store, "CDR_RECEIVED", r#"{"cdr_id":"C2"}"#, Utc::now()).await;
    let settings = Settings {
        retention: Duration::from_secs(3600),
        prune_interval: Duration::from_millis(20),
        ..Settings::default()
    };
    let _events = Events::start_with(store.clone(), settings);

    let pruned = async {
        while outbox::pruned_through(store.db()).await.unwrap() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), pruned)
        .await
        .expect("the pruner ran within 5 s");
    assert_eq!(outbox::last_seq(store.db()).await.unwrap(), 2);
}
