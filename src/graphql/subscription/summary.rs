//! `statusSummaryChanged`: the per-status EVSE counts of a board, kept in
//! memory from a snapshot and the live status events, sent when they change.
//!
//! The board remembers each selected EVSE's status, so a status event is an
//! overwrite rather than a delta (a merged, conflated event stays correct),
//! and an EVSE or location that moves out of the city or area leaves the
//! counts. Only a location moving into the area costs a read: its EVSEs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use async_graphql::{Object, Result};
use futures::{Stream, StreamExt};

use super::feeds::FeedKind;
use super::{failed, lagged};
use crate::events::{Event, Filter, Ids, Item, Kind};
use crate::graphql::query::StatusCount;
use crate::graphql::scalars::EvseStatus;
use crate::store::{snapshot, Store, StoreError};

/// EVSEs per raw status (`None`: no status yet).
type Counts = BTreeMap<Option<String>, i64>;

/// The counts of what a filter selects, now.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSummaryUpdate {
    kind: FeedKind,
    seq: i64,
    counts: Counts,
}

/// Per-status EVSE counts of what the filter selects.
#[Object]
impl StatusSummaryUpdate {
    /// SNAPSHOT for the first (the counts when subscribing), LIVE after.
    async fn kind(&self) -> FeedKind {
        self.kind
    }
    /// The outbox position these counts reflect.
    async fn cursor(&self) -> String {
        self.seq.to_string()
    }
    /// All EVSEs counted (REMOVED ones never are).
    async fn total(&self) -> i64 {
        self.counts.values().sum()
    }
    /// One entry per raw status present, by raw status.
    async fn counts(&self) -> Vec<StatusCount> {
        self.counts
            .iter()
            .map(|(raw, count)| StatusCount {
                status: raw.as_deref().map(EvseStatus::from_raw),
                status_raw: raw.clone(),
                count: *count,
            })
            .collect()
    }
}

/// An EVSE on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    location_pk: i64,
    status: Option<String>,
}

/// The snapshot a board starts from.
pub type Start = (HashMap<i64, Tracked>, HashSet<i64>);

/// Reads the EVSEs a filter selects into a board's start.
pub async fn read_start(
    store: &Store,
    narrow: &snapshot::Narrow,
    filter: &Filter,
) -> Result<(i64, Vec<Start>), StoreError> {
    let (cursor, rows) = snapshot::evses(store, narrow).await?;
    let mut evses = HashMap::new();
    let mut inside = HashSet::new();
    for (evse, location) in rows {
        let ids = Ids {
            country_code: &location.country_code,
            party_id: &location.party_id,
            location_id: Some(&location.ocpi_id),
            ..Ids::default()
        };
        let coordinates = location.latitude_deg.zip(location.longitude_deg);
        if filter.ids_match(&ids) && filter.place_matches(location.city.as_deref(), coordinates) {
            inside.insert(location.id);
            let status = evse.status.clone();
            evses.insert(
                evse.id,
                Tracked {
                    location_pk: location.id,
                    status,
                },
            );
        }
    }
    Ok((cursor, vec![(evses, inside)]))
}

struct Board {
    store: Store,
    filter: Filter,
    evses: HashMap<i64, Tracked>,
    /// Locations inside the city or area.
    inside: HashSet<i64>,
    counts: Counts,
}

impl Board {
    fn set(&mut self, evse_pk: i64, tracked: Option<Tracked>) {
        // A REMOVED EVSE is not counted, as the `statusSummary` query leaves
        // it out by default (OCPI 2.2.1: REMOVED hides an EVSE).
        let removed = EvseStatus::Removed.raw();
        let tracked = tracked.filter(|t| t.status.as_deref() != removed);
        let old = match tracked {
            Some(t) => {
                *self.counts.entry(t.status.clone()).or_default() += 1;
                self.evses.insert(evse_pk, t)
            }
            None => self.evses.remove(&evse_pk),
        };
        if let Some(old) = old {
            if let Some(count) = self.counts.get_mut(&old.status) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(&old.status);
                }
            }
        }
    }

    fn start(&mut self, (evses, inside): Start) {
        self.inside = inside;
        for (pk, tracked) in evses {
            self.set(pk, Some(tracked));
        }
    }

    fn place_matches(&self, event: &Event) -> bool {
        let facts = &event.facts;
        self.filter
            .place_matches(facts.city.as_deref(), facts.coordinates)
    }

    fn status_changed(&mut self, event: &Event) {
        let (Some(evse_pk), Some(location_pk)) = (event.evse_pk, event.location_pk) else {
            return;
        };
        let tracked = self.place_matches(event).then(|| Tracked {
            location_pk,
            status: event.facts.status.clone(),
        });
        self.set(evse_pk, tracked);
    }

    async fn location_changed(&mut self, event: &Event) -> Result<(), StoreError> {
        let Some(location_pk) = event.location_pk else {
            return Ok(());
        };
        let inside = self.place_matches(event);
        if inside == self.inside.contains(&location_pk) {
            return Ok(());
        }
        if inside {
            self.inside.insert(location_pk);
            for evse in snapshot::evses_of(self.store.db(), location_pk).await? {
                let status = evse.status;
                self.set(
                    evse.id,
                    Some(Tracked {
                        location_pk,
                        status,
                    }),
                );
            }
        } else {
            self.inside.remove(&location_pk);
            let leaving: Vec<i64> = self
                .evses
                .iter()
                .filter(|(_, t)| t.location_pk == location_pk)
                .map(|(pk, _)| *pk)
                .collect();
            for pk in leaving {
                self.set(pk, None);
            }
        }
        Ok(())
    }

    /// Applies one item; the counts to send when they changed.
    async fn apply(&mut self, item: Item<Start>) -> Option<Result<StatusSummaryUpdate>> {
        let before = self.counts.clone();
        let (kind, seq) = match item {
            Item::Snapshot { cursor, item } => {
                self.start(item);
                let update = self.update(FeedKind::Snapshot, cursor);
                return Some(Ok(update));
            }
            Item::Live(delivery) => {
                let event = &delivery.event;
                match event.kind {
                    Kind::EvseStatusChanged => self.status_changed(event),
                    Kind::LocationChanged => {
                        if let Err(err) = self.location_changed(event).await {
                            return Some(Err(failed(&err)));
                        }
                    }
                    _ => {}
                }
                (FeedKind::Live, event.seq)
            }
            Item::Lagged(behind) => return Some(Err(lagged(behind))),
            Item::Failed(err) => return Some(Err(failed(&err))),
            Item::Reset { .. } | Item::Replay(_) => return None,
        };
        (self.counts != before).then(|| Ok(self.update(kind, seq)))
    }

    fn update(&self, kind: FeedKind, seq: i64) -> StatusSummaryUpdate {
        StatusSummaryUpdate {
            kind,
            seq,
            counts: self.counts.clone(),
        }
    }
}

/// The board's updates over the items of its feed.
pub fn updates(
    items: impl Stream<Item = Item<Start>> + Send + 'static,
    store: Store,
    filter: Filter,
) -> impl Stream<Item = Result<StatusSummaryUpdate>> + Send {
    let board = Board {
        store,
        filter,
        evses: HashMap::new(),
        inside: HashSet::new(),
        counts: Counts::new(),
    };
    let items: Pin<Box<dyn Stream<Item = Item<Start>> + Send>> = Box::pin(items);
    futures::stream::unfold((items, board), |(mut items, mut board)| async move {
        loop {
            let item = items.next().await?;
            if let Some(update) = board.apply(item).await {
                return Some((update, (items, board)));
            }
        }
    })
}

/// Reading a board's start, as the stream's snapshot step runs it.
type StartRead = Pin<Box<dyn Future<Output = Result<(i64, Vec<Start>), StoreError>> + Send>>;

/// The snapshot step of a board's stream.
pub fn reader(
    store: Store,
    narrow: snapshot::Narrow,
    filter: Filter,
) -> impl FnOnce() -> StartRead + Send + 'static {
    move || Box::pin(async move { read_start(&store, &narrow, &filter).await })
}
