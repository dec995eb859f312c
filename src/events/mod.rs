//! Outbox reader, in-memory fan-out of committed change events, replay after
//! a cursor, retention, and the cross-replica wake-up.
//!
//! One reader task per process owns the position in the outbox and reads it
//! in sequence order, which is commit order on both backends (SQLite has one
//! writer; on PostgreSQL every outbox insert holds an advisory lock until
//! commit, see `store::outbox`). Ingest wakes the reader after each commit in
//! this process; on PostgreSQL a LISTEN on the outbox channel wakes it for
//! commits of other replicas too; a slow poll catches any wake-up that was
//! lost. The reader publishes to the fan-out (`hub`), where each subscriber
//! has its own bounded mailbox: an idle subscription costs no SQL, and the
//! database is read again only to replay after a cursor or to snapshot.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DbBackend;
use tokio::sync::{oneshot, watch, Notify};

use crate::store::{outbox, read, Store, StoreError};
use crate::telemetry::metrics::Metrics;

mod event;
mod filter;
mod hub;
mod prune;
mod stream;

pub use event::{Event, Facts, Kind, Kinds};
pub use filter::{Area, Filter, Ids, StatusTest};
pub use hub::{Delivery, Feed, Lagged};
pub use prune::prune_outbox;
pub use stream::{stream, Item, ResetReason, Snapshot, Start};

/// Outbox rows read per query.
const BATCH: u64 = 500;

/// How long start-up waits for the PostgreSQL LISTEN before going on without it.
const LISTEN_READY: Duration = Duration::from_secs(5);

/// Pause before a lost LISTEN connection is opened again.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// How the reader, the fan-out and retention behave.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often the reader looks at the outbox without being woken.
    pub poll_interval: Duration,
    /// Events queued per subscriber before conflation starts.
    pub buffer: usize,
    /// How long outbox rows are kept for replay.
    pub retention: Duration,
    /// How often old outbox rows are pruned.
    pub prune_interval: Duration,
    /// Where the fan-out counts events conflated or dropped for slow
    /// subscribers; `None` counts nothing.
    pub metrics: Option<Metrics>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll_interval: Duration::from_secs(3),
            buffer: 1024,
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(60),
            metrics: None,
        }
    }
}

/// Handle on the process's outbox reader and fan-out; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Arc<hub::Hub>,
    store: Store,
    wake: Arc<Notify>,
    ready: watch::Receiver<bool>,
    settings: Settings,
    /// Dropped with the last handle, which stops the reader, the listener
    /// and the pruner.
    _stop: watch::Sender<()>,
}

impl Events {
    /// Starts the outbox reader with default settings.
    pub fn start(store: Store) -> Events {
        Events::start_with(store, Settings::default())
    }

    /// Spawns the outbox reader (which starts after the current last row) and
    /// the pruner.
    pub fn start_with(store: Store, settings: Settings) -> Events {
        let hub = Arc::new(hub::Hub::new(settings.buffer, settings.metrics.clone()));
        let wake = Arc::new(Notify::new());
        let (ready_tx, ready) = watch::channel(false);
        let (stop, stopped) = watch::channel(());
        let reader = Reader {
            store: store.clone(),
            hub: hub.clone(),
            wake: wake.clone(),
            last: 0,
            poll: settings.poll_interval,
        };
        tokio::spawn(reader.run(ready_tx, stopped.clone()));
        let pruner = prune::run(
            store.clone(),
            settings.retention,
            settings.prune_interval,
            stopped,
        );
        tokio::spawn(pruner);
        Events {
            inner: Arc::new(Inner {
                hub,
                store,
                wake,
                ready,
                settings,
                _stop: stop,
            }),
        }
    }

    /// Tells the reader that new outbox rows were committed.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Registers a subscriber: its feed receives every matching event
    /// published after the feed's `start`. Its conflated and dropped events
    /// are counted under the subscription name `unnamed`.
    pub fn subscribe(&self, filter: Filter) -> Feed {
        self.subscribe_as("unnamed", filter)
    }

    /// Registers a subscriber of the GraphQL field `subscription`, the label
    /// its conflated and dropped events are counted under.
    pub fn subscribe_as(&self, subscription: &str, filter: Filter) -> Feed {
        self.inner.hub.register(subscription, filter)
    }

    /// How many subscribers are listening now.
    pub fn subscriber_count(&self) -> usize {
        self.inner.hub.count()
    }

    /// The highest sequence number handed to the fan-out.
    pub fn position(&self) -> i64 {
        self.inner.hub.position()
    }

    /// The store the outbox is read from.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings the reader runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
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
    hub: Arc<hub::Hub>,
    wake: Arc<Notify>,
    /// Highest sequence number already published.
    last: i64,
    poll: Duration,
}

impl Reader {
    async fn run(mut self, ready: watch::Sender<bool>, mut stop: watch::Receiver<()>) {
        if self.store.backend() == DbBackend::Postgres {
            self.start_listening(stop.clone()).await;
        }
        self.find_start().await;
        self.hub.start_at(self.last);
        let _ = ready.send(true);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %err, "outbox read failed, retrying on the next wake");
            }
        }
        tracing::debug!("outbox reader stopped");
    }

    /// Spawns the LISTEN task and waits (briefly) until it listens, so that
    /// no commit after start-up goes unannounced.
    async fn start_listening(&self, stop: watch::Receiver<()>) {
        let pool = self.store.db().get_postgres_connection_pool().clone();
        let (listening, listening_rx) = oneshot::channel();
        tokio::spawn(listen(pool, self.wake.clone(), stop, listening));
        if tokio::time::timeout(LISTEN_READY, listening_rx)
            .await
            .is_err()
        {
            tracing::warn!("outbox LISTEN not ready; relying on the poll until it is");
        }
    }

    /// Skips what was committed before this process started listening.
    async fn find_start(&mut self) {
        loop {
            match outbox::position(self.store.db()).await {
                Ok(last) => {
                    self.last = last;
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot find the end of the outbox");
                    tokio::time::sleep(self.poll).await;
                }
            }
        }
    }

    /// Publishes every row after `last`, in sequence order.
    async fn drain(&mut self) -> Result<(), StoreError> {
        loop {
            let rows = read::outbox_after(self.store.db(), self.last, BATCH).await?;
            let full = rows.len() as u64 == BATCH;
            let events: Vec<Arc<Event>> = rows
                .into_iter()
                .map(|row| Arc::new(Event::from_row(row)))
                .collect();
            if let Some(last) = events.last() {
                self.last = last.seq;
                self.hub.publish(&events);
            }
            if !full {
                return Ok(());
            }
        }
    }
}

/// Wakes the reader on every NOTIFY of the outbox channel (sent inside each
/// ingest transaction, delivered at commit), reconnecting when the connection
/// drops. Notifications sent while it is not listening are lost: each
/// (re)connection wakes the reader once it listens, so that it catches up by
/// cursor what was announced in between.
async fn listen(
    pool: sqlx::PgPool,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<()>,
    listening: oneshot::Sender<()>,
) {
    let mut listening = Some(listening);
    loop {
        match listen_once(&pool, &wake, &mut stop, &mut listening).await {
            Ok(()) => return,
            Err(err) => tracing::warn!(error = %err, "outbox LISTEN lost, reconnecting"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(LISTEN_RETRY) => {}
        }
    }
}

/// Listens until `stop` (`Ok`) or until the connection fails or drops (`Err`).
async fn listen_once(
    pool: &sqlx::PgPool,
    wake: &Notify,
    stop: &mut watch::Receiver<()>,
    listening: &mut Option<oneshot::Sender<()>>,
) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(outbox::NOTIFY_CHANNEL).await?;
    if let Some(ready) = listening.take() {
        let _ = ready.send(());
    }
    // Whatever committed before this LISTEN was not announced to it.
    wake.notify_one();
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            received = listener.try_recv() => match received? {
                Some(_) => wake.notify_one(),
                // The connection dropped. sqlx would LISTEN again on the next
                // call, without telling when; reconnecting here wakes the
                // reader after listening again.
                None => return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the LISTEN connection dropped",
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests;
