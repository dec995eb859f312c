//! `chargegraph apikey rotate`, through the real binary: the new key works
//! at once, the old one until its grace period ends.

use std::time::Duration;

use serde_json::Value;

use crate::harness::TestApp;

/// Runs the binary against the test's database; its exit status, stdout and stderr.
async fn chargegraph(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .args(args)
        .env("CHARGEGRAPH_DATABASE_URL", app.db.url())
        .env_remove("CHARGEGRAPH_CONFIG")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("chargegraph finishes")
        .expect("chargegraph runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

async fn status_with_key(app: &TestApp, key: &str) -> (u16, Value) {
    app.graphql_with("{ __typename }", Value::Null, &[("X-API-Key", key)])
        .await
}

#[tokio::test]
async fn apikey_rotate_issues_a_new_key_and_keeps_the_old_one_for_the_grace() {
    let app = TestApp::spawn_with(|c| c.graphql_auth = true).await;
    let (ok, old_key, _) = chargegraph(
        &app,
        &["apikey", "add", "--party", "NL/GFX", "--label", "board"],
    )
    .await;
    assert!(ok);
    let old_key = old_key.trim().to_owned();

    let (ok, new_key, said) = chargegraph(&app, &["apikey", "rotate", "1", "--grace", "1h"]).await;
    assert!(ok, "{said}");
    let new_key = new_key.trim().to_owned();
    assert!(new_key.starts_with("cgk_") && new_key != old_key);
    assert!(
        said.starts_with("API key 2 replaces API key 1, which keeps working until ")
            && said.contains("(grace 1h); the new key is shown only once:"),
        "{said}"
    );
    assert_eq!(status_with_key(&app, &new_key).await.0, 200);
    assert_eq!(
        status_with_key(&app, &old_key).await.0,
        200,
        "within the grace"
    );

    let (_, list, _) = chargegraph(&app, &["apikey", "list"]).await;
    assert!(
        !list.contains(&new_key) && !list.contains(&old_key),
        "{list}"
    );
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows[0][..4], ["1", "board", "NL/GFX", "false"]);
    assert_ne!(rows[0][5], "-", "the old key now expires");
    assert_eq!(rows[1][..4], ["2", "board", "NL/GFX", "false"]);
    assert_eq!(
        rows[1][5], "-",
        "the new key keeps the old key's expiry (none)"
    );

    // Without a grace the old key stops at once.
    let (ok, newest, _) = chargegraph(&app, &["apikey", "rotate", "2", "--grace", "0"]).await;
    assert!(ok);
    let (status, response) = status_with_key(&app, &new_key).await;
    assert_eq!(status, 401);
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("API key expired at ")),
        "{response}"
    );
    assert_eq!(status_with_key(&app, newest.trim()).await.0, 200);

    let (ok, _, said) = chargegraph(&app, &["apikey", "rotate", "2"]).await;
    assert!(!ok);
    assert!(
        said.contains("no active API key 2 (unknown, revoked or expired)"),
        "{said}"
    );
}
