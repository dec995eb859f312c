//! Push rate: 32 concurrent senders PATCH EVSE statuses and sessions the way
//! GreenFlux sends them, over loopback HTTP to the real server (`http`);
//! beside that the same pushes applied straight through `ingest::apply`
//! (`direct`: the whole app minus HTTP), and the rows those pushes write
//! (inbox, EVSE or session update, status history or timeline entry,
//! outbox) written by plain statements through the store in transactions of
//! the batch size the group commit reaches (`raw`: the ceiling of the
//! write path). On SQLite and, when CHARGEGRAPH_TEST_DATABASE_URL names a
//! PostgreSQL server, on PostgreSQL.
//!
//! Run: `CARGO_TARGET_DIR=/work/bench-target cargo bench --bench push`.
//! Reads BENCH_SECONDS (measured seconds per run, default 10),
//! BENCH_WARMUP_SECONDS (default 2), BENCH_SENDERS (default 32),
//! BENCH_BACKENDS (`sqlite,postgres`; default both, PostgreSQL only when its
//! URL is set), BENCH_MODES (`raw,direct,http`, default all three) and the
//! server's usual CHARGEGRAPH_* settings (`db_batch_max`, `db_writers`).

mod cpu;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::http::{Method, Request};
use bytes::Bytes;
use chargegraph::app::{self, AppState};
use chargegraph::config::Config;
use chargegraph::domain::{Party, Timestamp};
use chargegraph::ingest::{self, Push, Source};
use chargegraph::ocpi::auth::{hash_token, Caller};
use chargegraph::ocpi::path::Module;
use chargegraph::store::inbox::{self, InboxRow};
use chargegraph::store::outbox::{self, NewEvent};
use chargegraph::store::{tokens, Store};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// Locations seeded, each with `EVSES_PER_LOCATION` EVSEs.
const LOCATIONS: usize = 256;
const EVSES_PER_LOCATION: usize = 2;
/// Sessions seeded (ACTIVE, as GreenFlux PUTs them at start).
const SESSIONS: usize = 512;

const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef";

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}

struct Settings {
    measure: Duration,
    warmup: Duration,
    senders: usize,
    backends: Vec<String>,
    modes: Vec<String>,
    postgres_url: Option<String>,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let secs = |name: &str, default: u64| -> anyhow::Result<Duration> {
            let value = std::env::var(name).unwrap_or_else(|_| default.to_string());
            Ok(Duration::from_secs_f64(
                value.parse().context(name.to_owned())?,
            ))
        };
        let list = |name: &str, default: &str| -> Vec<String> {
            let value = std::env::var(name).unwrap_or_else(|_| default.into());
            value.split(',').map(|s| s.trim().to_owned()).collect()
        };
        let postgres_url = std::env::var("CHARGEGRAPH_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let senders = std::env::var("BENCH_SENDERS").unwrap_or_else(|_| "32".into());
        Ok(Settings {
            measure: secs("BENCH_SECONDS", 10)?,
            warmup: secs("BENCH_WARMUP_SECONDS", 2)?,
            senders: senders.parse().context("BENCH_SENDERS")?,
            backends: list("BENCH_BACKENDS", "sqlite,postgres"),
            modes: list("BENCH_MODES", "raw,direct,http"),
            postgres_url,
        })
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    println!(
        "push benchmark: {} senders, {} locations x {} EVSEs, {} sessions, {:?} measured after {:?} warm-up",
        settings.senders, LOCATIONS, EVSES_PER_LOCATION, SESSIONS, settings.measure, settings.warmup
    );
    println!("mix: 1/2 EVSE status PATCH {{\"status\": ...}}, 1/4 compact session PATCH, 1/4 15-minute session PATCH");
    let mut reports = Vec::new();
    for backend in &settings.backends {
        let url = match backend.as_str() {
            "sqlite" => None,
            "postgres" => match &settings.postgres_url {
                Some(url) => Some(url.clone()),
                None => {
                    println!("postgres: skipped (CHARGEGRAPH_TEST_DATABASE_URL is not set)");
                    continue;
                }
            },
            other => bail!("unknown backend {other:?} in BENCH_BACKENDS"),
        };
        let mut rows = Vec::new();
        for (n, mode) in settings.modes.iter().enumerate() {
            let db = BenchDb::create(url.as_deref()).await?;
            let report = run_one(&settings, backend, mode, &db, n == 0).await;
            db.drop_database().await;
            let report = report?;
            report.print();
            rows.push(report);
        }
        reports.push(rows);
    }
    println!();
    for rows in &reports {
        let rate = |mode: &str| rows.iter().find(|r| r.mode == mode).map(|r| r.rate);
        for (over, under) in [("http", "raw"), ("direct", "raw"), ("http", "direct")] {
            if let (Some(a), Some(b)) = (rate(over), rate(under)) {
                println!(
                    "{}: {over}/{under} = {:.2} ({a:.0} of {b:.0} pushes/s)",
                    rows[0].backend,
                    a / b,
                );
            }
        }
    }
    Ok(())
}

/// The durability settings the run writes under: SQLite's synchronous and
/// journal mode, PostgreSQL's synchronous_commit.
async fn durability(state: &AppState) -> anyhow::Result<String> {
    let db = state.store.db();
    let backend = db.get_database_backend();
    let one = |sql: &str| sea_orm::Statement::from_string(backend, sql);
    let text = |row: Option<sea_orm::QueryResult>| -> anyhow::Result<String> {
        let row = row.context("no row")?;
        Ok(row
            .try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))?)
    };
    if backend == sea_orm::DbBackend::Postgres {
        let commit = text(db.query_one_raw(one("SHOW synchronous_commit")).await?)?;
        return Ok(format!("synchronous_commit={commit}"));
    }
    let synchronous = text(db.query_one_raw(one("PRAGMA synchronous")).await?)?;
    let name = match synchronous.as_str() {
        "0" => "OFF",
        "1" => "NORMAL",
        "2" => "FULL",
        "3" => "EXTRA",
        other => other,
    };
    let journal = text(db.query_one_raw(one("PRAGMA journal_mode")).await?)?;
    Ok(format!("synchronous={name} journal_mode={journal}"))
}

async fn run_one(
    settings: &Settings,
    backend: &str,
    mode: &str,
    db: &BenchDb,
    first: bool,
) -> anyhow::Result<Report> {
    let mut config = Config::load(None).map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = db.url.clone();
    config.listen = "127.0.0.1:0".parse()?;
    let batch = Batching {
        max: config.db_batch_max.max(1),
        writers: config.db_writers.max(1),
    };
    let state = AppState::start(config).await?;
    if first {
        let writers = match state.store.backend() {
            sea_orm::DbBackend::Sqlite => "one writer".to_owned(),
            _ => format!("db_writers={}", batch.writers),
        };
        println!(
            "{backend}: {}, db_batch_max={}, {writers}",
            durability(&state).await?,
            batch.max,
        );
    }
    let party = Party::new("NL", "GFX");
    let parties = std::slice::from_ref(&party);
    let token_pk = tokens::insert(&state.store, &hash_token(TOKEN), None, parties, false).await?;
    let caller = Caller {
        token_pk,
        parties: vec![party],
        strictness: Default::default(),
    };
    seed(&state, &caller).await?;

    let senders: Vec<Sender> = (0..settings.senders)
        .map(|i| Sender::new(i, settings.senders))
        .collect();
    let started = Instant::now();
    let warm_until = started + settings.warmup;
    let end = warm_until + settings.measure;
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(warm_until.into()).await;
        let start = cpu::used();
        tokio::time::sleep_until(end.into()).await;
        (start, cpu::used())
    });
    let results = match mode {
        "raw" => raw(&state, &caller, senders, batch, warm_until, end).await?,
        "direct" => direct(&state, &caller, senders, warm_until, end).await?,
        "http" => http(&state, senders, warm_until, end).await?,
        other => bail!("unknown mode {other:?} in BENCH_MODES"),
    };
    let mut histogram = new_histogram();
    let mut errors = 0;
    let mut count = 0;
    for result in results {
        histogram.add(&result.histogram)?;
        errors += result.errors;
        count += result.histogram.len();
    }
    let (cpu_start, cpu_end) = cpu_window.await?;
    Ok(Report {
        cpu_ms: cpu::per_op(cpu_start, cpu_end, count),
        backend: backend.to_owned(),
        mode: mode.to_owned(),
        count,
        errors,
        rate: count as f64 / settings.measure.as_secs_f64(),
        histogram,
    })
}

/// Locations and sessions through the ingest path, as GreenFlux PUTs them.
async fn seed(state: &AppState, caller: &Caller) -> anyhow::Result<()> {
    let location: Value = serde_json::from_str(&fixture("push_location_put.json")?)?;
    let session: Value = serde_json::from_str(&fixture("push_session_put.json")?)?;
    for l in 0..LOCATIONS {
        let mut body = location.clone();
        body["id"] = json!(location_id(l));
        let template = body["evses"][0].clone();
        let evses: Vec<Value> = (0..EVSES_PER_LOCATION)
            .map(|e| {
                let mut evse = template.clone();
                evse["uid"] = json!(evse_uid(l, e));
                evse["evse_id"] = json!(format!("BE*BEC*E{l:05}{e:02}"));
                evse
            })
            .collect();
        body["evses"] = Value::Array(evses);
        let ids = vec!["NL".into(), "GFX".into(), location_id(l)];
        apply_seed(state, caller, Method::PUT, Module::Locations, ids, body).await?;
    }
    for s in 0..SESSIONS {
        let mut body = session.clone();
        body["id"] = json!(session_id(s));
        let l = s % LOCATIONS;
        body["location"]["id"] = json!(location_id(l));
        body["location"]["evses"][0]["uid"] = json!(evse_uid(l, s % EVSES_PER_LOCATION));
        let ids = vec!["NL".into(), "GFX".into(), session_id(s)];
        apply_seed(state, caller, Method::PUT, Module::Sessions, ids, body).await?;
    }
    Ok(())
}

async fn apply_seed(
    state: &AppState,
    caller: &Caller,
    method: Method,
    module: Module,
    ids: Vec<String>,
    body: Value,
) -> anyhow::Result<()> {
    let raw_body = body.to_string();
    let push = Push {
        source: Source::Push,
        method,
        version: "2.1.1",
        module,
        path: format!("/ocpi/2.1.1/{}/{}", module.name(), ids.join("/")),
        ids,
        body,
        raw_body,
        caller: caller.clone(),
        received_at: Timestamp::now(),
        request_id: None,
    };
    ingest::apply(&state.store, &state.events, &push)
        .await
        .map_err(|e| anyhow::anyhow!("seeding {}: {e}", push.path))?;
    Ok(())
}

fn fixture(name: &str) -> anyhow::Result<String> {
    let path = format!(
        "{}/tests/fixtures/greenflux/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))
}

fn location_id(l: usize) -> String {
    format!("LOC-{l:05}")
}

fn evse_uid(l: usize, e: usize) -> String {
    format!("BE-BEC-E{l:05}{e:02}")
}

fn session_id(s: usize) -> String {
    format!("NLGFX6375614992138{s:05}-ef07d")
}

/// One push a sender makes.
struct Next {
    module: Module,
    ids: Vec<String>,
    path: String,
    body: String,
}

/// The pushes of one sender: its own EVSEs and sessions, so that senders
/// never race each other on one object and every push changes something.
struct Sender {
    evses: Vec<(usize, usize)>,
    sessions: Vec<usize>,
    step: usize,
    /// Updates sent per owned session, for its kwh and last_updated.
    session_updates: Vec<u64>,
}

const SESSION_START: &str = "2021-05-09T09:38:39Z";

impl Sender {
    fn new(index: usize, count: usize) -> Sender {
        let evses = (0..LOCATIONS * EVSES_PER_LOCATION)
            .filter(|n| n % count == index)
            .map(|n| (n / EVSES_PER_LOCATION, n % EVSES_PER_LOCATION))
            .collect();
        let sessions: Vec<usize> = (0..SESSIONS).filter(|n| n % count == index).collect();
        let session_updates = vec![0; sessions.len()];
        Sender {
            evses,
            sessions,
            step: 0,
            session_updates,
        }
    }

    fn next(&mut self) -> Next {
        self.step += 1;
        match self.step % 4 {
            1 | 3 => self.evse_status(),
            2 => self.session_patch(false),
            _ => self.session_patch(true),
        }
    }

    /// GreenFlux's EVSE status PATCH: the status alone, no last_updated.
    fn evse_status(&mut self) -> Next {
        let visit = self.step / 2;
        let (l, e) = self.evses[visit % self.evses.len()];
        let round = visit / self.evses.len();
        let status = if round % 2 == 0 {
            "CHARGING"
        } else {
            "AVAILABLE"
        };
        let ids = vec!["NL".into(), "GFX".into(), location_id(l), evse_uid(l, e)];
        Next {
            module: Module::Locations,
            path: format!("/ocpi/2.1.1/locations/NL/GFX/{}/{}", ids[2], ids[3]),
            ids,
            body: format!("{{\"status\": \"{status}\"}}"),
        }
    }

    /// The compact meter-update PATCH, or the 15-minute one with the
    /// cumulative charging period, each a second newer than the last.
    fn session_patch(&mut self, full: bool) -> Next {
        let slot = (self.step / 4) % self.sessions.len();
        let s = self.sessions[slot];
        self.session_updates[slot] += 1;
        let n = self.session_updates[slot];
        let start: DateTime<Utc> = SESSION_START.parse().unwrap_or_default();
        let stamp = Timestamp::from_datetime(start + chrono::Duration::seconds(300 + n as i64));
        let kwh = 0.285 + n as f64 * 0.001;
        let id = session_id(s);
        let body = if full {
            json!({
                "id": id,
                "start_datetime": SESSION_START,
                "kwh": kwh,
                "charging_periods": [{
                    "start_date_time": SESSION_START,
                    "dimensions": [
                        {"type": "TIME", "volume": 0.0833 + n as f64 * 0.0003},
                        {"type": "ENERGY", "volume": kwh}
                    ]
                }],
                "status": "ACTIVE",
                "last_updated": stamp.to_string(),
            })
        } else {
            json!({
                "start_datetime": SESSION_START,
                "kwh": kwh,
                "status": "ACTIVE",
                "last_updated": stamp.to_string(),
            })
        };
        Next {
            module: Module::Sessions,
            path: format!("/ocpi/2.1.1/sessions/NL/GFX/{id}"),
            ids: vec!["NL".into(), "GFX".into(), id],
            body: body.to_string(),
        }
    }
}

/// What one sender measured.
struct SenderResult {
    histogram: Histogram<u64>,
    errors: u64,
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds, from 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

/// Each sender applies its pushes through `ingest::apply`, one at a time.
async fn direct(
    state: &AppState,
    caller: &Caller,
    senders: Vec<Sender>,
    warm_until: Instant,
    end: Instant,
) -> anyhow::Result<Vec<SenderResult>> {
    let tasks = senders.into_iter().map(|mut sender| {
        let state = state.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            let mut result = SenderResult {
                histogram: new_histogram(),
                errors: 0,
            };
            while Instant::now() < end {
                let next = sender.next();
                let began = Instant::now();
                let ok = apply_direct(&state, &caller, next).await;
                record(&mut result, began, warm_until, ok);
            }
            result
        })
    });
    let mut results = Vec::new();
    for task in futures::future::join_all(tasks).await {
        results.push(task?);
    }
    Ok(results)
}

async fn apply_direct(state: &AppState, caller: &Caller, next: Next) -> Result<(), String> {
    let body: Value = serde_json::from_str(&next.body).map_err(|e| e.to_string())?;
    let push = Push {
        source: Source::Push,
        method: Method::PATCH,
        version: "2.1.1",
        module: next.module,
        ids: next.ids,
        body,
        raw_body: next.body,
        caller: caller.clone(),
        received_at: Timestamp::now(),
        path: next.path,
        request_id: None,
    };
    match ingest::apply(&state.store, &state.events, &push).await {
        Ok(_) => Ok(()),
        Err(err) => Err(err.to_string()),
    }
}

/// The group commit's batching, which the raw writes copy.
#[derive(Debug, Clone, Copy)]
struct Batching {
    /// Most pushes in one transaction (db_batch_max).
    max: usize,
    /// Concurrent transactions on PostgreSQL (db_writers); SQLite has one.
    writers: usize,
}

/// Row ids of the seeded objects, looked up once: raw writes go by primary key.
struct Targets {
    /// EVSE uid to (EVSE row, location row).
    evses: HashMap<String, (i64, i64)>,
    /// Session id to session row.
    sessions: HashMap<String, i64>,
}

impl Targets {
    async fn load(state: &AppState) -> anyhow::Result<Targets> {
        let db = state.store.db();
        let evses = entity::evse::Entity::find().all(db).await?;
        let sessions = entity::session::Entity::find().all(db).await?;
        Ok(Targets {
            evses: evses
                .into_iter()
                .map(|e| (e.uid, (e.id, e.location_pk)))
                .collect(),
            sessions: sessions.into_iter().map(|s| (s.ocpi_id, s.id)).collect(),
        })
    }
}

/// The rows of the same pushes, written by plain statements through the
/// store: as many writers as the group commit has (one on SQLite), each
/// taking one push from each of its senders per transaction (at most
/// db_batch_max), the batch the group commit forms when every sender waits
/// for its answer. Each push's latency is its transaction's.
async fn raw(
    state: &AppState,
    caller: &Caller,
    senders: Vec<Sender>,
    batching: Batching,
    warm_until: Instant,
    end: Instant,
) -> anyhow::Result<Vec<SenderResult>> {
    let targets = Arc::new(Targets::load(state).await?);
    let writers = match state.store.backend() {
        sea_orm::DbBackend::Sqlite => 1,
        _ => batching.writers,
    };
    let mut groups: Vec<Vec<Sender>> = (0..writers).map(|_| Vec::new()).collect();
    for (n, sender) in senders.into_iter().enumerate() {
        groups[n % writers].push(sender);
    }
    let tasks = groups.into_iter().map(|mut group| {
        let store = state.store.clone();
        let targets = targets.clone();
        let token_pk = caller.token_pk;
        tokio::spawn(async move {
            let mut result = SenderResult {
                histogram: new_histogram(),
                errors: 0,
            };
            while Instant::now() < end {
                for chunk in group.chunks_mut(batching.max) {
                    let pushes: Vec<Next> = chunk.iter_mut().map(Sender::next).collect();
                    let began = Instant::now();
                    let ok = write_raw(&store, &targets, token_pk, &pushes).await;
                    for _ in &pushes {
                        record(&mut result, began, warm_until, ok.clone());
                    }
                }
            }
            result
        })
    });
    let mut results = Vec::new();
    for task in futures::future::join_all(tasks).await {
        results.push(task?);
    }
    Ok(results)
}

/// One transaction of raw writes: each push's rows, then the events, then the commit.
async fn write_raw(
    store: &Store,
    targets: &Targets,
    token_pk: i64,
    pushes: &[Next],
) -> Result<(), String> {
    let write = store.begin_write().await.map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    for push in pushes {
        raw_rows(&write.txn, targets, token_pk, push, &mut events)
            .await
            .map_err(|e| format!("{}: {e:#}", push.path))?;
    }
    outbox::insert_all(&write.txn, events)
        .await
        .map_err(|e| e.to_string())?;
    write.commit().await.map_err(|e| e.to_string())
}

/// The rows one push writes: its inbox row, the EVSE's status and a history
/// row, or the session's figures and a timeline row; its event.
async fn raw_rows(
    txn: &sea_orm::DatabaseTransaction,
    targets: &Targets,
    token_pk: i64,
    push: &Next,
    events: &mut Vec<NewEvent>,
) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let body: Value = serde_json::from_str(&push.body)?;
    let row = InboxRow {
        source: "push".into(),
        method: "PATCH".into(),
        path: push.path.clone(),
        version: Some("2.1.1".into()),
        module: Some(push.module.name().into()),
        country_code: Some("NL".into()),
        party_id: Some("GFX".into()),
        object_id: push.ids.last().cloned(),
        token_pk: Some(token_pk),
        http_status: 200,
        status_code: 1000,
        outcome: "updated".into(),
        message: "updated".into(),
        body: Some(push.body.clone()),
        ..InboxRow::default()
    };
    let inbox_pk = inbox::insert(txn, now, row).await?;
    match push.module {
        Module::Locations => raw_evse(txn, targets, push, &body, now, events).await,
        _ => raw_session(txn, targets, push, &body, (now, inbox_pk), events).await,
    }
}

async fn raw_evse(
    txn: &sea_orm::DatabaseTransaction,
    targets: &Targets,
    push: &Next,
    body: &Value,
    now: Timestamp,
    events: &mut Vec<NewEvent>,
) -> anyhow::Result<()> {
    use entity::{evse, evse_status_history};
    let uid = &push.ids[3];
    let &(evse_pk, location_pk) = targets.evses.get(uid).context("unknown EVSE")?;
    let status = body["status"].as_str().unwrap_or("UNKNOWN").to_owned();
    // The senders alternate between the two.
    let previous = if status == "CHARGING" {
        "AVAILABLE"
    } else {
        "CHARGING"
    };
    evse::Entity::update_many()
        .col_expr(evse::Column::Status, Expr::value(status.clone()))
        .col_expr(evse::Column::StatusSince, Expr::value(now.as_datetime()))
        .col_expr(evse::Column::ReceivedAt, Expr::value(now.as_datetime()))
        .filter(evse::Column::Id.eq(evse_pk))
        .exec(txn)
        .await?;
    let history = evse_status_history::ActiveModel {
        evse_pk: Set(evse_pk),
        location_pk: Set(location_pk),
        previous_status: Set(Some(previous.into())),
        status: Set(status.clone()),
        changed_at: Set(now.as_datetime()),
        received_at: Set(now.as_datetime()),
        stamp_from_sender: Set(false),
        ..Default::default()
    };
    history.insert(txn).await?;
    events.push(NewEvent {
        kind: "EVSE_STATUS_CHANGED",
        country_code: "NL".into(),
        party_id: "GFX".into(),
        location_pk: Some(location_pk),
        evse_pk: Some(evse_pk),
        session_pk: None,
        payload: json!({
            "country_code": "NL", "party_id": "GFX", "location_id": push.ids[2],
            "evse_uid": uid, "status": status, "previous_status": previous,
            "changed_at": now.to_string(),
        }),
    });
    Ok(())
}

async fn raw_session(
    txn: &sea_orm::DatabaseTransaction,
    targets: &Targets,
    push: &Next,
    body: &Value,
    (now, inbox_pk): (Timestamp, i64),
    events: &mut Vec<NewEvent>,
) -> anyhow::Result<()> {
    use entity::{session, session_event};
    let id = &push.ids[2];
    let session_pk = *targets.sessions.get(id).context("unknown session")?;
    let kwh_micro = (body["kwh"].as_f64().unwrap_or_default() * 1e6).round() as i64;
    let stamp: DateTime<Utc> = body["last_updated"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(now.as_datetime());
    session::Entity::update_many()
        .col_expr(session::Column::KwhMicro, Expr::value(kwh_micro))
        .col_expr(session::Column::LastUpdated, Expr::value(stamp))
        .col_expr(session::Column::ReceivedAt, Expr::value(now.as_datetime()))
        .col_expr(session::Column::Raw, Expr::value(push.body.clone()))
        .filter(session::Column::Id.eq(session_pk))
        .exec(txn)
        .await?;
    let timeline = session_event::ActiveModel {
        session_pk: Set(session_pk),
        inbox_pk: Set(Some(inbox_pk)),
        method: Set("PATCH".into()),
        at: Set(stamp),
        received_at: Set(now.as_datetime()),
        status: Set(Some("ACTIVE".into())),
        kwh_micro: Set(Some(kwh_micro)),
        total_cost_micro: Set(None),
        applied: Set(true),
        ..Default::default()
    };
    timeline.insert(txn).await?;
    events.push(NewEvent {
        kind: "SESSION_UPDATED",
        country_code: "NL".into(),
        party_id: "GFX".into(),
        location_pk: None,
        evse_pk: None,
        session_pk: Some(session_pk),
        payload: json!({
            "country_code": "NL", "party_id": "GFX", "session_id": id,
            "status": "ACTIVE", "kwh": body["kwh"],
        }),
    });
    Ok(())
}

fn record(result: &mut SenderResult, began: Instant, warm_until: Instant, ok: Result<(), String>) {
    let done = Instant::now();
    if let Err(err) = ok {
        if result.errors == 0 {
            eprintln!("push failed: {err}");
        }
        result.errors += 1;
        return;
    }
    if began >= warm_until {
        let micros = done.duration_since(began).as_micros() as u64;
        let _ = result.histogram.record(micros.max(1));
    }
}

/// Each sender keeps one HTTP/1.1 connection to the server and sends its
/// pushes on it one after the other, as a CPO's push worker does.
async fn http(
    state: &AppState,
    senders: Vec<Sender>,
    warm_until: Instant,
    end: Instant,
) -> anyhow::Result<Vec<SenderResult>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = state.clone();
    let server = tokio::spawn(async move {
        let _ = app::serve(listener, serving, std::future::pending()).await;
    });
    // The senders run on their own thread and runtime, as a separate client would.
    let client = std::thread::spawn(move || -> anyhow::Result<Vec<SenderResult>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let tasks = senders
                .into_iter()
                .map(|sender| tokio::spawn(http_sender(addr, sender, warm_until, end)));
            let mut results = Vec::new();
            for task in futures::future::join_all(tasks).await {
                results.push(task??);
            }
            Ok(results)
        })
    });
    let results = tokio::task::spawn_blocking(move || client.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the client thread panicked"))??;
    server.abort();
    Ok(results)
}

async fn http_sender(
    addr: SocketAddr,
    mut sender: Sender,
    warm_until: Instant,
    end: Instant,
) -> anyhow::Result<SenderResult> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut request_sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let authorization = Arc::new(format!("Token {TOKEN}"));
    let mut result = SenderResult {
        histogram: new_histogram(),
        errors: 0,
    };
    while Instant::now() < end {
        let next = sender.next();
        let request = Request::builder()
            .method(Method::PATCH)
            .uri(&next.path)
            .header("host", addr.to_string())
            .header("authorization", authorization.as_str())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(next.body)))?;
        let began = Instant::now();
        request_sender.ready().await?;
        let response = request_sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let accepted = status.is_success() && contains(&body, b"\"status_code\":1000");
        let ok = if accepted {
            Ok(())
        } else {
            Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
        };
        record(&mut result, began, warm_until, ok);
    }
    Ok(result)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Figures of one run.
struct Report {
    backend: String,
    mode: String,
    count: u64,
    errors: u64,
    rate: f64,
    /// CPU milliseconds of this process per push (on PostgreSQL, without the server's).
    cpu_ms: Option<f64>,
    histogram: Histogram<u64>,
}

impl Report {
    fn print(&self) {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let cpu = self
            .cpu_ms
            .map_or_else(|| "?".to_owned(), |c| format!("{c:.3}"));
        println!(
            "{:<8} {:<6} {:>8} pushes {:>9.0} pushes/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  cpu/push {cpu} ms  errors {}",
            self.backend,
            self.mode,
            self.count,
            self.rate,
            ms(0.5),
            ms(0.99),
            self.histogram.max() as f64 / 1000.0,
            self.errors
        );
    }
}

/// The benchmark's own database: a SQLite file in a temporary directory, or
/// a PostgreSQL database created for the run and dropped after it.
struct BenchDb {
    url: String,
    admin: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl BenchDb {
    async fn create(postgres: Option<&str>) -> anyhow::Result<BenchDb> {
        let Some(admin_url) = postgres else {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            return Ok(BenchDb {
                url,
                admin: None,
                _dir: Some(dir),
            });
        };
        let name = format!("cg_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        let mut url = reqwest::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(BenchDb {
            url: url.to_string(),
            admin: Some((admin_url.to_owned(), name)),
            _dir: None,
        })
    }

    async fn drop_database(&self) {
        let Some((admin_url, name)) = &self.admin else {
            return;
        };
        let dropped = async {
            let admin = sea_orm::Database::connect(admin_url.as_str()).await?;
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.execute_unprepared(&sql).await?;
            admin.close().await
        };
        if let Err(err) = dropped.await {
            eprintln!("benchmark database {name} not dropped: {err}");
        }
    }
}
