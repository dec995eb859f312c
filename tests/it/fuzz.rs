//! Structure-aware fuzzing of the receiver: every fixture body with each field
//! dropped, nulled, retyped and given a NUL character in turn, each URL
//! with a `%00` in its last id, plus a seeded random sample of
//! combinations. No answer may be a 5xx, every answer is an envelope, and the
//! server keeps serving.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::harness::{fixture, TestApp};

/// Each fixture body with the method and URL it is pushed at.
const TARGETS: &[(&str, &str, &str)] = &[
    (
        "2.1.1/location_example.json",
        "PUT",
        "/ocpi/2.1.1/locations/NL/GFX/LOC1",
    ),
    (
        "2.1.1/location_patch_example_status.json",
        "PATCH",
        "/ocpi/2.1.1/locations/NL/GFX/LOC1/3256",
    ),
    (
        "2.1.1/session_example_1_simple_start.json",
        "PUT",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
    ),
    (
        "2.1.1/session_example_2_short_finished.json",
        "PUT",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
    ),
    (
        "2.1.1/session_patch_example_total_cost.json",
        "PATCH",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
    ),
    ("2.1.1/cdr_example.json", "POST", "/ocpi/2.1.1/cdrs"),
    (
        "2.2.1/location_example.json",
        "PUT",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1",
    ),
    (
        "2.2.1/location_put_example_add_evse.json",
        "PUT",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256",
    ),
    (
        "2.2.1/location_patch_example_status.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256",
    ),
    (
        "2.2.1/location_patch_example_location.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1",
    ),
    (
        "2.2.1/location_patch_example_remove_evse.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3257",
    ),
    (
        "2.2.1/location_patch_example_tariff.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256/1",
    ),
    (
        "2.2.1/session_example_1_simple_start.json",
        "PUT",
        "/ocpi/2.2.1/sessions/NL/STK/101",
    ),
    (
        "2.2.1/session_example_2_short_finished.json",
        "PUT",
        "/ocpi/2.2.1/sessions/BE/BEC/101",
    ),
    (
        "2.2.1/session_patch_example_total_cost.json",
        "PATCH",
        "/ocpi/2.2.1/sessions/NL/STK/101",
    ),
    (
        "2.2.1/session_patch_example_charging_period.json",
        "PATCH",
        "/ocpi/2.2.1/sessions/NL/STK/101",
    ),
    ("2.2.1/cdr_example.json", "POST", "/ocpi/2.2.1/cdrs"),
    (
        "2.2.1/tariff_put_example.json",
        "PUT",
        "/ocpi/2.2.1/tariffs/DE/ALL/12",
    ),
    (
        "2.2.1/tariff_4_complex.json",
        "PUT",
        "/ocpi/2.2.1/tariffs/DE/ALL/14",
    ),
    (
        "greenflux/push_location_put.json",
        "PUT",
        "/ocpi/2.1.1/locations/NL/GFX/0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa",
    ),
    (
        "greenflux/push_location_patch_evse_status.json",
        "PATCH",
        "/ocpi/2.1.1/locations/NL/GFX/0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa/BE-BEC-E041503001",
    ),
    (
        "greenflux/push_session_put.json",
        "PUT",
        "/ocpi/2.1.1/sessions/NL/GFX/S1",
    ),
    (
        "greenflux/push_session_patch_full_15min.json",
        "PATCH",
        "/ocpi/2.1.1/sessions/NL/GFX/S1",
    ),
    (
        "greenflux/push_session_patch_compact.json",
        "PATCH",
        "/ocpi/2.1.1/sessions/NL/GFX/S1",
    ),
    (
        "greenflux/push_session_patch_completed.json",
        "PATCH",
        "/ocpi/2.1.1/sessions/NL/GFX/S1",
    ),
    (
        "greenflux/cdr_pull_example_reconstructed.json",
        "POST",
        "/ocpi/2.1.1/cdrs",
    ),
    (
        "greenflux/notification_doc_example.json",
        "PUT",
        "/ocpi/2.1.1/notifications/N1",
    ),
    (
        "greenflux/notification_fields_after_2022_change.json",
        "PUT",
        "/ocpi/2.1.1/notifications/N1",
    ),
];

/// How many random multi-field mutations each fixture gets.
const RANDOM_PER_TARGET: usize = 12;

/// A JSON location: object keys and array indexes.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path to a value below the root.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Step::Key(key.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    Drop,
    Null,
    Retype,
    /// A NUL character inside a string (PostgreSQL text cannot hold one).
    Nul,
}

/// The value with a NUL inside: a string keeps its text around it.
fn with_nul(value: &Value) -> Value {
    match value {
        Value::String(s) => json!(format!("{s}\u{0}x")),
        _ => json!("a\u{0}b"),
    }
}

/// A value of another JSON type than `value`.
fn retyped(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(12345678901234567890u64),
        Value::Number(_) => json!("not a number"),
        Value::Bool(_) => json!("maybe"),
        Value::Array(_) => json!({"unexpected": "object"}),
        Value::Object(_) => json!(["unexpected", "list"]),
        Value::Null => json!(-1.5e300),
    }
}

/// Applies a mutation at a path; false when the path no longer exists.
fn mutate(root: &mut Value, path: &[Step], mutation: Mutation) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut parent = root;
    for step in parents {
        let next = match step {
            Step::Key(k) => parent.get_mut(k.as_str()),
            Step::Index(i) => parent.get_mut(*i),
        };
        let Some(next) = next else { return false };
        parent = next;
    }
    match (parent, last) {
        (Value::Object(map), Step::Key(k)) => match mutation {
            Mutation::Drop => map.remove(k).is_some(),
            Mutation::Null => map.insert(k.clone(), Value::Null).is_some(),
            Mutation::Retype | Mutation::Nul => match map.get_mut(k) {
                Some(v) => {
                    *v = match mutation {
                        Mutation::Nul => with_nul(v),
                        _ => retyped(v),
                    };
                    true
                }
                None => false,
            },
        },
        (Value::Array(list), Step::Index(i)) if *i < list.len() => {
            match mutation {
                Mutation::Drop => {
                    list.remove(*i);
                }
                Mutation::Null => list[*i] = Value::Null,
                Mutation::Retype => list[*i] = retyped(&list[*i]),
                Mutation::Nul => list[*i] = with_nul(&list[*i]),
            }
            true
        }
        _ => false,
    }
}

async fn send_and_check(app: &TestApp, method: &str, url: &str, body: &Value) {
    let text = body.to_string();
    let sent = (!body.is_null()).then_some(text.as_str());
    let answer = app.ocpi(method, url, sent).await;
    assert!(
        answer.status < 500,
        "{method} {url} {text}: {:?}",
        answer.body
    );
    assert!(
        answer.body["status_code"].is_u64(),
        "{method} {url} {text}: {:?}",
        answer.body
    );
    assert!(answer.body["timestamp"].is_string(), "{:?}", answer.body);
    assert!(
        answer.body["status_message"].is_string(),
        "{:?}",
        answer.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_fixtures_never_get_a_5xx_and_always_an_envelope() {
    let mut app = TestApp::spawn().await;
    app.token = app
        .add_token(&["NL/GFX", "BE/BEC", "NL/STK", "DE/ALL"], false)
        .await;
    let mut rng = StdRng::seed_from_u64(0x0C91);
    let mutations = [
        Mutation::Drop,
        Mutation::Null,
        Mutation::Retype,
        Mutation::Nul,
    ];
    for (file, method, url) in TARGETS {
        let original: Value = serde_json::from_str(&fixture(file)).expect("fixture is JSON");
        send_and_check(&app, method, url, &original).await;
        if !url.ends_with("/cdrs") {
            send_and_check(&app, method, &format!("{url}%00"), &original).await;
            send_and_check(&app, "GET", &format!("{url}%00"), &Value::Null).await;
        }
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in &all {
            for mutation in mutations {
                let mut body = original.clone();
                if mutate(&mut body, path, mutation) {
                    send_and_check(&app, method, url, &body).await;
                }
            }
        }
        for _ in 0..RANDOM_PER_TARGET {
            let mut body = original.clone();
            for _ in 0..rng.gen_range(2..6) {
                let path = &all[rng.gen_range(0..all.len())];
                let mutation = mutations[rng.gen_range(0..mutations.len())];
                mutate(&mut body, path, mutation);
            }
            send_and_check(&app, method, url, &body).await;
        }
    }
    let versions = app.ocpi("GET", "/ocpi/versions", None).await;
    assert_eq!((versions.status, versions.code()), (200, 1000));
}
