//! The in-memory fan-out: subscriptions indexed by what they filter on, each
//! with its own bounded mailbox.
//!
//! The reader publishes every committed event here and never waits for a
//! subscriber: a mailbox that is full keeps only the newest state of each
//! EVSE, session or location (conflation, counted in `skipped`), and one that
//! still has no room is marked lagged, which ends that subscription with its
//! last cursor so the client resumes from the outbox.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tokio::sync::Notify;

use super::event::Event;
use super::filter::{Filter, IndexKey};

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
    pub(crate) fn new(capacity: usize) -> Hub {
        Hub {
            registry: RwLock::default(),
            position: AtomicI64::new(0),
            capacity: capacity.max(1),
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

    /// Registers a subscriber; it receives every matching event published
    /// after the returned feed's `start`.
    pub(crate) fn register(self: &Arc<Self>, filter: Filter) -> Feed {
        let entry = Arc::new(Entry {
            keys: filter.index_keys(),
            filter,
            mailbox: Mailbox::new(self.capacity),
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
}

#[derive(Default)]
struct MailboxState {
    queue: VecDeque<Delivery>,
    lagged: bool,
    last_taken: i64,
}

impl Mailbox {
    fn new(capacity: usize) -> Mailbox {
        Mailbox {
            state: Mutex::default(),
            notify: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, MailboxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, event: &Arc<Event>) {
        let mut state = self.lock();
        if state.lagged {
            return;
        }
        let delivery = Delivery {
            event: event.clone(),
            skipped: 0,
            first_skipped: None,
        };
        if state.queue.len() < self.capacity {
            state.queue.push_back(delivery);
        } else if let Some(merged) = state.conflate(delivery) {
            // The queue stays in sequence order: the merged event goes last.
            state.queue.push_back(merged);
        } else {
            state.lagged = true;
            tracing::warn!(
                capacity = self.capacity,
                last_seq = state.last_taken,
                "subscriber fell behind; its subscription ends"
            );
        }
        drop(state);
        self.notify.notify_one();
    }

    fn take(&self) -> Option<Result<Delivery, Lagged>> {
        let mut state = self.lock();
        match state.queue.pop_front() {
            Some(delivery) => {
                state.last_taken = delivery.event.seq;
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
    /// Removes the queued event of the same object and returns the new one
    /// carrying the count of what it replaces; `None` if nothing can merge.
    fn conflate(&mut self, mut delivery: Delivery) -> Option<Delivery> {
        let key = delivery.event.conflation_key()?;
        let at = self
            .queue
            .iter()
            .rposition(|queued| queued.event.conflation_key() == Some(key))?;
        let older = self.queue.remove(at)?;
        delivery.skipped = older.skipped + 1;
        delivery.first_skipped = older.first_skipped.or(Some(older.event));
        Some(delivery)
    }
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
        let hub = Arc::new(Hub::new(16));
        let l1 = hub.register(filter(Some(&["L1"])));
        let both = hub.register(filter(Some(&["l1", "L2"])));
        let all = hub.register(filter(None));
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
        let hub = Arc::new(Hub::new(16));
        hub.start_at(41);
        hub.publish(&[event(42, Kind::EvseStatusChanged, "L1", 1)]);
        let feed = hub.register(filter(None));
        assert_eq!(feed.start(), 42);
        hub.publish(&[event(43, Kind::EvseStatusChanged, "L1", 1)]);
        assert_eq!(drain(&feed), [(43, 0)]);
    }

    #[test]
    fn a_full_mailbox_keeps_the_latest_state_per_evse_in_sequence_order() {
        let hub = Arc::new(Hub::new(3));
        let feed = hub.register(filter(None));
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
    fn events_that_cannot_merge_end_the_subscription_after_what_was_queued() {
        let hub = Arc::new(Hub::new(2));
        let feed = hub.register(filter(None));
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
    }

    #[tokio::test]
    async fn a_waiting_feed_wakes_on_publish() {
        let hub = Arc::new(Hub::new(4));
        let feed = hub.register(filter(None));
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
