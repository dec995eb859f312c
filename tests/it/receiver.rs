//! Bad input gets a clear envelope, nothing is applied, the inbox keeps it.

use chargegraph::ocpi::auth::Strictness;
use serde_json::json;

use crate::harness::{fixture, TestApp};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";

async fn inbox_rows(app: &TestApp) -> Vec<String> {
    app.sqlite_column(
        "SELECT outcome || '|' || http_status || '|' || status_code || '|' || COALESCE(body, '<none>') FROM inbox ORDER BY id",
    )
    .await
}

#[tokio::test]
async fn body_that_is_not_json_is_400_naming_where() {
    let app = TestApp::spawn().await;
    let answer = app.put_location(LOCATION, r#"{"id": "x", "city": }"#).await;
    assert_eq!((answer.status, answer.code()), (400, 2000));
    assert!(
        answer.message().contains("line 1 column 21"),
        "{}",
        answer.message()
    );
    let rows = inbox_rows(&app).await;
    assert_eq!(rows, [r#"rejected|400|2000|{"id": "x", "city": }"#]);
    let again = app
        .put_location(LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!(again.code(), 1000, "the server keeps serving");
}

#[tokio::test]
async fn id_mismatch_and_wrong_types_are_2001_naming_the_path() {
    let app = TestApp::spawn().await;
    let answer = app
        .put_location("OTHER-ID", &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!((answer.status, answer.code()), (200, 2001));
    assert!(
        answer.message().starts_with("$.id: "),
        "{}",
        answer.message()
    );

    let session = json!({"id": "S1", "kwh": "abc", "status": "ACTIVE"}).to_string();
    let answer = app.push_session("PUT", "S1", &session).await;
    assert_eq!((answer.status, answer.code()), (200, 2001));
    assert!(answer.message().contains("$.kwh"), "{}", answer.message());

    let rows = app
        .sqlite_column("SELECT outcome FROM inbox ORDER BY id")
        .await;
    assert_eq!(rows, ["rejected", "rejected"]);
    let stored = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM session")
        .await;
    assert_eq!(stored, ["0"]);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_and_keeps_no_body() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}");
    let none = app.ocpi_as("PUT", &path, Some(&body), None).await;
    assert_eq!((none.status, none.code()), (401, 2000));
    let wrong = app
        .ocpi_as("PUT", &path, Some(&body), Some("Token nope"))
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, 2000));
    assert!(wrong.body["timestamp"].as_str().unwrap().ends_with('Z'));
    let bearer = format!("Bearer {}", app.token);
    let other_scheme = app.ocpi_as("PUT", &path, Some(&body), Some(&bearer)).await;
    assert_eq!((other_scheme.status, other_scheme.code()), (401, 2000));
    let rows = inbox_rows(&app).await;
    assert_eq!(
        rows,
        [
            "unauthorized|401|2000|<none>",
            "unauthorized|401|2000|<none>",
            "unauthorized|401|2000|<none>"
        ]
    );
}

#[tokio::test]
async fn base64_token_is_accepted_and_foreign_party_is_404() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&app.token);
    let path = format!("/ocpi/2.2.1/locations/NL/GFX/{LOCATION}");
    let body = fixture("greenflux/push_location_put.json");
    let auth = format!("Token {encoded}");
    let answer = app.ocpi_as("PUT", &path, Some(&body), Some(&auth)).await;
    assert_eq!(
        (answer.status, answer.code()),
        (201, 1000),
        "{:?}",
        answer.body
    );

    let foreign = app
        .ocpi(
            "PUT",
            &format!("/ocpi/2.1.1/locations/DE/ABC/{LOCATION}"),
            Some(&body),
        )
        .await;
    assert_eq!((foreign.status, foreign.code()), (404, 2001));
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/ocpi/versions"))
        .header("Authorization", format!("Token {}", app.token))
        .header("X-Request-ID", "req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-1");
    assert_eq!(response.headers()["x-correlation-id"].len(), 36);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["version"], "2.1.1");
}

#[tokio::test]
async fn strictness_follows_the_base_unless_the_token_sets_it() {
    let app = TestApp::spawn().await;
    let put = app
        .put_location(LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!(put.code(), 1000);
    let default = format!("Token {}", app.token);
    let strict = format!(
        "Token {}",
        app.add_token_with(&["NL/GFX"], Strictness::Strict).await
    );
    let lenient = format!(
        "Token {}",
        app.add_token_with(&["NL/GFX"], Strictness::Lenient).await
    );
    let patch =
        |version: &str| format!("/ocpi/{version}/locations/NL/GFX/{LOCATION}/BE-BEC-E041503001");
    // (token, base, expected OCPI status code) of a PATCH without last_updated.
    let cases = [
        (&default, "2.1.1", 1000),
        (&default, "2.2.1", 2001),
        (&strict, "2.1.1", 2001),
        (&strict, "2.2.1", 2001),
        (&lenient, "2.1.1", 1000),
        (&lenient, "2.2.1", 1000),
    ];
    for (auth, version, code) in cases {
        let answer = app
            .ocpi_as(
                "PATCH",
                &patch(version),
                Some(r#"{"status": "CHARGING"}"#),
                Some(auth),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (200, code),
            "{version}: {}",
            answer.message()
        );
        if code == 2001 {
            assert_eq!(
                answer.message(),
                "$.last_updated: required in a PATCH (strict mode)"
            );
        }
    }
}

#[tokio::test]
async fn a_token_is_read_raw_and_in_each_base64_form() {
    let app = TestApp::spawn().await;
    let secret = "<<??>>-token-1";
    let party = chargegraph::domain::Party::new("NL", "GFX");
    chargegraph::store::tokens::insert(
        &app.state.store,
        &chargegraph::ocpi::auth::hash_token(secret),
        None,
        &[party],
        false,
    )
    .await
    .unwrap();
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}");
    for sent in [
        secret,
        "PDw/Pz4+LXRva2VuLTE=",
        "PDw/Pz4+LXRva2VuLTE",
        "PDw_Pz4-LXRva2VuLTE=",
        "PDw_Pz4-LXRva2VuLTE",
    ] {
        let auth = format!("Token {sent}");
        let answer = app.ocpi_as("GET", &path, None, Some(&auth)).await;
        assert_eq!((answer.status, answer.code()), (404, 2000), "{sent}");
    }
    let answer = app
        .ocpi_as("GET", &path, None, Some("Token PDw_Pz4-LXRva2VuLTI"))
        .await;
    assert_eq!((answer.status, answer.message()), (401, "unknown token"));
}
