//! The CPO emulator against the spawned server: without network faults
//! chargegraph ends up holding exactly the emulator's ground truth; with
//! drops it does not; the emulator's sender interface pages correctly over
//! real HTTP; `serve --demo` shows live EVSE changes within seconds.

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::time::Duration;

use chargegraph::domain::{Party, Timestamp};
use chargegraph::emulator::{
    Emulator, EmulatorConfig, Faults, GroundTruth, OcpiVersion, RunReport, SessionStatus, Target,
    Until,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::harness::{subscribe_at, TestApp, TestDb};
use crate::shutdown::read_log;

pub(crate) const PULL_TOKEN: &str = "pull-token-for-tests";

fn at(s: &str) -> DateTime<Utc> {
    chargegraph::domain::time::parse(s)
        .unwrap()
        .at
        .as_datetime()
}

fn stamp(at: DateTime<Utc>) -> String {
    Timestamp::from_datetime(at).to_string()
}

/// Six NL/GFX locations from a Monday morning, busy and with faults, as
/// fast as the server answers (pull token `PULL_TOKEN`).
pub(crate) fn config(version: OcpiVersion, faults: Faults) -> EmulatorConfig {
    EmulatorConfig {
        seed: 42,
        party: Party::new("NL", "GFX"),
        locations: 6,
        dc_share: 0.35,
        start: at("2025-03-03T06:00:00Z"),
        speed: 0.0,
        version,
        faults,
        sessions_per_evse_per_day: 10.0,
        faults_per_evse_per_day: 2.0,
        pull_token: PULL_TOKEN.into(),
        ..EmulatorConfig::default()
    }
}

const HOURS: Duration = Duration::from_secs(5 * 3600);

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.max_page_size = 1000;
        c.graphql_max_complexity = 10_000_000;
    })
    .await
}

/// A Decimal scalar or JSON number, normalized ("0.2500" and 0.25 alike).
fn dec(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    text.parse::<Decimal>().ok().map(|d| d.normalize())
}

fn norm(d: Decimal) -> Option<Decimal> {
    Some(d.normalize())
}

const LOCATIONS: &str = "{ locations(first: 1000, filter: {partyId: \"GFX\"}) { nodes {
    ocpiId name address city postalCode country latitude longitude timeZone
    evses { uid evseId status connectors {
        connectorId standardRaw formatRaw powerTypeRaw maxVoltage maxAmperage maxElectricPower } } } } }";

const SESSIONS: &str = "{ sessions(first: 1000, filter: {partyId: \"GFX\"}) { nodes {
    ocpiId statusRaw kwh startDateTime endDateTime locationId evseUid connectorId authId tokenUid
    authMethodRaw currency incomplete
    chargingPeriods { startDateTime dimensions { typeRaw volume } } } } }";

const CDRS: &str = "{ cdrs(first: 1000, filter: {partyId: \"GFX\"}) { nodes {
    ocpiId sessionId locationId evseUid connectorId startDateTime endDateTime currency authId
    totalCost totalCostInclVat totalEnergy totalTime totalParkingTime tariffIds } } }";

/// What chargegraph holds of one kind, by OCPI id.
async fn held(app: &TestApp, query: &str, list: &str) -> HashMap<String, Value> {
    let data = app.graphql(query, json!({})).await;
    let nodes = data[list]["nodes"].as_array().cloned().unwrap_or_default();
    nodes
        .into_iter()
        .map(|n| (n["ocpiId"].as_str().unwrap_or_default().to_owned(), n))
        .collect()
}

/// Every difference between the ground truth and what chargegraph holds,
/// one line each, field by field (for NL/GFX; a reconciliation test can
/// assert that there are none left).
pub(crate) async fn differences(
    app: &TestApp,
    truth: &GroundTruth,
    version: OcpiVersion,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut differ = |what: String, want: Value, got: &Value| {
        if &want != got {
            diffs.push(format!("{what}: want {want}, got {got}"));
        }
    };

    let locations = held(app, LOCATIONS, "locations").await;
    differ(
        "location count".into(),
        json!(truth.locations.len()),
        &json!(locations.len()),
    );
    for l in &truth.locations {
        let Some(got) = locations.get(&l.id) else {
            differ(
                format!("location {}", l.id),
                json!("present"),
                &json!("absent"),
            );
            continue;
        };
        let want = json!({
            "name": l.name, "address": l.address, "city": l.city, "postalCode": l.postal_code,
            "country": l.country, "latitude": l.latitude, "longitude": l.longitude,
            "timeZone": l.time_zone,
        });
        for (field, value) in want.as_object().unwrap() {
            differ(
                format!("location {} {field}", l.id),
                value.clone(),
                &got[field],
            );
        }
        let evses = got["evses"].as_array().cloned().unwrap_or_default();
        differ(
            format!("location {} EVSE count", l.id),
            json!(l.evses.len()),
            &json!(evses.len()),
        );
        for e in &l.evses {
            let Some(got) = evses.iter().find(|g| g["uid"] == e.uid.as_str()) else {
                differ(
                    format!("EVSE {}", e.uid),
                    json!("present"),
                    &json!("absent"),
                );
                continue;
            };
            differ(
                format!("EVSE {} status", e.uid),
                json!(e.status.as_str()),
                &got["status"],
            );
            differ(
                format!("EVSE {} evseId", e.uid),
                json!(e.evse_id),
                &got["evseId"],
            );
            let want: Vec<Value> = e
                .connectors
                .iter()
                .map(|c| {
                    json!({
                        "connectorId": c.id, "standardRaw": c.standard, "formatRaw": c.format,
                        "powerTypeRaw": c.power_type, "maxVoltage": c.voltage,
                        "maxAmperage": c.amperage, "maxElectricPower": c.max_electric_power,
                    })
                })
                .collect();
            differ(
                format!("EVSE {} connectors", e.uid),
                json!(want),
                &got["connectors"],
            );
        }
    }

    let sessions = held(app, SESSIONS, "sessions").await;
    differ(
        "session count".into(),
        json!(truth.sessions.len()),
        &json!(sessions.len()),
    );
    for s in &truth.sessions {
        let Some(got) = sessions.get(&s.id) else {
            differ(
                format!("session {}", s.id),
                json!("present"),
                &json!("absent"),
            );
            continue;
        };
        let what = |field: &str| format!("session {} {field}", s.id);
        differ(what("kwh"), json!(norm(s.kwh)), &json!(dec(&got["kwh"])));
        differ(what("status"), json!(s.status.as_str()), &got["statusRaw"]);
        differ(what("start"), json!(stamp(s.start)), &got["startDateTime"]);
        differ(what("end"), json!(s.end.map(stamp)), &got["endDateTime"]);
        differ(what("location"), json!(s.location_id), &got["locationId"]);
        differ(what("evse"), json!(s.evse_uid), &got["evseUid"]);
        differ(
            what("connector"),
            json!(s.connector_id),
            &got["connectorId"],
        );
        differ(what("auth id"), json!(s.auth_id), &got["authId"]);
        differ(
            what("auth method"),
            json!(s.auth_method),
            &got["authMethodRaw"],
        );
        differ(what("incomplete"), json!(false), &got["incomplete"]);
        if version == OcpiVersion::V221 {
            differ(what("token uid"), json!(s.token_uid), &got["tokenUid"]);
        }
        let want: Vec<Value> = s
            .charging_periods
            .iter()
            .map(|p| json!([stamp(p.start), norm(p.hours), norm(p.energy_kwh)]))
            .collect();
        let periods: Vec<Value> = got["chargingPeriods"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let volume = |kind: &str| {
                    p["dimensions"]
                        .as_array()
                        .and_then(|ds| ds.iter().find(|d| d["typeRaw"] == kind))
                        .and_then(|d| dec(&d["volume"]))
                };
                json!([p["startDateTime"], volume("TIME"), volume("ENERGY")])
            })
            .collect();
        differ(what("periods"), json!(want), &json!(periods));
    }

    let cdrs = held(app, CDRS, "cdrs").await;
    differ(
        "CDR count".into(),
        json!(truth.cdrs.len()),
        &json!(cdrs.len()),
    );
    for c in &truth.cdrs {
        let Some(got) = cdrs.get(&c.id) else {
            differ(format!("CDR {}", c.id), json!("present"), &json!("absent"));
            continue;
        };
        let what = |field: &str| format!("CDR {} {field}", c.id);
        differ(what("session"), json!(c.session_id), &got["sessionId"]);
        differ(what("location"), json!(c.location_id), &got["locationId"]);
        differ(what("evse"), json!(c.evse_uid), &got["evseUid"]);
        differ(
            what("connector"),
            json!(c.connector_id),
            &got["connectorId"],
        );
        differ(what("start"), json!(stamp(c.start)), &got["startDateTime"]);
        differ(what("end"), json!(stamp(c.end)), &got["endDateTime"]);
        differ(what("currency"), json!(c.currency), &got["currency"]);
        differ(what("auth id"), json!(c.auth_id), &got["authId"]);
        differ(
            what("total cost"),
            json!(norm(c.price.total_excl_vat)),
            &json!(dec(&got["totalCost"])),
        );
        differ(
            what("total cost incl. VAT"),
            json!(norm(c.price.total_incl_vat)),
            &json!(dec(&got["totalCostInclVat"])),
        );
        differ(
            what("energy"),
            json!(norm(c.total_energy)),
            &json!(dec(&got["totalEnergy"])),
        );
        differ(
            what("time"),
            json!(norm(c.total_time)),
            &json!(dec(&got["totalTime"])),
        );
        differ(
            what("parking time"),
            json!(norm(c.total_parking_time)),
            &json!(dec(&got["totalParkingTime"])),
        );
        differ(what("tariffs"), json!([c.tariff_id]), &got["tariffIds"]);
    }
    diffs
}

fn assert_clean(report: &RunReport) {
    let p = &report.pushes;
    assert_eq!((p.refused, p.failed, p.dropped), (0, 0, 0), "{report:?}");
    assert_eq!(p.accepted, p.intended, "{report:?}");
}

/// The world the ground truth should show after five hours: sessions that
/// ended and were billed, sessions still running, faults.
fn assert_eventful(truth: &GroundTruth) {
    let completed = truth
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Completed);
    assert!(completed.count() >= 5, "{} sessions", truth.sessions.len());
    assert!(truth
        .sessions
        .iter()
        .any(|s| s.status == SessionStatus::Active));
    assert!(truth.cdrs.len() >= 3, "{} CDRs", truth.cdrs.len());
    let faults = truth.notifications.iter().filter(|n| {
        n.payload.contains("\"status\":\"Faulted\"") || n.payload.contains("Unavailable")
    });
    assert!(faults.count() >= 1, "no fault in five hours");
    assert!(truth.sessions.iter().any(|s| s.charging_periods.len() >= 4));
}

#[tokio::test]
async fn without_network_faults_chargegraph_holds_the_greenflux_emulators_ground_truth() {
    let app = spawn().await;
    let emulator = Emulator::new(config(OcpiVersion::V211, Faults::default())).unwrap();
    let target = Target::new(app.url(""), app.token.clone());

    let report = emulator.run(&target, Until::For(HOURS)).await.unwrap();

    assert_clean(&report);
    let truth = emulator.ground_truth();
    assert_eq!(truth.now, at("2025-03-03T11:00:00Z"));
    assert_eventful(&truth);
    let diffs = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );

    // Seed 42 builds this world (a change to the simulation changes these).
    assert_eq!(
        truth.locations[0].id,
        "e8379b5e-471e-4f37-b909-2e5243da17fc"
    );
    assert_eq!((truth.sessions.len(), truth.cdrs.len()), (34, 17));
    let first = &truth.sessions[0];
    assert_eq!(first.id, "NLGFX638765786460916181-c3019");
    assert_eq!(stamp(first.start), "2025-03-03T06:04:06Z");
    assert_eq!(first.kwh.to_string(), "58.323");
    assert_eq!(report.pushes.intended, 970);
}

#[tokio::test]
async fn an_ocpi_221_emulator_stamps_every_patch_and_a_strict_token_takes_them_all() {
    let app = spawn().await;
    let strict = app.add_token(&["NL/GFX"], true).await;
    let emulator = Emulator::new(config(OcpiVersion::V221, Faults::default())).unwrap();
    let target = Target::new(app.url("/ocpi/2.2.1"), strict);

    let report = emulator.run(&target, Until::For(HOURS)).await.unwrap();

    // A strict token refuses (2001) any PATCH without last_updated.
    assert_clean(&report);
    let truth = emulator.ground_truth();
    assert_eventful(&truth);
    let diffs = differences(&app, &truth, OcpiVersion::V221).await;
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    let tariffs = app
        .graphql(
            "{ tariffs(first: 10) { nodes { ocpiId currency } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        tariffs["tariffs"]["nodes"],
        json!([
            {"ocpiId": "AC22", "currency": "EUR"},
            {"ocpiId": "DC50", "currency": "EUR"},
            {"ocpiId": "HPC", "currency": "EUR"},
        ])
    );
}

#[tokio::test]
async fn dropped_pushes_leave_chargegraph_behind_the_same_ground_truth() {
    let app = spawn().await;
    let lossy = Faults {
        drop: 0.1,
        reorder: 0.05,
        duplicate: 0.05,
    };
    let emulator = Emulator::new(config(OcpiVersion::V211, lossy)).unwrap();
    let target = Target::new(app.url(""), app.token.clone());

    let report = emulator.run(&target, Until::For(HOURS)).await.unwrap();

    let p = &report.pushes;
    assert!(
        p.dropped > 0 && p.reordered > 0 && p.duplicated > 0,
        "{report:?}"
    );
    assert_eq!(report.dropped.len() as u64, p.dropped);
    assert_eq!(p.failed, 0);
    let truth = emulator.ground_truth();
    let diffs = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(
        !diffs.is_empty(),
        "10 % of {} pushes dropped, yet no difference",
        p.intended
    );

    // The network has its own randomness: the world is the one a faultless
    // run makes (nothing reaches this closed port; only the truth matters).
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let faultless = Emulator::new(config(OcpiVersion::V211, Faults::default())).unwrap();
    let run = faultless
        .run(&Target::new(nowhere, "t"), Until::For(HOURS))
        .await
        .unwrap();
    assert_eq!(run.pushes.failed, run.pushes.intended);
    assert_eq!(faultless.ground_truth(), truth);
}

/// The sender interface of a simulated (never pushed) emulator, served on 127.0.0.1:0.
async fn serve_sender(page_limit: usize) -> (Emulator, String) {
    let emulator = Emulator::new(EmulatorConfig {
        locations: 12,
        page_limit,
        ..config(OcpiVersion::V211, Faults::default())
    })
    .unwrap();
    let report = emulator
        .simulate(Until::For(Duration::from_secs(8 * 3600)))
        .await;
    assert_eq!(report.pushes.unsent, report.pushes.intended);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.sender_router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (emulator, base)
}

/// A GET with the pull token: HTTP status, headers, envelope.
async fn pull(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("Token {PULL_TOKEN}"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Follows `Link: <url>; rel="next"` from `url` to the end: every object's
/// `key`, each page's size and X-Total-Count.
async fn crawl(url: &str, key: &str) -> (Vec<String>, Vec<usize>, BTreeSet<String>) {
    let (mut ids, mut sizes, mut totals) = (Vec::new(), Vec::new(), BTreeSet::new());
    let mut next = Some(url.to_owned());
    while let Some(url) = next.take() {
        let (status, headers, body) = pull(&url).await;
        assert_eq!(
            (status, body["status_code"].as_i64()),
            (200, Some(1000)),
            "{url}: {body}"
        );
        let page = body["data"].as_array().unwrap();
        sizes.push(page.len());
        ids.extend(page.iter().map(|o| o[key].as_str().unwrap().to_owned()));
        totals.insert(header(&headers, "x-total-count").unwrap());
        next = header(&headers, "link").map(|link| {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
        assert!(sizes.len() < 100, "the Link never ends");
    }
    (ids, sizes, totals)
}

#[tokio::test]
async fn the_sender_interface_pages_every_object_exactly_once_over_http() {
    let (emulator, base) = serve_sender(7).await;
    let truth = emulator.ground_truth();

    let (ids, sizes, totals) = crawl(&format!("{base}/ocpi/2.2.1/locations?limit=5"), "id").await;
    assert_eq!(sizes, [5, 5, 2]);
    assert_eq!(totals, BTreeSet::from(["12".to_owned()]));
    let mut want: Vec<String> = truth.locations.iter().map(|l| l.id.clone()).collect();
    let mut got = ids.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "every location exactly once");

    // The server's maximum page (X-Limit 7) lowers a larger limit, and the
    // Link carries the lowered one.
    let (_, headers, body) = pull(&format!("{base}/ocpi/2.1.1/locations?limit=50")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 7);
    assert_eq!(header(&headers, "x-limit").as_deref(), Some("7"));
    assert_eq!(
        header(&headers, "link").unwrap(),
        format!("<{base}/ocpi/2.1.1/locations?offset=7&limit=7>; rel=\"next\"")
    );

    // Sessions need date_from; with a window, the Link keeps it.
    let (status, _, body) = pull(&format!("{base}/ocpi/2.2.1/sessions")).await;
    assert_eq!((status, body["status_code"].as_i64()), (200, Some(2001)));
    assert_eq!(body["status_message"], "date_from is required for sessions");
    let window = "date_from=2025-03-03T08:00:00Z&date_to=2025-03-03T12:00:00Z";
    let (ids, _, totals) = crawl(&format!("{base}/ocpi/2.2.1/sessions?{window}"), "id").await;
    let mut want: Vec<String> = truth
        .sessions
        .iter()
        .filter(|s| {
            s.last_updated >= at("2025-03-03T08:00:00Z")
                && s.last_updated < at("2025-03-03T12:00:00Z")
        })
        .map(|s| s.id.clone())
        .collect();
    assert!(want.len() > 7, "more than one page: {}", want.len());
    assert_eq!(totals, BTreeSet::from([want.len().to_string()]));
    let mut got = ids;
    want.sort();
    got.sort();
    assert_eq!(got, want);

    // CDRs oldest first, each once; the 2.1.1 shape is GreenFlux's.
    let (ids, _, _) = crawl(&format!("{base}/ocpi/2.1.1/cdrs?limit=3"), "id").await;
    let want: Vec<String> = truth.cdrs.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, want);
    let (_, _, body) = pull(&format!("{base}/ocpi/2.1.1/cdrs?limit=1")).await;
    let cdr = &body["data"][0];
    assert!(
        cdr["stop_date_time"].is_string() && cdr["location"]["evses"].is_array(),
        "{cdr}"
    );
    assert_eq!(
        dec(&cdr["total_cost"]),
        norm(truth.cdrs[0].price.total_excl_vat)
    );
}

#[tokio::test]
async fn the_sender_interface_discovers_versions_and_serves_objects_by_id() {
    let (emulator, base) = serve_sender(100).await;
    let truth = emulator.ground_truth();

    let refused = reqwest::get(format!("{base}/ocpi/versions")).await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let (_, _, body) = pull(&format!("{base}/ocpi/versions")).await;
    assert_eq!(
        body["data"],
        json!([
            {"version": "2.1.1", "url": format!("{base}/ocpi/2.1.1")},
            {"version": "2.2.1", "url": format!("{base}/ocpi/2.2.1")},
        ])
    );
    let (_, _, body) = pull(&format!("{base}/ocpi/2.2.1")).await;
    assert_eq!(
        body["data"]["endpoints"][1],
        json!({
            "identifier": "sessions", "role": "SENDER", "url": format!("{base}/ocpi/2.2.1/sessions"),
        })
    );

    let location = &truth.locations[0];
    let evse = &location.evses[0];
    let url = format!("{base}/ocpi/2.2.1/locations/{}/{}/1", location.id, evse.uid);
    let (status, _, body) = pull(&url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["max_electric_power"],
        evse.connectors[0].max_electric_power
    );
    let (status, _, body) = pull(&format!("{base}/ocpi/2.2.1/locations/nowhere")).await;
    assert_eq!((status, body["status_code"].as_i64()), (404, Some(2003)));
    let (status, _, body) = pull(&format!("{base}/ocpi/2.1.1/locations/{}", location.id)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["evses"].as_array().unwrap().len(),
        location.evses.len()
    );
}

#[tokio::test]
async fn the_greenflux_pull_api_refuses_wide_notification_windows_and_shows_only_completed_sessions(
) {
    let (emulator, base) = serve_sender(100).await;
    let truth = emulator.ground_truth();
    let api = format!("{base}/api/2.0");

    let wide = "date_from=2025-03-01T00:00:00Z&date_to=2025-03-04T01:00:00Z&limit=10000";
    let (status, _, body) = pull(&format!("{api}/notifications?{wide}")).await;
    assert_eq!((status, body["status_code"].as_i64()), (200, Some(2001)));
    assert_eq!(
        body["status_message"],
        "the window from date_from to date_to is at most 72 hours"
    );
    let small = "date_from=2025-03-03T00:00:00Z&date_to=2025-03-04T00:00:00Z&limit=100";
    let (_, _, body) = pull(&format!("{api}/notifications?{small}")).await;
    assert_eq!(body["status_message"], "limit must be at least 10000");
    let (_, _, body) = pull(&format!(
        "{api}/notifications?date_from=2025-03-03T00:00:00Z"
    ))
    .await;
    assert_eq!(body["status_code"], 2001);

    let window = "date_from=2025-03-03T00:00:00Z&date_to=2025-03-06T00:00:00Z&limit=10000";
    let (_, headers, body) = pull(&format!("{api}/notifications?{window}")).await;
    let list = body["data"].as_array().unwrap();
    assert_eq!(list.len(), truth.notifications.len());
    assert_eq!(
        header(&headers, "x-total-count"),
        Some(list.len().to_string())
    );
    assert!(list[0]["charge_station_message_payload"].is_string());

    let (ids, _, _) = crawl(&format!("{api}/sessions?limit=4"), "id").await;
    let completed: BTreeSet<String> = truth
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Completed)
        .map(|s| s.id.clone())
        .collect();
    assert!(
        completed.len() < truth.sessions.len(),
        "some sessions still run"
    );
    assert_eq!(ids.len(), completed.len());
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), completed);
    let (_, _, body) = pull(&format!("{api}/sessions?limit=1")).await;
    assert!(
        body["data"][0].get("charging_periods").is_none(),
        "aggregates only"
    );
    assert_eq!(body["data"][0]["status"], "COMPLETED");
}

#[tokio::test]
async fn serve_demo_shows_emulated_evse_status_changes_on_a_subscription_within_seconds() {
    let db = TestDb::create().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .args(["serve", "--demo"])
        .env("CHARGEGRAPH_DATABASE_URL", db.url())
        .env("CHARGEGRAPH_LISTEN", "127.0.0.1:0")
        .env("CHARGEGRAPH_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("CHARGEGRAPH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let (addr, log) = read_log(child.stderr.take().unwrap()).await;

    let mut subscription = subscribe_at(
        addr,
        "subscription { evseStatusChanged(filter: {partyId: \"EMU\"}) {
            kind ... on EvseStatusChange { uid status previousStatus } } }",
        json!({}),
    )
    .await;
    // The fleet's first PUTs create its EVSEs (no previous status); what
    // counts are the changes after them: cars arriving and leaving, faults.
    let started = tokio::time::Instant::now();
    let (mut created, mut changes) = (0, Vec::new());
    while changes.len() < 3 {
        let left = Duration::from_secs(20).saturating_sub(started.elapsed());
        let Some(data) = subscription.next_data(left).await else {
            panic!(
                "{} emulated EVSE changes in 20 s: {changes:?}",
                changes.len()
            );
        };
        let change = &data["evseStatusChanged"];
        assert_eq!(change["kind"], "LIVE");
        assert!(
            change["uid"].as_str().unwrap().starts_with("NL-EMU-E"),
            "{change}"
        );
        match change["previousStatus"].as_str() {
            None => created += 1,
            Some(before) => {
                changes.push(format!("{before}->{}", change["status"].as_str().unwrap()))
            }
        }
    }
    eprintln!(
        "{created} EVSEs created, then 3 status changes {:?} after start: {changes:?}",
        started.elapsed()
    );
    assert!(
        changes.iter().any(|c| c.ends_with("CHARGING")),
        "{changes:?}"
    );

    let lines = log.lock().unwrap().clone();
    let sender = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "emulated CPO sender interface")
        .unwrap_or_else(|| panic!("the sender interface is logged: {lines:#?}"));
    let url = sender["fields"]["url"].as_str().unwrap();
    let unauthorized = reqwest::get(url).await.unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);

    // The replayed GreenFlux day is there too, as before.
    let client = reqwest::Client::new();
    let query = json!({"query": "{ location(countryCode: \"NL\", partyId: \"GFX\",
        ocpiId: \"0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa\") { name } }"});
    let answer: Value = client
        .post(format!("http://{addr}/graphql"))
        .json(&query)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["data"]["location"]["name"], "Gent Zuid");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn an_emulator_with_a_retention_forgets_finished_history_but_runs_the_same_world() {
    let keep = Duration::from_secs(6 * 3600);
    let two_days = Until::For(Duration::from_secs(48 * 3600));
    let everything = Emulator::new(config(OcpiVersion::V211, Faults::default())).unwrap();
    let bounded = Emulator::new(EmulatorConfig {
        retention: Some(keep),
        ..config(OcpiVersion::V211, Faults::default())
    })
    .unwrap();
    everything.simulate(two_days).await;
    bounded.simulate(two_days).await;
    let (all, kept) = (everything.ground_truth(), bounded.ground_truth());

    // The same world: forgetting draws nothing from the random streams.
    assert_eq!(kept.now, at("2025-03-05T06:00:00Z"));
    assert_eq!(kept.locations, all.locations);
    assert_eq!(kept.tariffs, all.tariffs);
    // What is kept is what the full history holds, from an hour before the
    // retention's start on (forgotten once a simulated hour), plus every
    // session that still runs or awaits its CDR.
    let cutoff = at("2025-03-05T00:00:00Z");
    let oldest = at("2025-03-04T23:00:00Z");
    let billed: BTreeSet<&str> = all.cdrs.iter().map(|c| c.session_id.as_str()).collect();
    let must_keep = |s: &chargegraph::emulator::Session| {
        s.last_updated >= cutoff
            || s.status == SessionStatus::Active
            || !billed.contains(s.id.as_str())
    };
    let want: Vec<_> = all.sessions.iter().filter(|s| must_keep(s)).collect();
    let got: Vec<_> = kept.sessions.iter().filter(|s| must_keep(s)).collect();
    assert_eq!(got, want);
    assert!(kept
        .sessions
        .iter()
        .all(|s| must_keep(s) || s.last_updated >= oldest));
    assert!(kept.sessions.iter().all(|s| all.sessions.contains(s)));
    assert!(kept
        .cdrs
        .iter()
        .all(|c| c.last_updated >= oldest && all.cdrs.contains(c)));
    let recent_cdrs = all.cdrs.iter().filter(|c| c.last_updated >= cutoff).count();
    assert!(kept.cdrs.len() >= recent_cdrs);
    assert!(kept
        .notifications
        .iter()
        .all(|n| n.created >= oldest && all.notifications.contains(n)));
    // Two days of this fleet hold about eight times what six hours keep.
    assert!(
        kept.sessions.len() * 4 < all.sessions.len(),
        "{} of {} sessions kept",
        kept.sessions.len(),
        all.sessions.len()
    );
}

#[tokio::test]
async fn the_emulate_command_pushes_the_same_world_as_the_library_emulator() {
    let app = spawn().await;
    let args = [
        "emulate",
        "--target",
        &app.url(""),
        "--token",
        &app.token,
        "--seed",
        "42",
        "--party",
        "NL/GFX",
        "--locations",
        "6",
        "--dc-share",
        "0.35",
        "--start",
        "2025-03-03T06:00:00Z",
        "--speed",
        "0",
        "--duration",
        "5h",
        "--sessions-per-day",
        "10",
        "--faults-per-day",
        "2",
    ]
    .map(str::to_owned);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .args(&args)
        .env_remove("CHARGEGRAPH_CONFIG")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("chargegraph emulate runs");

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The library test above builds this world from the same seed: 970 pushes.
    assert!(
        stderr.contains(
            "up to 2025-03-03T11:00:00Z: 970 pushes meant, 970 accepted, 0 refused, 0 failed, \
             0 dropped, 0 reordered, 0 duplicated"
        ),
        "{stderr}"
    );
    let data = app
        .graphql(
            r#"{ locations(first: 10) { totalCount nodes { partyId } }
                 location(countryCode: "NL", partyId: "GFX",
                          ocpiId: "e8379b5e-471e-4f37-b909-2e5243da17fc") { ocpiId }
                 sessions(first: 1) { totalCount } cdrs(first: 1) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["locations"]["totalCount"], 6);
    assert_eq!(data["locations"]["nodes"][0]["partyId"], "GFX");
    assert_eq!(
        data["location"]["ocpiId"],
        "e8379b5e-471e-4f37-b909-2e5243da17fc"
    );
    assert_eq!(
        (&data["sessions"]["totalCount"], &data["cdrs"]["totalCount"]),
        (&json!(34), &json!(17))
    );
}
