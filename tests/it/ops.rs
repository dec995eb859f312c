//! What operators rely on: health and readiness, metrics after a known
//! workload, rate limits, and pushes refused whole once a shutdown began.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const EVSE: &str = "BE-BEC-E041503001";

#[tokio::test]
async fn healthz_answers_and_readyz_compares_migrations() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_text("/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = app.get_text("/readyz", &[]).await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    use migration::MigratorTrait;
    let expected = migration::Migrator::migrations().len();
    assert_eq!(
        ready["migrations"],
        json!({"applied": expected, "expected": expected})
    );

    use sea_orm::ConnectionTrait;
    app.state
        .store
        .db()
        .execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = 'm20261204_070001_token_lifecycle'",
        )
        .await
        .unwrap();
    let (status, body) = app.get_text("/readyz", &[]).await;
    assert_eq!(status, 503, "{body}");
    let not_ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(not_ready["status"], "migrations pending");
    assert_eq!(
        not_ready["migrations"]["pending"],
        json!(["m20261204_070001_token_lifecycle"])
    );
}

/// Scrapes `/metrics` and parses it; samples by name and sorted labels.
pub(crate) async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let (status, text) = app.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let mut samples = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.last().map(|b| b.count).unwrap_or_default()
            }
            prometheus_parse::Value::Summary(_) => continue,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

pub(crate) fn sample(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key}; have {:#?}", samples.keys()))
}

#[tokio::test]
async fn metrics_count_a_known_workload_exactly() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(LOCATION, &body).await.status, 201);
    let mut subscription = app
        .subscribe(
            "subscription { evseStatusChanged(filter: {statuses: [CHARGING]}) { ... on EvseStatusChange { status } } }",
            json!({}),
        )
        .await;
    // Only the two CHARGING changes pass the filter, whenever the location's
    // own first event reaches the fan-out.
    for status in ["CHARGING", "AVAILABLE", "CHARGING"] {
        let patch = format!(r#"{{"status": "{status}"}}"#);
        assert_eq!(app.patch_evse(LOCATION, EVSE, &patch).await.code(), 1000);
    }
    for _ in 0..2 {
        let data = subscription.next_data(Duration::from_secs(10)).await;
        assert!(data.is_some());
    }
    let invalid = app.put_location("OTHER-ID", &body).await;
    assert_eq!((invalid.status, invalid.code()), (200, 2001));
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}");
    let unauthorized = app.ocpi_as("PUT", &path, Some(&body), None).await;
    assert_eq!(unauthorized.status, 401);
    let named = "query Board { statusSummary { total } }";
    for _ in 0..2 {
        let (status, _) = app.graphql_with(named, json!({}), &[]).await;
        assert_eq!(status, 200);
    }
    let (_, failed) = app
        .graphql_with("query Broken { nope }", json!({}), &[])
        .await;
    assert!(failed.get("errors").is_some());

    let m = scrape(&app).await;
    let pushes = |outcome: &str, http: u16, code: u16| {
        sample(&m, &format!("chargegraph_pushes_total{{http_status={http},module=locations,outcome={outcome},status_code={code},version=2.1.1}}"))
    };
    assert_eq!(pushes("created", 201, 1000), 1.0);
    assert_eq!(pushes("updated", 200, 1000), 3.0);
    assert_eq!(pushes("rejected", 200, 2001), 1.0);
    assert_eq!(pushes("unauthorized", 401, 2000), 1.0);
    assert_eq!(
        sample(
            &m,
            "chargegraph_push_duration_seconds_count{module=locations}"
        ),
        6.0
    );
    assert_eq!(
        sample(
            &m,
            "chargegraph_inbox_rejects_total{module=locations,status_code=2001}"
        ),
        1.0
    );
    assert_eq!(sample(&m, "chargegraph_open_subscriptions{}"), 1.0);
    assert_eq!(
        sample(
            &m,
            "chargegraph_events_delivered_total{subscription=evseStatusChanged}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            "chargegraph_graphql_operations_total{operation=Board,outcome=ok}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            "chargegraph_graphql_duration_seconds_count{operation=Board}"
        ),
        2.0
    );
    // A document that fails validation never executes: it is not an operation.
    assert!(!m.keys().any(|k| k.contains("operation=Broken")));

    drop(subscription);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let open = sample(&scrape(&app).await, "chargegraph_open_subscriptions{}");
        if open == 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription still counted open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_unauthenticated_flood_gets_429_envelopes_and_recovers_while_a_cpo_pushes_on() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_anonymous_per_minute = 60;
        c.rate_limit_anonymous_burst = 5;
    })
    .await;
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(LOCATION, &body).await.status, 201);
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}/{EVSE}");
    let mut refused = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..40 {
        let answer = app
            .ocpi_as(
                "PATCH",
                &path,
                Some(r#"{"status": "BLOCKED"}"#),
                Some("Token guessed"),
            )
            .await;
        refused.push((answer.status, answer.code()));
        if answer.status == 429 {
            assert_eq!(
                answer.message(),
                "too many requests without valid credentials; retry later"
            );
        }
        // The CPO's own pushes are never limited.
        let status = if i % 2 == 0 { "CHARGING" } else { "AVAILABLE" };
        let ok = app
            .patch_evse(LOCATION, EVSE, &format!(r#"{{"status": "{status}"}}"#))
            .await;
        assert_eq!((ok.status, ok.code()), (200, 1000), "CPO push {i} refused");
    }
    let unauthorized = refused.iter().filter(|r| **r == (401, 2000)).count();
    let limited = refused.iter().filter(|r| **r == (429, 2000)).count();
    assert_eq!(unauthorized + limited, 40, "{refused:?}");
    // The burst of 5, then one a second: a slow machine lets a few more through.
    let refills = started.elapsed().as_secs_f64().ceil() as usize;
    assert!(unauthorized <= 5 + refills, "{refills}s: {refused:?}");
    assert!(
        limited >= (40 - 5usize).saturating_sub(refills),
        "{refills}s: {refused:?}"
    );
    assert!(limited > 0);
    assert_eq!(refused[..5], [(401, 2000); 5]);

    // Only the 401s are in the inbox; the flood beyond the limit is not stored.
    let rows = app
        .sqlite_column("SELECT outcome FROM inbox WHERE outcome = 'unauthorized'")
        .await;
    assert_eq!(rows.len(), unauthorized);

    // One a second refill: a request after the wait is let through to auth again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = app
            .ocpi_as(
                "PATCH",
                &path,
                Some(r#"{"status": "BLOCKED"}"#),
                Some("Token guessed"),
            )
            .await;
        if answer.status == 401 {
            break;
        }
        assert_eq!(answer.status, 429);
        assert!(
            tokio::time::Instant::now() < deadline,
            "limit never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every 429 is counted, those of the recovery loop too.
    let m = scrape(&app).await;
    let counted = sample(&m, "chargegraph_rate_limited_total{surface=ocpi}");
    let answered = sample(&m, "chargegraph_pushes_total{http_status=429,module=locations,outcome=rate_limited,status_code=2000,version=2.1.1}");
    assert_eq!(counted, answered);
    assert!(counted >= limited as f64);
}

#[tokio::test]
async fn graphql_is_rate_limited_per_api_key_and_per_address_without_one() {
    let app = TestApp::spawn_with(|c| {
        c.graphql_auth = true;
        c.rate_limit_anonymous_per_minute = 1;
        c.rate_limit_anonymous_burst = 3;
        c.rate_limit_api_key_per_minute = 1;
        c.rate_limit_api_key_burst = 4;
    })
    .await;
    let (_, first) = app.add_api_key(None, false, None).await;
    let (_, second) = app.add_api_key(None, false, None).await;
    let query = "{ __typename }";
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            app.graphql_with(query, json!({}), &[("X-API-Key", &first)])
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let (status, response) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &first)])
        .await;
    assert_eq!(status, 429);
    assert_eq!(response["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    // Another key has its own allowance.
    let (status, _) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &second)])
        .await;
    assert_eq!(status, 200);

    let mut anonymous = Vec::new();
    for _ in 0..5 {
        anonymous.push(app.graphql_with(query, json!({}), &[]).await.0);
    }
    assert_eq!(anonymous, [401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn pushes_after_the_shutdown_began_are_answered_503_and_not_applied() {
    let app = TestApp::spawn_with(|c| c.shutdown_drain_ms = 30_000).await;
    let body = fixture("greenflux/push_location_put.json");
    app.state.shutdown.begin();
    let answer = app.put_location(LOCATION, &body).await;
    assert_eq!((answer.status, answer.code()), (503, 3000));
    assert_eq!(
        answer.message(),
        "server is shutting down; push not applied"
    );
    assert!(app
        .sqlite_column("SELECT ocpi_id FROM location")
        .await
        .is_empty());
    // Kept whole in the inbox, so it can be replayed.
    let kept = app
        .sqlite_column("SELECT body FROM inbox WHERE outcome = 'unavailable'")
        .await;
    assert_eq!(kept, [body]);
    let (status, ready) = app.get_text("/readyz", &[]).await;
    assert_eq!(
        (status, ready.as_str()),
        (503, r#"{"status":"shutting down"}"#)
    );
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = TestApp::spawn_with(|c| {
        c.cors_allowed_origins = vec!["https://board.example".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://board.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://board.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn graphql_bodies_over_the_limit_are_refused_and_ocpi_keeps_its_own_limit() {
    let app = TestApp::spawn_with(|c| {
        c.graphql_body_limit = 1024;
        c.body_limit = 4096;
    })
    .await;
    let big = json!({"query": format!("{{ __typename }} #{}", "x".repeat(2000))});
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}");
    let answer = app.ocpi("PUT", &path, Some(&"x".repeat(5000))).await;
    assert_eq!((answer.status, answer.code()), (413, 2000));
    assert_eq!(
        answer.message(),
        "request body is over the limit of 4096 bytes"
    );
}

/// Sends raw HTTP/1.1 text and reads the answer until the server closes
/// (or 5 s pass).
async fn raw_http(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer));
    let _ = read.await.expect("answered within 5 s");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_slow_graphql_request_is_a_graphql_timeout_error() {
    let app = TestApp::spawn_with(|c| c.request_timeout_ms = 300).await;
    // Declares 100 bytes and sends 10: the body never completes.
    let answer = raw_http(
        &app,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\nConnection: close\r\n\r\n{{\"query\":",
            app.addr
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.ends_with(
            r#"{"errors":[{"extensions":{"code":"TIMEOUT"},"message":"request not completed within 300 ms"}]}"#
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn a_graphql_body_over_the_limit_is_a_graphql_payload_too_large_error() {
    let app = TestApp::spawn_with(|c| c.graphql_body_limit = 1024).await;
    let expected = json!({"errors": [{
        "message": "request body is over the limit of 1024 bytes",
        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
    }]});
    let query = format!("{{ __typename }} # {}", "x".repeat(2000));
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.json::<Value>().await.unwrap(), expected);

    // Chunked, without a declared length: refused once it grows past the limit.
    let chunk = format!(
        "{{\"query\": \"{{ __typename }}\", \"pad\": \"{}\"}}",
        "x".repeat(2000)
    );
    let answer = raw_http(
        &app,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            app.addr,
            chunk.len()
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.ends_with(&expected.to_string()), "{answer}");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let (status, _) = app.get_text("/readyz", &[]).await;
    assert_eq!(status, 200);
    match &app.db {
        // The database goes away under the server, its connections with it.
        crate::harness::TestDb::Postgres {
            admin_url, name, ..
        } => {
            use sea_orm::ConnectionTrait;
            let admin = sea_orm::Database::connect(admin_url.as_str())
                .await
                .unwrap();
            let drop = format!("DROP DATABASE {name} WITH (FORCE)");
            admin.execute_unprepared(&drop).await.unwrap();
            admin.close().await.unwrap();
        }
        // An open SQLite file stays readable after it is removed: close the
        // server's pool instead, as a failed disk or exhausted handles would.
        crate::harness::TestDb::Sqlite { .. } => {
            app.state.store.db().close_by_ref().await.unwrap();
        }
    }
    let (status, body) = app.get_text("/readyz", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"status":"database unreachable"}"#)
    );
}
