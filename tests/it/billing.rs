//! The `billing` query and the CSV exports over CDRs pushed through the OCPI
//! receiver, on the backend the environment selects: local days across a
//! DST change and midnight in Europe/Amsterdam, ISO weeks across a year,
//! tariff sets, currencies kept apart, credit CDRs, party scope, filters and
//! the statements a report costs.

use serde_json::{json, Value};

use crate::harness::TestApp;

/// One CDR as a CPO sends it (2.2.1 shape, party NL/GFX unless changed).
struct Cdr<'a> {
    id: &'a str,
    party: &'a str,
    start: &'a str,
    location: &'a str,
    evse: &'a str,
    currency: &'a str,
    tariffs: &'a [&'a str],
    /// Cost excl. VAT and, when sent, incl. VAT.
    cost: (&'a str, Option<&'a str>),
    energy: &'a str,
    time: &'a str,
    parking: Option<&'a str>,
    /// The id of the CDR this one credits.
    credits: Option<&'a str>,
}

impl Default for Cdr<'_> {
    fn default() -> Self {
        Cdr {
            id: "C",
            party: "GFX",
            start: "2024-03-30T12:00:00Z",
            location: "LOC1",
            evse: "E1",
            currency: "EUR",
            tariffs: &[],
            cost: ("0", None),
            energy: "0",
            time: "0",
            parking: None,
            credits: None,
        }
    }
}

fn number(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON number")
}

impl Cdr<'_> {
    fn body(&self) -> String {
        let tariffs: Vec<Value> = self
            .tariffs
            .iter()
            .map(|id| {
                json!({ "country_code": "NL", "party_id": self.party, "id": id,
                    "currency": self.currency, "last_updated": "2024-01-01T00:00:00Z",
                    "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.25, "step_size": 1 }] }] })
            })
            .collect();
        let mut total_cost = json!({ "excl_vat": number(self.cost.0) });
        if let Some(incl) = self.cost.1 {
            total_cost["incl_vat"] = number(incl);
        }
        let mut body = json!({
            "country_code": "NL", "party_id": self.party, "id": self.id,
            "start_date_time": self.start, "end_date_time": self.start,
            "cdr_token": { "uid": "012345678", "type": "RFID", "contract_id": "NL-GFX-C12345678-X" },
            "auth_method": "WHITELIST",
            "cdr_location": { "id": self.location, "address": "Stationsplein 1", "city": "Amsterdam",
                "country": "NLD", "coordinates": { "latitude": "52.379189", "longitude": "4.899431" },
                "evse_uid": self.evse, "evse_id": "NL*GFX*E1", "connector_id": "1",
                "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
                "connector_power_type": "AC_3_PHASE" },
            "currency": self.currency,
            "tariffs": tariffs,
            "charging_periods": [{ "start_date_time": self.start,
                "dimensions": [{ "type": "ENERGY", "volume": number(self.energy) }] }],
            "total_cost": total_cost,
            "total_energy": number(self.energy),
            "total_time": number(self.time),
            "last_updated": self.start,
        });
        if let Some(parking) = self.parking {
            body["total_parking_time"] = number(parking);
        }
        if let Some(original) = self.credits {
            body["credit"] = json!(true);
            body["credit_reference_id"] = json!(original);
        }
        body.to_string()
    }
}

async fn post(app: &TestApp, cdr: Cdr<'_>) {
    let answer = app.post_cdr(&cdr.body()).await;
    assert_eq!(answer.code(), 1000, "{}: {:?}", cdr.id, answer.body);
}

/// LOC1 as a pushed location; LOC2 and LOC3 are known only from CDRs.
async fn location(app: &TestApp) {
    let body = json!({ "id": "LOC1", "type": "ON_STREET", "name": "Centraal", "address": "Stationsplein 1",
        "city": "Amsterdam", "postal_code": "1012 AB", "country": "NLD",
        "coordinates": { "latitude": "52.379189", "longitude": "4.899431" },
        "evses": [], "last_updated": "2024-01-01T00:00:00Z" });
    let put = app.put_location("LOC1", &body.to_string()).await;
    assert_eq!(put.code(), 1000, "{:?}", put.body);
}

async fn tariff(app: &TestApp, id: &str) {
    let body = json!({ "country_code": "NL", "party_id": "GFX", "id": id, "currency": "EUR",
        "elements": [{ "price_components": [{ "type": "ENERGY", "price": 0.25, "step_size": 1 }] }],
        "last_updated": "2024-01-01T00:00:00Z" });
    let path = format!("/ocpi/2.2.1/tariffs/NL/GFX/{id}");
    let put = app.ocpi("PUT", &path, Some(&body.to_string())).await;
    assert_eq!(put.code(), 1000, "{:?}", put.body);
}

/// Seven CDRs around the spring DST change in Amsterdam (2024-03-31 02:00
/// CET (+01:00) becomes 03:00 CEST (+02:00)). Local times:
/// C7 03-30 13:00, C1 and its credit C6 03-30 23:30, C2 03-31 00:30,
/// C4 03-31 03:30 (no incl. VAT), C5 03-31 12:00 (SEK), C3 04-01 00:30.
async fn around_dst(app: &TestApp) {
    location(app).await;
    tariff(app, "T1").await;
    tariff(app, "T2").await;
    let cdrs = [
        Cdr {
            id: "C1",
            start: "2024-03-30T22:30:00Z",
            tariffs: &["T1"],
            cost: ("4.00", Some("4.84")),
            energy: "15.342",
            time: "1.973",
            parking: Some("0.25"),
            ..Cdr::default()
        },
        Cdr {
            id: "C2",
            start: "2024-03-30T23:30:00Z",
            evse: "E2",
            tariffs: &["T2", "T1"],
            cost: ("10.1234", Some("12.2493")),
            energy: "20.5",
            time: "2",
            parking: Some("0"),
            ..Cdr::default()
        },
        Cdr {
            id: "C3",
            start: "2024-03-31T22:30:00Z",
            location: "LOC2",
            tariffs: &["t1", "T2"],
            cost: ("3.333333", Some("4.033333")),
            energy: "7.777777",
            time: "0.5",
            parking: Some("0.1"),
            ..Cdr::default()
        },
        Cdr {
            id: "C4",
            start: "2024-03-31T01:30:00Z",
            location: "LOC2",
            cost: ("1.5", None),
            energy: "3",
            time: "0.25",
            ..Cdr::default()
        },
        Cdr {
            id: "C5",
            start: "2024-03-31T10:00:00Z",
            location: "LOC3",
            currency: "SEK",
            tariffs: &["T9"],
            cost: ("100", Some("125")),
            energy: "30",
            time: "1",
            parking: Some("0"),
            ..Cdr::default()
        },
        Cdr {
            id: "C6",
            start: "2024-03-30T22:30:00Z",
            tariffs: &["T1"],
            cost: ("-4.00", Some("-4.84")),
            energy: "15.342",
            time: "1.973",
            parking: Some("0.25"),
            credits: Some("C1"),
            ..Cdr::default()
        },
        Cdr {
            id: "C7",
            start: "2024-03-30T12:00:00Z",
            location: "LOC3",
            evse: "E2",
            tariffs: &["T1"],
            cost: ("2.5", Some("3.025")),
            energy: "5",
            time: "1",
            parking: Some("0.5"),
            ..Cdr::default()
        },
    ];
    for cdr in cdrs {
        post(app, cdr).await;
    }
}

const BY_DAY: &str = r#"query($tz: String!) { billing(from: "2024-03-29T00:00:00Z",
    to: "2024-04-02T00:00:00Z", timeZone: $tz, groupBy: [DAY]) {
    timeZone groupBy buckets { period { label start end } currency cdrCount creditCount
      totalEnergy totalTime totalParkingTime totalCost totalCostInclVat } } }"#;

#[tokio::test]
async fn days_in_amsterdam_follow_the_dst_change_and_local_midnight() {
    let app = TestApp::spawn().await;
    around_dst(&app).await;

    let local = app
        .graphql(BY_DAY, json!({ "tz": "Europe/Amsterdam" }))
        .await;
    let utc = app.graphql(BY_DAY, json!({ "tz": "UTC" })).await;

    // 03-30: C7 + C1 - its credit C6 (energy, times and costs cancel out).
    // 03-31 lasts 23 hours; C2 (00:30 local) is in it, C4 has no incl. VAT.
    // C3 at 22:30Z is 00:30 CEST on 04-01 (with CET it would be 03-31).
    assert_eq!(
        local["billing"],
        json!({ "timeZone": "Europe/Amsterdam", "groupBy": ["DAY"], "buckets": [
            { "period": { "label": "2024-03-30", "start": "2024-03-29T23:00:00Z", "end": "2024-03-30T23:00:00Z" },
              "currency": "EUR", "cdrCount": 3, "creditCount": 1, "totalEnergy": "5", "totalTime": "1",
              "totalParkingTime": "0.5", "totalCost": "2.5", "totalCostInclVat": "3.025" },
            { "period": { "label": "2024-03-31", "start": "2024-03-30T23:00:00Z", "end": "2024-03-31T22:00:00Z" },
              "currency": "EUR", "cdrCount": 2, "creditCount": 0, "totalEnergy": "23.5", "totalTime": "2.25",
              "totalParkingTime": "0", "totalCost": "11.6234", "totalCostInclVat": null },
            { "period": { "label": "2024-03-31", "start": "2024-03-30T23:00:00Z", "end": "2024-03-31T22:00:00Z" },
              "currency": "SEK", "cdrCount": 1, "creditCount": 0, "totalEnergy": "30", "totalTime": "1",
              "totalParkingTime": "0", "totalCost": "100", "totalCostInclVat": "125" },
            { "period": { "label": "2024-04-01", "start": "2024-03-31T22:00:00Z", "end": "2024-04-01T22:00:00Z" },
              "currency": "EUR", "cdrCount": 1, "creditCount": 0, "totalEnergy": "7.777777", "totalTime": "0.5",
              "totalParkingTime": "0.1", "totalCost": "3.3333", "totalCostInclVat": "4.0333" }
        ] })
    );
    // In UTC C2 (23:30Z) is still on 03-30 and C3 on 03-31.
    let days: Vec<(&str, &str, i64, &str, &Value)> = utc["billing"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["period"]["label"].as_str().unwrap(),
                b["currency"].as_str().unwrap(),
                b["cdrCount"].as_i64().unwrap(),
                b["totalCost"].as_str().unwrap(),
                &b["totalCostInclVat"],
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2024-03-30", "EUR", 4, "12.6234", &json!("15.2743")),
            ("2024-03-31", "EUR", 2, "4.8333", &Value::Null),
            ("2024-03-31", "SEK", 1, "100", &json!("125")),
        ]
    );
}

#[tokio::test]
async fn tariff_sets_count_each_cdr_once_and_link_locations_and_tariffs() {
    let app = TestApp::spawn().await;
    around_dst(&app).await;

    let got = app
        .graphql(
            r#"{ month: billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z",
                    timeZone: "Europe/Amsterdam", groupBy: [MONTH, TARIFF]) { buckets {
                    period { label } partyId tariffIds tariffs { ocpiId } currency cdrCount totalCost } }
                 tariff: billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z", groupBy: [TARIFF],
                    filter: { currency: "EUR" }) { buckets { tariffIds cdrCount totalEnergy totalTime
                    totalParkingTime totalCost totalCostInclVat } }
                 place: billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z",
                    groupBy: [LOCATION, CURRENCY]) { buckets {
                    countryCode partyId locationId location { name } evseUid currency cdrCount totalCost } } }"#,
            json!({}),
        )
        .await;

    // C3 sent ["t1", "T2"] and C2 ["T2", "T1"]: one set. T9 was never pushed.
    assert_eq!(
        got["month"]["buckets"],
        json!([
            { "period": { "label": "2024-03" }, "partyId": "GFX", "tariffIds": [], "tariffs": [],
              "currency": "EUR", "cdrCount": 1, "totalCost": "1.5" },
            { "period": { "label": "2024-03" }, "partyId": "GFX", "tariffIds": ["T1"],
              "tariffs": [{ "ocpiId": "T1" }], "currency": "EUR", "cdrCount": 3, "totalCost": "2.5" },
            { "period": { "label": "2024-03" }, "partyId": "GFX", "tariffIds": ["T1", "T2"],
              "tariffs": [{ "ocpiId": "T1" }, { "ocpiId": "T2" }], "currency": "EUR", "cdrCount": 1,
              "totalCost": "10.1234" },
            { "period": { "label": "2024-03" }, "partyId": "GFX", "tariffIds": ["T9"], "tariffs": [],
              "currency": "SEK", "cdrCount": 1, "totalCost": "100" },
            { "period": { "label": "2024-04" }, "partyId": "GFX", "tariffIds": ["T1", "T2"],
              "tariffs": [{ "ocpiId": "T1" }, { "ocpiId": "T2" }], "currency": "EUR", "cdrCount": 1,
              "totalCost": "3.3333" }
        ])
    );
    // C2 + C3: 20.5 + 7.777777 kWh, 10.1234 + 3.333333 (13.456733),
    // 12.2493 + 4.033333 (16.282633): money is summed exactly, then shown
    // to four decimals.
    assert_eq!(
        got["tariff"]["buckets"][1],
        json!({ "tariffIds": ["T1"], "cdrCount": 3, "totalEnergy": "5", "totalTime": "1",
            "totalParkingTime": "0.5", "totalCost": "2.5", "totalCostInclVat": "3.025" })
    );
    assert_eq!(
        got["tariff"]["buckets"][2],
        json!({ "tariffIds": ["T1", "T2"], "cdrCount": 2, "totalEnergy": "28.277777", "totalTime": "2.5",
            "totalParkingTime": "0.1", "totalCost": "13.4567", "totalCostInclVat": "16.2826" })
    );
    // LOC1 was pushed (its name shows); LOC2 and LOC3 are known only from CDRs.
    assert_eq!(
        got["place"]["buckets"],
        json!([
            { "countryCode": "NL", "partyId": "GFX", "locationId": "LOC1", "location": { "name": "Centraal" },
              "evseUid": null, "currency": "EUR", "cdrCount": 3, "totalCost": "10.1234" },
            { "countryCode": "NL", "partyId": "GFX", "locationId": "LOC2", "location": null,
              "evseUid": null, "currency": "EUR", "cdrCount": 2, "totalCost": "4.8333" },
            { "countryCode": "NL", "partyId": "GFX", "locationId": "LOC3", "location": null,
              "evseUid": null, "currency": "EUR", "cdrCount": 1, "totalCost": "2.5" },
            { "countryCode": "NL", "partyId": "GFX", "locationId": "LOC3", "location": null,
              "evseUid": null, "currency": "SEK", "cdrCount": 1, "totalCost": "100" }
        ])
    );
}

#[tokio::test]
async fn iso_weeks_cross_the_year_boundary_in_local_time() {
    let app = TestApp::spawn().await;
    // Sunday 2024-12-29 (2024-W52), Monday 2024-12-30 (2025-W01), and
    // Sunday 2025-01-05 23:30Z, which is Monday 00:30 in Amsterdam (2025-W02).
    for (id, start, cost) in [
        ("W1", "2024-12-29T12:00:00Z", "1.1"),
        ("W2", "2024-12-30T12:00:00Z", "2.2"),
        ("W3", "2025-01-05T23:30:00Z", "3.3"),
    ] {
        let cdr = Cdr {
            id,
            start,
            cost: (cost, None),
            ..Cdr::default()
        };
        post(&app, cdr).await;
    }

    let got = app
        .graphql(
            r#"{ billing(from: "2024-12-23T00:00:00Z", to: "2025-01-13T00:00:00Z",
                timeZone: "Europe/Amsterdam", groupBy: [WEEK]) { buckets { period { label start end } totalCost } } }"#,
            json!({}),
        )
        .await;

    assert_eq!(
        got["billing"]["buckets"],
        json!([
            { "period": { "label": "2024-W52", "start": "2024-12-22T23:00:00Z", "end": "2024-12-29T23:00:00Z" },
              "totalCost": "1.1" },
            { "period": { "label": "2025-W01", "start": "2024-12-29T23:00:00Z", "end": "2025-01-05T23:00:00Z" },
              "totalCost": "2.2" },
            { "period": { "label": "2025-W02", "start": "2025-01-05T23:00:00Z", "end": "2025-01-12T23:00:00Z" },
              "totalCost": "3.3" }
        ])
    );
}

#[tokio::test]
async fn billing_filters_and_refuses_bad_input_with_codes() {
    let app = TestApp::spawn().await;
    around_dst(&app).await;
    let q = |name: &str, args: &str| {
        format!(
            r#"{name}: billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z"{args}) {{
                buckets {{ currency cdrCount totalCost }} }}"#
        )
    };

    let filtered = [
        q("sek", r#", filter: { currency: "SEK" }"#),
        q(
            "ordinary",
            r#", filter: { credit: false, currency: "EUR" }"#,
        ),
        q("loc", r#", filter: { locationId: "LOC1" }"#),
        q(
            "window",
            r#", filter: { started: { from: "2024-03-31T00:00:00Z" } }"#,
        ),
    ];
    let got = app
        .graphql(&format!("{{ {} }}", filtered.join(" ")), json!({}))
        .await;

    assert_eq!(
        got["sek"]["buckets"],
        json!([{ "currency": "SEK", "cdrCount": 1, "totalCost": "100" }])
    );
    // Without the credit C6: C1 4 + C2 10.1234 + C3 3.333333 + C4 1.5 + C7 2.5.
    assert_eq!(
        got["ordinary"]["buckets"],
        json!([{ "currency": "EUR", "cdrCount": 5, "totalCost": "21.4567" }])
    );
    assert_eq!(
        got["loc"]["buckets"],
        json!([{ "currency": "EUR", "cdrCount": 3, "totalCost": "10.1234" }])
    );
    // From 03-31 00:00Z: C3, C4 (EUR) and C5 (SEK).
    assert_eq!(
        got["window"]["buckets"],
        json!([{ "currency": "EUR", "cdrCount": 2, "totalCost": "4.8333" },
               { "currency": "SEK", "cdrCount": 1, "totalCost": "100" }])
    );

    for (args, message) in [
        (
            r#", timeZone: "Europe/Atlantis""#,
            "unknown time zone \"Europe/Atlantis\": expected an IANA name such as Europe/Amsterdam or UTC",
        ),
        (", groupBy: [DAY, MONTH]", "group by at most one of DAY, WEEK and MONTH"),
    ] {
        let query = format!("{{ {} }}", q("billing", args));
        let response = app.graphql_raw(&query, json!({})).await;
        assert_eq!(response["errors"][0]["message"], message, "{args}");
        assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let backwards = app
        .graphql_raw(
            r#"{ billing(from: "2024-05-01T00:00:00Z", to: "2024-05-01T00:00:00Z") { buckets { cdrCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        backwards["errors"][0]["message"],
        "`from` must be before `to`"
    );
    assert_eq!(
        backwards["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let long = app
        .graphql_raw(
            r#"{ billing(from: "2020-01-01T00:00:00Z", to: "2030-01-01T00:00:00Z", groupBy: [DAY]) { buckets { cdrCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        long["errors"][0]["message"],
        "the range spans more than 1000 periods; narrow it or choose a longer period"
    );
}

/// The statements a query costs: the fewest of three runs, so that a
/// background statement that lands meanwhile (the push-token usage writer,
/// the outbox reader woken by a late NOTIFY) is not counted against it.
async fn fewest_statements(app: &TestApp, query: &str) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        let before = app.state.store.statements_run();
        app.graphql(query, json!({})).await;
        fewest = fewest.min(app.state.store.statements_run() - before);
    }
    fewest
}

#[tokio::test]
async fn a_billing_report_costs_one_statement_and_its_links_one_each() {
    let app = TestApp::spawn_with(|c| c.outbox_poll_ms = 3_600_000).await;
    around_dst(&app).await;
    app.wait_for_reader().await;
    let report = r#"{ billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z",
        timeZone: "Europe/Amsterdam", groupBy: [DAY, LOCATION, EVSE, TARIFF]) { buckets { cdrCount } } }"#;
    let linked = r#"{ billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z",
        groupBy: [DAY, LOCATION, TARIFF]) { buckets { location { name } tariffs { ocpiId } } } }"#;

    let got = app.graphql(report, json!({})).await;
    let plain = fewest_statements(&app, report).await;
    let with_links = fewest_statements(&app, linked).await;

    // C1 and its credit share a day, location, EVSE and tariff set.
    assert_eq!(got["billing"]["buckets"].as_array().unwrap().len(), 6);
    assert_eq!(plain, 1, "the totals are one statement");
    assert_eq!(
        with_links, 3,
        "totals, then the locations and the tariffs of every bucket, each in one statement"
    );
}

#[tokio::test]
async fn a_caller_scoped_to_another_party_gets_no_buckets() {
    let app = TestApp::spawn_with(|c| c.graphql_auth = true).await;
    around_dst(&app).await;
    let (_, gfx) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    let (_, other) = app.add_api_key(Some(&["NL/OTH"]), false, None).await;
    let query = r#"{ billing(from: "2024-03-01T00:00:00Z", to: "2024-05-01T00:00:00Z") {
        buckets { currency cdrCount } } }"#;

    let (_, mine) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &gfx)])
        .await;
    let (_, theirs) = app
        .graphql_with(query, json!({}), &[("X-API-Key", &other)])
        .await;

    assert_eq!(
        mine["data"]["billing"]["buckets"],
        json!([{ "currency": "EUR", "cdrCount": 6 }, { "currency": "SEK", "cdrCount": 1 }])
    );
    assert_eq!(theirs["data"]["billing"]["buckets"], json!([]));
}

const CDR_HEADER: &str = "country_code,party_id,cdr_id,start_date_time,end_date_time,session_id,\
location_id,evse_uid,connector_id,auth_id,token_uid,auth_method,currency,total_energy,total_time,\
total_parking_time,total_cost,total_cost_incl_vat,tariff_ids,credit,credit_reference_id,last_updated\n";

#[tokio::test]
async fn the_cdr_export_is_csv_of_the_callers_cdrs_under_the_filters() {
    let app = TestApp::spawn_with(|c| c.graphql_auth = true).await;
    around_dst(&app).await;
    let (_, gfx) = app.add_api_key(Some(&["NL/GFX"]), false, None).await;
    let (_, other) = app.add_api_key(Some(&["NL/OTH"]), false, None).await;
    let key = |k: &str| vec![("X-API-Key", k.to_owned())];
    let get = |path: &'static str, k: &str| {
        let headers = key(k);
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            app.get_text(path, &headers).await
        }
    };

    let (status, loc1) = get(
        "/export/cdrs.csv?locationId=LOC1&from=2024-03-30T23:00:00Z",
        &gfx,
    )
    .await;
    let (_, credits) = get("/export/cdrs.csv?credit=true", &gfx).await;
    let (_, all) = get("/export/cdrs.csv", &gfx).await;
    let (_, theirs) = get("/export/cdrs.csv", &other).await;
    let (anonymous, _) = app.get_text("/export/cdrs.csv", &[]).await;

    assert_eq!(status, 200);
    assert_eq!(
        loc1,
        format!(
            "{CDR_HEADER}NL,GFX,C2,2024-03-30T23:30:00Z,2024-03-30T23:30:00Z,,LOC1,E2,1,NL-GFX-C12345678-X,012345678,\
WHITELIST,EUR,20.5,2,0,10.1234,12.2493,T2;T1,false,,2024-03-30T23:30:00Z\n"
        )
    );
    assert_eq!(
        credits,
        format!(
            "{CDR_HEADER}NL,GFX,C6,2024-03-30T22:30:00Z,2024-03-30T22:30:00Z,,LOC1,E1,1,NL-GFX-C12345678-X,012345678,\
WHITELIST,EUR,15.342,1.973,0.25,-4,-4.84,T1,true,C1,2024-03-30T22:30:00Z\n"
        )
    );
    let ids: Vec<&str> = all
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(ids, ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]);
    assert_eq!(
        theirs, CDR_HEADER,
        "another party's key gets the header only"
    );
    assert_eq!(anonymous, 401);
}

#[tokio::test]
async fn the_billing_export_has_the_report_as_csv_and_names_bad_parameters() {
    let app = TestApp::spawn().await;
    around_dst(&app).await;

    let (status, csv) = app
        .get_text(
            "/export/billing.csv?from=2024-03-29T00:00:00Z&to=2024-04-02T00:00:00Z\
             &timeZone=Europe/Amsterdam&groupBy=day,location",
            &[],
        )
        .await;
    let (_, sek) = app
        .get_text(
            "/export/billing.csv?from=2024-03-01T00:00:00Z&to=2024-05-01T00:00:00Z&currency=SEK&groupBy=TARIFF",
            &[],
        )
        .await;

    assert_eq!(status, 200);
    let header = "period,period_start,period_end,country_code,party_id,location_id,evse_uid,\
tariff_ids,currency,cdr_count,credit_count,total_energy,total_time,total_parking_time,total_cost,\
total_cost_incl_vat\n";
    assert_eq!(
        csv,
        format!(
            "{header}\
2024-03-30,2024-03-29T23:00:00Z,2024-03-30T23:00:00Z,NL,GFX,LOC1,,,EUR,2,1,0,0,0,0,0\n\
2024-03-30,2024-03-29T23:00:00Z,2024-03-30T23:00:00Z,NL,GFX,LOC3,,,EUR,1,0,5,1,0.5,2.5,3.025\n\
2024-03-31,2024-03-30T23:00:00Z,2024-03-31T22:00:00Z,NL,GFX,LOC1,,,EUR,1,0,20.5,2,0,10.1234,12.2493\n\
2024-03-31,2024-03-30T23:00:00Z,2024-03-31T22:00:00Z,NL,GFX,LOC2,,,EUR,1,0,3,0.25,0,1.5,\n\
2024-03-31,2024-03-30T23:00:00Z,2024-03-31T22:00:00Z,NL,GFX,LOC3,,,SEK,1,0,30,1,0,100,125\n\
2024-04-01,2024-03-31T22:00:00Z,2024-04-01T22:00:00Z,NL,GFX,LOC2,,,EUR,1,0,7.777777,0.5,0.1,3.3333,4.0333\n"
        )
    );
    assert_eq!(
        sek,
        format!("{header},,,NL,GFX,,,T9,SEK,1,0,30,1,0,100,125\n")
    );

    for (query, message) in [
        ("to=2024-05-01T00:00:00Z", "`from` is required (an RFC 3339 instant)"),
        (
            "from=2024-03-01&to=2024-05-01T00:00:00Z",
            "`from`: invalid date-time \"2024-03-01\": expected YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]",
        ),
        (
            "from=2024-03-01T00:00:00Z&to=2024-05-01T00:00:00Z&groupBy=YEAR",
            "unknown groupBy \"YEAR\"; expected DAY, WEEK, MONTH, LOCATION, EVSE, PARTY, TARIFF, CURRENCY",
        ),
        (
            "from=2024-03-01T00:00:00Z&to=2024-05-01T00:00:00Z&timeZone=Nowhere",
            "unknown time zone \"Nowhere\": expected an IANA name such as Europe/Amsterdam or UTC",
        ),
        (
            "from=2024-03-01T00:00:00Z&to=2024-05-01T00:00:00Z&credit=yes",
            "`credit` must be true or false, not \"yes\"",
        ),
        (
            "from=2024-03-01T00:00:00Z&to=2024-05-01T00:00:00Z&party=GFX",
            "unknown parameter `party`; expected from, to, partyId, countryCode, locationId, sessionId, currency, credit, timeZone, groupBy",
        ),
    ] {
        let (status, body) = app
            .get_text(&format!("/export/billing.csv?{query}"), &[])
            .await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status, &body),
            (400, &json!({ "error": message, "code": "BAD_USER_INPUT" })),
            "{query}"
        );
    }
}
