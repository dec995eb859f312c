//! Every location, session, CDR, tariff and notification example in
//! tests/fixtures is accepted at its URL and read back through GET with the
//! same values: a whole object as sent, a PATCH's fields as patched.

use chargegraph::domain::time;
use serde_json::Value;

use crate::harness::{fixture, Answer, TestApp};

/// What a step checks after its push.
#[derive(Clone, Copy)]
enum Check {
    /// The GET equals the body sent.
    Whole,
    /// Every field of the body reads back as sent; periods are among the stored ones.
    Fields,
}

/// A fixture, how and where it is pushed, and where it is read back.
struct Step {
    file: &'static str,
    method: &'static str,
    url: &'static str,
    /// The object's URL when it differs from `url` (a CDR's is its Location header).
    get: Option<&'static str>,
    check: Check,
}

const fn step(file: &'static str, method: &'static str, url: &'static str, check: Check) -> Step {
    Step {
        file,
        method,
        url,
        get: None,
        check,
    }
}

const GF_LOCATION: &str = "/ocpi/2.1.1/locations/NL/GFX/0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const GF_SESSION: &str = "/ocpi/2.1.1/sessions/NL/GFX/NLGFX637561499213897595-ef07d";

/// In push order: a PATCH follows the object it changes.
const STEPS: &[Step] = &[
    step(
        "2.1.1/location_example.json",
        "PUT",
        "/ocpi/2.1.1/locations/NL/GFX/LOC1",
        Check::Whole,
    ),
    step(
        "2.1.1/location_patch_example_status.json",
        "PATCH",
        "/ocpi/2.1.1/locations/NL/GFX/LOC1/3256",
        Check::Fields,
    ),
    step(
        "2.1.1/session_example_1_simple_start.json",
        "PUT",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
        Check::Whole,
    ),
    step(
        "2.1.1/session_patch_example_total_cost.json",
        "PATCH",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
        Check::Fields,
    ),
    step(
        "2.1.1/session_example_2_short_finished.json",
        "PUT",
        "/ocpi/2.1.1/sessions/NL/GFX/101",
        Check::Whole,
    ),
    Step {
        get: Some("/ocpi/2.1.1/cdrs/NL/GFX/12345"),
        ..step(
            "2.1.1/cdr_example.json",
            "POST",
            "/ocpi/2.1.1/cdrs",
            Check::Whole,
        )
    },
    step(
        "2.2.1/location_example.json",
        "PUT",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1",
        Check::Whole,
    ),
    step(
        "2.2.1/location_put_example_add_evse.json",
        "PUT",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256",
        Check::Whole,
    ),
    step(
        "2.2.1/location_patch_example_status.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256",
        Check::Fields,
    ),
    step(
        "2.2.1/location_patch_example_tariff.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256/1",
        Check::Fields,
    ),
    step(
        "2.2.1/location_patch_example_location.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1",
        Check::Fields,
    ),
    step(
        "2.2.1/location_patch_example_remove_evse.json",
        "PATCH",
        "/ocpi/2.2.1/locations/BE/BEC/LOC1/3257",
        Check::Fields,
    ),
    step(
        "2.2.1/session_example_1_simple_start.json",
        "PUT",
        "/ocpi/2.2.1/sessions/NL/STK/101",
        Check::Whole,
    ),
    step(
        "2.2.1/session_example_2_short_finished.json",
        "PUT",
        "/ocpi/2.2.1/sessions/BE/BEC/101",
        Check::Whole,
    ),
    // The 2.2.1 PATCH examples are older than session_example_1, so they go
    // to a session of their own (a PATCH before any PUT keeps a partial one).
    step(
        "2.2.1/session_patch_example_total_cost.json",
        "PATCH",
        "/ocpi/2.2.1/sessions/NL/STK/102",
        Check::Fields,
    ),
    step(
        "2.2.1/session_patch_example_charging_period.json",
        "PATCH",
        "/ocpi/2.2.1/sessions/NL/STK/102",
        Check::Fields,
    ),
    Step {
        get: Some("/ocpi/2.2.1/cdrs/BE/BEC/12345"),
        ..step(
            "2.2.1/cdr_example.json",
            "POST",
            "/ocpi/2.2.1/cdrs",
            Check::Whole,
        )
    },
    step(
        "2.2.1/tariff_put_example.json",
        "PUT",
        "/ocpi/2.2.1/tariffs/DE/ALL/12",
        Check::Whole,
    ),
    step(
        "2.2.1/tariff_4_complex.json",
        "PUT",
        "/ocpi/2.2.1/tariffs/DE/ALL/14",
        Check::Whole,
    ),
    step(
        "greenflux/push_location_put.json",
        "PUT",
        GF_LOCATION,
        Check::Whole,
    ),
    Step {
        get: Some(
            "/ocpi/2.1.1/locations/NL/GFX/0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa/BE-BEC-E041503001",
        ),
        ..step(
            "greenflux/push_location_patch_evse_status.json",
            "PATCH",
            "/ocpi/2.1.1/locations/NL/GFX/0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa/BE-BEC-E041503001",
            Check::Fields,
        )
    },
    step(
        "greenflux/push_session_put.json",
        "PUT",
        GF_SESSION,
        Check::Whole,
    ),
    step(
        "greenflux/push_session_patch_compact.json",
        "PATCH",
        GF_SESSION,
        Check::Fields,
    ),
    step(
        "greenflux/push_session_patch_full_15min.json",
        "PATCH",
        GF_SESSION,
        Check::Fields,
    ),
    step(
        "greenflux/push_session_patch_completed.json",
        "PATCH",
        GF_SESSION,
        Check::Fields,
    ),
    Step {
        get: Some("/ocpi/2.1.1/cdrs/NL/GFX/NLGFX63759518932331194001"),
        ..step(
            "greenflux/cdr_pull_example_reconstructed.json",
            "POST",
            "/ocpi/2.1.1/cdrs",
            Check::Whole,
        )
    },
    step(
        "greenflux/notification_doc_example.json",
        "PUT",
        "/ocpi/2.1.1/notifications/dfa3b87a-bc90-447e-9541-88a9ac1bf618",
        Check::Whole,
    ),
    step(
        "greenflux/notification_fields_after_2022_change.json",
        "PUT",
        "/ocpi/2.1.1/notifications/dfa3b87a-bc90-447e-9541-88a9ac1bf618",
        Check::Whole,
    ),
];

/// The values as GET shows them: a top-level `null` is no value (a session
/// stores none), `null` periods are the empty list, and each period start is
/// printed in our one DateTime form (DESIGN.md, Decisions).
fn normalized(value: &Value) -> Value {
    let mut value = value.clone();
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    if object.get("charging_periods").is_some_and(Value::is_null) {
        object.insert("charging_periods".into(), Value::Array(Vec::new()));
    }
    object.retain(|_, v| !v.is_null());
    if let Some(periods) = object.get_mut("charging_periods") {
        for period in periods.as_array_mut().into_iter().flatten() {
            let start = period["start_date_time"].as_str().unwrap_or_default();
            if let Ok(parsed) = time::parse(start) {
                period["start_date_time"] = Value::String(parsed.at.to_string());
            }
        }
    }
    value
}

fn check_fields(file: &str, sent: &Value, stored: &Value) {
    for (key, value) in sent.as_object().expect("an object") {
        if key == "charging_periods" {
            let stored_periods = stored[key].as_array().expect("stored periods");
            for period in value.as_array().expect("sent periods") {
                assert!(
                    stored_periods.contains(period),
                    "{file}: period {period} not in {stored_periods:?}"
                );
            }
        } else {
            assert_eq!(&stored[key], value, "{file}: {key}");
        }
    }
}

fn assert_accepted(file: &str, answer: &Answer) {
    assert_eq!(answer.code(), 1000, "{file}: {:?}", answer.body);
    assert!(
        [200, 201].contains(&answer.status),
        "{file}: {:?}",
        answer.body
    );
}

#[tokio::test]
async fn every_example_is_accepted_at_its_url_and_read_back_with_the_same_values() {
    let mut app = TestApp::spawn().await;
    app.token = app
        .add_token(&["NL/GFX", "BE/BEC", "NL/STK", "DE/ALL"], false)
        .await;
    for step in STEPS {
        let body = fixture(step.file);
        let answer = app.ocpi(step.method, step.url, Some(&body)).await;
        assert_accepted(step.file, &answer);

        let url = step.get.unwrap_or(step.url);
        let read = app.ocpi("GET", url, None).await;
        assert_eq!(
            (read.status, read.code()),
            (200, 1000),
            "{}: GET {url}",
            step.file
        );
        let mut sent = normalized(&serde_json::from_str(&body).expect("fixture is JSON"));
        let stored = normalized(&read.body["data"]);
        // A session sent without periods reads back with none: an empty list.
        let no_periods = Value::Array(Vec::new());
        if stored.get("charging_periods") == Some(&no_periods) {
            sent.as_object_mut()
                .expect("an object")
                .entry("charging_periods")
                .or_insert(no_periods);
        }
        match step.check {
            Check::Whole => assert_eq!(stored, sent, "{}", step.file),
            Check::Fields => check_fields(step.file, &sent, &stored),
        }
    }
}
