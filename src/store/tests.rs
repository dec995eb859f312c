//! Connection settings honoured: PostgreSQL's statement timeout, the pool
//! size, and the connect timeout.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr, Statement, TransactionTrait};

use super::*;
use crate::store::testdb::TestDb;

async fn text_of(store: &Store, sql: &str) -> Result<String, StoreError> {
    let statement = Statement::from_string(store.backend(), sql);
    let row = store.db().query_one_raw(statement).await?;
    let row = row.ok_or_else(|| StoreError::Corrupt("no row".into()))?;
    Ok(row.try_get_by_index::<String>(0)?)
}

#[tokio::test]
async fn the_statement_timeout_cancels_a_longer_statement() {
    let db = TestDb::create().await;
    if !db.is_postgres() {
        eprintln!("skipped: SQLite has no statement timeout");
        return;
    }
    // Migrated first with the default timeout: a loaded machine may take
    // longer than 100 ms over a CREATE INDEX.
    drop(db.store().await);
    let options = StoreOptions {
        statement_timeout: Some(Duration::from_millis(100)),
        ..db.options()
    };
    let store = Store::connect(&options).await.unwrap();

    let setting = text_of(&store, "SHOW statement_timeout").await.unwrap();
    assert_eq!(setting, "100ms");
    let started = Instant::now();
    let err = text_of(&store, "SELECT pg_sleep(1)::text")
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate().as_deref(), Some("57014"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "cancelled early"
    );
}

#[tokio::test]
async fn no_statement_timeout_leaves_the_server_default() {
    let db = TestDb::create().await;
    if !db.is_postgres() {
        eprintln!("skipped: SQLite has no statement timeout");
        return;
    }
    let options = StoreOptions {
        statement_timeout: None,
        ..db.options()
    };
    let store = Store::connect(&options).await.unwrap();
    let setting = text_of(&store, "SHOW statement_timeout").await.unwrap();
    assert_eq!(setting, "0");
}

#[tokio::test]
async fn the_pool_holds_at_most_max_connections() {
    let db = TestDb::create().await;
    let options = StoreOptions {
        max_connections: 2,
        connect_timeout: Duration::from_millis(300),
        ..db.options()
    };
    let store = Store::connect(&options).await.unwrap();
    let first = store.db().begin().await.unwrap();
    let second = store.db().begin().await.unwrap();

    let started = Instant::now();
    let third = store.db().begin().await;
    assert!(
        matches!(
            third,
            Err(DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout
            ))
        ),
        "{third:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));

    first.rollback().await.unwrap();
    let third = store.db().begin().await.unwrap();
    third.rollback().await.unwrap();
    second.rollback().await.unwrap();
}

/// Connecting to `url` with a 500 ms connect timeout: how long it took, and the error.
async fn connect_failure(url: &str) -> (Duration, String) {
    let options = StoreOptions {
        connect_timeout: Duration::from_millis(500),
        ..StoreOptions::new(url)
    };
    let started = Instant::now();
    let Err(err) = Store::connect(&options).await else {
        panic!("{url}: connected");
    };
    (started.elapsed(), err.to_string())
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_within_the_connect_timeout() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://chargegraph:chargegraph@127.0.0.1:{port}/chargegraph");
    let (took, message) = connect_failure(&url).await;
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(
        message.starts_with("cannot connect to the database: ")
            && message.contains("Connection refused"),
        "{message}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    // The kernel accepts the TCP connection into the backlog, but nothing
    // ever reads the startup message: as an unroutable address or a hung
    // server, only the timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let url = format!("postgres://chargegraph:chargegraph@127.0.0.1:{port}/chargegraph");
    let (took, message) = connect_failure(&url).await;
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert_eq!(
        message,
        format!(
            "cannot connect to the database: no answer from 127.0.0.1:{port} \
             within 500ms (db_connect_timeout_ms)"
        )
    );
    drop(silent);
}

#[tokio::test]
async fn every_sqlite_connection_keeps_its_plans_when_values_are_rebound() {
    let db = TestDb::create().await;
    if db.is_postgres() {
        eprintln!("skipped: the planner guarantee is SQLite's");
        return;
    }
    let store = db.store().await;
    let pool = store.db().get_sqlite_connection_pool();
    // Two connections at once: the pool opened at least one after migrating.
    let mut first = pool.acquire().await.unwrap();
    let mut second = pool.acquire().await.unwrap();
    assert!(sqlite_plans::is_stable(&mut first).await.unwrap());
    assert!(sqlite_plans::is_stable(&mut second).await.unwrap());
}
