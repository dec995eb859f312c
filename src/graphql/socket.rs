//! The front door of GraphQL over WebSocket: who may open a connection and
//! with what `Access`. The connection itself runs in `ws`.
//!
//! Credentials on the upgrade request (apps can set headers, browsers
//! cannot) are checked at the upgrade, and a refusal is an HTTP answer;
//! without them, the `connection_init` payload (`{"apiKey": ...}` or
//! `{"Authorization": "Bearer ..."}`) decides, and a refusal closes the
//! connection with 4403. Anonymous upgrades are rate-limited by address.
//! Connections close with 1001 when the server shuts down.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header;
use axum::response::Response;
use futures::FutureExt;

use super::ws::{self, Authenticate, InitRefused};
use super::{refused, Endpoint};
use crate::auth::{Authenticator, Refusal};
use crate::domain::Access;

/// The scope of a WebSocket connection, from its `connection_init` payload.
pub async fn connection_access(
    auth: &Authenticator,
    payload: &serde_json::Value,
) -> Result<Access, Refusal> {
    auth.authenticate_init(payload)
        .await
        .map(|caller| caller.access)
        .map_err(Refusal::from_auth)
}

/// Answers a WebSocket upgrade on `/graphql`.
pub(super) async fn upgrade(endpoint: Endpoint, request: Request) -> Response {
    let headers = request.headers();
    let has_credentials =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    let authenticate: Authenticate = if has_credentials || !endpoint.gate.auth.enabled() {
        match endpoint.gate.admit(headers, request.extensions()).await {
            Ok(caller) => {
                let access = caller.access;
                Arc::new(move |_| std::future::ready(Ok(access.clone())).boxed())
            }
            Err(refusal) => return refused(&refusal),
        }
    } else {
        let ip = crate::limits::client_ip(request.extensions());
        if !endpoint.gate.limits.allow_anonymous(ip) {
            endpoint.gate.metrics.rate_limited("graphql");
            return refused(&Refusal::RateLimited);
        }
        let auth = endpoint.gate.auth.clone();
        Arc::new(move |init| {
            let auth = auth.clone();
            async move {
                connection_access(&auth, &init.payload)
                    .await
                    .map_err(|refusal| InitRefused(refusal.to_string()))
            }
            .boxed()
        })
    };
    let settings = ws::WsSettings {
        authenticate,
        shutdown: Some(endpoint.shutdown.clone()),
        ..(*endpoint.ws).clone()
    };
    ws::upgrade(endpoint.schema, Arc::new(settings), request).await
}
