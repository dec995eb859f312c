//! The in-memory fan-out: subscriptions indexed by what they filter on, each
//! with its own bounded mailbox.
//!
//! The reader publishes every committed event here and never waits for a
//! subscriber. A mailbox holds up to its capacity of events; beyond that,
//! an EVSE status, session or location change replaces the queued change of
//! the same object (conflation, counted in `skipped`), or, for an object
//! with nothing queued, is queued too: what a slow subscriber holds is then
//! bounded by the number of objects its filter selects. A CDR or
//! notification that finds the mailbox full cannot be merged; the mailbox is
//! marked lagged, which ends that subscription with its last cursor so the
//! client resumes from the outbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tokio::sync::Notify;

use super::event::{Event, Kind};
use super::filter::{Filter, IndexKey};
use crate::telemetry::metrics::{LagCounters, Metrics};

/// One event handed to a subscriber.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event.
    pub event: Arc<Event>,
    /// Older events of the same object merged into this one because the
    /// subscriber fell behind.
    pub skipped: u32,
    /// The oldest of those merged events (its "previous" is what the
    /// subscriber saw last).
    pub first_skipped: Option<Arc<Event>>,
}

/// A subscriber fell so far behind that events could not be kept for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subscriber fell behind after cursor {last_seq}")]
pub struct Lagged {
    /// The last sequence number the subscriber was given.
    pub last_seq: i64,
}

/// Subscriptions, indexed, and the position of the last published event.
pub(crate) struct Hub {
    registry: RwLock<Registry>,
    position: AtomicI64,
    capacity: usize,
    metrics: Option<Metrics>,
}

#[derive(Default)]
struct Registry {
    count: usize,
    by_location: HashMap<String, Vec<Arc<Entry>>>,
    by_evse: HashMap<String, Vec<Arc<Entry>>>,
    by_session: HashMap<String, Vec<Arc<Entry>>>,
    by_party: HashMap<String, Vec<Arc<Entry>>>,
    all: Vec<Arc<Entry>>,
}

struct Entry {
    filter: Filter,
    keys: Vec<IndexKey>,
    mailbox: Mailbox,
}

impl Hub {
    /// A hub whose mailboxes hold `capacity` events before conflating, and
    /// which counts conflated and dropped events in `metrics` when given.
    pub(crate) fn new(capacity: usize, metrics: Option<Metrics>) -> Hub {
        Hub {
            registry: RwLock::default(),
            position: AtomicI64::new(0),
            capacity: capacity.max(1),
            metrics,
        }
    }

    /// Sets where publishing starts, before any subscriber registers.
    pub(crate) fn start_at(&self, seq: i64) {
        self.position.store(seq, Ordering::SeqCst);
    }

    /// The highest sequence number published.
    pub(crate) fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// Registers a subscriber of `subscription` (a field name, for the
    /// metrics); it receives every matching event published after the
    /// returned feed's `start`.
    pub(crate) fn register(self: &Arc<Self>, subscription: &str, filter: Filter) -> Feed {
        let counters = self.metrics.as_ref().map(|m| m.lag_counters(subscription));
        let entry = Arc::new(Entry {
            keys: filter.index_keys(),
            filter,
            mailbox: Mailbox::new(self.capacity, counters),
        });
        let mut registry = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Read under the write lock: no publish runs between this and insert.
        let start = self.position();
        registry.insert(&entry);
        drop(registry);
        Feed {
            hub: self.clone(),
            entry,
            start,
        }
    }

    /// Hands events (in sequence order) to every subscriber that wants them.
    pub(crate) fn publish(&self, events: &[Arc<Event>]) {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        for event in events {
            registry.dispatch(event);
            self.position.store(event.seq, Ordering::SeqCst);
        }
    }

    /// How many subscribers are registered.
    pub(crate) fn count(&self) -> usize {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        registry.count
    }

    fn unregister(&self, entry: &Arc<Entry>) {
        let mut registry = self
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        registry.remove(entry);
    }
}

impl Registry {
    fn list(&mut self, key: &IndexKey) -> &mut Vec<Arc<Entry>> {
        match key {
            IndexKey::Location(k) => self.by_location.entry(k.clone()).or_default(),
            IndexKey::Evse(k) => self.by_evse.entry(k.clone()).or_default(),
            IndexKey::Session(k) => self.by_session.entry(k.clone()).or_default(),
            IndexKey::Party(k) => self.by_party.entry(k.clone()).or_default(),
            IndexKey::All => &mut self.all,
        }
    }

    fn insert(&mut self, entry: &Arc<Entry>) {
        for key in &entry.keys {
            self.list(key).push(entry.clone());
        }
        self.count += 1;
    }

    fn remove(&mut self, entry: &Arc<Entry>) {
        for key in &entry.keys {
            let list = self.list(key);
            if let Some(at) = list.iter().position(|e| Arc::ptr_eq(e, entry)) {
                list.swap_remove(at);
            }
            if list.is_empty() {
                self.forget(key);
            }
        }
        self.count -= 1;
    }

    /// Drops an empty index list, so that keys of gone subscribers do not pile up.
    fn forget(&mut self, key: &IndexKey) {
        match key {
            IndexKey::Location(k) => self.by_location.remove(k),
            IndexKey::Evse(k) => self.by_evse.remove(k),
            IndexKey::Session(k) => self.by_session.remove(k),
            IndexKey::Party(k) => self.by_party.remove(k),
            IndexKey::All => None,
        };
    }

    fn dispatch(&self, event: &Arc<Event>) {
        let facts = &event.facts;
        fn keyed<'a>(
            map: &'a HashMap<String, Vec<Arc<Entry>>>,
            key: Option<&String>,
        ) -> &'a [Arc<Entry>] {
            key.and_then(|k| map.get(k))
                .map(Vec::as_slice)
                .unwrap_or_default()
        }
        let party = event.party_id.as_deref().map(crate::domain::party::key);
        let candidates = [
            keyed(&self.by_location, facts.location_id.as_ref()),
            keyed(&self.by_evse, facts.evse_uid.as_ref()),
            keyed(&self.by_session, facts.session_id.as_ref()),
            keyed(&self.by_party, party.as_ref()),
            &self.all,
        ];
        // A subscriber sits in one index only (a list of locations files it
        // under each, but an event names one location), so none gets an
        // event twice.
        for entry in candidates.into_iter().flatten() {
            if entry.filter.matches(event) {
                entry.mailbox.push(event);
            }
        }
    }
}

/// A registered subscriber's end of the fan-out; dropping it unregisters.
pub struct Feed {
    hub: Arc<Hub>,
    entry: Arc<Entry>,
    start: i64,
}

impl Feed {
    /// The position at registration: the feed holds exactly the matching
    /// events after it.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The filter this feed was registered with.
    pub fn filter(&self) -> &Filter {
        &self.entry.filter
    }

    /// Waits for the next event; `Err` once the subscriber has lagged and
    /// everything still queued for it was taken.
    pub async fn next(&self) -> Result<Delivery, Lagged> {
        let mailbox = &self.entry.mailbox;
        loop {
            // Take the permit-holding future before looking, so a push
            // between the look and the wait is not missed.
            let notified = mailbox.notify.notified();
            if let Some(taken) = mailbox.take() {
                return taken;
            }
            notified.await;
        }
    }

    /// Takes the next event if one is queued.
    pub fn try_next(&self) -> Option<Result<Delivery, Lagged>> {
        self.entry.mailbox.take()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.hub.unregister(&self.entry);
    }
}

struct Mailbox {
    state: Mutex<MailboxState>,
    notify: Notify,
    capacity: usize,
    counters: Option<LagCounters>,
}

/// Which object a mergeable event describes: its kind and row.
type ObjectKey = (Kind, i64);

#[derive(Default)]
struct MailboxState {
    /// Queued deliveries by sequence number, so that taking the oldest and
    /// removing a replaced one are both cheap.
    queue: BTreeMap<i64, Delivery>,
    /// The newest queued delivery of each object, by its sequence number.
    newest: HashMap<ObjectKey, i64>,
    lagged: bool,
    last_taken: i64,
}

impl Mailbox {
    fn new(capacity: usize, counters: Option<LagCounters>) -> Mailbox {
        Mailbox {
            state: Mutex::default(),
            notify: Notify::new(),
            capacity,
            counters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, MailboxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, event: &Arc<Event>) {
        let mut state = self.lock();
        if state.lagged {
            self.count(LagCounters::dropped);
            return;
        }
        let key = event.conflation_key();
        let delivery = Delivery {
            event: event.clone(),
            skipped: 0,
            first_skipped: None,
        };
        let delivery = match key {
            _ if state.queue.len() < self.capacity => delivery,
            Some(key) => match state.take_newest(key) {
                Some(older) => {
                    self.count(LagCounters::conflated);
                    merge(delivery, older)
                }
                // The first of its object: queued beyond the capacity.
                None => delivery,
            },
            None => {
                state.lagged = true;
                self.count(LagCounters::dropped);
                tracing::warn!(
                    capacity = self.capacity,
                    last_seq = state.last_taken,
                    "subscriber fell behind; its subscription ends"
                );
                drop(state);
                self.notify.notify_one();
                return;
            }
        };
        state.enqueue(key, delivery);
        drop(state);
        self.notify.notify_one();
    }

    fn count(&self, counter: fn(&LagCounters)) {
        if let Some(counters) = &self.counters {
            counter(counters);
        }
    }

    fn take(&self) -> Option<Result<Delivery, Lagged>> {
        let mut state = self.lock();
        match state.queue.pop_first() {
            Some((seq, delivery)) => {
                if let Some(key) = delivery.event.conflation_key() {
                    if state.newest.get(&key) == Some(&seq) {
                        state.newest.remove(&key);
                    }
                }
                state.last_taken = seq;
                Some(Ok(delivery))
            }
            None if state.lagged => Some(Err(Lagged {
                last_seq: state.last_taken,
            })),
            None => None,
        }
    }
}

impl MailboxState {
    /// Removes and returns the newest queued delivery of this object.
    fn take_newest(&mut self, key: ObjectKey) -> Option<Delivery> {
        let seq = self.newest.remove(&key)?;
        self.queue.remove(&seq)
    }

    /// Queues a delivery at its sequence number, so the queue stays in
    /// sequence order (a merged event goes where its newest part belongs).
    fn enqueue(&mut self, key: Option<ObjectKey>, delivery: Delivery) {
        let seq = delivery.event.seq;
        if let Some(key) = key {
            self.newest.insert(key, seq);
        }
        self.queue.insert(seq, delivery);
    }
}

/// The new delivery, carrying the count of what it replaces.
fn merge(mut delivery: Delivery, older: Delivery) -> Delivery {
    delivery.skipped = older.skipped + 1;
    delivery.first_skipped = older.first_skipped.or(Some(older.event));
    delivery
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::domain::Access;
    use crate::events::event::{Facts, Kind, Kinds};

    fn event(seq: i64, kind: Kind, location: &str, evse_pk: i64) -> Arc<Event> {
        let payload = json!({"location_id": location, "evse_uid": format!("E{evse_pk}"),
            "status": "CHARGING", "cdr_id": format!("C{seq}")});
        Arc::new(Event {
            seq,
            kind,
            created_at: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
            country_code: Some("NL".into()),
            party_id: Some("GFX".into()),
            location_pk: Some(1),
            evse_pk: Some(evse_pk),
            session_pk: None,
            facts: Facts::read(kind, &payload),
            payload,
        })
    }

    fn filter(locations: Option<&[&str]>) -> Filter {
        let kinds = Kinds::of(&[Kind::EvseStatusChanged, Kind::CdrReceived]);
        Filter {
            location_ids: locations.map(|l| l.iter().map(|s| s.to_string()).collect()),
            ..Filter::new(kinds, Access::full())
        }
        .normalized()
    }

    fn drain(feed: &Feed) -> Vec<(i64, u32)> {
        let mut got = Vec::new();
        while let Some(Ok(d)) = feed.try_next() {
            got.push((d.event.seq, d.skipped));
        }
        got
    }

    #[test]
    fn an_event_reaches_only_the_subscribers_it_matches_once_each() {
        let hub = Arc::new(Hub::new(16, None));
        let l1 = hub.register("test", filter(Some(&["L1"])));
        let both = hub.register("test", filter(Some(&["l1", "L2"])));
        let all = hub.register("test", filter(None));
        assert_eq!(hub.count(), 3);

        hub.publish(&[
            event(1, Kind::EvseStatusChanged, "L1", 1),
            event(2, Kind::EvseStatusChanged, "L2", 2),
            event(3, Kind::SessionUpdated, "L1", 1),
        ]);

        assert_eq!(drain(&l1), [(1, 0)]);
        assert_eq!(drain(&both), [(1, 0), (2, 0)]);
        assert_eq!(drain(&all), [(1, 0), (2, 0)]);
        assert_eq!(hub.position(), 3);
        drop(both);
        assert_eq!(hub.count(), 2);
    }

    #[test]
    fn a_registered_feed_starts_after_the_published_position() {
        let hub = Arc::new(Hub::new(16, None));
        hub.start_at(41);
        hub.publish(&[event(42, Kind::EvseStatusChanged, "L1", 1)]);
        let feed = hub.register("test", filter(None));
        assert_eq!(feed.start(), 42);
        hub.publish(&[event(43, Kind::EvseStatusChanged, "L1", 1)]);
        assert_eq!(drain(&feed), [(43, 0)]);
    }

    #[test]
    fn a_full_mailbox_keeps_the_latest_state_per_evse_in_sequence_order() {
        let hub = Arc::new(Hub::new(3, None));
        let feed = hub.register("test", filter(None));
        // EVSE 1 changes four times, EVSE 2 twice; only three fit.
        let events: Vec<_> = [1, 2, 1, 1, 2, 1]
            .into_iter()
            .enumerate()
            .map(|(n, evse)| event(n as i64 + 1, Kind::EvseStatusChanged, "L1", evse))
            .collect();
        hub.publish(&events);

        // Queued after the third: 1(e1) 2(e2) 3(e1). Then 4(e1) replaces 3,
        // 5(e2) replaces 2, 6(e1) replaces 4 (which had replaced 3).
        let taken: Vec<_> = std::iter::from_fn(|| feed.try_next()).collect();
        let seqs: Vec<_> = taken
            .iter()
            .map(|d| {
                let d = d.as_ref().unwrap();
                (
                    d.event.seq,
                    d.skipped,
                    d.first_skipped.as_ref().map(|e| e.seq),
                )
            })
            .collect();
        assert_eq!(seqs, [(1, 0, None), (5, 1, Some(2)), (6, 2, Some(3))]);
    }

    #[test]
    fn more_distinct_evses_than_the_buffer_all_conflate_with_exact_counts() {
        let metrics = Metrics::new();
        let hub = Arc::new(Hub::new(4, Some(metrics.clone())));
        let feed = hub.register("evseStatusChanged", filter(None));
        // Twelve EVSEs (three times the buffer) change three times each
        // while the subscriber reads nothing: seqs 1-12, 13-24, 25-36.
        let events: Vec<_> = (1..=36)
            .map(|seq| event(seq, Kind::EvseStatusChanged, "L1", (seq - 1) % 12 + 1))
            .collect();
        hub.publish(&events);

        let taken: Vec<_> = std::iter::from_fn(|| feed.try_next())
            .map(|d| {
                let d = d.expect("not lagged");
                let first = d.first_skipped.as_ref().map(|e| e.seq);
                (d.event.seq, d.skipped, first)
            })
            .collect();
        let want: Vec<_> = (25..=36).map(|seq| (seq, 2, Some(seq - 24))).collect();
        assert_eq!(taken, want);
        let text = metrics.render();
        assert!(
            text.contains(
                "chargegraph_events_conflated_total{subscription=\"evseStatusChanged\"} 24"
            ),
            "{text}"
        );
        assert!(
            text.contains("chargegraph_events_dropped_total{subscription=\"evseStatusChanged\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn a_drained_mailbox_queues_a_changed_evse_again_before_merging() {
        let hub = Arc::new(Hub::new(2, None));
        let feed = hub.register("test", filter(None));
        let evse = |seq, pk| event(seq, Kind::EvseStatusChanged, "L1", pk);
        hub.publish(&[evse(1, 1), evse(2, 2), evse(3, 1)]);
        assert_eq!(drain(&feed), [(2, 0), (3, 1)]);

        // What was taken is no longer a merge target.
        hub.publish(&[evse(4, 1), evse(5, 2), evse(6, 1), evse(7, 3)]);
        assert_eq!(drain(&feed), [(5, 0), (6, 1), (7, 0)]);
    }

    #[test]
    fn events_that_cannot_merge_end_the_subscription_after_what_was_queued() {
        let metrics = Metrics::new();
        let hub = Arc::new(Hub::new(2, Some(metrics.clone())));
        let feed = hub.register("cdrReceived", filter(None));
        let events: Vec<_> = (1..=4)
            .map(|seq| event(seq, Kind::CdrReceived, "L1", seq))
            .collect();
        hub.publish(&events);

        assert_eq!(feed.try_next().unwrap().unwrap().event.seq, 1);
        assert_eq!(feed.try_next().unwrap().unwrap().event.seq, 2);
        assert_eq!(
            feed.try_next().unwrap().unwrap_err(),
            Lagged { last_seq: 2 }
        );
        hub.publish(&[event(5, Kind::CdrReceived, "L1", 5)]);
        assert_eq!(
            feed.try_next().unwrap().unwrap_err(),
            Lagged { last_seq: 2 }
        );
        // 3 did not fit; 4 and 5 came after the subscription fell behind.
        let text = metrics.render();
        assert!(
            text.contains("chargegraph_events_dropped_total{subscription=\"cdrReceived\"} 3"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_waiting_feed_wakes_on_publish() {
        let hub = Arc::new(Hub::new(4, None));
        let feed = hub.register("test", filter(None));
        let publisher = {
            let hub = hub.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                hub.publish(&[event(1, Kind::EvseStatusChanged, "L1", 1)]);
            })
        };
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), feed.next()).await;
        assert_eq!(got.unwrap().unwrap().event.seq, 1);
        publisher.await.unwrap();
    }
}
