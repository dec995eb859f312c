//! GraphQL over HTTP against the spawned server: media types and status
//! codes, GET for queries only, persisted queries, limits, error codes, and
//! the `graphql-http` npm package's audit run with node.

use std::path::PathBuf;
use std::process::Command;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{fixture, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (u16, String, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("request sent");
    read(response).await
}

async fn get(app: &TestApp, accept: Option<&str>, params: &[(&str, &str)]) -> (u16, String, Value) {
    let mut request = app.client.get(app.url("/graphql")).query(params);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("request sent");
    read(response).await
}

async fn read(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, content_type, body)
}

#[tokio::test]
async fn media_type_decides_status_codes_of_request_errors() {
    let app = TestApp::spawn().await;
    let broken = json!({ "query": "{ locations { " });

    let (status, ct, body) = post(&app, Some(GRAPHQL_RESPONSE), broken.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(ct, "application/graphql-response+json; charset=utf-8");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    let (status, ct, body) = post(&app, Some("application/json"), broken).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json; charset=utf-8");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    let unknown_field = json!({ "query": "{ locations { nope } }" });
    let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), unknown_field).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    let coercion = json!({ "query": "query($n: Int!) { locations(first: $n) { totalCount } }",
        "variables": { "n": "ten" } });
    let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), coercion).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let ok = json!({ "query": "{ locations { totalCount } }" });
    let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), ok).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "data": { "locations": { "totalCount": 0 } } })
    );

    let field_error = json!({ "query": r#"{ locations(after: "nope") { totalCount } }"# });
    let (status, _, body) = post(&app, Some(GRAPHQL_RESPONSE), field_error).await;
    assert_eq!(status, 200, "a field error is no request error: {body}");
    assert_eq!(
        body["data"],
        Value::Null,
        "the non-null field nulls its parent"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["path"], json!(["locations"]));
}

#[tokio::test]
async fn malformed_requests_are_refused_before_graphql() {
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");

    let no_type = app
        .client
        .post(&url)
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .unwrap();
    let not_json = app
        .client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    let no_query = post(&app, None, json!({ "variables": {} })).await;
    let html_only = app
        .client
        .post(&url)
        .header(ACCEPT, "text/html")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();

    assert_eq!(no_type.status().as_u16(), 415);
    assert_eq!(not_json.status().as_u16(), 400);
    let (status, _, body) = no_query;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(html_only.status().as_u16(), 406);
}

#[tokio::test]
async fn get_runs_queries_and_refuses_subscriptions_with_405() {
    let app = TestApp::spawn().await;
    let put = app
        .put_location(
            "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa",
            &fixture("greenflux/push_location_put.json"),
        )
        .await;
    assert_eq!(put.code(), 1000);

    let (status, _, body) = get(
        &app,
        None,
        &[
            (
                "query",
                "query Q($c: String) { locations(filter: {city: $c}) { nodes { name } } }",
            ),
            ("variables", r#"{"c": "Gent"}"#),
            ("operationName", "Q"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["locations"]["nodes"],
        json!([{ "name": "Gent Zuid" }])
    );

    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "subscription { evseStatusChanged { status } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );

    let (status, _, body) = post(
        &app,
        Some(GRAPHQL_RESPONSE),
        json!({ "query": "subscription { evseStatusChanged { status } }" }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "OPERATION_NOT_SUPPORTED"
    );

    let (status, _, _) = get(
        &app,
        None,
        &[("variables", "not json"), ("query", "{ __typename }")],
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn automatic_persisted_queries_register_then_run_by_hash() {
    let app = TestApp::spawn().await;
    let query = "{ locations { totalCount } }";
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (status, _, unknown) = get(&app, None, &[("extensions", &persisted.to_string())]).await;
    let (_, _, registered) = post(
        &app,
        None,
        json!({ "query": query, "extensions": persisted }),
    )
    .await;
    let (_, _, by_hash) = get(&app, None, &[("extensions", &persisted.to_string())]).await;
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "00" } });
    let (_, _, mismatch) = post(&app, None, json!({ "query": query, "extensions": wrong })).await;

    assert_eq!(status, 200);
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(registered["data"]["locations"]["totalCount"], 0);
    assert_eq!(
        by_hash,
        json!({ "data": { "locations": { "totalCount": 0 } } })
    );
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn depth_complexity_and_introspection_limits_come_from_config() {
    let app = TestApp::spawn_with(|c| {
        c.graphql_max_depth = 4;
        c.graphql_max_complexity = 150;
        c.graphql_introspection = false;
    })
    .await;

    let deep = "{ locations { nodes { evses { connectors { evse { uid } } } } } }";
    let (_, _, deep) = post(&app, None, json!({ "query": deep })).await;
    // 100 locations x a nested page of 100 sessions weigh 100 x 100 fields.
    let wide = "{ locations(first: 100) { nodes { sessions(first: 100) { totalCount } } } }";
    let (_, _, wide) = post(&app, None, json!({ "query": wide })).await;
    let narrow = "{ locations(first: 5) { nodes { sessions(first: 5) { totalCount } } } }";
    let (_, _, narrow) = post(&app, None, json!({ "query": narrow })).await;
    let (_, _, schema) = post(
        &app,
        None,
        json!({ "query": "{ __schema { types { name } } }" }),
    )
    .await;

    assert_eq!(deep["errors"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    assert_eq!(wide["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    assert_eq!(narrow, json!({ "data": { "locations": { "nodes": [] } } }));
    assert_eq!(
        schema["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test]
async fn page_size_cap_comes_from_config() {
    let app = TestApp::spawn_with(|c| c.max_page_size = 10).await;

    let (_, _, body) = post(
        &app,
        None,
        json!({ "query": "{ sessions(last: 11) { totalCount } }" }),
    )
    .await;

    assert_eq!(body["errors"][0]["message"], "`last` must be at most 10");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// The node project with graphql-http, when installed (`npm ci` in tests/node).
fn node_project() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"));
    let installed = dir.join("node_modules/graphql-http/package.json").exists();
    let node = Command::new("node").arg("--version").output().is_ok();
    (installed && node).then_some(dir)
}

#[tokio::test]
async fn graphql_http_audit_passes_every_must_and_should() {
    let Some(dir) = node_project() else {
        assert!(
            std::env::var("CHARGEGRAPH_CI").as_deref() != Ok("1"),
            "node or tests/node/node_modules (npm ci) is missing"
        );
        eprintln!("node or graphql-http missing: run `npm ci` in tests/node; audit skipped");
        return;
    };
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");

    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("audit.mjs")
            .arg(url)
            .current_dir(dir)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "audit failed to run: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<&Value> = results
        .iter()
        .filter(|r| {
            let name = r["name"].as_str().unwrap_or_default();
            (name.starts_with("MUST") || name.starts_with("SHOULD")) && r["status"] != "ok"
        })
        .collect();
    assert!(results.len() > 30, "too few audits ran: {stdout}");
    assert!(failed.is_empty(), "audits not ok: {failed:#?}");
}
