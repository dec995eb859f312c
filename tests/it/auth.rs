//! The auth matrix over the wire: no credentials, wrong ones, revoked,
//! expired, and another party's scope, for queries (POST and GET),
//! subscriptions, exports and pushes.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::harness::{fixture, subscribe_with, Refused, TestApp};

const GFX_LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const BEC_LOCATION: &str = "BEC-LOC-1";
const EVSE: &str = "BE-BEC-E041503001";
const SECRET: &str = "it-jwt-secret-0123456789";

const BOTH_LOCATIONS: &str = r#"{
  gfx: location(countryCode: "NL", partyId: "GFX", ocpiId: "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa") { name }
  bec: location(countryCode: "BE", partyId: "BEC", ocpiId: "BEC-LOC-1") { name }
}"#;

/// An app with GraphQL auth on (API keys and HS256 JWTs), a location of
/// NL/GFX and one of BE/BEC; returns the app and a BE/BEC push token.
async fn app_with_two_parties() -> (TestApp, String) {
    let app = TestApp::spawn_with(|c| {
        c.graphql_auth = true;
        c.jwt_hs256_secret = Some(SECRET.into());
        c.jwt_audience = Some("chargegraph".into());
    })
    .await;
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(GFX_LOCATION, &body).await.code(), 1000);
    let bec = app.add_token(&["BE/BEC"], false).await;
    let path = format!("/ocpi/2.1.1/locations/BE/BEC/{BEC_LOCATION}");
    let auth = format!("Token {bec}");
    let bec_body = body.replace(GFX_LOCATION, BEC_LOCATION);
    let put = app
        .ocpi_as("PUT", &path, Some(&bec_body), Some(&auth))
        .await;
    assert_eq!(put.code(), 1000, "{:?}", put.body);
    (app, bec)
}

fn jwt(claims: Value) -> String {
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

fn in_an_hour() -> u64 {
    jsonwebtoken::get_current_timestamp() + 3600
}

fn error_of(response: &Value) -> (String, String) {
    let error = &response["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .into(),
        error["message"].as_str().unwrap_or_default().into(),
    )
}

#[tokio::test]
async fn graphql_queries_need_valid_credentials_and_see_only_their_parties() {
    let (app, _) = app_with_two_parties().await;
    let (_, gfx_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    let (revoked_id, revoked_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    chargegraph::store::api_keys::revoke(&app.state.store, revoked_id)
        .await
        .unwrap();
    let past = Utc::now() - chrono::Duration::hours(1);
    let (_, expired_key) = app.add_api_key(Some(&["NL/GFX"]), false, Some(past)).await;
    let (_, all_key) = app.add_api_key(None, true, None).await;

    let refusals = [
        (vec![], "credentials required"),
        (vec![("X-API-Key", "cgk_not-a-key")], "unknown API key"),
        (vec![("X-API-Key", revoked_key.as_str())], "API key revoked"),
        (
            vec![("X-API-Key", expired_key.as_str())],
            "API key expired at",
        ),
        (
            vec![("Authorization", "Token abc")],
            "expected the Authorization scheme Bearer",
        ),
    ];
    for (headers, message) in refusals {
        let (status, response) = app.graphql_with(BOTH_LOCATIONS, json!({}), &headers).await;
        assert_eq!(status, 401, "{headers:?}: {response}");
        let (code, text) = error_of(&response);
        assert_eq!(code, "UNAUTHENTICATED", "{response}");
        assert!(text.starts_with(message), "{headers:?}: {text}");
        assert!(
            response.get("data").is_none_or(Value::is_null),
            "{response}"
        );
    }

    let bearer = format!("Bearer {gfx_key}");
    let (status, response) = app
        .graphql_with(BOTH_LOCATIONS, json!({}), &[("Authorization", &bearer)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        response["data"],
        json!({"gfx": {"name": "Gent Zuid"}, "bec": null})
    );
    let (_, response) = app
        .graphql_with(BOTH_LOCATIONS, json!({}), &[("X-API-Key", &all_key)])
        .await;
    assert_eq!(
        response["data"],
        json!({"gfx": {"name": "Gent Zuid"}, "bec": {"name": "Gent Zuid"}})
    );
}

#[tokio::test]
async fn graphql_get_queries_are_authenticated_like_posts() {
    let (app, _) = app_with_two_parties().await;
    let (_, key) = app.add_api_key(Some(&["BE/BEC"]), false, None).await;
    let query = r#"{ location(countryCode: "BE", partyId: "BEC", ocpiId: "BEC-LOC-1") { name } }"#;
    let path = format!(
        "/graphql?query={}",
        percent_encoding::utf8_percent_encode(query, percent_encoding::NON_ALPHANUMERIC)
    );
    let (status, body) = app.get_text(&path, &[]).await;
    assert_eq!(status, 401, "{body}");
    let refused: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error_of(&refused).0, "UNAUTHENTICATED");
    let (status, body) = app.get_text(&path, &[("X-API-Key", &key)]).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["data"]["location"]["name"], "Gent Zuid");
}

#[tokio::test]
async fn jwt_bearers_are_scoped_by_their_claims_and_refused_when_bad() {
    let (app, _) = app_with_two_parties().await;
    let gfx = jwt(
        json!({"sub": "board", "aud": "chargegraph", "exp": in_an_hour(),
        "parties": ["NL/GFX"]}),
    );
    let bearer = format!("Bearer {gfx}");
    let (status, response) = app
        .graphql_with(BOTH_LOCATIONS, json!({}), &[("Authorization", &bearer)])
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        response["data"],
        json!({"gfx": {"name": "Gent Zuid"}, "bec": null})
    );

    let expired = jwt(json!({"aud": "chargegraph", "exp": 1_600_000_000u64,
        "parties": ["NL/GFX"]}));
    let other_audience = jwt(json!({"aud": "billing", "exp": in_an_hour(), "parties": "*"}));
    let forged = {
        let key = EncodingKey::from_secret(b"not-our-secret");
        let claims = json!({"aud": "chargegraph", "exp": in_an_hour(), "parties": "*"});
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    };
    for (token, message) in [
        (expired, "JWT expired"),
        (other_audience, "JWT audience is not accepted"),
        (forged, "JWT signature does not verify"),
        ("not-a-jwt".to_owned(), "malformed JWT"),
    ] {
        let bearer = format!("Bearer {token}");
        let (status, response) = app
            .graphql_with(BOTH_LOCATIONS, json!({}), &[("Authorization", &bearer)])
            .await;
        assert_eq!(status, 401, "{response}");
        let (code, text) = error_of(&response);
        assert_eq!(code, "UNAUTHENTICATED");
        assert!(text.starts_with(message), "{text}");
    }
}

#[tokio::test]
async fn rs256_jwts_verify_with_a_public_key_pem_or_a_jwks_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
    let private = std::fs::read(format!("{dir}/rs256_private.pem")).unwrap();
    let key = EncodingKey::from_rsa_pem(&private).unwrap();
    let claims = json!({"iss": "https://auth.example", "exp": in_an_hour(), "parties": ["NL/GFX"]});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("it-key-1".into());
    let token = encode(&header, &claims, &key).unwrap();
    let bearer = format!("Bearer {token}");
    let query = r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa") { name } }"#;

    for jwks in [false, true] {
        let app = TestApp::spawn_with(|c| {
            c.graphql_auth = true;
            c.jwt_issuer = Some("https://auth.example".into());
            if jwks {
                c.jwt_jwks_file = Some(format!("{dir}/rs256_jwks.json").into());
            } else {
                c.jwt_rs256_public_key = Some(format!("{dir}/rs256_public.pem").into());
            }
        })
        .await;
        let body = fixture("greenflux/push_location_put.json");
        assert_eq!(app.put_location(GFX_LOCATION, &body).await.code(), 1000);
        let (status, response) = app
            .graphql_with(query, json!({}), &[("Authorization", &bearer)])
            .await;
        assert_eq!(status, 200, "jwks={jwks}: {response}");
        assert_eq!(response["data"]["location"]["name"], "Gent Zuid");

        // The same claims signed with HS256 find no HS256 key here.
        let hs = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"x"),
        )
        .unwrap();
        let (status, response) = app
            .graphql_with(
                query,
                json!({}),
                &[("Authorization", &format!("Bearer {hs}"))],
            )
            .await;
        assert_eq!(status, 401);
        assert_eq!(error_of(&response).1, "no key configured for HS256 JWTs");
    }
}

const STATUS_SUBSCRIPTION: &str =
    "subscription { evseStatusChanged { ... on EvseStatusChange { countryCode partyId status } } }";

#[tokio::test]
async fn subscriptions_need_valid_credentials_and_see_only_their_parties() {
    let (app, bec_token) = app_with_two_parties().await;
    let (_, gfx_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    let (revoked_id, revoked_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    chargegraph::store::api_keys::revoke(&app.state.store, revoked_id)
        .await
        .unwrap();
    let past = Utc::now() - chrono::Duration::hours(1);
    let (_, expired_key) = app.add_api_key(Some(&["NL/GFX"]), false, Some(past)).await;

    for (payload, reason) in [
        (json!({}), "credentials required"),
        (json!({"apiKey": "cgk_wrong"}), "unknown API key"),
        (json!({"apiKey": revoked_key}), "API key revoked"),
        (json!({"apiKey": expired_key}), "API key expired at"),
        (
            json!({"Authorization": "Bearer bad.jwt.value"}),
            "malformed JWT",
        ),
    ] {
        let refused = subscribe_with(
            app.addr,
            payload.clone(),
            &[],
            STATUS_SUBSCRIPTION,
            json!({}),
        )
        .await;
        match refused {
            Err(Refused::Closed(4403, text)) => {
                assert!(text.starts_with(&format!("Forbidden: {reason}")), "{text}")
            }
            other => panic!(
                "{payload}: expected a 4403 close, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    // Credentials on the upgrade are checked before it.
    let refused = subscribe_with(
        app.addr,
        json!({}),
        &[("X-API-Key", "cgk_wrong")],
        STATUS_SUBSCRIPTION,
        json!({}),
    )
    .await;
    assert!(matches!(refused, Err(Refused::Http(401))));

    let gfx_jwt = jwt(json!({"aud": "chargegraph", "exp": in_an_hour(), "parties": ["NL/GFX"]}));
    let before = app.state.events.subscriber_count();
    let mut by_key = subscribe_with(
        app.addr,
        json!({"apiKey": gfx_key}),
        &[],
        STATUS_SUBSCRIPTION,
        json!({}),
    )
    .await
    .unwrap_or_else(|_| panic!("key subscription refused"));
    let mut by_jwt = subscribe_with(
        app.addr,
        json!({"Authorization": format!("Bearer {gfx_jwt}")}),
        &[],
        STATUS_SUBSCRIPTION,
        json!({}),
    )
    .await
    .unwrap_or_else(|_| panic!("JWT subscription refused"));
    // The server registers a subscription after answering connection_init:
    // a change committed before that is not news to it.
    app.wait_for_subscribers(before + 2).await;

    // BE/BEC changes first: a subscriber scoped to NL/GFX must not see it.
    let bec_path = format!("/ocpi/2.1.1/locations/BE/BEC/{BEC_LOCATION}/{EVSE}");
    let auth = format!("Token {bec_token}");
    let patch = app
        .ocpi_as(
            "PATCH",
            &bec_path,
            Some(r#"{"status": "BLOCKED"}"#),
            Some(&auth),
        )
        .await;
    assert_eq!(patch.code(), 1000);
    let patch = app
        .patch_evse(GFX_LOCATION, EVSE, r#"{"status": "CHARGING"}"#)
        .await;
    assert_eq!(patch.code(), 1000);
    let expected = json!({"evseStatusChanged":
        {"countryCode": "NL", "partyId": "GFX", "status": "CHARGING"}});
    for subscription in [&mut by_key, &mut by_jwt] {
        let data = subscription.next_data(Duration::from_secs(10)).await;
        assert_eq!(data, Some(expected.clone()));
    }
}

/// GreenFlux's CDR with another id.
fn cdr_with_id(id: &str) -> String {
    fixture("greenflux/cdr_pull_example_reconstructed.json")
        .replace("NLGFX63759518932331194001", id)
}

/// POSTs GreenFlux's CDR with this id under a token's own party.
async fn post_cdr_as(app: &TestApp, token: &str, id: &str) {
    let auth = format!("Token {token}");
    let answer = app
        .ocpi_as(
            "POST",
            "/ocpi/2.1.1/cdrs",
            Some(&cdr_with_id(id)),
            Some(&auth),
        )
        .await;
    assert_eq!(answer.code(), 1000, "{:?}", answer.body);
}

#[tokio::test]
async fn exports_refuse_bad_keys_and_return_only_the_callers_parties() {
    let (app, bec_token) = app_with_two_parties().await;
    let gfx = app.post_cdr(&cdr_with_id("GFX-CDR-1")).await;
    assert_eq!(gfx.code(), 1000, "{:?}", gfx.body);
    post_cdr_as(&app, &bec_token, "BEC-CDR-1").await;
    let (revoked_id, revoked_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    chargegraph::store::api_keys::revoke(&app.state.store, revoked_id)
        .await
        .unwrap();
    let past = Utc::now() - chrono::Duration::hours(1);
    let (_, expired_key) = app.add_api_key(Some(&["NL/GFX"]), false, Some(past)).await;
    let (_, gfx_key) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    let (_, bec_key) = app.add_api_key(Some(&["BE/BEC"]), false, None).await;
    let cdrs = "/export/cdrs.csv";
    let billing =
        "/export/billing.csv?from=2021-06-01T00:00:00Z&to=2021-07-01T00:00:00Z&groupBy=PARTY";

    for url in [cdrs, billing] {
        for (headers, message) in [
            (vec![], "credentials required"),
            (vec![("X-API-Key", "cgk_wrong")], "unknown API key"),
            (vec![("X-API-Key", revoked_key.as_str())], "API key revoked"),
            (
                vec![("X-API-Key", expired_key.as_str())],
                "API key expired at",
            ),
        ] {
            let (status, body) = app.get_text(url, &headers).await;
            assert_eq!(status, 401, "{url}: {body}");
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["code"], "UNAUTHENTICATED", "{url}");
            assert!(
                body["error"].as_str().unwrap().starts_with(message),
                "{url}: {body}"
            );
        }
    }

    // Each key gets its own party's CDR, never the other's.
    let rows = |csv: &str| csv.lines().skip(1).map(str::to_owned).collect::<Vec<_>>();
    let (status, gfx_cdrs) = app.get_text(cdrs, &[("X-API-Key", &gfx_key)]).await;
    assert_eq!(status, 200, "{gfx_cdrs}");
    let (_, bec_cdrs) = app.get_text(cdrs, &[("X-API-Key", &bec_key)]).await;
    let ids = |csv: &str| {
        rows(csv)
            .iter()
            .map(|row| row.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&gfx_cdrs), ["NL,GFX,GFX-CDR-1"]);
    assert_eq!(ids(&bec_cdrs), ["BE,BEC,BEC-CDR-1"]);

    let (status, gfx_billing) = app.get_text(billing, &[("X-API-Key", &gfx_key)]).await;
    assert_eq!(status, 200, "{gfx_billing}");
    let (_, bec_billing) = app.get_text(billing, &[("X-API-Key", &bec_key)]).await;
    assert_eq!(
        rows(&gfx_billing),
        [",,,NL,GFX,,,,EUR,1,0,10.363,0.8981,0,3.11,"]
    );
    assert_eq!(
        rows(&bec_billing),
        [",,,BE,BEC,,,,EUR,1,0,10.363,0.8981,0,3.11,"]
    );
}

#[tokio::test]
async fn pushes_need_an_active_token_of_their_party() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{GFX_LOCATION}");
    let revoked = app.add_token(&["NL/GFX"], false).await;
    let revoked_id = token_id(&app, &revoked).await;
    chargegraph::store::tokens::revoke(&app.state.store, revoked_id)
        .await
        .unwrap();
    let expired = format!("token-{}", uuid::Uuid::new_v4().simple());
    let new = chargegraph::store::tokens::NewToken {
        parties: vec![chargegraph::domain::Party::new("NL", "GFX")],
        expires_at: Some(Utc::now() - chrono::Duration::minutes(5)),
        ..Default::default()
    };
    chargegraph::store::tokens::create(
        &app.state.store,
        &chargegraph::ocpi::auth::hash_token(&expired),
        &new,
    )
    .await
    .unwrap();
    let other_party = app.add_token(&["BE/BEC"], false).await;

    for (auth, http, code, message) in [
        (None, 401, 2000, "missing Authorization header"),
        (
            Some("Token wrong-token".to_owned()),
            401,
            2000,
            "unknown token",
        ),
        (Some(format!("Token {revoked}")), 401, 2000, "token revoked"),
        (
            Some(format!("Token {expired}")),
            401,
            2000,
            "token expired at ",
        ),
        (
            Some(format!("Token {other_party}")),
            404,
            2001,
            "party NL/GFX is not writable with this token",
        ),
    ] {
        let answer = app
            .ocpi_as("PUT", &path, Some(&body), auth.as_deref())
            .await;
        assert_eq!((answer.status, answer.code()), (http, code), "{auth:?}");
        assert!(
            answer.message().starts_with(message),
            "{}",
            answer.message()
        );
    }
    let stored = app.sqlite_column("SELECT ocpi_id FROM location").await;
    assert!(stored.is_empty(), "{stored:?}");
    assert_eq!(app.put_location(GFX_LOCATION, &body).await.status, 201);
}

async fn token_id(app: &TestApp, secret: &str) -> i64 {
    let hash = chargegraph::ocpi::auth::hash_token(secret);
    match chargegraph::store::tokens::lookup(&app.state.store, &hash)
        .await
        .unwrap()
    {
        chargegraph::store::tokens::Lookup::Active(caller) => caller.token_pk,
        other => panic!("token not active: {other:?}"),
    }
}

#[tokio::test]
async fn with_auth_on_a_request_without_access_data_sees_nothing() {
    let (app, _) = app_with_two_parties().await;
    // The schema itself, executed without the gate: its default scope is NONE.
    let schema = chargegraph::app::schema(&app.state);
    let response = schema.execute(BOTH_LOCATIONS).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap();
    assert_eq!(data, json!({"gfx": null, "bec": null}));
}

#[tokio::test]
async fn a_scoped_snapshot_holds_the_callers_rows_past_a_full_page_of_other_parties() {
    let (app, bec_token) = app_with_two_parties().await;
    let auth = format!("Token {bec_token}");
    let notification = fixture("greenflux/notification_doc_example.json");
    // One BE/BEC CDR and notification, then more NL/GFX ones than a
    // snapshot holds (the 100 newest).
    post_cdr_as(&app, &bec_token, "BEC-CDR-1").await;
    let bec = app
        .ocpi_as(
            "PUT",
            "/ocpi/2.1.1/notifications/BEC-N-1",
            Some(&notification),
            Some(&auth),
        )
        .await;
    assert_eq!(bec.code(), 1000, "{:?}", bec.body);
    for n in 0..101 {
        let gfx = app.post_cdr(&cdr_with_id(&format!("GFX-CDR-{n}"))).await;
        assert_eq!(gfx.code(), 1000, "{:?}", gfx.body);
        let gfx = app
            .put_notification(&format!("GFX-N-{n}"), &notification)
            .await;
        assert_eq!(gfx.code(), 1000, "{:?}", gfx.body);
    }
    let (_, bec_key) = app.add_api_key(Some(&["BE/BEC"]), false, None).await;

    for (query, want) in [
        (
            "subscription { cdrReceived(snapshot: true) {
                ... on CdrReceipt { kind cdrId partyId } } }",
            json!({"cdrReceived": {"kind": "SNAPSHOT", "cdrId": "BEC-CDR-1", "partyId": "BEC"}}),
        ),
        (
            "subscription { notificationReceived(snapshot: true) {
                ... on NotificationReceipt { kind notificationId partyId } } }",
            json!({"notificationReceived":
                {"kind": "SNAPSHOT", "notificationId": "BEC-N-1", "partyId": "BEC"}}),
        ),
    ] {
        let mut sub = subscribe_with(app.addr, json!({"apiKey": bec_key}), &[], query, json!({}))
            .await
            .unwrap_or_else(|_| panic!("key subscription refused"));
        let first = sub.next_data(Duration::from_secs(10)).await;
        assert_eq!(first, Some(want));
    }
}
