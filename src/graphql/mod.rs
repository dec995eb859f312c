//! The GraphQL schema: queries, subscriptions, scalars, and its HTTP routes.
//!
//! `POST /graphql` and `GET /graphql?query=` execute; a WebSocket upgrade on
//! `/graphql` subscribes (graphql-transport-ws or the legacy graphql-ws, see
//! `ws`); `GET /graphiql` serves GraphiQL wired to both.

use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, SDLExportOptions, Schema};
use axum::extract::{FromRef, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;

use crate::domain::Access;
use crate::events::Events;
use crate::store::Store;

mod enums;
mod error;
mod http;
mod ids;
mod inbox;
mod loaders;
mod pagination;
mod query;
mod scalars;
mod subscription;
mod types;
pub mod ws;

pub use subscription::SubscriptionRoot;
pub use ws::WsSettings;

/// Entry points for reading: one object per area, merged into `Query`.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(query::CoreQuery, inbox::InboxQuery);

/// The schema type served at `/graphql`.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Bounds on what one request may ask for, and the schema's switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `first` or `last` a connection accepts.
    pub max_page_size: u64,
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Largest query complexity: one per field, a connection's children
    /// times its page size.
    pub max_complexity: usize,
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
    /// How many automatic persisted queries the in-memory LRU keeps.
    pub apq_cache_size: usize,
    /// How long a DataLoader gathers keys before it runs one batch: a list
    /// level costs one statement when its rows all ask within this window.
    pub loader_delay: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_size: 100,
            max_depth: 15,
            max_complexity: 10_000,
            introspection: true,
            apq_cache_size: 1_000,
            loader_delay: std::time::Duration::from_millis(1),
        }
    }
}

/// Builds the schema over a store and the process's event fan-out.
pub fn build_schema(store: Store, events: Events, limits: Limits) -> AppSchema {
    let builder = Schema::build(QueryRoot::default(), EmptyMutation, SubscriptionRoot);
    let mut builder = loaders::register(builder, &store, limits.loader_delay)
        .data(store)
        .data(events)
        .data(limits)
        // The scope of a request that brings none of its own. Request data
        // comes first in lookups, so an authenticated request's Access wins.
        .data(Access::full())
        .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
            limits.apq_cache_size.max(1),
        )))
        .extension(error::ErrorCodes)
        .extension(http::HttpMethodCheck)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if !limits.introspection {
        builder = builder
            .disable_introspection()
            .extension(error::NoIntrospection);
    }
    builder.finish()
}

/// The read scope of the request being resolved.
pub(crate) fn access<'a>(ctx: &async_graphql::Context<'a>) -> &'a Access {
    // The schema carries a default (see `build_schema`); should it ever be
    // missing, the request sees nothing rather than everything.
    static NONE: Access = Access::NONE;
    ctx.data_opt::<Access>().unwrap_or(&NONE)
}

/// The schema in SDL, fields, arguments and enum values sorted, as in `schema.graphql`.
pub fn sdl(schema: &AppSchema) -> String {
    let options = SDLExportOptions::new()
        .sorted_fields()
        .sorted_arguments()
        .sorted_enum_items()
        .prefer_single_line_descriptions();
    schema.sdl_with_options(options)
}

/// What the GraphQL routes share: the schema and the WebSocket settings.
#[derive(Clone)]
struct Routes {
    schema: AppSchema,
    ws: Arc<WsSettings>,
}

impl FromRef<Routes> for AppSchema {
    fn from_ref(routes: &Routes) -> AppSchema {
        routes.schema.clone()
    }
}

/// The GraphQL and GraphiQL routes, with default WebSocket settings.
pub fn router(schema: AppSchema) -> Router {
    router_with(schema, WsSettings::default())
}

/// The GraphQL and GraphiQL routes.
pub fn router_with(schema: AppSchema, ws: WsSettings) -> Router {
    let routes = Routes {
        schema,
        ws: Arc::new(ws),
    };
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql", get(graphiql))
        .with_state(routes)
}

async fn graphql_post(State(schema): State<AppSchema>, request: Request) -> Response {
    http::execute(schema, request).await
}

/// A GET is either a WebSocket upgrade (subscriptions) or a query in the URL.
async fn graphql_get(State(routes): State<Routes>, request: Request) -> Response {
    let schema = routes.schema;
    if is_websocket_upgrade(request.headers()) {
        return ws::upgrade(schema, routes.ws, request).await;
    }
    http::execute(schema, request).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish(),
    )
}

#[cfg(test)]
mod tests;
