//! Inbox retention: one background task per server deletes inbox rows older
//! than the configured retention, at start and then hourly, in bounded
//! batches (`store::inbox::prune`). It is started with the server's state
//! and stopped when the server stops serving.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::store::{inbox, Store, StoreError};

/// Rows deleted per write transaction.
pub const PRUNE_BATCH: u64 = 500;

/// How often the task prunes after the pass at start.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Why a prune pass asked for did not run.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The pruner was stopped.
    #[error("the inbox pruner has stopped")]
    Stopped,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Reply = oneshot::Sender<Result<u64, StoreError>>;

/// The running task: its stop signal and its handle, taken by `stop`.
type Running = Option<(oneshot::Sender<()>, JoinHandle<()>)>;

/// Handle on the pruning task; cheap to clone.
#[derive(Clone)]
pub struct Pruner {
    requests: mpsc::Sender<Reply>,
    task: Arc<Mutex<Running>>,
}

impl Pruner {
    /// Spawns the task; `retention: None` keeps rows forever (the task then
    /// only answers `prune_now` with 0).
    pub fn start(store: Store, retention: Option<Duration>) -> Pruner {
        let (requests, received) = mpsc::channel(4);
        let (stop, stopped) = oneshot::channel();
        let task = Task { store, retention };
        let handle = tokio::spawn(task.run(received, stopped));
        Pruner {
            requests,
            task: Arc::new(Mutex::new(Some((stop, handle)))),
        }
    }

    /// Runs one pass on the task now and says how many rows it deleted.
    pub async fn prune_now(&self) -> Result<u64, PruneError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(reply)
            .await
            .map_err(|_| PruneError::Stopped)?;
        Ok(answer.await.map_err(|_| PruneError::Stopped)??)
    }

    /// Stops the task and waits for it to end; a pass in progress ends at
    /// once, its open batch rolled back and the batches before it kept.
    pub async fn stop(&self) {
        let Some((stop, handle)) = self.task.lock().await.take() else {
            return;
        };
        let _ = stop.send(());
        if let Err(err) = handle.await {
            tracing::error!(error = %err, "inbox pruner ended abnormally");
        }
    }
}

struct Task {
    store: Store,
    retention: Option<Duration>,
}

impl Task {
    async fn run(self, mut requests: mpsc::Receiver<Reply>, mut stopped: oneshot::Receiver<()>) {
        let first_tick = tokio::time::Instant::now() + PRUNE_INTERVAL;
        let mut tick = tokio::time::interval_at(first_tick, PRUNE_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The pass at start, then one per tick or asked for; a stop drops the
        // pass in progress, whose open batch then rolls back.
        let mut due: Option<Option<Reply>> = Some(None);
        loop {
            if let Some(reply) = due.take() {
                let result = tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    result = self.pass() => result,
                };
                match (reply, result) {
                    (Some(reply), result) => {
                        let _ = reply.send(result);
                    }
                    (None, Err(err)) => {
                        tracing::warn!(error = %err, "inbox prune failed; retrying at the next tick");
                    }
                    (None, Ok(_)) => {}
                }
            }
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                _ = tick.tick() => due = Some(None),
                request = requests.recv() => match request {
                    Some(reply) => due = Some(Some(reply)),
                    None => break,
                },
            }
        }
        tracing::debug!("inbox pruner stopped");
    }

    async fn pass(&self) -> Result<u64, StoreError> {
        let Some(retention) = self.retention else {
            return Ok(0);
        };
        let Ok(retention) = chrono::Duration::from_std(retention) else {
            return Ok(0);
        };
        let Some(before) = Utc::now().checked_sub_signed(retention) else {
            return Ok(0);
        };
        let deleted = inbox::prune(&self.store, before, PRUNE_BATCH).await?;
        if deleted > 0 {
            tracing::info!(deleted, before = %before, "inbox rows past retention pruned");
        }
        Ok(deleted)
    }
}
