//! Application state and router assembly; `serve` runs it on a listener.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Authenticator, Gate, JwtError};
use crate::board;
use crate::config::Config;
use crate::events::{self, Events};
use crate::export;
use crate::front_door;
use crate::graphql;
use crate::ingest::retention::Pruner;
use crate::limits::RateLimits;
use crate::ocpi::routes::{self, Receiver};
use crate::ops::{self, Ops};
use crate::reconcile::{Background, Reconciler};
use crate::shutdown::Shutdown;
use crate::store::reconcile::HealQueue;
use crate::store::tokens::UsageThrottle;
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JWT key setting is not usable.
    #[error(transparent)]
    Jwt(#[from] JwtError),
}

/// Everything the running server shares.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// The outbox reader and fan-out.
    pub events: Events,
    /// Prometheus metrics of this server.
    pub metrics: Metrics,
    /// Front-end credentials (API keys, JWTs).
    pub auth: Authenticator,
    /// Rate limits.
    pub limits: RateLimits,
    /// The shutdown signal every part watches.
    pub shutdown: Shutdown,
    /// The inbox retention task.
    pub pruner: Pruner,
    /// Where the receiver queues targeted pulls of unknown locations.
    pub heal: HealQueue,
    /// The scheduled pulls and the heal worker.
    pub reconciler: Reconciler,
}

impl AppState {
    /// Connects and migrates the database and starts the outbox reader, the
    /// inbox pruner and reconciliation (`serve` stops the pruner and
    /// reconciliation when it stops serving).
    pub async fn start(config: Config) -> Result<AppState, StartError> {
        let store = Store::connect(&config.store_options()).await?;
        let auth = Authenticator::from_config(&config, store.clone())?;
        let metrics = Metrics::new();
        let settings = events::Settings {
            metrics: Some(metrics.clone()),
            ..config.event_settings()
        };
        let events = Events::start_with(store.clone(), settings);
        // The reader must know where the outbox ends before the first push
        // commits, or that push's events could be taken as already seen.
        events.ready().await;
        let pruner = Pruner::start(store.clone(), config.inbox_retention());
        let heal = HealQueue::new(config.pulled_parties());
        let reconciler = start_reconciler(&config, &store, &events, &metrics, &heal);
        Ok(AppState {
            limits: RateLimits::from_config(&config),
            config,
            store,
            events,
            metrics,
            auth,
            shutdown: Shutdown::new(),
            pruner,
            heal,
            reconciler,
        })
    }

    /// The front door of GraphQL and exports.
    pub fn gate(&self) -> Gate {
        Gate {
            auth: self.auth.clone(),
            limits: self.limits.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Starts the scheduled pulls and the heal worker of the usable
/// `[[reconcile]]` entries, unless `reconcile_schedule` is off.
fn start_reconciler(
    config: &Config,
    store: &Store,
    events: &Events,
    metrics: &Metrics,
    heal: &HealQueue,
) -> Reconciler {
    if !config.reconcile_schedule {
        return Reconciler::default();
    }
    let cpos = config
        .reconcile
        .iter()
        .filter(|cpo| match cpo.check() {
            Ok(()) => true,
            Err(problem) => {
                tracing::error!(problem = %problem, "reconcile entry not scheduled");
                false
            }
        })
        .cloned()
        .collect();
    Reconciler::start(Background {
        store: store.clone(),
        events: events.clone(),
        metrics: metrics.clone(),
        cpos,
        heal: heal.clone(),
        heal_poll: Duration::from_secs(config.reconcile_heal_poll_secs.max(1)),
    })
}

/// The whole HTTP surface: OCPI receiver, GraphQL, GraphiQL, CSV exports,
/// the status board, health and metrics.
pub fn router(state: &AppState) -> Router {
    let receiver = Receiver {
        store: state.store.clone(),
        events: state.events.clone(),
        body_limit: state.config.body_limit,
        public_url: state.config.public_url.clone(),
        metrics: state.metrics.clone(),
        limits: state.limits.clone(),
        shutdown: state.shutdown.clone(),
        body_timeout: timeout_of(&state.config).unwrap_or(Duration::from_secs(3600)),
        token_usage: UsageThrottle::new(Duration::from_secs(60)),
        heal: state.heal.clone(),
    };
    let endpoint = graphql::Endpoint {
        schema: schema(state),
        gate: state.gate(),
        shutdown: state.shutdown.clone(),
        ws: std::sync::Arc::new(state.config.ws_settings()),
    };
    let body_limit = state.config.graphql_body_limit;
    let graphql = graphql::router(endpoint)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(from_fn_with_state(body_limit, front_door::body_limit));
    let ops = Ops {
        store: state.store.clone(),
        metrics: state.metrics.clone(),
        shutdown: state.shutdown.clone(),
    };
    // The receiver's router answers every URL no route takes (its fallback).
    Router::new()
        .merge(routes::router(receiver))
        .merge(front_end(graphql, state))
        .merge(board::router())
        .merge(protect_exports(export::router(state.store.clone()), state))
        .merge(ops::router(ops))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(x_request_id()))
        .layer(SetRequestIdLayer::new(x_request_id(), MakeRequestUuid))
}

/// Wraps routes browsers call (GraphQL, exports) in the configured CORS
/// policy and request timeout.
pub fn front_end(routes: Router, state: &AppState) -> Router {
    let routes = match timeout_of(&state.config) {
        Some(limit) => routes.layer(from_fn_with_state(limit, front_door::timeout)),
        None => routes,
    };
    match cors(&state.config) {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// Puts `/export/*` routes behind the front door: each request is
/// authenticated and rate-limited, and its `crate::domain::Access` is put in
/// the request extensions for the handler to narrow its rows to.
pub fn protect_exports(exports: Router, state: &AppState) -> Router {
    let exports = exports.layer(axum::middleware::from_fn_with_state(
        state.gate(),
        crate::auth::export_access,
    ));
    front_end(exports, state)
}

fn timeout_of(config: &Config) -> Option<Duration> {
    match config.request_timeout_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// The CORS policy of the configured origins; none when no origin is allowed.
fn cors(config: &Config) -> Option<CorsLayer> {
    let origins = &config.cors_allowed_origins;
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
                Ok(value) => Some(value),
                Err(_) => {
                    tracing::warn!(origin = %o, "ignoring an unusable CORS origin");
                    None
                }
            })
            .collect();
        AllowOrigin::list(values)
    };
    let headers = [
        axum::http::header::AUTHORIZATION,
        axum::http::header::CONTENT_TYPE,
        HeaderName::from_static("x-api-key"),
        x_request_id(),
    ];
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(headers)
            .expose_headers([x_request_id()])
            .max_age(Duration::from_secs(600)),
    )
}

fn x_request_id() -> HeaderName {
    HeaderName::from_static("x-request-id")
}

/// The span every log line of a request is written in: it carries the
/// X-Request-ID (set by `SetRequestIdLayer` when the client sent none).
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %request_id,
        http.method = %request.method(),
        http.path = %request.uri().path(),
    )
}

/// The GraphQL schema over this state, with the configured limits, the
/// scope of unauthenticated requests and this server's metrics.
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
    graphql::build_schema_with(
        state.store.clone(),
        state.events.clone(),
        limits,
        state.auth.default_access(),
        state.metrics.clone(),
    )
}

/// Serves until `shutdown` completes, then drains: new pushes are answered
/// 503, WebSockets closed with 1001, in-flight requests finished, all
/// within `shutdown_drain_ms`; then stops the inbox pruner and reconciliation.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(&state), state, shutdown).await
}

/// `serve` with a router of the caller's (the app's, with routes added).
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = drain_and_serve(listener, router, &state, shutdown).await;
    state.pruner.stop().await;
    state.reconciler.stop().await;
    served
}

async fn drain_and_serve(
    listener: TcpListener,
    router: Router,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let signal = state.shutdown.clone();
    let begin = async move {
        shutdown.await;
        tracing::info!("shutting down: draining in-flight requests");
        signal.begin();
    };
    let drain = Duration::from_millis(state.config.shutdown_drain_ms);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service)
        .with_graceful_shutdown(begin)
        .into_future();
    let draining = state.shutdown.clone();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served?,
        _ = async {
            draining.draining().await;
            tokio::time::sleep(drain).await;
        } => {
            tracing::warn!(drain_ms = drain.as_millis() as u64, "drain time over; stopping with requests in flight");
            return Ok(());
        }
    }
    if !state.shutdown.wait_tracked(drain).await {
        tracing::warn!("drain time over; WebSockets still open");
    }
    Ok(())
}
