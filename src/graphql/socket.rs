//! GraphQL over WebSocket: graphql-transport-ws and the legacy graphql-ws,
//! with the caller's `Access` from the upgrade's headers or from the
//! `connection_init` payload, and a 1001 close when the server shuts down.

use std::sync::{Arc, Mutex};

use std::str::FromStr;

use async_graphql::http::{
    WebSocket as Protocol, WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS,
};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};

use super::{refused, Endpoint};
use crate::auth::{Authenticated, Authenticator, Refusal};
use crate::domain::Access;

/// Close code of a refused `connection_init` (graphql-transport-ws: Forbidden).
const FORBIDDEN: u16 = 4403;

/// Close code when the server shuts down (RFC 6455: going away).
const GOING_AWAY: u16 = 1001;

/// The scope of a WebSocket connection, from its `connection_init` payload.
///
/// This is the hook the WebSocket handling calls once per connection; an
/// `Err` closes the connection (4403 on graphql-transport-ws).
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
///
/// Credentials on the upgrade itself (apps can set headers, browsers cannot)
/// are checked now; without them the `connection_init` payload decides.
pub(super) async fn upgrade(endpoint: Endpoint, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(protocol) = subprotocol(&parts.headers) else {
        let message = "Sec-WebSocket-Protocol must name graphql-transport-ws or graphql-ws";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    let has_credentials = parts.headers.contains_key(header::AUTHORIZATION)
        || parts.headers.contains_key("x-api-key");
    let upfront = if has_credentials || !endpoint.gate.auth.enabled() {
        match endpoint.gate.admit(&parts.headers, &parts.extensions).await {
            Ok(caller) => Some(caller),
            Err(refusal) => return refused(&refusal),
        }
    } else {
        let ip = crate::limits::client_ip(&parts.extensions);
        if !endpoint.gate.limits.allow_anonymous(ip) {
            endpoint.gate.metrics.rate_limited("graphql");
            return refused(&Refusal::RateLimited);
        }
        None
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, endpoint, protocol, upfront))
}

/// Runs one connection until either side closes it or the server shuts down.
async fn serve(
    socket: WebSocket,
    endpoint: Endpoint,
    protocol: WebSocketProtocols,
    upfront: Option<Authenticated>,
) {
    // Counted, so the shutdown waits (boundedly) for the close frame to go out.
    let _running = endpoint.shutdown.track();
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| futures::future::ready(message.is_ok()))
        .filter_map(|message| {
            futures::future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let refusal: Arc<Mutex<bool>> = Arc::default();
    let init = {
        let auth = endpoint.gate.auth.clone();
        let refusal = refusal.clone();
        move |payload: serde_json::Value| async move {
            let access = match upfront {
                Some(caller) => caller.access,
                None => match connection_access(&auth, &payload).await {
                    Ok(access) => access,
                    Err(err) => {
                        if let Ok(mut refused) = refusal.lock() {
                            *refused = true;
                        }
                        return Err(async_graphql::Error::new(err.to_string()));
                    }
                },
            };
            let mut data = Data::default();
            data.insert(access);
            Ok(data)
        }
    };
    let mut messages =
        Protocol::new(endpoint.schema.clone(), input, protocol).on_connection_init(init);
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            _ = endpoint.shutdown.draining() => {
                let _ = sink.send(close(GOING_AWAY, "server shutting down")).await;
                break;
            }
        };
        let sent = match message {
            Some(WsMessage::Text(text)) => sink.send(Message::Text(text.into())).await,
            Some(WsMessage::Close(code, reason)) => {
                let refused = refusal.lock().map(|r| *r).unwrap_or(false);
                let code = if refused { FORBIDDEN } else { code };
                let _ = sink.send(close(code, &reason)).await;
                break;
            }
            None => break,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// The first GraphQL protocol the client offers.
fn subprotocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered = headers.get(header::SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}
