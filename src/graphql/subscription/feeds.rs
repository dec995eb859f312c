//! What subscriptions send: one object per change, each with its `kind`
//! (snapshot, replay, live or reset), its `cursor` and how many older
//! changes of the same object it stands for (`skipped`).

use async_graphql::{Context, Enum, Interface, Object, Result};
use entity::{cdr, evse, location, notification, session};

use crate::domain::{time, Micros};
use crate::events::{Delivery, Event, Kind, ResetReason};
use crate::graphql::error::internal;
use crate::graphql::scalars::{DateTime, Decimal, EvseStatus};
use crate::graphql::types::{load_location, store, Cdr, Location, Notification, Session};
use crate::store::read;

/// How an item of a subscription came about.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// Part of the current state, sent first with `snapshot: true` or after a RESET.
    Snapshot,
    /// A change committed while the client was away, read back after its `after` cursor.
    Replay,
    /// A change as it commits.
    Live,
    /// The `after` cursor cannot be resumed from: drop what you hold; a snapshot follows.
    Reset,
}

/// Where an item stands in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: FeedKind,
    pub seq: i64,
    pub skipped: u32,
}

impl Meta {
    pub fn snapshot(cursor: i64) -> Meta {
        Meta {
            kind: FeedKind::Snapshot,
            seq: cursor,
            skipped: 0,
        }
    }

    pub fn replay(event: &Event) -> Meta {
        Meta {
            kind: FeedKind::Replay,
            seq: event.seq,
            skipped: 0,
        }
    }

    pub fn live(delivery: &Delivery) -> Meta {
        Meta {
            kind: FeedKind::Live,
            seq: delivery.event.seq,
            skipped: delivery.skipped,
        }
    }
}

/// A cursor that cannot be resumed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedReset {
    pub cursor: i64,
    pub reason: ResetReason,
}

/// The `after` cursor cannot be resumed from; a fresh snapshot follows.
#[Object]
impl FeedReset {
    /// Always RESET.
    async fn kind(&self) -> FeedKind {
        FeedKind::Reset
    }
    /// Where the snapshot that follows was read; resume from here.
    async fn cursor(&self) -> String {
        self.cursor.to_string()
    }
    /// Why the cursor could not be resumed from.
    async fn reason(&self) -> &'static str {
        match self.reason {
            ResetReason::Pruned => "events after the cursor are older than the outbox retention",
            ResetReason::Unknown => "the cursor is beyond anything this server has written",
        }
    }
}

/// An item of `evseStatusChanged`.
#[derive(Interface)]
#[graphql(
    field(name = "kind", ty = "FeedKind", desc = "How the item came about."),
    field(
        name = "cursor",
        ty = "String",
        desc = "Resume point: pass it as `after`."
    )
)]
#[allow(clippy::large_enum_variant)] // one per item sent, never stored
pub enum EvseStatusFeed {
    /// A status.
    EvseStatusChange(EvseStatusChange),
    /// A reset.
    FeedReset(FeedReset),
}

/// An item of `locationChanged`.
#[derive(Interface)]
#[graphql(
    field(name = "kind", ty = "FeedKind", desc = "How the item came about."),
    field(
        name = "cursor",
        ty = "String",
        desc = "Resume point: pass it as `after`."
    )
)]
#[allow(clippy::large_enum_variant)] // one per item sent, never stored
pub enum LocationFeed {
    /// A location change.
    LocationChange(LocationChange),
    /// A reset.
    FeedReset(FeedReset),
}

/// An item of `sessionUpdated`.
#[derive(Interface)]
#[graphql(
    field(name = "kind", ty = "FeedKind", desc = "How the item came about."),
    field(
        name = "cursor",
        ty = "String",
        desc = "Resume point: pass it as `after`."
    )
)]
#[allow(clippy::large_enum_variant)] // one per item sent, never stored
pub enum SessionFeed {
    /// A session update.
    SessionUpdate(SessionUpdate),
    /// A reset.
    FeedReset(FeedReset),
}

/// An item of `cdrReceived`.
#[derive(Interface)]
#[graphql(
    field(name = "kind", ty = "FeedKind", desc = "How the item came about."),
    field(
        name = "cursor",
        ty = "String",
        desc = "Resume point: pass it as `after`."
    )
)]
#[allow(clippy::large_enum_variant)] // one per item sent, never stored
pub enum CdrFeed {
    /// A CDR.
    CdrReceipt(CdrReceipt),
    /// A reset.
    FeedReset(FeedReset),
}

/// An item of `notificationReceived`.
#[derive(Interface)]
#[graphql(
    field(name = "kind", ty = "FeedKind", desc = "How the item came about."),
    field(
        name = "cursor",
        ty = "String",
        desc = "Resume point: pass it as `after`."
    )
)]
#[allow(clippy::large_enum_variant)] // one per item sent, never stored
pub enum NotificationFeed {
    /// A notification.
    NotificationReceipt(NotificationReceipt),
    /// A reset.
    FeedReset(FeedReset),
}

/// Where an object is, for the place parts of a filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub city: Option<String>,
    pub coordinates: Option<(f64, f64)>,
}

impl Place {
    pub fn of(location: Option<&location::Model>) -> Place {
        Place {
            city: location.and_then(|l| l.city.clone()),
            coordinates: location.and_then(|l| l.latitude_deg.zip(l.longitude_deg)),
        }
    }
}

/// One EVSE status: a change, or its current value in a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct EvseStatusChange {
    pub meta: Meta,
    pub country_code: String,
    pub party_id: String,
    pub location_id: String,
    pub uid: String,
    pub evse_id: Option<String>,
    pub previous_status: Option<String>,
    pub status: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
    pub location_pk: Option<i64>,
    pub place: Place,
}

impl EvseStatusChange {
    /// Reads an `EVSE_STATUS_CHANGED` event; `None` for other kinds or a broken payload.
    pub fn from_event(meta: Meta, event: &Event) -> Option<EvseStatusChange> {
        if event.kind != Kind::EvseStatusChanged {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_owned);
        let changed_at = event
            .text("changed_at")
            .and_then(|t| time::parse(t).ok())
            .map_or(event.created_at, |parsed| parsed.at.as_datetime());
        Some(EvseStatusChange {
            meta,
            country_code: text("country_code")?,
            party_id: text("party_id")?,
            location_id: text("location_id")?,
            uid: text("evse_uid")?,
            evse_id: text("evse_id"),
            previous_status: text("previous_status"),
            status: text("status")?,
            changed_at,
            location_pk: event.location_pk,
            place: Place {
                city: event.facts.city.clone(),
                coordinates: event.facts.coordinates,
            },
        })
    }

    /// A delivered change; merged older changes make `previousStatus` the
    /// status before the first of them, the one the subscriber saw last.
    pub fn from_delivery(delivery: &Delivery) -> Option<EvseStatusChange> {
        let mut change = EvseStatusChange::from_event(Meta::live(delivery), &delivery.event)?;
        if let Some(first) = &delivery.first_skipped {
            change.previous_status = first.text("previous_status").map(str::to_owned);
        }
        Some(change)
    }

    /// The current status of a stored EVSE; `None` while it has none.
    pub fn from_rows(
        cursor: i64,
        evse: &evse::Model,
        location: &location::Model,
    ) -> Option<EvseStatusChange> {
        Some(EvseStatusChange {
            meta: Meta::snapshot(cursor),
            country_code: location.country_code.clone(),
            party_id: location.party_id.clone(),
            location_id: location.ocpi_id.clone(),
            uid: evse.uid.clone(),
            evse_id: evse.evse_id.clone(),
            previous_status: None,
            status: evse.status.clone()?,
            changed_at: evse
                .status_since
                .or(evse.last_updated)
                .unwrap_or(evse.received_at),
            location_pk: Some(location.id),
            place: Place::of(Some(location)),
        })
    }
}

/// One EVSE status: a change as it commits or replayed, or the current value in a snapshot.
#[Object]
impl EvseStatusChange {
    /// SNAPSHOT, REPLAY or LIVE.
    async fn kind(&self) -> FeedKind {
        self.meta.kind
    }
    /// Resume point: pass it as `after` to get what follows.
    async fn cursor(&self) -> String {
        self.meta.seq.to_string()
    }
    /// Older changes of this EVSE left out because the subscriber fell behind.
    async fn skipped(&self) -> u32 {
        self.meta.skipped
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The CPO's location id.
    async fn location_id(&self) -> &str {
        &self.location_id
    }
    /// The CPO's EVSE uid.
    async fn uid(&self) -> &str {
        &self.uid
    }
    /// The public eMI3 EVSE id.
    async fn evse_id(&self) -> Option<&str> {
        self.evse_id.as_deref()
    }
    /// The status before; null for a new EVSE and in a snapshot.
    async fn previous_status(&self) -> Option<EvseStatus> {
        self.previous_status.as_deref().map(EvseStatus::from_raw)
    }
    /// The new status.
    async fn status(&self) -> EvseStatus {
        EvseStatus::from_raw(&self.status)
    }
    /// The new status as sent.
    async fn status_raw(&self) -> &str {
        &self.status
    }
    /// The sender's stamp when given, else when we received it.
    async fn changed_at(&self) -> DateTime {
        DateTime(self.changed_at)
    }
    /// The location's city.
    async fn city(&self) -> Option<&str> {
        self.place.city.as_deref()
    }
    /// The location, as stored now.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.location_pk).await
    }
}

/// A location (or one of its EVSEs or connectors) changed.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationChange {
    pub meta: Meta,
    pub country_code: String,
    pub party_id: String,
    pub location_id: String,
    pub location_pk: Option<i64>,
    pub place: Place,
}

impl LocationChange {
    pub fn from_event(meta: Meta, event: &Event) -> Option<LocationChange> {
        if event.kind != Kind::LocationChanged {
            return None;
        }
        Some(LocationChange {
            meta,
            country_code: event.text("country_code")?.to_owned(),
            party_id: event.text("party_id")?.to_owned(),
            location_id: event.text("location_id")?.to_owned(),
            location_pk: event.location_pk,
            place: Place {
                city: event.facts.city.clone(),
                coordinates: event.facts.coordinates,
            },
        })
    }

    pub fn from_row(cursor: i64, location: &location::Model) -> LocationChange {
        LocationChange {
            meta: Meta::snapshot(cursor),
            country_code: location.country_code.clone(),
            party_id: location.party_id.clone(),
            location_id: location.ocpi_id.clone(),
            location_pk: Some(location.id),
            place: Place::of(Some(location)),
        }
    }
}

/// A location, one of its EVSEs or connectors changed (or, in a snapshot, is).
#[Object]
impl LocationChange {
    /// SNAPSHOT, REPLAY or LIVE.
    async fn kind(&self) -> FeedKind {
        self.meta.kind
    }
    /// Resume point: pass it as `after` to get what follows.
    async fn cursor(&self) -> String {
        self.meta.seq.to_string()
    }
    /// Older changes of this location left out because the subscriber fell behind.
    async fn skipped(&self) -> u32 {
        self.meta.skipped
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The CPO's location id.
    async fn location_id(&self) -> &str {
        &self.location_id
    }
    /// The city at the time of the change.
    async fn city(&self) -> Option<&str> {
        self.place.city.as_deref()
    }
    /// The location, as stored now.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.location_pk).await
    }
}

/// A session was created or changed.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionUpdate {
    pub meta: Meta,
    pub country_code: String,
    pub party_id: String,
    pub session_id: String,
    pub status: Option<String>,
    pub kwh: Option<Micros>,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub session_pk: Option<i64>,
    pub location_pk: Option<i64>,
    pub place: Place,
}

impl SessionUpdate {
    pub fn from_event(meta: Meta, event: &Event) -> Option<SessionUpdate> {
        if event.kind != Kind::SessionUpdated {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_owned);
        Some(SessionUpdate {
            meta,
            country_code: text("country_code")?,
            party_id: text("party_id")?,
            session_id: text("session_id")?,
            status: text("status"),
            kwh: event.text("kwh").and_then(|k| Micros::parse_str(k).ok()),
            location_id: text("location_id"),
            evse_uid: text("evse_uid"),
            session_pk: event.session_pk,
            location_pk: event.location_pk,
            place: Place {
                city: event.facts.city.clone(),
                coordinates: event.facts.coordinates,
            },
        })
    }

    pub fn from_row(
        cursor: i64,
        session: &session::Model,
        location: Option<&location::Model>,
    ) -> SessionUpdate {
        SessionUpdate {
            meta: Meta::snapshot(cursor),
            country_code: session.country_code.clone(),
            party_id: session.party_id.clone(),
            session_id: session.ocpi_id.clone(),
            status: session.status.clone(),
            kwh: session.kwh_micro.map(Micros),
            location_id: session.location_id.clone(),
            evse_uid: session.evse_uid.clone(),
            session_pk: Some(session.id),
            location_pk: session.location_pk,
            place: Place::of(location),
        }
    }
}

/// A session was created or changed (or, in a snapshot, is open).
#[Object]
impl SessionUpdate {
    /// SNAPSHOT, REPLAY or LIVE.
    async fn kind(&self) -> FeedKind {
        self.meta.kind
    }
    /// Resume point: pass it as `after` to get what follows.
    async fn cursor(&self) -> String {
        self.meta.seq.to_string()
    }
    /// Older updates of this session left out because the subscriber fell behind.
    async fn skipped(&self) -> u32 {
        self.meta.skipped
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The CPO's session id.
    async fn session_id(&self) -> &str {
        &self.session_id
    }
    /// The session status as sent (ACTIVE, COMPLETED, ...).
    async fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
    /// Energy so far, in kWh.
    async fn kwh(&self) -> Option<Decimal> {
        self.kwh.map(Decimal)
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.evse_uid.as_deref()
    }
    /// The session, as stored now.
    async fn session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        let Some(pk) = self.session_pk else {
            return Ok(None);
        };
        let rows = read::by_ids::<entity::session::Entity>(store(ctx)?.db(), &[pk])
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().next().map(Session))
    }
    /// The location, as stored now.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.location_pk).await
    }
}

/// A CDR was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CdrReceipt {
    pub meta: Meta,
    pub country_code: String,
    pub party_id: String,
    pub cdr_id: String,
    pub session_id: Option<String>,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub location_pk: Option<i64>,
    pub place: Place,
}

impl CdrReceipt {
    pub fn from_event(meta: Meta, event: &Event) -> Option<CdrReceipt> {
        if event.kind != Kind::CdrReceived {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_owned);
        Some(CdrReceipt {
            meta,
            country_code: text("country_code")?,
            party_id: text("party_id")?,
            cdr_id: text("cdr_id")?,
            session_id: text("session_id"),
            location_id: text("location_id"),
            evse_uid: text("evse_uid"),
            location_pk: event.location_pk,
            place: Place {
                city: event.facts.city.clone(),
                coordinates: event.facts.coordinates,
            },
        })
    }

    pub fn from_row(cursor: i64, cdr: &cdr::Model, location: Option<&location::Model>) -> Self {
        CdrReceipt {
            meta: Meta::snapshot(cursor),
            country_code: cdr.country_code.clone(),
            party_id: cdr.party_id.clone(),
            cdr_id: cdr.ocpi_id.clone(),
            session_id: cdr.session_id.clone(),
            location_id: cdr.location_id.clone(),
            evse_uid: cdr.evse_uid.clone(),
            location_pk: cdr.location_pk,
            place: Place::of(location),
        }
    }
}

/// A CDR was stored (or, in a snapshot, is one of the most recent).
#[Object]
impl CdrReceipt {
    /// SNAPSHOT, REPLAY or LIVE.
    async fn kind(&self) -> FeedKind {
        self.meta.kind
    }
    /// Resume point: pass it as `after` to get what follows.
    async fn cursor(&self) -> String {
        self.meta.seq.to_string()
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The CPO's CDR id.
    async fn cdr_id(&self) -> &str {
        &self.cdr_id
    }
    /// The CPO's session id.
    async fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.evse_uid.as_deref()
    }
    /// The CDR, as stored.
    async fn cdr(&self, ctx: &Context<'_>) -> Result<Option<Cdr>> {
        let db = store(ctx)?.db();
        let row = read::cdr_by_key(db, &self.country_code, &self.party_id, &self.cdr_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Cdr))
    }
}

/// A ChargeStation notification was stored or replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationReceipt {
    pub meta: Meta,
    pub country_code: String,
    pub party_id: String,
    pub notification_id: String,
    pub location_id: Option<String>,
    pub evse_id: Option<String>,
    pub place: Place,
}

impl NotificationReceipt {
    pub fn from_event(meta: Meta, event: &Event) -> Option<NotificationReceipt> {
        if event.kind != Kind::NotificationReceived {
            return None;
        }
        let text = |key: &str| event.text(key).map(str::to_owned);
        Some(NotificationReceipt {
            meta,
            country_code: text("country_code")?,
            party_id: text("party_id")?,
            notification_id: text("notification_id")?,
            location_id: text("location_id"),
            evse_id: text("evse_id"),
            place: Place {
                city: event.facts.city.clone(),
                coordinates: event.facts.coordinates,
            },
        })
    }

    pub fn from_row(cursor: i64, row: &notification::Model) -> NotificationReceipt {
        NotificationReceipt {
            meta: Meta::snapshot(cursor),
            country_code: row.country_code.clone(),
            party_id: row.party_id.clone(),
            notification_id: row.notification_id.clone(),
            location_id: row.location_id.clone(),
            evse_id: row.evse_id.clone(),
            place: Place::default(),
        }
    }
}

/// A ChargeStation notification was stored or replaced (or, in a snapshot, is one of the most recent).
#[Object]
impl NotificationReceipt {
    /// SNAPSHOT, REPLAY or LIVE.
    async fn kind(&self) -> FeedKind {
        self.meta.kind
    }
    /// Resume point: pass it as `after` to get what follows.
    async fn cursor(&self) -> String {
        self.meta.seq.to_string()
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.party_id
    }
    /// The notification id of the PUT URL.
    async fn notification_id(&self) -> &str {
        &self.notification_id
    }
    /// The CPO's location id the notification names.
    async fn location_id(&self) -> Option<&str> {
        self.location_id.as_deref()
    }
    /// The eMI3 EVSE id the notification names.
    async fn evse_id(&self) -> Option<&str> {
        self.evse_id.as_deref()
    }
    /// The notification, as stored now.
    async fn notification(&self, ctx: &Context<'_>) -> Result<Option<Notification>> {
        let db = store(ctx)?.db();
        let (cc, party, id) = (&self.country_code, &self.party_id, &self.notification_id);
        let row = read::notification_by_key(db, cc, party, id)
            .await
            .map_err(internal)?;
        Ok(row.map(Notification))
    }
}
