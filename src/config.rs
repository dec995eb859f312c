//! One Config, read from an optional TOML file and `CHARGEGRAPH_*` variables.
//!
//! Reads: CHARGEGRAPH_CONFIG (the TOML file), CHARGEGRAPH_LISTEN,
//! CHARGEGRAPH_DATABASE_URL, CHARGEGRAPH_BODY_LIMIT, CHARGEGRAPH_PUBLIC_URL,
//! CHARGEGRAPH_LOG_FORMAT, CHARGEGRAPH_DB_MAX_CONNECTIONS,
//! CHARGEGRAPH_DB_CONNECT_TIMEOUT_MS, CHARGEGRAPH_DB_STATEMENT_TIMEOUT_MS,
//! CHARGEGRAPH_MAX_PAGE_SIZE, CHARGEGRAPH_OUTBOX_POLL_MS,
//! CHARGEGRAPH_OUTBOX_RETENTION_HOURS, CHARGEGRAPH_OUTBOX_PRUNE_INTERVAL_SECS,
//! CHARGEGRAPH_SUBSCRIPTION_BUFFER, CHARGEGRAPH_WS_INIT_TIMEOUT_MS,
//! CHARGEGRAPH_WS_PING_INTERVAL_MS, CHARGEGRAPH_WS_PING_TIMEOUT_MS,
//! CHARGEGRAPH_WS_MAX_MESSAGE_BYTES, CHARGEGRAPH_WS_MAX_SUBSCRIPTIONS.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::events;
use crate::graphql::WsSettings;
use crate::store::StoreOptions;

/// Effective settings of a chargegraph process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// Largest OCPI request body accepted, in bytes.
    pub body_limit: usize,
    /// Public base URL, used in the CDR `Location` header; the Host header when unset.
    pub public_url: Option<String>,
    /// `text` or `json` logs.
    pub log_format: String,
    /// Most database connections in the pool.
    pub db_max_connections: u32,
    /// Largest page a GraphQL connection returns.
    pub max_page_size: u64,
    /// How long to wait for a database connection, in milliseconds.
    pub db_connect_timeout_ms: u64,
    /// Longest a PostgreSQL statement may run, in milliseconds; 0 for no limit.
    pub db_statement_timeout_ms: u64,
    /// How often the outbox is read without a wake-up, in milliseconds.
    pub outbox_poll_ms: u64,
    /// How long outbox events are kept for subscription replay, in hours.
    pub outbox_retention_hours: u64,
    /// How often outbox rows past retention are pruned, in seconds.
    pub outbox_prune_interval_secs: u64,
    /// Events queued per subscription before a slow client's are merged.
    pub subscription_buffer: usize,
    /// How long a WebSocket client has to send connection_init, in milliseconds.
    pub ws_init_timeout_ms: u64,
    /// How often the server pings WebSocket clients, in milliseconds.
    pub ws_ping_interval_ms: u64,
    /// How long a ping may go unanswered before the client is dropped, in milliseconds.
    pub ws_ping_timeout_ms: u64,
    /// Largest WebSocket message a client may send, in bytes.
    pub ws_max_message_bytes: usize,
    /// Most subscriptions on one WebSocket connection.
    pub ws_max_subscriptions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://chargegraph.db".into(),
            body_limit: 8 * 1024 * 1024,
            public_url: None,
            log_format: "text".into(),
            db_max_connections: 8,
            max_page_size: 100,
            db_connect_timeout_ms: 10_000,
            db_statement_timeout_ms: 30_000,
            outbox_poll_ms: 3_000,
            outbox_retention_hours: 7 * 24,
            outbox_prune_interval_secs: 60,
            subscription_buffer: 1_024,
            ws_init_timeout_ms: 10_000,
            ws_ping_interval_ms: 15_000,
            ws_ping_timeout_ms: 10_000,
            ws_max_message_bytes: 64 * 1024,
            ws_max_subscriptions: 100,
        }
    }
}

impl Config {
    /// The database settings of this configuration.
    pub fn store_options(&self) -> StoreOptions {
        let mut options = StoreOptions::new(&self.database_url);
        options.max_connections = self.db_max_connections;
        options.connect_timeout = Duration::from_millis(self.db_connect_timeout_ms);
        options.statement_timeout = match self.db_statement_timeout_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        options
    }

    /// How the outbox reader, the fan-out and retention run.
    pub fn event_settings(&self) -> events::Settings {
        events::Settings {
            poll_interval: Duration::from_millis(self.outbox_poll_ms.max(1)),
            buffer: self.subscription_buffer.max(1),
            retention: Duration::from_secs(self.outbox_retention_hours.saturating_mul(3600)),
            prune_interval: Duration::from_secs(self.outbox_prune_interval_secs.max(1)),
        }
    }

    /// How WebSocket connections behave (full access until GraphQL auth sets
    /// `authenticate`).
    pub fn ws_settings(&self) -> WsSettings {
        WsSettings {
            init_timeout: Duration::from_millis(self.ws_init_timeout_ms),
            ping_interval: Duration::from_millis(self.ws_ping_interval_ms.max(1)),
            ping_timeout: Duration::from_millis(self.ws_ping_timeout_ms),
            max_message_bytes: self.ws_max_message_bytes,
            max_subscriptions: self.ws_max_subscriptions,
            ..WsSettings::default()
        }
    }

    /// Defaults, then the TOML file (when given or named by CHARGEGRAPH_CONFIG), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let env_file = std::env::var("CHARGEGRAPH_CONFIG").ok();
        if let Some(path) = file.map(Path::to_path_buf).or(env_file.map(Into::into)) {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(Env::prefixed("CHARGEGRAPH_").ignore(&["CONFIG", "CI", "TEST_DATABASE_URL"]))
            .extract()
            .map_err(Box::new)
    }
}
