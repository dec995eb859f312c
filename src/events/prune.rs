//! Outbox retention: rows older than the window are deleted in the
//! background, in bounded batches so that no single delete holds the writer
//! for long.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::store::{outbox, Store, StoreError};

/// Rows deleted per transaction.
pub const PRUNE_BATCH: u64 = 1_000;

/// Deletes every outbox row older than `retention`, batch by batch; returns
/// how many were deleted.
pub async fn prune_outbox(store: &Store, retention: Duration) -> Result<u64, StoreError> {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let mut total = 0;
    loop {
        let deleted = outbox::prune_batch(store, cutoff, PRUNE_BATCH).await?;
        total += deleted;
        if deleted < PRUNE_BATCH {
            return Ok(total);
        }
        // Let queued pushes have the writer between batches.
        tokio::task::yield_now().await;
    }
}

/// Prunes every `interval` until `stop` changes or closes.
pub(super) async fn run(
    store: Store,
    retention: Duration,
    interval: Duration,
    mut stop: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match prune_outbox(&store, retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "outbox pruned"),
            Err(err) => tracing::warn!(error = %err, "outbox pruning failed, retrying later"),
        }
    }
}
