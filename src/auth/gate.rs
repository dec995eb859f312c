//! The front door of GraphQL and exports: authenticate, then rate-limit.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{AuthError, Authenticated, Authenticator};
use crate::limits::{self, RateLimits};
use crate::telemetry::metrics::Metrics;

/// Why a front-end request was turned away.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No or bad credentials: UNAUTHENTICATED, HTTP 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// Over the rate limit: RATE_LIMITED, HTTP 429.
    #[error("rate limit exceeded; slow down and retry")]
    RateLimited,
    /// Our fault: INTERNAL_SERVER_ERROR, HTTP 500 (the cause is logged).
    #[error("internal error")]
    Internal,
}

impl Refusal {
    /// The stable code sent in `extensions.code` (GraphQL) or `code` (exports).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated(_) => "UNAUTHENTICATED",
            Refusal::RateLimited => "RATE_LIMITED",
            Refusal::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The HTTP status of this refusal.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A refused WebSocket `connection_init`, from an auth error.
    pub fn from_auth(err: AuthError) -> Refusal {
        match err {
            AuthError::Store(cause) => {
                tracing::error!(error = %cause, "cannot check front-end credentials");
                Refusal::Internal
            }
            other => Refusal::Unauthenticated(other.to_string()),
        }
    }
}

/// Authenticator, limits and metrics of the front-end surface; cheap to clone.
#[derive(Clone)]
pub struct Gate {
    /// Checks credentials.
    pub auth: Authenticator,
    /// Per-address and per-key limits.
    pub limits: RateLimits,
    /// Counts refusals.
    pub metrics: Metrics,
}

impl Gate {
    /// Lets a request in with its scope, or says why not. A caller whose
    /// credentials fail is limited by address, so guessing keys is slow too.
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Result<Authenticated, Refusal> {
        let ip = limits::client_ip(extensions);
        let caller = match self.auth.authenticate(headers).await {
            Ok(caller) => caller,
            Err(err) => {
                if !self.limits.allow_anonymous(ip) {
                    self.metrics.rate_limited("graphql");
                    return Err(Refusal::RateLimited);
                }
                return Err(Refusal::from_auth(err));
            }
        };
        // Open GraphQL on loopback is a developer's or a benchmark's: not limited.
        let open_local = !self.auth.enabled() && ip.is_loopback();
        if !open_local && !self.limits.allow(&caller.identity, ip) {
            self.metrics.rate_limited("graphql");
            return Err(Refusal::RateLimited);
        }
        Ok(caller)
    }
}

/// Middleware for `/export/*`: admits the request and puts its
/// `crate::domain::Access` in the request extensions for the handler.
pub async fn export_access(State(gate): State<Gate>, mut request: Request, next: Next) -> Response {
    match gate.admit(request.headers(), request.extensions()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller.access);
            next.run(request).await
        }
        Err(refusal) => {
            let body = json!({"error": refusal.to_string(), "code": refusal.code()});
            (refusal.http_status(), Json(body)).into_response()
        }
    }
}
