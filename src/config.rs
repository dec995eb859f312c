//! One Config, read from an optional TOML file and `CHARGEGRAPH_*` variables.
//!
//! Reads CHARGEGRAPH_CONFIG (the TOML file) and one `CHARGEGRAPH_<FIELD>`
//! variable per field of [`Config`], the field's name upper-cased
//! (CHARGEGRAPH_LISTEN, CHARGEGRAPH_DATABASE_URL, CHARGEGRAPH_DB_BATCH_MAX,
//! CHARGEGRAPH_WS_PING_INTERVAL_MS, ...); README.md lists them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::events;
use crate::graphql::WsSettings;
use crate::reconcile::CpoConfig;
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
    /// Require credentials (API key or JWT) on GraphQL and exports.
    pub graphql_auth: bool,
    /// Serve GraphQL without auth on a non-loopback address anyway.
    pub allow_open_graphql: bool,
    /// HS256 secret of front-end JWTs.
    pub jwt_hs256_secret: Option<String>,
    /// PEM file of the RS256 public key of front-end JWTs.
    pub jwt_rs256_public_key: Option<PathBuf>,
    /// JWKS file of the RS256 keys of front-end JWTs (chosen by `kid`).
    pub jwt_jwks_file: Option<PathBuf>,
    /// Required `iss` of front-end JWTs.
    pub jwt_issuer: Option<String>,
    /// Required `aud` of front-end JWTs.
    pub jwt_audience: Option<String>,
    /// JWT claim listing the parties a caller may read ("*" for all).
    pub jwt_parties_claim: String,
    /// JWT claim holding the caller's role (a string or a list).
    pub jwt_role_claim: String,
    /// The role that may read operator data (inbox, reconciliation).
    pub jwt_operator_role: String,
    /// Origins allowed to call GraphQL and exports from a browser ("*" for any).
    pub cors_allowed_origins: Vec<String>,
    /// Longest a GraphQL request or export may take, in milliseconds; 0 for no limit.
    pub request_timeout_ms: u64,
    /// Largest GraphQL request body, in bytes.
    pub graphql_body_limit: usize,
    /// Requests a minute per address from callers without credentials; 0 for no limit.
    pub rate_limit_anonymous_per_minute: u32,
    /// Burst allowed above that rate for callers without credentials.
    pub rate_limit_anonymous_burst: u32,
    /// GraphQL requests a minute per API key or JWT subject; 0 for no limit.
    pub rate_limit_api_key_per_minute: u32,
    /// Burst allowed above that rate per API key or JWT subject.
    pub rate_limit_api_key_burst: u32,
    /// How long a rotated push token keeps working beside its successor, in seconds.
    pub token_rotation_grace_secs: u64,
    /// Longest a shutdown waits for in-flight requests, in milliseconds.
    pub shutdown_drain_ms: u64,
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
    /// Most outgoing data buffered for one WebSocket connection, in bytes.
    pub ws_max_write_buffer_bytes: usize,
    /// Days an inbox row is kept before the background pruner deletes it; 0 keeps them forever.
    pub inbox_retention_days: u32,
    /// Most pushes committed together in one transaction (group commit); 1 for none.
    pub db_batch_max: usize,
    /// Concurrent group-commit transactions on PostgreSQL (SQLite has one writer).
    pub db_writers: usize,
    /// How long an authenticated push token is remembered, in milliseconds; 0 to look it up on every push.
    pub token_cache_ms: u64,
    /// The CPOs to pull from (`[[reconcile]]` entries).
    pub reconcile: Vec<CpoConfig>,
    /// Whether `serve` runs the scheduled pulls and the heal worker.
    pub reconcile_schedule: bool,
    /// How often the heal worker reads its queue without a wake-up, in seconds.
    pub reconcile_heal_poll_secs: u64,
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
            graphql_auth: false,
            allow_open_graphql: false,
            jwt_hs256_secret: None,
            jwt_rs256_public_key: None,
            jwt_jwks_file: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_parties_claim: "parties".into(),
            jwt_role_claim: "role".into(),
            jwt_operator_role: "operator".into(),
            cors_allowed_origins: Vec::new(),
            request_timeout_ms: 30_000,
            graphql_body_limit: 1024 * 1024,
            rate_limit_anonymous_per_minute: 1200,
            rate_limit_anonymous_burst: 200,
            rate_limit_api_key_per_minute: 6000,
            rate_limit_api_key_burst: 1000,
            token_rotation_grace_secs: 86_400,
            shutdown_drain_ms: 10_000,
            outbox_poll_ms: 3_000,
            outbox_retention_hours: 7 * 24,
            outbox_prune_interval_secs: 60,
            subscription_buffer: 1_024,
            ws_init_timeout_ms: 10_000,
            ws_ping_interval_ms: 15_000,
            ws_ping_timeout_ms: 10_000,
            ws_max_message_bytes: 64 * 1024,
            ws_max_subscriptions: 100,
            // At least one push body's worth: an event carries up to a
            // whole location's raw JSON.
            ws_max_write_buffer_bytes: 8 * 1024 * 1024,
            inbox_retention_days: 30,
            db_batch_max: 64,
            db_writers: 4,
            token_cache_ms: 5_000,
            reconcile: Vec::new(),
            reconcile_schedule: true,
            reconcile_heal_poll_secs: 30,
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

    /// Refuses settings that would expose data: GraphQL without auth on an
    /// address other hosts can reach, unless explicitly allowed.
    pub fn check_exposure(&self) -> Result<(), String> {
        if self.graphql_auth || self.allow_open_graphql || self.listen.ip().is_loopback() {
            return Ok(());
        }
        Err(format!(
            "refusing to serve GraphQL without auth on {}: anyone who reaches it reads \
             every party's data. Turn auth on (graphql_auth = true, with API keys from \
             `chargegraph apikey add` or a jwt_* key), listen on a loopback address, or \
             set allow_open_graphql = true (CHARGEGRAPH_ALLOW_OPEN_GRAPHQL=true) to serve it open",
            self.listen
        ))
    }

    /// The effective configuration as TOML, every secret replaced by "***".
    pub fn redacted_toml(&self) -> String {
        let mut value = toml::Value::try_from(self)
            .unwrap_or_else(|_| toml::Value::Table(toml::map::Map::new()));
        redact_value(None, &mut value);
        toml::to_string_pretty(&value).unwrap_or_default()
    }

    /// How the outbox reader, the fan-out and retention run.
    pub fn event_settings(&self) -> events::Settings {
        events::Settings {
            poll_interval: Duration::from_millis(self.outbox_poll_ms.max(1)),
            buffer: self.subscription_buffer.max(1),
            retention: Duration::from_secs(self.outbox_retention_hours.saturating_mul(3600)),
            prune_interval: Duration::from_secs(self.outbox_prune_interval_secs.max(1)),
            metrics: None,
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
            max_write_buffer_bytes: self.ws_max_write_buffer_bytes,
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
        let mut config: Config = figment
            .merge(Env::prefixed("CHARGEGRAPH_").ignore(&["CONFIG", "CI", "TEST_DATABASE_URL"]))
            .extract()
            .map_err(Box::new)?;
        config
            .reconcile
            .iter_mut()
            .for_each(CpoConfig::token_from_env);
        Ok(config)
    }

    /// What is wrong with the `[[reconcile]]` entries, one line per problem.
    pub fn check_reconcile(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .reconcile
            .iter()
            .filter_map(|cpo| cpo.check().err())
            .collect();
        let mut names: Vec<&str> = self.reconcile.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        for pair in names.windows(2) {
            if pair[0] == pair[1] {
                problems.push(format!("two [[reconcile]] entries are named {:?}", pair[0]));
            }
        }
        problems
    }

    /// The parties some CPO is pulled for: the receiver queues targeted
    /// heals of unknown locations for these only.
    pub fn pulled_parties(&self) -> Vec<crate::domain::Party> {
        self.reconcile
            .iter()
            .flat_map(|cpo| cpo.party_list().unwrap_or_default())
            .collect()
    }
}

/// Whether a setting of this name holds a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "token", "tokens", "credentials"]
        .iter()
        .any(|word| key == *word || key.ends_with(&format!("_{word}")))
}

/// Replaces secrets in place: values under secret-named keys, and the
/// password of any URL with user info (database URLs).
fn redact_value(key: Option<&str>, value: &mut toml::Value) {
    let secret = key.is_some_and(is_secret_key);
    match value {
        toml::Value::String(s) if secret => *s = "***".into(),
        toml::Value::String(s) => *s = redact_url(s),
        toml::Value::Array(items) => items.iter_mut().for_each(|v| redact_value(key, v)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(k, v)| redact_value(Some(k), v)),
        _ if secret => *value = toml::Value::String("***".into()),
        _ => {}
    }
}

/// A database URL or DSN without its secrets: the password of the user
/// info (`postgres://cg:***@host/db`), of a query parameter
/// (`?password=***`, also `sslpassword`, `pass`, `pwd`), and of a key=value
/// DSN (`host=db user=cg password=***`).
pub fn redact_url(url: &str) -> String {
    let url = redact_userinfo(url);
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return url;
        };
        let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
        return format!("{base}?{}", pairs.join("&"));
    }
    if url.contains('=') {
        let words: Vec<String> = url.split(' ').map(redact_pair).collect();
        return words.join(" ");
    }
    url
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `key=value` with the value replaced when the key names a password.
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((key, _)) if is_password_key(key) => format!("{key}=***"),
        _ => pair.to_owned(),
    }
}

fn is_password_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    ["password", "sslpassword", "pass", "pwd", "passwd"].contains(&key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graphql_is_refused_off_loopback_unless_allowed() {
        let mut config = Config::default();
        assert!(config.check_exposure().is_ok());
        config.listen = "0.0.0.0:8080".parse().unwrap();
        let refused = config.check_exposure().unwrap_err();
        assert!(refused.contains("allow_open_graphql"), "{refused}");
        config.allow_open_graphql = true;
        assert!(config.check_exposure().is_ok());
        config.allow_open_graphql = false;
        config.graphql_auth = true;
        assert!(config.check_exposure().is_ok());
    }

    #[test]
    fn passwords_in_query_parameters_and_key_value_dsns_are_redacted() {
        assert_eq!(
            redact_url("postgres://db/cg?user=cg&password=hunter2&sslmode=require"),
            "postgres://db/cg?user=cg&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://cg:pw@db/cg?sslpassword=k3y"),
            "postgres://cg:***@db/cg?sslpassword=***"
        );
        assert_eq!(
            redact_url("host=db port=5432 user=cg password=hunter2 dbname=cg"),
            "host=db port=5432 user=cg password=*** dbname=cg"
        );
        assert_eq!(
            redact_url("sqlite://chargegraph.db?mode=rwc"),
            "sqlite://chargegraph.db?mode=rwc"
        );
        let config = Config {
            database_url: "postgres://db/cg?password=hunter2".into(),
            ..Config::default()
        };
        let text = config.redacted_toml();
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn secrets_are_redacted_and_names_that_only_look_alike_are_not() {
        let config = Config {
            database_url: "postgres://cg:hunter2@db:5432/cg".into(),
            jwt_hs256_secret: Some("s3cr3t".into()),
            jwt_rs256_public_key: Some("/etc/cg/jwt.pem".into()),
            ..Config::default()
        };
        let text = config.redacted_toml();
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(
            text.contains(r#"database_url = "postgres://cg:***@db:5432/cg""#),
            "{text}"
        );
        assert!(text.contains(r#"jwt_hs256_secret = "***""#), "{text}");
        assert!(
            text.contains(r#"jwt_rs256_public_key = "/etc/cg/jwt.pem""#),
            "{text}"
        );
        assert!(text.contains("rate_limit_api_key_burst = 1000"), "{text}");
        let mut nested: toml::Value =
            toml::from_str("[[reconcile]]\nurl = \"https://cpo/ocpi\"\ntoken = \"pull-secret\"\n")
                .unwrap();
        redact_value(None, &mut nested);
        assert_eq!(nested["reconcile"][0]["token"].as_str(), Some("***"));
        assert_eq!(
            nested["reconcile"][0]["url"].as_str(),
            Some("https://cpo/ocpi")
        );
    }

    #[test]
    fn reconcile_entries_are_read_from_toml_and_their_tokens_redacted() {
        let text = "[[reconcile]]\nname = \"gfx\"\nurl = \"https://platform.example/\"\n\
                    token = \"pull-secret\"\nprofile = \"greenflux\"\nparties = [\"NL/GFX\"]\n";
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .unwrap();
        assert_eq!(config.reconcile.len(), 1);
        assert_eq!(
            config.reconcile[0].profile,
            crate::reconcile::Profile::Greenflux
        );
        assert_eq!(config.reconcile[0].splay_minutes, 60);
        assert!(config.check_reconcile().is_empty());
        let redacted = config.redacted_toml();
        assert!(!redacted.contains("pull-secret"), "{redacted}");
        assert!(redacted.contains("token = \"***\""), "{redacted}");
        assert!(!format!("{config:?}").contains("pull-secret"));
    }
}
