//! The receiver: one handler for everything under `/ocpi/`, reading the path
//! and the body by hand so that no axum default answer leaks to a CPO.

use axum::body::{to_bytes, Body};
use axum::extract::State;
use std::time::{Duration, Instant};

use axum::http::{header, Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use tracing::{debug, error, warn, Instrument};

use super::auth::{self, Caller};
use super::path::{self, Module, Target, VERSIONS};
use super::{Envelope, OcpiError};
use crate::domain::Timestamp;
use crate::events::Events;
use crate::ingest::{self, Answered, Applied, IngestError, Push, Source};
use crate::limits::{self, RateLimits};
use crate::shutdown::Shutdown;
use crate::store::inbox::{self, InboxRow};
use crate::store::reconcile::HealQueue;
use crate::store::tokens::{self, UsageThrottle};
use crate::store::{cdrs, locations, notifications, sessions, tariffs, Store};
use crate::telemetry::metrics::{Metrics, PushLabels};

/// What the receiver needs from the application.
#[derive(Clone)]
pub struct Receiver {
    /// The database.
    pub store: Store,
    /// Wakes the outbox reader after a commit.
    pub events: Events,
    /// The largest body accepted, in bytes.
    pub body_limit: usize,
    /// Our public base URL (for the CDR Location header); the Host header when unset.
    pub public_url: Option<String>,
    /// Counts every answer.
    pub metrics: Metrics,
    /// Limits callers whose credentials fail (never an authenticated CPO).
    pub limits: RateLimits,
    /// Once it begins, pushes not yet being applied are answered 503.
    pub shutdown: Shutdown,
    /// Longest wait for a request body.
    pub body_timeout: Duration,
    /// Throttles `last_used_at` writes of push tokens.
    pub token_usage: UsageThrottle,
    /// Where a push that names a location we do not have queues its pull.
    pub heal: HealQueue,
}

/// The routes under `/ocpi`, and the answer to every URL no route takes: a
/// path that reaches `/ocpi` only through doubled slashes (a peer's base URL
/// ending in `/`) is the receiver's too, anything else a 404 envelope.
pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/ocpi", any(receive))
        .route("/ocpi/", any(receive))
        .route("/ocpi/{*rest}", any(receive))
        .fallback(receive_or_not_found)
        .with_state(receiver)
}

async fn receive_or_not_found(
    state: State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let rest = uri.path().trim_start_matches('/');
    if rest == "ocpi" || rest.starts_with("ocpi/") {
        return receive(state, method, uri, headers, extensions, body).await;
    }
    let envelope = Envelope::new(2000, None, "no endpoint at this URL");
    (StatusCode::NOT_FOUND, axum::Json(envelope)).into_response()
}

/// Request facts every answer needs.
struct Exchange {
    client_ip: std::net::IpAddr,
    request_id: String,
    correlation_id: String,
    headers: HeaderMap,
    method: Method,
    path: String,
    received_at: Timestamp,
}

async fn receive(
    State(receiver): State<Receiver>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let started = Instant::now();
    let client_ip = limits::client_ip(&extensions);
    let exchange = Exchange {
        request_id: header_or_new(&headers, "x-request-id"),
        correlation_id: header_or_new(&headers, "x-correlation-id"),
        headers,
        method,
        path: uri.path().to_owned(),
        received_at: Timestamp::now(),
        client_ip,
    };
    let span = tracing::info_span!(
        "ocpi.push",
        http.method = %exchange.method,
        http.path = %exchange.path,
        request_id = %exchange.request_id,
        correlation_id = %exchange.correlation_id,
        ocpi.module = tracing::field::Empty,
        ocpi.country_code = tracing::field::Empty,
        ocpi.party_id = tracing::field::Empty,
        location.id = tracing::field::Empty,
        evse.uid = tracing::field::Empty,
        session.id = tracing::field::Empty,
        cdr.id = tracing::field::Empty,
        token.form = tracing::field::Empty,
    );
    async move {
        let (status, envelope, extra) = match handle(&receiver, &exchange, body).await {
            Ok(answer) => answer,
            Err(err) => {
                log_error(&err);
                (
                    err.http_status(),
                    err.envelope(),
                    err.allow_header().map(|v| (header::ALLOW, v)),
                )
            }
        };
        count(&receiver, &exchange, status, &envelope, started);
        respond(&exchange, status, envelope, extra)
    }
    .instrument(span)
    .await
}

/// Counts a push's answer: module, version, outcome and status codes.
fn count(
    receiver: &Receiver,
    ex: &Exchange,
    status: StatusCode,
    envelope: &Envelope,
    started: Instant,
) {
    if ex.method == Method::GET {
        return;
    }
    let (module, version) = match Target::parse(&ex.method, &ex.path) {
        Ok(Target::Object {
            module, version, ..
        }) => (module.name(), version),
        _ => ("unknown", "unknown"),
    };
    let outcome = match (status, envelope.status_code) {
        (StatusCode::CREATED, 1000) => "created",
        (_, 1000) if envelope.status_message.starts_with("not applied") => "unchanged",
        (_, 1000) => "updated",
        (StatusCode::UNAUTHORIZED, _) => "unauthorized",
        (StatusCode::TOO_MANY_REQUESTS, _) => "rate_limited",
        (StatusCode::PAYLOAD_TOO_LARGE, _) => "too_large",
        (StatusCode::REQUEST_TIMEOUT, _) => "timed_out",
        (StatusCode::SERVICE_UNAVAILABLE, _) => "unavailable",
        (StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED, 2000) => "no_route",
        (s, _) if s.is_server_error() => "error",
        _ => "rejected",
    };
    let labels = PushLabels {
        module,
        version,
        outcome,
        http_status: status.as_u16(),
        status_code: envelope.status_code,
    };
    receiver.metrics.push_answered(labels, started.elapsed());
}

type Answer = (StatusCode, Envelope, Option<(HeaderName, HeaderValue)>);

async fn handle(receiver: &Receiver, ex: &Exchange, body: Body) -> Result<Answer, OcpiError> {
    let target = Target::parse(&ex.method, &ex.path);
    // Authenticate before anything is written: a caller without valid
    // credentials is limited and, where the URL names no endpoint, leaves no
    // inbox row (DESIGN.md: nobody fills the database without a token).
    let caller = match auth::authenticate(&receiver.store, &ex.headers).await {
        Ok(caller) => caller,
        Err(err @ OcpiError::Unauthorized(_)) => {
            if !receiver.limits.allow_anonymous(ex.client_ip) {
                receiver.metrics.rate_limited("ocpi");
                return Err(OcpiError::RateLimited);
            }
            if let Ok(target) = &target {
                record(receiver, ex, Some(target), None, &err, None).await;
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let target = match target {
        Ok(target) => target,
        Err(err) => {
            record(receiver, ex, None, Some(&caller), &err, None).await;
            return Err(err);
        }
    };
    note_token_use(receiver, caller.token_pk);
    let read = read_body(body, &ex.headers, receiver.body_limit);
    let read = match tokio::time::timeout(receiver.body_timeout, read).await {
        Ok(read) => read,
        Err(_) => Err(OcpiError::TimedOut(receiver.body_timeout.as_millis() as u64)),
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(err) => {
            record(receiver, ex, Some(&target), Some(&caller), &err, None).await;
            return Err(err);
        }
    };
    match target {
        Target::Versions => Ok(ok(versions(receiver, ex))),
        Target::VersionDetails(version) => Ok(ok(version_details(receiver, ex, version))),
        Target::Object { module, ids, .. } if ex.method == Method::GET => {
            check_url_ids(module, &ids)?;
            let data = get_object(receiver, &caller, module, &ids).await?;
            Ok(ok(Envelope::success(Some(data), "ok")))
        }
        Target::Object {
            version,
            module,
            ids,
        } => push(receiver, ex, caller, version, module, ids, bytes).await,
    }
}

/// The names of a module's URL id segments, for messages.
fn segment_names(module: Module) -> &'static [&'static str] {
    match module {
        Module::Locations => &[
            "country_code",
            "party_id",
            "location_id",
            "evse_uid",
            "connector_id",
        ],
        Module::Sessions => &["country_code", "party_id", "session_id"],
        Module::Cdrs => &["country_code", "party_id", "cdr_id"],
        Module::Tariffs => &["country_code", "party_id", "tariff_id"],
        Module::Notifications => &["notification_id"],
    }
}

/// Refuses URL ids with control characters (OCPI CiString is printable
/// ASCII; PostgreSQL text cannot hold NUL at all): 2001, naming the segment.
fn check_url_ids(module: Module, ids: &[String]) -> Result<(), OcpiError> {
    let names = segment_names(module);
    for (i, id) in ids.iter().enumerate() {
        if id.chars().any(char::is_control) {
            let name = names.get(i).copied().unwrap_or("id");
            return Err(OcpiError::Invalid(format!(
                "url.{name}: control characters are not allowed in an id (found {})",
                id.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Puts the pushed object's ids on the request span (STYLE.md field names).
fn record_object_ids(span: &tracing::Span, module: Module, ids: &[String], body: &Value) {
    let id = ids.get(2).map(String::as_str);
    match module {
        Module::Locations => {
            if let Some(id) = id {
                span.record("location.id", id);
            }
            if let Some(uid) = ids.get(3) {
                span.record("evse.uid", uid.as_str());
            }
        }
        Module::Sessions => {
            if let Some(id) = id {
                span.record("session.id", id);
            }
        }
        Module::Cdrs => {
            if let Some(id) = id.or(body.get("id").and_then(Value::as_str)) {
                span.record("cdr.id", id);
            }
        }
        Module::Tariffs | Module::Notifications => {}
    }
}

/// Writes the token's last use down, at most once a minute, off the request path.
fn note_token_use(receiver: &Receiver, token_pk: i64) {
    if !receiver.token_usage.due(token_pk) {
        return;
    }
    let store = receiver.store.clone();
    // In the request's span, so that its log lines carry the X-Request-ID.
    let write = async move {
        match tokens::touch(&store, token_pk).await {
            Ok(()) => debug!(token.id = token_pk, "push token use recorded"),
            Err(err) => warn!(token.id = token_pk, error = %err, "cannot record push token use"),
        }
    };
    tokio::spawn(write.instrument(tracing::Span::current()));
}

fn ok(envelope: Envelope) -> Answer {
    (StatusCode::OK, envelope, None)
}

async fn push(
    receiver: &Receiver,
    ex: &Exchange,
    caller: Caller,
    version: &'static str,
    module: Module,
    ids: Vec<String>,
    bytes: bytes::Bytes,
) -> Result<Answer, OcpiError> {
    let raw_body = String::from_utf8_lossy(&bytes).into_owned();
    let target = Target::Object {
        version,
        module,
        ids: ids.clone(),
    };
    let body = check_url_ids(module, &ids).and_then(|()| push_body(&ex.method, &bytes));
    let body = match body {
        Ok(body) => body,
        Err(err) => {
            record(
                receiver,
                ex,
                Some(&target),
                Some(&caller),
                &err,
                Some(raw_body),
            )
            .await;
            return Err(err);
        }
    };
    let span = tracing::Span::current();
    if let (Some(cc), Some(party)) = (ids.first(), ids.get(1)) {
        if module != Module::Notifications {
            span.record("ocpi.country_code", cc.as_str());
            span.record("ocpi.party_id", party.as_str());
        }
    }
    span.record("ocpi.module", module.name());
    record_object_ids(&span, module, &ids, &body);
    let push = Push {
        source: Source::Push,
        method: ex.method.clone(),
        version,
        module,
        ids,
        body,
        raw_body,
        caller,
        received_at: ex.received_at,
        path: ex.path.clone(),
        request_id: Some(ex.request_id.clone()),
    };
    // Once the shutdown began, a push not yet being applied is refused whole
    // (and kept in the inbox for replay); one already applying commits.
    if receiver.shutdown.is_draining() {
        let err = OcpiError::Unavailable;
        let answer = Answered {
            outcome: err.outcome(),
            message: err.to_string(),
            http_status: err.http_status().as_u16(),
            status_code: err.status_code(),
        };
        if let Err(store_err) = ingest::record_unapplied(&receiver.store, &push, answer).await {
            error!(error = %store_err, "cannot record refused push in the inbox");
        }
        return Err(err);
    }
    let applied = apply_push(&receiver.store, &receiver.events, &push).await;
    queue_heal(receiver, &push, &applied).await;
    Ok(accepted(receiver, ex, version, applied?))
}

/// A push that named a location we do not have (an EVSE or connector
/// PATCH or PUT answered 2003, a session or CDR whose location was never
/// pushed) queues a targeted pull of it, when pulling is set up for its
/// party (DESIGN.md, receiver policies).
async fn queue_heal(receiver: &Receiver, push: &Push, applied: &Result<Applied, OcpiError>) {
    let missing = match applied {
        Err(OcpiError::UnknownLocation(_)) if push.module == Module::Locations => {
            match push.ids.as_slice() {
                [cc, party, id, ..] => Some((cc.clone(), party.clone(), id.clone())),
                _ => None,
            }
        }
        Ok(applied) => applied.unknown_location.clone(),
        Err(_) => None,
    };
    let Some((cc, party, id)) = missing else {
        return;
    };
    match receiver
        .heal
        .request(&receiver.store, &cc, &party, &id)
        .await
    {
        Ok(true) => debug!(location.id = %id, "targeted pull of the location queued"),
        Ok(false) => {}
        Err(err) => error!(error = %err, "cannot queue the targeted pull of a location"),
    }
}

/// Applies a push through ingest. A push that is not applied is recorded in
/// the inbox with the answer it gets, in a transaction of its own (the
/// push's rolled back); for our own failure the row keeps the cause.
pub(crate) async fn apply_push(
    store: &Store,
    events: &Events,
    push: &Push,
) -> Result<Applied, OcpiError> {
    let err = match ingest::apply(store, events, push).await {
        Ok(applied) => return Ok(applied),
        Err(err) => to_ocpi(err),
    };
    let message = match &err {
        OcpiError::Internal(cause) => format!("internal error: {cause}"),
        other => other.to_string(),
    };
    let answer = Answered {
        outcome: err.outcome(),
        message,
        http_status: err.http_status().as_u16(),
        status_code: err.status_code(),
    };
    if let Err(store_err) = ingest::record_unapplied(store, push, answer).await {
        error!(error = %store_err, "cannot record the unapplied push in the inbox");
    }
    Err(err)
}

fn accepted(receiver: &Receiver, ex: &Exchange, version: &str, applied: Applied) -> Answer {
    debug!(status_message = %applied.message, created = applied.created, "push applied");
    let status = if applied.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = applied.cdr_key.as_ref().and_then(|(cc, party, id)| {
        let url = format!(
            "{}/ocpi/{version}/cdrs/{}/{}/{}",
            base_url(receiver, ex),
            encode(cc),
            encode(party),
            encode(id)
        );
        HeaderValue::from_str(&url)
            .ok()
            .map(|v| (header::LOCATION, v))
    });
    (status, Envelope::success(None, applied.message), location)
}

fn to_ocpi(err: IngestError) -> OcpiError {
    match err {
        IngestError::Invalid(m) => OcpiError::Invalid(m),
        IngestError::UnknownLocation(m) => OcpiError::UnknownLocation(m),
        IngestError::ForeignParty(m) => OcpiError::ForeignParty(m),
        IngestError::Store(e) => OcpiError::Internal(e.to_string()),
    }
}

/// The body a push is applied with. OCPI DELETE carries none; whatever was
/// sent is kept raw in the inbox.
pub(crate) fn push_body(method: &Method, bytes: &[u8]) -> Result<Value, OcpiError> {
    if method == Method::DELETE {
        Ok(Value::Object(serde_json::Map::new()))
    } else {
        parse_body(bytes)
    }
}

/// Not JSON or empty is 400/2000; JSON that is not an object is 2001.
fn parse_body(bytes: &[u8]) -> Result<Value, OcpiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(OcpiError::BadJson(
            "request body is empty; expected a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| OcpiError::BadJson(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(OcpiError::Invalid("$: expected a JSON object".into()));
    }
    Ok(value)
}

/// Reads the body whole up to the limit; a declared length over it is refused
/// before anything is read.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, OcpiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(OcpiError::TooLarge(limit));
    }
    to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            OcpiError::TooLarge(limit)
        } else {
            OcpiError::BadJson(format!("cannot read the request body: {e}"))
        }
    })
}

async fn get_object(
    receiver: &Receiver,
    caller: &Caller,
    module: Module,
    ids: &[String],
) -> Result<Value, OcpiError> {
    let db = receiver.store.db();
    let missing = || OcpiError::NotFound(format!("nothing stored at {}", ids.join("/")));
    if module == Module::Notifications {
        let party = caller.default_party().ok_or_else(missing)?;
        let row = notifications::find(db, &party.country_code, &party.party_id, &ids[0]).await?;
        return row.map(|m| raw_value(&m.raw)).ok_or_else(missing);
    }
    let (cc, party, id) = (&ids[0], &ids[1], &ids[2]);
    if !caller.may_write(cc, party) {
        return Err(OcpiError::ForeignParty(format!(
            "party {cc}/{party} is not readable with this token"
        )));
    }
    match module {
        Module::Locations => get_location(receiver, ids).await?.ok_or_else(missing),
        Module::Sessions => {
            let Some(model) = sessions::find(db, cc, party, id).await? else {
                return Err(missing());
            };
            let mut value = raw_value(&model.raw);
            let periods = sessions::periods(db, model.id).await?;
            let periods: Vec<Value> = periods
                .iter()
                .map(|p| {
                    let mut period = json!({
                        "start_date_time": Timestamp::from_datetime(p.start_date_time).to_string(),
                        "dimensions": raw_value(&p.dimensions),
                    });
                    if let Some(tariff_id) = &p.tariff_id {
                        period["tariff_id"] = json!(tariff_id);
                    }
                    period
                })
                .collect();
            value["charging_periods"] = Value::Array(periods);
            Ok(value)
        }
        Module::Cdrs => cdrs::find(db, cc, party, id)
            .await?
            .map(|m| raw_value(&m.raw))
            .ok_or_else(missing),
        Module::Tariffs => tariffs::find(db, cc, party, id)
            .await?
            .filter(|m| m.deleted_at.is_none())
            .map(|m| raw_value(&m.raw))
            .ok_or_else(missing),
        Module::Notifications => Err(missing()),
    }
}

async fn get_location(receiver: &Receiver, ids: &[String]) -> Result<Option<Value>, OcpiError> {
    let db = receiver.store.db();
    let Some(location) = locations::find(db, &ids[0], &ids[1], &ids[2]).await? else {
        return Ok(None);
    };
    let Some(uid) = ids.get(3) else {
        return Ok(Some(locations::tree(db, &location).await?));
    };
    let Some(evse) = locations::find_evse(db, location.id, uid).await? else {
        return Ok(None);
    };
    let Some(connector_id) = ids.get(4) else {
        return Ok(Some(locations::evse_tree(db, &evse).await?));
    };
    let connector = locations::find_connector(db, evse.id, connector_id).await?;
    Ok(connector.map(|c| raw_value(&c.raw)))
}

fn raw_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or(Value::Null)
}

fn versions(receiver: &Receiver, ex: &Exchange) -> Envelope {
    let base = base_url(receiver, ex);
    let list: Vec<Value> = VERSIONS
        .iter()
        .map(|v| json!({"version": v, "url": format!("{base}/ocpi/{v}")}))
        .collect();
    Envelope::success(Some(Value::Array(list)), "ok")
}

fn version_details(receiver: &Receiver, ex: &Exchange, version: &str) -> Envelope {
    let base = base_url(receiver, ex);
    let modules = [
        Module::Locations,
        Module::Sessions,
        Module::Cdrs,
        Module::Tariffs,
        Module::Notifications,
    ];
    let endpoints: Vec<Value> = modules
        .iter()
        .map(|m| {
            let url = format!("{base}/ocpi/{version}/{}", m.name());
            if version == "2.1.1" {
                json!({"identifier": m.name(), "url": url})
            } else {
                json!({"identifier": m.name(), "role": "RECEIVER", "url": url})
            }
        })
        .collect();
    let data = json!({"version": version, "endpoints": endpoints});
    Envelope::success(Some(data), "ok")
}

fn base_url(receiver: &Receiver, ex: &Exchange) -> String {
    if let Some(url) = &receiver.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = ex
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

fn header_or_new(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Echoes the request ids and, under a functional module, swaps the 2.2.1
/// routing headers (OCPI 2.2.1 transport_and_format: the answer's FROM is
/// the request's TO; versions and version details carry none).
fn respond(
    ex: &Exchange,
    status: StatusCode,
    envelope: Envelope,
    extra: Option<(HeaderName, HeaderValue)>,
) -> Response {
    let mut response = (status, axum::Json(envelope)).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-request-id", &ex.request_id),
        ("x-correlation-id", &ex.correlation_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let routing = if path::names_module(&ex.path) {
        ROUTING_SWAPS
    } else {
        &[]
    };
    for (from, to) in routing {
        if let Some(value) = ex.headers.get(*from) {
            headers.insert(*to, value.clone());
        }
    }
    if let Some((name, value)) = extra {
        headers.insert(name, value);
    }
    response
}

/// Each routing header of a request and the header it answers as.
const ROUTING_SWAPS: &[(&str, &str)] = &[
    ("ocpi-from-country-code", "ocpi-to-country-code"),
    ("ocpi-from-party-id", "ocpi-to-party-id"),
    ("ocpi-to-country-code", "ocpi-from-country-code"),
    ("ocpi-to-party-id", "ocpi-from-party-id"),
];

/// Writes the inbox row of a request refused before ingest.
async fn record(
    receiver: &Receiver,
    ex: &Exchange,
    target: Option<&Target>,
    caller: Option<&Caller>,
    err: &OcpiError,
    body: Option<String>,
) {
    if ex.method == Method::GET && err.http_status() != StatusCode::UNAUTHORIZED {
        return;
    }
    let (version, module, ids) = match target {
        Some(Target::Object {
            version,
            module,
            ids,
        }) => (
            Some(version.to_string()),
            Some(module.name().to_owned()),
            ids.clone(),
        ),
        _ => (None, None, Vec::new()),
    };
    let row = InboxRow {
        source: "push".into(),
        method: ex.method.to_string(),
        path: ex.path.clone(),
        version,
        module,
        country_code: ids.first().cloned(),
        party_id: ids.get(1).cloned(),
        object_id: ids.last().cloned(),
        token_pk: caller.map(|c| c.token_pk),
        request_id: Some(ex.request_id.clone()),
        http_status: err.http_status().as_u16(),
        status_code: err.status_code(),
        outcome: err.outcome().into(),
        message: err.to_string(),
        warnings: Vec::new(),
        body: body.filter(|_| err.keeps_body()),
        replay_of: None,
    };
    let written = async {
        let write = receiver.store.begin_write().await?;
        inbox::insert(&write.txn, ex.received_at, row).await?;
        write.commit().await
    };
    if let Err(store_err) = written.await {
        error!(error = %store_err, "cannot record refused request in the inbox");
    }
}

fn log_error(err: &OcpiError) {
    match err {
        OcpiError::Internal(cause) => error!(cause = %cause, "push failed"),
        other => warn!(status_code = other.status_code(), reason = %other, "push refused"),
    }
}
