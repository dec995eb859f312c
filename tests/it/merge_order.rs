//! Property: for a session PUT and PATCHes with distinct sender stamps, every
//! arrival order ends in the state of applying them ordered by last_updated.

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
