//! The Subscription root, fed by the in-memory fan-out of committed outbox
//! rows (`crate::events`).
//!
//! Every subscription registers its live feed when it starts, then sends,
//! depending on its arguments, a snapshot of the current state (`snapshot:
//! true`) or the events after a cursor (`after:`), and continues live. Each
//! item carries `kind` and `cursor`; a cursor that cannot be resumed from
//! gets a RESET item and a fresh snapshot.

use std::future::{ready, Future};

use async_graphql::{Context, ErrorExtensions, Result, Subscription};
use futures::{Stream, StreamExt};

use crate::events::{self, Delivery, Event, Filter, Ids, Item, Kind, Lagged, Start};
use crate::graphql::error::{bad_user_input, internal};
use crate::store::{snapshot, StoreError};

mod feeds;
mod filters;
mod summary;

use feeds::{
    CdrFeed, CdrReceipt, EvseStatusChange, EvseStatusFeed, FeedReset, LocationChange, LocationFeed,
    Meta, NotificationFeed, NotificationReceipt, Place, SessionFeed, SessionUpdate,
};
use filters::{
    CdrReceivedFilter, EvseStatusChangedFilter, LocationChangedFilter, NotificationReceivedFilter,
    SessionUpdatedFilter, StatusSummaryChangedFilter,
};
use summary::StatusSummaryUpdate;

/// How many of the most recent CDRs or notifications a snapshot holds.
const RECENT: u64 = 100;

/// Live streams of changes.
pub struct SubscriptionRoot;

/// Live streams of changes. Each starts live, or with `snapshot: true` with
/// the current state, or with `after: cursor` with every change since that
/// cursor; a cursor that cannot be resumed from gets a RESET and a snapshot.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// EVSE status changes; a snapshot holds each selected EVSE's current status.
    async fn evse_status_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            EvseStatusChangedFilter,
        >,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        #[graphql(desc = "Start with the current status of each selected EVSE.", default)]
        snapshot: bool,
    ) -> Result<impl Stream<Item = Result<EvseStatusFeed>>> {
        let start = start_of(after.as_deref(), snapshot)?;
        let parts = filter.unwrap_or_default().parts()?;
        let (events, filter) = open(ctx, parts.filter(&[Kind::EvseStatusChanged], access(ctx)))?;
        let selection = filter.clone();
        let (store, narrow) = (events.store().clone(), parts.narrow(access(ctx)));
        let read = move || async move {
            let (cursor, rows) = snapshot::evses(&store, &narrow).await?;
            let changes = rows.iter().filter_map(|(evse, location)| {
                let change = EvseStatusChange::from_rows(cursor, evse, location)?;
                let ids = Ids {
                    country_code: &change.country_code,
                    party_id: &change.party_id,
                    location_id: Some(&change.location_id),
                    evse_uid: Some(&change.uid),
                    session_id: None,
                    status: Some(&change.status),
                };
                selects(&selection, &ids, &change.place).then_some(change)
            });
            Ok((cursor, changes.collect()))
        };
        let merged = Some(EvseStatusChange::from_delivery as fn(&Delivery) -> _);
        Ok(feed(
            "evseStatusChanged",
            (events, filter),
            start,
            read,
            EvseStatusChange::from_event,
            merged,
        ))
    }

    /// Location changes (the location, an EVSE or a connector); a snapshot holds each selected location.
    async fn location_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            LocationChangedFilter,
        >,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        #[graphql(desc = "Start with each selected location.", default)] snapshot: bool,
    ) -> Result<impl Stream<Item = Result<LocationFeed>>> {
        let start = start_of(after.as_deref(), snapshot)?;
        let parts = filter.unwrap_or_default().parts()?;
        let (events, filter) = open(ctx, parts.filter(&[Kind::LocationChanged], access(ctx)))?;
        let selection = filter.clone();
        let (store, narrow) = (events.store().clone(), parts.narrow(access(ctx)));
        let read = move || async move {
            let (cursor, rows) = snapshot::locations(&store, &narrow).await?;
            let changes = rows.iter().filter_map(|location| {
                let change = LocationChange::from_row(cursor, location);
                let ids = Ids {
                    country_code: &change.country_code,
                    party_id: &change.party_id,
                    location_id: Some(&change.location_id),
                    ..Ids::default()
                };
                selects(&selection, &ids, &change.place).then_some(change)
            });
            Ok((cursor, changes.collect()))
        };
        Ok(feed(
            "locationChanged",
            (events, filter),
            start,
            read,
            LocationChange::from_event,
            None,
        ))
    }

    /// Session updates; a snapshot holds each selected session that is not
    /// finished (or, filtered by `sessionId`, that session).
    async fn session_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            SessionUpdatedFilter,
        >,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        #[graphql(desc = "Start with each selected open session.", default)] snapshot: bool,
    ) -> Result<impl Stream<Item = Result<SessionFeed>>> {
        let start = start_of(after.as_deref(), snapshot)?;
        let parts = filter.unwrap_or_default().parts()?;
        let (events, filter) = open(ctx, parts.filter(&[Kind::SessionUpdated], access(ctx)))?;
        let selection = filter.clone();
        let (store, narrow) = (events.store().clone(), parts.narrow(access(ctx)));
        let read = move || async move {
            let (cursor, rows) = snapshot::sessions(&store, &narrow).await?;
            let updates = rows.iter().filter_map(|(session, location)| {
                let update = SessionUpdate::from_row(cursor, session, location.as_ref());
                let ids = Ids {
                    country_code: &update.country_code,
                    party_id: &update.party_id,
                    location_id: update.location_id.as_deref(),
                    evse_uid: update.evse_uid.as_deref(),
                    session_id: Some(&update.session_id),
                    status: update.status.as_deref(),
                };
                selects(&selection, &ids, &update.place).then_some(update)
            });
            Ok((cursor, updates.collect()))
        };
        Ok(feed(
            "sessionUpdated",
            (events, filter),
            start,
            read,
            SessionUpdate::from_event,
            None,
        ))
    }

    /// Stored CDRs; a snapshot holds the 100 most recent selected ones.
    async fn cdr_received(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            CdrReceivedFilter,
        >,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        #[graphql(desc = "Start with the 100 most recent selected CDRs.", default)] snapshot: bool,
    ) -> Result<impl Stream<Item = Result<CdrFeed>>> {
        let start = start_of(after.as_deref(), snapshot)?;
        let parts = filter.unwrap_or_default().parts()?;
        let (events, filter) = open(ctx, parts.filter(&[Kind::CdrReceived], access(ctx)))?;
        let selection = filter.clone();
        let (store, narrow) = (events.store().clone(), parts.narrow(access(ctx)));
        let read = move || async move {
            let (cursor, rows) = snapshot::recent_cdrs(&store, &narrow, RECENT).await?;
            let receipts = rows.iter().filter_map(|(cdr, location)| {
                let receipt = CdrReceipt::from_row(cursor, cdr, location.as_ref());
                let ids = Ids {
                    country_code: &receipt.country_code,
                    party_id: &receipt.party_id,
                    location_id: receipt.location_id.as_deref(),
                    evse_uid: receipt.evse_uid.as_deref(),
                    session_id: receipt.session_id.as_deref(),
                    status: None,
                };
                selects(&selection, &ids, &receipt.place).then_some(receipt)
            });
            Ok((cursor, receipts.collect()))
        };
        Ok(feed(
            "cdrReceived",
            (events, filter),
            start,
            read,
            CdrReceipt::from_event,
            None,
        ))
    }

    /// Stored or replaced ChargeStation notifications; a snapshot holds the 100 most recent selected ones.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            NotificationReceivedFilter,
        >,
        #[graphql(desc = "Resume after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "Start with the 100 most recent selected notifications.",
            default
        )]
        snapshot: bool,
    ) -> Result<impl Stream<Item = Result<NotificationFeed>>> {
        let start = start_of(after.as_deref(), snapshot)?;
        let parts = filter.unwrap_or_default().parts()?;
        let kinds = [Kind::NotificationReceived];
        let (events, filter) = open(ctx, parts.filter(&kinds, access(ctx)))?;
        let selection = filter.clone();
        let (store, narrow) = (events.store().clone(), parts.narrow(access(ctx)));
        let read = move || async move {
            let (cursor, rows) = snapshot::recent_notifications(&store, &narrow, RECENT).await?;
            let receipts = rows.iter().filter_map(|row| {
                let receipt = NotificationReceipt::from_row(cursor, row);
                let ids = Ids {
                    country_code: &receipt.country_code,
                    party_id: &receipt.party_id,
                    location_id: receipt.location_id.as_deref(),
                    ..Ids::default()
                };
                selects(&selection, &ids, &receipt.place).then_some(receipt)
            });
            Ok((cursor, receipts.collect()))
        };
        Ok(feed(
            "notificationReceived",
            (events, filter),
            start,
            read,
            NotificationReceipt::from_event,
            None,
        ))
    }

    /// Per-status EVSE counts of what the filter selects: first the counts
    /// now, then the new counts whenever a change alters them.
    async fn status_summary_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which events to send; every given field must match.")] filter: Option<
            StatusSummaryChangedFilter,
        >,
    ) -> Result<impl Stream<Item = Result<StatusSummaryUpdate>>> {
        let parts = filter.unwrap_or_default().parts()?;
        let kinds = [Kind::EvseStatusChanged, Kind::LocationChanged];
        let selection = parts.filter(&kinds, access(ctx));
        let events = ctx.data::<events::Events>()?;
        let store = events.store().clone();
        let read = summary::reader(store.clone(), parts.narrow(access(ctx)), selection.clone());
        // The feed must also see what leaves the city or area.
        let feed = events.subscribe_as("statusSummaryChanged", selection.without_place());
        let items = events::stream(events, feed, Start::Snapshot, read);
        Ok(summary::updates(items, store, selection))
    }
}

/// The caller's read scope.
fn access<'a>(ctx: &Context<'a>) -> &'a crate::domain::Access {
    crate::graphql::access(ctx)
}

/// The process's events and the filter, ready to register.
fn open(ctx: &Context<'_>, filter: Filter) -> Result<(events::Events, Filter)> {
    Ok((ctx.data::<events::Events>()?.clone(), filter))
}

/// Whether a snapshot row passes the filter.
fn selects(filter: &Filter, ids: &Ids<'_>, place: &Place) -> bool {
    filter.ids_match(ids) && filter.place_matches(place.city.as_deref(), place.coordinates)
}

/// Reads the `after` and `snapshot` arguments.
fn start_of(after: Option<&str>, snapshot: bool) -> Result<Start> {
    match after {
        Some(cursor) => {
            cursor.trim().parse().map(Start::After).map_err(|_| {
                bad_user_input(format!("after: {cursor:?} is not a cursor of this API"))
            })
        }
        None if snapshot => Ok(Start::Snapshot),
        None => Ok(Start::Live),
    }
}

/// The subscriber fell behind; it resumes with the cursor in the error.
fn lagged(behind: Lagged) -> async_graphql::Error {
    let cursor = behind.last_seq.to_string();
    let message = format!("subscriber fell behind; subscribe again with after: \"{cursor}\"");
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", "SUBSCRIBER_LAGGED");
        ext.set("cursor", cursor.as_str());
    })
}

fn failed(err: &StoreError) -> async_graphql::Error {
    internal(err)
}

/// Registers the live feed of the field `subscription` now and maps the
/// stream's items to the subscription's type. `merged` reads a conflated live delivery when the
/// type says more about it than its newest event does.
fn feed<C, F, R, Fut>(
    subscription: &str,
    events: (events::Events, Filter),
    start: Start,
    read: R,
    from_event: fn(Meta, &Event) -> Option<C>,
    merged: Option<fn(&Delivery) -> Option<C>>,
) -> impl Stream<Item = Result<F>>
where
    C: Send + 'static,
    F: From<C> + From<FeedReset> + Send + 'static,
    R: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<events::Snapshot<C>, StoreError>> + Send,
{
    let (events, filter) = events;
    let registered = events.subscribe_as(subscription, filter);
    events::stream(&events, registered, start, read).filter_map(move |item| {
        let mapped = match item {
            Item::Reset { cursor, reason } => Some(Ok(F::from(FeedReset { cursor, reason }))),
            Item::Snapshot { item, .. } => Some(Ok(F::from(item))),
            Item::Replay(event) => from_event(Meta::replay(&event), &event).map(|c| Ok(F::from(c))),
            Item::Live(delivery) => match merged {
                Some(read) => read(&delivery),
                None => from_event(Meta::live(&delivery), &delivery.event),
            }
            .map(|c| Ok(F::from(c))),
            Item::Lagged(behind) => Some(Err(lagged(behind))),
            Item::Failed(err) => Some(Err(failed(&err))),
        };
        ready(mapped)
    })
}

#[cfg(test)]
mod tests;
