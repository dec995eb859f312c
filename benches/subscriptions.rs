//! Subscription fan-out under load: N WebSocket connections, each with one
//! `evseStatusChanged` filtered to one of 1,000 locations, while 500 EVSE
//! status PATCHes per second are pushed. Prints push-to-subscriber latency
//! (from just before the PATCH is sent to the event's arrival), events lost,
//! and the server's resident memory, for 1,000 and for 10,000 connections.
//!
//! The server is the built `chargegraph` binary in its own process on a
//! fresh SQLite file or, when CHARGEGRAPH_TEST_DATABASE_URL names a
//! PostgreSQL server, also on a fresh PostgreSQL database created through it
//! (and dropped after the run); this process plays every client. Lost and
//! duplicated deliveries are counted exactly, per subscriber and push: each
//! push must reach every subscriber of its location once, as its own event
//! or merged into a later one (`skipped`). Run with
//! `CARGO_TARGET_DIR=/work/bench-target cargo bench --bench subscriptions`;
//! `SUBS_BENCH_SECONDS` (default 20) sets how long pushes go on,
//! `SUBS_BENCH_CONNECTIONS` (default "1000,10000") the runs, and
//! `SUBS_BENCH_BACKENDS` (default "sqlite,postgres") the backends.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use tokio::net::TcpSocket;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const LOCATIONS: usize = 1_000;
const PUSHES_PER_SECOND: u64 = 500;
/// Pushes' sender stamps count milliseconds from here, so an event's
/// `changedAt` names the push it came from.
const EPOCH_MS: i64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z
/// Client source addresses, so that ephemeral ports never run short.
const SOURCES: u8 = 8;

fn main() -> Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    let seconds: u64 = env_or("SUBS_BENCH_SECONDS", "20").parse()?;
    let runs: Vec<usize> = env_or("SUBS_BENCH_CONNECTIONS", "1000,10000")
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()?;
    let postgres = std::env::var("CHARGEGRAPH_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    println!("subscriptions benchmark: {LOCATIONS} locations, {PUSHES_PER_SECOND} PATCH/s for {seconds} s, open file limit {limit}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for backend in env_or("SUBS_BENCH_BACKENDS", "sqlite,postgres").split(',') {
        let admin_url = match backend.trim() {
            "sqlite" => None,
            "postgres" => match &postgres {
                Some(url) => Some(url.as_str()),
                None => {
                    println!("postgres: skipped (CHARGEGRAPH_TEST_DATABASE_URL is not set)");
                    continue;
                }
            },
            other => bail!("unknown backend {other:?} in SUBS_BENCH_BACKENDS"),
        };
        for &connections in &runs {
            let report = runtime.block_on(async {
                let db = BenchDb::create(admin_url).await?;
                let report = run(&db, connections, seconds).await;
                db.drop_database().await;
                report
            })?;
            println!("backend {}:", backend.trim());
            report.print();
        }
    }
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

struct Report {
    connections: usize,
    pushes: u64,
    expected: u64,
    received: u64,
    skipped: u64,
    tally: Tally,
    histogram: Histogram<u64>,
    answers: Histogram<u64>,
    rss_before_kib: u64,
    rss_kib: u64,
    hwm_kib: u64,
    connect_secs: f64,
}

impl Report {
    fn print(&self) {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "connections {:>6}: pushes {} deliveries expected {} received {} skipped(merged) {} lost {} duplicated {}",
            self.connections,
            self.pushes,
            self.expected,
            self.received,
            self.skipped,
            self.tally.lost,
            self.tally.duplicated
        );
        if self.tally.unknown > 0 {
            println!(
                "  events naming no push of the subscriber's location: {}",
                self.tally.unknown
            );
        }
        println!(
            "  latency push->subscriber: p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            self.histogram.max() as f64 / 1000.0
        );
        let answer_ms = |q: f64| self.answers.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "  push answer (HTTP round trip): p50 {:.1} ms  p99 {:.1} ms",
            answer_ms(0.5),
            answer_ms(0.99)
        );
        println!(
            "  server memory: VmRSS {:.1} MiB (before connections {:.1} MiB, peak VmHWM {:.1} MiB); connecting took {:.1} s",
            self.rss_kib as f64 / 1024.0,
            self.rss_before_kib as f64 / 1024.0,
            self.hwm_kib as f64 / 1024.0,
            self.connect_secs
        );
    }
}

async fn run(db: &BenchDb, connections: usize, seconds: u64) -> Result<Report> {
    let server = Server::start(&db.url).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    seed(&server, &http).await?;
    let rss_before_kib = server.memory()?.0;

    let shared = Arc::new(Shared::new(seconds, connections)?);
    let started = Instant::now();
    let mut readers = Vec::with_capacity(connections);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(connections);
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for i in 0..connections {
        let (shared, ready, gate) = (shared.clone(), ready_tx.clone(), gate.clone());
        let addr = server.addr;
        readers.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let socket = subscribe(addr, i).await;
            drop(permit);
            match socket {
                Ok(socket) => {
                    let _ = ready.send(Ok(())).await;
                    read_events(socket, &shared, i).await;
                }
                Err(err) => {
                    let _ = ready.send(Err(err)).await;
                }
            }
        }));
    }
    for _ in 0..connections {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(err.context("a subscriber could not connect")),
            None => bail!("subscriber tasks ended early"),
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();

    let (pushes, answers) = push(&server, &http, &shared, seconds).await?;
    let expected: u64 = (0..pushes as usize)
        .map(|n| subscribers_of(n % LOCATIONS, connections) as u64)
        .sum();
    let drained = async {
        while shared.received.load(Ordering::Relaxed) + shared.skipped.load(Ordering::Relaxed)
            < expected
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(15), drained).await;
    let (rss_kib, hwm_kib) = server.memory()?;
    for reader in readers {
        reader.abort();
    }
    let histogram = shared
        .histogram
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    let tally = tally(&shared, pushes as usize)?;
    Ok(Report {
        connections,
        pushes,
        expected,
        received: shared.received.load(Ordering::Relaxed),
        skipped: shared.skipped.load(Ordering::Relaxed),
        tally,
        histogram,
        answers,
        rss_before_kib,
        rss_kib,
        hwm_kib,
        connect_secs,
    })
}

/// How many of `connections` subscribers watch location `l` (subscriber i watches i % 1000).
fn subscribers_of(l: usize, connections: usize) -> usize {
    connections / LOCATIONS + usize::from(l < connections % LOCATIONS)
}

/// Deliveries checked push by push against what each subscriber should get.
#[derive(Debug, Default)]
struct Tally {
    /// (subscriber, push) pairs that no event accounted for.
    lost: u64,
    /// Accounts beyond the first of a (subscriber, push) pair.
    duplicated: u64,
    /// Events naming a push that is not one of the subscriber's location.
    unknown: u64,
}

/// Subscriber `i` watches location `i % LOCATIONS`, whose pushes are `l`,
/// `l + LOCATIONS`, ...: a LIVE event of push `n` with `skipped` k accounts
/// for `n` and the k pushes of that location just before it.
fn tally(shared: &Shared, pushes: usize) -> Result<Tally> {
    let mut tally = Tally::default();
    for (i, seen) in shared.seen.iter().enumerate() {
        let l = i % LOCATIONS;
        let own = pushes / LOCATIONS + usize::from(l < pushes % LOCATIONS);
        let mut accounted = vec![0u64; own];
        let seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        for &(n, skipped) in seen.iter() {
            if n % LOCATIONS != l || n / LOCATIONS >= own {
                tally.unknown += 1;
                continue;
            }
            let last = n / LOCATIONS;
            let first = last.saturating_sub(skipped as usize);
            for slot in &mut accounted[first..=last] {
                *slot += 1;
            }
        }
        for &count in &accounted {
            match count {
                0 => tally.lost += 1,
                c => tally.duplicated += c - 1,
            }
        }
    }
    Ok(tally)
}

/// What every client task shares.
struct Shared {
    /// When each push was sent, in microseconds since `clock`.
    sent_us: Vec<AtomicU64>,
    clock: Instant,
    histogram: Mutex<Histogram<u64>>,
    received: AtomicU64,
    skipped: AtomicU64,
    /// Per subscriber, (push number, skipped) of each LIVE event.
    seen: Vec<Mutex<Vec<(usize, u64)>>>,
}

impl Shared {
    fn new(seconds: u64, connections: usize) -> Result<Shared> {
        let pushes = (seconds * PUSHES_PER_SECOND + PUSHES_PER_SECOND) as usize;
        Ok(Shared {
            sent_us: (0..pushes).map(|_| AtomicU64::new(0)).collect(),
            clock: Instant::now(),
            histogram: Mutex::new(Histogram::new_with_bounds(1, 120_000_000, 3)?),
            received: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            seen: (0..connections).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
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
    async fn create(postgres: Option<&str>) -> Result<BenchDb> {
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

/// The chargegraph binary serving the benchmark's database.
struct Server {
    addr: SocketAddr,
    token: String,
    child: Child,
}

impl Server {
    async fn start(url: &str) -> Result<Server> {
        let binary = env!("CARGO_BIN_EXE_chargegraph");
        let token = Command::new(binary)
            .args(["token", "add", "--party", "NL/GFX"])
            .env("CHARGEGRAPH_DATABASE_URL", url)
            .env("RUST_LOG", "error")
            .stderr(Stdio::null())
            .output()
            .await?;
        let token = String::from_utf8(token.stdout)?.trim().to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new(binary)
            .env("CHARGEGRAPH_DATABASE_URL", url)
            .env("CHARGEGRAPH_LISTEN", addr.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let server = Server { addr, token, child };
        let client = reqwest::Client::new();
        let versions = format!("http://{addr}/ocpi/versions");
        for _ in 0..300 {
            let answer = client
                .get(&versions)
                .header("Authorization", server.auth())
                .send()
                .await;
            if answer.is_ok() {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not answer within 30 s")
    }

    fn auth(&self) -> String {
        format!("Token {}", self.token)
    }

    /// (VmRSS, VmHWM) in KiB.
    fn memory(&self) -> Result<(u64, u64)> {
        let pid = self.child.id().context("the server exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc/{pid}/status"))?;
            let kib = line.split_whitespace().nth(1).context("no value")?;
            Ok(kib.parse()?)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

fn location_id(l: usize) -> String {
    format!("LOC-{l:04}")
}

/// 1,000 locations with one EVSE each, AVAILABLE.
async fn seed(server: &Server, http: &reqwest::Client) -> Result<()> {
    let puts = futures::stream::iter(0..LOCATIONS).map(|l| async move {
        let id = location_id(l);
        let body = json!({
            "id": id, "type": "ON_STREET", "name": id, "address": "Straat 1", "city": "Gent",
            "postal_code": "9000", "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [],
                       "last_updated": "2029-12-31T00:00:00Z"}],
            "last_updated": "2029-12-31T00:00:00Z"
        });
        let url = format!("http://{}/ocpi/2.1.1/locations/NL/GFX/{id}", server.addr);
        let answer = http
            .put(url)
            .header("Authorization", server.auth())
            .body(body.to_string())
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("seeding {id}: HTTP {}", answer.status());
        }
        Ok(())
    });
    let results: Vec<Result<()>> = puts.buffer_unordered(16).collect().await;
    results.into_iter().collect()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Connects subscriber `i` (from one of several loopback addresses) and
/// subscribes it to its location; returns once the subscription is live.
async fn subscribe(addr: SocketAddr, i: usize) -> Result<Socket> {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % SOURCES as usize) as u8));
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{addr}/graphql").into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await?;
    send(&mut ws, json!({"type": "connection_init"})).await?;
    expect(&mut ws, "connection_ack").await?;
    let query = format!(
        r#"subscription {{ evseStatusChanged(filter: {{locationId: "{}"}}, snapshot: true) {{
            kind ... on EvseStatusChange {{ skipped changedAt }} }} }}"#,
        location_id(i % LOCATIONS)
    );
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": query}}),
    )
    .await?;
    // The snapshot item shows the subscription is registered.
    expect(&mut ws, "next").await?;
    Ok(ws)
}

async fn send(ws: &mut Socket, message: Value) -> Result<()> {
    ws.send(Message::Text(message.to_string().into())).await?;
    Ok(())
}

async fn expect(ws: &mut Socket, kind: &str) -> Result<Value> {
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text)?;
                    if message["type"] == kind {
                        return Ok(message);
                    }
                    if message["type"] == "ping" {
                        send(ws, json!({"type": "pong"})).await?;
                    }
                }
                Some(Ok(_)) => {}
                other => bail!("socket closed while waiting for {kind}: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait).await?
}

/// Records each live event of subscriber `i` until the socket closes.
async fn read_events(mut ws: Socket, shared: &Shared, i: usize) {
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match message["type"].as_str() {
            Some("next") => record(&message["payload"]["data"]["evseStatusChanged"], shared, i),
            Some("ping") if send(&mut ws, json!({"type": "pong"})).await.is_err() => return,
            _ => {}
        }
    }
}

fn record(change: &Value, shared: &Shared, i: usize) {
    if change["kind"] != "LIVE" {
        return;
    }
    let arrived = shared.now_us();
    let Some(n) = change["changedAt"].as_str().and_then(push_number) else {
        return;
    };
    let Some(sent) = shared.sent_us.get(n).map(|s| s.load(Ordering::Relaxed)) else {
        return;
    };
    shared.received.fetch_add(1, Ordering::Relaxed);
    let skipped = change["skipped"].as_u64().unwrap_or(0);
    shared.skipped.fetch_add(skipped, Ordering::Relaxed);
    if let Some(Ok(mut seen)) = shared.seen.get(i).map(Mutex::lock) {
        seen.push((n, skipped));
    }
    if let Ok(mut histogram) = shared.histogram.lock() {
        let _ = histogram.record(arrived.saturating_sub(sent).max(1));
    }
}

/// The push number a sender stamp encodes.
fn push_number(stamp: &str) -> Option<usize> {
    let at = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    usize::try_from(at.timestamp_millis() - EPOCH_MS).ok()
}

fn stamp(n: usize) -> String {
    let at = chrono::DateTime::from_timestamp_millis(EPOCH_MS + n as i64).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Sends 500 PATCHes a second for `seconds`, each on its own task so that a
/// slow answer does not hold back the schedule; returns how many were
/// accepted and their answer times (microseconds).
async fn push(
    server: &Server,
    http: &reqwest::Client,
    shared: &Arc<Shared>,
    seconds: u64,
) -> Result<(u64, Histogram<u64>)> {
    let total = (seconds * PUSHES_PER_SECOND) as usize;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / PUSHES_PER_SECOND));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = Vec::with_capacity(total);
    for n in 0..total {
        ticks.tick().await;
        let (http, shared) = (http.clone(), shared.clone());
        let l = n % LOCATIONS;
        // Each EVSE alternates, so every push is a change.
        let status = if (n / LOCATIONS) % 2 == 0 {
            "CHARGING"
        } else {
            "AVAILABLE"
        };
        let url = format!(
            "http://{}/ocpi/2.1.1/locations/NL/GFX/{}/E1",
            server.addr,
            location_id(l)
        );
        let auth = server.auth();
        sends.push(tokio::spawn(async move {
            let body = json!({"status": status, "last_updated": stamp(n)}).to_string();
            let sent = shared.now_us();
            shared.sent_us[n].store(sent, Ordering::Relaxed);
            let answer = http
                .patch(url)
                .header("Authorization", auth)
                .body(body)
                .send()
                .await;
            let ok = matches!(answer, Ok(a) if a.status().is_success());
            (ok, shared.now_us().saturating_sub(sent).max(1))
        }));
    }
    let mut accepted = 0;
    let mut answers = Histogram::new_with_bounds(1, 120_000_000, 3)?;
    for send in sends {
        if let Ok((ok, took)) = send.await {
            accepted += u64::from(ok);
            let _ = answers.record(took);
        }
    }
    if accepted != total as u64 {
        bail!("{} of {total} pushes were refused", total as u64 - accepted);
    }
    Ok((accepted, answers))
}
