//! A fresh database for each library unit test, by the rules of the
//! integration tests' harness (tests/it/harness.rs): a SQLite file in a
//! temporary directory, or, when CHARGEGRAPH_TEST_DATABASE_URL names a
//! PostgreSQL server, a database created for the test through that URL and
//! dropped when the test ends. With CHARGEGRAPH_CI=1 an unreachable
//! PostgreSQL fails the test instead of falling back to SQLite.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

use super::{Store, StoreOptions};

/// The variable naming the PostgreSQL server tests use.
const TEST_DATABASE_URL: &str = "CHARGEGRAPH_TEST_DATABASE_URL";

/// A test's own database; a PostgreSQL one is dropped with this value.
pub(crate) enum TestDb {
    /// A temporary SQLite file.
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    /// A fresh PostgreSQL database.
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// The database on the backend the environment selects.
    pub(crate) async fn create() -> TestDb {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(admin_url) if !admin_url.is_empty() => match TestDb::postgres(&admin_url).await {
                Ok(db) => db,
                Err(err) if std::env::var("CHARGEGRAPH_CI").as_deref() == Ok("1") => {
                    panic!("PostgreSQL at {TEST_DATABASE_URL} is unreachable: {err:#}")
                }
                Err(err) => {
                    eprintln!("PostgreSQL unreachable ({err:#}); this test runs on SQLite");
                    TestDb::sqlite()
                }
            },
            _ => TestDb::sqlite(),
        }
    }

    /// A SQLite database whatever the environment says, for tests whose
    /// subject exists on SQLite only.
    pub(crate) fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("chargegraph.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    async fn postgres(admin_url: &str) -> anyhow::Result<TestDb> {
        static SWEPT: AtomicBool = AtomicBool::new(false);
        // The harness's naming, so that either test binary sweeps the other's leftovers.
        let name = format!(
            "cg_test_{}_{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let admin = admin_connection(admin_url).await?;
        if !SWEPT.swap(true, Ordering::SeqCst) {
            if let Err(err) = sweep_leftovers(&admin).await {
                eprintln!("leftover test databases not swept: {err:#}");
            }
        }
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        let mut url = reqwest::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(TestDb::Postgres {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// The URL of the test's database.
    pub(crate) fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Whether this test runs on PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    /// The default store options for this database.
    pub(crate) fn options(&self) -> StoreOptions {
        StoreOptions::new(self.url())
    }

    /// A migrated store over this database, with the default options.
    pub(crate) async fn store(&self) -> Store {
        Store::connect(&self.options())
            .await
            .expect("store connects")
    }
}

/// Statements recorded by `Store::recording`, with their values.
pub(crate) type Recorded = std::sync::Arc<std::sync::Mutex<Vec<Statement>>>;

impl Store {
    /// This store, recording every statement run through its pool with its
    /// values (a test explains them afterwards).
    pub(crate) fn recording(mut self) -> (Store, Recorded) {
        let recorded = Recorded::default();
        let sink = recorded.clone();
        self.db.set_metric_callback(move |info| {
            if let Ok(mut statements) = sink.lock() {
                statements.push(info.statement.clone());
            }
        });
        (self, recorded)
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database on a detached thread, as the harness
    /// does: blocking here would stall the test's runtime, whose pool may
    /// still hold connections that DROP DATABASE (FORCE) has to end.
    fn drop(&mut self) {
        let TestDb::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                if let Err(err) = runtime.block_on(drop_database(&admin_url, &name)) {
                    eprintln!("test database {name} not dropped: {err:#}");
                }
            }
        });
    }
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = admin_connection(admin_url).await?;
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    admin.execute_unprepared(&sql).await?;
    admin.close().await?;
    Ok(())
}

/// Drops the `cg_test_<pid>_*` databases of test processes that have exited.
async fn sweep_leftovers(admin: &DatabaseConnection) -> anyhow::Result<()> {
    let sql = "SELECT datname::text FROM pg_database WHERE datname LIKE 'cg\\_test\\_%'";
    let rows = admin
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let pid = name.split('_').nth(2).unwrap_or_default();
        let alive = std::path::Path::new("/proc").join(pid).exists();
        if !pid.is_empty() && !alive {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.execute_unprepared(&sql).await?;
        }
    }
    Ok(())
}

async fn admin_connection(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Ok(Database::connect(options).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_test_database_is_on_the_backend_the_variable_names_and_dropped_after() {
        let wanted = match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.is_empty() => DbBackend::Postgres,
            _ => DbBackend::Sqlite,
        };
        let db = TestDb::create().await;
        assert_eq!(db.is_postgres(), wanted == DbBackend::Postgres);
        let store = db.store().await;
        assert_eq!(store.backend(), wanted);
        let TestDb::Postgres {
            admin_url, name, ..
        } = &db
        else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        drop(store);
        drop(db);

        let admin = admin_connection(&admin_url).await.unwrap();
        let sql = format!("SELECT COUNT(*) FROM pg_database WHERE datname = '{name}'");
        let gone = async {
            loop {
                let row = admin
                    .query_one_raw(Statement::from_string(DbBackend::Postgres, &sql))
                    .await
                    .unwrap()
                    .unwrap();
                if row.try_get_by_index::<i64>(0).unwrap() == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), gone)
            .await
            .expect("the test database is dropped within 10 s");
    }
}
