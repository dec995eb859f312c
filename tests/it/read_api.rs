//! The GraphQL read API over data pushed through the OCPI receiver, on the
//! backend the environment selects: geo search and distances, filters,
//! orders with cursors, status history, availability, timelines and curves.

use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};

const GENT: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const EVSE: &str = "BE-BEC-E041503001";
const SESSION: &str = "NLGFX637561499213897595-ef07d";

/// A 2.1.1 location with one EVSE and one connector.
fn location(id: &str, name: &str, (lat, lon): (&str, &str), connector: Value) -> String {
    json!({
        "id": id, "type": "ON_STREET", "name": name, "address": "Stationsplein 1",
        "city": "Brussel", "postal_code": "1000", "country": "BEL",
        "coordinates": { "latitude": lat, "longitude": lon },
        "evses": [{ "uid": format!("{id}-1"), "status": "AVAILABLE", "connectors": [connector],
            "last_updated": "2021-06-01T00:00:00Z" }],
        "last_updated": "2021-06-01T00:00:00Z"
    })
    .to_string()
}

async fn seed(app: &TestApp) {
    let gent = app
        .put_location(GENT, &fixture("greenflux/push_location_put.json"))
        .await;
    assert_eq!(gent.code(), 1000, "{:?}", gent.body);
    let ccs = json!({ "id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE",
        "power_type": "DC", "voltage": 400, "amperage": 125, "max_electric_power": 50000,
        "last_updated": "2021-06-01T00:00:00Z" });
    let chademo = json!({ "id": "1", "standard": "CHADEMO", "format": "CABLE",
        "power_type": "DC", "voltage": 400, "amperage": 50,
        "last_updated": "2021-06-01T00:00:00Z" });
    for (id, name, coordinates, connector) in [
        ("ANT", "Antwerpen Centraal", ("51.217222", "4.421111"), ccs),
        ("BXL", "Brussel Zuid", ("50.835556", "4.336111"), chademo),
    ] {
        let put = app
            .put_location(id, &location(id, name, coordinates, connector))
            .await;
        assert_eq!(put.code(), 1000, "{:?}", put.body);
    }
}

fn ids(page: &Value) -> Vec<&str> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["ocpiId"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn radius_search_orders_by_distance_with_cursors_on_either_backend() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let query = r#"query($after: String) {
      locations(first: 1, after: $after, near: { latitude: 51.047599, longitude: 3.729944, radius: 50000 }) {
        totalCount edges { distance node { ocpiId } } pageInfo { hasNextPage endCursor } } }"#;

    let first = app.graphql(query, json!({})).await;
    let after = first["locations"]["pageInfo"]["endCursor"].clone();
    let second = app.graphql(query, json!({ "after": after })).await;
    let all = app
        .graphql(
            r#"{ locations(near: { latitude: 51.047599, longitude: 3.729944 },
                orderBy: { field: DISTANCE, direction: DESC }) { edges { distance node { ocpiId } } } }"#,
            json!({}),
        )
        .await;

    // Haversine with R = 6371008.8 m: Brussel Zuid 48577.0 m, Antwerpen 51784.6 m.
    assert_eq!(first["locations"]["totalCount"], 2);
    assert_eq!(ids(&first["locations"]), [GENT]);
    assert!(first["locations"]["edges"][0]["distance"].as_f64().unwrap() < 0.01);
    assert_eq!(first["locations"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(ids(&second["locations"]), ["BXL"]);
    let brussel = second["locations"]["edges"][0]["distance"]
        .as_f64()
        .unwrap();
    assert!((brussel - 48_577.0).abs() < 0.1, "{brussel}");
    assert_eq!(second["locations"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(ids(&all["locations"]), ["ANT", "BXL", GENT]);
    let antwerpen = all["locations"]["edges"][0]["distance"].as_f64().unwrap();
    assert!((antwerpen - 51_784.6).abs() < 0.1, "{antwerpen}");
}

#[tokio::test]
async fn filters_and_name_order_work_on_either_backend() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let patch = app
        .patch_evse(
            "BXL",
            "BXL-1",
            r#"{"status": "CHARGING", "last_updated": "2021-06-02T00:00:00Z"}"#,
        )
        .await;
    assert_eq!(patch.code(), 1000, "{:?}", patch.body);

    let got = app
        .graphql(
            r#"{ dc: locations(filter: { powerTypes: [DC], minPower: 50000 }) { edges { node { ocpiId } } }
                 chademo: locations(filter: { connectorStandards: [CHADEMO], evseStatuses: [CHARGING] }) { edges { node { ocpiId } } }
                 ac: locations(filter: { minPower: 10000, powerTypes: [AC_3_PHASE] }) { edges { node { ocpiId } } }
                 text: locations(filter: { text: "zuid" }, orderBy: { field: NAME, direction: DESC }) {
                    edges { node { ocpiId } } pageInfo { endCursor } }
                 box: locations(boundingBox: { north: 51.3, south: 51.1, east: 4.5, west: 4.3 }) { totalCount }
                 statusSummary(filter: { countryCode: "nl" }) { total counts { status count } } }"#,
            json!({}),
        )
        .await;

    // CHAdeMO 400 V x 50 A = 20 kW; Gent's Type 2 is 220 V x 16 A x 3 = 10560 W.
    assert_eq!(ids(&got["dc"]), ["ANT"]);
    assert_eq!(ids(&got["chademo"]), ["BXL"]);
    assert_eq!(ids(&got["ac"]), [GENT]);
    assert_eq!(
        ids(&got["text"]),
        [GENT, "BXL"],
        "Gent Zuid, then Brussel Zuid: by name descending"
    );
    assert_eq!(got["box"]["totalCount"], 1);
    assert_eq!(
        got["statusSummary"],
        json!({ "total": 3, "counts": [{ "status": "AVAILABLE", "count": 2 }, { "status": "CHARGING", "count": 1 }] })
    );

    let cursor = got["text"]["pageInfo"]["endCursor"].clone();
    let before = app
        .graphql(
            r#"query($c: String) { locations(last: 5, before: $c, filter: { text: "ZUID" },
                orderBy: { field: NAME, direction: DESC }) { edges { node { ocpiId } } } }"#,
            json!({ "c": cursor }),
        )
        .await;
    assert_eq!(ids(&before["locations"]), [GENT]);
}

#[tokio::test]
async fn status_history_availability_timeline_and_curve_on_either_backend() {
    let app = TestApp::spawn().await;
    app.put_location(GENT, &fixture("greenflux/push_location_put.json"))
        .await;
    for (status, stamp) in [
        ("CHARGING", "2021-06-30T10:00:00Z"),
        ("AVAILABLE", "2021-06-30T11:00:00Z"),
    ] {
        let body = json!({ "status": status, "last_updated": stamp }).to_string();
        let patch = app.patch_evse(GENT, EVSE, &body).await;
        assert_eq!(patch.code(), 1000, "{:?}", patch.body);
    }
    for (method, file) in [
        ("PUT", "greenflux/push_session_put.json"),
        ("PATCH", "greenflux/push_session_patch_compact.json"),
        ("PATCH", "greenflux/push_session_patch_full_15min.json"),
        ("PATCH", "greenflux/push_session_patch_completed.json"),
    ] {
        let answer = app.push_session(method, SESSION, &fixture(file)).await;
        assert_eq!(answer.code(), 1000, "{file}: {:?}", answer.body);
    }

    let got = app
        .graphql(
            r#"query($id: String!, $s: String!) {
              location(countryCode: "NL", partyId: "GFX", ocpiId: $id) {
                sessions { totalCount nodes { ocpiId } }
                evses {
                  statusHistory(last: 2) { totalCount nodes { previousStatus status changedAt } }
                  availability(from: "2021-06-30T09:30:00Z", to: "2021-06-30T11:30:00Z") {
                    shares { status seconds share } } } }
              session(countryCode: "NL", partyId: "GFX", ocpiId: $s) {
                timeline(first: 3) { totalCount nodes { status kwh } pageInfo { hasNextPage } }
                chargingCurve { source points { start end energy averagePower } } } }"#,
            json!({ "id": GENT, "s": SESSION }),
        )
        .await;

    let evse = &got["location"]["evses"][0];
    assert_eq!(evse["statusHistory"]["totalCount"], 3);
    assert_eq!(
        evse["statusHistory"]["nodes"],
        json!([
            { "previousStatus": "AVAILABLE", "status": "CHARGING", "changedAt": "2021-06-30T10:00:00Z" },
            { "previousStatus": "CHARGING", "status": "AVAILABLE", "changedAt": "2021-06-30T11:00:00Z" }
        ])
    );
    // AVAILABLE (since the PUT) 09:30-10:00 and 11:00-11:30, CHARGING 10:00-11:00.
    assert_eq!(
        evse["availability"]["shares"],
        json!([{ "status": "AVAILABLE", "seconds": 3600.0, "share": 0.5 },
               { "status": "CHARGING", "seconds": 3600.0, "share": 0.5 }])
    );
    assert_eq!(
        got["location"]["sessions"],
        json!({ "totalCount": 1, "nodes": [{ "ocpiId": SESSION }] })
    );
    let session = &got["session"];
    assert_eq!(
        session["timeline"],
        json!({ "totalCount": 4, "pageInfo": { "hasNextPage": true }, "nodes": [
            { "status": "ACTIVE", "kwh": "0" }, { "status": "ACTIVE", "kwh": "0.285" },
            { "status": "ACTIVE", "kwh": "0.285" }] })
    );
    // One period, 09:38:39 to the end at 11:02:10 (5011 s): 0.285 kWh x 3600 / 5011 s.
    assert_eq!(
        session["chargingCurve"],
        json!({ "source": "CHARGING_PERIODS", "points": [{ "start": "2021-05-09T09:38:39Z",
            "end": "2021-05-09T11:02:10Z", "energy": "0.285", "averagePower": "0.20475" }] })
    );
}

#[tokio::test]
async fn removed_evses_are_hidden_and_a_location_of_only_removed_evses_is_expired() {
    let app = TestApp::spawn().await;
    let gent = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(GENT, &gent).await.code(), 1000);
    let loc1 = fixture("2.1.1/location_example.json");
    let put = app
        .ocpi("PUT", "/ocpi/2.1.1/locations/NL/GFX/LOC1", Some(&loc1))
        .await;
    assert_eq!(put.code(), 1000);
    let removed = r#"{"status": "REMOVED"}"#;
    assert_eq!(app.patch_evse(GENT, EVSE, removed).await.code(), 1000);
    assert_eq!(app.patch_evse("LOC1", "3257", removed).await.code(), 1000);

    let query = r#"query($all: Boolean!) {
        locations(filter: {includeExpired: $all}) { totalCount nodes { ocpiId } }
        gent: location(countryCode: "NL", partyId: "GFX", ocpiId: "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa") {
            evses(includeRemoved: $all) { uid status statusHistory { totalCount } }
        }
        loc1: location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC1") {
            evses(includeRemoved: $all) { uid status }
        }
        statusSummary(filter: {includeExpired: $all}, includeRemoved: $all) {
            total counts { statusRaw count }
            byLocation { nodes { location { ocpiId } total } }
        }
    }"#;
    let hidden = app.graphql(query, json!({"all": false})).await;
    assert_eq!(
        hidden,
        json!({
            "locations": {"totalCount": 1, "nodes": [{"ocpiId": "LOC1"}]},
            "gent": {"evses": []},
            "loc1": {"evses": [{"uid": "3256", "status": "AVAILABLE"}]},
            "statusSummary": {
                "total": 1,
                "counts": [{"statusRaw": "AVAILABLE", "count": 1}],
                "byLocation": {"nodes": [{"location": {"ocpiId": "LOC1"}, "total": 1}]},
            },
        })
    );
    let shown = app.graphql(query, json!({"all": true})).await;
    assert_eq!(
        shown,
        json!({
            "locations": {"totalCount": 2, "nodes": [{"ocpiId": GENT}, {"ocpiId": "LOC1"}]},
            "gent": {"evses": [
                {"uid": EVSE, "status": "REMOVED", "statusHistory": {"totalCount": 2}},
            ]},
            "loc1": {"evses": [
                {"uid": "3256", "status": "AVAILABLE"},
                {"uid": "3257", "status": "REMOVED"},
            ]},
            "statusSummary": {
                "total": 3,
                "counts": [
                    {"statusRaw": "AVAILABLE", "count": 1},
                    {"statusRaw": "REMOVED", "count": 2},
                ],
                "byLocation": {"nodes": [
                    {"location": {"ocpiId": GENT}, "total": 1},
                    {"location": {"ocpiId": "LOC1"}, "total": 2},
                ]},
            },
        })
    );
}
