//! GraphQL subscriptions over WebSocket: graphql-transport-ws (the protocol
//! of the `graphql-ws` library) and the legacy graphql-ws protocol of
//! subscriptions-transport-ws.
//!
//! async-graphql-axum's loop has no init timeout, sends no server pings and
//! closes only on client silence, so this one is ours. Per connection: the
//! client must send `connection_init` within `init_timeout`; the server
//! pings every `ping_interval` (a `ping` message, or for the legacy protocol
//! a `ka` message plus a WebSocket ping frame) and closes a client from
//! which nothing (a pong or anything else) arrives within `ping_timeout`,
//! or whose socket takes longer than that to accept a message. A client
//! that never pings on its own stays as long as it answers. Incoming
//! messages are bounded in size, subscriptions in number, and what waits to
//! be sent is bounded by each subscription's mailbox (see `crate::events`).
//!
//! `connection_init` goes through `WsSettings::authenticate`, which turns its
//! payload and the upgrade request's headers into the `Access` the
//! connection's operations run with (full access until GraphQL auth is on).

use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ClientMessage;
use async_graphql::{Data, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::time::{sleep_until, Instant};
use tokio_stream::StreamMap;
use tracing::Instrument;

use super::{error, hooks, AppSchema};
use crate::domain::Access;
use crate::shutdown::Shutdown;

/// What a `connection_init` brings: the upgrade request's headers and the payload.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// Headers of the HTTP upgrade request.
    pub headers: HeaderMap,
    /// The `connection_init` payload (`{}` when absent).
    pub payload: Value,
}

/// A refused `connection_init`; the message is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InitRefused(pub String);

/// Decides the read scope of a connection from its `connection_init`.
pub type Authenticate =
    Arc<dyn Fn(InitRequest) -> BoxFuture<'static, Result<Access, InitRefused>> + Send + Sync>;

/// Every connection may read everything: GraphQL auth is off.
pub fn full_access() -> Authenticate {
    Arc::new(|_| Box::pin(ready(Ok(Access::full()))))
}

/// How WebSocket connections behave.
#[derive(Clone)]
pub struct WsSettings {
    /// How long a client has to send `connection_init`.
    pub init_timeout: Duration,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered, and a send may wait on the socket.
    pub ping_timeout: Duration,
    /// Largest message (and frame) a client may send, in bytes.
    pub max_message_bytes: usize,
    /// Most subscriptions open at once on one connection.
    pub max_subscriptions: usize,
    /// Largest amount of outgoing data buffered for a socket, in bytes.
    pub max_write_buffer_bytes: usize,
    /// Turns `connection_init` into the connection's `Access`.
    pub authenticate: Authenticate,
    /// When it starts draining, every connection closes with 1001 (and
    /// `serve` waits, boundedly, for the close frames to go out).
    pub shutdown: Option<Shutdown>,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            init_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            ping_timeout: Duration::from_secs(10),
            max_message_bytes: 64 * 1024,
            max_subscriptions: 100,
            max_write_buffer_bytes: 8 * 1024 * 1024,
            authenticate: full_access(),
            shutdown: None,
        }
    }
}

impl std::fmt::Debug for WsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSettings")
            .field("init_timeout", &self.init_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("max_write_buffer_bytes", &self.max_write_buffer_bytes)
            .finish_non_exhaustive()
    }
}

/// The data every operation of a connection runs with: the `Access` that
/// `authenticate` decided. This is the `connection_init` hook.
pub async fn on_connection_init(
    settings: &WsSettings,
    request: InitRequest,
) -> Result<Data, InitRefused> {
    let access = (settings.authenticate)(request).await?;
    let mut data = Data::default();
    data.insert(access);
    Ok(data)
}

/// The two protocols, told apart by `Sec-WebSocket-Protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// graphql-transport-ws (the `graphql-ws` library, GraphiQL).
    TransportWs,
    /// graphql-ws of subscriptions-transport-ws (legacy Apollo clients).
    Legacy,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// The protocol the client offers; graphql-transport-ws when it offers both.
    fn offered(headers: &HeaderMap) -> Option<Protocol> {
        let offered: Vec<String> = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        [Protocol::TransportWs, Protocol::Legacy]
            .into_iter()
            .find(|p| offered.iter().any(|o| o == p.name()))
    }
}

/// Answers a WebSocket upgrade on `/graphql`.
pub async fn upgrade(
    schema: AppSchema,
    settings: Arc<WsSettings>,
    request: axum::extract::Request,
) -> HttpResponse {
    let (mut parts, _body) = request.into_parts();
    let Some(protocol) = Protocol::offered(&parts.headers) else {
        let message = "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let headers = owned(&parts.headers);
    // The connection outlives the request; its logs keep the request's span
    // (and so its X-Request-ID).
    let span = tracing::Span::current();
    upgrade
        .protocols([protocol.name()])
        .max_message_size(settings.max_message_bytes)
        .max_frame_size(settings.max_message_bytes)
        // Clients send small messages (connection_init, subscribe, pong);
        // a bigger one grows the buffer, up to max_message_bytes.
        .read_buffer_size(1024)
        // Each message goes out when sent; nothing waits for a fuller buffer.
        .write_buffer_size(0)
        .max_write_buffer_size(settings.max_write_buffer_bytes)
        .on_upgrade(move |socket| {
            let connection = Connection {
                protocol,
                schema,
                settings,
                headers,
                session: None,
                operations: StreamMap::new(),
            };
            connection.run(socket).instrument(span)
        })
}

/// The upgrade request's headers, copied. hyper's header values share the
/// connection's read buffer (16 KiB), which a kept `HeaderMap` would hold
/// for as long as the WebSocket is open: more than the rest of an idle
/// connection takes.
fn owned(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let mut copy = HeaderValue::from_bytes(value.as_bytes()).ok()?;
            copy.set_sensitive(value.is_sensitive());
            Some((name.clone(), copy))
        })
        .collect()
}

/// A message or frame over `max_message_bytes` is refused with 1009
/// (RFC 6455 7.4.1, "message too big"); other read errors mean the client
/// is gone.
fn read_failed(err: &axum::Error) -> Flow {
    // tungstenite's capacity errors read "Space limit exceeded: ...";
    // axum does not expose their type.
    if err.to_string().contains("Space limit exceeded") {
        tracing::debug!(error = %err, "websocket message over the size limit");
        return Flow::Close(1009, "Message too big".into());
    }
    tracing::debug!(error = %err, "websocket read failed");
    Flow::Gone
}

/// What one operation yields: a response (the first flagged), then its end.
enum Out {
    Response(Box<Response>, bool),
    Done,
}

/// Why the loop ends: a close frame to send, or the client is gone.
enum Flow {
    Continue,
    Close(u16, String),
    Gone,
}

type Sink = SplitSink<WebSocket, Message>;

struct Connection {
    protocol: Protocol,
    schema: AppSchema,
    settings: Arc<WsSettings>,
    headers: HeaderMap,
    /// Set by an accepted `connection_init`.
    session: Option<Arc<Data>>,
    operations: StreamMap<String, BoxStream<'static, Out>>,
}

impl Connection {
    async fn run(mut self, socket: WebSocket) {
        let shutdown = self.settings.shutdown.clone();
        let _running = shutdown.as_ref().map(Shutdown::track);
        let draining = async {
            match &shutdown {
                Some(shutdown) => shutdown.draining().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(draining);
        let (mut sink, mut source) = socket.split();
        let init_deadline = Instant::now() + self.settings.init_timeout;
        let interval = self.settings.ping_interval;
        let mut pings = tokio::time::interval_at(Instant::now() + interval, interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pong_deadline: Option<Instant> = None;
        // A client's message is handled in a boxed future (subscribing and
        // initialising take 2.5 KiB): an idle connection waits in the select
        // below, and its task should not carry that room. Sending an event
        // or a ping needs little and happens often, so it stays inline.
        let close = loop {
            let flow = tokio::select! {
                frame = source.next() => match frame {
                    Some(Ok(frame)) => {
                        // Anything from the client shows it is still there.
                        pong_deadline = None;
                        Box::pin(self.on_frame(frame, &mut sink, init_deadline)).await
                    }
                    Some(Err(err)) => read_failed(&err),
                    None => Flow::Gone,
                },
                _ = sleep_until(init_deadline), if self.session.is_none() => {
                    Flow::Close(4408, "Connection initialisation timeout".into())
                }
                _ = pings.tick() => {
                    if pong_deadline.is_none() {
                        pong_deadline = Some(Instant::now() + self.settings.ping_timeout);
                        self.ping(&mut sink).await
                    } else {
                        Flow::Continue
                    }
                }
                _ = sleep_until(pong_deadline.unwrap_or(init_deadline)), if pong_deadline.is_some() => {
                    tracing::debug!("websocket client stopped answering pings");
                    Flow::Close(4504, "Ping not answered".into())
                }
                Some((id, out)) = self.operations.next() => self.on_output(&mut sink, id, out).await,
                _ = &mut draining => Flow::Close(1001, "server shutting down".into()),
            };
            match flow {
                Flow::Continue => {}
                Flow::Close(code, reason) => break Some((code, reason)),
                Flow::Gone => break None,
            }
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            // A client that stopped reading gets no more than a moment.
            let closing = sink.send(Message::Close(Some(frame)));
            let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
        }
    }

    /// Sends one message, giving up (and so dropping the client) when the
    /// socket does not take it within the ping timeout.
    async fn send(&mut self, sink: &mut Sink, message: Value) -> Flow {
        let text = Message::Text(message.to_string().into());
        match tokio::time::timeout(self.settings.ping_timeout, sink.send(text)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) => Flow::Gone,
            Err(_) => {
                tracing::debug!("websocket client stopped reading");
                Flow::Gone
            }
        }
    }

    async fn ping(&mut self, sink: &mut Sink) -> Flow {
        match self.protocol {
            Protocol::TransportWs => self.send(sink, json!({"type": "ping"})).await,
            Protocol::Legacy => {
                // Legacy clients never answer `ka`; a ping frame they answer.
                let ping = Message::Ping(bytes::Bytes::from_static(b"ka"));
                let sent = tokio::time::timeout(self.settings.ping_timeout, sink.send(ping));
                if !matches!(sent.await, Ok(Ok(()))) {
                    return Flow::Gone;
                }
                self.send(sink, json!({"type": "ka"})).await
            }
        }
    }

    async fn on_frame(&mut self, frame: Message, sink: &mut Sink, init_deadline: Instant) -> Flow {
        let bytes = match frame {
            Message::Text(text) => bytes::Bytes::from(text),
            Message::Binary(bytes) => bytes,
            Message::Ping(_) | Message::Pong(_) => return Flow::Continue,
            Message::Close(_) => return Flow::Gone,
        };
        match ClientMessage::from_bytes(&bytes) {
            Ok(message) => self.on_message(message, sink, init_deadline).await,
            Err(err) => Flow::Close(4400, format!("Invalid message received: {err}")),
        }
    }

    async fn on_message(
        &mut self,
        message: ClientMessage,
        sink: &mut Sink,
        init_deadline: Instant,
    ) -> Flow {
        match message {
            ClientMessage::ConnectionInit { payload } => {
                self.on_init(payload, sink, init_deadline).await
            }
            ClientMessage::Start { id, payload } => self.on_subscribe(id, payload, sink).await,
            ClientMessage::Stop { id } => {
                let known = self.operations.remove(&id).is_some();
                match self.protocol {
                    Protocol::Legacy if known => {
                        self.send(sink, json!({"id": id, "type": "complete"})).await
                    }
                    _ => Flow::Continue,
                }
            }
            ClientMessage::ConnectionTerminate => Flow::Gone,
            ClientMessage::Ping { .. } => self.send(sink, json!({"type": "pong"})).await,
            ClientMessage::Pong { .. } => Flow::Continue,
        }
    }

    async fn on_init(
        &mut self,
        payload: Option<Value>,
        sink: &mut Sink,
        init_deadline: Instant,
    ) -> Flow {
        if self.session.is_some() {
            return Flow::Close(4429, "Too many initialisation requests".into());
        }
        let request = InitRequest {
            headers: self.headers.clone(),
            payload: payload.unwrap_or_else(|| json!({})),
        };
        let decided =
            tokio::time::timeout_at(init_deadline, on_connection_init(&self.settings, request));
        match decided.await {
            Ok(Ok(data)) => {
                self.session = Some(Arc::new(data));
                self.send(sink, json!({"type": "connection_ack"})).await
            }
            Ok(Err(refused)) => self.refuse(sink, refused.0).await,
            Err(_) => Flow::Close(4408, "Connection initialisation timeout".into()),
        }
    }

    async fn refuse(&mut self, sink: &mut Sink, message: String) -> Flow {
        if self.protocol == Protocol::Legacy {
            let error = json!({"type": "connection_error", "payload": {"message": message}});
            if let Flow::Gone = self.send(sink, error).await {
                return Flow::Gone;
            }
        }
        Flow::Close(4403, format!("Forbidden: {message}"))
    }

    async fn on_subscribe(
        &mut self,
        id: String,
        request: async_graphql::Request,
        sink: &mut Sink,
    ) -> Flow {
        let Some(session) = self.session.clone() else {
            return match self.protocol {
                Protocol::TransportWs => Flow::Close(4401, "Unauthorized".into()),
                Protocol::Legacy => {
                    self.operation_error(sink, &id, "connection_init first")
                        .await
                }
            };
        };
        if self.operations.contains_key(&id) {
            return match self.protocol {
                Protocol::TransportWs => {
                    Flow::Close(4409, format!("Subscriber for {id} already exists"))
                }
                Protocol::Legacy => self.operation_error(sink, &id, "id already in use").await,
            };
        }
        if self.operations.len() >= self.settings.max_subscriptions {
            let message = format!(
                "at most {} subscriptions per connection",
                self.settings.max_subscriptions
            );
            return self.operation_error(sink, &id, &message).await;
        }
        let responses = hooks::subscribe(&self.schema, request, session)
            .enumerate()
            .map(|(n, response)| Out::Response(Box::new(response), n == 0))
            .chain(futures::stream::once(ready(Out::Done)));
        self.operations.insert(id, responses.boxed());
        Flow::Continue
    }

    async fn operation_error(&mut self, sink: &mut Sink, id: &str, message: &str) -> Flow {
        let error = json!({"message": message, "extensions": {"code": "BAD_REQUEST"}});
        let payload = match self.protocol {
            Protocol::TransportWs => json!([error]),
            Protocol::Legacy => error,
        };
        let message = json!({"id": id, "type": "error", "payload": payload});
        self.send(sink, message).await
    }

    async fn on_output(&mut self, sink: &mut Sink, id: String, out: Out) -> Flow {
        let response = match out {
            Out::Done => return self.send(sink, json!({"id": id, "type": "complete"})).await,
            Out::Response(response, first) => (error::with_codes(*response), first),
        };
        let (response, first) = response;
        let refused = first && response.data == async_graphql::Value::Null;
        let message = match self.protocol {
            // graphql-transport-ws: errors before execution are an `error`
            // message, which also ends the operation (no `complete`).
            Protocol::TransportWs if refused && response.is_err() => {
                self.operations.remove(&id);
                json!({"id": id, "type": "error", "payload": response.errors})
            }
            Protocol::TransportWs => json!({"id": id, "type": "next", "payload": response}),
            Protocol::Legacy => json!({"id": id, "type": "data", "payload": response}),
        };
        self.send(sink, message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offering(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_protocol_is_the_one_offered_preferring_graphql_transport_ws() {
        let offered = |v: &str| Protocol::offered(&offering(v));
        assert_eq!(offered("graphql-ws"), Some(Protocol::Legacy));
        assert_eq!(offered("graphql-transport-ws"), Some(Protocol::TransportWs));
        assert_eq!(
            offered("graphql-ws, graphql-transport-ws"),
            Some(Protocol::TransportWs)
        );
        assert_eq!(offered("mqtt"), None);
        assert_eq!(Protocol::offered(&HeaderMap::new()), None);
    }

    #[test]
    fn kept_headers_are_copies_that_keep_every_value_and_its_sensitivity() {
        // Values sharing one buffer, as hyper parses them.
        let buffer = bytes::Bytes::from_static(b"cgk_secret-keyhttps://board.example");
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_maybe_shared(buffer.slice(0..14)).unwrap();
        key.set_sensitive(true);
        headers.insert("x-api-key", key);
        let origin = HeaderValue::from_maybe_shared(buffer.slice(14..)).unwrap();
        headers.append(header::ORIGIN, origin);

        let kept = owned(&headers);

        assert_eq!(kept, headers);
        assert!(kept["x-api-key"].is_sensitive());
        assert!(!kept[header::ORIGIN].is_sensitive());
        let start = buffer.as_ptr() as usize..buffer.as_ptr() as usize + buffer.len();
        for value in kept.values() {
            assert!(!start.contains(&(value.as_bytes().as_ptr() as usize)));
        }
    }

    #[tokio::test]
    async fn the_default_hook_grants_full_access() {
        let request = InitRequest {
            headers: HeaderMap::new(),
            payload: json!({"authorization": "ignored"}),
        };
        let data = on_connection_init(&WsSettings::default(), request)
            .await
            .unwrap();
        assert!(data.get(&std::any::TypeId::of::<Access>()).is_some());
    }
}
