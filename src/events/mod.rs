//! Outbox reader and in-memory fan-out of committed change events.
//!
//! One reader task per process owns the position in the outbox. Ingest wakes
//! it after each commit, so subscribers see only committed rows; a slow poll
//! catches wake-ups that were lost (a crash between commit and wake, another
//! replica's writes). Subscribers only listen to a broadcast channel: an idle
//! subscription costs no SQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, oneshot, watch, Notify};

use crate::store::{read, Store};

/// Events kept for a subscriber that falls behind before it is told it lagged.
const CHANNEL_CAPACITY: usize = 1024;

/// Outbox rows read per query.
const BATCH: u64 = 500;

/// How often the reader looks at the outbox without being woken.
const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// One committed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Outbox sequence number, the subscription cursor.
    pub seq: i64,
    /// `EVSE_STATUS_CHANGED`, `LOCATION_CHANGED`, `SESSION_UPDATED`, ...
    pub kind: String,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// Party country code, as first spelled.
    pub country_code: Option<String>,
    /// Party id, as first spelled.
    pub party_id: Option<String>,
    /// Location row, when the event concerns one.
    pub location_pk: Option<i64>,
    /// EVSE row, when the event concerns one.
    pub evse_pk: Option<i64>,
    /// Session row, when the event concerns one.
    pub session_pk: Option<i64>,
    /// The event JSON; `Null` if the stored text does not parse.
    pub payload: serde_json::Value,
}

/// Handle on the process's outbox reader; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Arc<Event>>,
    wake: Arc<Notify>,
    ready: watch::Receiver<bool>,
    /// Dropped with the last handle, which stops the reader task.
    _stop: oneshot::Sender<()>,
}

impl Events {
    /// Spawns the outbox reader, which starts after the current last row.
    pub fn start(store: Store) -> Events {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        let wake = Arc::new(Notify::new());
        let (ready_tx, ready) = watch::channel(false);
        let (stop, stopped) = oneshot::channel();
        let reader = Reader {
            store,
            sender: sender.clone(),
            wake: wake.clone(),
            last: 0,
        };
        tokio::spawn(reader.run(ready_tx, stopped));
        Events {
            inner: Arc::new(Inner {
                sender,
                wake,
                ready,
                _stop: stop,
            }),
        }
    }

    /// Tells the reader that new outbox rows were committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Receives every event committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.sender.subscribe()
    }

    /// How many subscribers are listening now.
    pub fn subscriber_count(&self) -> usize {
        self.inner.sender.receiver_count()
    }

    /// Waits until the reader knows where the outbox ends, so rows committed
    /// after this returns are certain to be delivered.
    pub async fn ready(&self) {
        let mut ready = self.inner.ready.clone();
        // An error means the reader stopped; there is nothing left to wait for.
        let _ = ready.wait_for(|r| *r).await;
    }
}

/// The single task that reads the outbox in sequence order.
struct Reader {
    store: Store,
    sender: broadcast::Sender<Arc<Event>>,
    wake: Arc<Notify>,
    /// Highest sequence number already broadcast.
    last: i64,
}

impl Reader {
    async fn run(mut self, ready: watch::Sender<bool>, mut stopped: oneshot::Receiver<()>) {
        self.find_start().await;
        let _ = ready.send(true);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
            }
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "outbox read failed, retrying on the next wake");
            }
        }
        tracing::debug!("outbox reader stopped");
    }

    /// Skips what was committed before this process started listening.
    async fn find_start(&mut self) {
        loop {
            match read::outbox_last_seq(self.store.db()).await {
                Ok(last) => {
                    self.last = last.unwrap_or(0);
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot find the end of the outbox");
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            }
        }
    }

    /// Broadcasts every row after `last`, in sequence order.
    async fn drain(&mut self) -> Result<(), crate::store::StoreError> {
        loop {
            let rows = read::outbox_after(self.store.db(), self.last, BATCH).await?;
            let full = rows.len() as u64 == BATCH;
            for row in rows {
                self.last = row.seq;
                // No receivers is not an error: nobody is listening right now.
                let _ = self.sender.send(Arc::new(Event::from_row(row)));
            }
            if !full {
                return Ok(());
            }
        }
    }
}

impl Event {
    fn from_row(row: entity::outbox::Model) -> Event {
        let payload = serde_json::from_str(&row.payload).unwrap_or_else(|err| {
            tracing::warn!(outbox.seq = row.seq, error = %err, "outbox payload is not JSON");
            serde_json::Value::Null
        });
        Event {
            seq: row.seq,
            kind: row.kind,
            created_at: row.created_at,
            country_code: row.country_code,
            party_id: row.party_id,
            location_pk: row.location_pk,
            evse_pk: row.evse_pk,
            session_pk: row.session_pk,
            payload,
        }
    }
}

#[cfg(test)]
mod tests;
