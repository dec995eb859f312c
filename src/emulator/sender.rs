//! The emulated CPO's sender interface over its ground truth: OCPI version
//! discovery and the Locations, Sessions, CDRs and Tariffs GETs (2.1.1 and
//! 2.2.1 shapes), and GreenFlux's pull API (`/api/2.0/...`).

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::model::{GroundTruth, OcpiVersion, SessionStatus};
use super::page::{Page, Query, NOTIFICATION_MIN_LIMIT};
use super::{shape, Emulator};
use crate::ocpi::{auth, Envelope};

/// The modules the sender interface serves, in version details order.
const MODULES: &[&str] = &["locations", "sessions", "cdrs", "tariffs"];

/// Why a pull was refused. Each variant names its HTTP and OCPI status.
#[derive(Debug, thiserror::Error)]
enum PullError {
    /// 401 / 2000: missing or wrong pull token.
    #[error("{0}")]
    Unauthorized(String),
    /// 404 / 2000: no endpoint at this URL.
    #[error("no endpoint at this URL")]
    NotFound,
    /// 404 / 2003: the location, EVSE or connector is unknown.
    #[error("{0}")]
    UnknownObject(String),
    /// 200 / 2001: a parameter is missing or invalid.
    #[error("{0}")]
    Invalid(String),
    /// 405 / 2000: only GET is served.
    #[error("only GET is supported by the sender interface")]
    MethodNotAllowed,
}

impl IntoResponse for PullError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            PullError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, 2000),
            PullError::NotFound => (StatusCode::NOT_FOUND, 2000),
            PullError::UnknownObject(_) => (StatusCode::NOT_FOUND, 2003),
            PullError::Invalid(_) => (StatusCode::OK, 2001),
            PullError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, 2000),
        };
        let mut response =
            (status, Json(Envelope::new(code, None, self.to_string()))).into_response();
        if matches!(self, PullError::MethodNotAllowed) {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        response
    }
}

impl From<super::QueryError> for PullError {
    fn from(err: super::QueryError) -> Self {
        PullError::Invalid(err.0)
    }
}

/// The sender routes; every other URL gets a 404 envelope.
pub(super) fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/ocpi", any(answer))
        .route("/ocpi/{*rest}", any(answer))
        .route("/api/{*rest}", any(answer))
        .fallback(|| async { PullError::NotFound.into_response() })
        .with_state(emulator)
}

async fn answer(
    State(emulator): State<Emulator>,
    method: Method,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let span = tracing::debug_span!("emulator.pull", http.path = %original.path());
    span.in_scope(
        || match pull(&emulator, &method, &original, &uri, &headers) {
            Ok(response) => response,
            Err(err) => {
                tracing::debug!(error = %err, "pull refused");
                err.into_response()
            }
        },
    )
}

/// What every answer of one request needs.
struct Ctx {
    /// `http://host` plus the path this router is nested under.
    base: String,
    /// The full URL of this request, without its query (for Link).
    url: String,
    query: Query,
    page_limit: usize,
}

fn pull(
    emulator: &Emulator,
    method: &Method,
    original: &Uri,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, PullError> {
    authorize(headers, &emulator.config().pull_token)?;
    if method != Method::GET {
        return Err(PullError::MethodNotAllowed);
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let prefix = original.path().strip_suffix(uri.path()).unwrap_or_default();
    let ctx = Ctx {
        base: format!("http://{host}{prefix}"),
        url: format!("http://{host}{}", original.path()),
        query: Query::parse(uri.query())?,
        page_limit: emulator.config().page_limit,
    };
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let truth = emulator.read();
    match segments.as_slice() {
        ["ocpi", "versions"] => Ok(object(versions(&ctx))),
        ["ocpi", version] => Ok(object(details(&ctx, parse_version(version)?))),
        ["ocpi", version, module, ids @ ..] => {
            ocpi(&truth, &ctx, parse_version(version)?, module, ids)
        }
        ["api", "2.0", module, ids @ ..] => greenflux(&truth, &ctx, module, ids),
        _ => Err(PullError::NotFound),
    }
}

/// `Authorization: Token <pull token>`, raw or base64-encoded (OCPI 2.2.1
/// encodes it, 2.1.1 peers do not).
fn authorize(headers: &HeaderMap, expected: &str) -> Result<(), PullError> {
    let token = auth::credentials(headers).map_err(|e| PullError::Unauthorized(e.to_string()))?;
    let matches = token == expected
        || auth::decodings(token)
            .iter()
            .any(|(_, decoded)| decoded == expected);
    if expected.is_empty() || !matches {
        return Err(PullError::Unauthorized("unknown token".into()));
    }
    Ok(())
}

fn parse_version(version: &str) -> Result<OcpiVersion, PullError> {
    OcpiVersion::parse(version).ok_or(PullError::NotFound)
}

fn versions(ctx: &Ctx) -> Value {
    let list: Vec<Value> = [OcpiVersion::V211, OcpiVersion::V221]
        .iter()
        .map(|v| json!({"version": v.as_str(), "url": format!("{}/ocpi/{}", ctx.base, v.as_str())}))
        .collect();
    Value::Array(list)
}

/// OCPI version details; 2.2.1 endpoints carry their role (a11).
fn details(ctx: &Ctx, version: OcpiVersion) -> Value {
    let endpoints: Vec<Value> = MODULES
        .iter()
        .map(|module| {
            let url = format!("{}/ocpi/{}/{module}", ctx.base, version.as_str());
            match version {
                OcpiVersion::V211 => json!({"identifier": module, "url": url}),
                OcpiVersion::V221 => json!({"identifier": module, "role": "SENDER", "url": url}),
            }
        })
        .collect();
    json!({"version": version.as_str(), "endpoints": endpoints})
}

fn ocpi(
    truth: &GroundTruth,
    ctx: &Ctx,
    v: OcpiVersion,
    module: &str,
    ids: &[&str],
) -> Result<Response, PullError> {
    let party = &truth.party;
    match (module, ids) {
        ("locations", []) => Ok(list(ctx, ctx.page_limit, locations(truth), |l| {
            shape::location(party, l, v)
        })),
        ("locations", [id, rest @ ..]) => location_part(truth, v, id, rest),
        ("sessions", []) => {
            ctx.query.require_date_from()?;
            let items = truth
                .sessions
                .iter()
                .map(|s| (s.last_updated, s.id.clone(), s))
                .collect();
            Ok(list(ctx, ctx.page_limit, items, |s| {
                shape::session(party, s, truth.location(&s.location_id), v)
            }))
        }
        ("cdrs", []) => Ok(list(ctx, ctx.page_limit, cdrs(truth), |c| {
            shape::cdr(
                party,
                c,
                truth.location(&c.location_id),
                truth.tariff(&c.tariff_id),
                v,
            )
        })),
        ("tariffs", []) => {
            let items = truth
                .tariffs
                .iter()
                .map(|t| (t.last_updated, t.id.clone(), t))
                .collect();
            Ok(list(ctx, ctx.page_limit, items, |t| {
                shape::tariff(party, t, v)
            }))
        }
        _ => Err(PullError::NotFound),
    }
}

/// A location, one of its EVSEs or one of their connectors.
fn location_part(
    truth: &GroundTruth,
    v: OcpiVersion,
    id: &str,
    rest: &[&str],
) -> Result<Response, PullError> {
    let location = truth
        .location(id)
        .ok_or_else(|| PullError::UnknownObject(format!("unknown location {id:?}")))?;
    let Some(uid) = rest.first() else {
        return Ok(object(shape::location(&truth.party, location, v)));
    };
    let evse = location.evse(uid).ok_or_else(|| {
        PullError::UnknownObject(format!("unknown EVSE {uid:?} at location {id:?}"))
    })?;
    match rest {
        [_] => Ok(object(shape::evse(evse, v))),
        [_, connector_id] => evse
            .connectors
            .iter()
            .find(|c| c.id == *connector_id)
            .map(|c| object(shape::connector(c, v)))
            .ok_or_else(|| {
                PullError::UnknownObject(format!(
                    "unknown connector {connector_id:?} of EVSE {uid:?}"
                ))
            }),
        _ => Err(PullError::NotFound),
    }
}

/// GreenFlux's pull API: 2.1.1 shapes; sessions only once COMPLETED and as
/// aggregates; notifications only in windows of at most 72 hours.
fn greenflux(
    truth: &GroundTruth,
    ctx: &Ctx,
    module: &str,
    ids: &[&str],
) -> Result<Response, PullError> {
    let (party, v) = (&truth.party, OcpiVersion::V211);
    match (module, ids) {
        ("locations", []) => Ok(list(ctx, ctx.page_limit, locations(truth), |l| {
            shape::location(party, l, v)
        })),
        ("locations", [id]) => location_part(truth, v, id, &[]),
        ("cdrs", []) => Ok(list(ctx, ctx.page_limit, cdrs(truth), |c| {
            shape::cdr(
                party,
                c,
                truth.location(&c.location_id),
                truth.tariff(&c.tariff_id),
                v,
            )
        })),
        ("sessions", []) => {
            let items = truth
                .sessions
                .iter()
                .filter(|s| s.status == SessionStatus::Completed)
                .map(|s| (s.last_updated, s.id.clone(), s))
                .collect();
            Ok(list(ctx, ctx.page_limit, items, |s| {
                let mut body = shape::session(party, s, truth.location(&s.location_id), v);
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("charging_periods");
                }
                body
            }))
        }
        ("notifications", []) => {
            ctx.query.check_notification_window()?;
            let items = truth
                .notifications
                .iter()
                .map(|n| (n.created, n.id.clone(), n))
                .collect();
            let max = ctx.page_limit.max(NOTIFICATION_MIN_LIMIT);
            Ok(list(ctx, max, items, shape::notification))
        }
        _ => Err(PullError::NotFound),
    }
}

type Stamped<'a, T> = Vec<(DateTime<Utc>, String, &'a T)>;

fn locations(truth: &GroundTruth) -> Stamped<'_, super::Location> {
    truth
        .locations
        .iter()
        .map(|l| (l.last_updated, l.id.clone(), l))
        .collect()
}

fn cdrs(truth: &GroundTruth) -> Stamped<'_, super::Cdr> {
    truth
        .cdrs
        .iter()
        .map(|c| (c.last_updated, c.id.clone(), c))
        .collect()
}

/// A paginated list answer: the page's objects, X-Total-Count, X-Limit and
/// a Link to the next page unless this is the last.
fn list<'a, T>(
    ctx: &Ctx,
    max: usize,
    items: Stamped<'a, T>,
    render: impl Fn(&'a T) -> Value,
) -> Response {
    let page = Page::select(items, &ctx.query, max);
    let link = page.link(&ctx.url, &ctx.query);
    let total = page.total;
    let data: Vec<Value> = page.items.into_iter().map(render).collect();
    let mut response = object(Value::Array(data));
    let headers = response.headers_mut();
    headers.insert("X-Total-Count", HeaderValue::from(total));
    headers.insert("X-Limit", HeaderValue::from(max));
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LINK, link);
    }
    response
}

fn object(data: Value) -> Response {
    Json(Envelope::success(Some(data), "Success")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pull_token_is_accepted_raw_or_base64_encoded() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            authorize(&headers, "example-token").is_ok()
        };
        assert!(with("Token example-token"));
        assert!(with("token ZXhhbXBsZS10b2tlbg=="));
        assert!(!with("Token other"));
        assert!(!with("Bearer example-token"));
        assert!(authorize(&HeaderMap::new(), "example-token").is_err());
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Token ".parse().unwrap());
        assert!(
            authorize(&headers, "").is_err(),
            "no pull token: nobody pulls"
        );
    }
}
