//! The background side of reconciliation in `serve`: one task per CPO
//! pulls it on its schedule (every `interval_hours` after its last run, plus
//! a random splay, as OCPI advises low polling with splay), and one worker
//! drains the heal queue whenever a push asks and at every poll. Both are
//! started with the server's state and stopped when it stops serving.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{heal_locations, run_once, CpoConfig, HealTarget, RunOptions, Trigger};
use crate::domain::Party;
use crate::events::Events;
use crate::store::reconcile::{self as runs, HealQueue};
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// How long a claimed heal is left to its worker before another may take it.
const HEAL_LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// The least wait after a scheduled run that failed on our side.
const FAILED_RUN_PAUSE: Duration = Duration::from_secs(60);

/// Heals claimed per CPO per pass.
const HEAL_BATCH: u64 = 50;

/// Tries of one heal before it is marked failed.
const HEAL_TRIES: i32 = 5;

/// What the background tasks work with.
#[derive(Clone)]
pub struct Background {
    /// The database.
    pub store: Store,
    /// Woken after commits that emitted events.
    pub events: Events,
    /// Where runs are counted.
    pub metrics: Metrics,
    /// The CPOs to pull.
    pub cpos: Vec<CpoConfig>,
    /// The queue the receiver fills.
    pub heal: HealQueue,
    /// How often the heal queue is read without a wake-up.
    pub heal_poll: Duration,
}

/// Handle on the background tasks; cheap to clone.
#[derive(Clone, Default)]
pub struct Reconciler {
    running: Arc<Mutex<Option<(CancellationToken, TaskTracker)>>>,
}

impl Reconciler {
    /// Starts the schedule of every CPO with an interval, and the heal
    /// worker; nothing when no CPO is configured.
    pub fn start(background: Background) -> Reconciler {
        if background.cpos.is_empty() {
            return Reconciler::default();
        }
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        for cpo in background.cpos.iter().filter(|c| c.interval_hours > 0) {
            let task = scheduled(background.clone(), cpo.clone(), cancel.clone());
            tracker.spawn(task);
        }
        tracker.spawn(heal_worker(background, cancel.clone()));
        tracker.close();
        Reconciler {
            running: Arc::new(Mutex::new(Some((cancel, tracker)))),
        }
    }

    /// Stops the tasks and waits for them; a run in progress ends where it
    /// is (every object applied so far stays applied; its report keeps no
    /// finish time).
    pub async fn stop(&self) {
        let Some((cancel, tracker)) = self.running.lock().await.take() else {
            return;
        };
        cancel.cancel();
        tracker.wait().await;
        tracing::debug!("reconciliation stopped");
    }
}

/// Pulls one CPO on its schedule until cancelled.
async fn scheduled(background: Background, cpo: CpoConfig, cancel: CancellationToken) {
    loop {
        let wait = match next_wait(&background.store, &cpo).await {
            Ok(wait) => wait,
            Err(err) => {
                tracing::warn!(cpo = %cpo.name, error = %err, "cannot read the last reconciliation run");
                Duration::from_secs(60)
            }
        };
        tracing::debug!(cpo = %cpo.name, wait_secs = wait.as_secs(), "next scheduled pull");
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let options = RunOptions {
            trigger: Trigger::Scheduled,
            metrics: Some(background.metrics.clone()),
            ..RunOptions::default()
        };
        let run = run_once(&background.store, &background.events, &cpo, &options);
        tokio::select! {
            _ = cancel.cancelled() => return,
            result = run => if let Err(err) = result {
                tracing::error!(cpo = %cpo.name, error = %err, "scheduled reconciliation failed");
                // A run that failed before it was recorded (the store is
                // down) is not tried again at once.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(FAILED_RUN_PAUSE) => {}
                }
            }
        }
    }
}

/// The wait before a CPO's next scheduled pull: what is left of its
/// interval since its last run started (nothing before the first), plus a
/// random splay.
async fn next_wait(store: &Store, cpo: &CpoConfig) -> Result<Duration, StoreError> {
    let interval =
        chrono::Duration::try_hours(cpo.interval_hours as i64).unwrap_or(chrono::Duration::MAX);
    let last = runs::last_started(store.db(), &cpo.name).await?;
    let left = last
        .and_then(|at| at.checked_add_signed(interval))
        .map(|due| due - Utc::now())
        .and_then(|left| left.to_std().ok())
        .unwrap_or(Duration::ZERO);
    let splay_secs = cpo.splay_minutes.saturating_mul(60);
    let splay = rand::thread_rng().gen_range(0..=splay_secs);
    Ok(left + Duration::from_secs(splay))
}

/// Drains the heal queue at start, when a push asks, and at every poll.
async fn heal_worker(background: Background, cancel: CancellationToken) {
    loop {
        for cpo in &background.cpos {
            let pass = heal_pass(&background, cpo);
            tokio::select! {
                _ = cancel.cancelled() => return,
                result = pass => if let Err(err) = result {
                    tracing::warn!(cpo = %cpo.name, error = %err, "location heal pass failed");
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = background.heal.requested() => {}
            _ = tokio::time::sleep(background.heal_poll) => {}
        }
    }
}

/// Claims the CPO's due heals and pulls those locations in one run.
async fn heal_pass(background: &Background, cpo: &CpoConfig) -> Result<(), super::ReconcileError> {
    let parties: Vec<Party> = cpo.party_list().unwrap_or_default();
    if parties.is_empty() {
        return Ok(());
    }
    let lease_until = Utc::now() + HEAL_LEASE;
    let rows = runs::claim_heals(&background.store, &parties, lease_until, HEAL_BATCH).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let targets: Vec<HealTarget> = rows
        .iter()
        .map(|r| HealTarget {
            party: Party::new(&r.country_code, &r.party_id),
            location_id: r.location_id.clone(),
        })
        .collect();
    let store = &background.store;
    let metrics = Some(&background.metrics);
    let (report, outcomes) =
        heal_locations(store, &background.events, cpo, &targets, metrics).await?;
    for (row, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            Ok(()) => runs::heal_done(store, row.id, report.run_id).await?,
            Err(why) => {
                let tries = row.attempts + 1;
                let retry_at = (tries < HEAL_TRIES).then(|| Utc::now() + retry_delay(tries));
                runs::heal_failed(store, row.id, &why, retry_at).await?;
            }
        }
    }
    Ok(())
}

/// One minute after the first failed try, doubling, at most an hour.
fn retry_delay(tries: i32) -> chrono::Duration {
    let minutes = 1i64 << tries.clamp(1, 7).saturating_sub(1);
    chrono::Duration::minutes(minutes.min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_heals_wait_longer_each_time_up_to_an_hour() {
        let minutes: Vec<i64> = (1..=8).map(|t| retry_delay(t).num_minutes()).collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
