//! The GraphQL schema: queries, subscriptions, scalars, and its HTTP routes.
//!
//! `POST /graphql` and `GET /graphql?query=` execute; a WebSocket upgrade on
//! `/graphql` subscribes (graphql-transport-ws or the legacy graphql-ws, see
//! `ws`); `GET /graphiql` serves GraphiQL wired to both.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, SDLExportOptions, Schema};
use async_graphql_axum::GraphQLResponse;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::{Gate, Refusal};
use crate::domain::Access;
use crate::events::Events;
use crate::shutdown::Shutdown;
use crate::store::Store;
use crate::telemetry::metrics::Metrics;

mod billing;
mod enums;
mod error;
mod hooks;
mod http;
mod ids;
mod inbox;
mod loaders;
mod metrics;
mod pagination;
mod query;
mod reconcile;
mod scalars;
pub mod socket;
mod subscription;
mod types;
pub mod ws;

pub use subscription::SubscriptionRoot;
pub use ws::WsSettings;

/// Entry points for reading: one object per area, merged into `Query`.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    query::CoreQuery,
    inbox::InboxQuery,
    reconcile::ReconcileQuery,
    billing::BillingQuery,
);

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

/// Builds the schema over a store and the process's event fan-out, open to
/// every caller (GraphQL auth off) and counting into throwaway metrics.
pub fn build_schema(store: Store, events: Events, limits: Limits) -> AppSchema {
    build_schema_with(store, events, limits, Access::full(), Metrics::new())
}

/// Builds the schema with the scope of a request that brings none of its
/// own (`Access::NONE` when GraphQL auth is on: fail closed) and the
/// server's metrics.
pub fn build_schema_with(
    store: Store,
    events: Events,
    limits: Limits,
    default_access: Access,
    metrics: Metrics,
) -> AppSchema {
    let builder = Schema::build(QueryRoot::default(), EmptyMutation, SubscriptionRoot);
    let mut builder = loaders::register(builder, &store, limits.loader_delay)
        .data(store)
        .data(events)
        .data(limits)
        // The scope of a request that brings none of its own. Request data
        // comes first in lookups, so an authenticated request's Access wins.
        .data(default_access)
        .data(metrics.clone())
        .data(hooks::Hooks::new(
            metrics,
            limits.apq_cache_size,
            limits.introspection,
        ))
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if !limits.introspection {
        builder = builder.disable_introspection();
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

/// What the GraphQL routes serve with.
#[derive(Clone)]
pub struct Endpoint {
    /// The schema.
    pub schema: AppSchema,
    /// Authentication and rate limits.
    pub gate: Gate,
    /// Closes WebSockets when the server shuts down.
    pub shutdown: Shutdown,
    /// How WebSocket connections behave.
    pub ws: Arc<WsSettings>,
}

impl Endpoint {
    /// Serves `schema` open (GraphQL auth off) with the default limits.
    pub fn open(schema: AppSchema, store: Store) -> Endpoint {
        let config = crate::config::Config::default();
        let auth = crate::auth::Authenticator::from_config(&config, store)
            .unwrap_or_else(|_| unreachable!("the default configuration sets no JWT key"));
        Endpoint {
            schema,
            gate: Gate {
                auth,
                limits: crate::limits::RateLimits::from_config(&config),
                metrics: Metrics::new(),
            },
            shutdown: Shutdown::new(),
            ws: Arc::new(WsSettings::default()),
        }
    }
}

/// The GraphQL and GraphiQL routes.
pub fn router(endpoint: Endpoint) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql", get(graphiql))
        .with_state(endpoint)
}

/// Admits the request (credentials, rate limit), then executes it with the
/// caller's Access in the request extensions, where `http::execute` reads it.
async fn graphql_post(State(endpoint): State<Endpoint>, mut request: Request) -> Response {
    let caller = match endpoint
        .gate
        .admit(request.headers(), request.extensions())
        .await
    {
        Ok(caller) => caller,
        Err(refusal) => return refused(&refusal),
    };
    request.extensions_mut().insert(caller.access);
    http::execute(endpoint.schema, request).await
}

/// A GET is either a WebSocket upgrade (subscriptions) or a query in the URL.
async fn graphql_get(State(endpoint): State<Endpoint>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return socket::upgrade(endpoint, request).await;
    }
    graphql_post(State(endpoint), request).await
}

/// A refused request: one error with its code, and the HTTP status to match.
fn refused(refusal: &Refusal) -> Response {
    let mut error = async_graphql::ServerError::new(refusal.to_string(), None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", refusal.code());
    let response = async_graphql::Response::from_errors(vec![error]);
    let mut answer = GraphQLResponse::from(response).into_response();
    *answer.status_mut() = refusal.http_status();
    answer
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
