//! Every filter and sort the GraphQL read API offers is served by an index,
//! on both backends: each query of the table runs through the schema, and
//! every statement it made is explained with its values. On SQLite a table
//! is read by SEARCH (an index or rowid lookup), never by a SCAN of the whole
//! table; on PostgreSQL, with sequential scans priced out, every index scan
//! has an Index Cond. A sort is read in index order: no temporary B-tree on
//! SQLite, no Sort node on PostgreSQL.
//!
//! Not in the table, because no index can serve them (README, Limitations):
//! `filter.text` (a LIKE '%...%' scan), `near` without a radius and the
//! DISTANCE order (computed per located row), `OTHER` among raw values (a
//! NOT IN), tariff validity (bounds that may be NULL), and the inbox
//! filters other than outcome and receive time.
//! Time ranges are given both ends, as a front end pages through a period:
//! with one end, reading newest first in id order and stopping at the page
//! size is a plan the planners may rightly prefer.

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

use super::*;
use crate::store::testdb::{Recorded, TestDb};

/// Whether a query's statements must filter through indexes, or read in index order.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Filter,
    Sort,
}

use Kind::{Filter, Sort};

/// (name, kind, GraphQL query).
const CASES: &[(&str, Kind, &str)] = &[
    // Locations.
    (
        "locations by party",
        Filter,
        r#"{ locations(filter: {partyId: "gfx"}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by country",
        Filter,
        r#"{ locations(filter: {countryCode: "nl"}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by city",
        Filter,
        r#"{ locations(filter: {city: "Amsterdam"}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by postal code",
        Filter,
        r#"{ locations(filter: {postalCode: "1012 AB"}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by publish",
        Filter,
        r#"{ locations(filter: {publish: true}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by EVSE status",
        Filter,
        r#"{ locations(filter: {evseStatuses: [CHARGING]}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by connector standard",
        Filter,
        r#"{ locations(filter: {connectorStandards: [IEC_62196_T2]}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by power type",
        Filter,
        r#"{ locations(filter: {powerTypes: [AC_3_PHASE]}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by minimum power",
        Filter,
        r#"{ locations(filter: {minPower: 11000}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations in a bounding box",
        Filter,
        r#"{ locations(boundingBox: {north: 52.4, south: 52.3, east: 4.95, west: 4.85}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations near, within a radius",
        Filter,
        r#"{ locations(near: {latitude: 52.37, longitude: 4.9, radius: 2000}) { totalCount nodes { id } } }"#,
    ),
    (
        "locations by name",
        Sort,
        r#"{ locations(orderBy: {field: NAME}) { nodes { id } } }"#,
    ),
    (
        "locations by name, descending",
        Sort,
        r#"{ locations(orderBy: {field: NAME, direction: DESC}) { nodes { id } } }"#,
    ),
    (
        "locations by last update",
        Sort,
        r#"{ locations(orderBy: {field: LAST_UPDATED}) { nodes { id } } }"#,
    ),
    (
        "locations by id, descending",
        Sort,
        r#"{ locations(orderBy: {field: ID, direction: DESC}) { nodes { id } } }"#,
    ),
    (
        "locations, last page",
        Sort,
        r#"{ locations(last: 2, orderBy: {field: NAME}) { nodes { id } } }"#,
    ),
    (
        "status summary of a city",
        Filter,
        r#"{ statusSummary(filter: {city: "Amsterdam"}) { total counts { count } byLocation { totalCount nodes { total } } } }"#,
    ),
    // What hangs off a location and an EVSE.
    (
        "a location's EVSEs, connectors, sessions and CDRs",
        Filter,
        r#"{ locations(filter: {city: "Amsterdam"}) { nodes { evses { connectors { id } } sessions { totalCount nodes { id } } cdrs { totalCount nodes { id } } } } }"#,
    ),
    (
        "an EVSE's sessions, CDRs and status history",
        Filter,
        r#"{ locations(filter: {city: "Amsterdam"}) { nodes { evses { sessions { totalCount nodes { id } } cdrs { totalCount nodes { id } } statusHistory { totalCount nodes { status } } } } } }"#,
    ),
    // Sessions.
    (
        "sessions by party",
        Filter,
        r#"{ sessions(filter: {partyId: "GFX"}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by country",
        Filter,
        r#"{ sessions(filter: {countryCode: "NL"}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by location id",
        Filter,
        r#"{ sessions(filter: {locationId: "LOC1"}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by EVSE uid",
        Filter,
        r#"{ sessions(filter: {evseUid: "be-bec-e041503001"}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by status",
        Filter,
        r#"{ sessions(filter: {statuses: [ACTIVE]}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by token",
        Filter,
        r#"{ sessions(filter: {token: "NL-GFX-C12345678-X"}) { totalCount nodes { id } } }"#,
    ),
    (
        "sessions by start",
        Filter,
        r#"{ sessions(filter: {started: {from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z"}}) { totalCount nodes { id } } }"#,
    ),
    (
        "a session's timeline and CDRs",
        Filter,
        r#"{ sessions(filter: {evseUid: "BE-BEC-E041503001"}) { nodes { timeline { totalCount nodes { method } } chargingPeriods { startDateTime } cdr { id } evse { id } location { id } } } }"#,
    ),
    (
        "a session's timeline with ignored pushes",
        Filter,
        r#"{ sessions(filter: {evseUid: "BE-BEC-E041503001"}) { nodes { timeline(includeIgnored: true) { totalCount nodes { method } } } } }"#,
    ),
    // CDRs.
    (
        "CDRs by party",
        Filter,
        r#"{ cdrs(filter: {partyId: "GFX"}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by country",
        Filter,
        r#"{ cdrs(filter: {countryCode: "NL"}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by location id",
        Filter,
        r#"{ cdrs(filter: {locationId: "LOC9"}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by session id",
        Filter,
        r#"{ cdrs(filter: {sessionId: "Sess-1"}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by currency",
        Filter,
        r#"{ cdrs(filter: {currency: "EUR"}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by credit",
        Filter,
        r#"{ cdrs(filter: {credit: true}) { totalCount nodes { id } } }"#,
    ),
    (
        "CDRs by start",
        Filter,
        r#"{ cdrs(filter: {started: {from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z"}}) { totalCount nodes { id } } }"#,
    ),
    (
        "a CDR's session and tariffs",
        Filter,
        r#"{ cdrs(filter: {sessionId: "Sess-1"}) { nodes { session { id } tariffs { id } creditedCdr { id } } } }"#,
    ),
    // Tariffs.
    (
        "tariffs not deleted",
        Filter,
        r#"{ tariffs { totalCount nodes { id } } }"#,
    ),
    (
        "tariffs by party",
        Filter,
        r#"{ tariffs(filter: {partyId: "GFX", includeDeleted: true}) { totalCount nodes { id } } }"#,
    ),
    (
        "tariffs by country",
        Filter,
        r#"{ tariffs(filter: {countryCode: "NL", includeDeleted: true}) { totalCount nodes { id } } }"#,
    ),
    (
        "tariffs by currency",
        Filter,
        r#"{ tariffs(filter: {currency: "EUR"}) { totalCount nodes { id } } }"#,
    ),
    // Deleted ones included, so that the deleted_at index cannot serve.
    (
        "tariffs by location id",
        Filter,
        r#"{ tariffs(filter: {locationId: "loc1", includeDeleted: true}) { totalCount nodes { id } } }"#,
    ),
    // Not here: tariffs valid in a range (see the module's comment).
    // Billing: the range is always given; its filter is the CDRs' own.
    (
        "billing over a range",
        Filter,
        r#"{ billing(from: "2024-05-01T00:00:00Z", to: "2024-06-01T00:00:00Z") { buckets { cdrCount } } }"#,
    ),
    (
        "billing of a location by month, location, EVSE and tariff",
        Filter,
        r#"{ billing(from: "2024-05-01T00:00:00Z", to: "2024-06-01T00:00:00Z", groupBy: [MONTH, LOCATION, EVSE, TARIFF], timeZone: "Europe/Amsterdam", filter: {locationId: "LOC9"}) { buckets { cdrCount location { id } } } }"#,
    ),
    (
        "billing of a party by day",
        Filter,
        r#"{ billing(from: "2024-05-01T00:00:00Z", to: "2024-06-01T00:00:00Z", groupBy: [DAY, PARTY], filter: {partyId: "GFX", currency: "EUR"}) { buckets { cdrCount } } }"#,
    ),
    // Notifications.
    (
        "notifications by party",
        Filter,
        r#"{ notifications(filter: {partyId: "GFX"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by country",
        Filter,
        r#"{ notifications(filter: {countryCode: "NL"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by station",
        Filter,
        r#"{ notifications(filter: {chargeStationId: "CS-1"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by location id",
        Filter,
        r#"{ notifications(filter: {locationId: "LOC1"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by level",
        Filter,
        r#"{ notifications(filter: {level: "info"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by action",
        Filter,
        r#"{ notifications(filter: {messageAction: "statusnotification"}) { totalCount nodes { id } } }"#,
    ),
    (
        "notifications by creation",
        Filter,
        r#"{ notifications(filter: {created: {from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z"}}) { totalCount nodes { id } } }"#,
    ),
    // Reconciliation runs, newest first, with their modules.
    (
        "reconciliation runs",
        Sort,
        r#"{ reconciliationRuns { totalCount nodes { runId modules { module } } } }"#,
    ),
    (
        "reconciliation runs of a CPO",
        Filter,
        r#"{ reconciliationRuns(filter: {cpo: "greenflux"}) { totalCount nodes { runId modules { module } } } }"#,
    ),
    (
        "reconciliation runs by trigger",
        Filter,
        r#"{ reconciliationRuns(filter: {trigger: [HEAL, MANUAL]}) { totalCount nodes { runId } } }"#,
    ),
    // The inbox.
    (
        "inbox by outcome",
        Filter,
        r#"{ inbox(filter: {outcome: [REJECTED]}) { totalCount nodes { receivedAt } } }"#,
    ),
    (
        "inbox by receive time",
        Filter,
        r#"{ inbox(filter: {receivedFrom: "2024-05-01T00:00:00Z", receivedBefore: "2024-05-02T00:00:00Z"}) { totalCount nodes { receivedAt } } }"#,
    ),
];

/// Tables whose whole-table scan the test refuses.
const TABLES: &[&str] = &[
    "location",
    "evse",
    "connector",
    "evse_status_history",
    "session",
    "charging_period",
    "session_event",
    "cdr",
    "tariff",
    "notification",
    "inbox",
    "reconcile_run",
    "reconcile_module",
];

/// A location with an EVSE, a connector, a status change, a session with a
/// period and a timeline entry, a CDR with a tariff, a notification and a
/// reconciliation run.
async fn seed_all(store: &Store) {
    let location_pk = seed::location(store, "LOC1", "Amsterdam").await;
    let evse_pk = seed::evse(store, location_pk, "BE-BEC-E041503001", "CHARGING").await;
    seed::connector(store, evse_pk, "1").await;
    let at = seed::at(9, 0, 0);
    seed::status_change(store, evse_pk, location_pk, None, "CHARGING", at).await;
    let session_pk = seed::session(store, Some(location_pk)).await;
    seed::charging_period(store, session_pk, at, "[]").await;
    seed::session_event(store, session_pk, "PUT", "ACTIVE", None, true).await;
    seed::cdr(store, Some(location_pk)).await;
    seed::notification(store).await;
    seed_run(store).await;
    store
        .db()
        .execute_unprepared(
            "UPDATE cdr SET tariff_ids = '[\"T1\"]', evse_uid = 'BE-BEC-E041503001'",
        )
        .await
        .unwrap();
}

/// A finished scheduled run of the CPO `greenflux` that pulled locations.
async fn seed_run(store: &Store) {
    use crate::store::reconcile::{finish_run, start_run, ModuleRow, NewRun};
    let run = NewRun {
        cpo: "greenflux".into(),
        trigger: "scheduled".into(),
        party: Some(crate::domain::Party::new("NL", "GFX")),
        started_at: seed::at(3, 0, 0),
        window_from: None,
        window_to: Some(seed::at(3, 0, 0)),
    };
    let run_pk = start_run(store, &run).await.unwrap();
    let module = ModuleRow {
        module: "locations".into(),
        fetched: 1,
        unchanged: 1,
        ..ModuleRow::default()
    };
    finish_run(store, run_pk, seed::at(3, 0, 5), None, &[module])
        .await
        .unwrap();
}

/// 500 connectors of 3.7 kW at another location, and their statistics:
/// without any, PostgreSQL
/// guesses that `power >= min` matches a third of the connectors and reads
/// every location instead (the other tables keep no statistics, so that
/// the planner does not see one-row tables, which any scan serves alike).
async fn slow_connectors(store: &Store) {
    let location_pk = seed::location(store, "LOC2", "Utrecht").await;
    seed::evse(store, location_pk, "E2", "AVAILABLE").await;
    let sql = "INSERT INTO connector (evse_pk, connector_id, connector_id_key, standard, \
               format, power_type, max_voltage, max_amperage, max_electric_power, tariff_ids, \
               received_at, raw) \
               SELECT (SELECT id FROM evse WHERE uid = 'E2'), n::text, n::text, 'DOMESTIC_F', 'SOCKET', \
               'AC_1_PHASE', 230, 16, 3700, '[]', now(), '{}' FROM generate_series(2, 501) n; \
               ANALYZE connector";
    store.db().execute_unprepared(sql).await.unwrap();
}

#[tokio::test]
async fn every_read_filter_and_sort_is_served_by_an_index() {
    let db = TestDb::create().await;
    let store = db.store().await;
    seed_all(&store).await;
    if db.is_postgres() {
        slow_connectors(&store).await;
    }
    let events = Events::start(store.clone());
    let (reading, recorded) = store.clone().recording();
    let schema = build_schema(reading, events, Limits::default());

    let mut failures = Vec::new();
    for (name, kind, query) in CASES {
        recorded.lock().unwrap().clear();
        let response = schema.execute(*query).await;
        assert!(response.errors.is_empty(), "{name}: {:?}", response.errors);
        for statement in statements(&recorded) {
            let plan = plan_of(&store, *kind, &statement).await;
            if let Some(why) = unindexed(store.backend(), *kind, &plan) {
                failures.push(format!("{name}: {why}\n  {}\n  {plan}", statement.sql));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The reads a query made (each once).
fn statements(recorded: &Recorded) -> Vec<Statement> {
    let mut seen: Vec<Statement> = Vec::new();
    for statement in recorded.lock().unwrap().iter() {
        let read = statement.sql.trim_start().starts_with("SELECT");
        if read && !seen.iter().any(|s| s.sql == statement.sql) {
            seen.push(statement.clone());
        }
    }
    seen
}

/// The plan of a statement as text, one node per line. On PostgreSQL
/// sequential scans are priced out (and sorts, for a sort), so that a plan
/// shows one only when no index can serve or order the query (on small
/// tables the planner would otherwise prefer them).
async fn plan_of(store: &Store, kind: Kind, statement: &Statement) -> String {
    let backend = store.backend();
    let txn = store.db().begin().await.unwrap();
    let (explain, column) = match backend {
        DbBackend::Postgres => {
            let settings: &[&str] = match kind {
                Filter => &["enable_seqscan"],
                Sort => &["enable_seqscan", "enable_sort"],
            };
            for setting in settings {
                let sql = format!("SET LOCAL {setting} = off");
                txn.execute_unprepared(&sql).await.unwrap();
            }
            ("EXPLAIN", 0)
        }
        _ => ("EXPLAIN QUERY PLAN", 3),
    };
    let explained = Statement {
        sql: format!("{explain} {}", statement.sql),
        ..statement.clone()
    };
    let rows = txn.query_all_raw(explained).await.unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a plan reads a table without an index, or sorts, if it does.
fn unindexed(backend: DbBackend, kind: Kind, plan: &str) -> Option<String> {
    let lines: Vec<&str> = plan.lines().map(str::trim).collect();
    match backend {
        DbBackend::Postgres => unindexed_postgres(kind, &lines),
        _ => unindexed_sqlite(kind, &lines),
    }
}

fn unindexed_sqlite(kind: Kind, lines: &[&str]) -> Option<String> {
    for line in lines {
        if kind == Sort && line.contains("TEMP B-TREE") {
            return Some(format!("sorted outside an index ({line})"));
        }
        let Some(rest) = line.strip_prefix("SCAN ") else {
            continue;
        };
        let table = rest.split_whitespace().next().unwrap_or_default();
        if !TABLES.contains(&table) {
            continue;
        }
        // A SCAN without an index reads in rowid order, which is the id order.
        if kind == Filter {
            return Some(format!("scans {table} ({line})"));
        }
    }
    None
}

fn unindexed_postgres(kind: Kind, lines: &[&str]) -> Option<String> {
    for (n, line) in lines.iter().enumerate() {
        let node = line.trim_start_matches("->").trim();
        if node.starts_with("Seq Scan") {
            return Some(format!("scans a table ({node})"));
        }
        if kind == Sort && node.starts_with("Sort") {
            return Some(format!("sorted outside an index ({node})"));
        }
        let index_scan = node.starts_with("Index Scan") || node.starts_with("Index Only Scan");
        if kind == Filter && index_scan {
            // The node's details run up to the next node.
            let details = lines[n + 1..].iter().take_while(|l| !l.starts_with("->"));
            if !details.clone().any(|l| l.starts_with("Index Cond")) {
                return Some(format!("reads a whole index ({node})"));
            }
        }
    }
    None
}
