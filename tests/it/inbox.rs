//! The inbox for operators: retention pruning, the GraphQL `inbox` query and
//! `chargegraph replay`, against the spawned server and the real binary.

use std::time::Duration;

use async_graphql::Request;
use chargegraph::app::{self, AppState};
use chargegraph::config::Config;
use chargegraph::domain::{Access, Party, Timestamp};
use chargegraph::ingest::retention::{PruneError, PRUNE_BATCH};
use chargegraph::ocpi::replay::{self, Replayed, Summary};
use chargegraph::store::inbox::{self, InboxFilter, InboxRow};
use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp, TestDb};

const GF_LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const GF_EVSE: &str = "BE-BEC-E041503001";

/// Writes `count` rejected session rows received `age` ago, as the store does.
async fn old_rows(app: &TestApp, count: usize, age: chrono::Duration) {
    let at = Timestamp::from_datetime(Utc::now() - age);
    let write = app.state.store.begin_write().await.unwrap();
    for i in 0..count {
        let row = InboxRow {
            source: "push".into(),
            method: "PUT".into(),
            path: format!("/ocpi/2.1.1/sessions/NL/GFX/OLD{i}"),
            version: Some("2.1.1".into()),
            module: Some("sessions".into()),
            country_code: Some("NL".into()),
            party_id: Some("GFX".into()),
            object_id: Some(format!("OLD{i}")),
            http_status: 200,
            status_code: 2001,
            outcome: "rejected".into(),
            message: "$.kwh: expected a number".into(),
            body: Some(r#"{"kwh": "abc"}"#.into()),
            ..InboxRow::default()
        };
        inbox::insert(&write.txn, at, row).await.unwrap();
    }
    write.commit().await.unwrap();
}

/// Every inbox row id, in order; PostgreSQL leaves gaps where a refused
/// push's transaction rolled back.
async fn inbox_ids(app: &TestApp) -> Vec<i64> {
    let rows = app
        .sqlite_column("SELECT CAST(id AS TEXT) AS n FROM inbox ORDER BY inbox.id")
        .await;
    rows.iter().map(|id| id.parse().unwrap()).collect()
}

async fn inbox_count(app: &TestApp) -> usize {
    let rows = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM inbox")
        .await;
    rows[0].parse().unwrap()
}

// ---- retention -------------------------------------------------------------

#[tokio::test]
async fn rows_past_retention_are_pruned_in_batches_by_the_background_task() {
    let app = TestApp::spawn_with(|c| c.inbox_retention_days = 1).await;
    // The pass at start has run once the first asked-for pass answers.
    assert_eq!(app.state.pruner.prune_now().await.unwrap(), 0);

    old_rows(&app, PRUNE_BATCH as usize + 7, chrono::Duration::days(2)).await;
    old_rows(&app, 2, chrono::Duration::hours(20)).await;
    let answer = app
        .put_location(GF_LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!(answer.code(), 1000);
    assert_eq!(inbox_count(&app).await, PRUNE_BATCH as usize + 10);

    let pruned = app.state.pruner.prune_now().await.unwrap();
    assert_eq!(
        pruned,
        PRUNE_BATCH + 7,
        "every row older than a day, over two batches"
    );
    let left = app
        .sqlite_column("SELECT path FROM inbox ORDER BY id")
        .await;
    assert_eq!(
        left,
        [
            "/ocpi/2.1.1/sessions/NL/GFX/OLD0".to_owned(),
            "/ocpi/2.1.1/sessions/NL/GFX/OLD1".to_owned(),
            format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}"),
        ]
    );
    assert_eq!(app.state.pruner.prune_now().await.unwrap(), 0);
}

#[tokio::test]
async fn a_prune_batch_deletes_at_most_its_limit_oldest_first() {
    // Retention off, so that the background task leaves the rows to this test.
    let app = TestApp::spawn_with(|c| c.inbox_retention_days = 0).await;
    old_rows(&app, 5, chrono::Duration::days(40)).await;
    let write = app.state.store.begin_write().await.unwrap();
    let deleted = inbox::prune_batch(&write.txn, Utc::now(), 2).await.unwrap();
    write.commit().await.unwrap();
    assert_eq!(deleted, 2);
    let left = app
        .sqlite_column("SELECT object_id FROM inbox ORDER BY id")
        .await;
    assert_eq!(left, ["OLD2", "OLD3", "OLD4"]);
}

#[tokio::test]
async fn retention_zero_keeps_rows_forever() {
    let app = TestApp::spawn_with(|c| c.inbox_retention_days = 0).await;
    old_rows(&app, 3, chrono::Duration::days(4000)).await;
    assert_eq!(app.state.pruner.prune_now().await.unwrap(), 0);
    assert_eq!(inbox_count(&app).await, 3);
}

#[tokio::test]
async fn the_pruner_stops_when_the_server_stops() {
    let db = TestDb::create().await;
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url().to_owned(),
        ..Config::default()
    };
    let state = AppState::start(config).await.unwrap();
    let pruner = state.pruner.clone();
    assert_eq!(
        pruner.prune_now().await.unwrap(),
        0,
        "running while serving"
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, state, async {
        let _ = stopped.await;
    }));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(matches!(pruner.prune_now().await, Err(PruneError::Stopped)));
}

// ---- the GraphQL inbox query ------------------------------------------------

const INBOX: &str = r#"
query($first: Int, $after: String, $filter: InboxFilter) {
  inbox(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { inboxId } }
    nodes {
      inboxId receivedAt source method path version module countryCode partyId
      objectId requestId outcome httpStatus statusCode message warnings body
      replayOf replayedBy
    }
  }
}"#;

async fn inbox_page(app: &TestApp, variables: Value) -> Value {
    app.graphql(INBOX, variables).await["inbox"].clone()
}

/// A tariff with a missing required field, a PATCH of an unknown location,
/// a push without a token, an accepted location and an old rejected session.
async fn mixed_inbox(app: &mut TestApp) -> chrono::DateTime<Utc> {
    old_rows(app, 1, chrono::Duration::days(3)).await;
    let start = Utc::now() - chrono::Duration::seconds(1);
    let gfx = app.token.clone();
    app.token = app.add_token(&["DE/ALL"], false).await;
    let tariff = fixture("2.2.1/tariff_put_example.json");
    let answer = app
        .ocpi("PUT", "/ocpi/2.2.1/tariffs/DE/ALL/12", Some(&tariff))
        .await;
    assert_eq!(answer.status, 201);
    app.token = gfx;
    let answer = app
        .patch_evse(GF_LOCATION, GF_EVSE, r#"{"status": "CHARGING"}"#)
        .await;
    assert_eq!((answer.status, answer.code()), (404, 2003));
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let body = fixture("greenflux/push_location_put.json");
    let answer = app.ocpi_as("PUT", &path, Some(&body), None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(app.put_location(GF_LOCATION, &body).await.status, 201);
    start
}

#[tokio::test]
async fn operators_read_inbox_rows_by_outcome_module_party_and_time() {
    let mut app = TestApp::spawn().await;
    let start = mixed_inbox(&mut app).await;

    let rejected = inbox_page(&app, json!({"filter": {"outcome": ["REJECTED"]}})).await;
    assert_eq!(rejected["totalCount"], 2);
    let patch = &rejected["nodes"][0];
    let expected_path = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/{GF_EVSE}");
    assert_eq!(patch["method"], "PATCH");
    assert_eq!(patch["path"], expected_path);
    assert_eq!(patch["version"], "2.1.1");
    assert_eq!(patch["module"], "LOCATIONS");
    assert_eq!(patch["countryCode"], "NL");
    assert_eq!(patch["partyId"], "GFX");
    assert_eq!(patch["objectId"], GF_EVSE);
    assert_eq!(patch["source"], "PUSH");
    assert_eq!(patch["outcome"], "REJECTED");
    assert_eq!(patch["httpStatus"], 404);
    assert_eq!(patch["statusCode"], 2003);
    assert_eq!(
        patch["message"],
        format!("unknown location {GF_LOCATION:?}")
    );
    assert_eq!(patch["body"], r#"{"status": "CHARGING"}"#);
    assert_eq!(patch["warnings"], json!([]));
    assert_eq!(patch["replayOf"], Value::Null);
    assert_eq!(rejected["nodes"][1]["objectId"], "OLD0", "newest first");

    let recent = json!({"outcome": ["REJECTED"], "receivedFrom": start.to_rfc3339()});
    let page = inbox_page(&app, json!({"filter": recent})).await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["nodes"][0]["objectId"], GF_EVSE);
    let older = json!({"receivedBefore": start.to_rfc3339()});
    let page = inbox_page(&app, json!({"filter": older})).await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["nodes"][0]["objectId"], "OLD0");

    let tariffs = inbox_page(&app, json!({"filter": {"module": "TARIFFS"}})).await;
    assert_eq!(tariffs["totalCount"], 1);
    let tariff = &tariffs["nodes"][0];
    assert_eq!(tariff["outcome"], "CREATED");
    assert_eq!(tariff["httpStatus"], 201);
    assert_eq!(tariff["statusCode"], 1000);
    let warnings: Vec<&str> = tariff["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.contains(&"$.last_updated: missing required field"),
        "{warnings:?}"
    );

    let party = json!({"countryCode": "de", "partyId": "all"});
    let page = inbox_page(&app, json!({"filter": party})).await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["nodes"][0]["objectId"], "12");

    let unauthorized = inbox_page(&app, json!({"filter": {"outcome": ["UNAUTHORIZED"]}})).await;
    let row = &unauthorized["nodes"][0];
    assert_eq!(
        (row["httpStatus"].clone(), row["statusCode"].clone()),
        (json!(401), json!(2000))
    );
    assert_eq!(row["body"], Value::Null, "a 401 keeps no body");
    assert_eq!(row["method"], "PUT");
}

#[tokio::test]
async fn inbox_pages_newest_first_with_keyset_cursors() {
    let mut app = TestApp::spawn().await;
    mixed_inbox(&mut app).await;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for expected_next in [true, true, false] {
        let page = inbox_page(&app, json!({"first": 2, "after": after})).await;
        assert_eq!(page["totalCount"], 5);
        assert_eq!(page["pageInfo"]["hasNextPage"], expected_next);
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
        let edges = page["edges"].as_array().unwrap();
        assert_eq!(
            page["pageInfo"]["endCursor"],
            edges.last().unwrap()["cursor"]
        );
        seen.extend(edges.iter().map(|e| e["node"]["inboxId"].as_i64().unwrap()));
        after = page["pageInfo"]["endCursor"].clone();
    }
    let mut ids = inbox_ids(&app).await;
    ids.reverse();
    assert_eq!(seen, ids);

    let bad = app
        .graphql_raw(INBOX, json!({"after": "not-a-cursor"}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_inbox_is_for_operators_and_narrowed_to_their_parties() {
    let mut app = TestApp::spawn().await;
    mixed_inbox(&mut app).await;
    let schema = app::schema(&app.state);

    let reader = Access::scoped(vec![Party::new("NL", "GFX")], false);
    let response = schema.execute(Request::new(INBOX).data(reader)).await;
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(response["data"], Value::Null);

    let operator = Access::scoped(vec![Party::new("DE", "ALL")], true);
    let response = schema.execute(Request::new(INBOX).data(operator)).await;
    let response = serde_json::to_value(&response).unwrap();
    assert!(response.get("errors").is_none(), "{response}");
    let page = &response["data"]["inbox"];
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["nodes"][0]["path"], "/ocpi/2.2.1/tariffs/DE/ALL/12");

    let nobody = Access::scoped(Vec::new(), true);
    let response = schema.execute(Request::new(INBOX).data(nobody)).await;
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["data"]["inbox"]["totalCount"], 0);
}

// ---- chargegraph replay ------------------------------------------------------

/// Runs the real binary against the test's database.
async fn chargegraph(app: &TestApp, args: &[&str]) -> String {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .args(args)
        .env("CHARGEGRAPH_DATABASE_URL", app.db.url())
        .env_remove("CHARGEGRAPH_CONFIG")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("chargegraph finishes")
        .expect("chargegraph runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn replay_reapplies_a_refused_push_once_its_location_exists() {
    let app = TestApp::spawn().await;
    let since = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let status = fixture("greenflux/push_location_patch_evse_status.json");
    let refused = app.patch_evse(GF_LOCATION, GF_EVSE, &status).await;
    assert_eq!((refused.status, refused.code()), (404, 2003));
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(GF_LOCATION, &body).await.status, 201);
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    assert_eq!(
        app.ocpi_as("PUT", &path, Some(&body), None).await.status,
        401
    );
    let mismatch = app.put_location("OTHER", &body).await;
    assert_eq!((mismatch.status, mismatch.code()), (200, 2001));
    let evse_url = format!("{path}/{GF_EVSE}");
    assert_eq!(
        app.ocpi("GET", &evse_url, None).await.body["data"]["status"],
        "AVAILABLE"
    );

    let [patch, put, unauthorized, mismatch] = inbox_ids(&app).await[..] else {
        panic!("four inbox rows expected");
    };
    let no_body = "skipped: no body was kept (HTTP 401: unauthenticated or over the size limit)";
    let id_mismatch =
        format!("rejected (200/2001) $.id: {GF_LOCATION:?} does not match \"OTHER\" in the URL");

    let outcomes = ["--outcome", "rejected", "--outcome", "unauthorized"];
    let args = [
        &["replay", "--since", &since],
        &outcomes[..],
        &["--dry-run"],
    ]
    .concat();
    let dry = chargegraph(&app, &args).await;
    assert_eq!(
        dry.lines().collect::<Vec<_>>(),
        [
            format!("inbox {patch} rejected -> would replay PATCH {evse_url}"),
            format!("inbox {unauthorized} unauthorized -> {no_body}"),
            format!(
                "inbox {mismatch} rejected -> would replay PUT /ocpi/2.1.1/locations/NL/GFX/OTHER"
            ),
            "3 rows: 2 would be replayed, 1 skipped (dry run: nothing written)".to_owned(),
        ]
    );
    assert_eq!(inbox_count(&app).await, 4, "a dry run writes nothing");

    let args = [&["replay", "--since", &since], &outcomes[..]].concat();
    let done = chargegraph(&app, &args).await;
    let [.., first, second] = inbox_ids(&app).await[..] else {
        panic!("replay rows expected");
    };
    assert_eq!(
        done.lines().collect::<Vec<_>>(),
        [
            format!("inbox {patch} rejected -> updated (200/1000) EVSE updated [inbox {first}]"),
            format!("inbox {unauthorized} unauthorized -> {no_body}"),
            format!("inbox {mismatch} rejected -> {id_mismatch} [inbox {second}]"),
            "3 rows: 1 applied, 1 refused again, 1 skipped, 0 failed".to_owned(),
        ]
    );
    let stored = app.ocpi("GET", &evse_url, None).await;
    assert_eq!(stored.body["data"]["status"], "CHARGING");
    let rows = app
        .sqlite_column(
            "SELECT source || '|' || method || '|' || outcome || '|' || \
             COALESCE(CAST(replay_of AS TEXT), '-') || '|' || \
             COALESCE(CAST(replayed_by AS TEXT), '-') FROM inbox ORDER BY id",
        )
        .await;
    assert_eq!(
        rows,
        [
            format!("push|PATCH|rejected|-|{first}"),
            "push|PUT|created|-|-".to_owned(),
            "push|PUT|unauthorized|-|-".to_owned(),
            format!("push|PUT|rejected|-|{second}"),
            format!("replay|PATCH|updated|{patch}|-"),
            format!("replay|PUT|rejected|{mismatch}|-"),
        ]
    );
    let history = app
        .sqlite_column("SELECT status FROM evse_status_history ORDER BY id")
        .await;
    assert_eq!(history, ["AVAILABLE", "CHARGING"]);

    // The originals are replayed; the refused replay is the row to choose now.
    let again = chargegraph(&app, &["replay", "--since", &since]).await;
    let third = *inbox_ids(&app).await.last().unwrap();
    let already = |by: i64| {
        format!("skipped: already replayed as inbox {by}; name it with --id to replay it again")
    };
    assert_eq!(
        again.lines().collect::<Vec<_>>(),
        [
            format!("inbox {patch} rejected -> {}", already(first)),
            format!("inbox {mismatch} rejected -> {}", already(second)),
            format!("inbox {second} rejected -> {id_mismatch} [inbox {third}]"),
            "3 rows: 0 applied, 1 refused again, 2 skipped, 0 failed".to_owned(),
        ]
    );

    let (patch_id, unauthorized_id) = (patch.to_string(), unauthorized.to_string());
    let named = chargegraph(&app, &["replay", "--id", &patch_id, &unauthorized_id]).await;
    let fourth = *inbox_ids(&app).await.last().unwrap();
    assert_eq!(
        named.lines().collect::<Vec<_>>(),
        [
            format!("inbox {patch} rejected -> unchanged (200/1000) not applied: identical to the stored EVSE [inbox {fourth}]"),
            format!("inbox {unauthorized} unauthorized -> {no_body}"),
            "2 rows: 1 applied, 0 refused again, 1 skipped, 0 failed".to_owned(),
        ]
    );
    assert_eq!(put, inbox_ids(&app).await[1]);
}

#[tokio::test]
async fn a_push_that_failed_on_our_side_is_kept_and_replayed_after_the_fix() {
    let app = TestApp::spawn().await;
    app.refuse_outbox_inserts().await;
    let body = fixture("greenflux/push_location_put.json");
    let failed = app.put_location(GF_LOCATION, &body).await;
    assert_eq!((failed.status, failed.code()), (500, 3000));
    assert_eq!(failed.message(), "internal error", "the cause is not sent");
    let rows = app
        .sqlite_column("SELECT outcome || '|' || http_status || '|' || status_code FROM inbox")
        .await;
    assert_eq!(rows, ["error|500|3000"]);
    let message = app.sqlite_column("SELECT message FROM inbox").await;
    assert!(
        message[0].starts_with("internal error: ") && message[0].contains("outbox refused"),
        "operators see the cause: {message:?}"
    );
    assert_eq!(app.sqlite_column("SELECT body FROM inbox").await, [body]);

    // Before the fix the replay fails again, and says so.
    let errors = InboxFilter {
        outcomes: vec!["error".into()],
        ..InboxFilter::default()
    };
    let (store, events) = (&app.state.store, &app.state.events);
    let lines = replay::replay(store, events, &errors, false).await.unwrap();
    let Replayed::Done {
        outcome,
        http_status,
        ..
    } = &lines[0].replayed
    else {
        panic!("{lines:?}");
    };
    assert_eq!((outcome.as_str(), *http_status), ("error", 500));
    assert_eq!(
        Summary::of(&lines).to_string(),
        "1 rows: 0 applied, 0 refused again, 0 skipped, 1 failed"
    );

    let drop = if app.is_postgres() {
        "DROP TRIGGER fail_outbox ON outbox"
    } else {
        "DROP TRIGGER fail_outbox"
    };
    app.state.store.db().execute_unprepared(drop).await.unwrap();
    let lines = replay::replay(store, events, &errors, false).await.unwrap();
    let [original, failed_replay] = &lines[..] else {
        panic!("{lines:?}");
    };
    assert!(
        matches!(&original.replayed, Replayed::Skipped(why) if why.starts_with("already replayed"))
    );
    let Replayed::Done {
        outcome,
        http_status,
        status_code,
        ..
    } = &failed_replay.replayed
    else {
        panic!("{lines:?}");
    };
    assert_eq!(
        (outcome.as_str(), *http_status, *status_code),
        ("created", 201, 1000)
    );
    let stored = app
        .ocpi(
            "GET",
            &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}"),
            None,
        )
        .await;
    assert_eq!(stored.body["data"]["name"], "Gent Zuid");
}

/// Writes one rejected push row, as the store does, received `age` ago.
async fn rejected_row(app: &TestApp, age: chrono::Duration, module: &str, path: &str) {
    let token_pk: i64 = app
        .sqlite_column("SELECT CAST(MIN(id) AS TEXT) FROM push_token")
        .await[0]
        .parse()
        .unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    let row = InboxRow {
        source: "push".into(),
        method: "PUT".into(),
        path: path.into(),
        version: Some(segments[2].into()),
        module: Some(module.into()),
        country_code: Some(segments[4].into()),
        party_id: Some(segments[5].into()),
        object_id: Some(segments[6].into()),
        token_pk: Some(token_pk),
        http_status: 200,
        status_code: 2001,
        outcome: "rejected".into(),
        message: "$.id: missing".into(),
        body: Some("{}".into()),
        ..InboxRow::default()
    };
    let write = app.state.store.begin_write().await.unwrap();
    let at = Timestamp::from_datetime(Utc::now() - age);
    inbox::insert(&write.txn, at, row).await.unwrap();
    write.commit().await.unwrap();
}

#[tokio::test]
async fn replay_until_module_and_party_each_narrow_the_rows_on_the_command_line() {
    let app = TestApp::spawn().await;
    let hours = chrono::Duration::hours;
    rejected_row(&app, hours(3), "sessions", "/ocpi/2.1.1/sessions/NL/GFX/A").await;
    rejected_row(
        &app,
        hours(2),
        "locations",
        "/ocpi/2.1.1/locations/NL/GFX/B",
    )
    .await;
    rejected_row(&app, hours(1), "sessions", "/ocpi/2.2.1/sessions/BE/BEC/C").await;
    let [a, b, c] = inbox_ids(&app).await[..] else {
        panic!("three inbox rows expected");
    };
    let since = (Utc::now() - hours(4)).to_rfc3339();
    let until = (Utc::now() - chrono::Duration::minutes(90)).to_rfc3339();
    let dry_run = |extra: &[&str]| -> Vec<String> {
        let base = ["replay", "--since", since.as_str(), "--dry-run"];
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };

    let args = dry_run(&["--until", &until]);
    let lines = chargegraph(&app, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [
            format!("inbox {a} rejected -> would replay PUT /ocpi/2.1.1/sessions/NL/GFX/A"),
            format!("inbox {b} rejected -> would replay PUT /ocpi/2.1.1/locations/NL/GFX/B"),
            "2 rows: 2 would be replayed, 0 skipped (dry run: nothing written)".to_owned(),
        ]
    );

    let args = dry_run(&["--module", "locations"]);
    let lines = chargegraph(&app, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [
            format!("inbox {b} rejected -> would replay PUT /ocpi/2.1.1/locations/NL/GFX/B"),
            "1 rows: 1 would be replayed, 0 skipped (dry run: nothing written)".to_owned(),
        ]
    );

    let args = dry_run(&["--party", "be/bec"]);
    let lines = chargegraph(&app, &args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        [
            format!("inbox {c} rejected -> would replay PUT /ocpi/2.2.1/sessions/BE/BEC/C"),
            "1 rows: 1 would be replayed, 0 skipped (dry run: nothing written)".to_owned(),
        ]
    );
    assert_eq!(inbox_count(&app).await, 3, "dry runs write nothing");
}
