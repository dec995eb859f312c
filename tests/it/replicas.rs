//! Concurrent writers and several replicas on one database: outbox events in
//! commit order with none skipped, and the newest sender stamp winning races.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use chargegraph::store::outbox;
use futures::future::join_all;
use rand::seq::SliceRandom;
use sea_orm::TransactionTrait;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::harness::{subscribe_at, Answer, TestApp};

/// A location with one EVSE (and its connector), as GreenFlux PUTs it.
fn location_body(location_id: &str, evse_uid: &str) -> String {
    json!({
        "id": location_id, "type": "ON_STREET", "name": "Gent Zuid",
        "address": "F.Rooseveltlaan 3A", "city": "Gent", "postal_code": "9000",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evses": [{
            "uid": evse_uid, "evse_id": format!("BE*BEC*{evse_uid}"), "status": "AVAILABLE",
            "connectors": [{
                "id": "1", "standard": "IEC_62196_T2", "format": "CABLE",
                "power_type": "AC_3_PHASE", "voltage": 220, "amperage": 16,
                "last_updated": "2021-06-01T00:00:00Z"
            }],
            "last_updated": "2021-06-01T00:00:00Z"
        }],
        "last_updated": "2021-06-01T00:00:00Z"
    })
    .to_string()
}

/// The i-th second after 2021-06-01T10:00:00Z, as a sender stamp.
fn stamp(i: usize) -> String {
    format!("2021-06-01T10:{:02}:{:02}Z", i / 60, i % 60)
}

const STATUSES: [&str; 4] = ["AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER"];

fn evse_patch(i: usize) -> String {
    json!({"status": STATUSES[i % STATUSES.len()], "last_updated": stamp(i)}).to_string()
}

fn assert_accepted(answer: &Answer) {
    assert_eq!(
        (answer.status / 100, answer.code()),
        (2, 1000),
        "{:?}",
        answer.body
    );
}

#[tokio::test]
async fn concurrent_writers_deliver_every_outbox_event_in_commit_order() {
    const WRITERS: usize = 8;
    const PUSHES: usize = 25;
    let app = TestApp::spawn_with(|c| c.db_max_connections = 16).await;
    app.state.events.ready().await;
    let events = app
        .state
        .events
        .subscribe(chargegraph::events::Filter::everything());
    for w in 0..WRITERS {
        let answer = app
            .put_location(
                &format!("LOC-{w}"),
                &location_body(&format!("LOC-{w}"), "E1"),
            )
            .await;
        assert_accepted(&answer);
    }

    // Each writer flips the status of its own EVSE, all at once.
    let writers = (0..WRITERS).map(|w| {
        let app = &app;
        async move {
            for i in 1..=PUSHES {
                let answer = app
                    .patch_evse(&format!("LOC-{w}"), "E1", &evse_patch(i))
                    .await;
                assert_accepted(&answer);
            }
        }
    });
    join_all(writers).await;

    let stored = outbox_seqs(&app).await;
    // Per push: the status change and the location's stamp bump.
    assert_eq!(stored.len(), WRITERS * (2 + 2 * PUSHES), "outbox rows");
    let mut received = Vec::new();
    while received.len() < stored.len() {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next()).await;
        let delivery = next
            .unwrap_or_else(|_| panic!("{} of {} events arrived", received.len(), stored.len()))
            .expect("subscriber kept up");
        assert_eq!(delivery.skipped, 0, "nothing merged while keeping up");
        received.push(delivery.event.seq);
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "events out of sequence order: {received:?}"
    );
    let received_set: BTreeSet<i64> = received.iter().copied().collect();
    assert_eq!(
        received_set, stored,
        "every committed outbox row arrives once"
    );
}

#[tokio::test]
async fn concurrent_writers_reach_a_websocket_subscriber_in_commit_order() {
    const WRITERS: usize = 8;
    const PUSHES: usize = 25;
    let app = TestApp::spawn_with(|c| c.db_max_connections = 16).await;
    for w in 0..WRITERS {
        let id = format!("LOC-{w}");
        assert_accepted(&app.put_location(&id, &location_body(&id, "E1")).await);
    }
    let query =
        "subscription { evseStatusChanged { kind cursor ... on EvseStatusChange { skipped } } }";
    let mut subscriber = app.subscribe(query, json!({})).await;
    let from = *outbox_seqs(&app).await.last().expect("the PUTs' events");

    let writers = (0..WRITERS).map(|w| {
        let app = &app;
        async move {
            for i in 1..=PUSHES {
                let answer = app
                    .patch_evse(&format!("LOC-{w}"), "E1", &evse_patch(i))
                    .await;
                assert_accepted(&answer);
            }
        }
    });
    join_all(writers).await;

    let sql = "SELECT CAST(seq AS TEXT) FROM outbox WHERE kind = 'EVSE_STATUS_CHANGED'";
    let stored: BTreeSet<i64> = app
        .sqlite_column(sql)
        .await
        .iter()
        .map(|s| s.parse().unwrap())
        .filter(|seq| *seq > from)
        .collect();
    assert_eq!(stored.len(), WRITERS * PUSHES, "one status change per push");
    let mut received = Vec::new();
    while received.len() < stored.len() {
        let data = subscriber.next_data(Duration::from_secs(10)).await;
        let data = data.unwrap_or_else(|| panic!("{} of {} arrived", received.len(), stored.len()));
        let change = &data["evseStatusChanged"];
        assert_eq!(
            (&change["kind"], &change["skipped"]),
            (&json!("LIVE"), &json!(0))
        );
        received.push(change["cursor"].as_str().unwrap().parse::<i64>().unwrap());
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "cursors out of commit order: {received:?}"
    );
    let received: BTreeSet<i64> = received.into_iter().collect();
    assert_eq!(
        received, stored,
        "every committed status change arrives once"
    );
}

async fn outbox_seqs(app: &TestApp) -> BTreeSet<i64> {
    app.sqlite_column("SELECT CAST(seq AS TEXT) FROM outbox ORDER BY seq")
        .await
        .iter()
        .map(|s| s.parse().expect("seq is a number"))
        .collect()
}

/// A chargegraph server process on the test's database.
struct Replica {
    addr: SocketAddr,
    _child: Child,
}

impl Replica {
    /// Starts the binary and waits until it answers OCPI requests.
    async fn start(app: &TestApp) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(env!("CARGO_BIN_EXE_chargegraph"))
            .env("CHARGEGRAPH_DATABASE_URL", app.db.url())
            .env("CHARGEGRAPH_LISTEN", addr.to_string())
            .env("RUST_LOG", "warn")
            // Only LISTEN/NOTIFY (or a wake in the same process) may deliver
            // events promptly: the safety-net poll is out of the picture.
            .env("CHARGEGRAPH_OUTBOX_POLL_MS", "600000")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server binary starts");
        let replica = Replica {
            addr,
            _child: child,
        };
        let ready = async {
            while app
                .ocpi_at(addr, "GET", "/ocpi/versions", None)
                .await
                .is_none()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .expect("the replica answers within 30 s");
        replica
    }
}

impl TestApp {
    /// Sends an OCPI request with our token to another server; `None` when
    /// it does not answer (yet).
    async fn ocpi_at(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Option<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).ok()?;
        let mut request = self
            .client
            .request(method, format!("http://{addr}{path}"))
            .header("Authorization", format!("Token {}", self.token));
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = response.json().await.ok()?;
        Some(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The app on PostgreSQL, or `None` (the test is skipped) on SQLite, where
/// two processes cannot share one writer.
async fn postgres_app() -> Option<TestApp> {
    let app = TestApp::spawn().await;
    if app.is_postgres() {
        Some(app)
    } else {
        eprintln!("skipped: needs CHARGEGRAPH_TEST_DATABASE_URL (PostgreSQL)");
        None
    }
}

/// Sends every (replica, path, body) PATCH at once and checks each was accepted.
async fn patch_all(app: &TestApp, patches: Vec<(SocketAddr, String, String)>) {
    let sends = patches
        .iter()
        .map(|(addr, path, body)| app.ocpi_at(*addr, "PATCH", path, Some(body)));
    for answer in join_all(sends).await {
        assert_accepted(&answer.expect("the replica answers"));
    }
}

/// EVSEs and sessions updated at once in the contention tests.
const OBJECTS: usize = 4;
/// Stamped updates per EVSE and per session.
const UPDATES: usize = 30;

fn evse_uid(n: usize) -> String {
    format!("E{n}")
}

fn session_path(n: usize) -> String {
    format!("/ocpi/2.1.1/sessions/NL/GFX/S-C{n}")
}

const CONTENDED: &str = "/ocpi/2.1.1/locations/NL/GFX/LOC-C";

/// A location with `OBJECTS` EVSEs and `OBJECTS` sessions, then every
/// stamped update of each, in random order, spread over `replicas`, all at
/// once: many arrive after a newer one and must not overwrite it, and two
/// writers of one row must take turns rather than both read the old state.
async fn contend(app: &TestApp, replicas: [SocketAddr; 2]) {
    let mut location: Value = serde_json::from_str(&location_body("LOC-C", "E0")).unwrap();
    let template = location["evses"][0].clone();
    let evses: Vec<Value> = (0..OBJECTS)
        .map(|n| {
            let mut evse = template.clone();
            evse["uid"] = json!(evse_uid(n));
            evse
        })
        .collect();
    location["evses"] = Value::Array(evses);
    let put = app
        .ocpi_at(replicas[0], "PUT", CONTENDED, Some(&location.to_string()))
        .await;
    assert_accepted(&put.expect("replica answers"));
    for n in 0..OBJECTS {
        let session = json!({"id": format!("S-C{n}"), "start_datetime": "2021-06-01T09:59:00Z",
            "kwh": 0, "auth_id": "A", "auth_method": "WHITELIST", "location": {"id": "LOC-C"},
            "currency": "EUR", "status": "ACTIVE", "last_updated": stamp(0)});
        let put = app
            .ocpi_at(
                replicas[1],
                "PUT",
                &session_path(n),
                Some(&session.to_string()),
            )
            .await;
        assert_accepted(&put.expect("replica answers"));
    }

    let mut patches = Vec::new();
    for n in 0..OBJECTS {
        for i in 1..=UPDATES {
            let evse = format!("{CONTENDED}/{}", evse_uid(n));
            patches.push((evse, evse_patch(i)));
            let kwh = json!({"kwh": i, "last_updated": stamp(i)}).to_string();
            patches.push((session_path(n), kwh));
        }
    }
    patches.shuffle(&mut rand::thread_rng());
    let patches = patches
        .into_iter()
        .enumerate()
        .map(|(k, (path, body))| (replicas[k % 2], path, body))
        .collect();
    patch_all(app, patches).await;

    for n in 0..OBJECTS {
        let path = format!("{CONTENDED}/{}", evse_uid(n));
        let evse = app.ocpi_at(replicas[1], "GET", &path, None).await;
        let evse = evse.expect("replica answers").body;
        assert_eq!(
            evse["data"]["status"],
            STATUSES[UPDATES % STATUSES.len()],
            "{path}"
        );
        assert_eq!(evse["data"]["last_updated"], stamp(UPDATES), "{path}");
        let session = app
            .ocpi_at(replicas[0], "GET", &session_path(n), None)
            .await;
        let session = session.expect("replica answers").body;
        assert_eq!(session["data"]["kwh"], json!(UPDATES), "S-C{n}");
        assert_eq!(session["data"]["last_updated"], stamp(UPDATES), "S-C{n}");
    }
    assert_status_events_chain(app).await;
    assert_session_events_follow_the_timeline(app).await;
    assert_every_push_recorded_once(app).await;
}

/// One SESSION_UPDATED event per applied session push, no more, no fewer:
/// the PUT's (kwh 0), then one per PATCH that was newer than the stored
/// session when it arrived (each raised kwh), ending at the newest. Stale
/// PATCHes are applied to nothing and emit nothing.
async fn assert_session_events_follow_the_timeline(app: &TestApp) {
    let (session, kwh) = (
        app.json_field("payload", "session_id"),
        app.json_field("payload", "kwh"),
    );
    let sql = format!(
        "SELECT {session} || '|' || {kwh} FROM outbox WHERE kind = 'SESSION_UPDATED' \
         AND {session} LIKE 'S-C%' ORDER BY seq"
    );
    let mut events: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for row in app.sqlite_column(&sql).await {
        let (id, kwh) = row.split_once('|').expect("session|kwh");
        let kwh = kwh.parse().expect("kwh is a number");
        events.entry(id.to_owned()).or_default().push(kwh);
    }
    let applied = app
        .sqlite_column(
            "SELECT s.ocpi_id || '|' || CAST(COUNT(*) AS TEXT) FROM session_event e \
             JOIN session s ON s.id = e.session_pk \
             WHERE s.ocpi_id LIKE 'S-C%' AND e.applied GROUP BY s.ocpi_id",
        )
        .await;
    assert_eq!(applied.len(), OBJECTS);
    for row in applied {
        let (id, count) = row.split_once('|').expect("session|count");
        let kwh = &events[id];
        assert_eq!(kwh.len().to_string(), count, "{id}: events {kwh:?}");
        assert_eq!(kwh.first(), Some(&0.0), "{id}: the PUT's event first");
        assert_eq!(kwh.last(), Some(&(UPDATES as f64)), "{id}: the newest last");
        assert!(kwh.windows(2).all(|w| w[0] < w[1]), "{id}: {kwh:?}");
    }
}

/// Every status change event names the status the one before it left, per
/// EVSE, and there is one history row per event: a read-then-write race
/// would emit two changes from one previous status.
async fn assert_status_events_chain(app: &TestApp) {
    let (uid, previous, status) = (
        app.json_field("payload", "evse_uid"),
        app.json_field("payload", "previous_status"),
        app.json_field("payload", "status"),
    );
    let sql = format!(
        "SELECT {uid} || '|' || COALESCE({previous}, '-') || '|' || {status} FROM outbox \
         WHERE kind = 'EVSE_STATUS_CHANGED' ORDER BY seq"
    );
    let mut last: std::collections::BTreeMap<String, String> = Default::default();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for row in app.sqlite_column(&sql).await {
        let parts: Vec<&str> = row.split('|').collect();
        let (uid, previous, status) = (parts[0], parts[1], parts[2]);
        let expected = last.get(uid).map(String::as_str).unwrap_or("-");
        assert_eq!(
            previous, expected,
            "{uid}: change from a status it no longer had"
        );
        last.insert(uid.to_owned(), status.to_owned());
        *counts.entry(uid.to_owned()).or_default() += 1;
    }
    for n in 0..OBJECTS {
        let uid = evse_uid(n);
        assert_eq!(last[&uid], STATUSES[UPDATES % STATUSES.len()], "{uid}");
    }
    let history = app
        .sqlite_column(
            "SELECT e.uid || '|' || CAST(COUNT(h.id) AS TEXT) FROM evse e \
             JOIN evse_status_history h ON h.evse_pk = e.id GROUP BY e.uid",
        )
        .await;
    for row in history {
        let (uid, count) = row.split_once('|').expect("uid|count");
        assert_eq!(
            count.parse::<usize>().ok(),
            Some(counts[uid]),
            "{uid}: history rows"
        );
    }
}

/// Each push has exactly one inbox row and each session push one timeline
/// entry, however often its transaction was retried or regrouped.
async fn assert_every_push_recorded_once(app: &TestApp) {
    let timeline = app
        .sqlite_column(
            "SELECT s.ocpi_id || '|' || CAST(COUNT(*) AS TEXT) FROM session_event e \
             JOIN session s ON s.id = e.session_pk WHERE s.ocpi_id LIKE 'S-C%' GROUP BY s.ocpi_id",
        )
        .await;
    assert_eq!(timeline.len(), OBJECTS);
    for row in timeline {
        assert!(row.ends_with(&format!("|{}", UPDATES + 1)), "{row}");
    }
    let inbox = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM inbox WHERE method = 'PATCH'")
        .await;
    assert_eq!(inbox, [(2 * OBJECTS * UPDATES).to_string()]);
}

#[tokio::test]
async fn concurrent_updates_end_in_the_newest_stamp_and_lose_no_change() {
    let app = TestApp::spawn().await;
    contend(&app, [app.addr, app.addr]).await;
}

#[tokio::test]
async fn two_replicas_end_in_the_state_of_the_newest_stamp() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let replicas = [Replica::start(&app).await, Replica::start(&app).await];
    contend(&app, [replicas[0].addr, replicas[1].addr]).await;
}

/// A location PUT with these EVSEs, stamped `stamp`.
fn location_with(location_id: &str, uids: &[&str], stamp: &str) -> String {
    let mut body: Value = serde_json::from_str(&location_body(location_id, "E0")).unwrap();
    let template = body["evses"][0].clone();
    let evses: Vec<Value> = uids
        .iter()
        .map(|uid| {
            let mut evse = template.clone();
            evse["uid"] = json!(uid);
            evse["last_updated"] = json!(stamp);
            evse
        })
        .collect();
    body["evses"] = Value::Array(evses);
    body["last_updated"] = json!(stamp);
    body.to_string()
}

#[tokio::test]
async fn two_replicas_creating_one_location_store_it_once_with_the_newest_evses() {
    const LOCATIONS: usize = 8;
    let Some(app) = postgres_app().await else {
        return;
    };
    let replicas = [Replica::start(&app).await, Replica::start(&app).await];
    // Each new location is PUT twice at once, through either replica: an
    // older version with EVSEs A and B, and a newer one with B and C.
    let mut puts = Vec::new();
    for l in 0..LOCATIONS {
        let id = format!("LOC-N{l}");
        let older = location_with(&id, &["A", "B"], &stamp(1));
        let newer = location_with(&id, &["B", "C"], &stamp(2));
        let path = format!("/ocpi/2.1.1/locations/NL/GFX/{id}");
        puts.push((replicas[l % 2].addr, path.clone(), older));
        puts.push((replicas[(l + 1) % 2].addr, path, newer));
    }
    let sends = puts
        .iter()
        .map(|(addr, path, body)| app.ocpi_at(*addr, "PUT", path, Some(body)));
    let answers: Vec<Answer> = join_all(sends)
        .await
        .into_iter()
        .map(|a| a.expect("the replica answers"))
        .collect();
    for pair in answers.chunks(2) {
        assert_accepted(&pair[0]);
        assert_accepted(&pair[1]);
        let mut statuses = [pair[0].status, pair[1].status];
        statuses.sort();
        assert_eq!(statuses, [200, 201], "one PUT creates, the other updates");
    }

    for l in 0..LOCATIONS {
        let id = format!("LOC-N{l}");
        let rows = app
            .sqlite_column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM location WHERE ocpi_id = '{id}'"
            ))
            .await;
        assert_eq!(rows, ["1"], "{id} stored once");
        let path = format!("/ocpi/2.1.1/locations/NL/GFX/{id}");
        let stored = app.ocpi_at(replicas[0].addr, "GET", &path, None).await;
        let stored = stored.expect("replica answers").body;
        assert_eq!(stored["data"]["last_updated"], stamp(2), "{id}");
        let live: Vec<&str> = stored["data"]["evses"]
            .as_array()
            .expect("evses")
            .iter()
            .filter(|e| e["status"] != "REMOVED")
            .filter_map(|e| e["uid"].as_str())
            .collect();
        assert_eq!(live, ["B", "C"], "{id}: the newer PUT's EVSEs");
    }
}

#[tokio::test]
async fn two_replicas_keep_one_cdr_and_the_newest_tariff() {
    const TARIFFS: usize = 4;
    const VERSIONS: usize = 16;
    let Some(app) = postgres_app().await else {
        return;
    };
    let replicas = [Replica::start(&app).await, Replica::start(&app).await];
    let cdr = crate::harness::fixture("greenflux/cdr_pull_example_reconstructed.json");
    let mut sends = Vec::new();
    for replica in &replicas {
        sends.push((
            replica.addr,
            "POST",
            "/ocpi/2.1.1/cdrs".to_owned(),
            cdr.clone(),
        ));
    }
    let mut versions = Vec::new();
    for t in 0..TARIFFS {
        for v in 1..=VERSIONS {
            let body = json!({"id": format!("T{t}"), "currency": "EUR",
                "elements": [{"price_components": [{"type": "TIME", "price": v, "step_size": 60}]}],
                "last_updated": stamp(v)});
            versions.push((format!("/ocpi/2.1.1/tariffs/NL/GFX/T{t}"), body.to_string()));
        }
    }
    versions.shuffle(&mut rand::thread_rng());
    for (k, (path, body)) in versions.into_iter().enumerate() {
        sends.push((replicas[k % 2].addr, "PUT", path, body));
    }
    let answers = join_all(
        sends
            .iter()
            .map(|(addr, method, path, body)| app.ocpi_at(*addr, method, path, Some(body))),
    )
    .await;
    let answers: Vec<Answer> = answers.into_iter().map(|a| a.expect("answers")).collect();
    for answer in &answers {
        assert_accepted(answer);
    }
    let mut cdr_statuses = [answers[0].status, answers[1].status];
    cdr_statuses.sort();
    assert_eq!(
        cdr_statuses,
        [200, 201],
        "one POST stores, the other is the identical re-POST"
    );
    let cdrs = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM cdr")
        .await;
    assert_eq!(cdrs, ["1"]);
    let received = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE kind = 'CDR_RECEIVED'")
        .await;
    assert_eq!(received, ["1"]);

    for t in 0..TARIFFS {
        let path = format!("/ocpi/2.1.1/tariffs/NL/GFX/T{t}");
        let stored = app.ocpi_at(replicas[1].addr, "GET", &path, None).await;
        let stored = stored.expect("replica answers").body;
        assert_eq!(stored["data"]["last_updated"], stamp(VERSIONS), "T{t}");
        let price = &stored["data"]["elements"][0]["price_components"][0]["price"];
        assert_eq!(price, &json!(VERSIONS), "T{t}");
    }
}

const EVSE_STATUS_SUBSCRIPTION: &str = r#"subscription {
  evseStatusChanged(filter: {locationId: "LOC-S"}, snapshot: true) {
    kind cursor ... on EvseStatusChange { uid status }
  }
}"#;

#[tokio::test]
async fn a_push_to_one_replica_reaches_a_subscriber_of_the_other() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let replicas = [Replica::start(&app).await, Replica::start(&app).await];
    let (a, b) = (replicas[0].addr, replicas[1].addr);
    let location = "/ocpi/2.1.1/locations/NL/GFX/LOC-S";
    let put = app
        .ocpi_at(a, "PUT", location, Some(&location_body("LOC-S", "E1")))
        .await;
    assert_accepted(&put.expect("replica answers"));
    let mut events = subscribe_at(b, EVSE_STATUS_SUBSCRIPTION, json!({})).await;
    // The snapshot shows that the subscription is registered on b.
    let snapshot = events.next_data(Duration::from_secs(10)).await;
    let snapshot = snapshot.expect("the snapshot")["evseStatusChanged"].clone();
    assert_eq!(
        (&snapshot["kind"], &snapshot["uid"], &snapshot["status"]),
        (&json!("SNAPSHOT"), &json!("E1"), &json!("AVAILABLE"))
    );

    let patch = app
        .ocpi_at(a, "PATCH", &format!("{location}/E1"), Some(&evse_patch(1)))
        .await;
    assert_accepted(&patch.expect("replica answers"));
    // b polls only every ten minutes: the NOTIFY sent inside a's transaction
    // is what wakes its reader.
    let event = events.next_data(Duration::from_secs(2)).await;
    let change = event.expect("the other replica delivers the event promptly");
    let change = &change["evseStatusChanged"];
    assert_eq!(
        (&change["kind"], &change["uid"], &change["status"]),
        (&json!("LIVE"), &json!("E1"), &json!(STATUSES[1]))
    );
    assert!(change["cursor"].as_str().unwrap().parse::<i64>().unwrap() > 0);
}

/// A CDR event for the outbox, written directly.
fn cdr_event(cdr_id: &str) -> outbox::NewEvent {
    outbox::NewEvent {
        kind: "CDR_RECEIVED",
        country_code: "NL".into(),
        party_id: "GFX".into(),
        location_pk: None,
        evse_pk: None,
        session_pk: None,
        payload: json!({"cdr_id": cdr_id}),
    }
}

#[tokio::test]
async fn an_uncommitted_outbox_insert_holds_back_the_next_writer_until_it_commits() {
    let Some(app) = postgres_app().await else {
        return;
    };
    app.state.events.ready().await;
    let feed = app
        .state
        .events
        .subscribe(chargegraph::events::Filter::everything());

    // A has written its outbox row and not committed yet.
    let a = app.state.store.db().begin().await.unwrap();
    let seq_a = outbox::insert(&a, cdr_event("CDR-A")).await.unwrap();
    let store = app.state.store.clone();
    let mut b = tokio::spawn(async move {
        let b = store.db().begin().await?;
        let seq = outbox::insert(&b, cdr_event("CDR-B")).await?;
        b.commit().await?;
        anyhow::Ok(seq)
    });
    // B cannot even take a sequence number while A holds the ordering lock.
    let early = tokio::time::timeout(Duration::from_millis(200), &mut b).await;
    assert!(
        early.is_err(),
        "B's outbox insert did not wait for A: {early:?}"
    );

    a.commit().await.unwrap();
    let seq_b = tokio::time::timeout(Duration::from_secs(10), b)
        .await
        .expect("B commits once A has")
        .unwrap()
        .unwrap();
    assert!(seq_a < seq_b, "A {seq_a}, B {seq_b}");
    let mut received = Vec::new();
    for _ in 0..2 {
        let next = tokio::time::timeout(Duration::from_secs(10), feed.next()).await;
        let delivery = next.expect("the event arrives").expect("kept up");
        let cdr_id = delivery.event.payload["cdr_id"].clone();
        received.push((delivery.event.seq, cdr_id));
    }
    assert_eq!(received, [(seq_a, json!("CDR-A")), (seq_b, json!("CDR-B"))]);
}

#[tokio::test]
async fn a_notification_missed_while_listen_was_down_is_caught_up() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let replicas = [Replica::start(&app).await, Replica::start(&app).await];
    let (a, b) = (replicas[0].addr, replicas[1].addr);
    let location = "/ocpi/2.1.1/locations/NL/GFX/LOC-S";
    let put = app
        .ocpi_at(a, "PUT", location, Some(&location_body("LOC-S", "E1")))
        .await;
    assert_accepted(&put.expect("replica answers"));
    let mut events = subscribe_at(b, EVSE_STATUS_SUBSCRIPTION, json!({})).await;
    let snapshot = events.next_data(Duration::from_secs(10)).await;
    assert_eq!(
        snapshot.expect("the snapshot")["evseStatusChanged"]["kind"],
        "SNAPSHOT"
    );

    // Every LISTEN on this database is cut (this test's app and both
    // replicas); each listener waits a second before listening again, so
    // the NOTIFY of the push below reaches nobody.
    let cut = "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS TEXT) FROM pg_stat_activity \
               WHERE datname = current_database() AND query ILIKE 'LISTEN%'";
    assert_eq!(app.sqlite_column(cut).await, ["3"]);
    let patch = app
        .ocpi_at(a, "PATCH", &format!("{location}/E1"), Some(&evse_patch(1)))
        .await;
    assert_accepted(&patch.expect("replica answers"));

    // b polls only every ten minutes: the wake after listening again finds it.
    let event = events.next_data(Duration::from_secs(5)).await;
    let change = event.expect("the missed event is caught up within seconds");
    let change = &change["evseStatusChanged"];
    assert_eq!(
        (&change["kind"], &change["uid"], &change["status"]),
        (&json!("LIVE"), &json!("E1"), &json!(STATUSES[1]))
    );
}
