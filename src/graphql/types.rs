//! Output types: one GraphQL object per OCPI object, over its stored row.
//!
//! Links between objects (a location's EVSEs, a CDR's session) go through
//! the DataLoaders, so a list level costs one statement whatever its length.
//! Small parts of one object (a location's EVSEs, an EVSE's connectors, a
//! session's charging periods and its curve) are plain lists; lists that grow
//! without bound (status history, timeline, sessions and CDRs of a place) are
//! connections.

use std::hash::Hash;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, Interface, Json, Object, Result, SimpleObject, ID};
use chrono::{DateTime as Utc, Utc as UtcZone};
use entity::{cdr, charging_period, connector, evse, evse_status_history, location};
use entity::{notification, session, session_event, tariff};

use super::enums::{
    AuthMethod, CdrDimensionType, ConnectorFormat, ConnectorType, EvseStatus, LocationType,
    PowerType, SessionStatus, TariffType,
};
use super::error::{bad_user_input, internal};
use super::ids::{global_id, KeyKind, NodeType};
use super::loaders::{
    AppliedEvents, AvailabilityHistory, ById, CdrsBySession, ChargingPeriods, ConnectorsByEvse,
    EvsesByLocation, LoadError, PlaceCounts, PlaceList, PlacePages, PlaceRows, StatusHistoryCounts,
    StatusHistoryPages, TariffsByRef, TimelineCounts, TimelinePages,
};
use super::pagination::{by_id, connection, edges, PageArgs};
use super::scalars::{datetime, decimal, money, DateTime, Decimal, Money};
use crate::domain::{Micros, Timestamp};
use crate::store::read::{self, CdrFilter, Place, Position, SessionFilter, SessionRef};
use crate::store::Store;

/// Any object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id, for `node(id:)`."))]
pub enum Node {
    /// A location.
    Location(Location),
    /// An EVSE.
    Evse(Evse),
    /// A connector.
    Connector(Connector),
    /// An EVSE status change.
    EvseStatusEntry(EvseStatusEntry),
    /// A session.
    Session(Session),
    /// One push of a session.
    SessionEvent(SessionEvent),
    /// A charging period.
    ChargingPeriod(ChargingPeriod),
    /// A CDR.
    Cdr(Cdr),
    /// A tariff.
    Tariff(Tariff),
    /// A notification.
    Notification(Notification),
}

/// The store the schema was built with.
pub fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

/// One value through a loader, mapping a store failure to INTERNAL_SERVER_ERROR.
pub async fn load<L, K>(ctx: &Context<'_>, key: K) -> Result<Option<L::Value>>
where
    L: Loader<K, Error = LoadError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L::Value: Send + Sync + Clone + 'static,
{
    let loader = ctx.data::<DataLoader<L>>()?;
    loader.load_one(key).await.map_err(internal)
}

/// Loads a location by row id, batched across the query; null when the
/// caller may not read its party.
pub async fn load_location(ctx: &Context<'_>, pk: Option<i64>) -> Result<Option<Location>> {
    let Some(pk) = pk else {
        return Ok(None);
    };
    let row = load::<ById<location::Entity>, _>(ctx, pk).await?;
    let access = super::access(ctx);
    Ok(row
        .filter(|r| access.may_read(&r.country_code, &r.party_id))
        .map(Location))
}

/// Reads a JSON array of strings kept in a text column.
fn string_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Reads a JSON text column for a `JSON` field.
fn json(text: Option<&str>) -> Option<Json<serde_json::Value>> {
    text.and_then(|t| serde_json::from_str(t).ok()).map(Json)
}

/// The position of a row in a list sorted by row id.
fn id_position<M>(id: impl Fn(&M) -> i64) -> impl Fn(&M) -> Position {
    move |m| by_id(id(m))
}

// ---------------------------------------------------------------------------
// Locations

/// An OCPI Location as last merged from pushes.
pub struct Location(pub location::Model);

impl Location {
    fn place(&self) -> Place {
        Place {
            location_pk: self.0.id,
            evse_uid: None,
        }
    }
}

/// An OCPI Location as last merged from pushes.
#[Object]
impl Location {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Location, self.0.id)
    }
    /// ISO 3166 alpha-2 country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the location.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Street and number.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// City or town.
    async fn city(&self) -> Option<&str> {
        self.0.city.as_deref()
    }
    /// Postal code.
    async fn postal_code(&self) -> Option<&str> {
        self.0.postal_code.as_deref()
    }
    /// State or province.
    async fn state(&self) -> Option<&str> {
        self.0.state.as_deref()
    }
    /// ISO 3166 alpha-3 country of the address.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }
    /// Latitude as sent.
    async fn latitude(&self) -> Option<&str> {
        self.0.latitude.as_deref()
    }
    /// Longitude as sent.
    async fn longitude(&self) -> Option<&str> {
        self.0.longitude.as_deref()
    }
    /// Whether the CPO allows publishing the location.
    async fn publish(&self) -> Option<bool> {
        self.0.publish
    }
    /// IANA time zone of the location.
    async fn time_zone(&self) -> Option<&str> {
        self.0.time_zone.as_deref()
    }
    /// Where the location is (2.1.1 `type`, 2.2.1 `parking_type`).
    async fn location_type(&self) -> Option<LocationType> {
        self.0.location_type.as_deref().map(LocationType::from_raw)
    }
    /// The location type as sent.
    async fn location_type_raw(&self) -> Option<&str> {
        self.0.location_type.as_deref()
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we last received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The merged OCPI JSON, EVSEs excluded.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// The EVSEs of the location, by arrival (a plain list: a location has
    /// few). REMOVED EVSEs are left out unless asked for; their status
    /// history stays readable.
    async fn evses(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Also the REMOVED EVSEs.", default)] include_removed: bool,
    ) -> Result<Vec<Evse>> {
        let rows = load::<EvsesByLocation, _>(ctx, self.0.id).await?;
        let rows = rows.unwrap_or_default().into_iter();
        let shown = rows.filter(|e| include_removed || e.status.as_deref() != Some("REMOVED"));
        Ok(shown.map(Evse).collect())
    }
    /// The sessions at this location, by arrival.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<SessionConnection> {
        let args = PageArgs::new(first, after, last, before);
        sessions_at(ctx, self.place(), &args).await
    }
    /// The CDRs at this location, by arrival.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn cdrs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<CdrConnection> {
        let args = PageArgs::new(first, after, last, before);
        cdrs_at(ctx, self.place(), &args).await
    }
}

// ---------------------------------------------------------------------------
// EVSEs and connectors

/// An EVSE of a location, with its live status.
pub struct Evse(pub evse::Model);

impl Evse {
    fn place(&self) -> Place {
        Place {
            location_pk: self.0.location_pk,
            evse_uid: Some(self.0.uid_key.clone()),
        }
    }
}

/// An EVSE of a location, with its live status.
#[Object]
impl Evse {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Evse, self.0.id)
    }
    /// The CPO's uid of the EVSE (its key within the location).
    async fn uid(&self) -> &str {
        &self.0.uid
    }
    /// The public eMI3 EVSE id.
    async fn evse_id(&self) -> Option<&str> {
        self.0.evse_id.as_deref()
    }
    /// Live status; OTHER for a status this version does not know.
    async fn status(&self) -> Option<EvseStatus> {
        self.0.status.as_deref().map(EvseStatus::from_raw)
    }
    /// Live status as sent.
    async fn status_raw(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// Since when the live status holds.
    async fn status_since(&self) -> Option<DateTime> {
        datetime(self.0.status_since)
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we last received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The merged OCPI JSON, connectors excluded.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// The location of the EVSE.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, Some(self.0.location_pk)).await
    }
    /// The connectors of the EVSE (a plain list: an EVSE has few).
    async fn connectors(&self, ctx: &Context<'_>) -> Result<Vec<Connector>> {
        let rows = load::<ConnectorsByEvse, _>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(Connector)
            .collect())
    }
    /// Every applied status change, oldest first (`last: n` for the newest).
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn status_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<EvseStatusEntryConnection> {
        let args = PageArgs::new(first, after, last, before);
        let window = args.window(ctx, HISTORY, KeyKind::Time)?;
        let rows = load::<StatusHistoryPages, _>(ctx, (self.0.id, window.clone())).await?;
        let position = |r: &evse_status_history::Model| Position {
            key: read::history_key(r),
            id: r.id,
        };
        let (edges, page_info) = edges(
            rows.unwrap_or_default(),
            &window,
            HISTORY,
            position,
            |cursor, r| EvseStatusEntryEdge {
                cursor,
                node: EvseStatusEntry(r),
            },
        );
        Ok(EvseStatusEntryConnection {
            edges,
            page_info,
            total: HistoryTotal(self.0.id),
        })
    }
    /// The share of time in each status over `[from, to)`, from the status
    /// history (the status in force at `from` included); a range reaching
    /// past now ends now.
    async fn availability(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Start of the range, inclusive.")] from: DateTime,
        #[graphql(desc = "End of the range, exclusive.")] to: DateTime,
    ) -> Result<Availability> {
        let to = DateTime(to.0.min(Timestamp::now().as_datetime()));
        if from.0 >= to.0 {
            return Err(bad_user_input("`from` must be before `to` and before now"));
        }
        let rows = load::<AvailabilityHistory, _>(ctx, (self.0.id, from.0, to.0)).await?;
        Ok(Availability::compute(from, to, &rows.unwrap_or_default()))
    }
    /// The sessions at this EVSE, by arrival.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<SessionConnection> {
        let args = PageArgs::new(first, after, last, before);
        sessions_at(ctx, self.place(), &args).await
    }
    /// The CDRs at this EVSE, by arrival.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn cdrs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<CdrConnection> {
        let args = PageArgs::new(first, after, last, before);
        cdrs_at(ctx, self.place(), &args).await
    }
}

/// The list name of status history cursors.
const HISTORY: &str = "EvseStatusEntry";

/// Counts an EVSE's status history.
pub struct HistoryTotal(i64);

impl HistoryTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        let n = load::<StatusHistoryCounts, _>(ctx, self.0).await?;
        Ok(n.unwrap_or_default() as u64)
    }
}

connection!(
    /// A page of an EVSE's status history.
    EvseStatusEntryConnection,
    /// A status change and its cursor.
    EvseStatusEntryEdge,
    EvseStatusEntry,
    HistoryTotal
);

/// One applied EVSE status change.
pub struct EvseStatusEntry(pub evse_status_history::Model);

/// One applied EVSE status change.
#[Object]
impl EvseStatusEntry {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::EvseStatusEntry, self.0.id)
    }
    /// The status before, when there was one.
    async fn previous_status(&self) -> Option<EvseStatus> {
        self.0.previous_status.as_deref().map(EvseStatus::from_raw)
    }
    /// The status before as sent.
    async fn previous_status_raw(&self) -> Option<&str> {
        self.0.previous_status.as_deref()
    }
    /// The new status.
    async fn status(&self) -> EvseStatus {
        EvseStatus::from_raw(&self.0.status)
    }
    /// The new status as sent.
    async fn status_raw(&self) -> &str {
        &self.0.status
    }
    /// The sender's stamp when given, else when we received it.
    async fn changed_at(&self) -> DateTime {
        DateTime(self.0.changed_at)
    }
    /// When we received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// Whether `changedAt` is the sender's stamp (false: our receive time).
    async fn stamp_from_sender(&self) -> bool {
        self.0.stamp_from_sender
    }
}

/// How an EVSE spent a time range, status by status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct Availability {
    /// Start of the range.
    pub from: DateTime,
    /// End of the range (now, when the range asked for reached past it).
    pub to: DateTime,
    /// One entry per status held in the range, by raw status; an entry
    /// without a status covers the time before the first known change.
    pub shares: Vec<StatusShare>,
}

/// The time an EVSE held one status within a range.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct StatusShare {
    /// The status; null for time before any status was known.
    pub status: Option<EvseStatus>,
    /// The status as sent.
    pub status_raw: Option<String>,
    /// Seconds in this status.
    pub seconds: f64,
    /// Fraction of the range in this status, 0 to 1.
    pub share: f64,
}

impl Availability {
    /// Adds up the time between changes; `rows` hold the change in force at
    /// `from` (if any) and the changes within the range, oldest first.
    pub fn compute(
        from: DateTime,
        to: DateTime,
        rows: &[evse_status_history::Model],
    ) -> Availability {
        let mut spans: Vec<(Option<String>, i64)> = Vec::new();
        let mut add = |status: &Option<String>, ms: i64| {
            if ms <= 0 {
                return;
            }
            match spans.iter_mut().find(|(s, _)| s == status) {
                Some((_, total)) => *total += ms,
                None => spans.push((status.clone(), ms)),
            }
        };
        let (mut current, mut since) = (None, from.0);
        for row in rows {
            let at = row.changed_at.max(from.0);
            add(&current, (at - since).num_milliseconds());
            current = Some(row.status.to_uppercase());
            since = at;
        }
        add(&current, (to.0 - since).num_milliseconds());
        spans.sort_by(|a, b| match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        });
        let total = (to.0 - from.0).num_milliseconds() as f64;
        let shares = spans
            .into_iter()
            .map(|(raw, ms)| StatusShare {
                status: raw.as_deref().map(EvseStatus::from_raw),
                status_raw: raw,
                seconds: ms as f64 / 1000.0,
                share: ms as f64 / total,
            })
            .collect();
        Availability { from, to, shares }
    }
}

/// A connector of an EVSE.
pub struct Connector(pub connector::Model);

/// A connector of an EVSE.
#[Object]
impl Connector {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Connector, self.0.id)
    }
    /// The CPO's id of the connector within its EVSE.
    async fn connector_id(&self) -> &str {
        &self.0.connector_id
    }
    /// Plug standard; OTHER for one this version does not know.
    async fn standard(&self) -> Option<ConnectorType> {
        self.0.standard.as_deref().map(ConnectorType::from_raw)
    }
    /// Plug standard as sent, e.g. IEC_62196_T2.
    async fn standard_raw(&self) -> Option<&str> {
        self.0.standard.as_deref()
    }
    /// SOCKET or CABLE.
    async fn format(&self) -> Option<ConnectorFormat> {
        self.0.format.as_deref().map(ConnectorFormat::from_raw)
    }
    /// The format as sent.
    async fn format_raw(&self) -> Option<&str> {
        self.0.format.as_deref()
    }
    /// AC_1_PHASE, AC_3_PHASE, DC, ...
    async fn power_type(&self) -> Option<PowerType> {
        self.0.power_type.as_deref().map(PowerType::from_raw)
    }
    /// The power type as sent.
    async fn power_type_raw(&self) -> Option<&str> {
        self.0.power_type.as_deref()
    }
    /// Maximum voltage in volts (line to neutral for three phases).
    async fn max_voltage(&self) -> Option<i64> {
        self.0.max_voltage
    }
    /// Maximum current in amperes.
    async fn max_amperage(&self) -> Option<i64> {
        self.0.max_amperage
    }
    /// Maximum power in watts, as sent.
    async fn max_electric_power(&self) -> Option<i64> {
        self.0.max_electric_power
    }
    /// Power in watts: maxElectricPower, else voltage x amperage (x3 for
    /// AC_3_PHASE); what the `minPower` filter compares.
    async fn power(&self) -> Option<i64> {
        connector_power(&self.0)
    }
    /// Ids of the tariffs that apply.
    async fn tariff_ids(&self) -> Vec<String> {
        string_list(&self.0.tariff_ids)
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// The EVSE of the connector.
    async fn evse(&self, ctx: &Context<'_>) -> Result<Option<Evse>> {
        Ok(load::<ById<evse::Entity>, _>(ctx, self.0.evse_pk)
            .await?
            .map(Evse))
    }
}

/// A connector's power in watts, as `read::CONNECTOR_POWER_SQL` computes it.
pub fn connector_power(c: &connector::Model) -> Option<i64> {
    if c.max_electric_power.is_some() {
        return c.max_electric_power;
    }
    let phases = match c.power_type.as_deref().map(PowerType::from_raw) {
        Some(PowerType::Ac3Phase) => 3,
        _ => 1,
    };
    Some(c.max_voltage? * c.max_amperage? * phases)
}

// ---------------------------------------------------------------------------
// Sessions

/// The list name of session cursors.
const SESSIONS: &str = "Session";

/// Counts a session list: a filtered list or a place's.
pub enum SessionTotal {
    /// The root list under a filter.
    Filter(Box<SessionFilter>),
    /// The sessions of a location or EVSE.
    Place(Place),
}

impl SessionTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        match self {
            SessionTotal::Filter(filter) => read::sessions_count(store(ctx)?.db(), filter)
                .await
                .map_err(internal),
            SessionTotal::Place(place) => {
                let n = load::<PlaceCounts, _>(ctx, (place.clone(), PlaceList::Sessions)).await?;
                Ok(n.unwrap_or_default() as u64)
            }
        }
    }
}

connection!(
    /// A page of sessions.
    SessionConnection,
    /// A session and its cursor.
    SessionEdge,
    Session,
    SessionTotal
);

/// A page of sessions from rows in read order.
pub fn session_connection(
    rows: Vec<session::Model>,
    window: &read::Window,
    total: SessionTotal,
) -> SessionConnection {
    let (edges, page_info) = edges(
        rows,
        window,
        SESSIONS,
        id_position(|r: &session::Model| r.id),
        |cursor, r| SessionEdge {
            cursor,
            node: Session(r),
        },
    );
    SessionConnection {
        edges,
        page_info,
        total,
    }
}

/// The window of a session list's arguments.
pub fn session_window(ctx: &Context<'_>, args: &PageArgs) -> Result<read::Window> {
    args.window(ctx, SESSIONS, KeyKind::None)
}

async fn sessions_at(
    ctx: &Context<'_>,
    place: Place,
    args: &PageArgs,
) -> Result<SessionConnection> {
    let window = session_window(ctx, args)?;
    let key = (place.clone(), PlaceList::Sessions, window.clone());
    let rows = match load::<PlacePages, _>(ctx, key).await? {
        Some(PlaceRows::Sessions(rows)) => rows,
        _ => Vec::new(),
    };
    Ok(session_connection(
        rows,
        &window,
        SessionTotal::Place(place),
    ))
}

/// An OCPI charging session.
pub struct Session(pub session::Model);

impl Session {
    fn key(&self) -> SessionRef {
        SessionRef::new(&self.0.country_code, &self.0.party_id, &self.0.ocpi_id)
    }
}

/// An OCPI charging session.
#[Object]
impl Session {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Session, self.0.id)
    }
    /// Country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the session.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// ACTIVE, COMPLETED, ...; OTHER for a status this version does not know.
    async fn status(&self) -> Option<SessionStatus> {
        self.0.status.as_deref().map(SessionStatus::from_raw)
    }
    /// The status as sent.
    async fn status_raw(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// Energy charged so far, in kWh.
    async fn kwh(&self) -> Option<Decimal> {
        decimal(self.0.kwh_micro)
    }
    /// When the session started.
    async fn start_date_time(&self) -> Option<DateTime> {
        datetime(self.0.start_date_time)
    }
    /// When the session ended.
    async fn end_date_time(&self) -> Option<DateTime> {
        datetime(self.0.end_date_time)
    }
    /// The token's auth id (OCPI 2.1.1).
    async fn auth_id(&self) -> Option<&str> {
        self.0.auth_id.as_deref()
    }
    /// The token's uid (OCPI 2.2.1 cdr_token).
    async fn token_uid(&self) -> Option<&str> {
        self.0.token_uid.as_deref()
    }
    /// How the driver was authorised.
    async fn auth_method(&self) -> Option<AuthMethod> {
        self.0.auth_method.as_deref().map(AuthMethod::from_raw)
    }
    /// How the driver was authorised, as sent.
    async fn auth_method_raw(&self) -> Option<&str> {
        self.0.auth_method.as_deref()
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// Cost so far, excluding VAT.
    async fn total_cost(&self) -> Option<Money> {
        money(self.0.total_cost_micro)
    }
    /// Cost so far, including VAT, when sent.
    async fn total_cost_incl_vat(&self) -> Option<Money> {
        money(self.0.total_cost_incl_vat_micro)
    }
    /// True until a whole Session (PUT or pull) was received.
    async fn incomplete(&self) -> bool {
        self.0.incomplete
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we last received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The merged OCPI JSON, charging periods excluded.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.0.evse_uid.as_deref()
    }
    /// The CPO's connector id.
    async fn connector_id(&self) -> Option<&str> {
        self.0.connector_id.as_deref()
    }
    /// The distinct charging periods, by start (a plain list: part of the session).
    async fn charging_periods(&self, ctx: &Context<'_>) -> Result<Vec<ChargingPeriod>> {
        let rows = load::<ChargingPeriods, _>(ctx, self.0.id).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(ChargingPeriod)
            .collect())
    }
    /// Every applied push, in arrival order (with `includeIgnored`, also the
    /// stale ones and those after COMPLETED).
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(
            default = false,
            desc = "Also pushes that were recorded but not applied."
        )]
        include_ignored: bool,
    ) -> Result<SessionEventConnection> {
        let args = PageArgs::new(first, after, last, before);
        let window = args.window(ctx, TIMELINE, KeyKind::None)?;
        let key = (self.0.id, include_ignored, window.clone());
        let rows = load::<TimelinePages, _>(ctx, key).await?;
        let (edges, page_info) = edges(
            rows.unwrap_or_default(),
            &window,
            TIMELINE,
            id_position(|r: &session_event::Model| r.id),
            |cursor, r| SessionEventEdge {
                cursor,
                node: SessionEvent(r),
            },
        );
        Ok(SessionEventConnection {
            edges,
            page_info,
            total: TimelineTotal(self.0.id, include_ignored),
        })
    }
    /// Energy and average power per period: from the charging periods, else
    /// from the kWh of the applied pushes.
    async fn charging_curve(&self, ctx: &Context<'_>) -> Result<ChargingCurve> {
        let periods = load::<ChargingPeriods, _>(ctx, self.0.id).await?;
        let periods = periods.unwrap_or_default();
        if !periods.is_empty() {
            return Ok(ChargingCurve::from_periods(&self.0, &periods));
        }
        let events = load::<AppliedEvents, _>(ctx, self.0.id).await?;
        Ok(ChargingCurve::from_timeline(
            &self.0,
            &events.unwrap_or_default(),
        ))
    }
    /// The location, when it was pushed.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_pk).await
    }
    /// The EVSE, when its location and uid are known.
    async fn evse(&self, ctx: &Context<'_>) -> Result<Option<Evse>> {
        let (Some(location_pk), Some(uid)) = (self.0.location_pk, &self.0.evse_uid) else {
            return Ok(None);
        };
        let evses = load::<EvsesByLocation, _>(ctx, location_pk).await?;
        Ok(evses
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.uid.eq_ignore_ascii_case(uid))
            .map(Evse))
    }
    /// The CDR billing this session, once received (the first, when a credit followed).
    async fn cdr(&self, ctx: &Context<'_>) -> Result<Option<Cdr>> {
        let rows = load::<CdrsBySession, _>(ctx, self.key()).await?;
        Ok(rows.unwrap_or_default().into_iter().next().map(Cdr))
    }
}

/// The list name of timeline cursors.
const TIMELINE: &str = "SessionEvent";

/// Counts a session's timeline.
pub struct TimelineTotal(i64, bool);

impl TimelineTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        let n = load::<TimelineCounts, _>(ctx, (self.0, self.1)).await?;
        Ok(n.unwrap_or_default() as u64)
    }
}

connection!(
    /// A page of a session's timeline.
    SessionEventConnection,
    /// A push and its cursor.
    SessionEventEdge,
    SessionEvent,
    TimelineTotal
);

/// A period of a session with constant tariff conditions.
pub struct ChargingPeriod(pub charging_period::Model);

/// One measured quantity of a charging period.
#[derive(SimpleObject)]
pub struct CdrDimension {
    /// ENERGY, TIME, PARKING_TIME, ...; OTHER for one this version does not know.
    #[graphql(name = "type")]
    pub kind: CdrDimensionType,
    /// The type as sent.
    pub type_raw: String,
    /// The volume, in the dimension's unit.
    pub volume: Option<Decimal>,
}

/// A period of a session with constant tariff conditions.
#[Object]
impl ChargingPeriod {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::ChargingPeriod, self.0.id)
    }
    /// When the period started.
    async fn start_date_time(&self) -> DateTime {
        DateTime(self.0.start_date_time)
    }
    /// The tariff that applies, when given.
    async fn tariff_id(&self) -> Option<&str> {
        self.0.tariff_id.as_deref()
    }
    /// The quantities measured in this period.
    async fn dimensions(&self) -> Vec<CdrDimension> {
        let sent: Vec<serde_json::Value> =
            serde_json::from_str(&self.0.dimensions).unwrap_or_default();
        sent.iter().map(dimension).collect()
    }
}

fn dimension(value: &serde_json::Value) -> CdrDimension {
    let raw = value["type"].as_str().unwrap_or_default().to_owned();
    CdrDimension {
        kind: CdrDimensionType::from_raw(&raw),
        type_raw: raw,
        volume: Micros::from_json(&value["volume"]).ok().map(Decimal),
    }
}

/// Where a charging curve's points come from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargingCurveSource {
    /// The session's charging periods (their ENERGY dimension).
    ChargingPeriods,
    /// The kWh of the session's applied pushes, between consecutive pushes.
    Timeline,
}

/// Energy and average power over a session.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ChargingCurve {
    /// What the points were computed from.
    pub source: ChargingCurveSource,
    /// One point per period, by start.
    pub points: Vec<ChargingCurvePoint>,
}

/// Energy and average power over one period.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ChargingCurvePoint {
    /// Start of the period.
    pub start: DateTime,
    /// End of the period (the next start, the session end, or the period's
    /// TIME); null when unknown.
    pub end: Option<DateTime>,
    /// Energy charged in the period, kWh.
    pub energy: Option<Decimal>,
    /// Average power over the period, kW (energy / hours, to 6 decimals).
    pub average_power: Option<Decimal>,
}

/// kWh over a span as average kW, in micro-units, rounded half up.
fn average_power(energy_micro: i64, from: Utc<UtcZone>, to: Utc<UtcZone>) -> Option<Decimal> {
    let ms = (to - from).num_milliseconds();
    if ms <= 0 {
        return None;
    }
    let scaled = i128::from(energy_micro) * 3_600_000;
    let half = i128::from(ms) / 2;
    let micro = (scaled + if scaled >= 0 { half } else { -half }) / i128::from(ms);
    i64::try_from(micro).ok().map(|m| Decimal(Micros(m)))
}

impl ChargingCurve {
    fn from_periods(session: &session::Model, periods: &[charging_period::Model]) -> ChargingCurve {
        let points = periods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let end = periods
                    .get(i + 1)
                    .map(|next| next.start_date_time)
                    .or(session.end_date_time)
                    .or_else(|| {
                        let ms = p.time_micro? / 1000 * 3600;
                        Some(p.start_date_time + chrono::Duration::milliseconds(ms))
                    });
                let power = p
                    .energy_micro
                    .zip(end)
                    .and_then(|(e, end)| average_power(e, p.start_date_time, end));
                ChargingCurvePoint {
                    start: DateTime(p.start_date_time),
                    end: end.map(DateTime),
                    energy: decimal(p.energy_micro),
                    average_power: power,
                }
            })
            .collect();
        ChargingCurve {
            source: ChargingCurveSource::ChargingPeriods,
            points,
        }
    }

    fn from_timeline(session: &session::Model, events: &[session_event::Model]) -> ChargingCurve {
        let mut readings: Vec<(Utc<UtcZone>, i64)> = Vec::new();
        if let Some(start) = session.start_date_time {
            readings.push((start, 0));
        }
        let mut sorted: Vec<&session_event::Model> = events.iter().collect();
        sorted.sort_by_key(|e| (e.at, e.id));
        for event in sorted {
            let Some(kwh) = event.kwh_micro else {
                continue;
            };
            match readings.last_mut() {
                Some(last) if last.0 == event.at => last.1 = kwh,
                Some(last) if last.0 > event.at => {}
                _ => readings.push((event.at, kwh)),
            }
        }
        let points = readings
            .windows(2)
            .map(|pair| {
                let ((t0, k0), (t1, k1)) = (pair[0], pair[1]);
                ChargingCurvePoint {
                    start: DateTime(t0),
                    end: Some(DateTime(t1)),
                    energy: Some(Decimal(Micros(k1 - k0))),
                    average_power: average_power(k1 - k0, t0, t1),
                }
            })
            .collect();
        ChargingCurve {
            source: ChargingCurveSource::Timeline,
            points,
        }
    }
}

/// One push a session received.
pub struct SessionEvent(pub session_event::Model);

/// One push a session received.
#[Object]
impl SessionEvent {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::SessionEvent, self.0.id)
    }
    /// The sender's stamp when given, else when we received it.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
    /// When we received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// PUT, PATCH or PULL.
    async fn method(&self) -> &str {
        &self.0.method
    }
    /// The session status the push carried.
    async fn status(&self) -> Option<SessionStatus> {
        self.0.status.as_deref().map(SessionStatus::from_raw)
    }
    /// The session status the push carried, as sent.
    async fn status_raw(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// The kWh the push carried.
    async fn kwh(&self) -> Option<Decimal> {
        decimal(self.0.kwh_micro)
    }
    /// The cost excluding VAT the push carried.
    async fn total_cost(&self) -> Option<Money> {
        money(self.0.total_cost_micro)
    }
    /// False when the push was stale or the session already final.
    async fn applied(&self) -> bool {
        self.0.applied
    }
}

// ---------------------------------------------------------------------------
// CDRs and tariffs

/// The list name of CDR cursors.
const CDRS: &str = "Cdr";

/// Counts a CDR list: a filtered list or a place's.
pub enum CdrTotal {
    /// The root list under a filter.
    Filter(Box<CdrFilter>),
    /// The CDRs of a location or EVSE.
    Place(Place),
}

impl CdrTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        match self {
            CdrTotal::Filter(filter) => read::cdrs_count(store(ctx)?.db(), filter)
                .await
                .map_err(internal),
            CdrTotal::Place(place) => {
                let n = load::<PlaceCounts, _>(ctx, (place.clone(), PlaceList::Cdrs)).await?;
                Ok(n.unwrap_or_default() as u64)
            }
        }
    }
}

connection!(
    /// A page of CDRs.
    CdrConnection,
    /// A CDR and its cursor.
    CdrEdge,
    Cdr,
    CdrTotal
);

/// The window of a CDR list's arguments.
pub fn cdr_window(ctx: &Context<'_>, args: &PageArgs) -> Result<read::Window> {
    args.window(ctx, CDRS, KeyKind::None)
}

/// A page of CDRs from rows in read order.
pub fn cdr_connection(
    rows: Vec<cdr::Model>,
    window: &read::Window,
    total: CdrTotal,
) -> CdrConnection {
    let (edges, page_info) = edges(
        rows,
        window,
        CDRS,
        id_position(|r: &cdr::Model| r.id),
        |cursor, r| CdrEdge {
            cursor,
            node: Cdr(r),
        },
    );
    CdrConnection {
        edges,
        page_info,
        total,
    }
}

async fn cdrs_at(ctx: &Context<'_>, place: Place, args: &PageArgs) -> Result<CdrConnection> {
    let window = cdr_window(ctx, args)?;
    let key = (place.clone(), PlaceList::Cdrs, window.clone());
    let rows = match load::<PlacePages, _>(ctx, key).await? {
        Some(PlaceRows::Cdrs(rows)) => rows,
        _ => Vec::new(),
    };
    Ok(cdr_connection(rows, &window, CdrTotal::Place(place)))
}

/// An immutable OCPI charge detail record.
pub struct Cdr(pub cdr::Model);

/// An immutable OCPI charge detail record.
#[Object]
impl Cdr {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Cdr, self.0.id)
    }
    /// Country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the CDR.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// The CPO's id of the billed session.
    async fn session_id(&self) -> Option<&str> {
        self.0.session_id.as_deref()
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The CPO's EVSE uid.
    async fn evse_uid(&self) -> Option<&str> {
        self.0.evse_uid.as_deref()
    }
    /// The CPO's connector id.
    async fn connector_id(&self) -> Option<&str> {
        self.0.connector_id.as_deref()
    }
    /// When charging started.
    async fn start_date_time(&self) -> Option<DateTime> {
        datetime(self.0.start_date_time)
    }
    /// When charging ended.
    async fn end_date_time(&self) -> Option<DateTime> {
        datetime(self.0.end_date_time)
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// Total cost excluding VAT.
    async fn total_cost(&self) -> Option<Money> {
        money(self.0.total_cost_micro)
    }
    /// Total cost including VAT, when sent.
    async fn total_cost_incl_vat(&self) -> Option<Money> {
        money(self.0.total_cost_incl_vat_micro)
    }
    /// Energy in kWh.
    async fn total_energy(&self) -> Option<Decimal> {
        decimal(self.0.total_energy_micro)
    }
    /// Duration in hours.
    async fn total_time(&self) -> Option<Decimal> {
        decimal(self.0.total_time_micro)
    }
    /// Parking time in hours.
    async fn total_parking_time(&self) -> Option<Decimal> {
        decimal(self.0.total_parking_time_micro)
    }
    /// True for a credit CDR.
    async fn credit(&self) -> bool {
        self.0.credit
    }
    /// The id of the CDR a credit CDR corrects.
    async fn credit_reference_id(&self) -> Option<&str> {
        self.0.credit_reference_id.as_deref()
    }
    /// The CDR a credit CDR corrects, when stored.
    async fn credited_cdr(&self, ctx: &Context<'_>) -> Result<Option<Cdr>> {
        let Some(pk) = self.0.credit_of_pk else {
            return Ok(None);
        };
        Ok(load::<ById<cdr::Entity>, _>(ctx, pk).await?.map(Cdr))
    }
    /// The token's auth id.
    async fn auth_id(&self) -> Option<&str> {
        self.0.auth_id.as_deref()
    }
    /// The token's uid.
    async fn token_uid(&self) -> Option<&str> {
        self.0.token_uid.as_deref()
    }
    /// How the driver was authorised.
    async fn auth_method(&self) -> Option<AuthMethod> {
        self.0.auth_method.as_deref().map(AuthMethod::from_raw)
    }
    /// How the driver was authorised, as sent.
    async fn auth_method_raw(&self) -> Option<&str> {
        self.0.auth_method.as_deref()
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The CDR as sent, with its location snapshot.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
    /// Ids of the tariffs the CDR embeds.
    async fn tariff_ids(&self) -> Vec<String> {
        string_list(&self.0.tariff_ids)
    }
    /// The stored tariffs among `tariffIds` (the CDR's own copies are in `raw`).
    async fn tariffs(&self, ctx: &Context<'_>) -> Result<Vec<Tariff>> {
        let loader = ctx.data::<DataLoader<TariffsByRef>>()?;
        let keys: Vec<SessionRef> = string_list(&self.0.tariff_ids)
            .iter()
            .map(|id| SessionRef::new(&self.0.country_code, &self.0.party_id, id))
            .collect();
        let found = loader
            .load_many(keys.iter().cloned())
            .await
            .map_err(internal)?;
        Ok(keys
            .iter()
            .filter_map(|k| found.get(k).cloned())
            .map(Tariff)
            .collect())
    }
    /// The location, when it was pushed (a CDR never creates one).
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_pk).await
    }
    /// The billed session, when it was received.
    async fn session(&self, ctx: &Context<'_>) -> Result<Option<Session>> {
        let Some(session_id) = &self.0.session_id else {
            return Ok(None);
        };
        let key = SessionRef::new(&self.0.country_code, &self.0.party_id, session_id);
        let row = load::<super::loaders::SessionsByRef, _>(ctx, key).await?;
        Ok(row.map(Session))
    }
}

/// An OCPI Tariff as last pushed.
pub struct Tariff(pub tariff::Model);

/// An OCPI Tariff as last pushed.
#[Object]
impl Tariff {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Tariff, self.0.id)
    }
    /// Country code of the CPO, as first spelled.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id, as first spelled.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The CPO's id of the tariff.
    async fn ocpi_id(&self) -> &str {
        &self.0.ocpi_id
    }
    /// ISO 4217 currency.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// The tariff type (OCPI 2.2.1).
    #[graphql(name = "type")]
    async fn tariff_type(&self) -> Option<TariffType> {
        self.0.tariff_type.as_deref().map(TariffType::from_raw)
    }
    /// The tariff type as sent.
    async fn type_raw(&self) -> Option<&str> {
        self.0.tariff_type.as_deref()
    }
    /// From when the tariff applies.
    async fn start_date_time(&self) -> Option<DateTime> {
        datetime(self.0.start_date_time)
    }
    /// Until when the tariff applies.
    async fn end_date_time(&self) -> Option<DateTime> {
        datetime(self.0.end_date_time)
    }
    /// The sender's last_updated.
    async fn last_updated(&self) -> Option<DateTime> {
        datetime(self.0.last_updated)
    }
    /// When we last received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// When a DELETE removed it; null while it is current.
    async fn deleted_at(&self) -> Option<DateTime> {
        datetime(self.0.deleted_at)
    }
    /// The tariff's elements (price components and restrictions) as sent.
    async fn elements(&self) -> Option<Json<serde_json::Value>> {
        let raw: serde_json::Value = serde_json::from_str(&self.0.raw).ok()?;
        raw.get("elements").cloned().map(Json)
    }
    /// The merged OCPI JSON.
    async fn raw(&self) -> Option<Json<serde_json::Value>> {
        json(Some(&self.0.raw))
    }
}

// ---------------------------------------------------------------------------
// Notifications

/// A ChargeStation notification (GreenFlux), with its OCPP payload.
pub struct Notification(pub notification::Model);

/// A ChargeStation notification (GreenFlux), with its OCPP payload.
#[Object]
impl Notification {
    /// Opaque global id.
    async fn id(&self) -> ID {
        global_id(NodeType::Notification, self.0.id)
    }
    /// Country code of the CPO.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// CPO party id.
    async fn party_id(&self) -> &str {
        &self.0.party_id
    }
    /// The id in the notification's URL.
    async fn notification_id(&self) -> &str {
        &self.0.notification_id
    }
    /// The charge station that raised it.
    async fn charge_station_id(&self) -> Option<&str> {
        self.0.charge_station_id.as_deref()
    }
    /// The EVSE it concerns.
    async fn evse_id(&self) -> Option<&str> {
        self.0.evse_id.as_deref()
    }
    /// The CPO's location id.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The OCPP action, e.g. StatusNotification.
    async fn message_action(&self) -> Option<&str> {
        self.0.message_action.as_deref()
    }
    /// The OCPP message type.
    async fn message_type(&self) -> Option<&str> {
        self.0.message_type.as_deref()
    }
    /// Which way the OCPP message went.
    async fn direction(&self) -> Option<&str> {
        self.0.direction.as_deref()
    }
    /// Severity, as sent.
    async fn level(&self) -> Option<&str> {
        self.0.level.as_deref()
    }
    /// When the station created it.
    async fn created(&self) -> Option<DateTime> {
        datetime(self.0.created)
    }
    /// When we received it.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// The OCPP payload string as sent.
    async fn payload(&self) -> Option<&str> {
        self.0.payload.as_deref()
    }
    /// The OCPP payload parsed, when it is JSON.
    async fn payload_json(&self) -> Option<Json<serde_json::Value>> {
        json(self.0.payload_json.as_deref())
    }
}
