//! The migrated schema on each backend: column types read back from the
//! database's own catalogue, and the indexes behind every ingest lookup.

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use crate::harness::TestApp;

/// Every instant the migrations create, written out by hand.
const INSTANTS: &[(&str, &str)] = &[
    ("push_token", "created_at"),
    ("push_token", "expires_at"),
    ("push_token", "revoked_at"),
    ("location", "last_updated"),
    ("location", "received_at"),
    ("evse", "status_since"),
    ("evse", "last_updated"),
    ("evse", "received_at"),
    ("connector", "last_updated"),
    ("connector", "received_at"),
    ("evse_status_history", "changed_at"),
    ("evse_status_history", "received_at"),
    ("session", "start_date_time"),
    ("session", "end_date_time"),
    ("session", "last_updated"),
    ("session", "received_at"),
    ("charging_period", "start_date_time"),
    ("session_event", "at"),
    ("session_event", "received_at"),
    ("cdr", "start_date_time"),
    ("cdr", "end_date_time"),
    ("cdr", "last_updated"),
    ("cdr", "received_at"),
    ("notification", "created"),
    ("notification", "received_at"),
    ("inbox", "received_at"),
    ("outbox", "created_at"),
    ("tariff", "start_date_time"),
    ("tariff", "end_date_time"),
    ("tariff", "last_updated"),
    ("tariff", "received_at"),
    ("tariff", "deleted_at"),
];

/// Every fixed-point amount (millionths) the migrations create.
const AMOUNTS: &[(&str, &str)] = &[
    ("session", "kwh_micro"),
    ("session", "total_cost_micro"),
    ("session", "total_cost_incl_vat_micro"),
    ("charging_period", "energy_micro"),
    ("charging_period", "time_micro"),
    ("session_event", "kwh_micro"),
    ("session_event", "total_cost_micro"),
    ("cdr", "total_cost_micro"),
    ("cdr", "total_cost_incl_vat_micro"),
    ("cdr", "total_energy_micro"),
    ("cdr", "total_time_micro"),
    ("cdr", "total_parking_time_micro"),
];

/// (table, column, declared type) of every column of our tables.
async fn columns(app: &TestApp) -> Vec<(String, String, String)> {
    let sql = if app.is_postgres() {
        "SELECT table_name::text || '|' || column_name::text || '|' || data_type::text \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'"
    } else {
        "SELECT m.name || '|' || p.name || '|' || lower(p.type) \
         FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'seaql_migrations'"
    };
    app.sqlite_column(sql)
        .await
        .iter()
        .map(|row| {
            let mut parts = row.splitn(3, '|').map(str::to_owned);
            let mut next = || parts.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect()
}

fn type_of<'a>(columns: &'a [(String, String, String)], table: &str, column: &str) -> &'a str {
    columns
        .iter()
        .find(|(t, c, _)| t == table && c == column)
        .map(|(_, _, ty)| ty.as_str())
        .unwrap_or_else(|| panic!("no column {table}.{column}"))
}

/// Whether a column's name says it holds an instant.
fn named_like_an_instant(column: &str) -> bool {
    column.ends_with("_at")
        || column.ends_with("_date_time")
        || [
            "at",
            "created",
            "last_updated",
            "status_since",
            "changed_at",
        ]
        .contains(&column)
}

#[tokio::test]
async fn instants_are_timestamptz_and_amounts_bigint() {
    let app = TestApp::spawn().await;
    let columns = columns(&app).await;
    // sea-query declares timestamptz as `timestamp_with_timezone_text` and
    // BIGINT as `integer` on SQLite (both 64-bit integers there).
    let (instant, amount) = if app.is_postgres() {
        ("timestamp with time zone", "bigint")
    } else {
        ("timestamp_with_timezone_text", "integer")
    };
    for (table, column) in INSTANTS {
        assert_eq!(
            type_of(&columns, table, column),
            instant,
            "{table}.{column}"
        );
    }
    for (table, column) in AMOUNTS {
        assert_eq!(type_of(&columns, table, column), amount, "{table}.{column}");
    }

    // Columns added by later migrations follow the same rules.
    for (table, column, ty) in &columns {
        if named_like_an_instant(column) {
            assert_eq!(ty, instant, "{table}.{column} holds an instant");
        }
        if column.ends_with("_micro") {
            assert_eq!(ty, amount, "{table}.{column} holds an amount");
        }
        let inexact = ["real", "numeric", "double", "float", "money", "decimal"]
            .iter()
            .any(|word| ty.contains(word));
        if inexact {
            // Parsed coordinates and the unit vector derived from them
            // (location.geo_x/y/z, for distance search) are never amounts.
            let derived = *table == "location" && column.starts_with("geo_");
            assert!(
                column.ends_with("_deg") || derived,
                "{table}.{column} is {ty}; only coordinates may be floating point"
            );
        }
        assert!(
            !ty.contains("without time zone"),
            "{table}.{column} is {ty}; instants are timestamptz"
        );
    }
}

/// The lookups ingest makes on every push, and the outbox reader's.
const INGEST_LOOKUPS: &[(&str, &str)] = &[
    (
        "location by key",
        "SELECT id FROM location WHERE country_code_key = 'NL' AND party_id_key = 'GFX' \
         AND ocpi_id_key = 'LOC1'",
    ),
    (
        "EVSE by uid",
        "SELECT id FROM evse WHERE location_pk = 1 AND uid_key = 'E1'",
    ),
    (
        "EVSEs of a location",
        "SELECT id FROM evse WHERE location_pk = 1 ORDER BY id",
    ),
    (
        "connector by id",
        "SELECT id FROM connector WHERE evse_pk = 1 AND connector_id_key = '1'",
    ),
    (
        "connectors of an EVSE",
        "SELECT id FROM connector WHERE evse_pk = 1 ORDER BY id",
    ),
    (
        "session by key",
        "SELECT id FROM session WHERE country_code_key = 'NL' AND party_id_key = 'GFX' \
         AND ocpi_id_key = 'S1'",
    ),
    (
        "charging periods of a session",
        "SELECT id FROM charging_period WHERE session_pk = 1 ORDER BY start_date_time",
    ),
    (
        "CDR by key",
        "SELECT id FROM cdr WHERE country_code_key = 'NL' AND party_id_key = 'GFX' \
         AND ocpi_id_key = 'C1'",
    ),
    (
        "tariff by key",
        "SELECT id FROM tariff WHERE country_code_key = 'NL' AND party_id_key = 'GFX' \
         AND ocpi_id_key = 'T1'",
    ),
    (
        "notification by id",
        "SELECT id FROM notification WHERE country_code = 'NL' AND party_id = 'GFX' \
         AND notification_id_key = 'N1'",
    ),
    (
        "push token by hash",
        "SELECT id FROM push_token WHERE token_hash = 'abc'",
    ),
    (
        "outbox after a cursor",
        "SELECT seq FROM outbox WHERE seq > 10 ORDER BY seq LIMIT 500",
    ),
    ("end of the outbox", "SELECT MAX(seq) FROM outbox"),
    ("inbox row", "SELECT id FROM inbox WHERE id = 10"),
];

#[tokio::test]
async fn every_ingest_lookup_is_served_by_an_index() {
    let app = TestApp::spawn().await;
    for (name, sql) in INGEST_LOOKUPS {
        let plan = plan_of(&app, sql).await;
        if app.is_postgres() {
            // A Sort node sorts what no index orders; an index scan without
            // an Index Cond reads the whole index.
            assert!(!plan.contains("Seq Scan"), "{name}: {plan}");
            assert!(!plan.contains("Sort"), "{name}: {plan}");
            assert!(plan.contains("Index Cond"), "{name}: {plan}");
        } else {
            // SEARCH is an index or rowid lookup; SCAN reads the whole table
            // and a TEMP B-TREE sorts what no index orders.
            assert!(plan.contains("SEARCH"), "{name}: {plan}");
            assert!(!plan.contains("SCAN "), "{name}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{name}: {plan}");
        }
    }
}

/// The query plan as text. On PostgreSQL table scans and sorts are priced
/// out, so that a plan shows one only when no index can serve or order the
/// query (on empty tables the planner would otherwise prefer them).
async fn plan_of(app: &TestApp, sql: &str) -> String {
    let db = app.state.store.db();
    let backend = db.get_database_backend();
    let txn = db.begin().await.unwrap();
    let explain = if app.is_postgres() {
        for setting in ["enable_seqscan", "enable_bitmapscan", "enable_sort"] {
            let sql = format!("SET LOCAL {setting} = off");
            txn.execute_unprepared(&sql).await.unwrap();
        }
        format!("EXPLAIN {sql}")
    } else {
        format!("EXPLAIN QUERY PLAN {sql}")
    };
    let rows = txn
        .query_all_raw(Statement::from_string(backend, explain))
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    let column = if app.is_postgres() { 0 } else { 3 };
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `schema.graphql` is exactly what `chargegraph schema` prints.
#[tokio::test]
async fn schema_graphql_is_what_the_schema_command_prints() {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .arg("schema")
        .env_remove("CHARGEGRAPH_CONFIG")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("chargegraph schema finishes")
        .expect("chargegraph runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("the SDL is UTF-8");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql is readable");
    assert!(
        printed == committed,
        "schema.graphql is stale: run `cargo run -q -- schema > schema.graphql`"
    );
}
