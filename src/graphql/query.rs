//! The Query root: lookups by OCPI ids, Relay connections and `node(id:)`.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};

use super::error::{bad_user_input, internal};
use super::ids::{cursor, parse_cursor, parse_global_id, NodeType};
use super::scalars::EvseStatus;
use super::types::{store, Cdr, Connector, Evse, Location, Node, Notification, Session};
use super::Limits;
use crate::store::read::{self, CdrFilter, LocationFilter, SessionFilter};

/// Page size when `first` is not given.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// Lookups and connections over locations, sessions, CDRs and notifications.
#[derive(Default)]
pub struct CoreQuery;

/// What `locations` may be narrowed by; every given field must match.
#[derive(InputObject, Default)]
pub struct LocationsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// City, exactly as sent.
    pub city: Option<String>,
}

/// The total of a filtered list, counted only when asked for.
pub struct LocationTotal {
    filter: LocationFilter,
}

/// The total of a filtered list, counted only when asked for.
#[Object]
impl LocationTotal {
    /// How many locations match the filter, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::locations_count(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

/// A page of locations.
pub type LocationConnection = Connection<String, Location, LocationTotal, EmptyFields>;

/// What `sessions` may be narrowed by; every given field must match.
#[derive(InputObject, Default)]
pub struct SessionsFilter {
    /// CPO party id, case-insensitive.
    pub party_id: Option<String>,
    /// CPO country code, case-insensitive.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// Session status, exactly as sent (ACTIVE, COMPLETED, ...).
    pub status: Option<String>,
}

/// The total of a filtered session list, counted only when asked for.
pub struct SessionTotal {
    filter: SessionFilter,
}

/// The total of a filtered session list, counted only when asked for.
#[Object]
impl SessionTotal {
    /// How many sessions match the filter, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::sessions_count(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

/// A page of sessions.
pub type SessionConnection = Connection<String, Session, SessionTotal, EmptyFields>;

/// What `cdrs` may be narrowed by; every given field must match.
#[derive(InputObject, Default)]
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
}

/// The total of a filtered CDR list, counted only when asked for.
pub struct CdrTotal {
    filter: CdrFilter,
}

/// The total of a filtered CDR list, counted only when asked for.
#[Object]
impl CdrTotal {
    /// How many CDRs match the filter, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        read::cdrs_count(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

/// A page of CDRs.
pub type CdrConnection = Connection<String, Cdr, CdrTotal, EmptyFields>;

/// EVSE counts per status: the tiles of a status board.
#[derive(SimpleObject)]
pub struct StatusSummary {
    /// All EVSEs counted.
    pub total: i64,
    /// One entry per raw status present, by raw status.
    pub counts: Vec<StatusCount>,
}

/// How many EVSEs have one status.
#[derive(SimpleObject)]
pub struct StatusCount {
    /// The status; OTHER for one this version does not know, null for none yet.
    pub status: Option<EvseStatus>,
    /// The status as sent.
    pub status_raw: Option<String>,
    /// How many EVSEs have it.
    pub count: i64,
}

#[Object]
impl CoreQuery {
    /// Locations by row order, `first` at a time after the `after` cursor.
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<LocationsFilter>,
    ) -> Result<LocationConnection> {
        let page = Page::read(ctx, first, after.as_deref())?;
        let filter = filter.map(LocationFilter::from).unwrap_or_default();

        let rows = read::locations_page(store(ctx)?.db(), &filter, page.after, page.size + 1)
            .await
            .map_err(internal)?;

        Ok(page.connection(rows, LocationTotal { filter }, |row| row.id, Location))
    }

    /// Sessions by row order, `first` at a time after the `after` cursor.
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<SessionsFilter>,
    ) -> Result<SessionConnection> {
        let page = Page::read(ctx, first, after.as_deref())?;
        let filter = filter.map(SessionFilter::from).unwrap_or_default();

        let rows = read::sessions_page(store(ctx)?.db(), &filter, page.after, page.size + 1)
            .await
            .map_err(internal)?;

        let total = SessionTotal { filter };
        Ok(page.connection(rows, total, |row| row.id, Session))
    }

    /// CDRs by row order, `first` at a time after the `after` cursor.
    async fn cdrs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CdrsFilter>,
    ) -> Result<CdrConnection> {
        let page = Page::read(ctx, first, after.as_deref())?;
        let filter = filter.map(CdrFilter::from).unwrap_or_default();

        let rows = read::cdrs_page(store(ctx)?.db(), &filter, page.after, page.size + 1)
            .await
            .map_err(internal)?;

        Ok(page.connection(rows, CdrTotal { filter }, |row| row.id, Cdr))
    }

    /// EVSE counts per status at the locations matching `filter`.
    async fn status_summary(
        &self,
        ctx: &Context<'_>,
        filter: Option<LocationsFilter>,
    ) -> Result<StatusSummary> {
        let filter = filter.map(LocationFilter::from).unwrap_or_default();
        let rows = read::evse_status_counts(store(ctx)?.db(), &filter)
            .await
            .map_err(internal)?;
        let counts: Vec<StatusCount> = rows
            .into_iter()
            .map(|(raw, count)| StatusCount {
                status: raw.as_deref().map(EvseStatus::from_raw),
                status_raw: raw,
                count,
            })
            .collect();
        Ok(StatusSummary {
            total: counts.iter().map(|c| c.count).sum(),
            counts,
        })
    }

    /// One location by its OCPI ids, compared case-insensitively.
    async fn location(
        &self,
        ctx: &Context<'_>,
        country_code: String,
        party_id: String,
        ocpi_id: String,
    ) -> Result<Option<Location>> {
        if !super::access(ctx).may_read(&country_code, &party_id) {
            return Ok(None);
        }
        let row = read::location_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Location))
    }

    /// One session by its OCPI ids, compared case-insensitively.
    async fn session(
        &self,
        ctx: &Context<'_>,
        country_code: String,
        party_id: String,
        ocpi_id: String,
    ) -> Result<Option<Session>> {
        let row = read::session_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Session))
    }

    /// One CDR by its OCPI ids, compared case-insensitively.
    async fn cdr(
        &self,
        ctx: &Context<'_>,
        country_code: String,
        party_id: String,
        ocpi_id: String,
    ) -> Result<Option<Cdr>> {
        let row = read::cdr_by_key(store(ctx)?.db(), &country_code, &party_id, &ocpi_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Cdr))
    }

    /// One notification by its party and the id in its URL.
    async fn notification(
        &self,
        ctx: &Context<'_>,
        country_code: String,
        party_id: String,
        notification_id: String,
    ) -> Result<Option<Notification>> {
        let db = store(ctx)?.db();
        let row = read::notification_by_key(db, &country_code, &party_id, &notification_id)
            .await
            .map_err(internal)?;
        Ok(row.map(Notification))
    }

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (kind, pk) = parse_global_id(&id).ok_or_else(|| bad_user_input("invalid id"))?;
        Ok(load_nodes(ctx, kind, &[pk]).await?.pop())
    }

    /// Objects by their global ids, in the order asked; null where none exists.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in &ids {
            let (kind, pk) = parse_global_id(id).ok_or_else(|| bad_user_input("invalid id"))?;
            found.push(load_nodes(ctx, kind, &[pk]).await?.pop());
        }
        Ok(found)
    }
}

impl From<SessionsFilter> for SessionFilter {
    fn from(f: SessionsFilter) -> Self {
        SessionFilter {
            party_id: f.party_id,
            country_code: f.country_code,
            location_id: f.location_id,
            status: f.status,
        }
    }
}

impl From<CdrsFilter> for CdrFilter {
    fn from(f: CdrsFilter) -> Self {
        CdrFilter {
            party_id: f.party_id,
            country_code: f.country_code,
            location_id: f.location_id,
            session_id: f.session_id,
            currency: f.currency,
            credit: f.credit,
        }
    }
}

impl From<LocationsFilter> for LocationFilter {
    fn from(f: LocationsFilter) -> Self {
        LocationFilter {
            party_id: f.party_id,
            country_code: f.country_code,
            city: f.city,
        }
    }
}

/// A validated `first`/`after` pair.
struct Page {
    size: u64,
    after: Option<i64>,
}

impl Page {
    fn read(ctx: &Context<'_>, first: Option<i32>, after: Option<&str>) -> Result<Page> {
        let cap = ctx.data::<Limits>()?.max_page_size;
        let size = match first {
            None => DEFAULT_PAGE_SIZE.min(cap),
            Some(n) if n < 0 => return Err(bad_user_input("`first` must not be negative")),
            Some(n) if n as u64 > cap => {
                return Err(bad_user_input(format!("`first` must be at most {cap}")))
            }
            Some(n) => n as u64,
        };
        let after = match after {
            None => None,
            Some(text) => Some(parse_cursor(text).ok_or_else(|| bad_user_input("invalid cursor"))?),
        };
        Ok(Page { size, after })
    }

    /// Turns up to `size + 1` rows into a page; the extra row only tells
    /// that a next page exists.
    fn connection<R, N, T>(
        &self,
        mut rows: Vec<R>,
        total: T,
        pk: impl Fn(&R) -> i64,
        node: impl Fn(R) -> N,
    ) -> Connection<String, N, T, EmptyFields>
    where
        N: async_graphql::OutputType,
        T: async_graphql::ObjectType,
    {
        let has_next = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        let mut connection =
            Connection::with_additional_fields(self.after.is_some(), has_next, total);
        connection.edges = rows
            .into_iter()
            .map(|row| Edge::new(cursor(pk(&row)), node(row)))
            .collect();
        connection
    }
}

/// Loads objects of one kind by row id.
async fn load_nodes(ctx: &Context<'_>, kind: NodeType, pks: &[i64]) -> Result<Vec<Node>> {
    let db = store(ctx)?.db();
    let nodes = match kind {
        NodeType::Location => read::locations_by_pk(db, pks).await.map(|rows| {
            rows.into_iter()
                .map(|r| Node::Location(Location(r)))
                .collect()
        }),
        NodeType::Evse => read::evses_by_pk(db, pks)
            .await
            .map(|rows| rows.into_iter().map(|r| Node::Evse(Evse(r))).collect()),
        NodeType::Connector => read::connectors_by_pk(db, pks).await.map(|rows| {
            rows.into_iter()
                .map(|r| Node::Connector(Connector(r)))
                .collect()
        }),
        NodeType::Session => read::sessions_by_pk(db, pks).await.map(|rows| {
            rows.into_iter()
                .map(|r| Node::Session(Session(r)))
                .collect()
        }),
        NodeType::Cdr => read::cdrs_by_pk(db, pks)
            .await
            .map(|rows| rows.into_iter().map(|r| Node::Cdr(Cdr(r))).collect()),
        NodeType::Notification => read::notifications_by_pk(db, pks).await.map(|rows| {
            rows.into_iter()
                .map(|r| Node::Notification(Notification(r)))
                .collect()
        }),
    };
    nodes.map_err(internal)
}
