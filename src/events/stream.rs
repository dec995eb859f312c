//! One subscription's stream: an optional snapshot or replay from the outbox,
//! then the live feed, joined without a gap or a duplicate.
//!
//! The live feed is registered first, so it holds every matching event after
//! its start position. A replay reads the outbox from the client's cursor up
//! to that position; a snapshot is read in one transaction together with the
//! outbox position it reflects, and live events up to that position are
//! dropped as already contained in it. A replay that the pruner overtakes
//! (checked after every batch) turns into a RESET and a snapshot, never a
//! silent gap.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use futures::Stream;

use super::event::Event;
use super::hub::{Delivery, Feed, Lagged};
use super::Events;
use crate::store::{outbox, StoreError};

/// Outbox rows read per replay query.
const REPLAY_BATCH: u64 = 500;

/// Where a subscription begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With what commits from now on.
    Live,
    /// With the current state of what the filter selects.
    Snapshot,
    /// With every matching event after this cursor.
    After(i64),
}

/// Why a cursor could not be resumed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// Events after it were pruned (older than the retention window).
    Pruned,
    /// It is beyond anything this outbox has written.
    Unknown,
}

/// One item of a subscription's stream.
#[derive(Debug)]
pub enum Item<S> {
    /// The cursor cannot be resumed from; a fresh snapshot follows.
    Reset {
        /// Position the snapshot reflects.
        cursor: i64,
        /// Why.
        reason: ResetReason,
    },
    /// Part of the current state, read at `cursor`.
    Snapshot {
        /// Position the snapshot reflects.
        cursor: i64,
        /// The state of one object.
        item: S,
    },
    /// A missed event, read back from the outbox.
    Replay(Arc<Event>),
    /// An event as it commits.
    Live(Delivery),
    /// The subscriber fell behind; the stream ends here.
    Lagged(Lagged),
    /// The store failed; the stream ends here.
    Failed(Arc<StoreError>),
}

/// A snapshot: the outbox position it reflects and the state of each object.
pub type Snapshot<S> = (i64, Vec<S>);

/// Builds the stream of a subscription registered as `feed`.
pub fn stream<S, F, Fut>(
    events: &Events,
    feed: Feed,
    start: Start,
    snapshot: F,
) -> impl Stream<Item = Item<S>> + Send + use<S, F, Fut>
where
    S: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Snapshot<S>, StoreError>> + Send,
{
    let state = State {
        events: events.clone(),
        last: feed.start(),
        feed,
        phase: Phase::Begin(start),
        snapshot: Some(snapshot),
        pending: VecDeque::new(),
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.step().await?;
        Some((item, state))
    })
}

/// Why the cursor cannot be resumed from by a feed that started at `start`, if it cannot.
async fn check(
    events: &Events,
    start: i64,
    cursor: i64,
) -> Result<Option<ResetReason>, StoreError> {
    let db = events.store().db();
    if cursor < outbox::pruned_through(db).await? {
        return Ok(Some(ResetReason::Pruned));
    }
    if cursor > start && cursor > outbox::position(db).await? {
        return Ok(Some(ResetReason::Unknown));
    }
    Ok(None)
}

struct State<S, F> {
    events: Events,
    feed: Feed,
    /// Highest sequence number handed out (or contained in the snapshot).
    last: i64,
    phase: Phase,
    snapshot: Option<F>,
    pending: VecDeque<Item<S>>,
}

enum Phase {
    Begin(Start),
    Replay { from: i64, upto: i64 },
    Live,
    Done,
}

impl<S, F, Fut> State<S, F>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Snapshot<S>, StoreError>>,
{
    async fn step(&mut self) -> Option<Item<S>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            let result = match self.phase {
                // Boxed: an idle subscription waits in `live`, and its
                // stream should not carry the room these reads need.
                Phase::Begin(start) => Box::pin(self.begin(start)).await,
                Phase::Replay { from, upto } => Box::pin(self.replay(from, upto)).await,
                Phase::Live => return self.live().await,
                Phase::Done => return None,
            };
            if let Err(err) = result {
                tracing::warn!(error = %err, "subscription could not read the outbox");
                self.phase = Phase::Done;
                return Some(Item::Failed(Arc::new(err)));
            }
        }
    }

    async fn begin(&mut self, start: Start) -> Result<(), StoreError> {
        match start {
            Start::Live => self.phase = Phase::Live,
            Start::Snapshot => self.take_snapshot(None).await?,
            Start::After(cursor) => match check(&self.events, self.feed.start(), cursor).await? {
                Some(reason) => self.take_snapshot(Some(reason)).await?,
                None => {
                    // A cursor this replica's reader has not reached yet is
                    // valid (another replica gave it): nothing to replay,
                    // and live events up to it are dropped.
                    let upto = self.feed.start();
                    self.last = cursor;
                    self.phase = Phase::Replay { from: cursor, upto };
                }
            },
        }
        Ok(())
    }

    async fn take_snapshot(&mut self, reset: Option<ResetReason>) -> Result<(), StoreError> {
        let Some(read) = self.snapshot.take() else {
            self.phase = Phase::Live;
            return Ok(());
        };
        let (cursor, items) = read().await?;
        if let Some(reason) = reset {
            self.pending.push_back(Item::Reset { cursor, reason });
        }
        let items = items
            .into_iter()
            .map(|item| Item::Snapshot { cursor, item });
        self.pending.extend(items);
        self.last = self.last.max(cursor);
        self.phase = Phase::Live;
        Ok(())
    }

    /// Replays one batch after `from`. The pruner deletes a prefix of the
    /// outbox and moves its horizon in one transaction, and only forward: a
    /// horizon still at or below `from` after the batch was read means
    /// nothing after `from` was missing from it.
    async fn replay(&mut self, from: i64, upto: i64) -> Result<(), StoreError> {
        let filter = self.feed.filter();
        let kinds = filter.kinds.names();
        let db = self.events.store().db();
        let rows = outbox::range(db, from, upto, &kinds, REPLAY_BATCH).await?;
        if outbox::pruned_through(db).await? > from {
            return self.take_snapshot(Some(ResetReason::Pruned)).await;
        }
        let Some(last_row) = rows.last().map(|r| r.seq) else {
            self.phase = Phase::Live;
            return Ok(());
        };
        for row in rows {
            let event = Event::from_row(row);
            if filter.matches(&event) {
                self.last = event.seq;
                self.pending.push_back(Item::Replay(Arc::new(event)));
            }
        }
        self.phase = Phase::Replay {
            from: last_row,
            upto,
        };
        Ok(())
    }

    async fn live(&mut self) -> Option<Item<S>> {
        loop {
            match self.feed.next().await {
                Ok(delivery) if delivery.event.seq <= self.last => continue,
                Ok(delivery) => {
                    self.last = delivery.event.seq;
                    return Some(Item::Live(delivery));
                }
                Err(lagged) => {
                    self.phase = Phase::Done;
                    return Some(Item::Lagged(lagged));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use futures::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::events::{Filter, Kind, Kinds};
    use crate::store::outbox::NewEvent;
    use crate::store::testdb::TestDb;

    fn cdr(n: usize) -> NewEvent {
        NewEvent {
            kind: "CDR_RECEIVED",
            country_code: "NL".into(),
            party_id: "GFX".into(),
            location_pk: None,
            evse_pk: None,
            session_pk: None,
            payload: json!({"cdr_id": format!("C{n}")}),
        }
    }

    #[tokio::test]
    async fn a_replay_overtaken_by_the_pruner_resets_instead_of_skipping() {
        let db = TestDb::create().await;
        let store = db.store().await;
        let rows: Vec<NewEvent> = (1..=1200).map(cdr).collect();
        outbox::insert_all(store.db(), rows).await.unwrap();
        let events = Events::start(store.clone());
        events.ready().await;
        let feed = events.subscribe(Filter::new(
            Kinds::of(&[Kind::CdrReceived]),
            crate::domain::Access::full(),
        ));
        assert_eq!(feed.start(), 1200);
        let snapshot = || async { Ok::<Snapshot<()>, StoreError>((1200, Vec::new())) };
        let mut items = Box::pin(stream(&events, feed, Start::After(0), snapshot));

        // The first batch (seqs 1-500) is read; then the pruner deletes
        // 1-1000 while the client is still taking it.
        let first = items.next().await;
        assert!(matches!(first, Some(Item::Replay(ref e)) if e.seq == 1));
        let future = Utc::now() + chrono::Duration::hours(1);
        let pruned = outbox::prune_batch(&store, future, 1000).await.unwrap();
        assert_eq!(pruned, 1000);

        let mut rest = Vec::new();
        while let Ok(Some(item)) =
            tokio::time::timeout(Duration::from_millis(200), items.next()).await
        {
            rest.push(match item {
                Item::Replay(event) => format!("replay {}", event.seq),
                Item::Reset { cursor, reason } => format!("reset {cursor} {reason:?}"),
                other => format!("{other:?}"),
            });
        }
        let mut want: Vec<String> = (2..=500).map(|seq| format!("replay {seq}")).collect();
        want.push("reset 1200 Pruned".into());
        assert_eq!(rest, want);
    }
}
