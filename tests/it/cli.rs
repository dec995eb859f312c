//! The binary's commands over a test's database: token and API key
//! management, `config check`, the open-GraphQL refusal, `backup`.

use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{fixture, TestApp, TestDb};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";

/// Runs the binary with a database URL and extra variables.
async fn chargegraph(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chargegraph"));
    command
        .args(args)
        .env("CHARGEGRAPH_DATABASE_URL", database_url)
        .env_remove("CHARGEGRAPH_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chargegraph runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn tokens_are_added_listed_rotated_and_revoked_without_echoing_secrets() {
    // The CLI changes tokens from another process, which the server sees at
    // once only without its token cache (README, Limitations).
    let app = TestApp::spawn_with(|c| c.token_cache_ms = 0).await;
    let url = app.state.config.database_url.clone();
    let body = fixture("greenflux/push_location_put.json");
    let path = format!("/ocpi/2.1.1/locations/NL/GFX/{LOCATION}");

    let added = chargegraph(
        &url,
        &[
            "token",
            "add",
            "--party",
            "NL/GFX",
            "--label",
            "gfx-prod",
            "--strict",
            "--expires",
            "30d",
        ],
        &[],
    )
    .await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    let secret = text(&added.stdout).trim().to_owned();
    assert_eq!(secret.len(), 64, "32 random bytes, hex");
    assert!(text(&added.stderr).contains("token 2 created for NL/GFX, expires "));
    let auth = format!("Token {secret}");
    let put = app.ocpi_as("PUT", &path, Some(&body), Some(&auth)).await;
    assert_eq!(put.status, 201);

    let listed = chargegraph(&url, &["token", "list"], &[]).await;
    let list = text(&listed.stdout);
    assert!(!list.contains(&secret), "{list}");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines[0],
        "id\tlabel\tparties\tstrictness\tcreated\texpires\trevoked\tlast_used"
    );
    let row: Vec<&str> = lines[2].split('\t').collect();
    assert_eq!(row[..4], ["2", "gfx-prod", "NL/GFX", "strict"]);
    assert_ne!(row[5], "-", "expiry shown");
    assert_eq!(row[6], "-", "not revoked");

    let rotated = chargegraph(&url, &["token", "rotate", "2", "--grace", "1h"], &[]).await;
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let new_secret = text(&rotated.stdout).trim().to_owned();
    assert_ne!(new_secret, secret);
    let note = text(&rotated.stderr);
    assert!(
        note.contains("token 3 replaces token 2, which keeps working until"),
        "{note}"
    );
    assert!(note.contains("(grace 1h)"), "{note}");
    // Both work during the grace period.
    for token in [&secret, &new_secret] {
        let auth = format!("Token {token}");
        let put = app.ocpi_as("PUT", &path, Some(&body), Some(&auth)).await;
        assert_eq!(put.code(), 1000, "{}", put.message());
    }
    let list = text(&chargegraph(&url, &["token", "list"], &[]).await.stdout);
    assert!(list.contains("(rotated to 3)"), "{list}");
    assert!(!list.contains(&new_secret));

    // A rotation without grace ends the old secret at once.
    let rotated = chargegraph(&url, &["token", "rotate", "3", "--grace", "0"], &[]).await;
    assert!(rotated.status.success());
    let newest = text(&rotated.stdout).trim().to_owned();
    let auth = format!("Token {new_secret}");
    let refused = app.ocpi_as("PUT", &path, Some(&body), Some(&auth)).await;
    assert_eq!((refused.status, refused.code()), (401, 2000));
    assert!(
        refused.message().starts_with("token expired at "),
        "{}",
        refused.message()
    );

    let revoked = chargegraph(&url, &["token", "revoke", "4"], &[]).await;
    assert!(revoked.status.success());
    let auth = format!("Token {newest}");
    let refused = app.ocpi_as("PUT", &path, Some(&body), Some(&auth)).await;
    assert_eq!((refused.status, refused.message()), (401, "token revoked"));
    let unknown = chargegraph(&url, &["token", "revoke", "99"], &[]).await;
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no push token 99"));
}

#[tokio::test]
async fn api_keys_are_added_listed_and_revoked_without_echoing_secrets() {
    let app = TestApp::spawn_with(|c| c.graphql_auth = true).await;
    let url = app.state.config.database_url.clone();
    let added = chargegraph(
        &url,
        &[
            "apikey", "add", "--party", "NL/GFX", "--party", "BE/BEC", "--label", "board",
        ],
        &[],
    )
    .await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    let key = text(&added.stdout).trim().to_owned();
    assert!(key.starts_with("cgk_"));
    let operator = chargegraph(&url, &["apikey", "add", "--all-parties", "--operator"], &[]).await;
    assert!(text(&operator.stderr).contains("reading every party, operator"));

    let (status, _) = app
        .graphql_with("{ __typename }", Value::Null, &[("X-API-Key", &key)])
        .await;
    assert_eq!(status, 200);
    let list = text(&chargegraph(&url, &["apikey", "list"], &[]).await.stdout);
    assert!(!list.contains(&key));
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows[0][..4], ["1", "board", "NL/GFX,BE/BEC", "false"]);
    assert_eq!(rows[1][..4], ["2", "-", "*", "true"]);

    assert!(chargegraph(&url, &["apikey", "revoke", "1"], &[])
        .await
        .status
        .success());
    let (status, response) = app
        .graphql_with("{ __typename }", Value::Null, &[("X-API-Key", &key)])
        .await;
    assert_eq!(status, 401);
    assert_eq!(response["errors"][0]["message"], "API key revoked");
}

#[tokio::test]
async fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chargegraph.toml");
    std::fs::write(
        &file,
        "max_page_size = 50\njwt_hs256_secret = \"file-secret-123\"\n\
         cors_allowed_origins = [\"https://board.example\"]\n",
    )
    .unwrap();
    let file = file.display().to_string();
    // `config check` never opens the database: the URLs only need redacting.
    let output = chargegraph(
        "postgres://cg:hunter2@db.internal:5432/cg",
        &["--config", &file, "config", "check"],
        &[("CHARGEGRAPH_MAX_PAGE_SIZE", "75")],
    )
    .await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    for secret in ["hunter2", "file-secret-123"] {
        assert!(!stdout.contains(secret), "{stdout}");
    }
    let config: toml::Value = toml::from_str(&stdout).unwrap();
    assert_eq!(
        config["database_url"].as_str(),
        Some("postgres://cg:***@db.internal:5432/cg")
    );
    assert_eq!(config["jwt_hs256_secret"].as_str(), Some("***"));
    assert_eq!(
        config["max_page_size"].as_integer(),
        Some(75),
        "the variable wins"
    );
    assert_eq!(
        config["cors_allowed_origins"].as_array().unwrap()[0].as_str(),
        Some("https://board.example")
    );
    assert_eq!(
        config["token_rotation_grace_secs"].as_integer(),
        Some(86_400)
    );

    let exposed = chargegraph(
        "sqlite::memory:",
        &["config", "check"],
        &[("CHARGEGRAPH_LISTEN", "0.0.0.0:8080")],
    )
    .await;
    assert!(!exposed.status.success());
    assert!(
        text(&exposed.stderr).contains("refusing to serve GraphQL without auth on 0.0.0.0:8080")
    );
}

#[tokio::test]
async fn serving_open_graphql_off_loopback_is_refused_unless_allowed() {
    let db = TestDb::create().await;
    let refused = chargegraph(db.url(), &["serve"], &[("CHARGEGRAPH_LISTEN", "0.0.0.0:0")]).await;
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("refusing to serve GraphQL without auth on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("allow_open_graphql = true"), "{stderr}");
}

#[tokio::test]
async fn migrate_creates_the_schema_in_the_database_the_variable_names() {
    // On PostgreSQL when CHARGEGRAPH_TEST_DATABASE_URL is set: the command
    // must reach the test's fresh database, not a SQLite file of its own.
    let db = TestDb::create().await;
    let migrated = chargegraph(db.url(), &["migrate"], &[]).await;
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));

    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let backend = if db.is_postgres() {
        sea_orm::DbBackend::Postgres
    } else {
        sea_orm::DbBackend::Sqlite
    };
    assert_eq!(conn.get_database_backend(), backend);
    use migration::MigratorTrait;
    let pending = migration::Migrator::get_pending_migrations(&conn)
        .await
        .unwrap();
    assert_eq!(pending.len(), 0, "every migration applied by the CLI");
    conn.close().await.unwrap();
}

/// The configuration keys in the README's table, in order.
fn readme_keys() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("| key"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

#[test]
fn readme_lists_every_configuration_key_with_its_variable_and_default() {
    let defaults = serde_json::to_value(chargegraph::config::Config::default()).unwrap();
    let mut keys: Vec<String> = defaults.as_object().unwrap().keys().cloned().collect();
    let mut listed = readme_keys();
    keys.sort();
    listed.sort();
    assert_eq!(
        listed, keys,
        "README configuration table vs Config::default()"
    );

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for (key, value) in defaults.as_object().unwrap() {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` |")))
            .unwrap();
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(
            cells[2],
            format!("`CHARGEGRAPH_{}`", key.to_uppercase()),
            "{row}"
        );
        let shown = match value {
            Value::String(s) => format!("`{s}`"),
            Value::Null => cells[3].to_owned(),
            other => format!("`{other}`"),
        };
        if !value.is_null() {
            assert_eq!(cells[3], shown, "default of {key}");
        }
    }
}

#[tokio::test]
async fn backup_while_serving_makes_a_database_that_opens_and_holds_the_data() {
    let app = TestApp::spawn().await;
    let url = app.state.config.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backup.db");
    let target_text = target.display().to_string();
    // `backup` is VACUUM INTO, a SQLite command: on PostgreSQL the test
    // checks only the refusal that points at pg_dump.
    if app.is_postgres() {
        let refused = chargegraph(&url, &["backup", &target_text], &[]).await;
        assert!(!refused.status.success());
        assert!(text(&refused.stderr).contains("for PostgreSQL use pg_dump"));
        return;
    }
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(LOCATION, &body).await.status, 201);

    // Pushes keep arriving while the copy is taken.
    let writer = {
        let client = app.client.clone();
        let base = app.url("");
        let token = app.token.clone();
        tokio::spawn(async move {
            let mut answered = 0;
            for i in 0..40 {
                let status = if i % 2 == 0 { "CHARGING" } else { "AVAILABLE" };
                let url =
                    format!("{base}/ocpi/2.1.1/locations/NL/GFX/{LOCATION}/BE-BEC-E041503001");
                let response = client
                    .patch(url)
                    .header("Authorization", format!("Token {token}"))
                    .body(format!(r#"{{"status": "{status}"}}"#))
                    .send()
                    .await
                    .unwrap();
                let answer: Value = response.json().await.unwrap();
                assert_eq!(answer["status_code"], 1000);
                answered += 1;
            }
            answered
        })
    };
    let backup = chargegraph(&url, &["backup", &target_text], &[]).await;
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert_eq!(writer.await.unwrap(), 40);

    let again = chargegraph(&url, &["backup", &target_text], &[]).await;
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("exists already"));

    let copy = chargegraph::store::Store::connect(&chargegraph::store::StoreOptions::new(
        &format!("sqlite://{target_text}"),
    ))
    .await
    .unwrap();
    use sea_orm::ConnectionTrait;
    let integrity = copy
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(integrity.try_get_by_index::<String>(0).unwrap(), "ok");
    let name = copy
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT name FROM location WHERE ocpi_id = '0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name.try_get_by_index::<String>(0).unwrap(), "Gent Zuid");
}
