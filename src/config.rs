//! One Config, read from an optional TOML file and `CHARGEGRAPH_*` variables.
//!
//! Reads CHARGEGRAPH_CONFIG (the TOML file) and one `CHARGEGRAPH_<FIELD>`
//! variable per field of [`Config`], the field's name upper-cased
//! (CHARGEGRAPH_LISTEN, CHARGEGRAPH_DATABASE_URL, CHARGEGRAPH_DB_BATCH_MAX,
//! CHARGEGRAPH_WS_PING_INTERVAL_MS, ...); README.md lists them all.

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
    /// Deepest GraphQL selection nesting accepted.
    pub graphql_max_depth: usize,
    /// Largest GraphQL query complexity accepted (connections weigh their page size).
    pub graphql_max_complexity: usize,
    /// Whether GraphQL introspection (`__schema`, `__type`) is served.
    pub graphql_introspection: bool,
    /// How many automatic persisted queries are kept (in-memory LRU).
    pub graphql_apq_cache_size: usize,
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
    /// Days an inbox row is kept before the background pruner deletes it; 0 keeps them forever.
    pub inbox_retention_days: u32,
    /// Most pushes committed together in one transaction (group commit); 1 for none.
    pub db_batch_max: usize,
    /// Concurrent group-commit transactions on PostgreSQL (SQLite has one writer).
    pub db_writers: usize,
    /// How long an authenticated push token is remembered, in milliseconds; 0 to look it up on every push.
    pub token_cache_ms: u64,
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
            graphql_max_depth: 15,
            graphql_max_complexity: 10_000,
            graphql_introspection: true,
            graphql_apq_cache_size: 1_000,
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
            inbox_retention_days: 30,
            db_batch_max: 64,
            db_writers: 4,
            token_cache_ms: 5_000,
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
        options.batch_max = self.db_batch_max.max(1);
        options.writers = self.db_writers.max(1);
        options.token_cache_ttl = Duration::from_millis(self.token_cache_ms);
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

    /// How long inbox rows are kept, or `None` to keep them forever.
    pub fn inbox_retention(&self) -> Option<Duration> {
        match self.inbox_retention_days {
            0 => None,
            days => Some(Duration::from_secs(u64::from(days) * 24 * 60 * 60)),
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
