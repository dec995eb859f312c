//! The GreenFlux day, end to end: pushes over HTTP, answers over GraphQL and a
//! live subscription.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const EVSE: &str = "BE-BEC-E041503001";
const SESSION: &str = "NLGFX637561499213897595-ef07d";
const CDR: &str = "NLGFX63759518932331194001";

const EVSE_STATUS_SUBSCRIPTION: &str = r#"subscription {
  evseStatusChanged(filter: {partyId: "GFX"}) {
    cursor ... on EvseStatusChange { uid locationId previousStatus status changedAt }
  }
}"#;

#[tokio::test]
async fn greenflux_day_is_stored_and_served() {
    let app = TestApp::spawn().await;
    let mut events = app.subscribe(EVSE_STATUS_SUBSCRIPTION, json!({})).await;

    let put = app
        .put_location(LOCATION, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!((put.status, put.code()), (201, 1000), "{:?}", put.body);
    for status in ["CHARGING", "AVAILABLE", "AVAILABLE"] {
        let body = format!(r#"{{"status": "{status}"}}"#);
        let patch = app.patch_evse(LOCATION, EVSE, &body).await;
        assert_eq!(
            (patch.status, patch.code()),
            (200, 1000),
            "{:?}",
            patch.body
        );
    }
    let unknown = app
        .patch_evse(
            LOCATION,
            "BE-BEC-E041503001-1",
            &fixture("greenflux/push_location_patch_evse_status.json"),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, 2003),
        "{:?}",
        unknown.body
    );

    push_session_day(&app).await;
    let cdr = app
        .post_cdr(&fixture("greenflux/cdr_pull_example_reconstructed.json"))
        .await;
    assert_eq!((cdr.status, cdr.code()), (201, 1000), "{:?}", cdr.body);
    let notification = app
        .put_notification(
            "dfa3b87a-bc90-447e-9541-88a9ac1bf618",
            &fixture("greenflux/notification_doc_example.json"),
        )
        .await;
    assert_eq!((notification.status, notification.code()), (201, 1000));

    assert_status_events(&mut events).await;
    assert_location(&app).await;
    assert_session(&app).await;
    assert_cdr(&app, &cdr.headers).await;
    assert_notification(&app).await;
}

async fn push_session_day(app: &TestApp) {
    let steps = [
        ("PUT", "greenflux/push_session_put.json", 201),
        ("PATCH", "greenflux/push_session_patch_compact.json", 200),
        ("PATCH", "greenflux/push_session_patch_full_15min.json", 200),
        ("PATCH", "greenflux/push_session_patch_completed.json", 200),
    ];
    for (method, file, status) in steps {
        let answer = app.push_session(method, SESSION, &fixture(file)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, 1000),
            "{file}: {:?}",
            answer.body
        );
    }
}

async fn assert_status_events(events: &mut crate::harness::Subscription) {
    let mut seen = Vec::new();
    while let Some(data) = events.next_data(Duration::from_millis(1500)).await {
        let e = &data["evseStatusChanged"];
        assert_eq!(e["uid"], EVSE);
        assert_eq!(e["locationId"], LOCATION);
        seen.push((e["previousStatus"].clone(), e["status"].clone()));
    }
    assert_eq!(
        seen,
        vec![
            (Value::Null, json!("AVAILABLE")),
            (json!("AVAILABLE"), json!("CHARGING")),
            (json!("CHARGING"), json!("AVAILABLE")),
        ]
    );
}

async fn assert_location(app: &TestApp) {
    let query = r#"query($id: String!) {
      location(countryCode: "nl", partyId: "gfx", ocpiId: $id) {
        ocpiId name city publish lastUpdated locationType locationTypeRaw
        evses { uid evseId status statusSince connectors { connectorId standard powerType maxVoltage maxAmperage tariffIds } }
      }
      locations(first: 10, filter: {city: "Gent"}) { totalCount nodes { ocpiId } }
    }"#;
    let data = app.graphql(query, json!({"id": LOCATION})).await;
    let location = &data["location"];
    assert_eq!(location["ocpiId"], LOCATION);
    assert_eq!(location["name"], "Gent Zuid");
    assert_eq!(location["publish"], true);
    assert_eq!(location["locationType"], "ON_STREET");
    assert_eq!(location["locationTypeRaw"], "ON_STREET");
    assert_eq!(location["lastUpdated"], "2021-06-29T20:39:09Z");
    let evses = location["evses"].as_array().unwrap();
    assert_eq!(evses.len(), 1);
    assert_eq!(evses[0]["uid"], EVSE);
    assert_eq!(evses[0]["evseId"], "BE*BEC*E041503001");
    assert_eq!(evses[0]["status"], "AVAILABLE");
    assert!(evses[0]["statusSince"].as_str().unwrap().ends_with('Z'));
    let connector = &evses[0]["connectors"][0];
    assert_eq!(connector["connectorId"], "1");
    assert_eq!(connector["standard"], "IEC_62196_T2");
    assert_eq!(connector["powerType"], "AC_3_PHASE");
    assert_eq!(connector["maxVoltage"], 220);
    assert_eq!(connector["maxAmperage"], 16);
    assert_eq!(connector["tariffIds"], json!(["11"]));
    assert_eq!(data["locations"]["totalCount"], 1);
    assert_eq!(data["locations"]["nodes"][0]["ocpiId"], LOCATION);
}

async fn assert_session(app: &TestApp) {
    let query = r#"query($id: String!) {
      session(countryCode: "NL", partyId: "GFX", ocpiId: $id) {
        status kwh startDateTime endDateTime authId currency incomplete
        chargingPeriods { startDateTime dimensions { type volume } }
        timeline { nodes { status kwh applied } }
      }
    }"#;
    let data = app.graphql(query, json!({"id": SESSION})).await;
    let session = &data["session"];
    assert_eq!(session["status"], "COMPLETED");
    assert_eq!(session["kwh"], "11.2");
    assert_eq!(session["startDateTime"], "2021-05-09T09:38:39Z");
    assert_eq!(session["endDateTime"], "2021-05-09T11:02:10Z");
    assert_eq!(session["authId"], "NL*GFX*0dd6AE*6");
    assert_eq!(session["currency"], "EUR");
    assert_eq!(session["incomplete"], false);
    assert_eq!(
        session["chargingPeriods"],
        json!([{
            "startDateTime": "2021-05-09T09:38:39Z",
            "dimensions": [{"type": "TIME", "volume": "0.0833"}, {"type": "ENERGY", "volume": "0.285"}]
        }])
    );
    let kwh: Vec<&str> = session["timeline"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kwh"].as_str().unwrap())
        .collect();
    assert_eq!(kwh, ["0", "0.285", "0.285", "11.2"]);
}

async fn assert_cdr(app: &TestApp, headers: &reqwest::header::HeaderMap) {
    let location = headers["location"].to_str().unwrap();
    assert_eq!(location, app.url(&format!("/ocpi/2.1.1/cdrs/NL/GFX/{CDR}")));
    let get = app
        .ocpi("GET", &format!("/ocpi/2.1.1/cdrs/NL/GFX/{CDR}"), None)
        .await;
    assert_eq!((get.status, get.code()), (200, 1000));
    assert_eq!(get.body["data"]["total_cost"], 3.11);

    let query = r#"query($id: String!) {
      cdr(countryCode: "NL", partyId: "GFX", ocpiId: $id) {
        ocpiId locationId totalCost totalEnergy totalTime totalParkingTime currency
        startDateTime endDateTime location { ocpiId }
      }
      locations(first: 10) { totalCount }
    }"#;
    let data = app.graphql(query, json!({"id": CDR})).await;
    let cdr = &data["cdr"];
    assert_eq!(cdr["locationId"], "2738009c-0aa9-4197-8c16-7cc93fa1fa69");
    assert_eq!(cdr["totalCost"], "3.11");
    assert_eq!(cdr["totalEnergy"], "10.363");
    assert_eq!(cdr["totalTime"], "0.8981");
    assert_eq!(cdr["totalParkingTime"], "0");
    assert_eq!(cdr["currency"], "EUR");
    assert_eq!(cdr["startDateTime"], "2021-06-17T08:35:34Z");
    assert_eq!(cdr["endDateTime"], "2021-06-17T09:29:27Z");
    assert_eq!(
        cdr["location"],
        Value::Null,
        "the CDR's location was never pushed"
    );
    assert_eq!(
        data["locations"]["totalCount"], 1,
        "no location created from a CDR"
    );
}

async fn assert_notification(app: &TestApp) {
    let query = r#"{
      notification(countryCode: "NL", partyId: "GFX", notificationId: "dfa3b87a-bc90-447e-9541-88a9ac1bf618") {
        chargeStationId evseId locationId level created payloadJson
      }
    }"#;
    let data = app.graphql(query, json!({})).await;
    let n = &data["notification"];
    assert_eq!(n["chargeStationId"], "041503001");
    assert_eq!(n["evseId"], "BE-BEC-E041503001-1");
    assert_eq!(n["locationId"], LOCATION);
    assert_eq!(n["created"], "2021-12-09T08:12:17Z");
    assert_eq!(n["payloadJson"]["status"], "SuspendedEV");
    assert_eq!(n["payloadJson"]["errorCode"], "NoError");
}

#[tokio::test]
async fn amounts_are_stored_as_fixed_point_integers() {
    let app = TestApp::spawn().await;
    let session = r#"{"id": "S1", "start_datetime": "2021-05-09T09:38:39Z", "kwh": 12345678.123456,
        "auth_id": "A", "auth_method": "WHITELIST", "currency": "EUR",
        "total_cost": {"excl_vat": 0.30000000000000004, "incl_vat": 0.363},
        "charging_periods": [{"start_date_time": "2021-05-09T09:38:39Z",
            "dimensions": [{"type": "ENERGY", "volume": 1.5}, {"type": "TIME", "volume": 0.25}]}],
        "status": "ACTIVE", "last_updated": "2021-05-09T09:38:41Z"}"#;
    let answer = app.push_session("PUT", "S1", session).await;
    assert_eq!(answer.code(), 1000, "{:?}", answer.body);
    let mut cdr: serde_json::Value =
        serde_json::from_str(&fixture("greenflux/cdr_pull_example_reconstructed.json")).unwrap();
    cdr["total_cost"] = json!({"excl_vat": 2.5, "incl_vat": 3.025});
    let cdr = app.post_cdr(&cdr.to_string()).await;
    assert_eq!(cdr.code(), 1000, "{:?}", cdr.body);

    // Every amount column, each with a row, each a 64-bit integer.
    let columns = [
        ("session", "kwh_micro"),
        ("session", "total_cost_micro"),
        ("session", "total_cost_incl_vat_micro"),
        ("session_event", "kwh_micro"),
        ("session_event", "total_cost_micro"),
        ("charging_period", "energy_micro"),
        ("charging_period", "time_micro"),
        ("cdr", "total_cost_micro"),
        ("cdr", "total_cost_incl_vat_micro"),
        ("cdr", "total_energy_micro"),
        ("cdr", "total_time_micro"),
        ("cdr", "total_parking_time_micro"),
    ];
    for (table, column) in columns {
        let count = app
            .sqlite_column(&format!(
                "SELECT CAST(COUNT({column}) AS TEXT) FROM {table}"
            ))
            .await;
        assert_ne!(count, ["0"], "{table}.{column} has no value to check");
        let types = if app.is_postgres() {
            app.sqlite_column(&format!(
                "SELECT data_type::text FROM information_schema.columns \
                 WHERE table_name = '{table}' AND column_name = '{column}'"
            ))
            .await
        } else {
            app.sqlite_column(&format!(
                "SELECT DISTINCT typeof({column}) FROM {table} WHERE {column} IS NOT NULL"
            ))
            .await
        };
        let want = if app.is_postgres() {
            "bigint"
        } else {
            "integer"
        };
        assert_eq!(types, [want], "{table}.{column}");
    }
    let stored = app
        .sqlite_column(
            "SELECT CAST(energy_micro AS TEXT) || '|' || CAST(time_micro AS TEXT) \
             FROM charging_period",
        )
        .await;
    assert_eq!(stored, ["1500000|250000"]);
    let stored = app
        .sqlite_column(
            "SELECT CAST(total_cost_micro AS TEXT) || '|' || \
             CAST(total_cost_incl_vat_micro AS TEXT) FROM cdr",
        )
        .await;
    assert_eq!(stored, ["2500000|3025000"]);
    let kwh = app
        .sqlite_column("SELECT CAST(kwh_micro AS TEXT) FROM session")
        .await;
    assert_eq!(kwh, ["12345678123456"]);
    let data = app
        .graphql(
            r#"{ session(countryCode: "NL", partyId: "GFX", ocpiId: "s1") { kwh totalCost } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["session"]["kwh"], "12345678.123456");
    assert_eq!(data["session"]["totalCost"], "0.3");
}

#[tokio::test]
async fn a_failed_transaction_emits_no_event() {
    let app = TestApp::spawn().await;
    let mut events = app.subscribe(EVSE_STATUS_SUBSCRIPTION, json!({})).await;
    // The second EVSE's connector has a wrongly typed field: the whole PUT is
    // refused, so the first EVSE's status change must not be emitted either.
    let body = json!({
        "id": "LOC-BAD", "type": "ON_STREET", "address": "a", "city": "c", "postal_code": "1",
        "country": "NLD", "coordinates": {"latitude": "52.000000", "longitude": "4.000000"},
        "evses": [
            {"uid": "E1", "status": "AVAILABLE", "connectors": [], "last_updated": "2021-01-01T00:00:00Z"},
            {"uid": "E2", "status": "AVAILABLE", "connectors": [{"id": "1", "voltage": {"v": 1}}],
             "last_updated": "2021-01-01T00:00:00Z"}
        ],
        "last_updated": "2021-01-01T00:00:00Z"
    });
    let answer = app.put_location("LOC-BAD", &body.to_string()).await;
    assert_eq!((answer.status, answer.code()), (200, 2001));
    assert!(
        answer
            .message()
            .contains("$.evses[1].connectors[0].voltage"),
        "{}",
        answer.message()
    );
    assert_eq!(events.next_data(Duration::from_millis(800)).await, None);
    let outbox = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM outbox")
        .await;
    assert_eq!(outbox, ["0"]);

    // A store failure inside the transaction: a trigger refuses the outbox row,
    // so the push fails after its location and EVSE rows were written.
    app.refuse_outbox_inserts().await;
    let good = body
        .to_string()
        .replace(r#"{"v":1}"#, "230")
        .replace("LOC-BAD", "LOC-OK");
    let failed = app.put_location("LOC-OK", &good).await;
    assert_eq!((failed.status, failed.code()), (500, 3000));
    assert_eq!(events.next_data(Duration::from_millis(800)).await, None);
    let locations = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM location")
        .await;
    assert_eq!(
        locations,
        ["0"],
        "nothing of the failed transaction is kept"
    );
}
