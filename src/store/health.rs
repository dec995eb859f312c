//! Readiness facts: is the database reachable, are its migrations current.

use migration::{MigrationStatus, Migrator, MigratorTrait};

use super::{Store, StoreError};

/// The database's migrations against the ones this binary knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Known migrations applied to the database.
    pub applied: usize,
    /// Migrations this binary knows.
    pub expected: usize,
    /// Known migrations not yet applied, by name.
    pub pending: Vec<String>,
}

/// Answers when the database answers a trivial query.
pub async fn ping(store: &Store) -> Result<(), StoreError> {
    store.db().ping().await?;
    Ok(())
}

/// Compares the applied migrations with the migrator's list, without
/// creating anything. Fails when the database holds a migration this
/// binary does not know (it is newer than this binary).
pub async fn migrations(store: &Store) -> Result<MigrationState, StoreError> {
    let all = Migrator::get_migration_with_status_read_only(store.db()).await?;
    let pending: Vec<String> = all
        .iter()
        .filter(|m| m.status() == MigrationStatus::Pending)
        .map(|m| m.name().to_owned())
        .collect();
    Ok(MigrationState {
        applied: all.len() - pending.len(),
        expected: Migrator::migrations().len(),
        pending,
    })
}
