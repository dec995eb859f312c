//! Write conflicts between replicas on PostgreSQL: which failures are worth
//! running the transaction again, and how long to wait first.

use std::time::Duration;

use rand::Rng;
use sea_orm::{DbErr, RuntimeErr};

use super::StoreError;

/// SQLSTATEs of a transaction that lost a race with another one and may
/// succeed when run again: serialization_failure, deadlock_detected, and
/// unique_violation (two replicas creating the same object at once; the
/// second attempt finds the row the winner committed).
const CONFLICTS: [&str; 3] = ["40001", "40P01", UNIQUE_VIOLATION];

/// The SQLSTATE of a duplicate key: in READ COMMITTED it is raised only once
/// the other inserter has committed, so the next statement sees its row.
pub const UNIQUE_VIOLATION: &str = "23505";

/// How many times a write transaction runs at most.
pub const MAX_ATTEMPTS: u32 = 5;

impl StoreError {
    /// Whether the transaction lost a race and may succeed when run again.
    pub fn is_conflict(&self) -> bool {
        self.sqlstate()
            .is_some_and(|code| CONFLICTS.contains(&code.as_str()))
    }

    /// The database's SQLSTATE (or SQLite's extended result code), when the
    /// database refused a statement.
    pub fn sqlstate(&self) -> Option<String> {
        let driver = match self {
            StoreError::Connect(err) => err,
            StoreError::Db(
                DbErr::Exec(RuntimeErr::SqlxError(err))
                | DbErr::Query(RuntimeErr::SqlxError(err))
                | DbErr::Conn(RuntimeErr::SqlxError(err)),
            ) => err.as_ref(),
            _ => return None,
        };
        match driver {
            sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
            _ => None,
        }
    }
}

/// The pause before retry number `retry` (from 1): doubling from about 4 ms,
/// with jitter so that two replicas that collided do not collide again in step.
pub fn backoff(retry: u32) -> Duration {
    let base: u64 = 2 << retry.min(6);
    let jitter = rand::thread_rng().gen_range(0..=base);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let first = backoff(1);
        assert!(first >= Duration::from_millis(4) && first <= Duration::from_millis(8));
        let late = backoff(40);
        assert!(late <= Duration::from_millis(256), "{late:?}");
    }

    #[test]
    fn errors_without_a_database_code_are_not_conflicts() {
        let err = StoreError::Corrupt("x".into());
        assert!(!err.is_conflict());
        let err = StoreError::Db(DbErr::RecordNotFound("x".into()));
        assert!(!err.is_conflict());
    }
}
