//! The Query root: lookups by OCPI ids, Relay connections and `node(id:)`.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, InputObject, Object, Result, ID};

use super::error::{bad_user_input, internal};
use super::ids::{cursor, parse_cursor, parse_global_id, NodeType};
use super::types::{store, Cdr, Connector, Evse, Location, Node, Notification, Session};
use super::Limits;
use crate::store::read::{self, LocationFilter};

/// Page size when `first` is not given.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// Entry points for reading.
pub struct QueryRoot;

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

/// Entry points for reading.
#[Object(name = "Query")]
impl QueryRoot {
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

        let mut rows = read::locations_page(store(ctx)?.db(), &filter, page.after, page.size + 1)
            .await
            .map_err(internal)?;
        let has_next = rows.len() as u64 > page.size;
        rows.truncate(page.size as usize);

        let mut connection = Connection::with_additional_fields(
            page.after.is_some(),
            has_next,
            LocationTotal { filter },
        );
        connection.edges = rows
            .into_iter()
            .map(|row| Edge::new(cursor(row.id), Location(row)))
            .collect();
        Ok(connection)
    }

    /// One location by its OCPI ids, compared case-insensitively.
    async fn location(
        &self,
        ctx: &Context<'_>,
        country_code: String,
        party_id: String,
        ocpi_id: String,
    ) -> Result<Option<Location>> {
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
