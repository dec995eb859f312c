//! The read API over a seeded SQLite file: geo search, filters, orders and
//! their cursors, nested connections, availability, curves, party scope,
//! statement counts and descriptions.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};

use super::{data, errors, fixture, Fixture};
use crate::domain::{Access, Party};
use crate::events::Events;
use crate::graphql::{build_schema, AppSchema, Limits};
use crate::store::locations::{save, LocationRow};
use crate::store::Store;

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, h, m, 0).unwrap()
}

/// A location as ingest saves it (the unit vector is derived by `save`).
struct Loc<'a> {
    party: &'a str,
    id: &'a str,
    name: Option<&'a str>,
    address: &'a str,
    city: &'a str,
    postal_code: &'a str,
    coordinates: Option<(f64, f64)>,
    publish: bool,
    last_updated: DateTime<Utc>,
}

impl Default for Loc<'_> {
    fn default() -> Self {
        Loc {
            party: "GFX",
            id: "L",
            name: None,
            address: "Stationsplein 1",
            city: "Amsterdam",
            postal_code: "1012 AB",
            coordinates: None,
            publish: true,
            last_updated: at(1, 8, 0),
        }
    }
}

async fn location(store: &Store, loc: Loc<'_>) -> i64 {
    let row = LocationRow {
        country_code: "NL".into(),
        party_id: loc.party.into(),
        ocpi_id: loc.id.into(),
        name: loc.name.map(str::to_owned),
        address: Some(loc.address.into()),
        city: Some(loc.city.into()),
        postal_code: Some(loc.postal_code.into()),
        latitude: loc.coordinates.map(|c| format!("{:.6}", c.0)),
        longitude: loc.coordinates.map(|c| format!("{:.6}", c.1)),
        latitude_deg: loc.coordinates.map(|c| c.0),
        longitude_deg: loc.coordinates.map(|c| c.1),
        publish: Some(loc.publish),
        last_updated: Some(loc.last_updated),
        received_at: loc.last_updated,
        raw: "{}".into(),
        ..LocationRow::default()
    };
    save(store.db(), None, row).await.unwrap().id
}

async fn evse(store: &Store, location_pk: i64, uid: &str, status: &str) -> i64 {
    let row = entity::evse::ActiveModel {
        location_pk: Set(location_pk),
        uid: Set(uid.into()),
        uid_key: Set(uid.to_uppercase()),
        evse_id: Set(None),
        status: Set(Some(status.into())),
        status_since: Set(Some(at(1, 8, 0))),
        last_updated: Set(Some(at(1, 8, 0))),
        received_at: Set(at(1, 8, 0)),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap().id
}

/// A connector: (standard, power type, volts, amps, max_electric_power).
async fn connector(
    store: &Store,
    evse_pk: i64,
    id: &str,
    (standard, power_type, volts, amps, watts): (&str, &str, i64, i64, Option<i64>),
) {
    let row = entity::connector::ActiveModel {
        evse_pk: Set(evse_pk),
        connector_id: Set(id.into()),
        connector_id_key: Set(id.to_uppercase()),
        standard: Set(Some(standard.into())),
        format: Set(Some("SOCKET".into())),
        power_type: Set(Some(power_type.into())),
        max_voltage: Set(Some(volts)),
        max_amperage: Set(Some(amps)),
        max_electric_power: Set(watts),
        tariff_ids: Set("[]".into()),
        last_updated: Set(None),
        received_at: Set(at(1, 8, 0)),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

async fn change(store: &Store, evse_pk: i64, location_pk: i64, status: &str, when: DateTime<Utc>) {
    let row = entity::evse_status_history::ActiveModel {
        evse_pk: Set(evse_pk),
        location_pk: Set(location_pk),
        previous_status: Set(None),
        status: Set(status.into()),
        changed_at: Set(when),
        received_at: Set(when),
        stamp_from_sender: Set(true),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

/// A session of NL/`party` at a location: (id, evse uid, status, token, start).
async fn session(
    store: &Store,
    party: &str,
    location: Option<(i64, &str)>,
    (id, evse_uid, status, token, start): (&str, &str, &str, &str, DateTime<Utc>),
) -> i64 {
    let row = entity::session::ActiveModel {
        country_code: Set("NL".into()),
        party_id: Set(party.into()),
        ocpi_id: Set(id.into()),
        country_code_key: Set("NL".into()),
        party_id_key: Set(party.to_uppercase()),
        ocpi_id_key: Set(id.to_uppercase()),
        location_id: Set(location.map(|l| l.1.to_owned())),
        evse_uid: Set(Some(evse_uid.into())),
        connector_id: Set(Some("1".into())),
        location_pk: Set(location.map(|l| l.0)),
        start_date_time: Set(Some(start)),
        end_date_time: Set(Some(start + chrono::Duration::minutes(90))),
        kwh_micro: Set(Some(11_200_000)),
        auth_id: Set(Some(token.into())),
        auth_method: Set(Some("WHITELIST".into())),
        token_uid: Set(None),
        currency: Set(Some("EUR".into())),
        total_cost_micro: Set(Some(3_920_000)),
        total_cost_incl_vat_micro: Set(None),
        status: Set(Some(status.into())),
        incomplete: Set(false),
        last_updated: Set(Some(start)),
        received_at: Set(start),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap().id
}

async fn event(
    store: &Store,
    session_pk: i64,
    when: DateTime<Utc>,
    kwh: Option<i64>,
    applied: bool,
) {
    let row = entity::session_event::ActiveModel {
        session_pk: Set(session_pk),
        inbox_pk: Set(None),
        method: Set("PATCH".into()),
        at: Set(when),
        received_at: Set(when),
        status: Set(Some("ACTIVE".into())),
        kwh_micro: Set(kwh),
        total_cost_micro: Set(None),
        applied: Set(applied),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

/// A CDR of NL/`party`: (id, session id, currency, start, tariff ids).
async fn cdr(
    store: &Store,
    party: &str,
    location_pk: Option<i64>,
    (id, session_id, currency, start, tariffs): (&str, &str, &str, DateTime<Utc>, &str),
) {
    let row = entity::cdr::ActiveModel {
        country_code: Set("NL".into()),
        party_id: Set(party.into()),
        ocpi_id: Set(id.into()),
        country_code_key: Set("NL".into()),
        party_id_key: Set(party.to_uppercase()),
        ocpi_id_key: Set(id.to_uppercase()),
        session_id: Set(Some(session_id.into())),
        location_id: Set(Some("A".into())),
        evse_uid: Set(Some("E1".into())),
        connector_id: Set(Some("1".into())),
        location_pk: Set(location_pk),
        start_date_time: Set(Some(start)),
        end_date_time: Set(Some(start + chrono::Duration::minutes(90))),
        auth_id: Set(Some("TOKEN-1".into())),
        auth_method: Set(Some("WHITELIST".into())),
        token_uid: Set(None),
        currency: Set(Some(currency.into())),
        total_cost_micro: Set(Some(3_920_000)),
        total_cost_incl_vat_micro: Set(Some(4_743_200)),
        total_energy_micro: Set(Some(11_200_000)),
        total_time_micro: Set(Some(1_500_000)),
        total_parking_time_micro: Set(Some(0)),
        tariff_ids: Set(tariffs.into()),
        // The helper's lists are upper-case and sorted already.
        tariff_key: Set(tariffs.into()),
        credit: Set(false),
        credit_reference_id: Set(None),
        credit_of_pk: Set(None),
        last_updated: Set(Some(start)),
        received_at: Set(start),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

async fn tariff(store: &Store, party: &str, id: &str, currency: &str, deleted: bool) {
    let row = entity::tariff::ActiveModel {
        country_code: Set("NL".into()),
        party_id: Set(party.into()),
        ocpi_id: Set(id.into()),
        country_code_key: Set("NL".into()),
        party_id_key: Set(party.to_uppercase()),
        ocpi_id_key: Set(id.to_uppercase()),
        currency: Set(Some(currency.into())),
        tariff_type: Set(Some("REGULAR".into())),
        start_date_time: Set(None),
        end_date_time: Set(None),
        last_updated: Set(Some(at(1, 0, 0))),
        received_at: Set(at(1, 0, 0)),
        deleted_at: Set(deleted.then(|| at(2, 0, 0))),
        raw: Set(r#"{"id":"T","elements":[{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}]}"#.into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

async fn notification(
    store: &Store,
    party: &str,
    id: &str,
    station: &str,
    level: &str,
    created: DateTime<Utc>,
) {
    let row = entity::notification::ActiveModel {
        country_code: Set("NL".into()),
        party_id: Set(party.to_uppercase()),
        notification_id: Set(id.into()),
        notification_id_key: Set(id.to_uppercase()),
        charge_station_notification_id: Set(None),
        charge_station_id: Set(Some(station.into())),
        evse_id: Set(None),
        location_id: Set(Some("A".into())),
        message_action: Set(Some("StatusNotification".into())),
        message_type: Set(Some("Request".into())),
        direction: Set(Some("Incoming".into())),
        level: Set(Some(level.into())),
        created: Set(Some(created)),
        payload: Set(None),
        payload_json: Set(None),
        received_at: Set(created),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

const AMSTERDAM: (f64, f64) = (52.379189, 4.899431);
const UTRECHT: (f64, f64) = (52.089444, 5.110278);
const ROTTERDAM: (f64, f64) = (51.92442, 4.477733);
const GENT: (f64, f64) = (51.036046, 3.710252);

async fn four_cities(f: &Fixture) {
    for (id, name, coordinates) in [
        ("R", "Rotterdam Centraal", ROTTERDAM),
        ("G", "Gent Sint-Pieters", GENT),
        ("U", "Utrecht Centraal", UTRECHT),
        ("A", "Amsterdam Centraal", AMSTERDAM),
    ] {
        let loc = Loc {
            id,
            name: Some(name),
            coordinates: Some(coordinates),
            ..Loc::default()
        };
        location(&f.store, loc).await;
    }
    let nowhere = Loc {
        id: "X",
        name: Some("No coordinates"),
        ..Loc::default()
    };
    location(&f.store, nowhere).await;
}

fn ids(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["ocpiId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn radius_search_sorts_by_haversine_distance_across_pages() {
    let f = fixture().await;
    four_cities(&f).await;
    let near = "near: { latitude: 52.379189, longitude: 4.899431, radius: 60000 }";

    let first = data(
        &f.schema,
        &format!(
            "{{ locations(first: 2, {near}) {{ totalCount
            edges {{ distance node {{ ocpiId }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        ),
    )
    .await;
    let page = &first["locations"];
    let after = page["pageInfo"]["endCursor"].as_str().unwrap();
    let second = data(
        &f.schema,
        &format!(r#"{{ locations(first: 2, after: "{after}", {near}) {{
            edges {{ distance node {{ ocpiId }} }} pageInfo {{ hasNextPage hasPreviousPage }} }} }}"#),
    )
    .await;

    // Haversine, R = 6371008.8 m: Utrecht 35272.9 m, Rotterdam 58179.6 m.
    assert_eq!(page["totalCount"], 3, "Gent (170 km) and X are outside");
    assert_eq!(ids(page), ["A", "U"]);
    assert!(page["edges"][0]["distance"].as_f64().unwrap() < 0.01);
    let utrecht = page["edges"][1]["distance"].as_f64().unwrap();
    assert!((utrecht - 35_272.9).abs() < 0.1, "{utrecht}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest = &second["locations"];
    assert_eq!(ids(rest), ["R"]);
    let rotterdam = rest["edges"][0]["distance"].as_f64().unwrap();
    assert!((rotterdam - 58_179.6).abs() < 0.1, "{rotterdam}");
    assert_eq!(
        rest["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": true })
    );
}

#[tokio::test]
async fn distance_order_without_radius_covers_every_located_location_and_reverses() {
    let f = fixture().await;
    four_cities(&f).await;

    let got = data(
        &f.schema,
        r#"{ far: locations(near: { latitude: 52.379189, longitude: 4.899431 },
                orderBy: { field: DISTANCE, direction: DESC }) { totalCount edges { node { ocpiId } } }
             last: locations(last: 2, near: { latitude: 52.379189, longitude: 4.899431 }) {
                edges { node { ocpiId } } pageInfo { hasPreviousPage hasNextPage } } }"#,
    )
    .await;

    assert_eq!(got["far"]["totalCount"], 4);
    assert_eq!(ids(&got["far"]), ["G", "R", "U", "A"]);
    assert_eq!(ids(&got["last"]), ["R", "G"]);
    assert_eq!(
        got["last"]["pageInfo"],
        json!({ "hasPreviousPage": true, "hasNextPage": false })
    );

    let no_point = errors(
        &f.schema,
        "{ locations(orderBy: { field: DISTANCE }) { totalCount } }",
    )
    .await;
    assert_eq!(no_point[0]["message"], "ordering by DISTANCE needs `near`");
    assert_eq!(no_point[0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn bounding_box_keeps_the_locations_inside() {
    let f = fixture().await;
    four_cities(&f).await;

    let got = data(
        &f.schema,
        r#"{ locations(boundingBox: { north: 52.5, south: 51.9, east: 5.2, west: 4.4 }, orderBy: { field: NAME }) {
            totalCount edges { distance node { ocpiId } } } }"#,
    )
    .await;

    assert_eq!(got["locations"]["totalCount"], 3);
    assert_eq!(ids(&got["locations"]), ["A", "R", "U"]);
    assert_eq!(got["locations"]["edges"][0]["distance"], Value::Null);
}

#[tokio::test]
async fn name_and_last_updated_orders_page_with_their_own_cursors() {
    let f = fixture().await;
    for (id, name, day) in [
        ("1", "Bravo", 3),
        ("2", "Alpha", 1),
        ("3", "Charlie", 2),
        ("4", "Alpha", 4),
    ] {
        let loc = Loc {
            id,
            name: Some(name),
            last_updated: at(day, 8, 0),
            ..Loc::default()
        };
        location(&f.store, loc).await;
    }

    let by_name = data(
        &f.schema,
        r#"{ locations(first: 3, orderBy: { field: NAME }) { edges { node { ocpiId } } pageInfo { endCursor } } }"#,
    )
    .await;
    let cursor = by_name["locations"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap();
    let rest = data(
        &f.schema,
        &format!(r#"{{ locations(first: 3, after: "{cursor}", orderBy: {{ field: NAME }}) {{ edges {{ node {{ ocpiId }} }} }} }}"#),
    )
    .await;
    let newest = data(
        &f.schema,
        r#"{ locations(first: 2, orderBy: { field: LAST_UPDATED, direction: DESC }) { edges { node { ocpiId } } } }"#,
    )
    .await;
    let wrong_sort = errors(
        &f.schema,
        &format!(r#"{{ locations(after: "{cursor}", orderBy: {{ field: LAST_UPDATED }}) {{ totalCount }} }}"#),
    )
    .await;

    assert_eq!(
        ids(&by_name["locations"]),
        ["2", "4", "1"],
        "ties by row id"
    );
    assert_eq!(ids(&rest["locations"]), ["3"]);
    assert_eq!(ids(&newest["locations"]), ["4", "1"]);
    assert_eq!(wrong_sort[0]["message"], "invalid cursor");
    assert_eq!(wrong_sort[0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// Three locations: A (AVAILABLE EVSE, Type 2 AC_3_PHASE 230 V x 32 A =
/// 22080 W), B (CHARGING EVSE, CCS DC 50 kW; an OUTOFORDER Type 2 AC_1_PHASE
/// 230 V x 16 A = 3680 W), C (not published, no EVSE).
async fn equipment(f: &Fixture) {
    let a = location(
        &f.store,
        Loc {
            id: "A",
            name: Some("Centrum 100% groen"),
            postal_code: "1012 AB",
            ..Loc::default()
        },
    )
    .await;
    let b = location(
        &f.store,
        Loc {
            id: "B",
            name: Some("Zuidas"),
            address: "Gustav Mahlerplein 2",
            postal_code: "1082 MA",
            ..Loc::default()
        },
    )
    .await;
    location(
        &f.store,
        Loc {
            id: "C",
            name: Some("Depot"),
            publish: false,
            ..Loc::default()
        },
    )
    .await;
    let e1 = evse(&f.store, a, "A-1", "AVAILABLE").await;
    connector(
        &f.store,
        e1,
        "1",
        ("IEC_62196_T2", "AC_3_PHASE", 230, 32, None),
    )
    .await;
    let e2 = evse(&f.store, b, "B-1", "CHARGING").await;
    connector(
        &f.store,
        e2,
        "1",
        ("IEC_62196_T2_COMBO", "DC", 400, 125, Some(50_000)),
    )
    .await;
    let e3 = evse(&f.store, b, "B-2", "OUTOFORDER").await;
    connector(
        &f.store,
        e3,
        "1",
        ("IEC_62196_T2", "AC_1_PHASE", 230, 16, None),
    )
    .await;
}

#[tokio::test]
async fn location_filters_match_text_equipment_power_and_publish() {
    let f = fixture().await;
    equipment(&f).await;
    let q = |filter: &str| {
        format!("{{ locations(filter: {filter}) {{ edges {{ node {{ ocpiId }} }} }} }}")
    };
    let cases = [
        (r#"{ text: "MAHLER" }"#, vec!["B"]),
        (r#"{ text: "100%" }"#, vec!["A"]),
        (r#"{ text: "0%" }"#, vec!["A"]),
        (r#"{ text: "_" }"#, vec![]),
        (r#"{ postalCode: "1082 MA" }"#, vec!["B"]),
        ("{ publish: false }", vec!["C"]),
        ("{ evseStatuses: [AVAILABLE, OUTOFORDER] }", vec!["A", "B"]),
        ("{ evseStatuses: [CHARGING] }", vec!["B"]),
        ("{ connectorStandards: [IEC_62196_T2] }", vec!["A", "B"]),
        ("{ powerTypes: [DC] }", vec!["B"]),
        ("{ minPower: 22080 }", vec!["A", "B"]),
        ("{ minPower: 22081 }", vec!["B"]),
        (
            "{ minPower: 3000, powerTypes: [AC_1_PHASE, AC_3_PHASE] }",
            vec!["A", "B"],
        ),
        ("{ minPower: 4000, powerTypes: [AC_1_PHASE] }", vec![]),
        (
            "{ evseStatuses: [AVAILABLE], connectorStandards: [IEC_62196_T2_COMBO] }",
            vec![],
        ),
        (
            "{ evseStatuses: [OUTOFORDER], connectorStandards: [IEC_62196_T2] }",
            vec!["B"],
        ),
    ];
    for (filter, want) in cases {
        let got = data(&f.schema, &q(filter)).await;
        assert_eq!(ids(&got["locations"]), want, "{filter}");
    }

    let connectors = data(
        &f.schema,
        r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "B") { evses { connectors {
            standard standardRaw powerType powerTypeRaw format power } } } }"#,
    )
    .await;
    assert_eq!(
        connectors["location"]["evses"],
        json!([
            { "connectors": [{ "standard": "IEC_62196_T2_COMBO", "standardRaw": "IEC_62196_T2_COMBO",
                "powerType": "DC", "powerTypeRaw": "DC", "format": "SOCKET", "power": 50000 }] },
            { "connectors": [{ "standard": "IEC_62196_T2", "standardRaw": "IEC_62196_T2",
                "powerType": "AC_1_PHASE", "powerTypeRaw": "AC_1_PHASE", "format": "SOCKET", "power": 3680 }] }
        ])
    );
}

#[tokio::test]
async fn status_summary_counts_per_status_and_per_location() {
    let f = fixture().await;
    equipment(&f).await;

    let got = data(
        &f.schema,
        r#"{ statusSummary(filter: { publish: true }) { total counts { status count }
            byLocation(first: 5) { totalCount nodes { location { ocpiId } total counts { status statusRaw count } } } } }"#,
    )
    .await;

    assert_eq!(
        got["statusSummary"],
        json!({ "total": 3,
            "counts": [{ "status": "AVAILABLE", "count": 1 }, { "status": "CHARGING", "count": 1 },
                       { "status": "OUTOFORDER", "count": 1 }],
            "byLocation": { "totalCount": 2, "nodes": [
                { "location": { "ocpiId": "A" }, "total": 1,
                  "counts": [{ "status": "AVAILABLE", "statusRaw": "AVAILABLE", "count": 1 }] },
                { "location": { "ocpiId": "B" }, "total": 2,
                  "counts": [{ "status": "CHARGING", "statusRaw": "CHARGING", "count": 1 },
                             { "status": "OUTOFORDER", "statusRaw": "OUTOFORDER", "count": 1 }] }
            ] } })
    );
}

#[tokio::test]
async fn status_history_pages_both_ways_and_availability_shares_the_range() {
    let f = fixture().await;
    let loc = location(
        &f.store,
        Loc {
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    let e = evse(&f.store, loc, "E1", "AVAILABLE").await;
    change(&f.store, e, loc, "AVAILABLE", at(1, 6, 0)).await;
    change(&f.store, e, loc, "CHARGING", at(1, 9, 0)).await;
    change(&f.store, e, loc, "AVAILABLE", at(1, 10, 30)).await;
    change(&f.store, e, loc, "OUTOFORDER", at(1, 11, 0)).await;

    let got = data(
        &f.schema,
        r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "A") { evses {
            oldest: statusHistory(first: 2) { totalCount nodes { status changedAt } pageInfo { hasNextPage } }
            newest: statusHistory(last: 1) { nodes { status changedAt } pageInfo { hasPreviousPage } }
            availability(from: "2024-05-01T08:00:00Z", to: "2024-05-01T12:00:00Z") {
                from to shares { status statusRaw seconds share } }
            before: availability(from: "2024-05-01T05:00:00Z", to: "2024-05-01T07:00:00Z") {
                shares { status seconds share } } } } }"#,
    )
    .await;
    let e = &got["location"]["evses"][0];

    assert_eq!(
        e["oldest"],
        json!({ "totalCount": 4, "pageInfo": { "hasNextPage": true }, "nodes": [
            { "status": "AVAILABLE", "changedAt": "2024-05-01T06:00:00Z" },
            { "status": "CHARGING", "changedAt": "2024-05-01T09:00:00Z" }] })
    );
    assert_eq!(
        e["newest"],
        json!({ "pageInfo": { "hasPreviousPage": true },
            "nodes": [{ "status": "OUTOFORDER", "changedAt": "2024-05-01T11:00:00Z" }] })
    );
    // 08:00-12:00: AVAILABLE in force at 08:00 until 09:00, then 10:30-11:00
    // (1.5 h); CHARGING 09:00-10:30 (1.5 h); OUTOFORDER 11:00-12:00 (1 h).
    assert_eq!(
        e["availability"],
        json!({ "from": "2024-05-01T08:00:00Z", "to": "2024-05-01T12:00:00Z", "shares": [
            { "status": "AVAILABLE", "statusRaw": "AVAILABLE", "seconds": 5400.0, "share": 0.375 },
            { "status": "CHARGING", "statusRaw": "CHARGING", "seconds": 5400.0, "share": 0.375 },
            { "status": "OUTOFORDER", "statusRaw": "OUTOFORDER", "seconds": 3600.0, "share": 0.25 }] })
    );
    assert_eq!(
        e["before"]["shares"],
        json!([{ "status": "AVAILABLE", "seconds": 3600.0, "share": 0.5 },
               { "status": null, "seconds": 3600.0, "share": 0.5 }])
    );
}

#[tokio::test]
async fn timeline_connection_and_charging_curves() {
    let f = fixture().await;
    let loc = location(
        &f.store,
        Loc {
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    let start = at(1, 10, 0);
    let pushed = session(
        &f.store,
        "GFX",
        Some((loc, "A")),
        ("S1", "E1", "ACTIVE", "TOKEN-1", start),
    )
    .await;
    event(&f.store, pushed, at(1, 10, 30), Some(5_000_000), true).await;
    event(&f.store, pushed, at(1, 10, 40), Some(4_000_000), false).await;
    event(&f.store, pushed, at(1, 11, 0), Some(12_500_000), true).await;
    let periods = session(
        &f.store,
        "GFX",
        Some((loc, "A")),
        ("S2", "E1", "COMPLETED", "TOKEN-2", start),
    )
    .await;
    for (minute, dims) in [
        (
            0,
            r#"[{"type":"ENERGY","volume":2.5},{"type":"TIME","volume":0.25}]"#,
        ),
        (
            15,
            r#"[{"type":"ENERGY","volume":3},{"type":"PARKING_TIME","volume":0}]"#,
        ),
    ] {
        let row = entity::charging_period::ActiveModel {
            session_pk: Set(periods),
            start_date_time: Set(at(1, 10, minute)),
            dimensions: Set(dims.into()),
            tariff_id: Set(None),
            energy_micro: Set(Some(if minute == 0 { 2_500_000 } else { 3_000_000 })),
            time_micro: Set(None),
            ..Default::default()
        };
        row.insert(f.store.db()).await.unwrap();
    }

    let got = data(
        &f.schema,
        r#"{ s1: session(countryCode: "NL", partyId: "GFX", ocpiId: "S1") {
                applied: timeline(first: 1) { totalCount nodes { kwh applied } pageInfo { hasNextPage } }
                all: timeline(includeIgnored: true) { totalCount nodes { kwh applied } }
                chargingCurve { source points { start end energy averagePower } } }
             s2: session(countryCode: "NL", partyId: "GFX", ocpiId: "S2") {
                chargingPeriods { dimensions { type typeRaw volume } }
                chargingCurve { source points { start end energy averagePower } } } }"#,
    )
    .await;

    assert_eq!(
        got["s1"]["applied"],
        json!({ "totalCount": 2, "nodes": [{ "kwh": "5", "applied": true }], "pageInfo": { "hasNextPage": true } })
    );
    assert_eq!(got["s1"]["all"]["totalCount"], 3);
    assert_eq!(
        got["s1"]["all"]["nodes"][1],
        json!({ "kwh": "4", "applied": false })
    );
    // From the applied pushes: 0 -> 5 kWh in 30 min (10 kW), 5 -> 12.5 kWh in 30 min (15 kW).
    assert_eq!(
        got["s1"]["chargingCurve"],
        json!({ "source": "TIMELINE", "points": [
            { "start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:30:00Z", "energy": "5", "averagePower": "10" },
            { "start": "2024-05-01T10:30:00Z", "end": "2024-05-01T11:00:00Z", "energy": "7.5", "averagePower": "15" }] })
    );
    // From the periods: 2.5 kWh in 15 min (10 kW), 3 kWh from 10:15 to the end at 11:30 (2.4 kW).
    assert_eq!(
        got["s2"]["chargingCurve"],
        json!({ "source": "CHARGING_PERIODS", "points": [
            { "start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:15:00Z", "energy": "2.5", "averagePower": "10" },
            { "start": "2024-05-01T10:15:00Z", "end": "2024-05-01T11:30:00Z", "energy": "3", "averagePower": "2.4" }] })
    );
    assert_eq!(
        got["s2"]["chargingPeriods"][1]["dimensions"][1],
        json!({ "type": "PARKING_TIME", "typeRaw": "PARKING_TIME", "volume": "0" })
    );
}

#[tokio::test]
async fn sessions_and_cdrs_filter_by_place_token_time_and_link_each_other() {
    let f = fixture().await;
    let a = location(
        &f.store,
        Loc {
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    let e1 = evse(&f.store, a, "E1", "CHARGING").await;
    evse(&f.store, a, "E2", "AVAILABLE").await;
    let s = |id, uid, status, token, day| (id, uid, status, token, at(day, 10, 0));
    session(
        &f.store,
        "GFX",
        Some((a, "A")),
        s("S1", "E1", "COMPLETED", "TOKEN-1", 1),
    )
    .await;
    session(
        &f.store,
        "GFX",
        Some((a, "A")),
        s("S2", "e1", "ACTIVE", "TOKEN-2", 2),
    )
    .await;
    session(
        &f.store,
        "GFX",
        Some((a, "A")),
        s("S3", "E2", "COMPLETED", "TOKEN-1", 3),
    )
    .await;
    session(
        &f.store,
        "GFX",
        None,
        s("S4", "E9", "INVALID", "TOKEN-1", 4),
    )
    .await;
    tariff(&f.store, "GFX", "T1", "EUR", false).await;
    cdr(
        &f.store,
        "GFX",
        Some(a),
        ("C1", "s1", "EUR", at(1, 10, 0), r#"["T1","T9"]"#),
    )
    .await;
    cdr(
        &f.store,
        "GFX",
        None,
        ("C2", "S4", "SEK", at(4, 10, 0), "[]"),
    )
    .await;

    let got = data(
        &f.schema,
        r#"{ token: sessions(filter: { token: "TOKEN-1", statuses: [COMPLETED] }) { totalCount nodes { ocpiId } }
             evse: sessions(filter: { evseUid: "E1" }) { nodes { ocpiId } }
             days: sessions(filter: { started: { from: "2024-05-02T00:00:00Z", to: "2024-05-04T00:00:00Z" } }) { nodes { ocpiId } }
             other: sessions(filter: { statuses: [OTHER, INVALID] }) { nodes { ocpiId status statusRaw } }
             back: sessions(last: 2, before: "U2Vzc2lvbnw0fA") { nodes { ocpiId } pageInfo { hasNextPage hasPreviousPage } }
             location(countryCode: "NL", partyId: "GFX", ocpiId: "A") {
                sessions(first: 2) { totalCount nodes { ocpiId } }
                cdrs { totalCount nodes { ocpiId } }
                evses { uid sessions { totalCount nodes { ocpiId evse { uid } } } cdrs { totalCount } } }
             sek: cdrs(filter: { currency: "SEK" }) { nodes { ocpiId } }
             may: cdrs(filter: { started: { to: "2024-05-02T00:00:00Z" } }) { nodes { ocpiId
                tariffIds tariffs { ocpiId type elements } session { ocpiId cdr { ocpiId } } location { ocpiId } } } }"#,
    )
    .await;

    assert_eq!(
        got["token"],
        json!({ "totalCount": 2, "nodes": [{ "ocpiId": "S1" }, { "ocpiId": "S3" }] })
    );
    assert_eq!(
        got["evse"]["nodes"],
        json!([{ "ocpiId": "S1" }, { "ocpiId": "S2" }])
    );
    assert_eq!(
        got["days"]["nodes"],
        json!([{ "ocpiId": "S2" }, { "ocpiId": "S3" }])
    );
    assert_eq!(
        got["other"]["nodes"],
        json!([{ "ocpiId": "S4", "status": "INVALID", "statusRaw": "INVALID" }])
    );
    // The cursor is "Session|4|" (row 4): the two rows before it.
    assert_eq!(
        got["back"],
        json!({ "nodes": [{ "ocpiId": "S2" }, { "ocpiId": "S3" }],
            "pageInfo": { "hasNextPage": true, "hasPreviousPage": true } })
    );
    let place = &got["location"];
    assert_eq!(
        place["sessions"],
        json!({ "totalCount": 3, "nodes": [{ "ocpiId": "S1" }, { "ocpiId": "S2" }] })
    );
    assert_eq!(
        place["cdrs"],
        json!({ "totalCount": 1, "nodes": [{ "ocpiId": "C1" }] })
    );
    assert_eq!(
        place["evses"],
        json!([
            { "uid": "E1", "sessions": { "totalCount": 2, "nodes": [
                { "ocpiId": "S1", "evse": { "uid": "E1" } }, { "ocpiId": "S2", "evse": { "uid": "E1" } }] },
              "cdrs": { "totalCount": 1 } },
            { "uid": "E2", "sessions": { "totalCount": 1, "nodes": [{ "ocpiId": "S3", "evse": { "uid": "E2" } }] },
              "cdrs": { "totalCount": 0 } }
        ])
    );
    assert_eq!(got["sek"]["nodes"], json!([{ "ocpiId": "C2" }]));
    assert_eq!(
        got["may"]["nodes"],
        json!([{ "ocpiId": "C1", "tariffIds": ["T1", "T9"],
            "tariffs": [{ "ocpiId": "T1", "type": "REGULAR",
                "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.25, "step_size": 1 }] }] }],
            "session": { "ocpiId": "S1", "cdr": { "ocpiId": "C1" } }, "location": { "ocpiId": "A" } }])
    );
    let _ = e1;
}

#[tokio::test]
async fn notification_and_tariff_connections_filter() {
    let f = fixture().await;
    notification(&f.store, "GFX", "n-1", "CS-1", "Info", at(1, 9, 0)).await;
    notification(&f.store, "GFX", "n-2", "CS-2", "Error", at(2, 9, 0)).await;
    notification(&f.store, "GFX", "n-3", "CS-1", "Error", at(3, 9, 0)).await;
    tariff(&f.store, "GFX", "T1", "EUR", false).await;
    tariff(&f.store, "GFX", "T2", "EUR", true).await;
    tariff(&f.store, "GFX", "T3", "SEK", false).await;

    let got = data(
        &f.schema,
        r#"{ station: notifications(filter: { chargeStationId: "CS-1" }) { totalCount nodes { notificationId } }
             errors: notifications(filter: { level: "error", messageAction: "statusnotification",
                created: { from: "2024-05-02T12:00:00Z" } }) { nodes { notificationId level } }
             location: notifications(first: 1, filter: { locationId: "A" }) { totalCount pageInfo { hasNextPage } }
             current: tariffs { totalCount nodes { ocpiId deletedAt } }
             all: tariffs(filter: { includeDeleted: true, currency: "EUR" }) { nodes { ocpiId deletedAt } }
             tariff(countryCode: "nl", partyId: "gfx", ocpiId: "t2") { ocpiId currency typeRaw } }"#,
    )
    .await;

    assert_eq!(
        got["station"],
        json!({ "totalCount": 2, "nodes": [{ "notificationId": "n-1" }, { "notificationId": "n-3" }] })
    );
    assert_eq!(
        got["errors"]["nodes"],
        json!([{ "notificationId": "n-3", "level": "Error" }])
    );
    assert_eq!(
        got["location"],
        json!({ "totalCount": 3, "pageInfo": { "hasNextPage": true } })
    );
    assert_eq!(
        got["current"],
        json!({ "totalCount": 2, "nodes": [{ "ocpiId": "T1", "deletedAt": null }, { "ocpiId": "T3", "deletedAt": null }] })
    );
    assert_eq!(
        got["all"]["nodes"],
        json!([{ "ocpiId": "T1", "deletedAt": null }, { "ocpiId": "T2", "deletedAt": "2024-05-02T00:00:00Z" }])
    );
    assert_eq!(
        got["tariff"],
        json!({ "ocpiId": "T2", "currency": "EUR", "typeRaw": "REGULAR" })
    );
}

/// A connector naming these tariffs (a JSON array).
async fn naming_connector(store: &Store, evse_pk: i64, id: &str, tariff_ids: &str) {
    let row = entity::connector::ActiveModel {
        evse_pk: Set(evse_pk),
        connector_id: Set(id.into()),
        connector_id_key: Set(id.to_uppercase()),
        tariff_ids: Set(tariff_ids.into()),
        received_at: Set(at(1, 8, 0)),
        raw: Set("{}".into()),
        ..Default::default()
    };
    row.insert(store.db()).await.unwrap();
}

/// Sets the validity of NL/GFX's tariff `id`.
async fn valid_between(
    store: &Store,
    id: &str,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) {
    use entity::tariff::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Entity::update_many()
        .col_expr(
            Column::StartDateTime,
            sea_orm::sea_query::Expr::value(start),
        )
        .col_expr(Column::EndDateTime, sea_orm::sea_query::Expr::value(end))
        .filter(Column::OcpiId.eq(id))
        .filter(Column::PartyId.eq("GFX"))
        .exec(store.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn tariffs_filter_by_the_location_naming_them_and_by_validity() {
    let f = fixture().await;
    let a = location(
        &f.store,
        Loc {
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    let b = location(
        &f.store,
        Loc {
            id: "B",
            ..Loc::default()
        },
    )
    .await;
    let (ea, eb) = (
        evse(&f.store, a, "E1", "AVAILABLE").await,
        evse(&f.store, b, "E1", "AVAILABLE").await,
    );
    naming_connector(&f.store, ea, "1", r#"["T1","t2"]"#).await;
    naming_connector(&f.store, ea, "2", r#"["T2"]"#).await;
    naming_connector(&f.store, eb, "1", r#"["T3"]"#).await;
    for id in ["T1", "T2", "T3"] {
        tariff(&f.store, "GFX", id, "EUR", false).await;
    }
    tariff(&f.store, "OTH", "T1", "EUR", false).await;
    valid_between(&f.store, "T1", Some(at(1, 0, 0)), Some(at(10, 0, 0))).await;
    valid_between(&f.store, "T2", Some(at(10, 0, 0)), None).await;

    let got = data(
        &f.schema,
        r#"{ a: tariffs(filter: { locationId: "a" }) { totalCount nodes { ocpiId partyId } }
             early: tariffs(filter: { valid: { from: "2024-05-02T00:00:00Z", to: "2024-05-03T00:00:00Z" } }) {
                nodes { ocpiId partyId } }
             late: tariffs(filter: { valid: { from: "2024-05-10T00:00:00Z" } }) { nodes { ocpiId partyId } }
             both: tariffs(filter: { locationId: "A", valid: { to: "2024-05-10T00:00:00Z" } }) { totalCount nodes { ocpiId } }
             unknown: tariffs(filter: { locationId: "C" }) { totalCount nodes { ocpiId } } }"#,
    )
    .await;

    // A's connectors name T1, t2 and T2 (one tariff); OTH's T1 is another party's.
    assert_eq!(
        got["a"],
        json!({ "totalCount": 2, "nodes": [{ "ocpiId": "T1", "partyId": "GFX" }, { "ocpiId": "T2", "partyId": "GFX" }] })
    );
    // T1 is valid 05-01 to 05-10, T2 from 05-10 on, T3 and OTH's T1 always.
    assert_eq!(
        got["early"]["nodes"],
        json!([{ "ocpiId": "T1", "partyId": "GFX" }, { "ocpiId": "T3", "partyId": "GFX" }, { "ocpiId": "T1", "partyId": "OTH" }])
    );
    assert_eq!(
        got["late"]["nodes"],
        json!([{ "ocpiId": "T2", "partyId": "GFX" }, { "ocpiId": "T3", "partyId": "GFX" }, { "ocpiId": "T1", "partyId": "OTH" }])
    );
    assert_eq!(
        got["both"],
        json!({ "totalCount": 1, "nodes": [{ "ocpiId": "T1" }] })
    );
    // No location C: it names no tariff, so none is listed.
    assert_eq!(got["unknown"], json!({ "totalCount": 0, "nodes": [] }));
}

async fn scoped(schema: &AppSchema, query: &str) -> Value {
    let access = Access::scoped(vec![Party::new("NL", "GFX")], false);
    let response = schema
        .execute(async_graphql::Request::new(query).data(access))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

#[tokio::test]
async fn a_caller_scoped_to_one_party_sees_nothing_of_another() {
    let f = fixture().await;
    let mine = location(
        &f.store,
        Loc {
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    let theirs = location(
        &f.store,
        Loc {
            party: "OTH",
            id: "A",
            ..Loc::default()
        },
    )
    .await;
    evse(&f.store, mine, "E1", "AVAILABLE").await;
    let their_evse = evse(&f.store, theirs, "E1", "CHARGING").await;
    let s = ("S1", "E1", "ACTIVE", "TOKEN-1", at(1, 10, 0));
    session(&f.store, "GFX", Some((mine, "A")), s).await;
    session(&f.store, "OTH", Some((theirs, "A")), s).await;
    cdr(
        &f.store,
        "OTH",
        Some(theirs),
        ("C1", "S1", "EUR", at(1, 10, 0), "[]"),
    )
    .await;
    tariff(&f.store, "OTH", "T1", "EUR", false).await;
    notification(&f.store, "OTH", "n-1", "CS-1", "Info", at(1, 9, 0)).await;
    let full = data(
        &f.schema,
        r#"{ location(countryCode: "NL", partyId: "OTH", ocpiId: "A") { id evses { id } } }"#,
    )
    .await;
    let (loc_id, evse_id) = (
        full["location"]["id"].as_str().unwrap(),
        full["location"]["evses"][0]["id"].as_str().unwrap(),
    );
    let _ = their_evse;

    let got = scoped(
        &f.schema,
        &format!(
            r#"{{ locations {{ totalCount nodes {{ partyId }} }}
                 other: location(countryCode: "NL", partyId: "OTH", ocpiId: "A") {{ ocpiId }}
                 statusSummary {{ total counts {{ status count }} byLocation {{ totalCount }} }}
                 sessions {{ totalCount nodes {{ partyId }} }}
                 session(countryCode: "NL", partyId: "OTH", ocpiId: "S1") {{ ocpiId }}
                 cdrs {{ totalCount }} cdr(countryCode: "NL", partyId: "OTH", ocpiId: "C1") {{ ocpiId }}
                 tariffs {{ totalCount }} notifications {{ totalCount }}
                 node(id: "{loc_id}") {{ id }} nodes(ids: ["{evse_id}"]) {{ id }} }}"#
        ),
    )
    .await;

    assert_eq!(
        got,
        json!({
            "locations": { "totalCount": 1, "nodes": [{ "partyId": "GFX" }] },
            "other": null,
            "statusSummary": { "total": 1, "counts": [{ "status": "AVAILABLE", "count": 1 }],
                "byLocation": { "totalCount": 1 } },
            "sessions": { "totalCount": 1, "nodes": [{ "partyId": "GFX" }] },
            "session": null, "cdrs": { "totalCount": 0 }, "cdr": null,
            "tariffs": { "totalCount": 0 }, "notifications": { "totalCount": 0 },
            "node": null, "nodes": [null]
        })
    );
}

/// The statements a store ran, in order.
type Statements = Arc<Mutex<Vec<String>>>;

/// A schema whose store records the statements it runs.
async fn counting(f: &Fixture) -> (AppSchema, Statements) {
    let counter: Statements = Arc::default();
    let seen = counter.clone();
    let store = f.store.clone().on_statement(move |sql| {
        seen.lock().unwrap().push(sql.to_owned());
    });
    let events = Events::start(f.store.clone());
    events.ready().await;
    // A debug build resolving 200 rows on a machine busy with parallel
    // tests can take far longer than the 1 ms default batch window; the
    // window, not the batching, is what this widens.
    let limits = Limits {
        loader_delay: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    (build_schema(store, events, limits), counter)
}

#[tokio::test]
async fn the_board_query_costs_one_statement_per_list_level() {
    let f = fixture().await;
    for i in 0..100 {
        let id = format!("L{i:03}");
        let loc = location(
            &f.store,
            Loc {
                id: &id,
                ..Loc::default()
            },
        )
        .await;
        for uid in ["E1", "E2"] {
            let e = evse(&f.store, loc, uid, "AVAILABLE").await;
            change(&f.store, e, loc, "AVAILABLE", at(1, 6, 0)).await;
            connector(
                &f.store,
                e,
                "1",
                ("IEC_62196_T2", "AC_3_PHASE", 230, 32, None),
            )
            .await;
            connector(&f.store, e, "2", ("CHADEMO", "DC", 400, 125, Some(50_000))).await;
        }
    }
    let (schema, statements) = counting(&f).await;

    let board = "{ locations(first: 100) { totalCount nodes { id ocpiId name
        evses { uid status statusSince connectors { connectorId standard power } } } } }";
    let got = data(&schema, board).await;
    let board_statements = std::mem::take(&mut *statements.lock().unwrap());
    let nested = "{ locations(first: 100) { nodes { evses {
        statusHistory(last: 1) { totalCount nodes { status } }
        availability(from: \"2024-05-01T00:00:00Z\", to: \"2024-05-02T00:00:00Z\") { shares { share } }
        sessions(first: 2) { totalCount } } } } }";
    data(&schema, nested).await;
    let nested_statements = std::mem::take(&mut *statements.lock().unwrap());

    assert_eq!(got["locations"]["totalCount"], 100);
    let nodes = got["locations"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 100);
    assert_eq!(nodes[99]["evses"][1]["connectors"][1]["power"], 50000);
    // Page, count, EVSEs of 100 locations, connectors of 200 EVSEs.
    assert_eq!(board_statements.len(), 4, "{board_statements:#?}");
    // Page, EVSEs, then per level: history page + count, availability
    // (in force + within), sessions page + count.
    assert_eq!(nested_statements.len(), 8, "{nested_statements:#?}");
}

#[tokio::test]
async fn every_type_field_argument_and_enum_value_has_a_description() {
    let f = fixture().await;
    let got = data(
        &f.schema,
        "{ __schema { types { name kind description
            fields(includeDeprecated: true) { name description args { name description } }
            inputFields { name description }
            enumValues(includeDeprecated: true) { name description } } } }",
    )
    .await;

    let mut missing = Vec::new();
    let blank = |v: &Value| v.as_str().is_none_or(|s| s.trim().is_empty());
    for t in got["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        // The spec's own scalars and introspection types are described by the spec.
        if name.starts_with("__") || ["ID", "String", "Int", "Float", "Boolean"].contains(&name) {
            continue;
        }
        if blank(&t["description"]) {
            missing.push(name.to_owned());
        }
        for field in t["fields"].as_array().into_iter().flatten() {
            if blank(&field["description"]) {
                missing.push(format!("{name}.{}", field["name"]));
            }
            for arg in field["args"].as_array().into_iter().flatten() {
                if blank(&arg["description"]) {
                    missing.push(format!("{name}.{}({})", field["name"], arg["name"]));
                }
            }
        }
        for list in ["inputFields", "enumValues"] {
            for item in t[list].as_array().into_iter().flatten() {
                if blank(&item["description"]) {
                    missing.push(format!("{name}.{}", item["name"]));
                }
            }
        }
    }
    assert!(missing.is_empty(), "without a description: {missing:#?}");
}
