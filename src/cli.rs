//! The command line: serve (the default), migrate, schema, token, apikey,
//! replay, reconcile, config check, backup, emulate.
//!
//! `emulate` also reads CHARGEGRAPH_EMULATOR_TOKEN and
//! CHARGEGRAPH_EMULATOR_PULL_TOKEN (its `--token` and `--pull-token`).

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tracing::info;

use crate::app::{self, AppState};
use crate::config::Config;
use crate::domain::{time, Party};
use crate::emulator::{self, Emulator, EmulatorConfig, Faults, OcpiVersion, Target, Until};
use crate::events::Events;
use crate::ocpi::auth::{hash_token, Strictness};
use crate::ocpi::replay::{self, Summary};
use crate::store::inbox::InboxFilter;
use crate::store::{self, api_keys, tokens, Store};
use crate::{auth, demo, graphql, reconcile, shutdown, telemetry};

/// chargegraph: OCPI pushes in, one GraphQL API out.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// A TOML configuration file (also CHARGEGRAPH_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Create or migrate the database, then exit.
    Migrate,
    /// Print the GraphQL schema (SDL, sorted).
    Schema,
    /// Manage push tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage GraphQL API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Copy a SQLite database to PATH, consistently, while it is being served.
    Backup {
        /// Where to write the copy (must not exist yet).
        path: PathBuf,
    },
    /// Re-apply inbox rows through the normal ingest path (after a fix).
    Replay(ReplayArgs),
    /// Act as a CPO: push a simulated fleet to a receiver, serve its sender interface.
    Emulate(Box<EmulateArgs>),
    /// Pull from the configured CPOs now and print each run's report.
    Reconcile(ReconcileArgs),
}

/// Which pulls `reconcile` makes.
#[derive(Debug, Args)]
struct ReconcileArgs {
    /// Only this CPO (its `name` in a [[reconcile]] entry).
    #[arg(long)]
    cpo: Option<String>,
    /// Only this module; repeat for more.
    #[arg(long = "module", value_parser = ["locations", "sessions", "cdrs", "tariffs", "notifications"])]
    modules: Vec<String>,
    /// date_from (RFC 3339); default: where the last scheduled pull ended.
    #[arg(long, value_parser = parse_instant)]
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// date_to (RFC 3339); default: now.
    #[arg(long, value_parser = parse_instant)]
    to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted, and check it.
    Check,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create an API key and print it once; only its SHA-256 is stored.
    Add {
        /// A party the key may read, as CC/PTY; repeat for more.
        #[arg(long = "party", value_parser = parse_party, required_unless_present = "all_parties")]
        parties: Vec<Party>,
        /// Read every party instead.
        #[arg(long, conflicts_with = "parties")]
        all_parties: bool,
        /// Also read operator data (inbox, reconciliation).
        #[arg(long)]
        operator: bool,
        /// A label to recognise the key by.
        #[arg(long)]
        label: Option<String>,
        /// When it stops working: an instant (2027-01-01T00:00:00Z) or a span from now (90d, 12h).
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<DateTime<Utc>>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id, from `apikey list`.
        id: i64,
    },
    /// Issue a new secret for a key; the old one keeps working for a grace period.
    Rotate {
        /// The key's id, from `apikey list`.
        id: i64,
        /// How long the old secret keeps working (e.g. 24h, 30m, 0); token_rotation_grace_secs by default.
        #[arg(long, value_parser = parse_span)]
        grace: Option<chrono::Duration>,
    },
}

#[derive(Debug, Default, Args)]
struct ServeArgs {
    /// Also replay a bundled GreenFlux day, then push an emulated live fleet (NL/EMU).
    #[arg(long)]
    demo: bool,
}

/// The emulated CPO: where it pushes, what it serves, how its world runs.
#[derive(Debug, Args)]
struct EmulateArgs {
    /// The receiver: its root URL (`/ocpi/{version}` is added) or a version base URL.
    #[arg(long)]
    target: String,
    /// The push token, sent as `Authorization: Token <token>`.
    #[arg(long, env = "CHARGEGRAPH_EMULATOR_TOKEN", hide_env_values = true)]
    token: String,
    /// Also serve the sender interface (OCPI GETs, GreenFlux's pull API) on this address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The token the sender interface accepts; a random one, printed once, when not given.
    #[arg(long, env = "CHARGEGRAPH_EMULATOR_PULL_TOKEN", hide_env_values = true)]
    pull_token: Option<String>,
    /// Seed of every random choice: the same seed makes the same world.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The CPO's party, as CC/PTY.
    #[arg(long, default_value = "NL/GFX", value_parser = parse_party)]
    party: Party,
    /// How many locations.
    #[arg(long, default_value_t = 10)]
    locations: usize,
    /// Share of locations with DC fast chargers (0 to 1).
    #[arg(long, default_value_t = 0.25)]
    dc_share: f64,
    /// The shapes pushed: GreenFlux's 2.1.1 or OCPI 2.2.1.
    #[arg(long = "ocpi", default_value = "2.1.1", value_parser = parse_version)]
    version: OcpiVersion,
    /// Simulated seconds per real second (60: a minute a second); 0 as fast as pushes are answered.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Where the simulated clock starts (RFC 3339); now when not given.
    #[arg(long, value_parser = parse_instant)]
    start: Option<DateTime<Utc>>,
    /// Simulated time to run (e.g. 4h, 2d); forever when not given.
    #[arg(long, value_parser = parse_span)]
    duration: Option<chrono::Duration>,
    /// Share of pushes the network drops (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    drop: f64,
    /// Share of pushes held back and sent after one to three later ones (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Share of pushes sent twice (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    duplicate: f64,
    /// Sessions per EVSE per simulated day, on average.
    #[arg(long, default_value_t = 6.0)]
    sessions_per_day: f64,
    /// Faults (OUTOFORDER, INOPERATIVE) per EVSE per simulated day, on average.
    #[arg(long, default_value_t = 0.5)]
    faults_per_day: f64,
    /// Seconds between a session's meter PATCHes (divides 900).
    #[arg(long, default_value_t = 300)]
    meter_interval: u64,
    /// Seconds from a session's end to its CDR.
    #[arg(long, default_value_t = 900)]
    cdr_delay: u64,
    /// The sender interface's largest page (X-Limit).
    #[arg(long, default_value_t = 100)]
    page_limit: usize,
    /// Simulated history to keep (e.g. 3d): older completed sessions, CDRs
    /// and notifications are forgotten; everything when not given.
    #[arg(long, value_parser = parse_span)]
    retention: Option<chrono::Duration>,
}

impl EmulateArgs {
    fn config(&self, pull_token: String) -> EmulatorConfig {
        EmulatorConfig {
            seed: self.seed,
            party: self.party.clone(),
            locations: self.locations,
            dc_share: self.dc_share,
            start: self.start.unwrap_or_else(Utc::now),
            speed: self.speed,
            version: self.version,
            faults: Faults {
                drop: self.drop,
                reorder: self.reorder,
                duplicate: self.duplicate,
            },
            sessions_per_evse_per_day: self.sessions_per_day,
            faults_per_evse_per_day: self.faults_per_day,
            meter_interval_secs: self.meter_interval,
            cdr_delay_secs: self.cdr_delay,
            page_limit: self.page_limit,
            pull_token,
            retention: self.retention.and_then(|span| span.to_std().ok()),
        }
    }
}

fn parse_version(s: &str) -> Result<OcpiVersion, String> {
    OcpiVersion::parse(s).ok_or_else(|| format!("unsupported OCPI version {s:?}: 2.1.1 or 2.2.1"))
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once; only its SHA-256 is stored.
    Add {
        /// A party the token may write, as CC/PTY; repeat for more (the first is the default).
        #[arg(long = "party", required = true, value_parser = parse_party)]
        parties: Vec<Party>,
        /// A label to recognise the token by.
        #[arg(long)]
        label: Option<String>,
        /// OCPI 2.2.1 to the letter under either base: refuse a PATCH without
        /// last_updated (by default only under /ocpi/2.2.1/).
        #[arg(long, conflicts_with = "lenient")]
        strict: bool,
        /// Apply a PATCH without last_updated in arrival order under either
        /// base (by default only under /ocpi/2.1.1/).
        #[arg(long)]
        lenient: bool,
        /// When it stops working: an instant (2027-01-01T00:00:00Z) or a span from now (90d, 12h).
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<DateTime<Utc>>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke {
        /// The token's id, from `token list`.
        id: i64,
    },
    /// Issue a new secret for a token; the old one keeps working for a grace period.
    Rotate {
        /// The token's id, from `token list`.
        id: i64,
        /// How long the old secret keeps working (e.g. 24h, 30m, 0); token_rotation_grace_secs by default.
        #[arg(long, value_parser = parse_span)]
        grace: Option<chrono::Duration>,
    },
}

/// Which inbox rows `replay` re-applies; every given option must match.
#[derive(Debug, Args)]
struct ReplayArgs {
    /// Rows with this outcome; repeat for more (default: rejected, unless --id names rows).
    #[arg(long = "outcome")]
    outcomes: Vec<String>,
    /// Rows received at or after this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant, required_unless_present = "ids")]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Rows received before this instant (RFC 3339).
    #[arg(long, value_parser = parse_instant)]
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// Rows of this OCPI module.
    #[arg(long, value_parser = ["locations", "sessions", "cdrs", "tariffs", "notifications"])]
    module: Option<String>,
    /// Rows of this party, as CC/PTY.
    #[arg(long, value_parser = parse_party)]
    party: Option<Party>,
    /// Only these inbox rows (`--id 4 7` or `--id 4 --id 7`).
    #[arg(long = "id", num_args = 1.., value_name = "N")]
    ids: Vec<i64>,
    /// Print what would be replayed; write nothing.
    #[arg(long)]
    dry_run: bool,
}

impl ReplayArgs {
    fn filter(&self) -> InboxFilter {
        let outcomes = match (self.outcomes.is_empty(), self.ids.is_empty()) {
            (true, true) => vec!["rejected".to_owned()],
            _ => self.outcomes.clone(),
        };
        InboxFilter {
            outcomes,
            module: self.module.clone(),
            country_code: self.party.as_ref().map(|p| p.country_code.clone()),
            party_id: self.party.as_ref().map(|p| p.party_id.clone()),
            received_from: self.since,
            received_before: self.until,
            ids: self.ids.clone(),
            ..InboxFilter::default()
        }
    }
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    time::parse(s)
        .map(|p| p.at.as_datetime())
        .map_err(|e| e.to_string())
}

fn parse_party(s: &str) -> Result<Party, String> {
    Party::parse(s).map_err(|e| e.to_string())
}

/// A span such as `90d`, `12h`, `30m`, `45s` or `0`.
fn parse_span(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("invalid span {s:?}: expected a number and d, h, m or s, e.g. 24h"))?;
    let span = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        "s" | "" => chrono::Duration::try_seconds(n),
        _ => None,
    };
    span.ok_or_else(|| format!("invalid span {s:?}: expected a number and d, h, m or s, e.g. 24h"))
}

/// An instant (any OCPI timestamp form) or a span from now.
fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(span) = parse_span(s) {
        return Ok(Utc::now() + span);
    }
    crate::domain::time::parse(s)
        .map(|parsed| parsed.at.as_datetime())
        .map_err(|_| {
            format!("invalid expiry {s:?}: expected 2027-01-01T00:00:00Z or a span such as 90d")
        })
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref()).context("cannot read the configuration")?;
    telemetry::init(&config.log_format);
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(config, args).await,
        Command::Migrate => {
            connect(&config).await?;
            info!(database = %redact(&config.database_url), "database migrated");
            Ok(())
        }
        Command::Schema => {
            // The schema does not depend on data: build it over a throwaway database.
            let config = Config {
                database_url: "sqlite::memory:".into(),
                ..config
            };
            let state = AppState::start(config).await?;
            let schema = app::schema(&state);
            print!("{}", graphql::sdl(&schema));
            Ok(())
        }
        Command::Token(command) => token(config, command).await,
        Command::Apikey(command) => apikey(config, command).await,
        Command::Config(ConfigCommand::Check) => config_check(&config),
        Command::Backup { path } => backup(&config, &path).await,
        Command::Replay(args) => replay_rows(config, args).await,
        Command::Emulate(args) => emulate(*args).await,
        Command::Reconcile(args) => reconcile(config, args).await,
    }
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.store_options())
        .await
        .with_context(|| format!("cannot open {}", redact(&config.database_url)))
}

async fn serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    config.check_exposure().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    raise_open_file_limit();
    let state = AppState::start(config.clone()).await?;
    info!(%addr, database = %redact(&config.database_url), "listening");
    info!("GraphiQL at http://{addr}/graphiql");
    info!("OCPI receiver at http://{addr}/ocpi/2.1.1/ and http://{addr}/ocpi/2.2.1/");
    if args.demo {
        start_demo(&state, addr).await?;
    }
    app::serve(listener, state, shutdown::signal()).await?;
    info!("stopped");
    Ok(())
}

/// Replays the bundled day, then lets the demo emulator push; serves the
/// emulator's sender interface on another port of the same address.
async fn start_demo(state: &AppState, addr: SocketAddr) -> anyhow::Result<()> {
    let emulator = demo::emulator()?;
    let sender = TcpListener::bind((addr.ip(), 0))
        .await
        .context("cannot listen for the emulator's sender interface")?;
    let sender_addr = sender.local_addr()?;
    info!(
        url = %format!("http://{sender_addr}/ocpi/versions"),
        party = demo::EMULATOR_PARTY,
        "emulated CPO sender interface",
    );
    eprintln!("the emulated CPO's pull token, shown only once:");
    println!("{}", emulator.config().pull_token);
    tokio::spawn(axum::serve(sender, emulator.sender_router()).into_future());
    let (store, shutdown) = (state.store.clone(), state.shutdown.clone());
    tokio::spawn(async move {
        if let Err(err) = demo::replay(&store, addr).await {
            tracing::error!(error = %err, "demo replay failed");
        }
        if let Err(err) = demo::emulate(&store, addr, emulator, shutdown).await {
            tracing::error!(error = %err, "demo emulator failed");
        }
    });
    Ok(())
}

/// `emulate`: pushes until `--duration` of simulated time has passed (or
/// forever); with `--listen`, serves the sender interface until stopped.
async fn emulate(args: EmulateArgs) -> anyhow::Result<()> {
    let generated = args.pull_token.is_none();
    let pull_token = args.pull_token.clone().unwrap_or_else(demo::new_token);
    let emulator = Emulator::new(args.config(pull_token))?;
    if let Some(listen) = args.listen {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        info!(url = %format!("http://{addr}/ocpi/versions"), "sender interface listening");
        if generated {
            eprintln!("the sender interface's pull token, shown only once:");
            println!("{}", emulator.config().pull_token);
        }
        tokio::spawn(axum::serve(listener, emulator.sender_router()).into_future());
    }
    let until = match args.duration {
        Some(span) => Until::For(span.to_std().context("--duration must be positive")?),
        None => Until::Forever,
    };
    let target = Target::new(args.target.clone(), args.token.clone());
    let report = tokio::select! {
        report = emulator.run(&target, until) => report?,
        () = shutdown::signal() => {
            info!("stopped");
            return Ok(());
        }
    };
    eprintln!("{}", run_summary(&report));
    if args.listen.is_some() {
        info!("run finished; the sender interface keeps serving until stopped");
        shutdown::signal().await;
    }
    Ok(())
}

fn run_summary(report: &emulator::RunReport) -> String {
    let p = &report.pushes;
    format!(
        "{} events up to {}: {} pushes meant, {} accepted, {} refused, {} failed, \
         {} dropped, {} reordered, {} duplicated",
        report.events,
        report.until.map(stamp).unwrap_or_default(),
        p.intended,
        p.accepted,
        p.refused,
        p.failed,
        p.dropped,
        p.reordered,
        p.duplicated,
    )
}

/// Every WebSocket subscriber holds a socket: allow as many open files as
/// the hard limit does.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the open file limit"),
    }
}

async fn token(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    match command {
        TokenCommand::Add {
            parties,
            label,
            strict,
            lenient,
            expires,
        } => {
            let secret = demo::new_token();
            let strictness = match (strict, lenient) {
                (true, _) => Strictness::Strict,
                (_, true) => Strictness::Lenient,
                _ => Strictness::ByVersion,
            };
            let new = tokens::NewToken {
                label,
                parties: parties.clone(),
                strictness,
                expires_at: expires,
            };
            let id = tokens::create(&store, &hash_token(&secret), &new).await?;
            eprintln!(
                "token {id} created for {}{}; it is shown only once:",
                names(&parties),
                expires
                    .map(|at| format!(", expires {}", stamp(at)))
                    .unwrap_or_default()
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            println!("id\tlabel\tparties\tstrictness\tcreated\texpires\trevoked\tlast_used");
            for t in tokens::list(&store).await? {
                let expires = match (t.expires_at, t.replaced_by) {
                    (Some(at), Some(by)) => format!("{} (rotated to {by})", stamp(at)),
                    (at, _) => optional(at),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{expires}\t{}\t{}",
                    t.id,
                    t.label.as_deref().unwrap_or("-"),
                    names(&t.parties),
                    t.strictness.as_str(),
                    stamp(t.created_at),
                    optional(t.revoked_at),
                    optional(t.last_used_at),
                );
            }
        }
        TokenCommand::Revoke { id } => {
            if !tokens::revoke(&store, id).await? {
                anyhow::bail!("no push token {id}");
            }
            eprintln!("token {id} revoked; its pushes are refused from now on");
        }
        TokenCommand::Rotate { id, grace } => {
            let grace = grace.unwrap_or_else(|| {
                chrono::Duration::seconds(config.token_rotation_grace_secs as i64)
            });
            let secret = demo::new_token();
            let until = Utc::now() + grace;
            let Some(new_id) = tokens::rotate(&store, id, &hash_token(&secret), until).await?
            else {
                anyhow::bail!("no active push token {id} (unknown, revoked or expired)");
            };
            let old = tokens::get(&store, id).await?.and_then(|t| t.expires_at);
            eprintln!(
                "token {new_id} replaces token {id}, which keeps working until {} (grace {}); \
                 the new token is shown only once:",
                old.map(stamp).unwrap_or_default(),
                span_text(grace)
            );
            println!("{secret}");
        }
    }
    Ok(())
}

async fn apikey(config: Config, command: ApiKeyCommand) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    match command {
        ApiKeyCommand::Add {
            parties,
            all_parties,
            operator,
            label,
            expires,
        } => {
            let secret = auth::new_api_key();
            let scope = if all_parties { None } else { Some(parties) };
            let new = api_keys::NewApiKey {
                label,
                parties: scope.clone(),
                operator,
                expires_at: expires,
            };
            let id = api_keys::create(&store, &hash_token(&secret), &new).await?;
            let reads = scope.map_or("every party".to_owned(), |p| names(&p));
            let role = if operator { ", operator" } else { "" };
            eprintln!("API key {id} created, reading {reads}{role}; it is shown only once:");
            println!("{secret}");
        }
        ApiKeyCommand::List => {
            println!("id\tlabel\tparties\toperator\tcreated\texpires\trevoked\tlast_used");
            for k in api_keys::list(&store).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.label.as_deref().unwrap_or("-"),
                    k.parties.as_deref().map_or("*".to_owned(), names),
                    k.operator,
                    stamp(k.created_at),
                    optional(k.expires_at),
                    optional(k.revoked_at),
                    optional(k.last_used_at),
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !api_keys::revoke(&store, id).await? {
                anyhow::bail!("no API key {id}");
            }
            eprintln!("API key {id} revoked");
        }
        ApiKeyCommand::Rotate { id, grace } => {
            let grace = grace.unwrap_or_else(|| {
                chrono::Duration::seconds(config.token_rotation_grace_secs as i64)
            });
            let secret = auth::new_api_key();
            let until = Utc::now() + grace;
            let rotated = api_keys::rotate(&store, id, &hash_token(&secret), until).await?;
            let Some((new_id, old_until)) = rotated else {
                anyhow::bail!("no active API key {id} (unknown, revoked or expired)");
            };
            eprintln!(
                "API key {new_id} replaces API key {id}, which keeps working until {} \
                 (grace {}); the new key is shown only once:",
                stamp(old_until),
                span_text(grace)
            );
            println!("{secret}");
        }
    }
    Ok(())
}

/// Prints the effective configuration with secrets redacted, then what is
/// wrong with it; fails when something is.
fn config_check(config: &Config) -> anyhow::Result<()> {
    print!("{}", config.redacted_toml());
    let mut problems = Vec::new();
    if let Err(exposure) = config.check_exposure() {
        problems.push(exposure);
    }
    if let Err(err) = auth::JwtVerifier::from_config(config) {
        problems.push(err.to_string());
    }
    problems.extend(config.check_reconcile());
    if config.graphql_auth
        && config.jwt_hs256_secret.is_none()
        && config.jwt_rs256_public_key.is_none()
        && config.jwt_jwks_file.is_none()
    {
        eprintln!("note: graphql_auth is on with no JWT key: only API keys are accepted");
    }
    if problems.is_empty() {
        eprintln!("configuration is usable");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("problem: {problem}");
    }
    anyhow::bail!("{} problem(s) in the configuration", problems.len())
}

async fn backup(config: &Config, path: &std::path::Path) -> anyhow::Result<()> {
    let store = connect(config).await?;
    store::backup::copy_to(&store, path).await?;
    eprintln!(
        "backed up {} to {}",
        redact(&config.database_url),
        path.display()
    );
    Ok(())
}

fn names(parties: &[Party]) -> String {
    let names: Vec<String> = parties.iter().map(Party::to_string).collect();
    names.join(",")
}

fn stamp(at: DateTime<Utc>) -> String {
    crate::domain::Timestamp::from_datetime(at).to_string()
}

fn optional(at: Option<DateTime<Utc>>) -> String {
    at.map(stamp).unwrap_or_else(|| "-".into())
}

fn span_text(span: chrono::Duration) -> String {
    let secs = span.num_seconds();
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

async fn replay_rows(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    // Replayed changes emit events like any push; a running server's reader
    // picks the committed outbox rows up (woken or by its poll). This
    // process's own pruner must keep the configured retention.
    let events = Events::start_with(store.clone(), config.event_settings());
    events.ready().await;
    let lines = replay::replay(&store, &events, &args.filter(), args.dry_run)
        .await
        .context("cannot read or write the inbox")?;
    for line in &lines {
        println!("{line}");
    }
    println!("{}", Summary::of(&lines));
    Ok(())
}

async fn reconcile(config: Config, args: ReconcileArgs) -> anyhow::Result<()> {
    let cpos: Vec<&reconcile::CpoConfig> = config
        .reconcile
        .iter()
        .filter(|c| args.cpo.as_ref().is_none_or(|name| &c.name == name))
        .collect();
    if cpos.is_empty() {
        match &args.cpo {
            Some(name) => anyhow::bail!("no [[reconcile]] entry is named {name:?}"),
            None => anyhow::bail!("no [[reconcile]] entry is configured"),
        }
    }
    let store = connect(&config).await?;
    let events = Events::start(store.clone());
    events.ready().await;
    let options = reconcile::RunOptions {
        modules: args.modules.clone(),
        from: args.from,
        to: args.to,
        ..reconcile::RunOptions::default()
    };
    let mut failed = 0;
    for cpo in cpos {
        let report = reconcile::run_once(&store, &events, cpo, &options)
            .await
            .with_context(|| format!("cannot reconcile {}", cpo.name))?;
        print!("{report}");
        failed += usize::from(!report.is_clean());
    }
    if failed > 0 {
        anyhow::bail!("{failed} run(s) ended with errors");
    }
    Ok(())
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    crate::config::redact_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spans_and_expiries() {
        assert_eq!(parse_span("24h").unwrap(), chrono::Duration::hours(24));
        assert_eq!(parse_span("90d").unwrap(), chrono::Duration::days(90));
        assert_eq!(parse_span("0").unwrap(), chrono::Duration::zero());
        assert!(parse_span("soon").is_err());
        let at = parse_expiry("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(stamp(at), "2027-01-01T00:00:00Z");
        assert_eq!(span_text(chrono::Duration::hours(36)), "36h");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://cg:secret@localhost/cg"),
            "postgres://cg:***@localhost/cg"
        );
        assert_eq!(redact("sqlite://chargegraph.db"), "sqlite://chargegraph.db");
    }
}
