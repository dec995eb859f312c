//! Application state and router assembly; `serve` runs it on a listener.

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::events::Events;
use crate::graphql;
use crate::ingest::retention::Pruner;
use crate::ocpi::routes::{self, Receiver};
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
    /// The inbox retention task.
    pub pruner: Pruner,
}

impl AppState {
    /// Connects and migrates the database and starts the outbox reader and
    /// the inbox pruner (`serve` stops the pruner when it stops serving).
    pub async fn start(config: Config) -> Result<AppState, StoreError> {
        let store = Store::connect(&config.store_options()).await?;
        let events = Events::start_with(store.clone(), config.event_settings());
        // The reader must know where the outbox ends before the first push
        // commits, or that push's events could be taken as already seen.
        events.ready().await;
        let pruner = Pruner::start(store.clone(), config.inbox_retention());
        Ok(AppState {
            config,
            store,
            events,
            pruner,
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
    // The receiver's router answers every URL no route takes (its fallback).
    Router::new()
        .merge(routes::router(receiver))
        .merge(graphql::router_with(
            schema(state),
            state.config.ws_settings(),
        ))
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

/// Serves until `shutdown` completes, then stops the inbox pruner.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = axum::serve(listener, router(&state))
        .with_graceful_shutdown(shutdown)
        .await;
    state.pruner.stop().await;
    served
}
