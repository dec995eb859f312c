//! The Query root: lookups by OCPI ids, Relay connections and `node(id:)`.
//!
//! Every entry point narrows to the caller's parties (`super::access`): a
//! list or count in SQL, a lookup by checking the row's party, so a caller
//! scoped to some parties never sees another party's rows, counts or nodes.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use entity::{cdr, charging_period, connector, evse, evse_status_history, location};
use entity::{notification, session, session_event, tariff};

use super::enums::{ConnectorType, EvseStatus, PowerType, SessionStatus};
use super::error::{bad_user_input, internal};
use super::ids::{parse_global_id, KeyKind, NodeType};
use super::loaders::{ById, StatusCountsByLocation};
use super::pagination::{by_id, connection, edges, PageArgs, PageInfo};
use super::scalars::DateTime;
use super::types::{
    cdr_connection, cdr_window, load, session_connection, session_window, store, Cdr,
    CdrConnection, CdrTotal, ChargingPeriod, Connector, Evse, EvseStatusEntry, Location, Node,
    Notification, Session, SessionConnection, SessionEvent, SessionTotal, Tariff,
};
use crate::domain::geo::{self, Point};
use crate::domain::Access;
use crate::store::read::{
    self, BoundingBox, CdrFilter, EquipmentFilter, LocationFilter, LocationHit, LocationSort, Near,
    NotificationFilter, Position, Scope, SessionFilter, TariffFilter, TimeRange,
};

/// Lookups and connections over locations, sessions, CDRs, tariffs and notifications.
#[derive(Default)]
pub struct CoreQuery;

fn scope(ctx: &Context<'_>) -> Scope {
    Scope::of(super::access(ctx).parties())
}

fn visible<T>(ctx: &Context<'_>, row: Option<T>, party: impl Fn(&T) -> (&str, &str)) -> Option<T> {
    let access: &Access = super::access(ctx);
    row.filter(|r| {
        let (cc, pid) = party(r);
        access.may_read(cc, pid)
    })
}

/// A half-open time range; either end may be left open.
#[derive(InputObject, Default, Debug, Clone, Copy)]
pub struct TimeRangeInput {
    /// From this instant, inclusive.
    pub from: Option<DateTime>,
    /// Until this instant, exclusive.
    pub to: Option<DateTime>,
}

impl From<Option<TimeRangeInput>> for TimeRange {
    fn from(range: Option<TimeRangeInput>) -> TimeRange {
        let range = range.unwrap_or_default();
        TimeRange {
            from: range.from.map(|d| d.0),
            to: range.to.map(|d| d.0),
        }
    }
}

// ---------------------------------------------------------------------------
// Locations

/// What `locations` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct LocationsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// City, exactly as sent.
    pub city: Option<String>,
    /// Postal code, exactly as sent.
    pub postal_code: Option<String>,
    /// Part of the name or the address, case-insensitive (ASCII case folding on SQLite).
    pub text: Option<String>,
    /// The publish flag.
    pub publish: Option<bool>,
    /// Only locations with an EVSE in one of these statuses (and, with the
    /// connector criteria, a matching connector on that same EVSE).
    pub evse_statuses: Option<Vec<EvseStatus>>,
    /// Only locations with a connector of one of these standards.
    pub connector_standards: Option<Vec<ConnectorType>>,
    /// Only locations with a connector of one of these power types.
    pub power_types: Option<Vec<PowerType>>,
    /// Only locations with a connector of at least this power, in watts:
    /// max_electric_power, else voltage x amperage (x3 for AC_3_PHASE).
    pub min_power: Option<i64>,
    /// Also expired locations, whose EVSEs are all REMOVED (hidden by
    /// default, OCPI 2.2.1 Locations).
    #[graphql(default)]
    pub include_expired: bool,
}

/// A point and optionally a radius: locations near it, each with its distance.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct GeoNear {
    /// Degrees north, -90 to 90.
    pub latitude: f64,
    /// Degrees east, -180 to 180.
    pub longitude: f64,
    /// Only locations within this many metres (great-circle); all located ones when absent.
    pub radius: Option<f64>,
}

/// A box of coordinates; `west` greater than `east` crosses the antimeridian.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct GeoBoundingBox {
    /// Northern edge, degrees.
    pub north: f64,
    /// Southern edge, degrees.
    pub south: f64,
    /// Eastern edge, degrees.
    pub east: f64,
    /// Western edge, degrees.
    pub west: f64,
}

/// What locations can be sorted by; the row id breaks ties.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationOrderField {
    /// Arrival order.
    Id,
    /// Name (a location without a name sorts as empty).
    Name,
    /// Distance from `near` (needs `near`).
    Distance,
    /// The sender's last_updated, else our receive time.
    LastUpdated,
}

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// How `locations` is sorted.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct LocationOrder {
    /// The sort key.
    pub field: LocationOrderField,
    /// The direction.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl LocationsFilter {
    fn into_store(self, ctx: &Context<'_>) -> LocationFilter {
        let equipment = EquipmentFilter {
            statuses: self.evse_statuses.as_deref().map(EvseStatus::raw_set),
            standards: self
                .connector_standards
                .as_deref()
                .map(ConnectorType::raw_set),
            power_types: self.power_types.as_deref().map(PowerType::raw_set),
            min_power_w: self.min_power,
        };
        LocationFilter {
            scope: scope(ctx),
            party_id: self.party_id,
            country_code: self.country_code,
            city: self.city,
            postal_code: self.postal_code,
            text: self.text,
            publish: self.publish,
            equipment,
            near: None,
            bbox: None,
            include_expired: self.include_expired,
        }
    }
}

fn geo_filter(
    filter: &mut LocationFilter,
    near: Option<GeoNear>,
    bbox: Option<GeoBoundingBox>,
) -> Result<()> {
    if let Some(near) = near {
        let point = Point {
            latitude: near.latitude,
            longitude: near.longitude,
        };
        if !point.is_valid() {
            return Err(bad_user_input(
                "`near` needs a latitude within ±90 and a longitude within ±180",
            ));
        }
        if near.radius.is_some_and(|r| !(r >= 0.0 && r.is_finite())) {
            return Err(bad_user_input(
                "`radius` must be a number of metres, 0 or more",
            ));
        }
        filter.near = Some(Near {
            point,
            radius_m: near.radius,
        });
    }
    if let Some(b) = bbox {
        let corners = [
            Point {
                latitude: b.north,
                longitude: b.east,
            },
            Point {
                latitude: b.south,
                longitude: b.west,
            },
        ];
        if corners.iter().any(|p| !p.is_valid()) || b.south > b.north {
            return Err(bad_user_input(
                "`boundingBox` needs south <= north within ±90 and east, west within ±180",
            ));
        }
        filter.bbox = Some(BoundingBox {
            north: b.north,
            south: b.south,
            east: b.east,
            west: b.west,
        });
    }
    Ok(())
}

/// Counts the locations of a filter, on demand.
pub struct LocationTotal {
    filter: LocationFilter,
}

impl LocationTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::locations_count(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

/// A page of locations.
pub struct LocationConnection {
    edges: Vec<LocationEdge>,
    page_info: PageInfo,
    total: LocationTotal,
}

/// A page of locations.
#[Object]
impl LocationConnection {
    /// The rows of this page with their cursors (and distances, with `near`).
    async fn edges(&self) -> &[LocationEdge] {
        &self.edges
    }
    /// The rows of this page, without cursors.
    async fn nodes(&self) -> Vec<&Location> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Where this page stands in the list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// How many rows the whole list has, over all pages (one more
    /// statement, run only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        self.total.count(ctx).await
    }
}

/// A location, its cursor and its distance from the search point.
pub struct LocationEdge {
    cursor: String,
    node: Location,
    distance: Option<f64>,
}

/// A location, its cursor and its distance from the search point.
#[Object]
impl LocationEdge {
    /// Where this row stands, for `after` and `before`.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
    /// The row.
    async fn node(&self) -> &Location {
        &self.node
    }
    /// Great-circle (haversine) distance from `near` in metres; null without `near`.
    async fn distance(&self) -> Option<f64> {
        self.distance
    }
}

fn location_list(sort: LocationSort) -> (&'static str, KeyKind) {
    match sort {
        LocationSort::Id => ("Location", KeyKind::None),
        LocationSort::Name => ("Location:name", KeyKind::Text),
        LocationSort::LastUpdated => ("Location:lastUpdated", KeyKind::Time),
        LocationSort::Distance => ("Location:distance", KeyKind::Float),
    }
}

fn location_sort(order: Option<LocationOrder>, near: bool) -> Result<(LocationSort, bool)> {
    let (field, direction) = match order {
        Some(o) => (o.field, o.direction),
        None if near => (LocationOrderField::Distance, OrderDirection::Asc),
        None => (LocationOrderField::Id, OrderDirection::Asc),
    };
    let sort = match field {
        LocationOrderField::Id => LocationSort::Id,
        LocationOrderField::Name => LocationSort::Name,
        LocationOrderField::LastUpdated => LocationSort::LastUpdated,
        LocationOrderField::Distance if near => LocationSort::Distance,
        LocationOrderField::Distance => {
            return Err(bad_user_input("ordering by DISTANCE needs `near`"));
        }
    };
    Ok((sort, direction == OrderDirection::Desc))
}

/// Reads a page of locations and builds its connection.
async fn location_page(
    ctx: &Context<'_>,
    args: PageArgs,
    filter: LocationFilter,
    order: Option<LocationOrder>,
) -> Result<LocationConnection> {
    let (sort, desc) = location_sort(order, filter.near.is_some())?;
    let (list, kind) = location_list(sort);
    let window = args.window(ctx, list, kind)?;
    let rows = read::locations_page(store(ctx)?.db(), &filter, sort, desc, &window)
        .await
        .map_err(internal)?;
    let position = |hit: &LocationHit| Position {
        key: hit.key(sort),
        id: hit.row.id,
    };
    let (edges, page_info) = edges(rows, &window, list, position, |cursor, hit| LocationEdge {
        cursor,
        distance: hit.haversine.map(geo::distance_m),
        node: Location(hit.row),
    });
    Ok(LocationConnection {
        edges,
        page_info,
        total: LocationTotal { filter },
    })
}

// ---------------------------------------------------------------------------
// Status summary

/// The raw EVSE status of an EVSE that is gone (its history is kept).
const REMOVED: &str = "REMOVED";

/// EVSE counts per status: the tiles of a status board.
pub struct StatusSummary {
    filter: LocationFilter,
    counts: Vec<StatusCount>,
    include_removed: bool,
}

/// How many EVSEs have one status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct StatusCount {
    /// The status; OTHER for one this version does not know, null for none yet.
    pub status: Option<EvseStatus>,
    /// The status as sent.
    pub status_raw: Option<String>,
    /// How many EVSEs have it.
    pub count: i64,
}

/// The counts, without REMOVED EVSEs unless they are asked for (OCPI 2.2.1
/// Locations: REMOVED hides an EVSE, its history stays readable).
fn status_counts(rows: Vec<(Option<String>, i64)>, include_removed: bool) -> Vec<StatusCount> {
    rows.into_iter()
        .filter(|(raw, _)| include_removed || raw.as_deref() != Some(REMOVED))
        .map(|(raw, count)| StatusCount {
            status: raw.as_deref().map(EvseStatus::from_raw),
            status_raw: raw,
            count,
        })
        .collect()
}

/// EVSE counts per status: the tiles of a status board.
#[Object]
impl StatusSummary {
    /// All EVSEs counted.
    async fn total(&self) -> i64 {
        self.counts.iter().map(|c| c.count).sum()
    }
    /// One entry per raw status present, by raw status.
    async fn counts(&self) -> &[StatusCount] {
        &self.counts
    }
    /// The same counts per location, locations in arrival order.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn by_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
    ) -> Result<LocationStatusConnection> {
        let args = PageArgs::new(first, after, last, before);
        let window = args.window(ctx, "Location", KeyKind::None)?;
        let filter = self.filter.clone();
        let rows =
            read::locations_page(store(ctx)?.db(), &filter, LocationSort::Id, false, &window)
                .await
                .map_err(internal)?;
        let (edges, page_info) = edges(
            rows,
            &window,
            "Location",
            |hit: &LocationHit| by_id(hit.row.id),
            |cursor, hit| LocationStatusEdge {
                cursor,
                node: LocationStatus(Location(hit.row), self.include_removed),
            },
        );
        Ok(LocationStatusConnection {
            edges,
            page_info,
            total: LocationTotal { filter },
        })
    }
}

/// One location's EVSE counts per status.
pub struct LocationStatus(Location, bool);

/// One location's EVSE counts per status.
#[Object]
impl LocationStatus {
    /// The location.
    async fn location(&self) -> &Location {
        &self.0
    }
    /// All its EVSEs counted.
    async fn total(&self, ctx: &Context<'_>) -> Result<i64> {
        let counts = self.counts(ctx).await?;
        Ok(counts.iter().map(|c| c.count).sum())
    }
    /// Its EVSEs per raw status present, by raw status.
    async fn counts(&self, ctx: &Context<'_>) -> Result<Vec<StatusCount>> {
        let rows = load::<StatusCountsByLocation, _>(ctx, self.0 .0.id).await?;
        Ok(status_counts(rows.unwrap_or_default(), self.1))
    }
}

connection!(
    /// A page of per-location status counts.
    LocationStatusConnection,
    /// A location's status counts and its cursor.
    LocationStatusEdge,
    LocationStatus,
    LocationTotal
);

// ---------------------------------------------------------------------------
// Sessions, CDRs, tariffs, notifications

/// What `sessions` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct SessionsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// Only sessions in one of these statuses.
    pub statuses: Option<Vec<SessionStatus>>,
    /// The token's auth id (2.1.1) or uid (2.2.1), exactly as sent.
    pub token: Option<String>,
    /// Only sessions that started within this range.
    pub started: Option<TimeRangeInput>,
}

impl SessionsFilter {
    fn into_store(self, ctx: &Context<'_>) -> SessionFilter {
        SessionFilter {
            scope: scope(ctx),
            party_id: self.party_id,
            country_code: self.country_code,
            location_id: self.location_id,
            evse_uid: self.evse_uid,
            statuses: self.statuses.as_deref().map(SessionStatus::raw_set),
            token: self.token,
            started: self.started.into(),
        }
    }
}

/// What `cdrs` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct CdrsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// The CPO's session id, exactly as sent.
    pub session_id: Option<String>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Only credit CDRs (true) or only ordinary ones (false).
    pub credit: Option<bool>,
    /// Only CDRs whose charging started within this range.
    pub started: Option<TimeRangeInput>,
}

impl CdrsFilter {
    /// The store's filter, narrowed to the caller's parties.
    pub(super) fn into_store(self, ctx: &Context<'_>) -> CdrFilter {
        CdrFilter {
            scope: scope(ctx),
            party_id: self.party_id,
            country_code: self.country_code,
            location_id: self.location_id,
            session_id: self.session_id,
            currency: self.currency,
            credit: self.credit,
            started: self.started.into(),
        }
    }
}

/// What `tariffs` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct TariffsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Also tariffs removed by a DELETE.
    #[graphql(default)]
    pub include_deleted: bool,
    /// The CPO's location id, case-insensitive: only the tariffs its
    /// connectors name (of the location's party).
    pub location_id: Option<String>,
    /// Only tariffs valid at some instant of this range, by their
    /// start_date_time and end_date_time (a tariff without one is open there).
    pub valid: Option<TimeRangeInput>,
}

/// Counts the tariffs of a filter, on demand.
pub struct TariffTotal(TariffFilter);

impl TariffTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::tariffs_count(store(ctx)?.db(), &self.0)
            .await
            .map_err(internal)
    }
}

connection!(
    /// A page of tariffs.
    TariffConnection,
    /// A tariff and its cursor.
    TariffEdge,
    Tariff,
    TariffTotal
);

/// What `notifications` may be narrowed by; every given field must match.
#[derive(InputObject, Default, Debug, Clone)]
pub struct NotificationsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// The charge station id, exactly as sent.
    pub charge_station_id: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// Severity, case-insensitive (e.g. Info, Warning, Error).
    pub level: Option<String>,
    /// The OCPP action, case-insensitive (e.g. StatusNotification).
    pub message_action: Option<String>,
    /// Only notifications the station created within this range.
    pub created: Option<TimeRangeInput>,
}

/// Counts the notifications of a filter, on demand.
pub struct NotificationTotal(NotificationFilter);

impl NotificationTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::notifications_count(store(ctx)?.db(), &self.0)
            .await
            .map_err(internal)
    }
}

connection!(
    /// A page of notifications.
    NotificationConnection,
    /// A notification and its cursor.
    NotificationEdge,
    Notification,
    NotificationTotal
);

fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageArgs {
    PageArgs::new(first, after, last, before)
}

#[Object]
impl CoreQuery {
    /// Locations matching `filter`, near a point or within a box, sorted by
    /// `orderBy` (default: by distance with `near`, else arrival order).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "Attributes the locations must have.")] filter: Option<LocationsFilter>,
        #[graphql(desc = "A point (and radius); each edge then has its `distance`.")] near: Option<
            GeoNear,
        >,
        #[graphql(desc = "Only locations within this box.")] bounding_box: Option<GeoBoundingBox>,
        #[graphql(desc = "The sort; the row id breaks ties.")] order_by: Option<LocationOrder>,
    ) -> Result<LocationConnection> {
        let mut filter = filter.unwrap_or_default().into_store(ctx);
        geo_filter(&mut filter, near, bounding_box)?;
        location_page(ctx, page_args(first, after, last, before), filter, order_by).await
    }

    /// One location by its OCPI ids, compared case-insensitively.
    async fn location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO 3166 alpha-2 country code of the CPO.")] country_code: String,
        #[graphql(desc = "CPO party id.")] party_id: String,
        #[graphql(desc = "The CPO's location id.")] ocpi_id: String,
    ) -> Result<Option<Location>> {
        if !super::access(ctx).may_read(&country_code, &party_id) {
            return Ok(None);
        }
        let row = read::location_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(visible(ctx, row, |r| (&r.country_code, &r.party_id)).map(Location))
    }

    /// EVSE counts per status at the locations matching `filter`, overall and per location.
    async fn status_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which locations to count.")] filter: Option<LocationsFilter>,
        #[graphql(
            desc = "Also count REMOVED EVSEs (hidden by default).",
            default
        )]
        include_removed: bool,
    ) -> Result<StatusSummary> {
        let filter = filter.unwrap_or_default().into_store(ctx);
        let rows = read::evse_status_counts(store(ctx)?.db(), &filter)
            .await
            .map_err(internal)?;
        Ok(StatusSummary {
            filter,
            counts: status_counts(rows, include_removed),
            include_removed,
        })
    }

    /// Sessions matching `filter`, in arrival order.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "Attributes the sessions must have.")] filter: Option<SessionsFilter>,
    ) -> Result<SessionConnection> {
        let window = session_window(ctx, &page_args(first, after, last, before))?;
        let filter = filter.unwrap_or_default().into_store(ctx);
        let rows = read::sessions_page(store(ctx)?.db(), &filter, &window)
            .await
            .map_err(internal)?;
        let total = SessionTotal::Filter(Box::new(filter));
        Ok(session_connection(rows, &window, total))
    }

    /// One session by its OCPI ids, compared case-insensitively.
    async fn session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO 3166 alpha-2 country code of the CPO.")] country_code: String,
        #[graphql(desc = "CPO party id.")] party_id: String,
        #[graphql(desc = "The CPO's session id.")] ocpi_id: String,
    ) -> Result<Option<Session>> {
        let row = read::session_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(visible(ctx, row, |r| (&r.country_code, &r.party_id)).map(Session))
    }

    /// CDRs matching `filter`, in arrival order.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn cdrs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "Attributes the CDRs must have.")] filter: Option<CdrsFilter>,
    ) -> Result<CdrConnection> {
        let window = cdr_window(ctx, &page_args(first, after, last, before))?;
        let filter = filter.unwrap_or_default().into_store(ctx);
        let rows = read::cdrs_page(store(ctx)?.db(), &filter, &window)
            .await
            .map_err(internal)?;
        Ok(cdr_connection(
            rows,
            &window,
            CdrTotal::Filter(Box::new(filter)),
        ))
    }

    /// One CDR by its OCPI ids, compared case-insensitively.
    async fn cdr(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO 3166 alpha-2 country code of the CPO.")] country_code: String,
        #[graphql(desc = "CPO party id.")] party_id: String,
        #[graphql(desc = "The CPO's CDR id.")] ocpi_id: String,
    ) -> Result<Option<Cdr>> {
        let row = read::cdr_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(visible(ctx, row, |r| (&r.country_code, &r.party_id)).map(Cdr))
    }

    /// Tariffs matching `filter`, in arrival order.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn tariffs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "Attributes the tariffs must have.")] filter: Option<TariffsFilter>,
    ) -> Result<TariffConnection> {
        let window = page_args(first, after, last, before).window(ctx, "Tariff", KeyKind::None)?;
        let f = filter.unwrap_or_default();
        let filter = TariffFilter {
            scope: scope(ctx),
            party_id: f.party_id,
            country_code: f.country_code,
            currency: f.currency,
            include_deleted: f.include_deleted,
            location_id: f.location_id,
            valid: f.valid.into(),
        };
        let rows = read::tariffs_page(store(ctx)?.db(), &filter, &window)
            .await
            .map_err(internal)?;
        let (edges, page_info) = edges(
            rows,
            &window,
            "Tariff",
            |r: &tariff::Model| by_id(r.id),
            |cursor, r| TariffEdge {
                cursor,
                node: Tariff(r),
            },
        );
        Ok(TariffConnection {
            edges,
            page_info,
            total: TariffTotal(filter),
        })
    }

    /// One tariff by its OCPI ids, compared case-insensitively (deleted ones too).
    async fn tariff(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO 3166 alpha-2 country code of the CPO.")] country_code: String,
        #[graphql(desc = "CPO party id.")] party_id: String,
        #[graphql(desc = "The CPO's tariff id.")] ocpi_id: String,
    ) -> Result<Option<Tariff>> {
        let row = read::tariff_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(visible(ctx, row, |r| (&r.country_code, &r.party_id)).map(Tariff))
    }

    /// Notifications matching `filter`, in arrival order.
    #[graphql(complexity = "super::pagination::weight(first, last, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the start.")] first: Option<i32>,
        #[graphql(desc = "Only rows after this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the end.")] last: Option<i32>,
        #[graphql(desc = "Only rows before this cursor.")] before: Option<String>,
        #[graphql(desc = "Attributes the notifications must have.")] filter: Option<
            NotificationsFilter,
        >,
    ) -> Result<NotificationConnection> {
        let list = "Notification";
        let window = page_args(first, after, last, before).window(ctx, list, KeyKind::None)?;
        let f = filter.unwrap_or_default();
        let filter = NotificationFilter {
            scope: scope(ctx),
            party_id: f.party_id,
            country_code: f.country_code,
            charge_station_id: f.charge_station_id,
            location_id: f.location_id,
            level: f.level,
            message_action: f.message_action,
            created: f.created.into(),
        };
        let rows = read::notifications_page(store(ctx)?.db(), &filter, &window)
            .await
            .map_err(internal)?;
        let position = |r: &notification::Model| by_id(r.id);
        let (edges, page_info) = edges(rows, &window, list, position, |cursor, r| {
            NotificationEdge {
                cursor,
                node: Notification(r),
            }
        });
        Ok(NotificationConnection {
            edges,
            page_info,
            total: NotificationTotal(filter),
        })
    }

    /// One notification by its party and the id in its URL.
    async fn notification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "ISO 3166 alpha-2 country code of the CPO.")] country_code: String,
        #[graphql(desc = "CPO party id.")] party_id: String,
        #[graphql(desc = "The id in the notification's URL.")] notification_id: String,
    ) -> Result<Option<Notification>> {
        let db = store(ctx)?.db();
        let row = read::notification_by_key(db, &country_code, &party_id, &notification_id)
            .await
            .map_err(internal)?;
        Ok(visible(ctx, row, |r| (&r.country_code, &r.party_id)).map(Notification))
    }

    /// Any object by its global id; null when it does not exist or is not the caller's to read.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, as an object's `id` gives it.")] id: ID,
    ) -> Result<Option<Node>> {
        let (kind, pk) = parse_global_id(&id).ok_or_else(|| bad_user_input("invalid id"))?;
        node(ctx, kind, pk).await
    }

    /// Objects by their global ids, in the order asked; null where none exists
    /// or the caller may not read it. Ids of one type are read in one statement.
    #[graphql(complexity = "ids.len().max(1) * child_complexity + 1")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most the page-size cap.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        let cap = ctx.data::<super::Limits>()?.max_page_size;
        if ids.len() as u64 > cap {
            return Err(bad_user_input(format!("`ids` must hold at most {cap} ids")));
        }
        let mut parsed = Vec::with_capacity(ids.len());
        for id in &ids {
            parsed.push(parse_global_id(id).ok_or_else(|| bad_user_input("invalid id"))?);
        }
        let lookups = parsed.into_iter().map(|(kind, pk)| node(ctx, kind, pk));
        futures::future::try_join_all(lookups).await
    }
}

/// Whether the caller may read the location with this row id.
async fn location_readable(ctx: &Context<'_>, location_pk: i64) -> Result<bool> {
    let row = load::<ById<location::Entity>, _>(ctx, location_pk).await?;
    let access = super::access(ctx);
    Ok(row.is_some_and(|r| access.may_read(&r.country_code, &r.party_id)))
}

/// Whether the caller may read the session with this row id.
async fn session_readable(ctx: &Context<'_>, session_pk: i64) -> Result<bool> {
    let row = load::<ById<session::Entity>, _>(ctx, session_pk).await?;
    let access = super::access(ctx);
    Ok(row.is_some_and(|r| access.may_read(&r.country_code, &r.party_id)))
}

/// Loads one object by row id through the loaders, checking its party.
async fn node(ctx: &Context<'_>, kind: NodeType, pk: i64) -> Result<Option<Node>> {
    let access = super::access(ctx);
    let node = match kind {
        NodeType::Location => load::<ById<location::Entity>, _>(ctx, pk)
            .await?
            .filter(|r| access.may_read(&r.country_code, &r.party_id))
            .map(|r| Node::Location(Location(r))),
        NodeType::Evse => match load::<ById<evse::Entity>, _>(ctx, pk).await? {
            Some(r) if location_readable(ctx, r.location_pk).await? => Some(Node::Evse(Evse(r))),
            _ => None,
        },
        NodeType::Connector => {
            let Some(c) = load::<ById<connector::Entity>, _>(ctx, pk).await? else {
                return Ok(None);
            };
            match load::<ById<evse::Entity>, _>(ctx, c.evse_pk).await? {
                Some(e) if location_readable(ctx, e.location_pk).await? => {
                    Some(Node::Connector(Connector(c)))
                }
                _ => None,
            }
        }
        NodeType::EvseStatusEntry => {
            match load::<ById<evse_status_history::Entity>, _>(ctx, pk).await? {
                Some(r) if location_readable(ctx, r.location_pk).await? => {
                    Some(Node::EvseStatusEntry(EvseStatusEntry(r)))
                }
                _ => None,
            }
        }
        NodeType::Session => load::<ById<session::Entity>, _>(ctx, pk)
            .await?
            .filter(|r| access.may_read(&r.country_code, &r.party_id))
            .map(|r| Node::Session(Session(r))),
        NodeType::SessionEvent => match load::<ById<session_event::Entity>, _>(ctx, pk).await? {
            Some(r) if session_readable(ctx, r.session_pk).await? => {
                Some(Node::SessionEvent(SessionEvent(r)))
            }
            _ => None,
        },
        NodeType::ChargingPeriod => {
            match load::<ById<charging_period::Entity>, _>(ctx, pk).await? {
                Some(r) if session_readable(ctx, r.session_pk).await? => {
                    Some(Node::ChargingPeriod(ChargingPeriod(r)))
                }
                _ => None,
            }
        }
        NodeType::Cdr => load::<ById<cdr::Entity>, _>(ctx, pk)
            .await?
            .filter(|r| access.may_read(&r.country_code, &r.party_id))
            .map(|r| Node::Cdr(Cdr(r))),
        NodeType::Tariff => load::<ById<tariff::Entity>, _>(ctx, pk)
            .await?
            .filter(|r| access.may_read(&r.country_code, &r.party_id))
            .map(|r| Node::Tariff(Tariff(r))),
        NodeType::Notification => load::<ById<notification::Entity>, _>(ctx, pk)
            .await?
            .filter(|r| access.may_read(&r.country_code, &r.party_id))
            .map(|r| Node::Notification(Notification(r))),
    };
    Ok(node)
}
