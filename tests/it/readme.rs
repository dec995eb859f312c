//! The README's curl examples, run as written against the spawned server.

use std::process::Command;

use crate::harness::{fixture, TestApp};

/// The shell lines between the README's readme-test markers.
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- readme-test:begin -->")
        .expect("begin marker");
    let end = readme.find("<!-- readme-test:end -->").expect("end marker");
    let block = &readme[start..end];
    let code = block.split("```sh\n").nth(1).expect("sh block");
    code.split("```").next().unwrap().to_owned()
}

#[tokio::test]
async fn readme_curl_examples_work() {
    let app = TestApp::spawn().await;
    let put = app
        .put_location(
            "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa",
            &fixture("greenflux/push_location_put.json"),
        )
        .await;
    assert_eq!(put.code(), 1000);

    // The same lines, pointed at this test's server and database.
    let script = readme_example()
        .replace(
            "cargo run --release -q --",
            env!("CARGO_BIN_EXE_chargegraph"),
        )
        .replace("http://127.0.0.1:8080", &app.url(""));
    let database_url = app.state.config.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(format!("set -e\n{script}"))
            .env("CHARGEGRAPH_DATABASE_URL", database_url)
            .output()
    });
    let output = output.await.unwrap().expect("sh runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut answers = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    let patch = answers.next().unwrap().unwrap();
    assert_eq!(patch["status_code"], 1000);
    assert_eq!(patch["status_message"], "EVSE updated");
    let query = answers.next().unwrap().unwrap();
    assert_eq!(
        query,
        serde_json::json!({"data": {"location": {"name": "Gent Zuid",
            "evses": [{"uid": "BE-BEC-E041503001", "status": "CHARGING"}]}}})
    );
}
