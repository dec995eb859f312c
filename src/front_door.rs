//! Request time and body limits of the front-end routes (GraphQL, exports),
//! answered in the routes' own error shape rather than tower-http's bare
//! 503 and plain-text 413: a GraphQL error with `extensions.code` under
//! `/graphql`, `{"error", "code"}` elsewhere (exports).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Code of a request that ran longer than `request_timeout_ms`.
pub const TIMEOUT: &str = "TIMEOUT";

/// Code of a body over the size limit.
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";

/// Answers 503 `TIMEOUT` when the request (body read included) takes longer
/// than the limit.
pub async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let graphql = is_graphql(&request);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            let message = format!("request not completed within {} ms", limit.as_millis());
            refusal(graphql, StatusCode::SERVICE_UNAVAILABLE, TIMEOUT, &message)
        }
    }
}

/// Answers 413 `PAYLOAD_TOO_LARGE` for a declared length over the limit
/// before anything is read, and in place of any other 413 (a streamed body
/// that grew past the limit inside `RequestBodyLimitLayer`).
pub async fn body_limit(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let graphql = is_graphql(&request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        let message = format!("request body is over the limit of {limit} bytes");
        refusal(
            graphql,
            StatusCode::PAYLOAD_TOO_LARGE,
            PAYLOAD_TOO_LARGE,
            &message,
        )
    };
    if declared.is_some_and(|len| len > limit as u64) {
        return too_large();
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    response
}

fn is_graphql(request: &Request) -> bool {
    request.uri().path().starts_with("/graphql")
}

/// The error in the shape of the route that was asked.
fn refusal(graphql: bool, status: StatusCode, code: &str, message: &str) -> Response {
    let body = if graphql {
        json!({"errors": [{"message": message, "extensions": {"code": code}}]})
    } else {
        json!({"error": message, "code": code})
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
