//! The crawler against canned CPO answers over real HTTP: Link following,
//! loops, X-Limit, a total that shrinks or grows, error statuses, retries,
//! version discovery and GreenFlux's 72-hour notification windows.

use std::time::Duration;

use chargegraph::reconcile::{run_once, CpoConfig, Profile, RunOptions, RunReport};
use serde_json::{json, Value};

use super::fake::{envelope, fixture_at, locations, page_of, refusal, FakeCpo, Reply, Seen, TOKEN};
use crate::harness::TestApp;

/// Pulls once from `cpo` into the app's database.
pub async fn pull(app: &TestApp, cpo: &CpoConfig, options: &RunOptions) -> RunReport {
    run_once(&app.state.store, &app.state.events, cpo, options)
        .await
        .expect("the run is reported")
}

/// A run whose window ends at a fixed instant, so that URLs are known.
fn until_jan_10() -> RunOptions {
    RunOptions {
        to: Some("2026-01-10T00:00:00Z".parse().unwrap()),
        ..RunOptions::default()
    }
}

fn offsets(seen: &[Seen]) -> Vec<usize> {
    seen.iter().filter_map(|s| s.number("offset")).collect()
}

fn ids_stored(rows: Vec<String>) -> Vec<String> {
    let mut rows = rows;
    rows.sort();
    rows
}

async fn location_ids(app: &TestApp) -> Vec<String> {
    ids_stored(app.sqlite_column("SELECT ocpi_id FROM location").await)
}

const ALL: [&str; 5] = ["LOC-A", "LOC-B", "LOC-C", "LOC-D", "LOC-E"];

#[tokio::test]
async fn follows_link_to_the_last_page_with_our_token() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, _| page_of(&all, seen, 2)).await;
    let app = TestApp::spawn().await;

    let report = pull(&app, &fake.cpo(), &RunOptions::default()).await;

    let seen = fake.seen_at("/cpo/locations");
    assert_eq!(offsets(&seen), vec![0, 2, 4]);
    let auth = format!("Token {TOKEN}");
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some(auth.as_str())));
    let module = report.module("locations").unwrap();
    assert_eq!((module.fetched, module.missing, module.failed), (5, 5, 0));
    assert!(report.is_clean(), "{report}");
    assert_eq!(location_ids(&app).await, ALL);
}

#[tokio::test]
async fn a_link_to_the_page_itself_stops_the_crawl_with_an_error() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, _| {
        let reply = page_of(&all[..2], seen, 2);
        // The "next" page is this very page, as a broken peer says.
        reply.header("Link", format!("<{}>; rel=\"next\"", seen.path_and_query))
    })
    .await;
    let app = TestApp::spawn().await;

    let report = tokio::time::timeout(
        Duration::from_secs(20),
        pull(&app, &fake.cpo(), &until_jan_10()),
    )
    .await
    .expect("the crawl ends");

    assert_eq!(fake.seen_at("/cpo/locations").len(), 1);
    let module = report.module("locations").unwrap();
    assert_eq!((module.fetched, module.missing), (2, 2));
    let first = fake.url("/cpo/locations?date_to=2026-01-10T00%3A00%3A00Z&offset=0&limit=2");
    assert_eq!(
        module.error.as_deref(),
        Some(
            format!(
                "Link rel=\"next\" of {first} points to {first}, which this crawl already \
                 fetched; stopped"
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn a_lowered_x_limit_is_honoured_on_the_next_pages() {
    let all = locations();
    // We ask for 5; the CPO serves at most 2 and its Link repeats our limit.
    let fake = FakeCpo::start(move |seen, _| page_of(&all, seen, 2)).await;
    let app = TestApp::spawn().await;
    let cpo = CpoConfig {
        page_limit: 5,
        ..fake.cpo()
    };

    let report = pull(&app, &cpo, &RunOptions::default()).await;

    let seen = fake.seen_at("/cpo/locations");
    let limits: Vec<usize> = seen.iter().filter_map(|s| s.number("limit")).collect();
    assert_eq!(limits, vec![5, 2, 2]);
    assert_eq!(offsets(&seen), vec![0, 2, 4]);
    assert_eq!(report.module("locations").unwrap().fetched, 5);
}

#[tokio::test]
async fn a_shrinking_total_steps_back_so_that_no_object_is_skipped() {
    let all = locations();
    // After the first page, LOC-A is updated out of the window: everything
    // after it moves one place forward, and LOC-C would fall between pages.
    let fake = FakeCpo::start(move |seen, n| {
        let now = if n == 0 { &all[..] } else { &all[1..] };
        page_of(now, seen, 2)
    })
    .await;
    let app = TestApp::spawn().await;

    let report = pull(&app, &fake.cpo(), &RunOptions::default()).await;

    assert_eq!(offsets(&fake.seen_at("/cpo/locations")), vec![0, 2, 1, 3]);
    let module = report.module("locations").unwrap();
    assert_eq!((module.fetched, module.missing), (5, 5));
    assert!(report.is_clean(), "{report}");
    assert_eq!(location_ids(&app).await, ALL);
}

#[tokio::test]
async fn a_growing_total_is_followed_to_the_new_last_page() {
    let all = locations();
    // LOC-E appears after the first page (X-Total-Count 4, then 5).
    let fake = FakeCpo::start(move |seen, n| {
        let now = if n == 0 { &all[..4] } else { &all[..] };
        page_of(now, seen, 2)
    })
    .await;
    let app = TestApp::spawn().await;

    let report = pull(&app, &fake.cpo(), &RunOptions::default()).await;

    assert_eq!(offsets(&fake.seen_at("/cpo/locations")), vec![0, 2, 4]);
    assert_eq!(report.module("locations").unwrap().fetched, 5);
    assert_eq!(location_ids(&app).await, ALL);
}

#[tokio::test]
async fn a_2001_page_stops_its_module_with_the_error_in_the_report() {
    let all = locations();
    let fake = FakeCpo::start(
        move |seen, _| match (seen.path.as_str(), seen.number("offset")) {
            ("/cpo/locations", Some(2)) => {
                Reply::ok(refusal(2001, "Invalid or missing parameters"))
            }
            ("/cpo/locations", _) => page_of(&all, seen, 2),
            _ => Reply::ok(envelope(json!([]))),
        },
    )
    .await;
    let app = TestApp::spawn().await;
    let mut cpo = fake.cpo();
    cpo.modules = vec!["locations".into(), "tariffs".into()];
    cpo.endpoints.tariffs = Some(fake.url("/cpo/tariffs"));

    let report = pull(&app, &cpo, &until_jan_10()).await;

    // Not retried: an OCPI status is an answer.
    assert_eq!(offsets(&fake.seen_at("/cpo/locations")), vec![0, 2]);
    let locations = report.module("locations").unwrap();
    assert_eq!((locations.fetched, locations.missing), (2, 2));
    // The page the CPO's Link named, as it spelled it.
    let url = fake.url("/cpo/locations?date_to=2026-01-10T00:00:00Z&limit=2&offset=2");
    assert_eq!(
        locations.error.as_deref(),
        Some(
            format!("GET {url} answered OCPI status_code 2001: Invalid or missing parameters")
                .as_str()
        )
    );
    // The other module is still pulled.
    let tariffs = report.module("tariffs").unwrap();
    assert_eq!((tariffs.fetched, tariffs.error.as_deref()), (0, None));
    assert!(!report.is_clean());
}

#[tokio::test]
async fn a_503_and_a_timeout_are_retried_until_the_answer_comes() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, n| match n {
        0 => Reply::status(503, "busy".into()),
        1 => page_of(&all, seen, 5).after(Duration::from_secs(3)),
        _ => page_of(&all, seen, 5),
    })
    .await;
    let app = TestApp::spawn().await;
    let cpo = CpoConfig {
        page_limit: 5,
        request_timeout_ms: 500,
        ..fake.cpo()
    };

    let report = pull(&app, &cpo, &RunOptions::default()).await;

    let seen = fake.seen_at("/cpo/locations");
    assert_eq!(seen.len(), 3, "503, timeout, answer");
    assert!(seen
        .iter()
        .all(|s| s.path_and_query == seen[0].path_and_query));
    assert_eq!(report.module("locations").unwrap().fetched, 5);
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn version_discovery_picks_2_2_1_and_drops_trailing_slashes() {
    let all = locations();
    let fake = FakeCpo::start(move |seen, _| match seen.path.as_str() {
        "/ocpi/versions/" => Reply::ok(envelope(fixture_at("reconcile/versions.json", &seen.base))),
        "/ocpi/2.2.1/" => {
            let details = fixture_at("reconcile/version_details_2.2.1.json", &seen.base);
            Reply::ok(envelope(details))
        }
        "/ocpi/2.2.1/sender/locations" => page_of(&all, seen, 10),
        _ => Reply::status(404, refusal(2000, "no such endpoint")),
    })
    .await;
    let app = TestApp::spawn().await;
    let mut cpo = fake.cpo();
    cpo.endpoints.locations = None;
    cpo.url = fake.url("/ocpi/versions/");
    cpo.page_limit = 10;

    let report = pull(&app, &cpo, &RunOptions::default()).await;

    let paths: Vec<String> = fake.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        vec![
            "/ocpi/versions/",
            "/ocpi/2.2.1/",
            "/ocpi/2.2.1/sender/locations"
        ]
    );
    assert_eq!(report.module("locations").unwrap().missing, 5);
    let inbox = app
        .sqlite_column("SELECT path FROM inbox WHERE source = 'pull' ORDER BY id LIMIT 1")
        .await;
    assert_eq!(inbox, vec!["/ocpi/2.2.1/locations/NL/GFX/LOC-A"]);
}

#[tokio::test]
async fn greenflux_notifications_are_pulled_in_72_hour_windows() {
    let notification: Value = serde_json::from_str(&crate::harness::fixture(
        "greenflux/notification_fields_after_2022_change.json",
    ))
    .unwrap();
    let fake = FakeCpo::start(move |_, n| {
        let items = if n == 0 {
            json!([notification])
        } else {
            json!([])
        };
        Reply::ok(envelope(items)).header("X-Total-Count", if n == 0 { "1" } else { "0" })
    })
    .await;
    let app = TestApp::spawn().await;
    let cpo = CpoConfig {
        profile: Profile::Greenflux,
        url: fake.url("/"),
        modules: vec!["notifications".into()],
        endpoints: Default::default(),
        ..fake.cpo()
    };
    let options = RunOptions {
        from: Some("2026-01-01T00:00:00Z".parse().unwrap()),
        to: Some("2026-01-07T12:00:00Z".parse().unwrap()),
        ..RunOptions::default()
    };

    let report = pull(&app, &cpo, &options).await;

    let asked: Vec<(String, String, String)> = fake
        .seen_at("/api/2.0/notifications")
        .iter()
        .map(|s| {
            (
                s.query["date_from"].clone(),
                s.query["date_to"].clone(),
                s.query["limit"].clone(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        vec![
            (
                "2026-01-01T00:00:00Z".into(),
                "2026-01-04T00:00:00Z".into(),
                "10000".into()
            ),
            (
                "2026-01-03T23:59:59Z".into(),
                "2026-01-06T23:59:59Z".into(),
                "10000".into()
            ),
            (
                "2026-01-06T23:59:58Z".into(),
                "2026-01-07T12:00:00Z".into(),
                "10000".into()
            ),
        ]
    );
    let module = report.module("notifications").unwrap();
    assert_eq!((module.fetched, module.missing), (1, 1));
    let stored = app
        .sqlite_column(
            "SELECT notification_id || ' ' || country_code || '/' || party_id FROM notification",
        )
        .await;
    assert_eq!(stored, vec!["dfa3b87a-bc90-447e-9541-88a9ac1bf618 NL/GFX"]);
}
