//! DataLoaders: each list level of a query costs one statement, not one per row.
//!
//! A nested connection (an EVSE's status history, a session's timeline, the
//! sessions of a location) is loaded for all parents of a level at once: the
//! key carries the page window, and parents asking for the same window share
//! one windowed statement (ROW_NUMBER per parent).

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use chrono::{DateTime, Utc};
use entity::{cdr, charging_period, connector, evse, evse_status_history, session};
use entity::{session_event, tariff};

use crate::store::read::{self, Place, SessionRef, TariffRef, Window};
use crate::store::{Store, StoreError};

/// Shared by every loader: errors are cloned to each waiting resolver.
pub type LoadError = Arc<StoreError>;

/// Groups keys `(parent, args)` by their args, keeping parents in order.
fn by_args<P: Clone, A: Clone + Eq + Hash>(keys: &[(P, A)]) -> Vec<(A, Vec<P>)> {
    let mut groups: Vec<(A, Vec<P>)> = Vec::new();
    for (parent, args) in keys {
        match groups.iter_mut().find(|(a, _)| a == args) {
            Some((_, parents)) => parents.push(parent.clone()),
            None => groups.push((args.clone(), vec![parent.clone()])),
        }
    }
    groups
}

/// Rows grouped under the key each belongs to.
fn grouped<K: Eq + Hash, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut map: HashMap<K, Vec<V>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

/// Rows of any table by row id.
pub struct ById<E>(pub Store, PhantomData<fn() -> E>);

impl<E> ById<E> {
    /// A loader over this store.
    pub fn new(store: Store) -> ById<E> {
        ById(store, PhantomData)
    }
}

impl<E> Loader<i64> for ById<E>
where
    E: read::ById + Send + Sync + 'static,
    E::Model: Clone + Send + Sync + 'static,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::by_ids::<E>(self.0.db(), keys).await?;
        Ok(rows.into_iter().map(|row| (E::id_of(&row), row)).collect())
    }
}

/// The EVSEs of each location, by location row id.
pub struct EvsesByLocation(pub Store);

impl Loader<i64> for EvsesByLocation {
    type Value = Vec<evse::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::evses_of_locations(self.0.db(), keys).await?;
        Ok(grouped(rows, |r| r.location_pk))
    }
}

/// The connectors of each EVSE, by EVSE row id.
pub struct ConnectorsByEvse(pub Store);

impl Loader<i64> for ConnectorsByEvse {
    type Value = Vec<connector::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::connectors_of_evses(self.0.db(), keys).await?;
        Ok(grouped(rows, |r| r.evse_pk))
    }
}

/// EVSE counts per raw status of each location.
pub struct StatusCountsByLocation(pub Store);

impl Loader<i64> for StatusCountsByLocation {
    type Value = Vec<(Option<String>, i64)>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::evse_status_counts_of(self.0.db(), keys).await?;
        let mut map: HashMap<i64, Self::Value> = HashMap::new();
        for (location_pk, status, count) in rows {
            map.entry(location_pk).or_default().push((status, count));
        }
        Ok(map)
    }
}

/// A page of each EVSE's status history, by (EVSE row id, window).
pub struct StatusHistoryPages(pub Store);

impl Loader<(i64, Window)> for StatusHistoryPages {
    type Value = Vec<evse_status_history::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(i64, Window)],
    ) -> Result<HashMap<(i64, Window), Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (window, evses) in by_args(keys) {
            let rows = read::status_history_pages(self.0.db(), &evses, &window).await?;
            for (evse, rows) in grouped(rows, |r| r.evse_pk) {
                out.insert((evse, window.clone()), rows);
            }
        }
        Ok(out)
    }
}

/// How many status changes each EVSE has.
pub struct StatusHistoryCounts(pub Store);

impl Loader<i64> for StatusHistoryCounts {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        let rows = read::status_history_counts(self.0.db(), keys).await?;
        Ok(rows.into_iter().collect())
    }
}

/// The history an availability needs: (EVSE row id, from, to).
pub struct AvailabilityHistory(pub Store);

/// A time range `[from, to)`.
type Range = (DateTime<Utc>, DateTime<Utc>);

/// An availability's key: the EVSE and the range.
pub type AvailabilityKey = (i64, DateTime<Utc>, DateTime<Utc>);

impl Loader<AvailabilityKey> for AvailabilityHistory {
    type Value = Vec<evse_status_history::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[AvailabilityKey],
    ) -> Result<HashMap<AvailabilityKey, Self::Value>, Self::Error> {
        let pairs: Vec<(i64, Range)> = keys.iter().map(|(e, f, t)| (*e, (*f, *t))).collect();
        let mut out = HashMap::new();
        for ((from, to), evses) in by_args(&pairs) {
            let rows = read::status_history_for_availability(self.0.db(), &evses, from, to).await?;
            for (evse, rows) in grouped(rows, |r| r.evse_pk) {
                out.insert((evse, from, to), rows);
            }
        }
        Ok(out)
    }
}

/// A timeline page's key: the session, whether ignored pushes are shown, the window.
pub type TimelineKey = (i64, bool, Window);

/// A page of each session's timeline.
pub struct TimelinePages(pub Store);

impl Loader<TimelineKey> for TimelinePages {
    type Value = Vec<session_event::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[TimelineKey],
    ) -> Result<HashMap<TimelineKey, Self::Value>, Self::Error> {
        let pairs: Vec<(i64, (bool, Window))> =
            keys.iter().map(|(s, i, w)| (*s, (*i, w.clone()))).collect();
        let mut out = HashMap::new();
        for ((ignored, window), sessions) in by_args(&pairs) {
            let rows = read::timeline_pages(self.0.db(), &sessions, ignored, &window).await?;
            for (session, rows) in grouped(rows, |r| r.session_pk) {
                out.insert((session, ignored, window.clone()), rows);
            }
        }
        Ok(out)
    }
}

/// How many timeline entries each session has: (session, ignored pushes shown).
pub struct TimelineCounts(pub Store);

impl Loader<(i64, bool)> for TimelineCounts {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[(i64, bool)]) -> Result<HashMap<(i64, bool), i64>, Self::Error> {
        let mut out = HashMap::new();
        for (ignored, sessions) in by_args(keys) {
            let rows = read::timeline_counts(self.0.db(), &sessions, ignored).await?;
            out.extend(rows.into_iter().map(|(s, n)| ((s, ignored), n)));
        }
        Ok(out)
    }
}

/// Every applied push of each session, for charging curves.
pub struct AppliedEvents(pub Store);

impl Loader<i64> for AppliedEvents {
    type Value = Vec<session_event::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::applied_events_of(self.0.db(), keys).await?;
        Ok(grouped(rows, |r| r.session_pk))
    }
}

/// The charging periods of each session.
pub struct ChargingPeriods(pub Store);

impl Loader<i64> for ChargingPeriods {
    type Value = Vec<charging_period::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = read::charging_periods_of(self.0.db(), keys).await?;
        Ok(grouped(rows, |r| r.session_pk))
    }
}

/// Sessions by (party, session id): a CDR's `session`.
pub struct SessionsByRef(pub Store);

impl Loader<SessionRef> for SessionsByRef {
    type Value = session::Model;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[SessionRef],
    ) -> Result<HashMap<SessionRef, Self::Value>, Self::Error> {
        let rows = read::sessions_by_refs(self.0.db(), keys).await?;
        Ok(rows
            .into_iter()
            .map(|r| (SessionRef::new(&r.country_code, &r.party_id, &r.ocpi_id), r))
            .collect())
    }
}

/// The CDRs of each session, by (party, session id): a session's `cdr`.
pub struct CdrsBySession(pub Store);

impl Loader<SessionRef> for CdrsBySession {
    type Value = Vec<cdr::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[SessionRef],
    ) -> Result<HashMap<SessionRef, Self::Value>, Self::Error> {
        let rows = read::cdrs_of_sessions(self.0.db(), keys).await?;
        Ok(grouped(rows, |r| {
            let session = r.session_id.as_deref().unwrap_or_default();
            SessionRef::new(&r.country_code, &r.party_id, session)
        }))
    }
}

/// Tariffs by (party, tariff id): a CDR's `tariffs`.
pub struct TariffsByRef(pub Store);

impl Loader<TariffRef> for TariffsByRef {
    type Value = tariff::Model;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[TariffRef],
    ) -> Result<HashMap<TariffRef, Self::Value>, Self::Error> {
        let rows = read::tariffs_by_refs(self.0.db(), keys).await?;
        Ok(rows
            .into_iter()
            .map(|r| (TariffRef::new(&r.country_code, &r.party_id, &r.ocpi_id), r))
            .collect())
    }
}

/// Which list of a place a page is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceList {
    /// Sessions.
    Sessions,
    /// CDRs.
    Cdrs,
}

/// A page of the sessions or CDRs at a place.
pub struct PlacePages(pub Store);

/// The rows of a place's page.
#[derive(Debug, Clone)]
pub enum PlaceRows {
    /// Sessions.
    Sessions(Vec<session::Model>),
    /// CDRs.
    Cdrs(Vec<cdr::Model>),
}

fn place_of(location_pk: Option<i64>, uid: Option<&str>, places: &[Place]) -> Vec<Place> {
    places
        .iter()
        .filter(|p| Some(p.location_pk) == location_pk)
        .filter(|p| {
            p.evse_uid
                .as_ref()
                .is_none_or(|want| uid.is_some_and(|u| u.eq_ignore_ascii_case(want)))
        })
        .cloned()
        .collect()
}

impl Loader<(Place, PlaceList, Window)> for PlacePages {
    type Value = PlaceRows;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(Place, PlaceList, Window)],
    ) -> Result<HashMap<(Place, PlaceList, Window), PlaceRows>, Self::Error> {
        let pairs: Vec<(Place, (PlaceList, Window))> = keys
            .iter()
            .map(|(p, l, w)| (p.clone(), (*l, w.clone())))
            .collect();
        let mut out = HashMap::new();
        for ((list, window), places) in by_args(&pairs) {
            // Location and EVSE pages are partitioned differently.
            let (per_evse, per_location): (Vec<Place>, Vec<Place>) =
                places.into_iter().partition(|p| p.evse_uid.is_some());
            for places in [per_evse, per_location] {
                if places.is_empty() {
                    continue;
                }
                self.load_places(&places, list, &window, &mut out).await?;
            }
        }
        Ok(out)
    }
}

impl PlacePages {
    async fn load_places(
        &self,
        places: &[Place],
        list: PlaceList,
        window: &Window,
        out: &mut HashMap<(Place, PlaceList, Window), PlaceRows>,
    ) -> Result<(), LoadError> {
        let db = self.0.db();
        match list {
            PlaceList::Sessions => {
                let rows = read::sessions_at(db, places, window).await?;
                for place in places {
                    let mine = rows
                        .iter()
                        .filter(|r| {
                            place_of(r.location_pk, r.evse_uid.as_deref(), places).contains(place)
                        })
                        .cloned()
                        .collect();
                    out.insert(
                        (place.clone(), list, window.clone()),
                        PlaceRows::Sessions(mine),
                    );
                }
            }
            PlaceList::Cdrs => {
                let rows = read::cdrs_at(db, places, window).await?;
                for place in places {
                    let mine = rows
                        .iter()
                        .filter(|r| {
                            place_of(r.location_pk, r.evse_uid.as_deref(), places).contains(place)
                        })
                        .cloned()
                        .collect();
                    out.insert((place.clone(), list, window.clone()), PlaceRows::Cdrs(mine));
                }
            }
        }
        Ok(())
    }
}

/// How many sessions or CDRs each place has.
pub struct PlaceCounts(pub Store);

impl Loader<(Place, PlaceList)> for PlaceCounts {
    type Value = i64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[(Place, PlaceList)],
    ) -> Result<HashMap<(Place, PlaceList), i64>, Self::Error> {
        let mut out = HashMap::new();
        for (list, places) in by_args(keys) {
            let counts = match list {
                PlaceList::Sessions => read::sessions_at_counts(self.0.db(), &places).await?,
                PlaceList::Cdrs => read::cdrs_at_counts(self.0.db(), &places).await?,
            };
            out.extend(counts.into_iter().map(|(p, n)| ((p, list), n)));
        }
        Ok(out)
    }
}

/// A loader that gathers keys for `delay` before running one batch.
fn batched<T: Send + Sync + 'static>(loader: T, delay: std::time::Duration) -> DataLoader<T> {
    DataLoader::new(loader, tokio::spawn).delay(delay)
}

/// Registers every loader on a schema under construction.
pub fn register<Q, M, S>(
    builder: async_graphql::SchemaBuilder<Q, M, S>,
    store: &Store,
    delay: std::time::Duration,
) -> async_graphql::SchemaBuilder<Q, M, S> {
    let s = || store.clone();
    builder
        .data(batched(ById::<entity::location::Entity>::new(s()), delay))
        .data(batched(ById::<evse::Entity>::new(s()), delay))
        .data(batched(ById::<connector::Entity>::new(s()), delay))
        .data(batched(
            ById::<evse_status_history::Entity>::new(s()),
            delay,
        ))
        .data(batched(ById::<session::Entity>::new(s()), delay))
        .data(batched(ById::<session_event::Entity>::new(s()), delay))
        .data(batched(ById::<charging_period::Entity>::new(s()), delay))
        .data(batched(ById::<cdr::Entity>::new(s()), delay))
        .data(batched(ById::<tariff::Entity>::new(s()), delay))
        .data(batched(
            ById::<entity::notification::Entity>::new(s()),
            delay,
        ))
        .data(batched(EvsesByLocation(s()), delay))
        .data(batched(ConnectorsByEvse(s()), delay))
        .data(batched(StatusCountsByLocation(s()), delay))
        .data(batched(StatusHistoryPages(s()), delay))
        .data(batched(StatusHistoryCounts(s()), delay))
        .data(batched(AvailabilityHistory(s()), delay))
        .data(batched(TimelinePages(s()), delay))
        .data(batched(TimelineCounts(s()), delay))
        .data(batched(AppliedEvents(s()), delay))
        .data(batched(ChargingPeriods(s()), delay))
        .data(batched(SessionsByRef(s()), delay))
        .data(batched(CdrsBySession(s()), delay))
        .data(batched(TariffsByRef(s()), delay))
        .data(batched(PlacePages(s()), delay))
        .data(batched(PlaceCounts(s()), delay))
}
