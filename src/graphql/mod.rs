//! The GraphQL schema: queries, subscriptions, scalars, and its HTTP routes.
//!
//! `POST /graphql` and `GET /graphql?query=` execute; a WebSocket upgrade on
//! `/graphql` subscribes (graphql-transport-ws or the legacy graphql-ws);
//! `GET /graphiql` serves GraphiQL wired to both.

use async_graphql::dataloader::DataLoader;
use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, SDLExportOptions, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use crate::domain::Access;
use crate::events::Events;
use crate::store::Store;

mod error;
mod ids;
mod inbox;
mod loaders;
mod query;
mod scalars;
mod subscription;
mod types;

pub use subscription::SubscriptionRoot;

use loaders::{ConnectorsByEvse, EvsesByLocation, LocationsByPk};

/// Entry points for reading: one object per area, merged into `Query`.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(query::CoreQuery, inbox::InboxQuery);

/// The schema type served at `/graphql`.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Bounds on what one request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `first` a connection accepts.
    pub max_page_size: u64,
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Largest query complexity (one per field).
    pub max_complexity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page_size: 100,
            max_depth: 15,
            max_complexity: 2_000,
        }
    }
}

/// Builds the schema over a store and the process's event fan-out.
pub fn build_schema(store: Store, events: Events, limits: Limits) -> AppSchema {
    Schema::build(QueryRoot::default(), EmptyMutation, SubscriptionRoot)
        .data(DataLoader::new(LocationsByPk(store.clone()), tokio::spawn))
        .data(DataLoader::new(
            EvsesByLocation(store.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            ConnectorsByEvse(store.clone()),
            tokio::spawn,
        ))
        .data(store)
        .data(events)
        .data(limits)
        // The scope of a request that brings none of its own. Request data
        // comes first in lookups, so an authenticated request's Access wins.
        .data(Access::full())
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The read scope of the request being resolved.
#[allow(dead_code)] // Used by resolvers as they learn to scope by party.
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

/// The GraphQL and GraphiQL routes.
pub fn router(schema: AppSchema) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql", get(graphiql))
        .with_state(schema)
}

async fn graphql_post(State(schema): State<AppSchema>, request: GraphQLRequest) -> GraphQLResponse {
    let response = schema.execute(request.into_inner()).await;
    error::with_codes(response).into()
}

/// A GET is either a WebSocket upgrade (subscriptions) or a query in the URL.
async fn graphql_get(State(schema): State<AppSchema>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return match GraphQLSubscription::new(schema).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request,
        &(),
    )
    .await
    {
        Ok(request) => graphql_post(State(schema), request).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
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
