//! The command line: serve (the default), migrate, schema, token, replay.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tracing::info;

use crate::app::{self, AppState};
use crate::config::Config;
use crate::domain::{time, Party};
use crate::events::Events;
use crate::ocpi::auth::hash_token;
use crate::ocpi::replay::{self, Summary};
use crate::store::inbox::InboxFilter;
use crate::store::{tokens, Store};
use crate::{demo, graphql, telemetry};

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
    /// Re-apply inbox rows through the normal ingest path (after a fix).
    Replay(ReplayArgs),
}

#[derive(Debug, Default, Args)]
struct ServeArgs {
    /// Also replay a bundled GreenFlux day through the receiver.
    #[arg(long)]
    demo: bool,
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
        /// OCPI 2.2.1 to the letter: refuse a PATCH without last_updated.
        #[arg(long)]
        strict: bool,
    },
    /// List tokens (never their secrets).
    List,
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
        Command::Replay(args) => replay_rows(config, args).await,
    }
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.store_options())
        .await
        .with_context(|| format!("cannot open {}", redact(&config.database_url)))
}

async fn serve(config: Config, args: ServeArgs) -> anyhow::Result<()> {
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
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(err) = demo::replay(&store, addr).await {
                tracing::error!(error = %err, "demo replay failed");
            }
        });
    }
    app::serve(listener, state, shutdown_signal()).await?;
    info!("stopped");
    Ok(())
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
        } => {
            let secret = demo::new_token();
            let id = tokens::insert(&store, &hash_token(&secret), label, &parties, strict).await?;
            let names: Vec<String> = parties.iter().map(Party::to_string).collect();
            eprintln!(
                "token {id} created for {}; it is shown only once:",
                names.join(", ")
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            for t in tokens::list(&store).await? {
                let names: Vec<String> = t.parties.iter().map(Party::to_string).collect();
                let state = if t.revoked { "revoked" } else { "active" };
                let label = t.label.unwrap_or_default();
                println!(
                    "{}\t{}\t{}\tstrict={}\t{label}",
                    t.id,
                    state,
                    names.join(","),
                    t.strict
                );
            }
        }
    }
    Ok(())
}

async fn replay_rows(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    let store = connect(&config).await?;
    // Replayed changes emit events like any push; a running server's reader
    // picks the committed outbox rows up (woken or by its poll).
    let events = Events::start(store.clone());
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

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://cg:secret@localhost/cg"),
            "postgres://cg:***@localhost/cg"
        );
        assert_eq!(redact("sqlite://chargegraph.db"), "sqlite://chargegraph.db");
    }
}
