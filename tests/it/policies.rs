//! DESIGN.md's status table and receiver policies, one test (or more) per line,
//! driven over real HTTP with the copied OCPI and GreenFlux examples.

use serde_json::{json, Value};

use crate::harness::{fixture, Answer, TestApp};

const GF_LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const GF_SESSION: &str = "NLGFX637561499213897595-ef07d";

/// The body of a fixture with some top-level fields replaced.
fn fixture_with(path: &str, changes: Value) -> String {
    let mut value: Value = serde_json::from_str(&fixture(path)).expect("fixture is JSON");
    for (key, change) in changes.as_object().expect("changes are an object") {
        value[key] = change.clone();
    }
    value.to_string()
}

/// GET of a stored object's `data`, asserting a 200/1000 answer.
async fn get(app: &TestApp, path: &str) -> Value {
    let answer = app.ocpi("GET", path, None).await;
    assert_eq!(
        (answer.status, answer.code()),
        (200, 1000),
        "{path}: {answer:?}"
    );
    answer.body["data"].clone()
}

fn assert_answer(answer: &Answer, status: u16, code: i64) {
    assert_eq!(
        (answer.status, answer.code()),
        (status, code),
        "{:?}",
        answer.body
    );
    assert!(answer.body["timestamp"].is_string(), "{:?}", answer.body);
}

/// One SQL value as text.
async fn sql(app: &TestApp, query: &str) -> String {
    let rows = app.sqlite_column(query).await;
    rows.into_iter().next().unwrap_or_else(|| "<no row>".into())
}

async fn put_gf_location(app: &TestApp) {
    let answer = app
        .put_location(GF_LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_answer(&answer, 201, 1000);
}

// ---- every example accepted at its URL and read back ----------------------

#[tokio::test]
async fn ocpi_2_1_1_examples_are_accepted_and_read_back() {
    let app = TestApp::spawn().await;
    let base = "/ocpi/2.1.1";

    let location = fixture("2.1.1/location_example.json");
    let put = app
        .ocpi(
            "PUT",
            &format!("{base}/locations/NL/GFX/LOC1"),
            Some(&location),
        )
        .await;
    assert_answer(&put, 201, 1000);
    let stored = get(&app, &format!("{base}/locations/NL/GFX/LOC1")).await;
    assert_eq!(stored["name"], "Gent Zuid");
    assert_eq!(stored["type"], "ON_STREET");
    assert_eq!(stored["coordinates"]["latitude"], "51.04759");
    assert_eq!(stored["evses"][0]["uid"], "3256");
    assert_eq!(stored["evses"][1]["status"], "RESERVED");
    assert_eq!(stored["evses"][0]["connectors"][1]["id"], "2");
    assert_eq!(stored["last_updated"], "2015-06-29T20:39:09Z");

    let patch = fixture("2.1.1/location_patch_example_status.json");
    let url = format!("{base}/locations/NL/GFX/LOC1/3256");
    assert_answer(&app.ocpi("PATCH", &url, Some(&patch)).await, 200, 1000);
    assert_eq!(get(&app, &url).await["status"], "CHARGING");

    let start = fixture("2.1.1/session_example_1_simple_start.json");
    let url = format!("{base}/sessions/NL/GFX/101");
    assert_answer(&app.ocpi("PUT", &url, Some(&start)).await, 201, 1000);
    let session = get(&app, &url).await;
    assert_eq!(session["status"], "PENDING");
    assert_eq!(session["start_datetime"], "2015-06-29T22:39:09Z");
    assert_eq!(session["location"]["evses"][0]["uid"], "3256");

    let before_cost = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let cost = fixture("2.1.1/session_patch_example_total_cost.json");
    assert_answer(&app.ocpi("PATCH", &url, Some(&cost)).await, 200, 1000);
    assert_eq!(get(&app, &url).await["total_cost"], 0.6);

    let finished = fixture("2.1.1/session_example_2_short_finished.json");
    assert_answer(&app.ocpi("PUT", &url, Some(&finished)).await, 200, 1000);
    let session = get(&app, &url).await;
    assert_eq!(session["status"], "COMPLETED");
    assert_eq!(session["kwh"], 41.0);
    assert_eq!(session["total_cost"], 8.5);
    assert_eq!(session["end_datetime"], "2015-06-29T23:50:16Z");
    let columns = "SELECT location_id || '|' || evse_uid || '|' || connector_id || '|' || \
                   kwh_micro || '|' || total_cost_micro FROM session";
    assert_eq!(sql(&app, columns).await, "LOC1|3256|1|41000000|8500000");
    // The timeline: one entry per applied push, in arrival order, each at
    // the sender's stamp (the cost PATCH has none: when it was received).
    let timeline = app
        .graphql(
            r#"{ session(countryCode: "NL", partyId: "GFX", ocpiId: "101") {
                timeline { nodes { at method status kwh totalCost applied } } } }"#,
            json!({}),
        )
        .await;
    let nodes = timeline["session"]["timeline"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert_eq!(
        nodes[0],
        json!({"at": "2015-06-29T22:39:09Z", "method": "PUT", "status": "PENDING",
               "kwh": "0", "totalCost": "2.5", "applied": true})
    );
    assert_eq!(
        (
            &nodes[1]["method"],
            &nodes[1]["totalCost"],
            &nodes[1]["applied"]
        ),
        (&json!("PATCH"), &json!("0.6"), &json!(true))
    );
    assert!(
        nodes[1]["at"].as_str().unwrap() >= before_cost.as_str(),
        "{}",
        nodes[1]["at"]
    );
    assert_eq!(
        nodes[2],
        json!({"at": "2015-06-29T23:09:10Z", "method": "PUT", "status": "COMPLETED",
               "kwh": "41", "totalCost": "8.5", "applied": true})
    );

    let cdr = fixture("2.1.1/cdr_example.json");
    let posted = app.post_cdr(&cdr).await;
    assert_answer(&posted, 201, 1000);
    let location = posted.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with("/ocpi/2.1.1/cdrs/NL/GFX/12345"),
        "{location}"
    );
    let path = location.split_once(&app.addr.to_string()).unwrap().1;
    let stored = get(&app, path).await;
    assert_eq!(stored["total_cost"], 4.0);
    assert_eq!(stored["stop_date_time"], "2015-06-29T23:37:32Z");
    let columns = "SELECT total_cost_micro || '|' || total_energy_micro || '|' || location_id \
                   || '|' || evse_uid FROM cdr";
    assert_eq!(sql(&app, columns).await, "4000000|15342000|LOC1|3256");
}

#[tokio::test]
async fn ocpi_2_2_1_locations_are_accepted_at_their_party() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["BE/BEC"], false).await;
    let base = "/ocpi/2.2.1/locations/BE/BEC/LOC1";

    let location = fixture("2.2.1/location_example.json");
    assert_answer(&app.ocpi("PUT", base, Some(&location)).await, 201, 1000);
    let stored = get(&app, base).await;
    assert_eq!(stored["parking_type"], "ON_STREET");
    assert_eq!(stored["publish"], true);
    assert_eq!(stored["time_zone"], "Europe/Brussels");
    assert_eq!(stored["evses"].as_array().unwrap().len(), 2);

    let evse = fixture("2.2.1/location_put_example_add_evse.json");
    let evse_url = format!("{base}/3256");
    assert_answer(&app.ocpi("PUT", &evse_url, Some(&evse)).await, 200, 1000);
    let stored = get(&app, &evse_url).await;
    assert_eq!(stored["evse_id"], "BE*BEC*E041503003");
    assert_eq!(stored["floor"], -1);
    assert_eq!(stored["physical_reference"], 3);
    assert_eq!(stored["connectors"][0]["tariff_ids"], json!(["14"]));
    assert_eq!(stored["connectors"].as_array().unwrap().len(), 1);

    let status = fixture("2.2.1/location_patch_example_status.json");
    assert_answer(
        &app.ocpi("PATCH", &evse_url, Some(&status)).await,
        200,
        1000,
    );
    assert_eq!(get(&app, &evse_url).await["status"], "CHARGING");

    let tariff = fixture("2.2.1/location_patch_example_tariff.json");
    let connector_url = format!("{evse_url}/1");
    assert_answer(
        &app.ocpi("PATCH", &connector_url, Some(&tariff)).await,
        200,
        1000,
    );
    assert_eq!(get(&app, &connector_url).await["tariff_ids"], json!(["15"]));

    let name = fixture("2.2.1/location_patch_example_location.json");
    assert_answer(&app.ocpi("PATCH", base, Some(&name)).await, 200, 1000);
    let removal = fixture("2.2.1/location_patch_example_remove_evse.json");
    let other = format!("{base}/3257");
    assert_answer(&app.ocpi("PATCH", &other, Some(&removal)).await, 200, 1000);
    let stored = get(&app, base).await;
    assert_eq!(stored["name"], "Interparking Gent Zuid");
    assert_eq!(stored["address"], "F.Rooseveltlaan 3A");
    assert_eq!(stored["evses"][1]["status"], "REMOVED");
    assert_eq!(stored["last_updated"], "2019-06-24T12:39:09Z");
}

#[tokio::test]
async fn ocpi_2_2_1_sessions_and_cdrs_are_accepted_at_their_party() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["BE/BEC", "NL/STK"], false).await;

    let start = fixture("2.2.1/session_example_1_simple_start.json");
    let url = "/ocpi/2.2.1/sessions/NL/STK/101";
    assert_answer(&app.ocpi("PUT", url, Some(&start)).await, 201, 1000);
    let session = get(&app, url).await;
    assert_eq!(session["cdr_token"]["uid"], "123abc");
    assert_eq!(session["total_cost"], json!({"excl_vat": 2.5}));
    assert_eq!(session["charging_periods"], json!([]));

    let url = "/ocpi/2.2.1/sessions/BE/BEC/101";
    let finished = fixture("2.2.1/session_example_2_short_finished.json");
    assert_answer(&app.ocpi("PUT", url, Some(&finished)).await, 201, 1000);
    let session = get(&app, url).await;
    assert_eq!(session["status"], "COMPLETED");
    assert_eq!(session["end_date_time"], "2015-06-29T23:50:16Z");
    let periods = session["charging_periods"].as_array().unwrap();
    assert_eq!(periods.len(), 3);
    assert_eq!(periods[2]["start_date_time"], "2015-06-29T23:07:09Z");
    assert_eq!(periods[2]["tariff_id"], "12");
    assert_eq!(
        periods[0]["dimensions"][1],
        json!({"type": "MAX_CURRENT", "volume": 30})
    );

    let cdr = fixture("2.2.1/cdr_example.json");
    let posted = app.ocpi("POST", "/ocpi/2.2.1/cdrs", Some(&cdr)).await;
    assert_answer(&posted, 201, 1000);
    let location = posted.headers["location"].to_str().unwrap();
    assert!(
        location.ends_with("/ocpi/2.2.1/cdrs/BE/BEC/12345"),
        "{location}"
    );
    let stored = get(&app, "/ocpi/2.2.1/cdrs/BE/BEC/12345").await;
    assert_eq!(
        stored["total_cost"],
        json!({"excl_vat": 4.0, "incl_vat": 4.4})
    );
    assert_eq!(stored["cdr_location"]["evse_uid"], "3256");
    let columns = "SELECT total_cost_micro || '|' || total_cost_incl_vat_micro || '|' || \
                   location_id || '|' || evse_uid FROM cdr";
    assert_eq!(sql(&app, columns).await, "4000000|4400000|LOC1|3256");
}

#[tokio::test]
async fn ocpi_2_2_1_session_patches_merge_into_a_session() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["NL/STK"], false).await;
    let url = "/ocpi/2.2.1/sessions/NL/STK/101";
    let start = fixture_with(
        "2.2.1/session_example_1_simple_start.json",
        json!({"last_updated": "2019-06-23T08:00:00Z", "status": "ACTIVE"}),
    );
    assert_answer(&app.ocpi("PUT", url, Some(&start)).await, 201, 1000);

    let cost = fixture("2.2.1/session_patch_example_total_cost.json");
    assert_answer(&app.ocpi("PATCH", url, Some(&cost)).await, 200, 1000);
    assert_eq!(
        get(&app, url).await["total_cost"],
        json!({"excl_vat": 0.6, "incl_vat": 0.66})
    );

    let period = fixture("2.2.1/session_patch_example_charging_period.json");
    assert_answer(&app.ocpi("PATCH", url, Some(&period)).await, 200, 1000);
    let session = get(&app, url).await;
    assert_eq!(session["kwh"], 15.0);
    assert_eq!(
        session["total_cost"],
        json!({"excl_vat": 0.8, "incl_vat": 0.88})
    );
    assert_eq!(session["last_updated"], "2019-06-23T08:16:02Z");
    assert_eq!(
        session["charging_periods"],
        json!([{"start_date_time": "2019-06-23T08:16:02Z",
                "dimensions": [{"type": "ENERGY", "volume": 2200}]}])
    );
}

#[tokio::test]
async fn greenflux_examples_are_accepted_and_read_back() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let stored = get(&app, &url).await;
    assert_eq!(stored["publish"], "true");
    assert_eq!(stored["directions"], Value::Null);
    assert_eq!(stored["operator"]["name"], "EVChargepointOperator");
    assert_eq!(stored["evses"][0]["evse_id"], "BE*BEC*E041503001");
    assert_eq!(stored["evses"][0]["connectors"][0]["voltage"], 220);
    assert_eq!(
        sql(
            &app,
            "SELECT CAST(CAST(publish AS INTEGER) AS TEXT) FROM location"
        )
        .await,
        "1"
    );

    let status = fixture("greenflux/push_location_patch_evse_status.json");
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &status)
        .await;
    assert_answer(&answer, 200, 1000);
    assert_eq!(
        get(&app, &format!("{url}/BE-BEC-E041503001")).await["status"],
        "CHARGING"
    );

    for (method, file) in [
        ("PUT", "push_session_put.json"),
        ("PATCH", "push_session_patch_full_15min.json"),
        ("PATCH", "push_session_patch_compact.json"),
        ("PATCH", "push_session_patch_completed.json"),
    ] {
        let answer = app
            .push_session(method, GF_SESSION, &fixture(&format!("greenflux/{file}")))
            .await;
        assert_eq!(answer.code(), 1000, "{file}: {:?}", answer.body);
    }
    let session = get(&app, &format!("/ocpi/2.1.1/sessions/NL/GFX/{GF_SESSION}")).await;
    assert_eq!(session["status"], "COMPLETED");
    assert_eq!(session["kwh"], 11.2);
    assert_eq!(session["end_datetime"], "2021-05-09T11:02:10Z");
    assert_eq!(session["auth_id"], "NL*GFX*0dd6AE*6");
    assert_eq!(session["charging_periods"].as_array().unwrap().len(), 1);
    let columns = "SELECT location_id || '|' || evse_uid || '|' || connector_id || '|' || \
                   CAST(CAST(location_pk IS NOT NULL AS INTEGER) AS TEXT) FROM session";
    assert_eq!(
        sql(&app, columns).await,
        format!("{GF_LOCATION}|BE-BEC-E041503001|1|1")
    );

    let cdr = fixture("greenflux/cdr_pull_example_reconstructed.json");
    assert_answer(&app.post_cdr(&cdr).await, 201, 1000);
    let stored = get(&app, "/ocpi/2.1.1/cdrs/NL/GFX/NLGFX63759518932331194001").await;
    assert_eq!(stored["total_cost"], 3.11);
    assert_eq!(stored["location"]["evses"][0]["uid"], "NL-GFX-EEU171220-2");
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM location").await,
        "1",
        "a CDR for an unknown location creates no location"
    );
}

#[tokio::test]
async fn greenflux_notifications_are_keyed_by_url_id_and_replaced() {
    let app = TestApp::spawn().await;
    let id = "dfa3b87a-bc90-447e-9541-88a9ac1bf618";
    let doc = fixture("greenflux/notification_doc_example.json");
    assert_answer(&app.put_notification(id, &doc).await, 201, 1000);
    let url = format!("/ocpi/2.1.1/notifications/{id}");
    let stored = get(&app, &url).await;
    assert_eq!(stored["charge_location_id"], GF_LOCATION);
    let columns = format!(
        "SELECT location_id || '|' || COALESCE(message_action, '-') || '|' || {} FROM notification",
        app.json_field("payload_json", "status")
    );
    assert_eq!(
        sql(&app, &columns).await,
        format!("{GF_LOCATION}|-|SuspendedEV")
    );

    let newer = fixture("greenflux/notification_fields_after_2022_change.json");
    assert_answer(&app.put_notification(id, &newer).await, 200, 1000);
    assert_eq!(get(&app, &url).await["direction"], "ToGsop");
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM notification").await,
        "1"
    );
    let columns = "SELECT message_action || '|' || message_type FROM notification";
    assert_eq!(sql(&app, columns).await, "StatusNotification|2");

    for key in ["MessageAction", "messageAction", "message_Action"] {
        let body = json!({"charge_station_id": "041503001", key: "Heartbeat",
                          "charge_station_message_payload": "{not json"});
        let answer = app.put_notification("N2", &body.to_string()).await;
        assert_eq!(answer.code(), 1000, "{key}: {:?}", answer.body);
        let action = "SELECT message_action || '|' || COALESCE(payload_json, 'null') \
                      FROM notification WHERE notification_id = 'N2'";
        assert_eq!(sql(&app, action).await, "Heartbeat|null", "{key}");
    }
}

// ---- the status table ------------------------------------------------------

#[tokio::test]
async fn created_is_201_and_updated_is_200() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let renamed = fixture_with(
        "greenflux/push_location_put.json",
        json!({"name": "Gent Zuid 2", "last_updated": "2021-06-30T00:00:00Z"}),
    );
    let answer = app.put_location(GF_LOCATION, &renamed).await;
    assert_answer(&answer, 200, 1000);
    assert_eq!(answer.message(), "location updated");
}

#[tokio::test]
async fn repeated_state_is_acknowledged_as_not_applied() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let again = app
        .put_location(GF_LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_answer(&again, 200, 1000);
    assert!(
        again.message().starts_with("not applied"),
        "{}",
        again.message()
    );
    let outcomes = app
        .sqlite_column("SELECT outcome FROM inbox ORDER BY id")
        .await;
    assert_eq!(outcomes, ["created", "unchanged"]);
}

#[tokio::test]
async fn empty_body_is_400() {
    let app = TestApp::spawn().await;
    let answer = app.put_location(GF_LOCATION, "  ").await;
    assert_answer(&answer, 400, 2000);
    let answer = app.put_location(GF_LOCATION, "[1, 2]").await;
    assert_answer(&answer, 200, 2001);
}

#[tokio::test]
async fn patch_of_unknown_location_evse_or_connector_is_404_2003() {
    let app = TestApp::spawn().await;
    let status = fixture("greenflux/push_location_patch_evse_status.json");
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &status)
        .await;
    assert_answer(&answer, 404, 2003);

    put_gf_location(&app).await;
    // GreenFlux's own example PATCHes a uid with a "-1" suffix the PUT never had.
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001-1", &status)
        .await;
    assert_answer(&answer, 404, 2003);
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/BE-BEC-E041503001/9");
    let answer = app
        .ocpi("PATCH", &url, Some(r#"{"tariff_id": "12"}"#))
        .await;
    assert_answer(&answer, 404, 2003);
    let evse_put = json!({"uid": "NEW", "status": "AVAILABLE"}).to_string();
    let url = "/ocpi/2.1.1/locations/NL/GFX/NOPE/NEW";
    assert_answer(&app.ocpi("PUT", url, Some(&evse_put)).await, 404, 2003);
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM evse").await,
        "1"
    );
}

#[tokio::test]
async fn get_of_nothing_stored_is_404() {
    let app = TestApp::spawn().await;
    let answer = app
        .ocpi("GET", "/ocpi/2.1.1/sessions/NL/GFX/NONE", None)
        .await;
    assert_answer(&answer, 404, 2000);
}

#[tokio::test]
async fn body_over_the_limit_is_413_and_the_next_request_is_served() {
    let app = TestApp::spawn_with(|config| config.body_limit = 1024).await;
    let big = fixture_with(
        "greenflux/push_location_put.json",
        json!({"name": "x".repeat(2000)}),
    );
    let answer = app.put_location(GF_LOCATION, &big).await;
    assert_answer(&answer, 413, 2000);
    let rows = app
        .sqlite_column("SELECT outcome || '|' || COALESCE(body, '<none>') FROM inbox")
        .await;
    assert_eq!(rows, ["too_large|<none>"]);

    let streamed = chunked_put(
        &app,
        &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}"),
        &big,
    )
    .await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert!(streamed.contains(r#""status_code":2000"#), "{streamed}");

    let small = fixture("greenflux/push_location_patch_evse_status.json");
    let answer = app.patch_evse(GF_LOCATION, "X", &small).await;
    assert_answer(&answer, 404, 2003);
}

#[tokio::test]
async fn unsupported_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let answer = app
        .ocpi("DELETE", "/ocpi/2.1.1/sessions/NL/GFX/S1", None)
        .await;
    assert_answer(&answer, 405, 2000);
    assert_eq!(answer.headers["allow"], "GET, PUT, PATCH");
    let answer = app.ocpi("PUT", "/ocpi/2.2.1/cdrs", Some("{}")).await;
    assert_answer(&answer, 405, 2000);
    assert_eq!(answer.headers["allow"], "POST");
    let answer = app
        .ocpi("PATCH", "/ocpi/2.2.1/tariffs/DE/ALL/12", Some("{}"))
        .await;
    assert_answer(&answer, 405, 2000);
    assert_eq!(answer.headers["allow"], "GET, PUT, DELETE");
    // Locations are never deleted (an EVSE goes REMOVED) nor POSTed.
    for method in ["DELETE", "POST"] {
        let url = format!("/ocpi/2.2.1/locations/NL/GFX/{GF_LOCATION}/BE-BEC-E041503001");
        let answer = app.ocpi(method, &url, None).await;
        assert_answer(&answer, 405, 2000);
        assert_eq!(answer.headers["allow"], "GET, PUT, PATCH");
    }
    let answer = app
        .ocpi("POST", "/ocpi/2.1.1/sessions/NL/GFX/S1", Some("{}"))
        .await;
    assert_answer(&answer, 405, 2000);
    let answer = app.ocpi("PUT", "/ocpi/versions", Some("{}")).await;
    assert_answer(&answer, 405, 2000);
    assert_eq!(answer.headers["allow"], "GET");
}

#[tokio::test]
async fn unknown_paths_are_404_envelopes() {
    let app = TestApp::spawn().await;
    for path in [
        "/ocpi/2.1.1/nothing/NL/GFX/1",
        "/ocpi/3.0/locations/NL/GFX/1",
        "/ocpi/2.1.1/locations/NL/GFX",
        "/elsewhere",
    ] {
        let answer = app.ocpi("GET", path, None).await;
        assert_answer(&answer, 404, 2000);
        assert_eq!(answer.headers["content-type"], "application/json", "{path}");
    }
}

#[tokio::test]
async fn a_segment_that_is_not_utf8_is_a_404_envelope() {
    let app = TestApp::spawn().await;
    let answer = app
        .ocpi(
            "PATCH",
            "/ocpi/2.1.1/locations/NL/GFX/L1/%FF%FE",
            Some("{}"),
        )
        .await;
    assert_answer(&answer, 404, 2000);
    assert!(
        answer.message().contains("not UTF-8"),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn a_body_that_breaks_off_is_a_400_envelope_and_the_next_request_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // A chunk size that is not hexadecimal: the body cannot be read.
    let request = format!(
        "PUT /ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION} HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Token {}\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        app.addr, app.token
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""status_code":2000"#), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    put_gf_location(&app).await;
}

/// A PUT with a chunked body (no Content-Length), answered as raw HTTP text.
async fn chunked_put(app: &TestApp, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Token {}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr, app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..2 {
        let chunk = format!("{:x}\r\n{body}\r\n", body.len());
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

// ---- paths, ids and routing ------------------------------------------------

#[tokio::test]
async fn trailing_and_doubled_slashes_route_the_same() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi//2.1.1/locations/NL//GFX/{GF_LOCATION}/");
    // The client follows no redirect, so a 3xx would fail here.
    let answer = app.ocpi("PUT", &path, Some(&body)).await;
    assert_answer(&answer, 201, 1000);
    assert!(!answer.headers.contains_key("location"));
    let versions = app.ocpi("GET", "//ocpi//versions/", None).await;
    assert_answer(&versions, 200, 1000);
    let stored = get(
        &app,
        &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}//"),
    )
    .await;
    assert_eq!(stored["id"], GF_LOCATION);
}

#[tokio::test]
async fn a_37_character_location_id_is_kept_whole() {
    let app = TestApp::spawn().await;
    assert_eq!(GF_LOCATION.len(), 37);
    put_gf_location(&app).await;
    assert_eq!(sql(&app, "SELECT ocpi_id FROM location").await, GF_LOCATION);
    let stored = get(&app, &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")).await;
    assert_eq!(stored["id"], GF_LOCATION);
    let warnings = sql(&app, "SELECT warnings FROM inbox").await;
    assert!(
        warnings.contains("$.id: 37 characters"),
        "accepted whole and flagged: {warnings}"
    );
}

#[tokio::test]
async fn evse_uids_with_star_slash_and_plus_are_decoded_once() {
    let app = TestApp::spawn().await;
    let body = json!({
        "id": "LOC1", "address": "a", "city": "c", "country": "NLD",
        "coordinates": {"latitude": "52.0", "longitude": "4.0"},
        "last_updated": "2024-01-01T00:00:00Z",
        "evses": [
            {"uid": "BE*BEC*E1", "status": "AVAILABLE", "connectors": []},
            {"uid": "A/B", "status": "AVAILABLE", "connectors": []},
            {"uid": "C+D", "status": "AVAILABLE", "connectors": []},
            {"uid": "A%2FB", "status": "AVAILABLE", "connectors": []},
            {"uid": "E 1", "status": "AVAILABLE", "connectors": []},
        ],
    });
    assert_answer(
        &app.put_location("LOC1", &body.to_string()).await,
        201,
        1000,
    );
    let status = r#"{"status": "CHARGING"}"#;
    for (segment, uid) in [
        ("BE*BEC*E1", "BE*BEC*E1"),
        ("A%2FB", "A/B"),
        ("C%2BD", "C+D"),
        ("C+D", "C+D"),
        ("A%252FB", "A%2FB"),
        ("E%201", "E 1"),
    ] {
        let answer = app.patch_evse("LOC1", segment, status).await;
        assert_answer(&answer, 200, 1000);
        let stored = get(
            &app,
            &format!("/ocpi/2.1.1/locations/NL/GFX/LOC1/{segment}"),
        )
        .await;
        assert_eq!(stored["uid"], uid, "{segment}");
        assert_eq!(stored["status"], "CHARGING", "{segment}");
    }
}

#[tokio::test]
async fn lower_case_country_and_party_in_the_url_are_the_same_party() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi/2.1.1/locations/nl/gfx/{GF_LOCATION}");
    assert_answer(&app.ocpi("PUT", &path, Some(&body)).await, 201, 1000);
    let upper = format!(
        "/ocpi/2.1.1/locations/NL/GFX/{}",
        GF_LOCATION.to_uppercase()
    );
    let stored = get(&app, &upper).await;
    assert_eq!(stored["id"], GF_LOCATION, "the first spelling is kept");
    let again = app
        .ocpi(
            "PUT",
            &upper,
            Some(&body.replace(GF_LOCATION, &GF_LOCATION.to_uppercase())),
        )
        .await;
    assert_answer(&again, 200, 1000);
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM location").await,
        "1"
    );
}

/// A request with the 2.2.1 routing headers, as a peer names us (TO) and itself (FROM).
fn routed(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("Authorization", format!("Token {}", app.token))
        .header("OCPI-from-country-code", "NL")
        .header("OCPI-from-party-id", "GFX")
        .header("OCPI-to-country-code", "DE")
        .header("OCPI-to-party-id", "CGR")
        .header("X-Correlation-ID", "corr-1")
}

#[tokio::test]
async fn routing_headers_are_echoed_swapped_on_module_urls_only() {
    let app = TestApp::spawn().await;
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi/2.2.1/locations/NL/GFX/{GF_LOCATION}");
    let put = routed(&app, reqwest::Method::PUT, &path)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    // An error answer under a module carries them too (IZIVIA ocpi-toolkit #120).
    let unknown = routed(&app, reqwest::Method::PATCH, &format!("{path}/NOPE"))
        .body(r#"{"status": "CHARGING", "last_updated": "2024-01-01T00:00:00Z"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    for response in [&put, &unknown] {
        let headers = response.headers();
        assert_eq!(headers["ocpi-from-country-code"], "DE");
        assert_eq!(headers["ocpi-from-party-id"], "CGR");
        assert_eq!(headers["ocpi-to-country-code"], "NL");
        assert_eq!(headers["ocpi-to-party-id"], "GFX");
        assert_eq!(headers["x-correlation-id"], "corr-1");
    }

    // Versions and version details are not functional modules (OCPI 2.2.1
    // transport_and_format, routing headers).
    for path in ["/ocpi/versions", "/ocpi/2.2.1"] {
        let response = routed(&app, reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert!(
            !headers.contains_key("ocpi-from-party-id"),
            "{path}: {headers:?}"
        );
        assert!(
            !headers.contains_key("ocpi-to-party-id"),
            "{path}: {headers:?}"
        );
        assert_eq!(headers["x-correlation-id"], "corr-1");
    }
}

#[tokio::test]
async fn versions_and_version_details_list_our_endpoints() {
    let app = TestApp::spawn().await;
    let versions = get(&app, "/ocpi/versions").await;
    let base = app.url("/ocpi");
    assert_eq!(
        versions,
        json!([{"version": "2.1.1", "url": format!("{base}/2.1.1")},
               {"version": "2.2.1", "url": format!("{base}/2.2.1")}])
    );
    let details = get(&app, "/ocpi/2.2.1").await;
    assert_eq!(details["version"], "2.2.1");
    assert_eq!(
        details["endpoints"][0],
        json!({"identifier": "locations", "role": "RECEIVER", "url": format!("{base}/2.2.1/locations")})
    );
    assert_eq!(details["endpoints"].as_array().unwrap().len(), 5);
    let details = get(&app, "/ocpi/2.1.1/").await;
    assert_eq!(
        details["endpoints"][1],
        json!({"identifier": "sessions", "url": format!("{base}/2.1.1/sessions")})
    );
}

#[tokio::test]
async fn json_body_is_read_whatever_the_content_type() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .put(app.url(&format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")))
        .header("Authorization", format!("Token {}", app.token))
        .header("Content-Type", "text/plain")
        .body(fixture("greenflux/push_location_put.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

// ---- locations: levels, parent stamps, stale guard --------------------------

#[tokio::test]
async fn connector_patch_bumps_evse_and_location() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/BE-BEC-E041503001/1");
    let patch = json!({"tariff_id": "12", "last_updated": "2022-01-01T00:00:00Z"});
    assert_answer(
        &app.ocpi("PATCH", &url, Some(&patch.to_string())).await,
        200,
        1000,
    );
    let stored = get(&app, &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")).await;
    assert_eq!(stored["last_updated"], "2022-01-01T00:00:00Z");
    let evse = &stored["evses"][0];
    assert_eq!(evse["last_updated"], "2022-01-01T00:00:00Z");
    assert_eq!(evse["connectors"][0]["tariff_id"], "12");
    assert_eq!(evse["connectors"][0]["standard"], "IEC_62196_T2");
}

#[tokio::test]
async fn evse_put_and_patch_bump_the_location() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let base = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let evse = json!({"uid": "E2", "status": "AVAILABLE", "last_updated": "2021-07-01T00:00:00Z",
                      "connectors": [{"id": "1", "standard": "CHADEMO"}]});
    let answer = app
        .ocpi("PUT", &format!("{base}/E2"), Some(&evse.to_string()))
        .await;
    assert_answer(&answer, 201, 1000);
    assert_eq!(
        get(&app, &base).await["last_updated"],
        "2021-07-01T00:00:00Z"
    );
    let patch = json!({"status": "BLOCKED", "last_updated": "2021-07-02T00:00:00Z"});
    let answer = app
        .ocpi("PATCH", &format!("{base}/E2"), Some(&patch.to_string()))
        .await;
    assert_answer(&answer, 200, 1000);
    let stored = get(&app, &base).await;
    assert_eq!(stored["last_updated"], "2021-07-02T00:00:00Z");
    assert_eq!(stored["evses"][1]["status"], "BLOCKED");
    assert_eq!(stored["evses"][1]["connectors"][0]["standard"], "CHADEMO");
}

#[tokio::test]
async fn connector_put_creates_it_and_bumps_evse_and_location() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let base = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let connector = json!({"id": "2", "standard": "CHADEMO", "format": "CABLE",
                           "power_type": "DC", "voltage": 500, "amperage": 125,
                           "last_updated": "2021-07-03T00:00:00Z"});
    let url = format!("{base}/BE-BEC-E041503001/2");
    let answer = app.ocpi("PUT", &url, Some(&connector.to_string())).await;
    assert_answer(&answer, 201, 1000);
    assert_eq!(answer.message(), "connector created");
    assert_eq!(get(&app, &url).await, connector);
    let stored = get(&app, &base).await;
    assert_eq!(stored["last_updated"], "2021-07-03T00:00:00Z");
    assert_eq!(stored["evses"][0]["last_updated"], "2021-07-03T00:00:00Z");
    let ids: Vec<&str> = stored["evses"][0]["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2"]);

    let under_unknown = format!("{base}/NO-SUCH-EVSE/2");
    let answer = app
        .ocpi("PUT", &under_unknown, Some(&connector.to_string()))
        .await;
    assert_answer(&answer, 404, 2003);
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM connector").await,
        "2",
        "nothing invented"
    );
}

#[tokio::test]
async fn location_put_that_changes_only_an_evse_is_an_update() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let mut body: Value =
        serde_json::from_str(&fixture("greenflux/push_location_put.json")).unwrap();
    body["evses"][0]["status"] = json!("OUTOFORDER");
    body["evses"][0]["last_updated"] = json!("2021-06-08T00:00:00Z");
    let answer = app.put_location(GF_LOCATION, &body.to_string()).await;
    assert_answer(&answer, 200, 1000);
    assert_eq!(answer.message(), "location updated");
    assert_eq!(sql(&app, "SELECT status FROM evse").await, "OUTOFORDER");
    let outcomes = app
        .sqlite_column("SELECT outcome FROM inbox ORDER BY id")
        .await;
    assert_eq!(outcomes, ["created", "updated"]);
    let kinds = app
        .sqlite_column("SELECT kind FROM outbox ORDER BY seq")
        .await;
    assert_eq!(
        kinds,
        [
            "EVSE_STATUS_CHANGED",
            "LOCATION_CHANGED",
            "EVSE_STATUS_CHANGED",
            "LOCATION_CHANGED"
        ]
    );
}

#[tokio::test]
async fn location_patch_with_evses_patches_each_listed_evse() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["BE/BEC"], false).await;
    let base = "/ocpi/2.2.1/locations/BE/BEC/LOC1";
    let location = fixture("2.2.1/location_example.json");
    assert_answer(&app.ocpi("PUT", base, Some(&location)).await, 201, 1000);
    let patch = json!({"last_updated": "2019-06-24T12:39:09Z",
                       "evses": [{"uid": "3256", "status": "CHARGING",
                                  "last_updated": "2019-06-24T12:39:09Z"}]});
    let answer = app.ocpi("PATCH", base, Some(&patch.to_string())).await;
    assert_answer(&answer, 200, 1000);
    let stored = get(&app, base).await;
    assert_eq!(stored["evses"][0]["status"], "CHARGING");
    assert_eq!(
        stored["evses"][0]["connectors"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        stored["evses"][1]["status"], "RESERVED",
        "an unlisted EVSE is left alone"
    );
    assert_eq!(stored["name"], "Gent Zuid");
    let warnings = sql(&app, "SELECT warnings FROM inbox ORDER BY id DESC LIMIT 1").await;
    assert!(
        warnings.contains("$.evses: a Location PATCH with evses"),
        "{warnings}"
    );
}

#[tokio::test]
async fn location_patch_keeps_other_fields_and_evses() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let base = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let patch = json!({"name": "Renamed", "last_updated": "2021-07-01T00:00:00Z"});
    assert_answer(
        &app.ocpi("PATCH", &base, Some(&patch.to_string())).await,
        200,
        1000,
    );
    let stored = get(&app, &base).await;
    assert_eq!(stored["name"], "Renamed");
    assert_eq!(stored["city"], "Gent");
    assert_eq!(stored["evses"][0]["uid"], "BE-BEC-E041503001");
}

#[tokio::test]
async fn location_put_replaces_optional_fields_and_removes_unlisted_evses() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let replaced = fixture_with(
        "greenflux/push_location_put.json",
        json!({"evses": [], "operator": null, "last_updated": "2021-07-01T00:00:00Z"}),
    );
    assert_answer(&app.put_location(GF_LOCATION, &replaced).await, 200, 1000);
    let stored = get(&app, &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")).await;
    assert_eq!(stored["operator"], Value::Null);
    assert_eq!(stored["evses"][0]["status"], "REMOVED");
    let history = "SELECT COALESCE(previous_status, '-') || '>' || status \
                   FROM evse_status_history ORDER BY id";
    assert_eq!(
        app.sqlite_column(history).await,
        ["->AVAILABLE", "AVAILABLE>REMOVED"]
    );
}

#[tokio::test]
async fn stale_patch_does_not_overwrite_newer_status_but_fills_absent_fields() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let newer = json!({"status": "CHARGING", "last_updated": "2021-06-08T00:00:00Z"});
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &newer.to_string())
        .await;
    assert_answer(&answer, 200, 1000);
    let older = json!({"status": "OUTOFORDER", "floor_level": "2",
                       "last_updated": "2021-06-07T20:00:00Z"});
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &older.to_string())
        .await;
    assert_answer(&answer, 200, 1000);
    assert!(
        answer.message().starts_with("not applied"),
        "{}",
        answer.message()
    );
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/BE-BEC-E041503001");
    let stored = get(&app, &url).await;
    assert_eq!(stored["status"], "CHARGING");
    assert_eq!(stored["floor_level"], "2");
    assert_eq!(stored["last_updated"], "2021-06-08T00:00:00Z");
}

/// A Location with one EVSE (and its connector) stamped `stamp`.
fn stamped_location(name: &str, status: &str, stamp: &str) -> String {
    json!({
        "id": "LOC-STAMPS", "type": "ON_STREET", "name": name,
        "address": "Stationsplein 1", "city": "Gent", "postal_code": "9000",
        "country": "BEL", "coordinates": {"latitude": "51.03587", "longitude": "3.71044"},
        "evses": [{"uid": "E1", "status": status, "last_updated": stamp,
            "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                "power_type": "AC_3_PHASE", "voltage": 230, "amperage": 32,
                "last_updated": stamp}]}],
        "last_updated": stamp,
    })
    .to_string()
}

#[tokio::test]
async fn late_location_put_applies_its_newer_fields_but_keeps_a_newer_evse_status() {
    let app = TestApp::spawn().await;
    let first = stamped_location("A", "AVAILABLE", "2021-06-01T10:00:00Z");
    assert_answer(&app.put_location("LOC-STAMPS", &first).await, 201, 1000);
    let charging = json!({"status": "CHARGING", "last_updated": "2021-06-01T10:30:00Z"});
    let answer = app
        .patch_evse("LOC-STAMPS", "E1", &charging.to_string())
        .await;
    assert_answer(&answer, 200, 1000);

    // Sent at 10:20, between the two, but arriving after the PATCH.
    let late = stamped_location("B", "AVAILABLE", "2021-06-01T10:20:00Z");
    let answer = app.put_location("LOC-STAMPS", &late).await;
    assert_answer(&answer, 200, 1000);
    assert_eq!(answer.message(), "location updated");

    let stored = get(&app, "/ocpi/2.1.1/locations/NL/GFX/LOC-STAMPS").await;
    assert_eq!(stored["name"], "B");
    assert_eq!(stored["last_updated"], "2021-06-01T10:30:00Z");
    assert_eq!(stored["evses"][0]["status"], "CHARGING");
    assert_eq!(stored["evses"][0]["last_updated"], "2021-06-01T10:30:00Z");
    let connector = &stored["evses"][0]["connectors"][0];
    assert_eq!(connector["last_updated"], "2021-06-01T10:20:00Z");
    let query = r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC-STAMPS")
        { name lastUpdated evses { uid status } } }"#;
    let data = app.graphql(query, json!({})).await;
    assert_eq!(
        data["location"],
        json!({"name": "B", "lastUpdated": "2021-06-01T10:30:00Z",
               "evses": [{"uid": "E1", "status": "CHARGING"}]})
    );
}

#[tokio::test]
async fn late_location_put_does_not_remove_an_evse_stamped_after_it() {
    let app = TestApp::spawn().await;
    let first = stamped_location("A", "AVAILABLE", "2021-06-01T10:00:00Z");
    assert_answer(&app.put_location("LOC-STAMPS", &first).await, 201, 1000);
    let added = json!({"uid": "E2", "status": "AVAILABLE", "last_updated": "2021-06-01T10:30:00Z"});
    let url = "/ocpi/2.1.1/locations/NL/GFX/LOC-STAMPS/E2";
    let answer = app.ocpi("PUT", url, Some(&added.to_string())).await;
    assert_answer(&answer, 201, 1000);

    // Sent at 10:20, before E2 existed, so it does not list it.
    let late = stamped_location("B", "AVAILABLE", "2021-06-01T10:20:00Z");
    assert_answer(&app.put_location("LOC-STAMPS", &late).await, 200, 1000);

    let stored = get(&app, "/ocpi/2.1.1/locations/NL/GFX/LOC-STAMPS").await;
    assert_eq!(stored["name"], "B");
    assert_eq!(stored["evses"][1]["uid"], "E2");
    assert_eq!(stored["evses"][1]["status"], "AVAILABLE");
}

#[tokio::test]
async fn patch_without_last_updated_applies_in_arrival_order_with_a_warning() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    for status in ["CHARGING", "AVAILABLE"] {
        let body = json!({"status": status}).to_string();
        let answer = app
            .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &body)
            .await;
        assert_answer(&answer, 200, 1000);
    }
    assert_eq!(sql(&app, "SELECT status FROM evse").await, "AVAILABLE");
    let warnings = sql(&app, "SELECT warnings FROM inbox ORDER BY id DESC LIMIT 1").await;
    assert!(warnings.contains("$.last_updated: absent"), "{warnings}");
}

#[tokio::test]
async fn strict_token_refuses_patch_without_last_updated() {
    let mut app = TestApp::spawn().await;
    put_gf_location(&app).await;
    app.token = app.add_token(&["NL/GFX"], true).await;
    let status = fixture("greenflux/push_location_patch_evse_status.json");
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &status)
        .await;
    assert_answer(&answer, 200, 2001);
    assert!(
        answer.message().contains("$.last_updated"),
        "{}",
        answer.message()
    );
    let stamped = fixture("2.2.1/location_patch_example_status.json");
    let answer = app
        .patch_evse(GF_LOCATION, "BE-BEC-E041503001", &stamped)
        .await;
    assert_answer(&answer, 200, 1000);
}

// ---- sessions --------------------------------------------------------------

#[tokio::test]
async fn completed_session_is_final() {
    let app = TestApp::spawn().await;
    let put = fixture("greenflux/push_session_put.json");
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);
    let done = fixture("greenflux/push_session_patch_completed.json");
    assert_answer(
        &app.push_session("PATCH", GF_SESSION, &done).await,
        200,
        1000,
    );
    let reopen = json!({"status": "ACTIVE", "kwh": 12.0, "last_updated": "2021-05-09T12:00:00Z"});
    let answer = app
        .push_session("PATCH", GF_SESSION, &reopen.to_string())
        .await;
    assert_answer(&answer, 200, 1000);
    assert!(
        answer.message().contains("COMPLETED"),
        "{}",
        answer.message()
    );
    let columns = "SELECT status || '|' || kwh_micro FROM session";
    assert_eq!(sql(&app, columns).await, "COMPLETED|11200000");
}

#[tokio::test]
async fn session_patch_before_put_keeps_an_incomplete_session_the_put_completes() {
    let app = TestApp::spawn().await;
    let compact = fixture("greenflux/push_session_patch_compact.json");
    let answer = app.push_session("PATCH", GF_SESSION, &compact).await;
    assert_answer(&answer, 201, 1000);
    let columns = "SELECT CAST(CAST(incomplete AS INTEGER) AS TEXT) || '|' || kwh_micro || '|' || \
                   COALESCE(auth_id, '-') FROM session";
    assert_eq!(sql(&app, columns).await, "1|285000|-");

    let put = fixture("greenflux/push_session_put.json");
    let answer = app.push_session("PUT", GF_SESSION, &put).await;
    assert_answer(&answer, 200, 1000);
    // The PUT is older than the PATCH: it fills the gaps, the newer kwh stays.
    assert_eq!(sql(&app, columns).await, "0|285000|NL*GFX*0dd6AE*6");
    let session = get(&app, &format!("/ocpi/2.1.1/sessions/NL/GFX/{GF_SESSION}")).await;
    assert_eq!(session["currency"], "EUR");
    assert_eq!(session["last_updated"], "2021-05-09T09:43:39Z");
}

fn period(start: &str, kwh: f64) -> Value {
    json!({"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}]})
}

async fn period_starts(app: &TestApp) -> Vec<String> {
    let session = get(app, &format!("/ocpi/2.1.1/sessions/NL/GFX/{GF_SESSION}")).await;
    session["charging_periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["start_date_time"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn periods_are_merged_by_start_and_replaced_by_put() {
    let app = TestApp::spawn().await;
    let (a, b, c) = (
        "2021-05-09T09:38:39Z",
        "2021-05-09T09:53:39Z",
        "2021-05-09T10:08:39Z",
    );
    let put = fixture_with(
        "greenflux/push_session_put.json",
        json!({"charging_periods": [period(a, 0.2)]}),
    );
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);

    let append =
        json!({"charging_periods": [period(b, 0.3)], "last_updated": "2021-05-09T09:54:00Z"});
    assert_answer(
        &app.push_session("PATCH", GF_SESSION, &append.to_string())
            .await,
        200,
        1000,
    );
    assert_eq!(period_starts(&app).await, [a, b]);

    let cumulative = json!({"charging_periods": [period(a, 0.2), period(b, 0.35), period(c, 0.4)],
                            "last_updated": "2021-05-09T10:09:00Z"});
    assert_answer(
        &app.push_session("PATCH", GF_SESSION, &cumulative.to_string())
            .await,
        200,
        1000,
    );
    assert_eq!(period_starts(&app).await, [a, b, c]);
    let energy = "SELECT CAST(energy_micro AS TEXT) FROM charging_period ORDER BY start_date_time";
    assert_eq!(
        app.sqlite_column(energy).await,
        ["200000", "350000", "400000"]
    );

    let compact = json!({"kwh": 1.0, "last_updated": "2021-05-09T10:10:00Z"});
    assert_answer(
        &app.push_session("PATCH", GF_SESSION, &compact.to_string())
            .await,
        200,
        1000,
    );
    assert_eq!(period_starts(&app).await, [a, b, c]);

    let put = fixture_with(
        "greenflux/push_session_put.json",
        json!({"charging_periods": [period(a, 0.2)], "last_updated": "2021-05-09T10:11:00Z"}),
    );
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 200, 1000);
    assert_eq!(period_starts(&app).await, [a]);

    let put = fixture_with(
        "greenflux/push_session_put.json",
        json!({"last_updated": "2021-05-09T10:12:00Z"}),
    );
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 200, 1000);
    assert_eq!(period_starts(&app).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_48_hour_session_with_2880_periods_is_accepted() {
    let app = TestApp::spawn().await;
    let start = chrono::DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z").unwrap();
    let periods: Vec<Value> = (0..2880)
        .map(|i| {
            let at = start + chrono::Duration::minutes(i);
            period(&at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), 0.183)
        })
        .collect();
    let put = fixture_with(
        "greenflux/push_session_put.json",
        json!({"charging_periods": periods, "kwh": 527.04}),
    );
    assert!(put.len() > 200_000, "{} bytes", put.len());
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);
    let starts = period_starts(&app).await;
    assert_eq!(starts.len(), 2880);
    assert_eq!(starts[2879], "2024-03-02T23:59:00Z");
}

// ---- CDRs ------------------------------------------------------------------

#[tokio::test]
async fn identical_cdr_repost_is_acknowledged_once() {
    let app = TestApp::spawn().await;
    let cdr = fixture("greenflux/cdr_pull_example_reconstructed.json");
    assert_answer(&app.post_cdr(&cdr).await, 201, 1000);
    let reformatted = serde_json::from_str::<Value>(&cdr).unwrap().to_string();
    let again = app.post_cdr(&reformatted).await;
    assert_answer(&again, 200, 1000);
    assert!(
        again.message().starts_with("not applied"),
        "{}",
        again.message()
    );
    assert!(again.headers.contains_key("location"));
    assert_eq!(
        sql(&app, "SELECT CAST(COUNT(*) AS TEXT) FROM cdr").await,
        "1"
    );
}

#[tokio::test]
async fn same_cdr_id_with_other_content_is_2001_and_kept_for_review() {
    let app = TestApp::spawn().await;
    assert_answer(
        &app.post_cdr(&fixture("2.1.1/cdr_example.json")).await,
        201,
        1000,
    );
    let changed = fixture_with("2.1.1/cdr_example.json", json!({"total_cost": 5.0}));
    let answer = app.post_cdr(&changed).await;
    assert_answer(&answer, 200, 2001);
    let rows = app
        .sqlite_column(&format!(
            "SELECT outcome || '|' || {} FROM inbox ORDER BY id",
            app.json_field("body", "total_cost")
        ))
        .await;
    assert_eq!(rows, ["created|4.0", "rejected|5.0"]);
    assert_eq!(
        sql(&app, "SELECT CAST(total_cost_micro AS TEXT) FROM cdr").await,
        "4000000"
    );
}

#[tokio::test]
async fn credit_cdr_links_to_the_original() {
    let app = TestApp::spawn().await;
    assert_answer(
        &app.post_cdr(&fixture("2.1.1/cdr_example.json")).await,
        201,
        1000,
    );
    let credit = fixture_with(
        "2.1.1/cdr_example.json",
        json!({"id": "12345-C", "credit": true, "credit_reference_id": "12345", "total_cost": -4.0}),
    );
    assert_answer(&app.post_cdr(&credit).await, 201, 1000);
    let link = "SELECT c.ocpi_id || '>' || o.ocpi_id || '|' || c.total_cost_micro \
                FROM cdr c JOIN cdr o ON c.credit_of_pk = o.id";
    assert_eq!(sql(&app, link).await, "12345-C>12345|-4000000");
}

#[tokio::test]
async fn put_and_patch_on_cdrs_are_405() {
    let app = TestApp::spawn().await;
    let cdr = fixture("2.1.1/cdr_example.json");
    for method in ["PUT", "PATCH"] {
        let answer = app
            .ocpi(method, "/ocpi/2.1.1/cdrs/NL/GFX/12345", Some(&cdr))
            .await;
        assert_answer(&answer, 405, 2000);
        assert_eq!(answer.headers["allow"], "GET");
    }
}

// ---- lenient values ---------------------------------------------------------

#[tokio::test]
async fn publish_as_string_null_lists_and_null_entries_are_accepted() {
    let app = TestApp::spawn().await;
    let body = fixture_with(
        "greenflux/push_location_put.json",
        json!({"facilities": null, "images": null, "publish": "false",
               "evses": [{"uid": "E1", "status": "AVAILABLE", "capabilities": null,
                          "connectors": [{"id": "1", "standard": "IEC_62196_T2",
                                          "tariff_ids": [null, "T1"]}]}]}),
    );
    assert_answer(&app.put_location(GF_LOCATION, &body).await, 201, 1000);
    assert_eq!(
        sql(
            &app,
            "SELECT CAST(CAST(publish AS INTEGER) AS TEXT) FROM location"
        )
        .await,
        "0"
    );
    assert_eq!(
        sql(&app, "SELECT tariff_ids FROM connector").await,
        r#"["T1"]"#
    );
    let stored = get(&app, &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")).await;
    assert_eq!(
        stored["evses"][0]["connectors"][0]["tariff_ids"],
        json!([null, "T1"])
    );
}

#[tokio::test]
async fn gbt_dc_on_2_1_1_and_an_unknown_evse_status_are_kept_verbatim() {
    let app = TestApp::spawn().await;
    let body = fixture_with(
        "greenflux/push_location_put.json",
        json!({"evses": [{"uid": "E1", "status": "PREPARING", "connectors": [
            {"id": "1", "standard": "GBT_DC", "format": "CABLE", "power_type": "DC"}]}]}),
    );
    assert_answer(&app.put_location(GF_LOCATION, &body).await, 201, 1000);
    assert_eq!(sql(&app, "SELECT status FROM evse").await, "PREPARING");
    assert_eq!(sql(&app, "SELECT standard FROM connector").await, "GBT_DC");
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/E1");
    let stored = get(&app, &url).await;
    assert_eq!(stored["status"], "PREPARING");
    assert_eq!(stored["connectors"][0]["standard"], "GBT_DC");
}

#[tokio::test]
async fn total_cost_as_number_and_as_price() {
    let app = TestApp::spawn().await;
    let number = fixture_with(
        "greenflux/push_session_put.json",
        json!({"total_cost": "2.50"}),
    );
    assert_answer(
        &app.push_session("PUT", "S-NUM", &number.replace(GF_SESSION, "S-NUM"))
            .await,
        201,
        1000,
    );
    let price = fixture_with(
        "greenflux/push_session_put.json",
        json!({"id": "S-PRICE", "total_cost": {"excl_vat": 0.30000000000000004, "incl_vat": 3.63e-1}}),
    );
    assert_answer(&app.push_session("PUT", "S-PRICE", &price).await, 201, 1000);
    let columns = "SELECT ocpi_id || '|' || total_cost_micro || '|' || \
                   COALESCE(CAST(total_cost_incl_vat_micro AS TEXT), '-') FROM session ORDER BY id";
    assert_eq!(
        app.sqlite_column(columns).await,
        ["S-NUM|2500000|-", "S-PRICE|300000|363000"]
    );
}

#[tokio::test]
async fn seven_fraction_digits_with_an_offset_are_read_as_utc() {
    let app = TestApp::spawn().await;
    let put = fixture_with(
        "greenflux/push_session_put.json",
        json!({"last_updated": "2023-05-31T08:52:26.0000000+00:00",
               "start_datetime": "2023-05-31T10:52:26.1234567+02:00"}),
    );
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);
    let older = json!({"kwh": 9.0, "last_updated": "2023-05-31T08:52:25Z"});
    let answer = app
        .push_session("PATCH", GF_SESSION, &older.to_string())
        .await;
    assert!(
        answer.message().starts_with("not applied"),
        "{}",
        answer.message()
    );
    let newer = json!({"kwh": 9.0, "last_updated": "2023-05-31T08:52:26.001Z"});
    let answer = app
        .push_session("PATCH", GF_SESSION, &newer.to_string())
        .await;
    assert_eq!(answer.message(), "session updated");
    let start = "SELECT CAST(start_date_time AS TEXT) FROM session";
    assert!(
        // PostgreSQL prints a timestamptz with a space before the time.
        sql(&app, start)
            .await
            .replace(' ', "T")
            .starts_with("2023-05-31T08:52:26.123"),
        "{}",
        sql(&app, start).await
    );
}

#[tokio::test]
async fn unknown_fields_are_kept_in_the_raw_json() {
    let app = TestApp::spawn().await;
    let body = fixture_with(
        "greenflux/push_location_put.json",
        json!({"access_type": "PUBLIC", "auth_rules": [{"x": 1}]}),
    );
    assert_answer(&app.put_location(GF_LOCATION, &body).await, 201, 1000);
    let stored = get(&app, &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}")).await;
    assert_eq!(stored["access_type"], "PUBLIC");
    assert_eq!(stored["auth_rules"], json!([{"x": 1}]));
}

#[tokio::test]
async fn embedded_location_names_the_evse_only_when_unambiguous_and_never_overwrites() {
    let app = TestApp::spawn().await;
    put_gf_location(&app).await;
    let put = fixture("greenflux/push_session_put.json");
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);
    // The session's snapshot says CHARGING; the master location keeps AVAILABLE.
    assert_eq!(sql(&app, "SELECT status FROM evse").await, "AVAILABLE");

    let mut two: Value = serde_json::from_str(&put).unwrap();
    let mut second = two["location"]["evses"][0].clone();
    second["uid"] = json!("BE-BEC-E041503002");
    two["location"]["evses"]
        .as_array_mut()
        .unwrap()
        .push(second);
    two["id"] = json!("S-TWO");
    assert_answer(
        &app.push_session("PUT", "S-TWO", &two.to_string()).await,
        201,
        1000,
    );
    let columns = "SELECT location_id || '|' || COALESCE(evse_uid, '-') || '|' || \
                   COALESCE(connector_id, '-') FROM session WHERE ocpi_id = 'S-TWO'";
    assert_eq!(sql(&app, columns).await, format!("{GF_LOCATION}|-|-"));
}

#[tokio::test]
async fn snapshots_with_swapped_coordinates_are_flagged_and_kept_as_sent() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["NL/GFX", "BE/BEC"], false).await;
    let url = "/ocpi/2.1.1/locations/NL/GFX/LOC1";
    let location = fixture("2.1.1/location_example.json");
    assert_answer(&app.ocpi("PUT", url, Some(&location)).await, 201, 1000);
    let session = fixture("2.1.1/session_example_1_simple_start.json");
    let session_url = "/ocpi/2.1.1/sessions/NL/GFX/101";
    assert_answer(
        &app.ocpi("PUT", session_url, Some(&session)).await,
        201,
        1000,
    );
    assert_answer(
        &app.post_cdr(&fixture("2.1.1/cdr_example.json")).await,
        201,
        1000,
    );
    let location = fixture("2.2.1/location_example.json");
    let url_221 = "/ocpi/2.2.1/locations/BE/BEC/LOC1";
    assert_answer(&app.ocpi("PUT", url_221, Some(&location)).await, 201, 1000);
    let cdr = fixture("2.2.1/cdr_example.json");
    assert_answer(
        &app.ocpi("POST", "/ocpi/2.2.1/cdrs", Some(&cdr)).await,
        201,
        1000,
    );

    let warnings = app
        .sqlite_column("SELECT warnings FROM inbox ORDER BY id")
        .await;
    let flagged = |w: &str, key: &str| {
        w.contains(&format!(
            "$.{key}.coordinates: latitude and longitude look swapped; \
             location \\\"LOC1\\\" has them the other way round"
        ))
    };
    assert!(!flagged(&warnings[0], "location"), "{}", warnings[0]);
    assert!(
        flagged(&warnings[1], "location"),
        "session: {}",
        warnings[1]
    );
    assert!(
        flagged(&warnings[2], "location"),
        "2.1.1 CDR: {}",
        warnings[2]
    );
    assert!(
        flagged(&warnings[4], "cdr_location"),
        "2.2.1 CDR: {}",
        warnings[4]
    );

    // The snapshot is stored as sent and the master location keeps its own.
    let stored = get(&app, session_url).await;
    assert_eq!(stored["location"]["coordinates"]["latitude"], "3.72994");
    let master = get(&app, url).await;
    assert_eq!(master["coordinates"]["latitude"], "51.04759");
    assert_eq!(master["evses"][0]["status"], "AVAILABLE");
    assert_eq!(master["last_updated"], "2015-06-29T20:39:09Z");
}

#[tokio::test]
async fn either_version_base_reads_both_field_spellings() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["NL/STK", "NL/GFX"], false).await;
    let session = fixture("2.2.1/session_example_1_simple_start.json");
    let url = "/ocpi/2.1.1/sessions/NL/STK/101";
    assert_answer(&app.ocpi("PUT", url, Some(&session)).await, 201, 1000);
    let gf = fixture("greenflux/push_session_put.json");
    let url = format!("/ocpi/2.2.1/sessions/NL/GFX/{GF_SESSION}");
    assert_answer(&app.ocpi("PUT", &url, Some(&gf)).await, 201, 1000);
    let columns = "SELECT ocpi_id || '|' || CAST(start_date_time AS TEXT) || '|' || \
                   COALESCE(location_id, '-') || '|' || COALESCE(token_uid, '-') \
                   FROM session ORDER BY id";
    let rows: Vec<String> = app
        .sqlite_column(columns)
        .await
        .into_iter()
        .map(|r| r.replace(' ', "T"))
        .collect();
    assert!(
        rows[0].starts_with("101|2020-03-09T10:17:09") && rows[0].ends_with("|LOC1|123abc"),
        "2.2.1 shape under the 2.1.1 base: {}",
        rows[0]
    );
    assert!(
        rows[1].starts_with(&format!("{GF_SESSION}|2021-05-09T09:38:39"))
            && rows[1].ends_with(&format!("|{GF_LOCATION}|NL*GFX*0dd6AE*6")),
        "2.1.1 shape under the 2.2.1 base: {}",
        rows[1]
    );
}

#[tokio::test]
async fn every_problem_of_an_invalid_object_is_named_with_its_path() {
    let app = TestApp::spawn().await;
    let body = fixture_with(
        "greenflux/push_session_put.json",
        json!({"kwh": "abc", "start_datetime": "yesterday", "charging_periods": 5}),
    );
    let answer = app.push_session("PUT", GF_SESSION, &body).await;
    assert_answer(&answer, 200, 2001);
    for path in ["$.kwh", "$.start_datetime", "$.charging_periods"] {
        assert!(
            answer.message().contains(path),
            "{path}: {}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn a_kwh_lower_than_stored_is_applied_and_flagged() {
    let app = TestApp::spawn().await;
    let put = fixture("greenflux/push_session_put.json");
    assert_answer(&app.push_session("PUT", GF_SESSION, &put).await, 201, 1000);
    let up = json!({"kwh": 5.0, "last_updated": "2021-05-09T10:00:00Z"});
    let down = json!({"kwh": 4.5, "last_updated": "2021-05-09T10:05:00Z"});
    for patch in [up, down] {
        let answer = app
            .push_session("PATCH", GF_SESSION, &patch.to_string())
            .await;
        assert_answer(&answer, 200, 1000);
    }
    assert_eq!(
        sql(&app, "SELECT CAST(kwh_micro AS TEXT) FROM session").await,
        "4500000"
    );
    let warnings = sql(&app, "SELECT warnings FROM inbox ORDER BY id DESC LIMIT 1").await;
    assert!(
        warnings.contains("$.kwh: lower than the stored kwh"),
        "{warnings}"
    );
}

#[tokio::test]
async fn body_party_or_id_that_contradicts_the_url_is_2001() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["BE/BEC", "NL/GFX"], false).await;
    let location = fixture("2.2.1/location_example.json");
    let answer = app
        .ocpi("PUT", "/ocpi/2.2.1/locations/NL/GFX/LOC1", Some(&location))
        .await;
    assert_answer(&answer, 200, 2001);
    assert!(
        answer.message().starts_with("$.country_code"),
        "{}",
        answer.message()
    );
    let evse = fixture("2.2.1/location_put_example_add_evse.json");
    let answer = app
        .ocpi("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1/9999", Some(&evse))
        .await;
    assert_answer(&answer, 200, 2001);
    let cdr = fixture_with("2.2.1/cdr_example.json", json!({"party_id": "XXX"}));
    let answer = app.ocpi("POST", "/ocpi/2.2.1/cdrs", Some(&cdr)).await;
    assert_answer(&answer, 404, 2001);

    let session = fixture("greenflux/push_session_put.json");
    let answer = app.push_session("PUT", "OTHER-SESSION", &session).await;
    assert_answer(&answer, 200, 2001);
    assert!(answer.message().starts_with("$.id"), "{}", answer.message());
    put_gf_location(&app).await;
    let connector = json!({"id": "1", "standard": "CHADEMO"}).to_string();
    let url = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/BE-BEC-E041503001/2");
    let answer = app.ocpi("PUT", &url, Some(&connector)).await;
    assert_answer(&answer, 200, 2001);
    assert!(answer.message().starts_with("$.id"), "{}", answer.message());
}

// ---- tariffs ---------------------------------------------------------------

#[tokio::test]
async fn ocpi_2_2_1_tariff_examples_are_accepted_and_read_back() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["DE/ALL"], false).await;
    let simple = fixture("2.2.1/tariff_put_example.json");
    let url = "/ocpi/2.2.1/tariffs/DE/ALL/12";
    let answer = app.ocpi("PUT", url, Some(&simple)).await;
    assert_answer(&answer, 201, 1000);
    let warnings = sql(&app, "SELECT warnings FROM inbox").await;
    assert!(warnings.contains("$.last_updated"), "{warnings}");
    let stored = get(&app, url).await;
    assert_eq!(stored["currency"], "EUR");
    assert_eq!(
        stored["elements"][0]["price_components"][0]["step_size"],
        300
    );

    let complex = fixture("2.2.1/tariff_4_complex.json");
    let url = "/ocpi/2.2.1/tariffs/DE/ALL/14";
    assert_answer(&app.ocpi("PUT", url, Some(&complex)).await, 201, 1000);
    let stored = get(&app, url).await;
    assert_eq!(stored["tariff_alt_url"], "https://company.com/tariffs/14");
    assert_eq!(stored["elements"][1]["restrictions"]["max_current"], 32.0);
    let columns = "SELECT ocpi_id || '|' || currency || '|' || COALESCE(tariff_type, '-') || '|' \
                   || COALESCE(CAST(last_updated AS TEXT), '-') FROM tariff ORDER BY id";
    let stamp = if app.is_postgres() {
        "2015-06-29 20:39:09+00"
    } else {
        "2015-06-29T20:39:09+00:00"
    };
    assert_eq!(
        app.sqlite_column(columns).await,
        ["12|EUR|-|-".to_owned(), format!("14|EUR|REGULAR|{stamp}")]
    );
}

#[tokio::test]
async fn tariff_delete_is_a_soft_delete_and_a_put_restores() {
    let mut app = TestApp::spawn().await;
    app.token = app.add_token(&["DE/ALL"], false).await;
    let url = "/ocpi/2.2.1/tariffs/DE/ALL/14";
    let complex = fixture("2.2.1/tariff_4_complex.json");
    assert_answer(&app.ocpi("PUT", url, Some(&complex)).await, 201, 1000);

    assert_answer(&app.ocpi("DELETE", url, None).await, 200, 1000);
    assert_answer(&app.ocpi("GET", url, None).await, 404, 2000);
    let again = app.ocpi("DELETE", url, None).await;
    assert!(
        again.message().starts_with("not applied"),
        "{}",
        again.message()
    );
    let deleted = "SELECT CAST(CAST(deleted_at IS NOT NULL AS INTEGER) AS TEXT) FROM tariff";
    assert_eq!(sql(&app, deleted).await, "1");

    assert_answer(&app.ocpi("PUT", url, Some(&complex)).await, 200, 1000);
    assert_eq!(sql(&app, deleted).await, "0");
    assert_eq!(get(&app, url).await["id"], "14");
    let unknown = app
        .ocpi("DELETE", "/ocpi/2.2.1/tariffs/DE/ALL/99", None)
        .await;
    assert_answer(&unknown, 404, 2003);
}

#[tokio::test]
async fn tariff_patch_merges_on_2_1_1_only() {
    let app = TestApp::spawn().await;
    let url = "/ocpi/2.1.1/tariffs/NL/GFX/11";
    let body = json!({"id": "11", "currency": "EUR", "last_updated": "2021-01-01T00:00:00Z",
                      "elements": [{"price_components": [
                          {"type": "ENERGY", "price": "0.25", "step_size": 1}]}]});
    assert_answer(
        &app.ocpi("PUT", url, Some(&body.to_string())).await,
        201,
        1000,
    );
    let patch = json!({"tariff_alt_url": "https://example.com/t/11",
                       "last_updated": "2021-02-01T00:00:00Z"});
    assert_answer(
        &app.ocpi("PATCH", url, Some(&patch.to_string())).await,
        200,
        1000,
    );
    let stored = get(&app, url).await;
    assert_eq!(stored["tariff_alt_url"], "https://example.com/t/11");
    assert_eq!(
        stored["elements"][0]["price_components"][0]["price"],
        "0.25"
    );
    assert_eq!(stored["last_updated"], "2021-02-01T00:00:00Z");

    let unknown = app
        .ocpi(
            "PATCH",
            "/ocpi/2.1.1/tariffs/NL/GFX/12",
            Some(&patch.to_string()),
        )
        .await;
    assert_answer(&unknown, 404, 2003);
    let bad = json!({"elements": [{"price_components": [{"type": "ENERGY", "price": "abc"}]}]});
    let answer = app.ocpi("PATCH", url, Some(&bad.to_string())).await;
    assert_answer(&answer, 200, 2001);
    assert!(answer.message().contains("price"), "{}", answer.message());
}

// ---- anonymous callers, control characters, size and time -------------------

#[tokio::test]
async fn unauthenticated_requests_to_no_endpoint_leave_no_inbox_row() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limit_anonymous_per_minute = 1;
        config.rate_limit_anonymous_burst = 2;
    })
    .await;
    let nowhere = "/ocpi/2.1.1/nothing/NL/GFX/1";
    let wrong_method = "/ocpi/2.2.1/sessions/NL/GFX/S1";
    let answer = app.ocpi_as("PUT", nowhere, Some("{}"), None).await;
    assert_answer(&answer, 401, 2000);
    assert_eq!(answer.message(), "missing Authorization header");
    let answer = app
        .ocpi_as("DELETE", wrong_method, None, Some("Token guessed"))
        .await;
    assert_answer(&answer, 401, 2000);
    assert_eq!(answer.message(), "unknown token");
    // The anonymous limit applies whatever the URL.
    let answer = app.ocpi_as("PUT", nowhere, Some("{}"), None).await;
    assert_answer(&answer, 429, 2000);
    assert_eq!(sql(&app, "SELECT COUNT(*) || '' FROM inbox").await, "0");

    // With a token, the same requests keep their rows.
    assert_answer(&app.ocpi("PUT", nowhere, Some("{}")).await, 404, 2000);
    assert_answer(&app.ocpi("DELETE", wrong_method, None).await, 405, 2000);
    let rows = app
        .sqlite_column(
            "SELECT method || '|' || outcome || '|' || http_status || '|' \
             || CASE WHEN token_pk IS NULL THEN 'anonymous' ELSE 'token' END \
             FROM inbox ORDER BY id",
        )
        .await;
    assert_eq!(
        rows,
        ["PUT|no_route|404|token", "DELETE|no_route|405|token"]
    );
}

#[tokio::test]
async fn nul_in_values_is_removed_and_control_characters_in_ids_are_refused() {
    let app = TestApp::spawn().await;
    let location = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}");
    let body = fixture_with(
        "greenflux/push_location_put.json",
        json!({"name": "Gent\u{0}Zuid"}),
    );
    assert_answer(&app.put_location(GF_LOCATION, &body).await, 201, 1000);
    assert_eq!(sql(&app, "SELECT name FROM location").await, "GentZuid");
    let warnings = sql(&app, "SELECT warnings FROM inbox ORDER BY id DESC LIMIT 1").await;
    assert!(
        warnings.contains("$.name: NUL characters removed"),
        "{warnings}"
    );
    // The stored JSON keeps what was sent, escaped.
    assert_eq!(get(&app, &location).await["name"], "Gent\u{0}Zuid");

    let status = r#"{"status": "CHARGING"}"#;
    let evse = format!("{location}/BE%00X");
    for method in ["PATCH", "GET"] {
        let body = (method == "PATCH").then_some(status);
        let answer = app.ocpi(method, &evse, body).await;
        assert_answer(&answer, 200, 2001);
        assert_eq!(
            answer.message(),
            r"url.evse_uid: control characters are not allowed in an id (found BE\0X)"
        );
    }
    let answer = app
        .ocpi("PUT", "/ocpi/2.1.1/locations/NL/GFX/L%0A1", Some("{}"))
        .await;
    assert_answer(&answer, 200, 2001);
    assert_eq!(
        answer.message(),
        r"url.location_id: control characters are not allowed in an id (found L\n1)"
    );
    let body = fixture_with("greenflux/push_location_put.json", json!({"id": "L\u{0}2"}));
    let answer = app.put_location("L%002", &body).await;
    assert_answer(&answer, 200, 2001);
    let answer = app
        .ocpi("PUT", "/ocpi/2.1.1/locations/NL/GFX/L2", Some(&body))
        .await;
    assert_answer(&answer, 200, 2001);
    assert!(
        answer
            .message()
            .contains(r#"$.id: control characters are not allowed in an id, found "L\02""#),
        "{}",
        answer.message()
    );

    // A raw NUL byte is not JSON: 400, and the inbox row keeps the body escaped.
    let answer = app
        .ocpi("PUT", &location, Some("{\"name\": \"a\u{0}b\"}"))
        .await;
    assert_answer(&answer, 400, 2000);
    let rows = app
        .sqlite_column(
            "SELECT outcome || '|' || http_status || '|' || COALESCE(object_id, '-') || '|' \
             || COALESCE(body, '<none>') FROM inbox ORDER BY id",
        )
        .await;
    assert_eq!(
        rows[1..],
        [
            format!(r"rejected|200|BE\u0000X|{status}"),
            "rejected|200|L\n1|{}".to_owned(),
            format!("rejected|200|L\\u00002|{body}"),
            format!("rejected|200|L2|{body}"),
            format!("rejected|400|{GF_LOCATION}|{{\"name\": \"a\\u0000b\"}}"),
        ]
    );
    assert_eq!(sql(&app, "SELECT COUNT(*) || '' FROM location").await, "1");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_413_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|config| config.body_limit = 1024).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Declares 1 GiB and sends a few bytes: a server that reads before it
    // refuses would wait for the rest until the request timeout.
    let head = format!(
        "PUT /ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION} HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Token {}\r\nContent-Length: 1073741824\r\n\r\n{{\"id\":",
        app.addr, app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let mut len = 0;
        while !String::from_utf8_lossy(&answer[..len]).contains("\"timestamp\"") {
            match stream.read(&mut answer[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
        len
    })
    .await
    .expect("answered within 2 s, without waiting for the body");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(
            r#""status_code":2000,"status_message":"request body is over the limit of 1024 bytes""#
        ),
        "{answer}"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|config| config.request_timeout_ms = 300).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "PUT /ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION} HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Token {}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"id\":",
        app.addr, app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("answered once the body timed out")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains(
            r#""status_code":2000,"status_message":"request body not received within 300 ms""#
        ),
        "{answer}"
    );
    let rows = app
        .sqlite_column("SELECT outcome || '|' || COALESCE(body, '<none>') FROM inbox")
        .await;
    assert_eq!(rows, ["timed_out|<none>"]);
}

#[tokio::test]
async fn a_charging_period_without_start_is_dropped_with_a_warning() {
    let app = TestApp::spawn().await;
    let body = fixture_with(
        "greenflux/push_session_put.json",
        json!({"charging_periods": [
            {"dimensions": [{"type": "ENERGY", "volume": 1.5}]},
            period("2021-05-09T09:40:00Z", 2.0),
        ]}),
    );
    let answer = app.push_session("PUT", GF_SESSION, &body).await;
    assert_answer(&answer, 201, 1000);
    assert_eq!(period_starts(&app).await, ["2021-05-09T09:40:00Z"]);
    let warnings = sql(&app, "SELECT warnings FROM inbox ORDER BY id DESC LIMIT 1").await;
    assert!(
        warnings.contains(
            "$.charging_periods[0].start_date_time: missing required field; charging period dropped"
        ),
        "{warnings}"
    );
}

#[tokio::test]
async fn a_cdr_location_header_percent_encodes_its_id_and_the_get_on_it_finds_the_cdr() {
    let app = TestApp::spawn().await;
    let mut cdr: Value = serde_json::from_str(&fixture("2.1.1/cdr_example.json")).unwrap();
    cdr["id"] = json!("CDR 7/ü?");
    let posted = app.post_cdr(&cdr.to_string()).await;
    assert_answer(&posted, 201, 1000);

    let location = posted.headers["location"].to_str().unwrap();
    assert_eq!(
        location,
        app.url("/ocpi/2.1.1/cdrs/NL/GFX/CDR%207%2F%C3%BC%3F")
    );
    let path = location.split_once(&app.addr.to_string()).unwrap().1;
    let stored = get(&app, path).await;
    assert_eq!(stored["id"], "CDR 7/ü?");
    assert_eq!(stored["total_cost"], 4.0);
}
