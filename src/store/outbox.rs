//! The outbox: change events written in the ingest transaction.
//!
//! On PostgreSQL a BIGSERIAL is handed out at insert time but becomes visible
//! at commit, so two writers can commit their rows out of sequence order and a
//! reader that remembers the last sequence it saw would skip the lower one.
//! Writers therefore take one transaction-level advisory lock just before
//! their first outbox insert and hold it until they commit: sequence order is
//! then commit order. The same statement queues a NOTIFY, which PostgreSQL
//! delivers to listening replicas at commit (and not at all on rollback).

use chrono::{DateTime, Utc};
use entity::{outbox, outbox_horizon};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::{Store, StoreError};
use crate::domain::Timestamp;

/// A change event to commit with the data it describes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// EVSE_STATUS_CHANGED, LOCATION_CHANGED, SESSION_UPDATED, CDR_RECEIVED, NOTIFICATION_RECEIVED.
    pub kind: &'static str,
    /// Country code, as first received.
    pub country_code: String,
    /// Party id, as first received.
    pub party_id: String,
    /// The location row, when the event concerns one.
    pub location_pk: Option<i64>,
    /// The EVSE row, when the event concerns one.
    pub evse_pk: Option<i64>,
    /// The session row, when the event concerns one.
    pub session_pk: Option<i64>,
    /// The event's JSON payload.
    pub payload: Value,
}

/// The channel on which PostgreSQL replicas are told that outbox rows were committed.
pub const NOTIFY_CHANNEL: &str = "chargegraph_outbox";

/// Key of the advisory lock that orders outbox inserts: "cgoutbox" as a big-endian i64.
pub const ORDER_LOCK_KEY: i64 = 7162816282610528120;

/// Takes the outbox ordering lock (re-entrant within a transaction; released
/// at commit or rollback) and queues the wake-up of other replicas. Identical
/// notifications in one transaction are delivered once.
const ORDER_AND_NOTIFY: &str =
    "SELECT pg_advisory_xact_lock(7162816282610528120), pg_notify('chargegraph_outbox', '')";

/// Writes an event row; its sequence number is the subscription cursor.
pub async fn insert(conn: &impl ConnectionTrait, event: NewEvent) -> Result<i64, StoreError> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(ORDER_AND_NOTIFY).await?;
    }
    Ok(active(event, Timestamp::now()).insert(conn).await?.seq)
}

/// Rows per INSERT, well under either backend's limit of bound values.
const ROWS_PER_INSERT: usize = 500;

/// Writes the events of a whole transaction at its end, in order, with as
/// few statements as possible. Called last before the commit, so that on
/// PostgreSQL the ordering lock is held for the commit alone.
pub async fn insert_all(
    conn: &impl ConnectionTrait,
    events: Vec<NewEvent>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(ORDER_AND_NOTIFY).await?;
    }
    let now = Timestamp::now();
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk = events
            .by_ref()
            .take(ROWS_PER_INSERT)
            .map(|e| active(e, now));
        outbox::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

fn active(event: NewEvent, now: Timestamp) -> outbox::ActiveModel {
    outbox::ActiveModel {
        created_at: Set(now.as_datetime()),
        kind: Set(event.kind.to_owned()),
        country_code: Set(Some(event.country_code)),
        party_id: Set(Some(event.party_id)),
        location_pk: Set(event.location_pk),
        evse_pk: Set(event.evse_pk),
        session_pk: Set(event.session_pk),
        payload: Set(event.payload.to_string()),
        ..Default::default()
    }
}

/// Up to `limit` rows with `after < seq <= upto` of these kinds, in sequence order.
pub async fn range(
    db: &impl ConnectionTrait,
    after: i64,
    upto: i64,
    kinds: &[&str],
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Seq.gt(after))
        .filter(outbox::Column::Seq.lte(upto))
        .filter(outbox::Column::Kind.is_in(kinds.iter().copied()))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

/// The highest sequence number committed so far (0 while the outbox is empty).
pub async fn last_seq(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let last: Option<Option<i64>> = outbox::Entity::find()
        .select_only()
        .column_as(outbox::Column::Seq.max(), "last")
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Where the outbox stands: the highest sequence number written, which
/// survives pruning (an outbox pruned empty still stands where it was).
pub async fn position(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let (last, pruned) = (last_seq(db).await?, pruned_through(db).await?);
    Ok(std::cmp::max(last, pruned))
}

/// Every outbox row up to this sequence number has been pruned; a cursor
/// below it may have missed events.
pub async fn pruned_through(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = outbox_horizon::Entity::find_by_id(1).one(db).await?;
    Ok(row.map_or(0, |r| r.pruned_through))
}

/// Deletes the oldest rows written before `cutoff`, at most `batch` of them,
/// and moves the horizon past them; returns how many old rows it found (a
/// full batch means there may be more).
///
/// Only a prefix of the sequence is ever deleted (every row up to the highest
/// one chosen), so "seq <= pruned_through" is exactly what is gone.
pub async fn prune_batch(
    store: &Store,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<u64, StoreError> {
    let oldest: Vec<i64> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Seq)
        .filter(outbox::Column::CreatedAt.lt(cutoff))
        .order_by_asc(outbox::Column::Seq)
        .limit(batch)
        .into_tuple()
        .all(store.db())
        .await?;
    let Some(&through) = oldest.last() else {
        return Ok(0);
    };
    let write = store.begin_write().await?;
    outbox::Entity::delete_many()
        .filter(outbox::Column::Seq.lte(through))
        .exec(&write.txn)
        .await?;
    let horizon = Expr::col(outbox_horizon::Column::PrunedThrough);
    outbox_horizon::Entity::update_many()
        .col_expr(outbox_horizon::Column::PrunedThrough, Expr::value(through))
        .filter(outbox_horizon::Column::Id.eq(1))
        .filter(horizon.lt(through))
        .exec(&write.txn)
        .await?;
    write.commit().await?;
    Ok(oldest.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ordering_statement_names_the_lock_and_the_channel() {
        assert_eq!(ORDER_LOCK_KEY, i64::from_be_bytes(*b"cgoutbox"));
        assert!(ORDER_AND_NOTIFY.contains(&ORDER_LOCK_KEY.to_string()));
        assert!(ORDER_AND_NOTIFY.contains(&format!("'{NOTIFY_CHANNEL}'")));
    }
}
