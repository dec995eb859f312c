//! `chargegraph backup`: a consistent copy of a SQLite database, taken with
//! `VACUUM INTO` from one read transaction, so it is safe while the server
//! is writing (WAL mode lets the copy and the writer run side by side).

use std::path::Path;

use sea_orm::{ConnectionTrait, DbBackend};

use super::{Store, StoreError};

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL, which has its own tools.
    #[error(
        "chargegraph backup copies SQLite databases only; for PostgreSQL use pg_dump \
         (e.g. pg_dump --format=custom --file=chargegraph.dump \"$CHARGEGRAPH_DATABASE_URL\")"
    )]
    Postgres,
    /// The target exists; a backup never overwrites.
    #[error("{0} exists already; choose a new path (a backup never overwrites)")]
    Exists(String),
    /// The path is not valid UTF-8, which SQLite needs here.
    #[error("the backup path must be valid UTF-8")]
    Path,
    /// SQLite refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes a consistent copy of the database to `path`.
pub async fn copy_to(store: &Store, path: &Path) -> Result<(), BackupError> {
    if store.backend() != DbBackend::Sqlite {
        return Err(BackupError::Postgres);
    }
    if path.exists() {
        return Err(BackupError::Exists(path.display().to_string()));
    }
    let target = path.to_str().ok_or(BackupError::Path)?;
    // VACUUM takes no bound parameters; the path is quoted as a SQL string.
    let sql = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
    store
        .db()
        .execute_unprepared(&sql)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}
