//! Operational endpoints: `/healthz` (the process answers), `/readyz` (the
//! database answers and its migrations are current) and `/metrics`
//! (Prometheus text format).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::shutdown::Shutdown;
use crate::store::{health, Store};
use crate::telemetry::metrics::Metrics;

/// What the operational endpoints look at.
#[derive(Clone)]
pub struct Ops {
    /// The database.
    pub store: Store,
    /// The server's metrics.
    pub metrics: Metrics,
    /// Whether the server is shutting down (then it is not ready).
    pub shutdown: Shutdown,
}

/// The `/healthz`, `/readyz` and `/metrics` routes.
pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the database answers and every known migration is applied;
/// 503 otherwise, naming what is wrong.
async fn readyz(State(ops): State<Ops>) -> Response {
    if ops.shutdown.is_draining() {
        return not_ready(json!({"status": "shutting down"}));
    }
    if let Err(err) = health::ping(&ops.store).await {
        tracing::warn!(error = %err, "readiness: database unreachable");
        return not_ready(json!({"status": "database unreachable"}));
    }
    match health::migrations(&ops.store).await {
        Ok(state) if state.pending.is_empty() => {
            let body = json!({"status": "ready", "database": "ok",
                "migrations": {"applied": state.applied, "expected": state.expected}});
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(state) => not_ready(json!({"status": "migrations pending",
            "migrations": {"applied": state.applied, "expected": state.expected,
                "pending": state.pending}})),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: cannot compare migrations");
            not_ready(json!({"status": "migrations not current",
                "detail": "the database's migrations do not match this binary's"}))
        }
    }
}

fn not_ready(body: serde_json::Value) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], ops.metrics.render()).into_response()
}
