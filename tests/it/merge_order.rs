//! Property: for a session PUT and PATCHes (and for a Location PUT and EVSE
//! status PATCHes) with distinct sender stamps, every arrival order ends in
//! the state of applying them ordered by last_updated.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};

use crate::harness::TestApp;

const STARTS: [&str; 3] = [
    "2021-05-09T09:00:00Z",
    "2021-05-09T09:15:00Z",
    "2021-05-09T09:30:00Z",
];

/// One push: PUT or PATCH, its body, and its sender stamp (minutes after 10:00).
#[derive(Debug, Clone)]
struct Update {
    put: bool,
    minute: u32,
    body: Map<String, Value>,
}

fn stamp(minute: u32) -> String {
    format!("2021-05-09T10:{minute:02}:00Z")
}

fn period(start: usize, volume: u32) -> Value {
    json!({"start_date_time": STARTS[start], "dimensions": [{"type": "ENERGY", "volume": volume}]})
}

/// A body with a random subset of session fields.
fn body(put: bool) -> impl Strategy<Value = Map<String, Value>> {
    let kwh = proptest::option::of(0u32..50);
    let cost = proptest::option::of(0u32..900);
    let meter = proptest::option::of("[a-c]{1,2}");
    let periods = proptest::option::of(proptest::collection::btree_map(0usize..3, 1u32..9, 0..3));
    (kwh, cost, meter, periods).prop_map(move |(kwh, cost, meter, periods)| {
        let mut body = Map::new();
        if put {
            body.insert("start_datetime".into(), json!("2021-05-09T09:00:00Z"));
            body.insert("auth_id".into(), json!("NL*GFX*0dd6AE*6"));
            body.insert("auth_method".into(), json!("WHITELIST"));
            body.insert("location".into(), json!({"id": "LOC1"}));
            body.insert("currency".into(), json!("EUR"));
            body.insert("status".into(), json!("ACTIVE"));
        }
        if let Some(kwh) = kwh {
            body.insert("kwh".into(), json!(kwh));
        }
        if let Some(cost) = cost {
            body.insert("total_cost".into(), json!(f64::from(cost) / 100.0));
        }
        if let Some(meter) = meter {
            body.insert("meter_id".into(), json!(meter));
        }
        if let Some(periods) = periods {
            let list: Vec<Value> = periods.iter().map(|(s, v)| period(*s, *v)).collect();
            body.insert("charging_periods".into(), Value::Array(list));
        }
        body
    })
}

/// A PUT and 2-4 PATCHes with distinct stamps, plus an arrival order.
fn scenario() -> impl Strategy<Value = (Vec<Update>, Vec<usize>)> {
    (2usize..5)
        .prop_flat_map(|patches| {
            let minutes =
                proptest::sample::subsequence((0u32..60).collect::<Vec<_>>(), patches + 1)
                    .prop_shuffle();
            let bodies: Vec<_> = (0..=patches).map(|i| body(i == 0)).collect();
            (minutes, bodies)
        })
        .prop_map(|(minutes, bodies)| {
            bodies
                .into_iter()
                .zip(minutes)
                .enumerate()
                .map(|(i, (mut body, minute))| {
                    body.insert("last_updated".into(), json!(stamp(minute)));
                    Update {
                        put: i == 0,
                        minute,
                        body,
                    }
                })
                .collect::<Vec<_>>()
        })
        .prop_flat_map(|updates| {
            let order = Just((0..updates.len()).collect::<Vec<_>>()).prop_shuffle();
            (Just(updates), order)
        })
}

async fn push_all(app: &TestApp, id: &str, updates: &[&Update]) -> Value {
    for update in updates {
        let method = if update.put { "PUT" } else { "PATCH" };
        let body = Value::Object(update.body.clone()).to_string();
        let answer = app.push_session(method, id, &body).await;
        assert_eq!(answer.code(), 1000, "{method} {body}: {:?}", answer.body);
    }
    let path = format!("/ocpi/2.1.1/sessions/NL/GFX/{id}");
    app.ocpi("GET", &path, None).await.body["data"].clone()
}

#[test]
fn every_arrival_order_converges_to_the_stamp_order() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&scenario(), |(updates, order)| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut by_stamp: Vec<&Update> = updates.iter().collect();
            by_stamp.sort_by_key(|u| u.minute);
            let arrival: Vec<&Update> = order.iter().map(|i| &updates[*i]).collect();
            let (expected, actual) = runtime.block_on(async {
                let expected = push_all(&app, &format!("S{case}-SORTED"), &by_stamp).await;
                let actual = push_all(&app, &format!("S{case}-ARRIVAL"), &arrival).await;
                (expected, actual)
            });
            prop_assert_eq!(expected, actual);
            Ok(())
        })
        .unwrap();
}

const EVSE_STATUSES: [&str; 4] = ["AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER"];

/// A location push after the first PUT: a whole Location (PUT) or an EVSE
/// status PATCH, with its sender stamp (minutes after 10:00).
#[derive(Debug, Clone)]
struct LocationUpdate {
    put: bool,
    minute: u32,
    body: Value,
}

/// A Location with one EVSE whose status and stamps are given.
fn location_body(name: &str, status: &str, stamp: &str) -> Value {
    json!({
        "id": "LOC", "type": "ON_STREET", "name": name, "address": "Stationsplein 1",
        "city": "Gent", "postal_code": "9000", "country": "BEL",
        "coordinates": {"latitude": "51.03587", "longitude": "3.71044"},
        "evses": [{"uid": "E1", "status": status, "last_updated": stamp,
            "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
                "power_type": "AC_3_PHASE", "voltage": 230, "amperage": 32,
                "last_updated": stamp}]}],
        "last_updated": stamp,
    })
}

/// One Location PUT and 2-4 EVSE status PATCHes with distinct stamps, plus
/// an arrival order.
fn location_scenario() -> impl Strategy<Value = (Vec<LocationUpdate>, Vec<usize>)> {
    (2usize..5)
        .prop_flat_map(|patches| {
            let minutes =
                proptest::sample::subsequence((1u32..60).collect::<Vec<_>>(), patches + 1)
                    .prop_shuffle();
            let statuses = proptest::collection::vec(0..EVSE_STATUSES.len(), patches + 1);
            let name = proptest::sample::select(vec!["Gent Zuid", "Gent Sint-Pieters"]);
            (minutes, statuses, name)
        })
        .prop_map(|(minutes, statuses, name)| {
            minutes
                .into_iter()
                .zip(statuses)
                .enumerate()
                .map(|(i, (minute, status))| {
                    let (stamp, status) = (stamp(minute), EVSE_STATUSES[status]);
                    let body = if i == 0 {
                        location_body(name, status, &stamp)
                    } else {
                        json!({"status": status, "last_updated": stamp})
                    };
                    LocationUpdate {
                        put: i == 0,
                        minute,
                        body,
                    }
                })
                .collect::<Vec<_>>()
        })
        .prop_flat_map(|updates| {
            let order = Just((0..updates.len()).collect::<Vec<_>>()).prop_shuffle();
            (Just(updates), order)
        })
}

/// A first PUT (stamped 09:00, so every update is newer) creates the
/// location, so that no PATCH arrives before it exists; then the updates.
async fn push_location_updates(app: &TestApp, id: &str, updates: &[&LocationUpdate]) -> Value {
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{id}");
    let mut first = location_body("Base", "UNKNOWN", "2021-05-09T09:00:00Z");
    first["id"] = json!(id);
    let answer = app.ocpi("PUT", &path, Some(&first.to_string())).await;
    assert_eq!(answer.code(), 1000, "{:?}", answer.body);
    for update in updates {
        let (method, url, mut body) = if update.put {
            ("PUT", path.clone(), update.body.clone())
        } else {
            ("PATCH", format!("{path}/E1"), update.body.clone())
        };
        if update.put {
            body["id"] = json!(id);
        }
        let answer = app.ocpi(method, &url, Some(&body.to_string())).await;
        assert_eq!(answer.code(), 1000, "{method} {body}: {:?}", answer.body);
    }
    let mut stored = app.ocpi("GET", &path, None).await.body["data"].clone();
    stored["id"] = json!("LOC");
    stored
}

/// An EVSE PATCH moves its location's served `last_updated` forward (OCPI
/// 2.2.1, parent stamps); the stale guard compares a later-arriving Location
/// PUT with the location's own stamp, and its EVSE with the EVSE's own.
#[test]
fn every_arrival_order_of_evse_patches_and_a_location_put_converges_to_the_stamp_order() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(&location_scenario(), |(updates, order)| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut by_stamp: Vec<&LocationUpdate> = updates.iter().collect();
            by_stamp.sort_by_key(|u| u.minute);
            let arrival: Vec<&LocationUpdate> = order.iter().map(|i| &updates[*i]).collect();
            let (expected, actual) = runtime.block_on(async {
                let sorted = format!("L{case}-SORTED");
                let expected = push_location_updates(&app, &sorted, &by_stamp).await;
                let arrived = format!("L{case}-ARRIVAL");
                let actual = push_location_updates(&app, &arrived, &arrival).await;
                (expected, actual)
            });
            prop_assert_eq!(expected, actual);
            Ok(())
        })
        .unwrap();
}
