//! Pull reconciliation end to end: the spawned chargegraph pulls a fake CPO
//! (`reconcile/fake.rs`) through its ingest path; missing objects are
//! created, stale ones updated, current ones left alone without an event,
//! and a push naming an unknown location is healed by a targeted pull.

mod crawler;
mod fake;

use std::process::{Command, Output};
use std::time::Duration;

use chargegraph::ocpi::replay::{self, Replayed};
use chargegraph::reconcile::{CpoConfig, Profile, RunOptions};
use chargegraph::store::inbox::InboxFilter;
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};
use crawler::pull;
use fake::{envelope, locations, page_of, FakeCpo, Reply, TOKEN};

/// Runs the binary against the app's database with extra variables.
async fn chargegraph(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chargegraph"));
    command
        .args(args)
        .env("CHARGEGRAPH_DATABASE_URL", &app.state.config.database_url)
        .env_remove("CHARGEGRAPH_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chargegraph runs")
}

/// Outbox rows of one location (by OCPI id).
async fn events_of(app: &TestApp, location_id: &str) -> usize {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE location_pk IN \
         (SELECT id FROM location WHERE ocpi_id = '{location_id}')"
    );
    app.sqlite_column(&sql).await[0].parse().unwrap()
}

async fn max_seq(app: &TestApp) -> String {
    app.sqlite_column("SELECT CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM outbox")
        .await
        .remove(0)
}

/// LOC-B as the CPO had it a day earlier: CHARGING, older stamps.
fn older_loc_b() -> Value {
    let mut loc = locations()[1].clone();
    loc["last_updated"] = json!("2026-01-01T09:00:00Z");
    loc["evses"][0]["status"] = json!("CHARGING");
    loc["evses"][0]["last_updated"] = json!("2026-01-01T09:00:00Z");
    loc
}

#[tokio::test]
async fn reconcile_creates_missing_updates_stale_and_leaves_current_objects_alone() {
    let served = locations()[..3].to_vec();
    let fake = FakeCpo::start(move |seen, _| page_of(&served, seen, 10)).await;
    let app = TestApp::spawn().await;
    let put = |id: &str, body: Value| {
        let path = format!("/ocpi/2.2.1/locations/NL/GFX/{id}");
        let app = &app;
        async move { app.ocpi("PUT", &path, Some(&body.to_string())).await }
    };
    assert_eq!(put("LOC-A", locations()[0].clone()).await.status, 201);
    assert_eq!(put("LOC-B", older_loc_b()).await.status, 201);
    let (a_before, b_before) = (
        events_of(&app, "LOC-A").await,
        events_of(&app, "LOC-B").await,
    );

    // The entry comes from CHARGEGRAPH_RECONCILE, its token from its own variable.
    let entry = format!(
        "[{{name = \"emu\", url = \"{}\", parties = [\"NL/GFX\"], modules = [\"locations\"], \
         page_limit = 10, endpoints = {{locations = \"{}\"}}}}]",
        fake.url("/ocpi/versions"),
        fake.url("/cpo/locations")
    );
    let env = [
        ("CHARGEGRAPH_RECONCILE", entry.as_str()),
        ("CHARGEGRAPH_RECONCILE_EMU_TOKEN", TOKEN),
    ];
    let out = chargegraph(&app, &["reconcile", "--cpo", "emu"], &env).await;

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("  locations: fetched 3, missing 1, updated 1, unchanged 1, failed 0\n"),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some(format!("Token {TOKEN}").as_str())
    );

    // Stale: updated to the CPO's state; missing: created; current: no event.
    let status = app
        .sqlite_column("SELECT status FROM evse WHERE uid = 'EVSE-B1'")
        .await;
    assert_eq!(status, vec!["AVAILABLE"]);
    assert_eq!(events_of(&app, "LOC-A").await, a_before);
    assert!(events_of(&app, "LOC-B").await > b_before);
    assert!(events_of(&app, "LOC-C").await > 0);
    let inbox = app
        .sqlite_column(
            "SELECT object_id || ' ' || method || ' ' || outcome || ' ' || COALESCE(CAST(token_pk AS TEXT), '-') \
             FROM inbox WHERE source = 'pull' ORDER BY object_id",
        )
        .await;
    assert_eq!(
        inbox,
        vec![
            "LOC-A PUT unchanged -",
            "LOC-B PUT updated -",
            "LOC-C PUT created -"
        ]
    );

    let query = "{ reconciliationRuns { totalCount nodes { cpo trigger error finishedAt \
                 modules { module fetched missing updated unchanged failed error } } } }";
    let data = app.graphql(query, json!({})).await;
    let runs = &data["reconciliationRuns"];
    assert_eq!(runs["totalCount"], 1);
    let run = &runs["nodes"][0];
    assert_eq!(
        (&run["cpo"], &run["trigger"], &run["error"]),
        (&json!("emu"), &json!("MANUAL"), &Value::Null)
    );
    assert!(run["finishedAt"].is_string());
    assert_eq!(
        run["modules"],
        json!([{"module": "LOCATIONS", "fetched": 3, "missing": 1, "updated": 1,
                "unchanged": 1, "failed": 0, "error": null}])
    );
}

#[tokio::test]
async fn reconcile_pulls_only_the_named_module_within_the_given_window() {
    let served = locations()[..1].to_vec();
    let fake = FakeCpo::start(move |seen, _| match seen.path.as_str() {
        "/cpo/locations" => page_of(&served, seen, 10),
        _ => page_of(&[], seen, 10),
    })
    .await;
    let app = TestApp::spawn().await;
    let entry = format!(
        "[{{name = \"emu\", url = \"{}\", parties = [\"NL/GFX\"], \
         modules = [\"locations\", \"sessions\"], page_limit = 10, \
         endpoints = {{locations = \"{}\", sessions = \"{}\"}}}}]",
        fake.url("/ocpi/versions"),
        fake.url("/cpo/locations"),
        fake.url("/cpo/sessions")
    );
    let env = [
        ("CHARGEGRAPH_RECONCILE", entry.as_str()),
        ("CHARGEGRAPH_RECONCILE_EMU_TOKEN", TOKEN),
    ];
    let args = [
        "reconcile",
        "--cpo",
        "emu",
        "--module",
        "sessions",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-02T00:00:00Z",
    ];
    let out = chargegraph(&app, &args, &env).await;

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("  sessions: fetched 0, missing 0, updated 0, unchanged 0, failed 0\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("locations:"), "{stdout}");
    assert!(fake.seen_at("/cpo/locations").is_empty());
    let sessions = fake.seen_at("/cpo/sessions");
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(
        (
            sessions[0].query.get("date_from").map(String::as_str),
            sessions[0].query.get("date_to").map(String::as_str)
        ),
        (Some("2026-01-01T00:00:00Z"), Some("2026-01-02T00:00:00Z"))
    );
    // Nothing was pulled, so nothing was written.
    let stored = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM location")
        .await;
    assert_eq!(stored, ["0"]);
}

#[tokio::test]
async fn re_pulling_current_sessions_cdrs_and_tariffs_writes_no_event() {
    let session: Value =
        serde_json::from_str(&fixture("2.2.1/session_example_2_short_finished.json")).unwrap();
    let cdr: Value = serde_json::from_str(&fixture("2.2.1/cdr_example.json")).unwrap();
    let tariff: Value = serde_json::from_str(&fixture("2.2.1/tariff_put_example.json")).unwrap();
    let app = TestApp::spawn().await;
    let token = format!(
        "Token {}",
        app.add_token(&["BE/BEC", "DE/ALL"], false).await
    );
    let push = |method: &'static str, path: &'static str, body: &Value| {
        let (app, token, body) = (&app, token.clone(), body.to_string());
        async move { app.ocpi_as(method, path, Some(&body), Some(&token)).await }
    };
    assert_eq!(
        push("PUT", "/ocpi/2.2.1/sessions/BE/BEC/101", &session)
            .await
            .code(),
        1000
    );
    assert_eq!(push("POST", "/ocpi/2.2.1/cdrs", &cdr).await.code(), 1000);
    assert_eq!(
        push("PUT", "/ocpi/2.2.1/tariffs/DE/ALL/12", &tariff)
            .await
            .code(),
        1000
    );
    app.wait_for_reader().await;
    let before = max_seq(&app).await;

    let served = [
        ("/cpo/sessions", session),
        ("/cpo/cdrs", cdr),
        ("/cpo/tariffs", tariff),
    ];
    let fake = FakeCpo::start(move |seen, _| {
        let item = served
            .iter()
            .find(|(p, _)| *p == seen.path)
            .map(|(_, v)| v.clone());
        page_of(&item.into_iter().collect::<Vec<_>>(), seen, 10)
    })
    .await;
    let mut cpo = CpoConfig {
        parties: vec!["BE/BEC".into(), "DE/ALL".into()],
        modules: vec!["sessions".into(), "cdrs".into(), "tariffs".into()],
        ..fake.cpo()
    };
    cpo.endpoints.sessions = Some(fake.url("/cpo/sessions"));
    cpo.endpoints.cdrs = Some(fake.url("/cpo/cdrs"));
    cpo.endpoints.tariffs = Some(fake.url("/cpo/tariffs"));

    let report = pull(&app, &cpo, &RunOptions::default()).await;

    for module in ["tariffs", "sessions", "cdrs"] {
        let m = report.module(module).unwrap();
        assert_eq!(
            (m.fetched, m.unchanged, m.failed),
            (1, 1, 0),
            "{module}: {report}"
        );
    }
    assert_eq!(
        max_seq(&app).await,
        before,
        "no outbox event for current objects"
    );
    // Sessions always carry date_from (OCPI 2.2.1 Sessions, sender GET list).
    let sessions = fake.seen_at("/cpo/sessions");
    assert!(
        sessions[0].query.contains_key("date_from"),
        "{:?}",
        sessions[0]
    );
    assert!(!fake.seen_at("/cpo/tariffs")[0]
        .query
        .contains_key("date_from"));
}

#[tokio::test]
async fn a_greenflux_session_pulled_without_periods_keeps_the_pushed_ones() {
    let app = TestApp::spawn().await;
    let id = "NLGFX637561499213897595-ef07d";
    let put = fixture("greenflux/push_session_put.json");
    let full = fixture("greenflux/push_session_patch_full_15min.json");
    assert_eq!(app.push_session("PUT", id, &put).await.code(), 1000);
    assert_eq!(app.push_session("PATCH", id, &full).await.code(), 1000);
    // GreenFlux serves the completed session, without its periods.
    let mut pulled: Value = serde_json::from_str(&put).unwrap();
    let completed: Value =
        serde_json::from_str(&fixture("greenflux/push_session_patch_completed.json")).unwrap();
    for (k, v) in completed.as_object().unwrap() {
        pulled[k] = v.clone();
    }
    pulled.as_object_mut().unwrap().remove("charging_periods");
    let fake = FakeCpo::start(move |seen, _| page_of(&[pulled.clone()], seen, 10)).await;
    let cpo = CpoConfig {
        profile: Profile::Greenflux,
        url: fake.url("/"),
        modules: vec!["sessions".into()],
        endpoints: Default::default(),
        ..fake.cpo()
    };

    let report = pull(&app, &cpo, &RunOptions::default()).await;

    assert_eq!(report.module("sessions").unwrap().updated, 1, "{report}");
    assert_eq!(fake.seen()[0].path, "/api/2.0/sessions");
    let row = app
        .sqlite_column("SELECT status || ' ' || CAST(kwh_micro AS TEXT) FROM session")
        .await;
    assert_eq!(row, vec!["COMPLETED 11200000"]);
    let periods = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM charging_period")
        .await;
    assert_eq!(periods, vec!["1"]);
    let method = app
        .sqlite_column("SELECT method FROM inbox WHERE source = 'pull'")
        .await;
    assert_eq!(method, vec!["PATCH"]);
}

#[tokio::test]
async fn an_evse_patch_for_an_unknown_location_is_healed_by_a_targeted_pull() {
    let location: Value =
        serde_json::from_str(&fixture("greenflux/push_location_put.json")).unwrap();
    let id = location["id"].as_str().unwrap().to_owned();
    let path = format!("/api/2.0/locations/{id}");
    let fake = FakeCpo::start(move |seen, _| {
        if seen.path == path {
            Reply::ok(envelope(location.clone()))
        } else {
            Reply::status(404, fake::refusal(2003, "unknown location"))
        }
    })
    .await;
    let cpo = CpoConfig {
        profile: Profile::Greenflux,
        url: fake.url("/"),
        modules: Vec::new(),
        endpoints: Default::default(),
        interval_hours: 0,
        ..fake.cpo()
    };
    let app = TestApp::spawn_with(|c| {
        c.reconcile = vec![cpo];
        c.reconcile_heal_poll_secs = 60;
    })
    .await;

    let status = fixture("greenflux/push_location_patch_evse_status.json");
    let patch = app.patch_evse(&id, "BE-BEC-E041503001", &status).await;
    assert_eq!((patch.status, patch.code()), (404, 2003));

    // The worker is woken by the request, long before its 60 s poll.
    let healed = async {
        loop {
            let done = app
                .sqlite_column(&format!(
                    "SELECT status FROM location_heal WHERE location_id = '{id}'"
                ))
                .await;
            if done == ["done"] {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), healed)
        .await
        .expect("the heal is done within 10 s");
    assert_eq!(fake.seen().len(), 1);
    let stored = app
        .sqlite_column("SELECT country_code || '/' || party_id || ' ' || name FROM location")
        .await;
    assert_eq!(stored, vec!["NL/GFX Gent Zuid"]);
    let data = app
        .graphql(
            "{ reconciliationRuns(filter: {trigger: [HEAL]}) { nodes { cpo modules { module fetched missing } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["reconciliationRuns"]["nodes"],
        json!([{"cpo": "emu", "modules": [{"module": "LOCATIONS", "fetched": 1, "missing": 1}]}])
    );

    // The refused PATCH can now be replayed, and applies.
    let filter = InboxFilter {
        outcomes: vec!["rejected".into()],
        ..InboxFilter::default()
    };
    let lines = replay::replay(&app.state.store, &app.state.events, &filter, false)
        .await
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert!(
        matches!(
            &lines[0].replayed,
            Replayed::Done {
                status_code: 1000,
                ..
            }
        ),
        "{}",
        lines[0]
    );
    let evse = app
        .sqlite_column("SELECT status FROM evse WHERE uid = 'BE-BEC-E041503001'")
        .await;
    assert_eq!(evse, vec!["CHARGING"]);

    // GreenFlux's `-1` uid is no EVSE of the location: refused, and the
    // location, healed a moment ago, is not queued again (one pull an hour).
    let suffixed = app.patch_evse(&id, "BE-BEC-E041503001-1", &status).await;
    assert_eq!((suffixed.status, suffixed.code()), (404, 2003));
    let heal = app
        .sqlite_column("SELECT status || ' ' || CAST(attempts AS TEXT) FROM location_heal")
        .await;
    assert_eq!(heal, vec!["done 1"]);
}

#[tokio::test]
async fn reconciliation_runs_are_for_operators_only() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, _| page_of(&all, seen, 2)).await;
    let app = TestApp::spawn_with(|c| c.graphql_auth = true).await;
    pull(&app, &fake.cpo(), &RunOptions::default()).await;
    let (_, reader) = app.add_api_key(None, false, None).await;
    let (_, operator) = app.add_api_key(Some(&["NL/GFX"]), true, None).await;
    let (_, other) = app.add_api_key(Some(&["BE/BEC"]), true, None).await;
    let query = "{ reconciliationRuns { totalCount nodes { modules { missing } } } }";

    let (_, refused) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &reader)])
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );

    let (_, seen) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &operator)])
        .await;
    assert_eq!(
        seen["data"]["reconciliationRuns"],
        json!({"totalCount": 1, "nodes": [{"modules": [{"missing": 5}]}]})
    );
    let (_, scoped) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &other)])
        .await;
    assert_eq!(
        scoped["data"]["reconciliationRuns"]["totalCount"], 0,
        "{scoped}"
    );
}

#[tokio::test]
async fn serve_pulls_on_its_schedule_and_counts_the_run() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, _| page_of(&all, seen, 2)).await;
    // No earlier run and no splay: the first scheduled pull is due at start.
    let cpo = CpoConfig {
        splay_minutes: 0,
        ..fake.cpo()
    };
    let app = TestApp::spawn_with(|c| c.reconcile = vec![cpo]).await;

    let query = "{ reconciliationRuns(filter: {trigger: [SCHEDULED]}) { nodes { finishedAt modules { missing } } } }";
    let finished = async {
        loop {
            let data = app.graphql(query, json!({})).await;
            let node = &data["reconciliationRuns"]["nodes"][0];
            if node["finishedAt"].is_string() {
                return node["modules"].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let modules = tokio::time::timeout(Duration::from_secs(10), finished)
        .await
        .expect("the scheduled pull finishes within 10 s");
    assert_eq!(modules, json!([{"missing": 5}]));

    // Counted just after the report is stored.
    let line = "chargegraph_reconciliations_total{module=\"locations\",result=\"missing\"} 5";
    let counted = async {
        while !app.get_text("/metrics", &[]).await.1.contains(line) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), counted)
        .await
        .expect("the run is counted in /metrics");
    // The next pull waits for the interval (24 h): one run only.
    assert_eq!(offsets_of(&fake), vec![0, 2, 4]);
}

fn offsets_of(fake: &FakeCpo) -> Vec<usize> {
    fake.seen()
        .iter()
        .filter_map(|s| s.number("offset"))
        .collect()
}
