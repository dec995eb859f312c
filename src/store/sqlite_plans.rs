//! SQLite's query planner stability guarantee, turned on for every connection.
//!
//! SQLite (3.54 here) plans `LIMIT ?` with the value bound at the time, and
//! marks the statement to be compiled again whenever a new value is bound to
//! that parameter. sea-orm binds every LIMIT (`one()` is `LIMIT ?` bound to
//! 1), so each lookup was parsed and planned anew on every run: a sixth of
//! the CPU of the push path, where most statements are lookups by key. With
//! the guarantee (SQLITE_DBCONFIG_ENABLE_QPSG) a bound value never changes
//! a plan, and a cached statement is compiled once. The other plans it
//! affects use a bound LIKE pattern or ANALYZE statistics, neither of which
//! this store has.

use std::ffi::c_int;

use libsqlite3_sys::{sqlite3_db_config, SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK};
use sqlx::sqlite::SqliteConnection;

/// Turns the guarantee on for a new connection; fails if SQLite does not
/// confirm it.
pub(super) async fn stabilize(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    match qpsg(conn, 1).await? {
        true => Ok(()),
        false => Err(sqlx::Error::Configuration(
            "SQLite did not turn on its query planner stability guarantee".into(),
        )),
    }
}

/// Whether the guarantee is on for this connection.
#[cfg(test)]
pub(super) async fn is_stable(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    qpsg(conn, -1).await
}

/// Sets the guarantee (`1` on, `0` off, `-1` leaves it) and reports whether it is on.
async fn qpsg(conn: &mut SqliteConnection, set: c_int) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut on: c_int = 0;
    // SAFETY: the locked handle keeps sqlx's worker thread from using this
    // connection during the call, `db` is that open connection, and the
    // arguments after the verb are the (int, int*) it takes.
    let rc =
        unsafe { sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, set, &mut on as *mut c_int) };
    if rc != SQLITE_OK {
        return Err(sqlx::Error::Configuration(
            format!("sqlite3_db_config(SQLITE_DBCONFIG_ENABLE_QPSG) returned {rc}").into(),
        ));
    }
    Ok(on == 1)
}
