//! Application state and router assembly; `serve` runs it on a listener.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::events::Events;
use crate::graphql;
use crate::ocpi::routes::{self, Receiver};
use crate::ocpi::Envelope;
use crate::store::{Store, StoreError};

/// Everything the running server shares.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The outbox reader and fan-out.
    pub events: Events,
}

impl AppState {
    /// Connects and migrates the database and starts the outbox reader.
    pub async fn start(config: Config) -> Result<AppState, StoreError> {
        let store = Store::connect(&config.store_options()).await?;
        let events = Events::start(store.clone());
        // The reader must know where the outbox ends before the first push
        // commits, or that push's events could be taken as already seen.
        events.ready().await;
        Ok(AppState {
            config,
            store,
            events,
        })
    }
}

/// The whole HTTP surface: OCPI receiver, GraphQL, GraphiQL.
pub fn router(state: &AppState) -> Router {
    let receiver = Receiver {
        store: state.store.clone(),
        events: state.events.clone(),
        body_limit: state.config.body_limit,
        public_url: state.config.public_url.clone(),
    };
    Router::new()
        .merge(routes::router(receiver))
        .merge(graphql::router(schema(state)))
        .fallback(not_found)
}

/// The GraphQL schema over this state, with the configured limits.
pub fn schema(state: &AppState) -> graphql::AppSchema {
    let config = &state.config;
    let limits = graphql::Limits {
        max_page_size: config.max_page_size,
        max_depth: config.graphql_max_depth,
        max_complexity: config.graphql_max_complexity,
        introspection: config.graphql_introspection,
        apq_cache_size: config.graphql_apq_cache_size,
        ..graphql::Limits::default()
    };
    graphql::build_schema(state.store.clone(), state.events.clone(), limits)
}

async fn not_found() -> impl IntoResponse {
    let envelope = Envelope::new(2000, None, "no endpoint at this URL");
    (StatusCode::NOT_FOUND, axum::Json(envelope))
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(&state))
        .with_graceful_shutdown(shutdown)
        .await
}
