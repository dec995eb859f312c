//! Queries behind the GraphQL API and the OCPI GET endpoints.
//!
//! Every read the GraphQL layer needs is built here, so resolvers never see
//! sea-orm query builders. List readers take many keys at once so that a
//! GraphQL list level costs one statement; pages are keyset pages (a sort key
//! and the row id, never OFFSET), and every list reader narrows to a `Scope`.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
};

use entity::{
    cdr, charging_period, connector, evse, evse_status_history, location, notification, outbox,
    session, session_event, tariff,
};

use super::StoreError;
use crate::domain::geo::{self, Point};
use crate::domain::Party;

/// The highest outbox sequence number, or `None` while the outbox is empty.
pub async fn outbox_last_seq(db: &impl ConnectionTrait) -> Result<Option<i64>, StoreError> {
    let last = outbox::Entity::find()
        .order_by_desc(outbox::Column::Seq)
        .one(db)
        .await?;
    Ok(last.map(|row| row.seq))
}

/// Up to `limit` outbox rows after `seq`, in sequence order.
pub async fn outbox_after(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Seq.gt(seq))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

// ---------------------------------------------------------------------------
// Scope and keyset pages

/// The parties a read may see: every party, or only some (none at all when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(Option<Vec<Party>>);

impl Scope {
    /// Every party.
    pub fn all() -> Scope {
        Scope(None)
    }

    /// Only these parties, as `Access::parties` gives them.
    pub fn of(parties: Option<&[Party]>) -> Scope {
        Scope(parties.map(<[Party]>::to_vec))
    }

    /// Whether rows of this party (any spelling) are visible.
    pub fn allows(&self, country_code: &str, party_id: &str) -> bool {
        match &self.0 {
            None => true,
            Some(parties) => parties.iter().any(|p| p.is(country_code, party_id)),
        }
    }

    /// The condition on a table's upper-cased party columns.
    pub(super) fn condition<C: ColumnTrait>(
        &self,
        country_code_key: C,
        party_id_key: C,
    ) -> Condition {
        // Always an AND group, so that filters added after it narrow it.
        let Some(parties) = &self.0 else {
            return Condition::all();
        };
        if parties.is_empty() {
            return Condition::all().add(Expr::val(1).eq(0));
        }
        let any = parties.iter().fold(Condition::any(), |any, p| {
            any.add(
                Condition::all()
                    .add(country_code_key.eq(p.country_code.as_str()))
                    .add(party_id_key.eq(p.party_id.as_str())),
            )
        });
        Condition::all().add(any)
    }
}

/// The sort key of a row in a keyset page, besides its row id.
#[derive(Debug, Clone)]
pub enum Key {
    /// Sorted by row id alone.
    None,
    /// A text key (a name).
    Text(String),
    /// An instant.
    Time(DateTime<Utc>),
    /// A number (a haversine value), compared bit for bit as stored.
    Float(f64),
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::None, Key::None) => true,
            (Key::Text(a), Key::Text(b)) => a == b,
            (Key::Time(a), Key::Time(b)) => a == b,
            (Key::Float(a), Key::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Key::None => {}
            Key::Text(t) => t.hash(state),
            Key::Time(t) => t.hash(state),
            Key::Float(f) => f.to_bits().hash(state),
        }
    }
}

impl Key {
    fn value(&self) -> Option<sea_orm::Value> {
        match self {
            Key::None => None,
            Key::Text(t) => Some(t.clone().into()),
            Key::Time(t) => Some((*t).into()),
            Key::Float(f) => Some((*f).into()),
        }
    }
}

/// Where a row stands in a sorted list: its sort key and row id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// The sort key.
    pub key: Key,
    /// The row id, which breaks ties.
    pub id: i64,
}

/// Which rows of a sorted list a page holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Window {
    /// Only rows after this one.
    pub after: Option<Position>,
    /// Only rows before this one.
    pub before: Option<Position>,
    /// How many rows the page shows; one more is read to tell whether more exist.
    pub size: u64,
    /// Take the rows nearest `before` (a `last` page) rather than nearest `after`.
    pub from_end: bool,
}

/// A sort: an optional key expression, then the row id, in one direction.
pub(crate) struct Sort {
    key: Option<SimpleExpr>,
    id: SimpleExpr,
    desc: bool,
}

impl Sort {
    fn by_id(id: impl ColumnTrait) -> Sort {
        Sort {
            key: None,
            id: Expr::col(id),
            desc: false,
        }
    }

    /// Newest row first.
    pub(crate) fn by_id_desc(id: impl ColumnTrait) -> Sort {
        Sort {
            key: None,
            id: Expr::col(id),
            desc: true,
        }
    }

    fn by(key: SimpleExpr, id: impl ColumnTrait, desc: bool) -> Sort {
        Sort {
            key: Some(key),
            id: Expr::col(id),
            desc,
        }
    }

    /// Rows past `pos` in sort order (`forward`) or before it.
    fn past(&self, pos: &Position, forward: bool) -> Condition {
        let greater = forward != self.desc;
        let cmp = |left: SimpleExpr, right: SimpleExpr| {
            if greater {
                left.gt(right)
            } else {
                left.lt(right)
            }
        };
        let id_past = cmp(self.id.clone(), Expr::val(pos.id));
        match (&self.key, pos.key.value()) {
            (Some(key), Some(value)) => Condition::any()
                .add(cmp(key.clone(), Expr::val(value.clone())))
                .add(
                    Condition::all()
                        .add(key.clone().eq(Expr::val(value)))
                        .add(id_past),
                ),
            _ => Condition::all().add(id_past),
        }
    }

    /// The window's bounds as one condition.
    fn bounds(&self, window: &Window) -> Condition {
        let mut cond = Condition::all();
        if let Some(after) = &window.after {
            cond = cond.add(self.past(after, true));
        }
        if let Some(before) = &window.before {
            cond = cond.add(self.past(before, false));
        }
        cond
    }

    /// The direction rows are read in: reversed for a `last` page.
    fn read_order(&self, window: &Window) -> Order {
        if self.desc != window.from_end {
            Order::Desc
        } else {
            Order::Asc
        }
    }

    /// Bounds, order and limit of one page.
    pub(crate) fn page<E: EntityTrait>(&self, select: Select<E>, window: &Window) -> Select<E> {
        let order = self.read_order(window);
        let mut select = select.filter(self.bounds(window));
        if let Some(key) = &self.key {
            select = select.order_by(key.clone(), order.clone());
        }
        select
            .order_by(self.id.clone(), order)
            .limit(window.size + 1)
    }
}

/// Rows of many parents' pages in one statement: every parent's first
/// `size + 1` rows, numbered with ROW_NUMBER() over each parent's partition.
///
/// `partition` and `order` are SQL over unqualified column names of `E`'s
/// table, the same text on both backends.
async fn pages_per_parent<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    partition: &str,
    sort: &Sort,
    order_columns: &[&str],
    window: &Window,
) -> Result<Vec<E::Model>, StoreError> {
    let direction = match sort.read_order(window) {
        Order::Desc => "DESC",
        _ => "ASC",
    };
    let order: Vec<String> = order_columns
        .iter()
        .map(|c| format!("{c} {direction}"))
        .collect();
    let number = format!(
        "ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {})",
        order.join(", ")
    );
    let mut inner = select.filter(sort.bounds(window)).into_query();
    inner.expr_as(Expr::cust(number), Alias::new("page_row"));
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new("page_row")).lte(window.size as i64 + 1))
        .order_by(Alias::new("page_row"), Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&outer);
    Ok(E::find().from_raw_sql(statement).all(db).await?)
}

/// Counts per parent id, for `totalCount` of many parents' connections.
async fn counts_per_parent<E: EntityTrait>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    parent: E::Column,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = select
        .select_only()
        .column(parent)
        .column_as(Expr::col(Asterisk).count(), "rows")
        .group_by(parent)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut cond = Condition::all();
        if let Some(from) = self.from {
            cond = cond.add(column.gte(from));
        }
        if let Some(to) = self.to {
            cond = cond.add(column.lt(to));
        }
        cond
    }
}

/// `LOWER(column) LIKE %text%`, with the text's wildcards taken literally.
fn contains(column: impl ColumnTrait, text: &str) -> SimpleExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// `UPPER(column) IN (values)`, optionally also matching values outside `known`.
fn upper_in(column: &str, values: &[String], others_of: Option<&[&str]>) -> Condition {
    let upper = || Expr::cust(format!("UPPER({column})"));
    let mut any = Condition::any();
    if !values.is_empty() {
        any = any.add(upper().is_in(values.iter().map(|v| v.to_uppercase())));
    }
    if let Some(known) = others_of {
        any = any.add(
            Condition::all()
                .add(Expr::cust(column.to_owned()).is_not_null())
                .add(upper().is_not_in(known.iter().map(|k| k.to_uppercase()))),
        );
    }
    any
}

/// A set of raw OCPI values to match case-insensitively; `other` also
/// matches every value outside `known` (what GraphQL shows as OTHER).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RawSet {
    /// Values to match.
    pub values: Vec<String>,
    /// Also match values outside `known`.
    pub other: bool,
    /// The values the API knows by name.
    pub known: Vec<&'static str>,
}

impl RawSet {
    fn condition(&self, column: &str) -> Condition {
        let known: Vec<&str> = self.known.to_vec();
        upper_in(column, &self.values, self.other.then_some(&known[..]))
    }
}

// ---------------------------------------------------------------------------
// Rows by id, for loaders and node(id:)

/// Entities with a BIGINT `id` primary key, read by many ids at once.
pub trait ById: EntityTrait {
    /// The `id` column.
    fn id_column() -> Self::Column;
    /// A row's id.
    fn id_of(model: &Self::Model) -> i64;
}

macro_rules! by_id {
    ($($module:ident),*) => {$(
        impl ById for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn id_of(model: &Self::Model) -> i64 {
                model.id
            }
        }
    )*};
}

by_id!(
    location,
    evse,
    connector,
    evse_status_history,
    session,
    session_event,
    charging_period,
    cdr,
    notification,
    tariff
);

/// The rows with these ids, in no particular order.
pub async fn by_ids<E: ById>(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<E::Model>, StoreError> {
    let rows = E::find()
        .filter(E::id_column().is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// The locations with these row ids, in no particular order.
pub async fn locations_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<location::Model>, StoreError> {
    by_ids::<location::Entity>(db, pks).await
}

// ---------------------------------------------------------------------------
// Locations

/// The location with these OCPI ids, compared case-insensitively.
pub async fn location_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<location::Model>, StoreError> {
    let row = location::Entity::find()
        .filter(location::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(location::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(location::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// A circle around a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    /// The centre.
    pub point: Point,
    /// Only locations within this many metres, when given.
    pub radius_m: Option<f64>,
}

/// A box of degrees; west may exceed east across the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Northern edge.
    pub north: f64,
    /// Southern edge.
    pub south: f64,
    /// Eastern edge.
    pub east: f64,
    /// Western edge.
    pub west: f64,
}

/// What the EVSEs and connectors of a location must offer: one EVSE with
/// one of `statuses` and, on that EVSE, one connector meeting every
/// connector criterion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EquipmentFilter {
    /// EVSE statuses.
    pub statuses: Option<RawSet>,
    /// Connector standards.
    pub standards: Option<RawSet>,
    /// Connector power types.
    pub power_types: Option<RawSet>,
    /// Least connector power in watts: max_electric_power, else voltage x
    /// amperage (x3 for AC_3_PHASE).
    pub min_power_w: Option<i64>,
}

impl EquipmentFilter {
    fn is_empty(&self) -> bool {
        *self == EquipmentFilter::default()
    }

    fn has_connector_criteria(&self) -> bool {
        self.standards.is_some() || self.power_types.is_some() || self.min_power_w.is_some()
    }

    /// `location.id IN (SELECT evse.location_pk ...)`.
    fn condition(&self) -> SimpleExpr {
        let mut query = Query::select()
            .column((evse::Entity, evse::Column::LocationPk))
            .from(evse::Entity)
            .to_owned();
        let mut cond = Condition::all();
        if let Some(statuses) = &self.statuses {
            cond = cond.add(statuses.condition("evse.status"));
        }
        if self.has_connector_criteria() {
            query.inner_join(
                connector::Entity,
                Expr::col((connector::Entity, connector::Column::EvsePk))
                    .equals((evse::Entity, evse::Column::Id)),
            );
        }
        if let Some(standards) = &self.standards {
            cond = cond.add(standards.condition("connector.standard"));
        }
        if let Some(power_types) = &self.power_types {
            cond = cond.add(power_types.condition("connector.power_type"));
        }
        if let Some(min) = self.min_power_w {
            cond = cond.add(Expr::cust(CONNECTOR_POWER_SQL).gte(min));
        }
        query.cond_where(cond);
        Expr::col((location::Entity, location::Column::Id)).in_subquery(query)
    }
}

/// A connector's power in watts, as `Connector.power` computes it.
const CONNECTOR_POWER_SQL: &str = "COALESCE(connector.max_electric_power, \
     connector.max_voltage * connector.max_amperage * \
     CASE WHEN UPPER(connector.power_type) = 'AC_3_PHASE' THEN 3 ELSE 1 END)";

/// What a page of locations may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocationFilter {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// City, compared exactly as stored.
    pub city: Option<String>,
    /// Postal code, compared exactly as stored.
    pub postal_code: Option<String>,
    /// Part of the name or address, case-insensitive.
    pub text: Option<String>,
    /// The publish flag.
    pub publish: Option<bool>,
    /// EVSE and connector criteria.
    pub equipment: EquipmentFilter,
    /// A circle: only located locations, within the radius when given.
    pub near: Option<Near>,
    /// A box of coordinates.
    pub bbox: Option<BoundingBox>,
    /// Also expired locations: those whose EVSEs are all REMOVED.
    pub include_expired: bool,
}

/// A location that is not expired: it has no EVSE yet, or one that is not
/// REMOVED (OCPI 2.2.1 Locations, "a Location with no valid EVSE is
/// considered expired"). Correlated by location, so each test is an index
/// search on `evse(location_pk)`, never a scan of every EVSE.
fn not_expired() -> SimpleExpr {
    Expr::cust(
        r#"(NOT EXISTS (SELECT 1 FROM "evse" WHERE "evse"."location_pk" = "location"."id") OR EXISTS (SELECT 1 FROM "evse" WHERE "evse"."location_pk" = "location"."id" AND COALESCE("evse"."status", '') <> 'REMOVED'))"#,
    )
}

impl LocationFilter {
    fn condition(&self) -> Condition {
        let mut cond = self.scope.condition(
            location::Column::CountryCodeKey,
            location::Column::PartyIdKey,
        );
        if !self.include_expired {
            cond = cond.add(not_expired());
        }
        if let Some(party) = &self.party_id {
            cond = cond.add(location::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(location::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(city) = &self.city {
            cond = cond.add(location::Column::City.eq(city.as_str()));
        }
        if let Some(postal_code) = &self.postal_code {
            cond = cond.add(location::Column::PostalCode.eq(postal_code.as_str()));
        }
        if let Some(text) = &self.text {
            cond = cond.add(
                Condition::any()
                    .add(contains(location::Column::Name, text))
                    .add(contains(location::Column::Address, text)),
            );
        }
        if let Some(publish) = self.publish {
            cond = cond.add(location::Column::Publish.eq(publish));
        }
        if !self.equipment.is_empty() {
            cond = cond.add(self.equipment.condition());
        }
        if let Some(near) = &self.near {
            cond = cond.add(near_condition(near));
        }
        if let Some(bbox) = &self.bbox {
            cond = cond.add(box_condition(
                (bbox.south, bbox.north),
                Some((bbox.west, bbox.east)),
            ));
        }
        cond
    }
}

/// Latitude and longitude ranges on the indexed degree columns.
fn box_condition(latitude: (f64, f64), longitude: Option<(f64, f64)>) -> Condition {
    let mut cond = Condition::all()
        .add(location::Column::LatitudeDeg.gte(latitude.0))
        .add(location::Column::LatitudeDeg.lte(latitude.1));
    match longitude {
        Some((west, east)) if west <= east => {
            cond = cond
                .add(location::Column::LongitudeDeg.gte(west))
                .add(location::Column::LongitudeDeg.lte(east));
        }
        Some((west, east)) => {
            cond = cond.add(
                Condition::any()
                    .add(location::Column::LongitudeDeg.gte(west))
                    .add(location::Column::LongitudeDeg.lte(east)),
            );
        }
        None => cond = cond.add(location::Column::LongitudeDeg.is_not_null()),
    }
    cond
}

/// Located rows, and within the radius: the bounding box first (indexed),
/// then the exact haversine.
fn near_condition(near: &Near) -> Condition {
    let mut cond = Condition::all().add(location::Column::GeoX.is_not_null());
    if let Some(radius) = near.radius_m {
        let bounds = geo::bounds(near.point, radius);
        cond = cond
            .add(box_condition(bounds.latitude, bounds.longitude))
            .add(haversine_sql(near.point).lte(geo::haversine_of(radius)));
    }
    cond
}

/// The haversine value between a row and a point, as SQL arithmetic:
/// a quarter of the squared chord between their unit vectors.
fn haversine_sql(point: Point) -> SimpleExpr {
    let [x, y, z] = point.unit();
    let square = |column: location::Column, v: f64| {
        let diff = || Expr::col((location::Entity, column)).sub(v);
        diff().mul(diff())
    };
    square(location::Column::GeoX, x)
        .add(square(location::Column::GeoY, y))
        .add(square(location::Column::GeoZ, z))
        .div(4.0)
}

/// How a page of locations is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocationSort {
    /// By row id: arrival order.
    #[default]
    Id,
    /// By name (no name sorts as empty).
    Name,
    /// By the sender's last_updated, else the receive time.
    LastUpdated,
    /// By distance from `LocationFilter::near`.
    Distance,
}

/// A location row with its haversine value from the `near` point, when given.
#[derive(Debug, Clone)]
pub struct LocationHit {
    /// The row.
    pub row: location::Model,
    /// Haversine value from the search point (`geo::distance_m` gives metres).
    pub haversine: Option<f64>,
}

impl FromQueryResult for LocationHit {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(LocationHit {
            row: location::Model::from_query_result(row, pre)?,
            haversine: row.try_get(pre, "haversine").ok().flatten(),
        })
    }
}

impl LocationHit {
    /// The row's sort key under `sort`.
    pub fn key(&self, sort: LocationSort) -> Key {
        match sort {
            LocationSort::Id => Key::None,
            LocationSort::Name => Key::Text(self.row.name.clone().unwrap_or_default()),
            LocationSort::LastUpdated => {
                Key::Time(self.row.last_updated.unwrap_or(self.row.received_at))
            }
            LocationSort::Distance => Key::Float(self.haversine.unwrap_or_default()),
        }
    }
}

fn location_sort(filter: &LocationFilter, sort: LocationSort, desc: bool) -> Sort {
    let id = location::Column::Id;
    match (sort, filter.near) {
        (LocationSort::Name, _) => Sort::by(Expr::cust("COALESCE(location.name, '')"), id, desc),
        (LocationSort::LastUpdated, _) => Sort::by(
            Expr::cust("COALESCE(location.last_updated, location.received_at)"),
            id,
            desc,
        ),
        (LocationSort::Distance, Some(near)) => Sort::by(haversine_sql(near.point), id, desc),
        _ => Sort {
            desc,
            ..Sort::by_id(id)
        },
    }
}

/// Up to `window.size + 1` locations matching `filter`, in read order.
pub async fn locations_page(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
    sort: LocationSort,
    desc: bool,
    window: &Window,
) -> Result<Vec<LocationHit>, StoreError> {
    let order = location_sort(filter, sort, desc);
    let mut select = location::Entity::find().filter(filter.condition());
    if let Some(near) = &filter.near {
        select = select.column_as(haversine_sql(near.point), "haversine");
    }
    let rows = order
        .page(select, window)
        .into_model::<LocationHit>()
        .all(db)
        .await?;
    Ok(rows)
}

/// How many locations match `filter`.
pub async fn locations_count(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
) -> Result<u64, StoreError> {
    let count = location::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// EVSEs per raw status (`None` for no status yet) at the locations matching `filter`.
pub async fn evse_status_counts(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
) -> Result<Vec<(Option<String>, i64)>, StoreError> {
    let locations = location::Entity::find()
        .select_only()
        .column(location::Column::Id)
        .filter(filter.condition())
        .into_query();
    let counts = evse::Entity::find()
        .select_only()
        .column(evse::Column::Status)
        .column_as(Expr::col(evse::Column::Id).count(), "evses")
        .filter(Expr::col(evse::Column::LocationPk).in_subquery(locations))
        .group_by(evse::Column::Status)
        .order_by_asc(evse::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts)
}

/// EVSEs per location and raw status, for these locations.
pub async fn evse_status_counts_of(
    db: &impl ConnectionTrait,
    location_pks: &[i64],
) -> Result<Vec<(i64, Option<String>, i64)>, StoreError> {
    let counts = evse::Entity::find()
        .select_only()
        .column(evse::Column::LocationPk)
        .column(evse::Column::Status)
        .column_as(Expr::col(evse::Column::Id).count(), "evses")
        .filter(evse::Column::LocationPk.is_in(location_pks.iter().copied()))
        .group_by(evse::Column::LocationPk)
        .group_by(evse::Column::Status)
        .order_by_asc(evse::Column::LocationPk)
        .order_by_asc(evse::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts)
}

// ---------------------------------------------------------------------------
// EVSEs, connectors and status history

/// The EVSEs of these locations, by location and then row id.
pub async fn evses_of_locations(
    db: &impl ConnectionTrait,
    location_pks: &[i64],
) -> Result<Vec<evse::Model>, StoreError> {
    let rows = evse::Entity::find()
        .filter(evse::Column::LocationPk.is_in(location_pks.iter().copied()))
        .order_by_asc(evse::Column::LocationPk)
        .order_by_asc(evse::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The connectors of these EVSEs, by EVSE and then row id.
pub async fn connectors_of_evses(
    db: &impl ConnectionTrait,
    evse_pks: &[i64],
) -> Result<Vec<connector::Model>, StoreError> {
    let rows = connector::Entity::find()
        .filter(connector::Column::EvsePk.is_in(evse_pks.iter().copied()))
        .order_by_asc(connector::Column::EvsePk)
        .order_by_asc(connector::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

fn history_sort() -> Sort {
    Sort::by(
        Expr::col(evse_status_history::Column::ChangedAt),
        evse_status_history::Column::Id,
        false,
    )
}

/// The key of a status change in its EVSE's history (oldest first).
pub fn history_key(row: &evse_status_history::Model) -> Key {
    Key::Time(row.changed_at)
}

/// A page of the status history of each of these EVSEs, oldest first.
pub async fn status_history_pages(
    db: &impl ConnectionTrait,
    evse_pks: &[i64],
    window: &Window,
) -> Result<Vec<evse_status_history::Model>, StoreError> {
    let select = evse_status_history::Entity::find()
        .filter(evse_status_history::Column::EvsePk.is_in(evse_pks.iter().copied()));
    let order = ["changed_at", "id"];
    pages_per_parent(db, select, "evse_pk", &history_sort(), &order, window).await
}

/// How many status changes each of these EVSEs has.
pub async fn status_history_counts(
    db: &impl ConnectionTrait,
    evse_pks: &[i64],
) -> Result<Vec<(i64, i64)>, StoreError> {
    let select = evse_status_history::Entity::find()
        .filter(evse_status_history::Column::EvsePk.is_in(evse_pks.iter().copied()));
    counts_per_parent(db, select, evse_status_history::Column::EvsePk).await
}

/// Every status change of these EVSEs in `[from, to)`, and the last one
/// before `from` (the status in force at `from`), oldest first per EVSE.
pub async fn status_history_for_availability(
    db: &impl ConnectionTrait,
    evse_pks: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<evse_status_history::Model>, StoreError> {
    let in_force = evse_status_history::Entity::find()
        .filter(evse_status_history::Column::EvsePk.is_in(evse_pks.iter().copied()))
        .filter(evse_status_history::Column::ChangedAt.lt(from));
    let last_before = Window {
        size: 0,
        from_end: true,
        ..Window::default()
    };
    let order = ["changed_at", "id"];
    let mut rows = pages_per_parent(
        db,
        in_force,
        "evse_pk",
        &history_sort(),
        &order,
        &last_before,
    )
    .await?;
    let within = evse_status_history::Entity::find()
        .filter(evse_status_history::Column::EvsePk.is_in(evse_pks.iter().copied()))
        .filter(evse_status_history::Column::ChangedAt.gte(from))
        .filter(evse_status_history::Column::ChangedAt.lt(to))
        .order_by_asc(evse_status_history::Column::EvsePk)
        .order_by_asc(evse_status_history::Column::ChangedAt)
        .order_by_asc(evse_status_history::Column::Id)
        .all(db)
        .await?;
    rows.extend(within);
    rows.sort_by_key(|r| (r.evse_pk, r.changed_at, r.id));
    Ok(rows)
}

// ---------------------------------------------------------------------------
// Sessions, their periods and timeline

/// The session with these OCPI ids, compared case-insensitively.
pub async fn session_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<session::Model>, StoreError> {
    let row = session::Entity::find()
        .filter(session::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(session::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(session::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// A session by (party, OCPI id), the key of a CDR's `session` link.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionRef {
    /// Upper-cased country code.
    pub country_code: String,
    /// Upper-cased party id.
    pub party_id: String,
    /// The session id, upper-cased.
    pub ocpi_id: String,
}

impl SessionRef {
    /// The key of a party's session id, any spelling.
    pub fn new(country_code: &str, party_id: &str, ocpi_id: &str) -> SessionRef {
        SessionRef {
            country_code: country_code.to_uppercase(),
            party_id: party_id.to_uppercase(),
            ocpi_id: ocpi_id.to_uppercase(),
        }
    }
}

/// The sessions with these keys, in no particular order.
pub async fn sessions_by_refs(
    db: &impl ConnectionTrait,
    refs: &[SessionRef],
) -> Result<Vec<session::Model>, StoreError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let keys = (
        session::Column::CountryCodeKey,
        session::Column::PartyIdKey,
        session::Column::OcpiIdKey,
    );
    let rows = session::Entity::find()
        .filter(key_condition(refs, keys))
        .all(db)
        .await?;
    Ok(rows)
}

/// Rows whose upper-cased (country, party, id) key is one of `refs`: a
/// lookup of the unique key index for each.
fn key_condition<C: ColumnTrait>(
    refs: &[SessionRef],
    (country, party, id): (C, C, C),
) -> Condition {
    refs.iter().fold(Condition::any(), |any, r| {
        any.add(
            Condition::all()
                .add(country.eq(r.country_code.as_str()))
                .add(party.eq(r.party_id.as_str()))
                .add(id.eq(r.ocpi_id.as_str())),
        )
    })
}

/// The CDRs billing these sessions (by the session's party and id), by row id.
pub async fn cdrs_of_sessions(
    db: &impl ConnectionTrait,
    refs: &[SessionRef],
) -> Result<Vec<cdr::Model>, StoreError> {
    let mut any = Condition::any();
    for r in refs {
        any = any.add(
            Condition::all()
                .add(cdr::Column::CountryCodeKey.eq(r.country_code.as_str()))
                .add(cdr::Column::PartyIdKey.eq(r.party_id.as_str()))
                .add(
                    Expr::expr(Func::upper(Expr::col(cdr::Column::SessionId)))
                        .eq(r.ocpi_id.as_str()),
                ),
        );
    }
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let rows = cdr::Entity::find()
        .filter(any)
        .order_by_asc(cdr::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The distinct charging periods of these sessions, by session and start.
pub async fn charging_periods_of(
    db: &impl ConnectionTrait,
    session_pks: &[i64],
) -> Result<Vec<charging_period::Model>, StoreError> {
    let rows = charging_period::Entity::find()
        .filter(charging_period::Column::SessionPk.is_in(session_pks.iter().copied()))
        .order_by_asc(charging_period::Column::SessionPk)
        .order_by_asc(charging_period::Column::StartDateTime)
        .all(db)
        .await?;
    Ok(rows)
}

/// Every applied push of these sessions, by session and arrival.
pub async fn applied_events_of(
    db: &impl ConnectionTrait,
    session_pks: &[i64],
) -> Result<Vec<session_event::Model>, StoreError> {
    let rows = session_event::Entity::find()
        .filter(session_event::Column::SessionPk.is_in(session_pks.iter().copied()))
        .filter(session_event::Column::Applied.eq(true))
        .order_by_asc(session_event::Column::SessionPk)
        .order_by_asc(session_event::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

fn timeline_select(session_pks: &[i64], include_ignored: bool) -> Select<session_event::Entity> {
    let mut select = session_event::Entity::find()
        .filter(session_event::Column::SessionPk.is_in(session_pks.iter().copied()));
    if !include_ignored {
        select = select.filter(session_event::Column::Applied.eq(true));
    }
    select
}

/// A page of the timeline of each of these sessions, in arrival order.
pub async fn timeline_pages(
    db: &impl ConnectionTrait,
    session_pks: &[i64],
    include_ignored: bool,
    window: &Window,
) -> Result<Vec<session_event::Model>, StoreError> {
    let select = timeline_select(session_pks, include_ignored);
    let sort = Sort::by_id(session_event::Column::Id);
    pages_per_parent(db, select, "session_pk", &sort, &["id"], window).await
}

/// How many timeline entries each of these sessions has.
pub async fn timeline_counts(
    db: &impl ConnectionTrait,
    session_pks: &[i64],
    include_ignored: bool,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let select = timeline_select(session_pks, include_ignored);
    counts_per_parent(db, select, session_event::Column::SessionPk).await
}

/// What a page of sessions may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SessionFilter {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// The CPO's EVSE uid, case-insensitive.
    pub evse_uid: Option<String>,
    /// Statuses.
    pub statuses: Option<RawSet>,
    /// The token's auth id or uid, exactly as sent.
    pub token: Option<String>,
    /// Start within this range.
    pub started: TimeRange,
}

impl SessionFilter {
    fn condition(&self) -> Condition {
        let mut cond = self
            .scope
            .condition(session::Column::CountryCodeKey, session::Column::PartyIdKey);
        if let Some(party) = &self.party_id {
            cond = cond.add(session::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(session::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(location_id) = &self.location_id {
            cond = cond.add(session::Column::LocationId.eq(location_id.as_str()));
        }
        if let Some(uid) = &self.evse_uid {
            cond = cond.add(
                Expr::expr(Func::upper(Expr::col(session::Column::EvseUid))).eq(uid.to_uppercase()),
            );
        }
        if let Some(statuses) = &self.statuses {
            cond = cond.add(statuses.condition("session.status"));
        }
        if let Some(token) = &self.token {
            cond = cond.add(
                Condition::any()
                    .add(session::Column::AuthId.eq(token.as_str()))
                    .add(session::Column::TokenUid.eq(token.as_str())),
            );
        }
        cond.add(self.started.condition(session::Column::StartDateTime))
    }
}

/// Up to `window.size + 1` sessions matching `filter`, by row id, in read order.
pub async fn sessions_page(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
    window: &Window,
) -> Result<Vec<session::Model>, StoreError> {
    let select = session::Entity::find().filter(filter.condition());
    let rows = Sort::by_id(session::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many sessions match `filter`.
pub async fn sessions_count(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
) -> Result<u64, StoreError> {
    let count = session::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// Where sessions or CDRs took place: a location, or one EVSE of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    /// The location's row id.
    pub location_pk: i64,
    /// The EVSE's upper-cased uid, for an EVSE's list.
    pub evse_uid: Option<String>,
}

fn place_condition<C: ColumnTrait>(places: &[Place], location_pk: C, evse_uid: C) -> Condition {
    let mut any = Condition::any();
    if places.is_empty() {
        // Only then: beside other terms, `1 = 0 OR ...` keeps SQLite from
        // using the location_pk index.
        any = any.add(Expr::val(1).eq(0));
    }
    for place in places {
        let mut one = Condition::all().add(location_pk.eq(place.location_pk));
        if let Some(uid) = &place.evse_uid {
            one = one.add(Expr::expr(Func::upper(Expr::col(evse_uid))).eq(uid.as_str()));
        }
        any = any.add(one);
    }
    any
}

/// SQL for a place's partition: the location, and the EVSE when asked per EVSE.
fn place_partition(places: &[Place]) -> &'static str {
    if places.iter().any(|p| p.evse_uid.is_some()) {
        "location_pk, UPPER(evse_uid)"
    } else {
        "location_pk"
    }
}

/// A page of the sessions at each of these places, by row id.
pub async fn sessions_at(
    db: &impl ConnectionTrait,
    places: &[Place],
    window: &Window,
) -> Result<Vec<session::Model>, StoreError> {
    let cond = place_condition(
        places,
        session::Column::LocationPk,
        session::Column::EvseUid,
    );
    let select = session::Entity::find().filter(cond);
    let sort = Sort::by_id(session::Column::Id);
    pages_per_parent(db, select, place_partition(places), &sort, &["id"], window).await
}

/// The rows of each place; a row of an EVSE list counts for the EVSE's place.
fn count_places<M>(
    rows: Vec<M>,
    places: &[Place],
    place_of: impl Fn(&M) -> (Option<i64>, Option<String>),
) -> Vec<(Place, i64)> {
    let mut counts: Vec<(Place, i64)> = places.iter().map(|p| (p.clone(), 0)).collect();
    for row in rows {
        let (location_pk, uid) = place_of(&row);
        for (place, count) in counts.iter_mut() {
            let uid_matches = place
                .evse_uid
                .as_ref()
                .is_none_or(|want| uid.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(want)));
            if Some(place.location_pk) == location_pk && uid_matches {
                *count += 1;
            }
        }
    }
    counts
}

/// How many sessions each of these places has.
pub async fn sessions_at_counts(
    db: &impl ConnectionTrait,
    places: &[Place],
) -> Result<Vec<(Place, i64)>, StoreError> {
    let cond = place_condition(
        places,
        session::Column::LocationPk,
        session::Column::EvseUid,
    );
    let rows: Vec<(Option<i64>, Option<String>)> = session::Entity::find()
        .select_only()
        .column(session::Column::LocationPk)
        .column(session::Column::EvseUid)
        .filter(cond)
        .into_tuple()
        .all(db)
        .await?;
    Ok(count_places(rows, places, |r| r.clone()))
}

// ---------------------------------------------------------------------------
// CDRs

/// The CDR with these OCPI ids, compared case-insensitively.
pub async fn cdr_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<cdr::Model>, StoreError> {
    let row = cdr::Entity::find()
        .filter(cdr::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(cdr::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(cdr::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// What a page of CDRs may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CdrFilter {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// The CPO's session id, exactly as sent.
    pub session_id: Option<String>,
    /// ISO 4217 currency, exactly as sent.
    pub currency: Option<String>,
    /// Only credit CDRs (true) or only ordinary ones (false).
    pub credit: Option<bool>,
    /// Start within this range.
    pub started: TimeRange,
}

impl CdrFilter {
    pub(crate) fn condition(&self) -> Condition {
        let mut cond = self
            .scope
            .condition(cdr::Column::CountryCodeKey, cdr::Column::PartyIdKey);
        if let Some(party) = &self.party_id {
            cond = cond.add(cdr::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(cdr::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(location_id) = &self.location_id {
            cond = cond.add(cdr::Column::LocationId.eq(location_id.as_str()));
        }
        if let Some(session_id) = &self.session_id {
            cond = cond.add(cdr::Column::SessionId.eq(session_id.as_str()));
        }
        if let Some(currency) = &self.currency {
            cond = cond.add(cdr::Column::Currency.eq(currency.as_str()));
        }
        if let Some(credit) = self.credit {
            cond = cond.add(cdr::Column::Credit.eq(credit));
        }
        cond.add(self.started.condition(cdr::Column::StartDateTime))
    }
}

/// Up to `window.size + 1` CDRs matching `filter`, by row id, in read order.
pub async fn cdrs_page(
    db: &impl ConnectionTrait,
    filter: &CdrFilter,
    window: &Window,
) -> Result<Vec<cdr::Model>, StoreError> {
    let select = cdr::Entity::find().filter(filter.condition());
    let rows = Sort::by_id(cdr::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many CDRs match `filter`.
pub async fn cdrs_count(db: &impl ConnectionTrait, filter: &CdrFilter) -> Result<u64, StoreError> {
    let count = cdr::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// A page of the CDRs at each of these places, by row id.
pub async fn cdrs_at(
    db: &impl ConnectionTrait,
    places: &[Place],
    window: &Window,
) -> Result<Vec<cdr::Model>, StoreError> {
    let cond = place_condition(places, cdr::Column::LocationPk, cdr::Column::EvseUid);
    let select = cdr::Entity::find().filter(cond);
    let sort = Sort::by_id(cdr::Column::Id);
    pages_per_parent(db, select, place_partition(places), &sort, &["id"], window).await
}

/// How many CDRs each of these places has.
pub async fn cdrs_at_counts(
    db: &impl ConnectionTrait,
    places: &[Place],
) -> Result<Vec<(Place, i64)>, StoreError> {
    let cond = place_condition(places, cdr::Column::LocationPk, cdr::Column::EvseUid);
    let rows: Vec<(Option<i64>, Option<String>)> = cdr::Entity::find()
        .select_only()
        .column(cdr::Column::LocationPk)
        .column(cdr::Column::EvseUid)
        .filter(cond)
        .into_tuple()
        .all(db)
        .await?;
    Ok(count_places(rows, places, |r| r.clone()))
}

// ---------------------------------------------------------------------------
// Tariffs

/// A tariff by (party, OCPI id), the key of a CDR's `tariffs` link.
pub type TariffRef = SessionRef;

/// The tariffs with these keys, deleted ones included, in no particular order.
pub async fn tariffs_by_refs(
    db: &impl ConnectionTrait,
    refs: &[TariffRef],
) -> Result<Vec<tariff::Model>, StoreError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let keys = (
        tariff::Column::CountryCodeKey,
        tariff::Column::PartyIdKey,
        tariff::Column::OcpiIdKey,
    );
    let rows = tariff::Entity::find()
        .filter(key_condition(refs, keys))
        .all(db)
        .await?;
    Ok(rows)
}

/// The tariff with these OCPI ids, compared case-insensitively, deleted or not.
pub async fn tariff_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<tariff::Model>, StoreError> {
    super::tariffs::find(db, country_code, party_id, ocpi_id).await
}

/// What a page of tariffs may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TariffFilter {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// ISO 4217 currency, exactly as sent.
    pub currency: Option<String>,
    /// Also tariffs removed by a DELETE.
    pub include_deleted: bool,
    /// Only tariffs a connector of the location with this id (compared
    /// case-insensitively) names, of the location's party.
    pub location_id: Option<String>,
    /// Only tariffs valid at some instant of this range: starting before
    /// its end and ending after its start (a missing bound is open).
    pub valid: TimeRange,
}

impl TariffFilter {
    /// The condition; `named` are the tariffs the location names, when
    /// the filter has a location.
    fn condition(&self, named: Option<&[TariffRef]>) -> Condition {
        let mut cond = self
            .scope
            .condition(tariff::Column::CountryCodeKey, tariff::Column::PartyIdKey);
        if let Some(party) = &self.party_id {
            cond = cond.add(tariff::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(tariff::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(currency) = &self.currency {
            cond = cond.add(tariff::Column::Currency.eq(currency.as_str()));
        }
        if !self.include_deleted {
            cond = cond.add(tariff::Column::DeletedAt.is_null());
        }
        if let Some(refs) = named {
            cond = cond.add(tariff_refs_condition(refs));
        }
        cond.add(self.validity())
    }

    fn validity(&self) -> Condition {
        let (start, end) = (tariff::Column::StartDateTime, tariff::Column::EndDateTime);
        let mut cond = Condition::all();
        if let Some(to) = self.valid.to {
            cond = cond.add(Condition::any().add(start.is_null()).add(start.lt(to)));
        }
        if let Some(from) = self.valid.from {
            cond = cond.add(Condition::any().add(end.is_null()).add(end.gt(from)));
        }
        cond
    }

    /// The tariffs the filter's location names, when it has one.
    async fn named(&self, db: &impl ConnectionTrait) -> Result<Option<Vec<TariffRef>>, StoreError> {
        match &self.location_id {
            Some(location_id) => Ok(Some(tariffs_named_at(db, &self.scope, location_id).await?)),
            None => Ok(None),
        }
    }
}

/// Rows whose (party, id) is one of `refs`; none when `refs` is empty (an
/// empty `any` is FALSE). No constant term beside the keys: SQLite reads an
/// OR through its indexes only when every term of it can use one.
fn tariff_refs_condition(refs: &[TariffRef]) -> Condition {
    refs.iter().fold(Condition::any(), |any, r| {
        any.add(
            Condition::all()
                .add(tariff::Column::CountryCodeKey.eq(r.country_code.as_str()))
                .add(tariff::Column::PartyIdKey.eq(r.party_id.as_str()))
                .add(tariff::Column::OcpiIdKey.eq(r.ocpi_id.as_str())),
        )
    })
}

/// The tariffs the connectors of the locations with this id name, each of
/// its location's party, within `scope`.
async fn tariffs_named_at(
    db: &impl ConnectionTrait,
    scope: &Scope,
    location_id: &str,
) -> Result<Vec<TariffRef>, StoreError> {
    let loc = |c: location::Column| Expr::col((location::Entity, c));
    let condition = scope
        .condition(
            location::Column::CountryCodeKey,
            location::Column::PartyIdKey,
        )
        .add(loc(location::Column::OcpiIdKey).eq(location_id.to_uppercase()));
    let query = Query::select()
        .column((connector::Entity, connector::Column::TariffIds))
        .column((location::Entity, location::Column::CountryCodeKey))
        .column((location::Entity, location::Column::PartyIdKey))
        .from(connector::Entity)
        .inner_join(
            evse::Entity,
            Expr::col((evse::Entity, evse::Column::Id))
                .equals((connector::Entity, connector::Column::EvsePk)),
        )
        .inner_join(
            location::Entity,
            loc(location::Column::Id).equals((evse::Entity, evse::Column::LocationPk)),
        )
        .cond_where(condition)
        .to_owned();
    let mut refs = Vec::new();
    for row in db.query_all(&query).await? {
        let ids: String = row.try_get("", "tariff_ids")?;
        let country_code: String = row.try_get("", "country_code_key")?;
        let party_id: String = row.try_get("", "party_id_key")?;
        let ids: Vec<String> = serde_json::from_str(&ids).unwrap_or_default();
        refs.extend(
            ids.iter()
                .map(|id| TariffRef::new(&country_code, &party_id, id)),
        );
    }
    refs.sort_by(|a, b| {
        (&a.country_code, &a.party_id, &a.ocpi_id).cmp(&(&b.country_code, &b.party_id, &b.ocpi_id))
    });
    refs.dedup();
    Ok(refs)
}

/// Up to `window.size + 1` tariffs matching `filter`, by row id, in read order.
pub async fn tariffs_page(
    db: &impl ConnectionTrait,
    filter: &TariffFilter,
    window: &Window,
) -> Result<Vec<tariff::Model>, StoreError> {
    let named = filter.named(db).await?;
    let select = tariff::Entity::find().filter(filter.condition(named.as_deref()));
    let rows = Sort::by_id(tariff::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many tariffs match `filter`.
pub async fn tariffs_count(
    db: &impl ConnectionTrait,
    filter: &TariffFilter,
) -> Result<u64, StoreError> {
    let named = filter.named(db).await?;
    let count = tariff::Entity::find()
        .filter(filter.condition(named.as_deref()))
        .count(db)
        .await?;
    Ok(count)
}

// ---------------------------------------------------------------------------
// Notifications

/// The notification a party sent under this id, compared case-insensitively.
pub async fn notification_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    notification_id: &str,
) -> Result<Option<notification::Model>, StoreError> {
    // Notifications keep their party upper-cased (store::notifications::save).
    let row = notification::Entity::find()
        .filter(notification::Column::CountryCode.eq(country_code.to_uppercase()))
        .filter(notification::Column::PartyId.eq(party_id.to_uppercase()))
        .filter(notification::Column::NotificationIdKey.eq(notification_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// What a page of notifications may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    /// The parties the caller may read.
    pub scope: Scope,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// The charge station id, exactly as sent.
    pub charge_station_id: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// Severity, case-insensitive.
    pub level: Option<String>,
    /// The OCPP action, case-insensitive.
    pub message_action: Option<String>,
    /// Created within this range.
    pub created: TimeRange,
}

impl NotificationFilter {
    fn condition(&self) -> Condition {
        let mut cond = self.scope.condition(
            notification::Column::CountryCode,
            notification::Column::PartyId,
        );
        if let Some(party) = &self.party_id {
            cond = cond.add(notification::Column::PartyId.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(notification::Column::CountryCode.eq(country.to_uppercase()));
        }
        if let Some(station) = &self.charge_station_id {
            cond = cond.add(notification::Column::ChargeStationId.eq(station.as_str()));
        }
        if let Some(location_id) = &self.location_id {
            cond = cond.add(notification::Column::LocationId.eq(location_id.as_str()));
        }
        if let Some(level) = &self.level {
            let raw = RawSet {
                values: vec![level.clone()],
                ..RawSet::default()
            };
            cond = cond.add(raw.condition("notification.level"));
        }
        if let Some(action) = &self.message_action {
            let raw = RawSet {
                values: vec![action.clone()],
                ..RawSet::default()
            };
            cond = cond.add(raw.condition("notification.message_action"));
        }
        cond.add(self.created.condition(notification::Column::Created))
    }
}

/// Up to `window.size + 1` notifications matching `filter`, by row id, in read order.
pub async fn notifications_page(
    db: &impl ConnectionTrait,
    filter: &NotificationFilter,
    window: &Window,
) -> Result<Vec<notification::Model>, StoreError> {
    let select = notification::Entity::find().filter(filter.condition());
    let rows = Sort::by_id(notification::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many notifications match `filter`.
pub async fn notifications_count(
    db: &impl ConnectionTrait,
    filter: &NotificationFilter,
) -> Result<u64, StoreError> {
    let count = notification::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}
