//! Subscriptions over real WebSockets against the spawned server: order,
//! filters, resume by cursor, reset after pruning, snapshots, status
//! summaries, slow clients, both protocols, init timeout and ping eviction.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::harness::{fixture, Answer, Protocol, Subscription, TestApp};
use crate::ops::{sample, scrape};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const EVSE: &str = "BE-BEC-E041503001";
const SESSION: &str = "NLGFX637561499213897595-ef07d";
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(700);
/// A push must be answered this soon even while a subscriber stalls.
const PUSH_ANSWER: Duration = Duration::from_secs(2);

/// A location in a city with EVSEs of given statuses.
fn location_body(id: &str, city: &str, (lat, lon): (&str, &str), evses: &[(&str, &str)]) -> String {
    let evses: Vec<Value> = evses
        .iter()
        .map(|(uid, status)| {
            json!({"uid": uid, "status": status, "connectors": [],
                   "last_updated": "2021-06-01T00:00:00Z"})
        })
        .collect();
    json!({
        "id": id, "type": "ON_STREET", "name": id, "address": "Straat 1", "city": city,
        "postal_code": "1000", "country": "BEL",
        "coordinates": {"latitude": lat, "longitude": lon},
        "evses": evses, "last_updated": "2021-06-01T00:00:00Z"
    })
    .to_string()
}

const GENT: (&str, &str) = ("51.047599", "3.729944");
const BRUGGE: (&str, &str) = ("51.209348", "3.224700");

fn assert_accepted(answer: &Answer) {
    assert_eq!(
        (answer.status / 100, answer.code()),
        (2, 1000),
        "{:?}",
        answer.body
    );
}

async fn put(app: &TestApp, id: &str, city: &str, at: (&str, &str), evses: &[(&str, &str)]) {
    assert_accepted(
        &app.put_location(id, &location_body(id, city, at, evses))
            .await,
    );
}

async fn patch(app: &TestApp, location: &str, uid: &str, status: &str) {
    let body = json!({"status": status}).to_string();
    assert_accepted(&app.patch_evse(location, uid, &body).await);
}

const STATUS_FIELDS: &str = "kind cursor ... on EvseStatusChange { skipped uid status }";

fn evse_status(filter: &str, args: &str) -> String {
    format!("subscription {{ evseStatusChanged(filter: {filter}{args}) {{ {STATUS_FIELDS} }} }}")
}

/// The items of one subscription field until it stays quiet.
/// The next `n` items (each within WAIT), then whatever follows them
/// before a quiet spell: a late event is waited for, an extra one is seen.
async fn take(sub: &mut Subscription, field: &str, n: usize) -> Vec<Value> {
    let mut items = Vec::new();
    while items.len() < n {
        match sub.next_data(WAIT).await {
            Some(data) => items.push(data[field].clone()),
            None => break,
        }
    }
    items.extend(drain(sub, field).await);
    items
}

async fn drain(sub: &mut Subscription, field: &str) -> Vec<Value> {
    let mut items = Vec::new();
    while let Some(data) = sub.next_data(QUIET).await {
        items.push(data[field].clone());
    }
    items
}

/// (uid, status) of each item.
fn statuses(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| (text(&i["uid"]), text(&i["status"])))
        .collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn cursor(item: &Value) -> i64 {
    text(&item["cursor"]).parse().expect("a numeric cursor")
}

/// Sequence numbers of the outbox rows of one kind, in order.
async fn outbox_seqs(app: &TestApp, kind: &str) -> Vec<i64> {
    let sql = format!(
        "SELECT CAST(seq AS TEXT) AS seq_text FROM outbox WHERE kind = '{kind}' ORDER BY seq"
    );
    let rows = app.sqlite_column(&sql).await;
    rows.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test]
async fn every_kind_arrives_in_commit_order_with_its_outbox_cursor() {
    let app = TestApp::spawn().await;
    let subscriptions = [
        (
            "evseStatusChanged",
            "EVSE_STATUS_CHANGED",
            "... on EvseStatusChange { uid }",
        ),
        (
            "locationChanged",
            "LOCATION_CHANGED",
            "... on LocationChange { locationId city }",
        ),
        (
            "sessionUpdated",
            "SESSION_UPDATED",
            "... on SessionUpdate { sessionId status }",
        ),
        ("cdrReceived", "CDR_RECEIVED", "... on CdrReceipt { cdrId }"),
        (
            "notificationReceived",
            "NOTIFICATION_RECEIVED",
            "... on NotificationReceipt { notificationId locationId }",
        ),
    ];
    let mut subs = Vec::new();
    for (field, _, fields) in subscriptions {
        let query = format!("subscription {{ {field} {{ kind cursor {fields} }} }}");
        subs.push(app.subscribe(&query, json!({})).await);
    }

    let put = app
        .put_location(LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_accepted(&put);
    patch(&app, LOCATION, EVSE, "CHARGING").await;
    let session = fixture("greenflux/push_session_put.json");
    assert_accepted(&app.push_session("PUT", SESSION, &session).await);
    patch(&app, LOCATION, EVSE, "AVAILABLE").await;
    let cdr = fixture("greenflux/cdr_pull_example_reconstructed.json");
    assert_accepted(&app.post_cdr(&cdr).await);
    let notification = fixture("greenflux/notification_doc_example.json");
    let id = "dfa3b87a-bc90-447e-9541-88a9ac1bf618";
    assert_accepted(&app.put_notification(id, &notification).await);

    for ((field, kind, _), sub) in subscriptions.iter().zip(subs.iter_mut()) {
        let items = drain(sub, field).await;
        let cursors: Vec<i64> = items.iter().map(cursor).collect();
        assert_eq!(cursors, outbox_seqs(&app, kind).await, "{field}");
        assert!(
            items.iter().all(|i| i["kind"] == "LIVE"),
            "{field}: {items:?}"
        );
    }
    // Spot checks of what each kind says, from the fixtures.
    let location = app
        .subscribe(
            "subscription { locationChanged(snapshot: true) { kind ... on LocationChange { locationId city } } }",
            json!({}),
        )
        .await;
    let mut location = location;
    let snapshot = location.next_data(WAIT).await.unwrap();
    assert_eq!(
        snapshot["locationChanged"],
        json!({"kind": "SNAPSHOT", "locationId": LOCATION, "city": "Gent"})
    );
}

#[tokio::test]
async fn filters_select_by_location_evse_status_party_city_area_and_session() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "GENT-1",
        "Gent",
        GENT,
        &[("G1", "AVAILABLE"), ("G2", "AVAILABLE")],
    )
    .await;
    put(&app, "BRUGGE-1", "Brugge", BRUGGE, &[("B1", "AVAILABLE")]).await;
    let belgium_west = r#"{boundingBox: {south: 51.1, west: 3.0, north: 51.3, east: 3.5}}"#;
    let cases = [
        (
            r#"{locationIds: ["gent-1"]}"#,
            vec![("G1", "CHARGING"), ("G2", "BLOCKED"), ("G1", "AVAILABLE")],
        ),
        (
            r#"{locationId: "BRUGGE-1", evseUid: "b1"}"#,
            vec![("B1", "OUTOFORDER")],
        ),
        (
            r#"{statuses: [CHARGING, OUTOFORDER]}"#,
            vec![("G1", "CHARGING"), ("B1", "OUTOFORDER")],
        ),
        (r#"{city: "brugge"}"#, vec![("B1", "OUTOFORDER")]),
        (belgium_west, vec![("B1", "OUTOFORDER")]),
        (
            r#"{partyId: "gfx"}"#,
            vec![
                ("G1", "CHARGING"),
                ("B1", "OUTOFORDER"),
                ("G2", "BLOCKED"),
                ("G1", "AVAILABLE"),
            ],
        ),
        (r#"{partyId: "BEC"}"#, vec![]),
        (
            r#"{countryCode: "NL", partyId: "gfx", locationIds: []}"#,
            vec![],
        ),
    ];
    let mut subs = Vec::new();
    for (filter, _) in &cases {
        subs.push(app.subscribe(&evse_status(filter, ""), json!({})).await);
    }

    patch(&app, "GENT-1", "G1", "CHARGING").await;
    patch(&app, "BRUGGE-1", "B1", "OUTOFORDER").await;
    patch(&app, "GENT-1", "G2", "BLOCKED").await;
    patch(&app, "GENT-1", "G1", "AVAILABLE").await;

    for ((filter, want), sub) in cases.iter().zip(subs.iter_mut()) {
        let got = statuses(&drain(sub, "evseStatusChanged").await);
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(u, s)| (u.to_string(), s.to_string()))
            .collect();
        assert_eq!(got, want, "filter {filter}");
    }
}

#[tokio::test]
async fn session_updates_filter_by_session_and_carry_the_place() {
    let app = TestApp::spawn().await;
    let put = app
        .put_location(LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_accepted(&put);
    let query = r#"subscription($id: String) { sessionUpdated(filter: {sessionId: $id, city: "Gent"}) {
        kind ... on SessionUpdate { sessionId status kwh locationId } } }"#;
    let mut ours = app.subscribe(query, json!({"id": SESSION})).await;
    let mut other = app.subscribe(query, json!({"id": "S-OTHER"})).await;

    let steps = [
        ("PUT", "greenflux/push_session_put.json"),
        ("PATCH", "greenflux/push_session_patch_completed.json"),
    ];
    for (method, file) in steps {
        assert_accepted(&app.push_session(method, SESSION, &fixture(file)).await);
    }

    let got = drain(&mut ours, "sessionUpdated").await;
    let status: Vec<Value> = got.iter().map(|u| u["status"].clone()).collect();
    assert_eq!(status, [json!("ACTIVE"), json!("COMPLETED")]);
    assert_eq!(got[0]["locationId"], LOCATION);
    assert_eq!(got[0]["kwh"], "0");
    assert_eq!(
        drain(&mut other, "sessionUpdated").await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn a_resume_after_a_forced_disconnect_replays_exactly_the_missed_events() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "LOC-R",
        "Gent",
        GENT,
        &[("E1", "AVAILABLE"), ("E2", "AVAILABLE")],
    )
    .await;
    let query = evse_status(r#"{locationId: "LOC-R"}"#, "");
    let mut first = app.subscribe(&query, json!({})).await;
    patch(&app, "LOC-R", "E1", "CHARGING").await;
    patch(&app, "LOC-R", "E2", "CHARGING").await;
    let seen = drain(&mut first, "evseStatusChanged").await;
    assert_eq!(seen.len(), 2);
    let resume_from = cursor(&seen[1]);

    // The connection drops without a goodbye; pushes go on meanwhile.
    drop(first);
    app.wait_for_subscribers(0).await;
    for (uid, status) in [("E1", "AVAILABLE"), ("E2", "BLOCKED"), ("E1", "OUTOFORDER")] {
        patch(&app, "LOC-R", uid, status).await;
    }
    let resumed = evse_status(r#"{locationId: "LOC-R"}"#, r#", after: $after"#);
    let resumed = resumed.replace("subscription {", "subscription($after: String) {");
    let mut again = app
        .subscribe(&resumed, json!({"after": resume_from.to_string()}))
        .await;
    // Committed after the resumed subscription registered: live, once.
    patch(&app, "LOC-R", "E2", "AVAILABLE").await;

    let items = drain(&mut again, "evseStatusChanged").await;
    let kinds: Vec<String> = items.iter().map(|i| text(&i["kind"])).collect();
    assert_eq!(kinds, ["REPLAY", "REPLAY", "REPLAY", "LIVE"]);
    let want = [
        ("E1", "AVAILABLE"),
        ("E2", "BLOCKED"),
        ("E1", "OUTOFORDER"),
        ("E2", "AVAILABLE"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .collect();
    assert_eq!(statuses(&items), want);
    let cursors: Vec<i64> = items.iter().map(cursor).collect();
    let stored = outbox_seqs(&app, "EVSE_STATUS_CHANGED").await;
    assert_eq!(
        cursors,
        stored[stored.len() - 4..],
        "exactly the missed ones, then live"
    );
}

#[tokio::test]
async fn a_stale_cursor_gets_a_reset_and_a_fresh_snapshot() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "LOC-S",
        "Gent",
        GENT,
        &[("E1", "AVAILABLE"), ("E2", "AVAILABLE")],
    )
    .await;
    patch(&app, "LOC-S", "E1", "CHARGING").await;
    let stale = outbox_seqs(&app, "EVSE_STATUS_CHANGED").await[0];
    patch(&app, "LOC-S", "E2", "BLOCKED").await;
    // Everything so far is older than the retention window and is pruned.
    let aged = "UPDATE outbox SET created_at = '2020-01-01 00:00:00+00:00'";
    app.state.store.db().execute_unprepared(aged).await.unwrap();
    let retention = Duration::from_secs(7 * 24 * 3600);
    let pruned = chargegraph::events::prune_outbox(&app.state.store, retention)
        .await
        .unwrap();
    assert_eq!(pruned, 7, "the PUT's three events, two per PATCH");

    let query = evse_status(r#"{locationId: "LOC-S"}"#, ", after: $after")
        .replace("subscription {", "subscription($after: String) {")
        .replace("kind cursor", "kind cursor ... on FeedReset { reason }");
    let mut sub = app
        .subscribe(&query, json!({"after": stale.to_string()}))
        .await;
    let mut items = Vec::new();
    for _ in 0..3 {
        let data = sub.next_data(WAIT).await.expect("reset and snapshot");
        items.push(data["evseStatusChanged"].clone());
    }
    patch(&app, "LOC-S", "E1", "AVAILABLE").await;
    items.extend(drain(&mut sub, "evseStatusChanged").await);

    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[0]["kind"], "RESET");
    assert_eq!(
        items[0]["reason"],
        "events after the cursor are older than the outbox retention"
    );
    assert_eq!(
        cursor(&items[0]),
        7,
        "the snapshot reflects the outbox up to seq 7"
    );
    let got: Vec<(String, String, String)> = items[1..]
        .iter()
        .map(|i| (text(&i["kind"]), text(&i["uid"]), text(&i["status"])))
        .collect();
    assert_eq!(
        got,
        triples(&[
            ("SNAPSHOT", "E1", "CHARGING"),
            ("SNAPSHOT", "E2", "BLOCKED"),
            ("LIVE", "E1", "AVAILABLE")
        ])
    );
    assert_eq!((cursor(&items[1]), cursor(&items[2])), (7, 7));
    assert!(cursor(&items[3]) > 7);
}

fn triples(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn a_snapshot_starts_with_the_current_state_of_what_the_filter_selects() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "LOC-A",
        "Gent",
        GENT,
        &[("A1", "AVAILABLE"), ("A2", "CHARGING")],
    )
    .await;
    put(&app, "LOC-B", "Brugge", BRUGGE, &[("B1", "CHARGING")]).await;
    patch(&app, "LOC-A", "A1", "OUTOFORDER").await;
    let query = evse_status(r#"{city: "Gent"}"#, ", snapshot: true");
    let mut sub = app.subscribe(&query, json!({})).await;
    let mut items = Vec::new();
    for _ in 0..2 {
        let data = sub.next_data(WAIT).await.expect("the snapshot");
        items.push(data["evseStatusChanged"].clone());
    }
    patch(&app, "LOC-B", "B1", "AVAILABLE").await;
    patch(&app, "LOC-A", "A2", "AVAILABLE").await;
    items.extend(drain(&mut sub, "evseStatusChanged").await);

    let got: Vec<(String, String, String)> = items
        .iter()
        .map(|i| (text(&i["kind"]), text(&i["uid"]), text(&i["status"])))
        .collect();
    let want = triples(&[
        ("SNAPSHOT", "A1", "OUTOFORDER"),
        ("SNAPSHOT", "A2", "CHARGING"),
        ("LIVE", "A2", "AVAILABLE"),
    ]);
    assert_eq!(got, want);
}

#[tokio::test]
async fn status_summaries_are_sent_when_the_counts_change() {
    let app = TestApp::spawn().await;
    put(
        &app,
        "LOC-A",
        "Gent",
        GENT,
        // A3 is REMOVED from the start: not in the snapshot's counts.
        &[("A1", "AVAILABLE"), ("A2", "AVAILABLE"), ("A3", "REMOVED")],
    )
    .await;
    put(&app, "LOC-B", "Brugge", BRUGGE, &[("B1", "AVAILABLE")]).await;
    let query = r#"subscription { statusSummaryChanged(filter: {city: "Gent"}) {
        kind total counts { status count } } }"#;
    let mut sub = app.subscribe(query, json!({})).await;
    let first = sub.next_data(WAIT).await.expect("the counts now");
    let mut items = vec![first["statusSummaryChanged"].clone()];

    patch(&app, "LOC-A", "A1", "CHARGING").await;
    patch(&app, "LOC-B", "B1", "CHARGING").await;
    patch(&app, "LOC-A", "A2", "CHARGING").await;
    patch(&app, "LOC-A", "A1", "AVAILABLE").await;
    // REMOVED leaves the board as it leaves the statusSummary query; back
    // in service it counts again.
    patch(&app, "LOC-A", "A2", "REMOVED").await;
    patch(&app, "LOC-A", "A2", "AVAILABLE").await;

    items.extend(take(&mut sub, "statusSummaryChanged", 5).await);
    let counts = |available: i64, charging: i64| {
        let mut counts = Vec::new();
        if available > 0 {
            counts.push(json!({"status": "AVAILABLE", "count": available}));
        }
        if charging > 0 {
            counts.push(json!({"status": "CHARGING", "count": charging}));
        }
        counts
    };
    let want = vec![
        json!({"kind": "SNAPSHOT", "total": 2, "counts": counts(2, 0)}),
        json!({"kind": "LIVE", "total": 2, "counts": counts(1, 1)}),
        json!({"kind": "LIVE", "total": 2, "counts": counts(0, 2)}),
        json!({"kind": "LIVE", "total": 2, "counts": counts(1, 1)}),
        json!({"kind": "LIVE", "total": 1, "counts": counts(1, 0)}),
        json!({"kind": "LIVE", "total": 2, "counts": counts(2, 0)}),
    ];
    assert_eq!(
        items, want,
        "Brugge's change and the stamp bumps send nothing"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_delays_neither_another_client_nor_the_pushes() {
    const PATCHES: usize = 200;
    // The mailbox holds a burst of one outbox read (on PostgreSQL the reader
    // wakes on NOTIFY and may find a dozen commits), far fewer than the
    // slow client falls behind by.
    let app = TestApp::spawn_with(|c| {
        c.subscription_buffer = 32;
        c.ws_ping_interval_ms = 60_000;
        c.ws_ping_timeout_ms = 60_000;
    })
    .await;
    // Each event of the slow client carries this location's 100 kB of raw
    // JSON, and its socket a 16 kB receive buffer, so the socket is full
    // after a few dozen events.
    let mut body: Value = serde_json::from_str(&location_body(
        "LOC-BIG",
        "Gent",
        GENT,
        &[("E1", "AVAILABLE"), ("E2", "AVAILABLE")],
    ))
    .unwrap();
    body["padding"] = json!("x".repeat(100_000));
    assert_accepted(&app.put_location("LOC-BIG", &body.to_string()).await);
    let heavy = r#"subscription { evseStatusChanged(filter: {locationId: "LOC-BIG"}) {
        kind cursor ... on EvseStatusChange { skipped uid status location { raw } } } }"#;
    let small = Some(16 * 1024);
    let mut slow = app
        .subscribe_buffered(Protocol::TransportWs, small, heavy, json!({}))
        .await;
    let mut fast = app
        .subscribe(&evse_status(r#"{locationId: "LOC-BIG"}"#, ""), json!({}))
        .await;

    // The slow client reads nothing while every push is made and answered.
    let mut want = Vec::new();
    for n in 0..PATCHES {
        let uid = if n % 2 == 0 { "E1" } else { "E2" };
        let status = if (n / 2) % 2 == 0 {
            "CHARGING"
        } else {
            "AVAILABLE"
        };
        let answered = tokio::time::timeout(PUSH_ANSWER, patch(&app, "LOC-BIG", uid, status));
        answered
            .await
            .unwrap_or_else(|_| panic!("push {n} not answered within 2 s while a client stalls"));
        want.push((uid.to_owned(), status.to_owned()));
    }
    let mut quick = Vec::new();
    while quick.len() < PATCHES {
        let data = fast.next_data(WAIT).await.unwrap_or_else(|| {
            panic!(
                "the fast client keeps up: {} of {PATCHES}, skipped {}",
                quick.len(),
                quick
                    .iter()
                    .map(|i: &Value| i["skipped"].as_i64().unwrap_or(0))
                    .sum::<i64>()
            )
        });
        quick.push(data["evseStatusChanged"].clone());
    }
    assert_eq!(statuses(&quick), want, "every change, in order");
    assert!(quick.iter().all(|i| i["skipped"] == 0));

    // Now the slow one reads: what did not fit was merged, per EVSE.
    let behind = drain(&mut slow, "evseStatusChanged").await;
    let accounted: i64 = behind
        .iter()
        .map(|i| 1 + i["skipped"].as_i64().unwrap())
        .sum();
    assert_eq!(
        accounted, PATCHES as i64,
        "every change delivered or counted as skipped"
    );
    assert!(
        behind.len() < PATCHES,
        "some changes were merged: {}",
        behind.len()
    );
    let mut last = BTreeMap::new();
    for item in &behind {
        last.insert(text(&item["uid"]), text(&item["status"]));
    }
    let mut final_state = BTreeMap::new();
    for (uid, status) in &want {
        final_state.insert(uid.clone(), status.clone());
    }
    assert_eq!(last, final_state, "the latest state of each EVSE arrives");
    let cursors: Vec<i64> = behind.iter().map(cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "in sequence order");
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_subscribes_and_stops() {
    let app = TestApp::spawn_with(|c| c.ws_ping_interval_ms = 200).await;
    put(&app, "LOC-L", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    let query = evse_status(r#"{locationId: "LOC-L"}"#, "");
    let mut legacy = app
        .subscribe_with(Protocol::Legacy, &query, json!({}))
        .await;

    patch(&app, "LOC-L", "E1", "CHARGING").await;
    let data = legacy.next_data(WAIT).await.expect("a data message");
    assert_eq!(data["evseStatusChanged"]["status"], "CHARGING");
    legacy.send(json!({"id": "1", "type": "stop"})).await;
    let done = legacy.next_message(WAIT).await.unwrap();
    assert_eq!(done, json!({"id": "1", "type": "complete"}));
    app.wait_for_subscribers(0).await;
}

#[tokio::test]
async fn protocol_mistakes_get_clear_answers() {
    let app = TestApp::spawn().await;
    let mut sub = Subscription::connect(app.addr, Protocol::TransportWs).await;
    sub.init().await;
    sub.start(
        "a",
        "subscription { evseStatusChanged(after: \"x\") { kind } }",
        json!({}),
    )
    .await;
    let error = sub.next_message(WAIT).await.unwrap();
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "a");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    sub.start("b", "subscription { nope }", json!({})).await;
    let error = sub.next_message(WAIT).await.unwrap();
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    let query = evse_status("{}", "");
    sub.start("c", &query, json!({})).await;
    sub.start("c", &query, json!({})).await;
    assert_eq!(
        sub.closed(WAIT).await,
        Some((4409, "Subscriber for c already exists".into()))
    );
}

#[tokio::test]
async fn a_client_that_never_initialises_is_closed_after_the_timeout() {
    let app = TestApp::spawn_with(|c| c.ws_init_timeout_ms = 300).await;
    let mut sub = Subscription::connect(app.addr, Protocol::TransportWs).await;
    assert_eq!(
        sub.closed(WAIT).await,
        Some((4408, "Connection initialisation timeout".into()))
    );
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped_and_one_that_answers_stays() {
    let app = TestApp::spawn_with(|c| {
        c.ws_ping_interval_ms = 100;
        c.ws_ping_timeout_ms = 300;
    })
    .await;
    put(&app, "LOC-P", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    let query = evse_status("{}", "");
    let mut answering = app.subscribe(&query, json!({})).await;
    let mut silent = app.subscribe(&query, json!({})).await;

    // The answering client reads (and so answers pings) for well over the
    // timeout; the silent one never reads and is dropped.
    assert_eq!(answering.next_data(Duration::from_millis(1500)).await, None);
    app.wait_for_subscribers(1).await;
    assert_eq!(
        silent.closed(WAIT).await,
        Some((4504, "Ping not answered".into()))
    );
    patch(&app, "LOC-P", "E1", "CHARGING").await;
    let data = answering.next_data(WAIT).await.expect("still subscribed");
    assert_eq!(data["evseStatusChanged"]["status"], "CHARGING");
}

/// A location whose raw JSON carries 100 kB of padding, with two EVSEs.
async fn put_padded(app: &TestApp, id: &str) {
    let mut body: Value = serde_json::from_str(&location_body(
        id,
        "Gent",
        GENT,
        &[("E1", "AVAILABLE"), ("E2", "AVAILABLE")],
    ))
    .unwrap();
    body["padding"] = json!("x".repeat(100_000));
    assert_accepted(&app.put_location(id, &body.to_string()).await);
}

/// A slow client's settings: a small mailbox, and pings that never evict it.
fn small_mailbox(c: &mut chargegraph::config::Config) {
    c.subscription_buffer = 4;
    c.ws_ping_interval_ms = 60_000;
    c.ws_ping_timeout_ms = 60_000;
}

#[tokio::test]
async fn merged_changes_of_a_slow_subscriber_are_counted_as_conflated() {
    const PATCHES: usize = 120;
    let app = TestApp::spawn_with(small_mailbox).await;
    put_padded(&app, "LOC-BIG").await;
    let heavy = r#"subscription { evseStatusChanged(filter: {locationId: "LOC-BIG"}) {
        kind cursor ... on EvseStatusChange { skipped uid status location { raw } } } }"#;
    let mut slow = app
        .subscribe_buffered(Protocol::TransportWs, Some(16 * 1024), heavy, json!({}))
        .await;

    for n in 0..PATCHES {
        let uid = ["E1", "E2"][n % 2];
        let status = ["CHARGING", "AVAILABLE"][(n / 2) % 2];
        patch(&app, "LOC-BIG", uid, status).await;
    }
    let behind = drain(&mut slow, "evseStatusChanged").await;

    let skipped: i64 = behind.iter().map(|i| i["skipped"].as_i64().unwrap()).sum();
    assert_eq!(behind.len() as i64 + skipped, PATCHES as i64);
    assert!(skipped > 0, "nothing was merged: the client was not slow");
    let m = scrape(&app).await;
    let count = |name: &str| sample(&m, &format!("{name}{{subscription=evseStatusChanged}}"));
    assert_eq!(count("chargegraph_events_conflated_total"), skipped as f64);
    assert_eq!(
        count("chargegraph_events_delivered_total"),
        behind.len() as f64
    );
    assert_eq!(count("chargegraph_events_dropped_total"), 0.0);
}

#[tokio::test]
async fn a_cdr_subscriber_that_falls_behind_ends_with_subscriber_lagged_and_counts_the_dropped() {
    const CDRS: usize = 60;
    let app = TestApp::spawn_with(small_mailbox).await;
    let query = r#"subscription { cdrReceived {
        kind cursor ... on CdrReceipt { cdrId cdr { raw } } } }"#;
    let mut slow = app
        .subscribe_buffered(Protocol::TransportWs, Some(16 * 1024), query, json!({}))
        .await;

    // 60 CDRs of 100 kB each, none read while they are pushed.
    let mut cdr: Value =
        serde_json::from_str(&fixture("greenflux/cdr_pull_example_reconstructed.json")).unwrap();
    cdr["padding"] = json!("x".repeat(100_000));
    // The server keeps writing while the socket takes bytes, so the
    // subscription may fall behind, and end, while CDRs are still pushed; a
    // CDR published after it ended is nobody's to count. The first `reached`
    // CDRs were published while it was surely still registered.
    let mut reached = 0;
    for n in 0..CDRS {
        cdr["id"] = json!(format!("CDR-{n:03}"));
        let answer = tokio::time::timeout(PUSH_ANSWER, app.post_cdr(&cdr.to_string())).await;
        assert_accepted(&answer.expect("the CDR is answered within 2 s"));
        // A push is answered at its commit, before the reader publishes it.
        app.wait_for_reader().await;
        if app.state.events.subscriber_count() == 1 {
            reached = n + 1;
        }
    }

    let mut delivered = Vec::new();
    let error = loop {
        let message = slow
            .next_message(WAIT)
            .await
            .expect("events, then an error");
        assert_eq!(message["type"], "next", "{message}");
        match message["payload"].get("errors") {
            Some(errors) => break errors[0].clone(),
            None => delivered.push(message["payload"]["data"]["cdrReceived"].clone()),
        }
    };
    let done = slow.next_message(WAIT).await;
    assert_eq!(done, Some(json!({"id": "1", "type": "complete"})));

    let k = delivered.len();
    assert!(0 < k && k < CDRS, "{k} of {CDRS} delivered");
    let ids: Vec<String> = delivered.iter().map(|d| text(&d["cdrId"])).collect();
    let first: Vec<String> = (0..k).map(|n| format!("CDR-{n:03}")).collect();
    assert_eq!(
        ids, first,
        "what was delivered came in order, without a gap"
    );
    let last_cursor = text(&delivered[k - 1]["cursor"]);
    assert_eq!(error["extensions"]["code"], "SUBSCRIBER_LAGGED");
    assert_eq!(error["extensions"]["cursor"], last_cursor.as_str());
    assert_eq!(
        text(&error["message"]),
        format!("subscriber fell behind; subscribe again with after: \"{last_cursor}\"")
    );
    app.wait_for_subscribers(0).await;
    let m = scrape(&app).await;
    let count = |name: &str| sample(&m, &format!("{name}{{subscription=cdrReceived}}"));
    // Every CDR that reached the mailbox was delivered or dropped; the one
    // published as the subscription ended may have reached it or not.
    let dropped = count("chargegraph_events_dropped_total") as usize;
    assert!(
        dropped >= 1,
        "the CDR that overflowed the mailbox is counted"
    );
    assert!(
        (reached..=(reached + 1).min(CDRS)).contains(&(k + dropped)),
        "{k} delivered + {dropped} dropped, {reached} published while subscribed"
    );
    assert_eq!(count("chargegraph_events_delivered_total"), k as f64);
    assert_eq!(count("chargegraph_events_conflated_total"), 0.0);
}

#[tokio::test]
async fn a_message_over_ws_max_message_bytes_closes_the_connection_with_1009() {
    let app = TestApp::spawn_with(|c| c.ws_max_message_bytes = 2048).await;
    let mut sub = Subscription::connect(app.addr, Protocol::TransportWs).await;
    sub.init().await;
    // GraphQL comments pad the documents: about 1.6 kB fits, 2.5 kB does not.
    let padded = |n: usize| format!("{}\n# {}", evse_status("{}", ""), "x".repeat(n));
    sub.start("fits", &padded(1500), json!({})).await;
    app.wait_for_subscribers(1).await;

    sub.start("too-big", &padded(2500), json!({})).await;
    assert_eq!(
        sub.closed(WAIT).await,
        Some((1009, "Message too big".into()))
    );
    app.wait_for_subscribers(0).await;
}

#[tokio::test]
async fn a_connection_holds_at_most_ws_max_subscriptions() {
    let app = TestApp::spawn_with(|c| c.ws_max_subscriptions = 2).await;
    put(&app, "LOC-M", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    app.wait_for_reader().await;
    let query = evse_status(r#"{locationId: "LOC-M"}"#, "");
    let mut sub = Subscription::connect(app.addr, Protocol::TransportWs).await;
    sub.init().await;
    sub.start("a", &query, json!({})).await;
    sub.start("b", &query, json!({})).await;
    app.wait_for_subscribers(2).await;

    sub.start("c", &query, json!({})).await;
    let refused = sub.next_message(WAIT).await;
    let error = json!({"message": "at most 2 subscriptions per connection",
                       "extensions": {"code": "BAD_REQUEST"}});
    assert_eq!(
        refused,
        Some(json!({"id": "c", "type": "error", "payload": [error]}))
    );
    assert_eq!(app.state.events.subscriber_count(), 2);

    // The two open ones still deliver; once one completes, a third fits.
    patch(&app, "LOC-M", "E1", "CHARGING").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let message = sub.next_message(WAIT).await.expect("an event");
        assert_eq!(
            message["payload"]["data"]["evseStatusChanged"]["status"],
            "CHARGING"
        );
        ids.push(text(&message["id"]));
    }
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    sub.send(json!({"id": "a", "type": "complete"})).await;
    app.wait_for_subscribers(1).await;
    sub.start("c", &query, json!({})).await;
    app.wait_for_subscribers(2).await;
}

#[tokio::test]
async fn the_legacy_protocol_keeps_a_client_that_answers_ping_frames_and_drops_a_silent_one() {
    let app = TestApp::spawn_with(|c| {
        c.ws_ping_interval_ms = 100;
        c.ws_ping_timeout_ms = 300;
    })
    .await;
    put(&app, "LOC-K", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    let query = evse_status(r#"{locationId: "LOC-K"}"#, "");
    let mut answering = app
        .subscribe_with(Protocol::Legacy, &query, json!({}))
        .await;
    let mut silent = app
        .subscribe_with(Protocol::Legacy, &query, json!({}))
        .await;

    // The answering client only reads: its WebSocket library answers the
    // ping frames that come with each `ka`. It gets keep-alives for 1.5 s,
    // five times the ping timeout.
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    let mut keep_alives = 0;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        let Some(message) = answering.next_raw(left).await else {
            break;
        };
        assert_eq!(message, json!({"type": "ka"}));
        keep_alives += 1;
    }
    assert!(keep_alives >= 5, "{keep_alives} keep-alives in 1.5 s");
    app.wait_for_subscribers(1).await;
    assert_eq!(
        silent.closed(WAIT).await,
        Some((4504, "Ping not answered".into()))
    );

    patch(&app, "LOC-K", "E1", "CHARGING").await;
    let data = answering.next_data(WAIT).await.expect("still subscribed");
    assert_eq!(data["evseStatusChanged"]["status"], "CHARGING");
}

#[tokio::test]
async fn idle_subscriptions_run_no_sql() {
    const SUBSCRIBERS: usize = 20;
    const IDLE: Duration = Duration::from_secs(3);
    let app = TestApp::spawn_with(|c| {
        c.outbox_poll_ms = 600_000;
        c.outbox_prune_interval_secs = 600_000;
    })
    .await;
    put(&app, "LOC-Q", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    let alone = cost_of_a_push(&app, "CHARGING").await;

    let mut subs = Vec::new();
    for _ in 0..SUBSCRIBERS {
        subs.push(app.subscribe(&evse_status("{}", ""), json!({})).await);
    }
    // Every subscription waits three seconds at once, with nothing to send.
    let idle_from = app.state.store.statements_run();
    let waits = subs.iter_mut().map(|sub| sub.next_data(IDLE));
    let got = futures::future::join_all(waits).await;
    assert_eq!(got, vec![None; SUBSCRIBERS]);
    assert_eq!(
        app.state.store.statements_run(),
        idle_from,
        "idle subscriptions ran SQL"
    );

    let watched = cost_of_a_push(&app, "AVAILABLE").await;
    for sub in &mut subs {
        let data = sub.next_data(WAIT).await.unwrap();
        assert_eq!(data["evseStatusChanged"]["status"], "AVAILABLE");
    }
    // On PostgreSQL the NOTIFY may wake the reader once more for the same
    // commit (one more outbox read); a statement per subscriber would be 20.
    assert!(
        watched <= alone + 1,
        "one push with {SUBSCRIBERS} subscribers ran {watched} statements, with none {alone}"
    );
}

/// Statements run for one EVSE status PATCH, until the reader has published
/// its two events (the status change and the location's stamp bump).
async fn cost_of_a_push(app: &TestApp, status: &str) -> u64 {
    let (store, events) = (&app.state.store, &app.state.events);
    let before = store.statements_run();
    let from = events.position();
    patch(app, "LOC-Q", "E1", status).await;
    let published = async {
        while events.position() < from + 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(WAIT, published).await.unwrap();
    store.statements_run() - before
}

/// The `graphql-ws` npm client on the machine's node, installed by .ci/run
/// into tests/node; `None` (the test is skipped) when missing, except under
/// CHARGEGRAPH_CI=1, where it fails.
fn node_client() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let node = std::process::Command::new("node").arg("--version").output();
    let installed = dir.join("node_modules/graphql-ws/package.json").exists();
    let problem = match node {
        Err(err) => Some(format!("node is not runnable: {err}")),
        Ok(_) if !installed => {
            Some("graphql-ws is not installed: npm ci --prefix tests/node".into())
        }
        Ok(_) => None,
    };
    match problem {
        None => Some(dir),
        Some(problem) if std::env::var("CHARGEGRAPH_CI").as_deref() == Ok("1") => {
            panic!("{problem}")
        }
        Some(problem) => {
            eprintln!("skipped: {problem}");
            None
        }
    }
}

#[tokio::test]
async fn the_graphql_ws_npm_client_subscribes_and_is_kept_while_it_answers_pings() {
    use tokio::io::AsyncBufReadExt;

    let Some(dir) = node_client() else {
        return;
    };
    let app = TestApp::spawn_with(|c| {
        c.ws_ping_interval_ms = 100;
        c.ws_ping_timeout_ms = 400;
    })
    .await;
    put(&app, "LOC-N", "Gent", GENT, &[("E1", "AVAILABLE")]).await;
    app.wait_for_reader().await;
    let query = evse_status(r#"{locationId: "LOC-N"}"#, "");
    let mut child = tokio::process::Command::new("node")
        .arg("graphql-ws-subscribe.mjs")
        .arg(format!("ws://{}/graphql", app.addr))
        .arg("2")
        .arg(&query)
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await, json!({"connected": true}));
    app.wait_for_subscribers(1).await;

    // It never pings on its own; it answers ours, so it stays well past the
    // ping timeout.
    for _ in 0..10 {
        assert_eq!(next_line(&mut lines).await, json!({"ping": true}));
    }
    assert_eq!(app.state.events.subscriber_count(), 1);
    patch(&app, "LOC-N", "E1", "CHARGING").await;
    patch(&app, "LOC-N", "E1", "BLOCKED").await;

    let mut results = Vec::new();
    while results.len() < 2 {
        let line = next_line(&mut lines).await;
        if line.get("ping").is_none() {
            results.push(line["next"]["data"]["evseStatusChanged"].clone());
        }
    }
    let got: Vec<(String, String, String)> = results
        .iter()
        .map(|r| (text(&r["kind"]), text(&r["uid"]), text(&r["status"])))
        .collect();
    assert_eq!(
        got,
        triples(&[("LIVE", "E1", "CHARGING"), ("LIVE", "E1", "BLOCKED")])
    );
    let status = tokio::time::timeout(WAIT, child.wait()).await;
    assert!(status.expect("node exits").unwrap().success());
}

async fn next_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> Value {
    let line = tokio::time::timeout(WAIT, lines.next_line()).await;
    let line = line.expect("node prints within 10 s").unwrap();
    serde_json::from_str(&line.expect("node prints a line")).unwrap()
}

#[tokio::test]
async fn a_websocket_connection_logs_with_the_request_id_of_its_upgrade() {
    let db = crate::harness::TestDb::create().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .arg("serve")
        .env("CHARGEGRAPH_DATABASE_URL", db.url())
        .env("CHARGEGRAPH_LISTEN", "127.0.0.1:0")
        .env("CHARGEGRAPH_LOG_FORMAT", "json")
        .env("CHARGEGRAPH_WS_PING_INTERVAL_MS", "100")
        .env("CHARGEGRAPH_WS_PING_TIMEOUT_MS", "300")
        .env("RUST_LOG", "info,chargegraph::graphql::ws=debug")
        .env_remove("CHARGEGRAPH_CONFIG")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let (addr, log) = crate::shutdown::read_log(child.stderr.take().unwrap()).await;

    // The client never reads, so it never answers a ping: the connection
    // task logs its eviction.
    let headers = [("X-Request-ID", "ws-request-7")];
    let query = evse_status("{}", "");
    let _silent = crate::harness::subscribe_with(addr, json!({}), &headers, &query, json!({}))
        .await
        .expect("subscribed");
    let evicted = async {
        loop {
            let found = log.lock().unwrap().iter().find_map(|line| {
                let entry: Value = serde_json::from_str(line).ok()?;
                let message = &entry["fields"]["message"];
                (message == "websocket client stopped answering pings").then_some(entry)
            });
            match found {
                Some(entry) => return entry,
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    };
    let entry = tokio::time::timeout(WAIT, evicted)
        .await
        .expect("the eviction is logged");
    assert_eq!(entry["span"]["request_id"], "ws-request-7", "{entry}");
    assert_eq!(entry["spans"][0]["name"], "request", "{entry}");
}
