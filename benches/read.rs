//! Read rate of the GraphQL API: concurrent clients over loopback HTTP to the
//! real server, every response body checked, on SQLite and, when
//! CHARGEGRAPH_TEST_DATABASE_URL names a PostgreSQL server, on PostgreSQL.
//!
//! Seeded straight through the store in large transactions (not through
//! HTTP): 1,000 locations x 4 EVSEs x 2 connectors and 100,000 CDRs over
//! three months. Measured: the status board (first 100 locations with their
//! EVSEs, connectors and status), one location by its OCPI ids, and
//! `billing` by month and location over every CDR.
//!
//! Run: `CARGO_TARGET_DIR=/work/bench-target cargo bench --bench read`.
//! Reads BENCH_SECONDS (measured seconds per query, default 10),
//! BENCH_WARMUP_SECONDS (default 2), BENCH_CLIENTS (default 16; billing
//! uses BENCH_BILLING_CLIENTS, default 1), BENCH_BACKENDS (`sqlite,postgres`),
//! BENCH_SCENARIOS (`board,location,billing`), BENCH_CDRS (default 100,000;
//! fewer seed faster when billing is not measured) and the server's usual
//! CHARGEGRAPH_* settings.

mod cpu;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use axum::http::{Method, Request};
use bytes::Bytes;
use chargegraph::app::{self, AppState};
use chargegraph::config::Config;
use chargegraph::store::locations::{self, ConnectorRow, EvseRow, LocationRow};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sea_orm::{ConnectionTrait, EntityTrait, Set, TransactionTrait};
use serde_json::{json, Value};
use tokio::net::TcpStream;

const LOCATIONS: usize = 1_000;
const EVSES_PER_LOCATION: usize = 4;
const CONNECTORS_PER_EVSE: usize = 2;
const CDRS: usize = 100_000;
/// CDR rows per INSERT statement (30 columns: within SQLite's 32,766 variables).
const CDRS_PER_INSERT: usize = 500;
/// The CDRs start over these days from 2024-01-01, so 3 months of buckets.
const CDR_DAYS: i64 = 91;

const BOARD: &str = "query Board { locations(first: 100) { nodes { id ocpiId name \
    evses { uid status statusSince connectors { connectorId standard powerType power } } } } }";

const ONE_LOCATION: &str = "query Location($cc: String!, $party: String!, $id: String!) { \
    location(countryCode: $cc, partyId: $party, ocpiId: $id) { ocpiId name \
    evses { uid evseId status statusSince } } }";

const BILLING: &str = "query Billing { billing(from: \"2024-01-01T00:00:00Z\", \
    to: \"2024-04-01T00:00:00Z\", timeZone: \"Europe/Amsterdam\", groupBy: [MONTH, LOCATION]) { \
    buckets { period { label } locationId currency cdrCount totalEnergy totalCost totalCostInclVat } } }";

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
    clients: usize,
    billing_clients: usize,
    backends: Vec<String>,
    scenarios: Vec<Scenario>,
    cdrs: usize,
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
        let count = |name: &str, default: usize| -> anyhow::Result<usize> {
            let value = std::env::var(name).unwrap_or_else(|_| default.to_string());
            value.parse().context(name.to_owned())
        };
        let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        let scenarios = std::env::var("BENCH_SCENARIOS")
            .unwrap_or_else(|_| "board,location,billing".into())
            .split(',')
            .map(|s| Scenario::from_name(s.trim()))
            .collect::<anyhow::Result<_>>()?;
        Ok(Settings {
            measure: secs("BENCH_SECONDS", 10)?,
            warmup: secs("BENCH_WARMUP_SECONDS", 2)?,
            clients: count("BENCH_CLIENTS", 16)?,
            billing_clients: count("BENCH_BILLING_CLIENTS", 1)?,
            backends: backends.split(',').map(|s| s.trim().to_owned()).collect(),
            scenarios,
            cdrs: count("BENCH_CDRS", CDRS)?,
            postgres_url: std::env::var("CHARGEGRAPH_TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty()),
        })
    }
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    println!(
        "read benchmark: {LOCATIONS} locations x {EVSES_PER_LOCATION} EVSEs x {CONNECTORS_PER_EVSE} connectors, \
         {} CDRs over {CDR_DAYS} days; {:?} measured after {:?} warm-up",
        settings.cdrs, settings.measure, settings.warmup
    );
    println!("board ({} clients):\n  {BOARD}", settings.clients);
    println!(
        "one location ({} clients, a random location each):\n  {ONE_LOCATION}",
        settings.clients
    );
    println!(
        "billing ({} clients):\n  {BILLING}",
        settings.billing_clients
    );
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
        let db = BenchDb::create(url.as_deref()).await?;
        let result = run_backend(&settings, backend, &db).await;
        db.drop_database().await;
        result?;
    }
    Ok(())
}

async fn run_backend(settings: &Settings, backend: &str, db: &BenchDb) -> anyhow::Result<()> {
    let mut config = Config::load(None).map_err(|e| anyhow::anyhow!("{e}"))?;
    config.database_url = db.url.clone();
    config.listen = "127.0.0.1:0".parse()?;
    let state = AppState::start(config).await?;
    let began = Instant::now();
    seed(&state, settings.cdrs).await?;
    println!(
        "{backend}: seeded in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = state.clone();
    let server = tokio::spawn(async move {
        let _ = app::serve(listener, serving, std::future::pending()).await;
    });
    for &scenario in &settings.scenarios {
        let clients = match scenario {
            Scenario::Billing => settings.billing_clients,
            _ => settings.clients,
        };
        let report = measure(addr, scenario, clients, settings).await?;
        report.print(backend, scenario.name());
    }
    server.abort();
    Ok(())
}

// ---------------------------------------------------------------------------
// Seeding

fn location_id(l: usize) -> String {
    format!("LOC-{l:05}")
}

/// Locations, EVSEs and connectors in one transaction through the store.
async fn seed(state: &AppState, cdrs: usize) -> anyhow::Result<()> {
    let db = state.store.db();
    let txn = db.begin().await?;
    let now = Utc::now();
    let mut location_pks = Vec::with_capacity(LOCATIONS);
    for l in 0..LOCATIONS {
        let row = LocationRow {
            country_code: "NL".into(),
            party_id: "GFX".into(),
            ocpi_id: location_id(l),
            name: Some(format!("Station {l}")),
            address: Some("Stationsplein 1".into()),
            city: Some("Amsterdam".into()),
            postal_code: Some("1012 AB".into()),
            country: Some("NLD".into()),
            latitude: Some("52.379189".into()),
            longitude: Some("4.899431".into()),
            latitude_deg: Some(52.379189),
            longitude_deg: Some(4.899431),
            publish: Some(true),
            time_zone: Some("Europe/Amsterdam".into()),
            last_updated: Some(now),
            own_last_updated: Some(now),
            received_at: now,
            raw: "{}".into(),
            ..LocationRow::default()
        };
        let pk = locations::save(&txn, None, row).await?.id;
        for e in 0..EVSES_PER_LOCATION {
            seed_evse(&txn, pk, l, e, now).await?;
        }
        location_pks.push(pk);
    }
    txn.commit().await?;
    seed_cdrs(state, &location_pks, cdrs).await
}

async fn seed_evse(
    txn: &impl ConnectionTrait,
    location_pk: i64,
    l: usize,
    e: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let statuses = ["AVAILABLE", "CHARGING", "OUTOFORDER", "AVAILABLE"];
    let evse = EvseRow {
        uid: format!("E{l:05}{e}"),
        evse_id: Some(format!("NL*GFX*E{l:05}{e}")),
        status: Some(statuses[(l + e) % statuses.len()].into()),
        status_since: Some(now),
        last_updated: Some(now),
        own_last_updated: Some(now),
        received_at: now,
        raw: "{}".into(),
    };
    let evse_pk = locations::save_evse(txn, location_pk, None, evse).await?.id;
    let kinds = [("IEC_62196_T2", "AC_3_PHASE"), ("CHADEMO", "DC")];
    for (c, (standard, power_type)) in kinds.iter().take(CONNECTORS_PER_EVSE).enumerate() {
        let connector = ConnectorRow {
            connector_id: (c + 1).to_string(),
            standard: Some((*standard).into()),
            format: Some("CABLE".into()),
            power_type: Some((*power_type).into()),
            max_voltage: Some(400),
            max_amperage: Some(32),
            max_electric_power: Some(22_000),
            tariff_ids: vec!["T1".into()],
            last_updated: Some(now),
            received_at: now,
            raw: "{}".into(),
        };
        locations::save_connector(txn, evse_pk, None, connector).await?;
    }
    Ok(())
}

/// `cdrs` CDRs spread over the locations and `CDR_DAYS` days, in multi-row
/// INSERTs in one transaction.
async fn seed_cdrs(state: &AppState, location_pks: &[i64], cdrs: usize) -> anyhow::Result<()> {
    let txn = state.store.db().begin().await?;
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .context("start")?;
    let rows = (0..cdrs).map(|n| {
        let l = n % LOCATIONS;
        // Spread over the days and the hours, the same for every run.
        let at = start + Span::seconds((n as i64 * 7_919) % (CDR_DAYS * 86_400));
        cdr_row(n, l, location_pks[l], at)
    });
    let rows: Vec<entity::cdr::ActiveModel> = rows.collect();
    for chunk in rows.chunks(CDRS_PER_INSERT) {
        entity::cdr::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

fn cdr_row(n: usize, l: usize, location_pk: i64, at: DateTime<Utc>) -> entity::cdr::ActiveModel {
    let id = format!("CDR-{n:07}");
    entity::cdr::ActiveModel {
        country_code: Set("NL".into()),
        party_id: Set("GFX".into()),
        ocpi_id: Set(id.clone()),
        country_code_key: Set("NL".into()),
        party_id_key: Set("GFX".into()),
        ocpi_id_key: Set(id),
        session_id: Set(Some(format!("S-{n:07}"))),
        location_id: Set(Some(location_id(l))),
        evse_uid: Set(Some(format!("E{l:05}{}", n % EVSES_PER_LOCATION))),
        connector_id: Set(Some("1".into())),
        location_pk: Set(Some(location_pk)),
        start_date_time: Set(Some(at)),
        end_date_time: Set(Some(at + Span::minutes(90))),
        auth_id: Set(Some("NL-GFX-C12345678-X".into())),
        auth_method: Set(Some("WHITELIST".into())),
        token_uid: Set(Some("012345678".into())),
        currency: Set(Some("EUR".into())),
        total_cost_micro: Set(Some(3_920_000 + (n as i64 % 1_000))),
        total_cost_incl_vat_micro: Set(Some(4_743_200 + (n as i64 % 1_000))),
        total_energy_micro: Set(Some(11_200_000 + (n as i64 % 7) * 1_000)),
        total_time_micro: Set(Some(1_500_000)),
        total_parking_time_micro: Set(Some(250_000)),
        tariff_ids: Set(r#"["T1"]"#.into()),
        tariff_key: Set(r#"["T1"]"#.into()),
        credit: Set(false),
        credit_reference_id: Set(None),
        credit_of_pk: Set(None),
        last_updated: Set(Some(at)),
        received_at: Set(at),
        raw: Set("{}".into()),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// Measuring

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Board,
    OneLocation,
    Billing,
}

impl Scenario {
    fn from_name(name: &str) -> anyhow::Result<Scenario> {
        match name {
            "board" => Ok(Scenario::Board),
            "location" => Ok(Scenario::OneLocation),
            "billing" => Ok(Scenario::Billing),
            other => bail!("unknown scenario {other:?} in BENCH_SCENARIOS"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Board => "board",
            Scenario::OneLocation => "one location",
            Scenario::Billing => "billing",
        }
    }

    fn body(self, n: usize) -> String {
        let body = match self {
            Scenario::Board => json!({ "query": BOARD }),
            Scenario::OneLocation => json!({ "query": ONE_LOCATION, "variables": {
                "cc": "NL", "party": "GFX", "id": location_id(n * 7_919 % LOCATIONS) } }),
            Scenario::Billing => json!({ "query": BILLING }),
        };
        body.to_string()
    }

    /// Checks that a response is the whole, right answer (`cdrs`: how many were seeded).
    fn check(self, body: &[u8], n: usize, cdrs: usize) -> anyhow::Result<()> {
        let value: Value = serde_json::from_slice(body).context("response is not JSON")?;
        ensure!(value.get("errors").is_none(), "errors: {value}");
        let data = &value["data"];
        match self {
            Scenario::Board => {
                let nodes = data["locations"]["nodes"].as_array().context("no nodes")?;
                ensure!(nodes.len() == 100, "{} locations", nodes.len());
                for node in nodes {
                    let evses = node["evses"].as_array().context("no evses")?;
                    ensure!(evses.len() == EVSES_PER_LOCATION, "{} EVSEs", evses.len());
                    ensure!(
                        evses.iter().all(|e| e["status"].is_string()),
                        "an EVSE without status"
                    );
                    let connectors = evses[3]["connectors"].as_array().context("no connectors")?;
                    ensure!(
                        connectors.len() == CONNECTORS_PER_EVSE,
                        "{} connectors",
                        connectors.len()
                    );
                }
            }
            Scenario::OneLocation => {
                let want = location_id(n * 7_919 % LOCATIONS);
                ensure!(
                    data["location"]["ocpiId"] == want.as_str(),
                    "not {want}: {data}"
                );
                let evses = data["location"]["evses"].as_array().context("no evses")?;
                ensure!(evses.len() == EVSES_PER_LOCATION, "{} EVSEs", evses.len());
            }
            Scenario::Billing => {
                let buckets = data["billing"]["buckets"]
                    .as_array()
                    .context("no buckets")?;
                let counted: i64 = buckets.iter().filter_map(|b| b["cdrCount"].as_i64()).sum();
                ensure!(counted == cdrs as i64, "{counted} CDRs in the buckets");
                let want = (3 * LOCATIONS).min(cdrs);
                ensure!(buckets.len() >= want, "{} buckets", buckets.len());
            }
        }
        Ok(())
    }
}

/// What one client measured.
struct ClientResult {
    histogram: Histogram<u64>,
    errors: u64,
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds, from 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).unwrap())
}

async fn measure(
    addr: SocketAddr,
    scenario: Scenario,
    clients: usize,
    settings: &Settings,
) -> anyhow::Result<Report> {
    let warm_until = Instant::now() + settings.warmup;
    let end = warm_until + settings.measure;
    let cdrs = settings.cdrs;
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(warm_until.into()).await;
        let start = cpu::used();
        tokio::time::sleep_until(end.into()).await;
        (start, cpu::used())
    });
    // The clients run on their own thread and runtime, as a separate program would.
    let client = std::thread::spawn(move || -> anyhow::Result<Vec<ClientResult>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let tasks = (0..clients)
                .map(|c| tokio::spawn(http_client(addr, scenario, c, cdrs, (warm_until, end))));
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
    let mut histogram = new_histogram();
    let mut errors = 0;
    for result in &results {
        histogram.add(&result.histogram)?;
        errors += result.errors;
    }
    let (cpu_start, cpu_end) = cpu_window.await?;
    Ok(Report {
        cpu_ms: cpu::per_op(cpu_start, cpu_end, histogram.len()),
        rate: histogram.len() as f64 / settings.measure.as_secs_f64(),
        count: histogram.len(),
        errors,
        clients,
        histogram,
    })
}

async fn http_client(
    addr: SocketAddr,
    scenario: Scenario,
    client: usize,
    cdrs: usize,
    (warm_until, end): (Instant, Instant),
) -> anyhow::Result<ClientResult> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut result = ClientResult {
        histogram: new_histogram(),
        errors: 0,
    };
    let mut n = client;
    while Instant::now() < end {
        n += 1_000;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/graphql")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(scenario.body(n))))?;
        let began = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let done = Instant::now();
        let checked = if status.is_success() {
            scenario.check(&body, n, cdrs)
        } else {
            Err(anyhow::anyhow!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
            ))
        };
        if let Err(err) = checked {
            if result.errors == 0 {
                eprintln!("{}: {err:#}", scenario.name());
            }
            result.errors += 1;
        } else if began >= warm_until {
            let micros = done.duration_since(began).as_micros() as u64;
            let _ = result.histogram.record(micros.max(1));
        }
    }
    Ok(result)
}

/// Figures of one query on one backend.
struct Report {
    clients: usize,
    count: u64,
    errors: u64,
    rate: f64,
    /// CPU milliseconds of this process (server and clients) per request.
    cpu_ms: Option<f64>,
    histogram: Histogram<u64>,
}

impl Report {
    fn print(&self, backend: &str, name: &str) {
        let ms = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        let cpu = self
            .cpu_ms
            .map_or_else(|| "?".to_owned(), |c| format!("{c:.3}"));
        println!(
            "{backend:<8} {name:<13} {:>3} clients {:>7} requests {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  cpu/req {cpu} ms  errors {}",
            self.clients,
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
