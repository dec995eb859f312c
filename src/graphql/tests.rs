use super::*;
use crate::store::testdb::TestDb;

mod read_api;
mod read_plans;

mod seed {
    //! Rows as the ingest path would leave them after the GreenFlux day.

    use chrono::{DateTime, TimeZone, Utc};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};

    use crate::store::Store;

    pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
    }

    pub async fn location(store: &Store, ocpi_id: &str, city: &str) -> i64 {
        let row = entity::location::ActiveModel {
            country_code: Set("NL".into()),
            party_id: Set("GFX".into()),
            ocpi_id: Set(ocpi_id.into()),
            country_code_key: Set("NL".into()),
            party_id_key: Set("GFX".into()),
            ocpi_id_key: Set(ocpi_id.to_uppercase()),
            name: Set(Some(format!("Station {ocpi_id}"))),
            address: Set(Some("Stationsplein 1".into())),
            city: Set(Some(city.into())),
            postal_code: Set(Some("1012 AB".into())),
            country: Set(Some("NLD".into())),
            latitude: Set(Some("52.379189".into())),
            longitude: Set(Some("4.899431".into())),
            publish: Set(Some(true)),
            time_zone: Set(Some("Europe/Amsterdam".into())),
            last_updated: Set(Some(at(8, 0, 0))),
            received_at: Set(at(8, 0, 1)),
            raw: Set(format!(r#"{{"id":"{ocpi_id}"}}"#)),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap().id
    }

    pub async fn evse(store: &Store, location_pk: i64, uid: &str, status: &str) -> i64 {
        let row = entity::evse::ActiveModel {
            location_pk: Set(location_pk),
            uid: Set(uid.into()),
            uid_key: Set(uid.to_uppercase()),
            evse_id: Set(Some("BE*BEC*E041503001".into())),
            status: Set(Some(status.into())),
            status_since: Set(Some(Utc.timestamp_millis_opt(1_714_558_500_250).unwrap())),
            last_updated: Set(Some(at(8, 0, 0))),
            received_at: Set(at(8, 0, 1)),
            raw: Set("{}".into()),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap().id
    }

    pub async fn connector(store: &Store, evse_pk: i64, connector_id: &str) {
        let row = entity::connector::ActiveModel {
            evse_pk: Set(evse_pk),
            connector_id: Set(connector_id.into()),
            connector_id_key: Set(connector_id.to_uppercase()),
            standard: Set(Some("IEC_62196_T2".into())),
            format: Set(Some("SOCKET".into())),
            power_type: Set(Some("AC_3_PHASE".into())),
            max_voltage: Set(Some(230)),
            max_amperage: Set(Some(32)),
            max_electric_power: Set(None),
            tariff_ids: Set(r#"["T1"]"#.into()),
            last_updated: Set(None),
            received_at: Set(at(8, 0, 1)),
            raw: Set("{}".into()),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }

    pub async fn status_change(
        store: &Store,
        evse_pk: i64,
        location_pk: i64,
        from: Option<&str>,
        to: &str,
        changed_at: DateTime<Utc>,
    ) {
        let row = entity::evse_status_history::ActiveModel {
            evse_pk: Set(evse_pk),
            location_pk: Set(location_pk),
            previous_status: Set(from.map(str::to_owned)),
            status: Set(to.into()),
            changed_at: Set(changed_at),
            received_at: Set(changed_at),
            stamp_from_sender: Set(false),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }

    pub async fn session(store: &Store, location_pk: Option<i64>) -> i64 {
        let row = entity::session::ActiveModel {
            country_code: Set("NL".into()),
            party_id: Set("GFX".into()),
            ocpi_id: Set("Sess-1".into()),
            country_code_key: Set("NL".into()),
            party_id_key: Set("GFX".into()),
            ocpi_id_key: Set("SESS-1".into()),
            location_id: Set(Some("LOC1".into())),
            evse_uid: Set(Some("BE-BEC-E041503001".into())),
            connector_id: Set(Some("1".into())),
            location_pk: Set(location_pk),
            start_date_time: Set(Some(at(10, 0, 0))),
            end_date_time: Set(Some(at(11, 30, 0))),
            kwh_micro: Set(Some(11_200_000)),
            auth_id: Set(Some("NL-GFX-C12345678-X".into())),
            auth_method: Set(Some("WHITELIST".into())),
            token_uid: Set(None),
            currency: Set(Some("EUR".into())),
            total_cost_micro: Set(Some(3_920_000)),
            total_cost_incl_vat_micro: Set(None),
            status: Set(Some("COMPLETED".into())),
            incomplete: Set(false),
            last_updated: Set(Some(at(11, 30, 5))),
            received_at: Set(at(11, 30, 6)),
            raw: Set("{}".into()),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap().id
    }

    pub async fn charging_period(
        store: &Store,
        session_pk: i64,
        start: DateTime<Utc>,
        dimensions: &str,
    ) {
        let row = entity::charging_period::ActiveModel {
            session_pk: Set(session_pk),
            start_date_time: Set(start),
            dimensions: Set(dimensions.into()),
            tariff_id: Set(Some("T1".into())),
            energy_micro: Set(None),
            time_micro: Set(None),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }

    pub async fn session_event(
        store: &Store,
        session_pk: i64,
        method: &str,
        status: &str,
        kwh: Option<i64>,
        applied: bool,
    ) {
        let row = entity::session_event::ActiveModel {
            session_pk: Set(session_pk),
            inbox_pk: Set(None),
            method: Set(method.into()),
            at: Set(at(10, 0, 0)),
            received_at: Set(at(10, 0, 1)),
            status: Set(Some(status.into())),
            kwh_micro: Set(kwh),
            total_cost_micro: Set(None),
            applied: Set(applied),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }

    pub async fn cdr(store: &Store, location_pk: Option<i64>) {
        let row = entity::cdr::ActiveModel {
            country_code: Set("NL".into()),
            party_id: Set("GFX".into()),
            ocpi_id: Set("Cdr-1".into()),
            country_code_key: Set("NL".into()),
            party_id_key: Set("GFX".into()),
            ocpi_id_key: Set("CDR-1".into()),
            session_id: Set(Some("Sess-1".into())),
            location_id: Set(Some("LOC9".into())),
            evse_uid: Set(Some("E9".into())),
            connector_id: Set(Some("1".into())),
            location_pk: Set(location_pk),
            start_date_time: Set(Some(at(10, 0, 0))),
            end_date_time: Set(Some(at(11, 30, 0))),
            auth_id: Set(Some("NL-GFX-C12345678-X".into())),
            auth_method: Set(Some("WHITELIST".into())),
            token_uid: Set(None),
            currency: Set(Some("EUR".into())),
            total_cost_micro: Set(Some(3_920_000)),
            total_cost_incl_vat_micro: Set(Some(4_743_200)),
            total_energy_micro: Set(Some(11_200_000)),
            total_time_micro: Set(Some(1_500_000)),
            total_parking_time_micro: Set(Some(0)),
            tariff_ids: Set("[]".into()),
            tariff_key: Set("[]".into()),
            credit: Set(false),
            credit_reference_id: Set(None),
            credit_of_pk: Set(None),
            last_updated: Set(Some(at(11, 35, 0))),
            received_at: Set(at(11, 35, 1)),
            raw: Set("{}".into()),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }

    pub async fn notification(store: &Store) {
        let row = entity::notification::ActiveModel {
            country_code: Set("NL".into()),
            party_id: Set("GFX".into()),
            notification_id: Set("n-42".into()),
            notification_id_key: Set("N-42".into()),
            charge_station_notification_id: Set(None),
            charge_station_id: Set(Some("CS-1".into())),
            evse_id: Set(None),
            location_id: Set(Some("LOC1".into())),
            message_action: Set(Some("StatusNotification".into())),
            message_type: Set(Some("Request".into())),
            direction: Set(Some("Incoming".into())),
            level: Set(Some("Info".into())),
            created: Set(Some(at(9, 0, 0))),
            payload: Set(Some(r#"{"connectorId":1,"status":"Available"}"#.into())),
            payload_json: Set(Some(r#"{"connectorId":1,"status":"Available"}"#.into())),
            received_at: Set(at(9, 0, 1)),
            raw: Set("{}".into()),
            ..Default::default()
        };
        row.insert(store.db()).await.unwrap();
    }
}

struct Fixture {
    _db: TestDb,
    store: Store,
    schema: AppSchema,
}

/// A schema over the test's own database (SQLite, or PostgreSQL when
/// CHARGEGRAPH_TEST_DATABASE_URL names a server).
async fn fixture() -> Fixture {
    let db = TestDb::create().await;
    let store = db.store().await;
    let events = Events::start(store.clone());
    events.ready().await;
    let schema = build_schema(store.clone(), events, Limits::default());
    Fixture {
        _db: db,
        store,
        schema,
    }
}

/// Runs a query and returns its data, failing on any error.
async fn data(schema: &AppSchema, query: &str) -> serde_json::Value {
    let response = schema.execute(query).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

/// Runs a query that must fail and returns its errors as JSON.
async fn errors(schema: &AppSchema, query: &str) -> serde_json::Value {
    let request = async_graphql::Request::new(query);
    let response = hooks::execute(schema, request, None).await;
    serde_json::to_value(&response.errors).unwrap()
}

#[tokio::test]
async fn location_lookup_is_case_insensitive_and_shows_evses_and_connectors() {
    let f = fixture().await;
    let loc = seed::location(&f.store, "Loc1", "Amsterdam").await;
    let evse = seed::evse(&f.store, loc, "BE-BEC-E041503001", "AVAILABLE").await;
    seed::connector(&f.store, evse, "1").await;
    seed::status_change(&f.store, evse, loc, None, "AVAILABLE", seed::at(8, 0, 0)).await;
    seed::status_change(
        &f.store,
        evse,
        loc,
        Some("AVAILABLE"),
        "CHARGING",
        seed::at(10, 0, 0),
    )
    .await;

    let got = data(
        &f.schema,
        r#"{ location(countryCode: "nl", partyId: "gfx", ocpiId: "LOC1") {
            countryCode partyId ocpiId name city postalCode latitude publish timeZone
            lastUpdated receivedAt
            evses { uid evseId status statusRaw statusSince
                connectors { connectorId standard powerType maxVoltage maxAmperage maxElectricPower tariffIds }
                statusHistory { nodes { previousStatus status changedAt } } } } }"#,
    )
    .await;

    let want = serde_json::json!({ "location": {
        "countryCode": "NL", "partyId": "GFX", "ocpiId": "Loc1", "name": "Station Loc1",
        "city": "Amsterdam", "postalCode": "1012 AB", "latitude": "52.379189", "publish": true,
        "timeZone": "Europe/Amsterdam",
        "lastUpdated": "2024-05-01T08:00:00Z", "receivedAt": "2024-05-01T08:00:01Z",
        "evses": [{
            "uid": "BE-BEC-E041503001", "evseId": "BE*BEC*E041503001",
            "status": "AVAILABLE", "statusRaw": "AVAILABLE",
            "statusSince": "2024-05-01T10:15:00.250Z",
            "connectors": [{ "connectorId": "1", "standard": "IEC_62196_T2",
                "powerType": "AC_3_PHASE", "maxVoltage": 230, "maxAmperage": 32,
                "maxElectricPower": null, "tariffIds": ["T1"] }],
            "statusHistory": { "nodes": [
                { "previousStatus": null, "status": "AVAILABLE", "changedAt": "2024-05-01T08:00:00Z" },
                { "previousStatus": "AVAILABLE", "status": "CHARGING", "changedAt": "2024-05-01T10:00:00Z" }
            ] }
        }]
    }});
    assert_eq!(got, want);
}

#[tokio::test]
async fn unknown_location_is_null() {
    let f = fixture().await;

    let got = data(
        &f.schema,
        r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "nope") { ocpiId } }"#,
    )
    .await;

    assert_eq!(got, serde_json::json!({ "location": null }));
}

#[tokio::test]
async fn unknown_raw_status_is_other_with_raw_kept() {
    let f = fixture().await;
    let loc = seed::location(&f.store, "LOC1", "Amsterdam").await;
    seed::evse(&f.store, loc, "E1", "SUSPENDED_EV").await;

    let got = data(&f.schema, r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC1") { evses { status statusRaw } } }"#).await;

    assert_eq!(
        got["location"]["evses"],
        serde_json::json!([{ "status": "OTHER", "statusRaw": "SUSPENDED_EV" }])
    );
}

#[tokio::test]
async fn session_shows_decimals_periods_timeline_location_and_cdr() {
    let f = fixture().await;
    let loc = seed::location(&f.store, "LOC1", "Amsterdam").await;
    let session = seed::session(&f.store, Some(loc)).await;
    let energy = r#"[{"type":"ENERGY","volume":2.5},{"type":"TIME","volume":0.25}]"#;
    seed::charging_period(&f.store, session, seed::at(10, 15, 0), energy).await;
    seed::charging_period(
        &f.store,
        session,
        seed::at(10, 0, 0),
        r#"[{"type":"ENERGY","volume":0.30000000000000004}]"#,
    )
    .await;
    seed::session_event(&f.store, session, "PUT", "ACTIVE", None, true).await;
    seed::session_event(
        &f.store,
        session,
        "PATCH",
        "COMPLETED",
        Some(11_200_000),
        true,
    )
    .await;
    seed::cdr(&f.store, None).await;

    let got = data(
        &f.schema,
        r#"{ session(countryCode: "NL", partyId: "GFX", ocpiId: "sess-1") {
            ocpiId status kwh totalCost currency startDateTime endDateTime incomplete
            locationId evseUid connectorId authId
            chargingPeriods { startDateTime tariffId dimensions { type volume } }
            timeline { nodes { method status kwh applied } }
            location { ocpiId } cdr { ocpiId totalCost } } }"#,
    )
    .await;

    let want = serde_json::json!({ "session": {
        "ocpiId": "Sess-1", "status": "COMPLETED", "kwh": "11.2", "totalCost": "3.92",
        "currency": "EUR", "startDateTime": "2024-05-01T10:00:00Z",
        "endDateTime": "2024-05-01T11:30:00Z", "incomplete": false,
        "locationId": "LOC1", "evseUid": "BE-BEC-E041503001", "connectorId": "1",
        "authId": "NL-GFX-C12345678-X",
        "chargingPeriods": [
            { "startDateTime": "2024-05-01T10:00:00Z", "tariffId": "T1",
              "dimensions": [{ "type": "ENERGY", "volume": "0.3" }] },
            { "startDateTime": "2024-05-01T10:15:00Z", "tariffId": "T1",
              "dimensions": [{ "type": "ENERGY", "volume": "2.5" }, { "type": "TIME", "volume": "0.25" }] }
        ],
        "timeline": { "nodes": [
            { "method": "PUT", "status": "ACTIVE", "kwh": null, "applied": true },
            { "method": "PATCH", "status": "COMPLETED", "kwh": "11.2", "applied": true }
        ] },
        "location": { "ocpiId": "LOC1" },
        "cdr": { "ocpiId": "Cdr-1", "totalCost": "3.92" }
    }});
    assert_eq!(got, want);
}

#[tokio::test]
async fn cdr_totals_are_exact_and_unknown_location_is_null() {
    let f = fixture().await;
    seed::session(&f.store, None).await;
    seed::cdr(&f.store, None).await;

    let got = data(
        &f.schema,
        r#"{ cdr(countryCode: "NL", partyId: "GFX", ocpiId: "CDR-1") {
            ocpiId sessionId locationId evseUid currency totalCost totalCostInclVat
            totalEnergy totalTime totalParkingTime credit creditReferenceId lastUpdated
            location { ocpiId } session { ocpiId kwh } } }"#,
    )
    .await;

    let want = serde_json::json!({ "cdr": {
        "ocpiId": "Cdr-1", "sessionId": "Sess-1", "locationId": "LOC9", "evseUid": "E9",
        "currency": "EUR", "totalCost": "3.92", "totalCostInclVat": "4.7432",
        "totalEnergy": "11.2", "totalTime": "1.5", "totalParkingTime": "0",
        "credit": false, "creditReferenceId": null, "lastUpdated": "2024-05-01T11:35:00Z",
        "location": null, "session": { "ocpiId": "Sess-1", "kwh": "11.2" }
    }});
    assert_eq!(got, want);
}

#[tokio::test]
async fn notification_exposes_payload_string_and_parsed_json() {
    let f = fixture().await;
    seed::notification(&f.store).await;

    let got = data(
        &f.schema,
        r#"{ notification(countryCode: "nl", partyId: "GFX", notificationId: "N-42") {
            notificationId chargeStationId messageAction level created payload payloadJson } }"#,
    )
    .await;

    let want = serde_json::json!({ "notification": {
        "notificationId": "n-42", "chargeStationId": "CS-1",
        "messageAction": "StatusNotification", "level": "Info",
        "created": "2024-05-01T09:00:00Z",
        "payload": r#"{"connectorId":1,"status":"Available"}"#,
        "payloadJson": { "connectorId": 1, "status": "Available" }
    }});
    assert_eq!(got, want);
}

#[tokio::test]
async fn locations_page_forward_with_keyset_cursors_and_filters() {
    let f = fixture().await;
    for (id, city) in [
        ("A", "Utrecht"),
        ("B", "Amsterdam"),
        ("C", "Amsterdam"),
        ("D", "Amsterdam"),
    ] {
        seed::location(&f.store, id, city).await;
    }

    let first = data(
        &f.schema,
        r#"{ locations(first: 2, filter: { partyId: "gfx", city: "Amsterdam" }) {
            totalCount nodes { ocpiId } edges { cursor node { ocpiId } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"#,
    )
    .await;
    let page = &first["locations"];
    assert_eq!(page["totalCount"], 3);
    assert_eq!(
        page["nodes"],
        serde_json::json!([{ "ocpiId": "B" }, { "ocpiId": "C" }])
    );
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(page["pageInfo"]["endCursor"], page["edges"][1]["cursor"]);

    let after = page["pageInfo"]["endCursor"].as_str().unwrap();
    let query = format!(
        r#"{{ locations(first: 2, after: "{after}", filter: {{ city: "Amsterdam" }}) {{
            nodes {{ ocpiId }} pageInfo {{ hasNextPage hasPreviousPage }} }} }}"#
    );
    let second = data(&f.schema, &query).await;
    assert_eq!(
        second["locations"],
        serde_json::json!({ "nodes": [{ "ocpiId": "D" }],
            "pageInfo": { "hasNextPage": false, "hasPreviousPage": true } })
    );
}

#[tokio::test]
async fn bad_cursor_and_oversized_page_are_bad_user_input() {
    let f = fixture().await;

    let cursor = errors(
        &f.schema,
        r#"{ locations(after: "bm9wZQ") { totalCount } }"#,
    )
    .await;
    let oversized = errors(&f.schema, "{ locations(first: 101) { totalCount } }").await;
    let bad_id = errors(&f.schema, r#"{ node(id: "xyz") { id } }"#).await;

    assert_eq!(cursor[0]["message"], "invalid cursor");
    assert_eq!(cursor[0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(oversized[0]["message"], "`first` must be at most 100");
    assert_eq!(oversized[0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(bad_id[0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn validation_errors_carry_a_code() {
    let f = fixture().await;

    let got = errors(&f.schema, "{ locations { noSuchField } }").await;

    assert_eq!(got[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
}

/// Runs a query through the hooks and returns its data as JSON.
async fn hooked(schema: &AppSchema, query: &str) -> serde_json::Value {
    let response = hooks::execute(schema, async_graphql::Request::new(query), None).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    response.data.into_json().unwrap()
}

#[tokio::test]
async fn documents_are_parsed_once_by_their_text_and_long_ones_are_not_kept() {
    let f = fixture().await;
    seed::location(&f.store, "LOC1", "Amsterdam").await;
    let documents = f.schema.data::<hooks::Hooks>().unwrap().documents.clone();
    let by_name = r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC1") { name } }"#;
    let by_city = r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC1") { city } }"#;
    // Over the 8 KiB kept: the same query after a long comment.
    let long = format!("#{}\n{by_city}", "x".repeat(9 * 1024));

    let first = hooked(&f.schema, by_name).await;
    let again = hooked(&f.schema, by_name).await;
    let other = hooked(&f.schema, by_city).await;
    let unkept = hooked(&f.schema, &long).await;

    let name = serde_json::json!({ "location": { "name": "Station LOC1" } });
    assert_eq!(first, name);
    assert_eq!(again, name);
    assert_eq!(
        other,
        serde_json::json!({ "location": { "city": "Amsterdam" } })
    );
    assert_eq!(unkept, other);
    assert!(documents.get(by_name).is_some());
    assert!(documents.get(by_city).is_some());
    assert!(documents.get(&long).is_none());
}

#[tokio::test]
async fn node_finds_objects_by_their_global_ids() {
    let f = fixture().await;
    let loc = seed::location(&f.store, "LOC1", "Amsterdam").await;
    seed::evse(&f.store, loc, "E1", "AVAILABLE").await;
    let ids = data(
        &f.schema,
        r#"{ location(countryCode: "NL", partyId: "GFX", ocpiId: "LOC1") { id evses { id } } }"#,
    )
    .await;
    let location_id = ids["location"]["id"].as_str().unwrap();
    let evse_id = ids["location"]["evses"][0]["id"].as_str().unwrap();

    let query = format!(
        r#"{{ node(id: "{location_id}") {{ ... on Location {{ ocpiId }} }}
             nodes(ids: ["{evse_id}", "RXZzZTo5OTk"]) {{ id ... on Evse {{ uid }} }} }}"#
    );
    let got = data(&f.schema, &query).await;

    assert_eq!(got["node"], serde_json::json!({ "ocpiId": "LOC1" }));
    assert_eq!(
        got["nodes"],
        serde_json::json!([{ "id": evse_id, "uid": "E1" }, null])
    );
}

#[tokio::test]
async fn sessions_and_cdrs_connections_filter_and_count() {
    let f = fixture().await;
    seed::session(&f.store, None).await;
    seed::cdr(&f.store, None).await;

    let got = data(
        &f.schema,
        r#"{ active: sessions(filter: { statuses: [ACTIVE] }) { totalCount }
             done: sessions(filter: { partyId: "gfx", statuses: [COMPLETED] }) { totalCount nodes { ocpiId } }
             eur: cdrs(filter: { currency: "EUR", credit: false }) { totalCount nodes { ocpiId totalEnergy } }
             credits: cdrs(filter: { credit: true }) { totalCount } }"#,
    )
    .await;

    let want = serde_json::json!({
        "active": { "totalCount": 0 },
        "done": { "totalCount": 1, "nodes": [{ "ocpiId": "Sess-1" }] },
        "eur": { "totalCount": 1, "nodes": [{ "ocpiId": "Cdr-1", "totalEnergy": "11.2" }] },
        "credits": { "totalCount": 0 }
    });
    assert_eq!(got, want);
}

#[tokio::test]
async fn status_summary_counts_evses_per_status_within_the_filter() {
    let f = fixture().await;
    let amsterdam = seed::location(&f.store, "A", "Amsterdam").await;
    let utrecht = seed::location(&f.store, "U", "Utrecht").await;
    seed::evse(&f.store, amsterdam, "E1", "AVAILABLE").await;
    seed::evse(&f.store, amsterdam, "E2", "CHARGING").await;
    seed::evse(&f.store, amsterdam, "E3", "AVAILABLE").await;
    seed::evse(&f.store, utrecht, "E4", "OUTOFORDER").await;

    let got = data(
        &f.schema,
        r#"{ statusSummary(filter: { city: "Amsterdam" }) { total counts { status statusRaw count } } }"#,
    )
    .await;

    let want = serde_json::json!({ "statusSummary": { "total": 3, "counts": [
        { "status": "AVAILABLE", "statusRaw": "AVAILABLE", "count": 2 },
        { "status": "CHARGING", "statusRaw": "CHARGING", "count": 1 }
    ] } });
    assert_eq!(got, want);
}

mod http {
    //! The routes, served on 127.0.0.1:0 and driven over HTTP and WebSocket.

    use std::time::Duration;

    use futures::{SinkExt, StreamExt};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    use serde_json::{json, Value};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    struct App {
        _db: TestDb,
        store: Store,
        events: Events,
        base: String,
    }

    async fn spawn_app() -> App {
        let db = TestDb::create().await;
        let store = db.store().await;
        let events = Events::start(store.clone());
        events.ready().await;
        let schema = build_schema(store.clone(), events.clone(), Limits::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let endpoint = Endpoint::open(schema, store.clone());
        tokio::spawn(async move { axum::serve(listener, router(endpoint)).await });
        App {
            _db: db,
            store,
            events,
            base,
        }
    }

    async fn status_changed(app: &App, location_pk: i64, previous: Option<&str>, status: &str) {
        let payload = json!({
            "country_code": "NL", "party_id": "GFX", "location_id": "LOC1",
            "evse_uid": "BE-BEC-E041503001", "evse_id": null,
            "previous_status": previous, "status": status,
            "changed_at": "2024-05-01T10:15:00Z"
        });
        let row = entity::outbox::ActiveModel {
            created_at: Set(seed::at(10, 15, 1)),
            kind: Set("EVSE_STATUS_CHANGED".into()),
            country_code: Set(Some("NL".into())),
            party_id: Set(Some("GFX".into())),
            location_pk: Set(Some(location_pk)),
            evse_pk: Set(None),
            session_pk: Set(None),
            payload: Set(payload.to_string()),
            ..Default::default()
        };
        row.insert(app.store.db()).await.unwrap();
        app.events.wake();
    }

    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn subscribe(app: &App, protocol: &str, query: &str) -> Socket {
        let mut request = format!("ws://{}/graphql", app.base)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        send(&mut socket, json!({ "type": "connection_init" })).await;
        assert_eq!(recv(&mut socket).await["type"], "connection_ack");
        let start = if protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        send(
            &mut socket,
            json!({ "id": "1", "type": start, "payload": { "query": query } }),
        )
        .await;
        socket
    }

    async fn send(socket: &mut Socket, message: Value) {
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    async fn recv(socket: &mut Socket) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
                .await
                .expect("no message within 5 s")
                .unwrap()
                .unwrap();
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Waits until the server has registered the subscription.
    async fn settle(app: &App) {
        let registered = async {
            while app.events.subscriber_count() == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), registered)
            .await
            .expect("subscription not registered within 5 s");
    }

    const SUBSCRIPTION: &str = r#"subscription { evseStatusChanged(filter: { statuses: [AVAILABLE, CHARGING] }) {
        kind cursor ... on EvseStatusChange { skipped countryCode partyId locationId uid evseId
        previousStatus status changedAt location { ocpiId } } } }"#;

    #[tokio::test]
    async fn subscriber_receives_committed_status_changes_over_graphql_transport_ws() {
        let app = spawn_app().await;
        let loc = seed::location(&app.store, "LOC1", "Amsterdam").await;
        let mut socket = subscribe(&app, "graphql-transport-ws", SUBSCRIPTION).await;
        settle(&app).await;

        status_changed(&app, loc, None, "AVAILABLE").await;
        status_changed(&app, loc, Some("AVAILABLE"), "OUTOFORDER").await;
        status_changed(&app, loc, Some("OUTOFORDER"), "CHARGING").await;

        let first = recv(&mut socket).await;
        assert_eq!(first["type"], "next");
        assert_eq!(
            first["payload"]["data"]["evseStatusChanged"],
            json!({ "kind": "LIVE", "cursor": "1", "skipped": 0, "countryCode": "NL", "partyId": "GFX", "locationId": "LOC1",
                "uid": "BE-BEC-E041503001", "evseId": null, "previousStatus": null,
                "status": "AVAILABLE", "changedAt": "2024-05-01T10:15:00Z",
                "location": { "ocpiId": "LOC1" } })
        );
        let second = recv(&mut socket).await;
        let change = &second["payload"]["data"]["evseStatusChanged"];
        assert_eq!(change["cursor"], "3");
        assert_eq!(change["previousStatus"], "OUTOFORDER");
        assert_eq!(change["status"], "CHARGING");
    }

    #[tokio::test]
    async fn legacy_graphql_ws_protocol_also_subscribes() {
        let app = spawn_app().await;
        let loc = seed::location(&app.store, "LOC1", "Amsterdam").await;
        let mut socket = subscribe(&app, "graphql-ws", SUBSCRIPTION).await;
        settle(&app).await;

        status_changed(&app, loc, None, "AVAILABLE").await;

        let got = recv(&mut socket).await;
        assert_eq!(got["type"], "data");
        assert_eq!(
            got["payload"]["data"]["evseStatusChanged"]["status"],
            "AVAILABLE"
        );
    }

    #[tokio::test]
    async fn get_and_post_execute_queries_and_graphiql_is_served() {
        let app = spawn_app().await;
        seed::location(&app.store, "LOC1", "Amsterdam").await;
        let client = reqwest::Client::new();
        let query = "{ locations { totalCount } }";

        let get: Value = client
            .get(format!("http://{}/graphql", app.base))
            .query(&[("query", query)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let post: Value = client
            .post(format!("http://{}/graphql", app.base))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let graphiql = client
            .get(format!("http://{}/graphiql", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();

        assert_eq!(get, json!({ "data": { "locations": { "totalCount": 1 } } }));
        assert_eq!(post, get);
        // Queries go to /graphql, and so do subscriptions, over ws:// or
        // wss:// as the page was loaded.
        assert!(
            graphiql.contains("url: createUrl('/graphql')"),
            "{graphiql}"
        );
        assert!(
            graphiql.contains("subscriptionUrl: createUrl('/graphql', true)"),
            "{graphiql}"
        );
    }
}
