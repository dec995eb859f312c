//! The only code that builds database queries: connecting, migrating, reads and writes.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QuerySelect,
    SqliteTransactionMode, SqlxPostgresConnector, SqlxSqliteConnector, TransactionOptions,
    TransactionTrait,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, OwnedMutexGuard};

use group::{GroupCommit, GroupOptions};

pub mod api_keys;
pub mod backup;
pub mod billing;
pub mod cdrs;
pub mod conflict;
pub mod group;
pub mod health;
pub mod inbox;
pub mod locations;
pub mod notifications;
pub mod outbox;
pub mod read;
pub mod reconcile;
pub mod sessions;
pub mod snapshot;
mod sqlite_plans;
pub mod tariffs;
#[cfg(test)]
pub(crate) mod testdb;
pub mod tokens;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend we support.
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The driver could not connect or configure the pool.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] sqlx::Error),
    /// The database server did not answer within the connect timeout.
    #[error("cannot connect to the database: no answer from {target} within {timeout:?} (db_connect_timeout_ms)")]
    ConnectTimeout {
        /// `host:port` of the server.
        target: String,
        /// The connect timeout that ran out.
        timeout: Duration,
    },
    /// A query or migration failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The group-commit writer is gone (the process is shutting down).
    #[error("the database writer has stopped")]
    WriterStopped,
}

/// Connection settings the store needs.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// Longest a PostgreSQL statement may run before the server cancels it
    /// (`None`: no limit). SQLite has no equivalent.
    pub statement_timeout: Option<Duration>,
    /// Most pushes committed in one transaction (1: each push alone).
    pub batch_max: usize,
    /// Group-commit writer tasks on PostgreSQL; SQLite always has one.
    pub writers: usize,
    /// How long an authenticated push token is remembered (zero: looked up on every push).
    pub token_cache_ttl: Duration,
}

impl StoreOptions {
    /// Options with the defaults for `url`.
    pub fn new(url: &str) -> Self {
        StoreOptions {
            url: url.to_owned(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Some(Duration::from_secs(30)),
            batch_max: 64,
            writers: 4,
            token_cache_ttl: Duration::from_secs(5),
        }
    }
}

/// A migrated database and the writer discipline of its backend.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite allows one writer; write transactions take this lock so they
    /// queue in process instead of failing with SQLITE_BUSY.
    writer: Option<Arc<Mutex<()>>>,
    /// Statements run through this store, for tests and metrics.
    statements: Arc<AtomicU64>,
    /// The group-commit writers that apply pushes (`None` inside the writers
    /// themselves, so that they stop with the last outside handle).
    group: Option<GroupCommit>,
    /// Recently authenticated push tokens.
    pub(crate) tokens: Arc<tokens::Cache>,
}

/// A write transaction, holding the SQLite writer lock while it lives.
pub struct WriteTx {
    /// The open transaction.
    pub txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Store {
    /// Connects (creating a SQLite file when missing), runs pending
    /// migrations and starts the group-commit writers.
    pub async fn connect(options: &StoreOptions) -> Result<Store, StoreError> {
        let mut store = if is_sqlite(&options.url) {
            Store::connect_sqlite(options).await?
        } else if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")
        {
            Store::connect_postgres(options).await?
        } else {
            return Err(StoreError::UnsupportedUrl(options.url.clone()));
        };
        let statements = store.statements.clone();
        store.db.set_metric_callback(move |_| {
            statements.fetch_add(1, Ordering::Relaxed);
        });
        Migrator::up(&store.db, None).await?;
        let writers = match store.backend() {
            // One writer at a time is all SQLite allows.
            DbBackend::Sqlite => 1,
            _ => options.writers,
        };
        let group = GroupOptions {
            batch_max: options.batch_max,
            writers,
        };
        store.group = Some(GroupCommit::start(store.clone(), group));
        Ok(store)
    }

    fn new(
        db: DatabaseConnection,
        writer: Option<Arc<Mutex<()>>>,
        options: &StoreOptions,
    ) -> Store {
        Store {
            db,
            writer,
            statements: Arc::default(),
            group: None,
            tokens: Arc::new(tokens::Cache::new(options.token_cache_ttl)),
        }
    }

    async fn connect_sqlite(options: &StoreOptions) -> Result<Store, StoreError> {
        let connect = SqliteConnectOptions::from_str(&options.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .after_connect(|conn, _| Box::pin(sqlite_plans::stabilize(conn)))
            .connect_with(connect)
            .await?;
        let db = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        Ok(Store::new(db, Some(Arc::new(Mutex::new(()))), options))
    }

    async fn connect_postgres(options: &StoreOptions) -> Result<Store, StoreError> {
        let mut connect = PgConnectOptions::from_str(&options.url)?;
        if let Some(timeout) = options.statement_timeout {
            // Sent as a startup parameter, so every pooled connection has it.
            connect = connect.options([("statement_timeout", timeout.as_millis())]);
        }
        probe_postgres(&connect, options.connect_timeout).await?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await?;
        let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        Ok(Store::new(db, None, options))
    }

    /// The connection pool, for reads.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Calls `callback` with the SQL of every statement run through this
    /// handle's pool (not its write transactions): tests count a query's
    /// statements with it.
    pub fn on_statement(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Store {
        let statements = self.statements.clone();
        self.db.set_metric_callback(move |info| {
            statements.fetch_add(1, Ordering::Relaxed);
            callback(&info.statement.sql)
        });
        self
    }

    /// The backend in use.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// How many SQL statements this store (and its clones) has run.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Starts a write transaction, waiting for the single SQLite writer slot.
    ///
    /// On SQLite the transaction is IMMEDIATE: it takes the database's write
    /// lock at BEGIN, so that another process writing the same file makes it
    /// wait (busy timeout) rather than fail halfway.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let guard = match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let txn = match self.backend() {
            DbBackend::Sqlite => {
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                self.db.begin_with_options(options).await?
            }
            _ => self.db.begin().await?,
        };
        Ok(WriteTx {
            txn,
            _writer: guard,
        })
    }

    /// The group-commit writers, through which pushes are applied.
    pub fn group(&self) -> Result<&GroupCommit, StoreError> {
        self.group.as_ref().ok_or(StoreError::WriterStopped)
    }
}

impl WriteTx {
    /// Commits, then releases the writer slot.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        Ok(())
    }
}

/// Adds `FOR UPDATE` on PostgreSQL, so that a read-then-write inside a
/// transaction holds its row until commit and a concurrent writer (another
/// replica) waits and then reads the committed result. SQLite needs no row
/// locks: its writers take turns (`Store::begin_write`).
pub(crate) fn for_update<S: QuerySelect>(select: S, conn: &impl ConnectionTrait) -> S {
    if conn.get_database_backend() == DbBackend::Postgres {
        select.lock_exclusive()
    } else {
        select
    }
}

/// Opens and closes one connection, bounded by the connect timeout, so that
/// an unreachable server is reported with its cause (refused, unknown host,
/// no answer) rather than as the pool's bare "timed out".
async fn probe_postgres(connect: &PgConnectOptions, timeout: Duration) -> Result<(), StoreError> {
    let attempt = tokio::time::timeout(timeout, connect.connect()).await;
    let Ok(connection) = attempt else {
        let target = format!("{}:{}", connect.get_host(), connect.get_port());
        return Err(StoreError::ConnectTimeout { target, timeout });
    };
    connection?.close().await?;
    Ok(())
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

#[cfg(test)]
mod tests;
