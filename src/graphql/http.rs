//! GraphQL over HTTP (the GraphQL-over-HTTP draft spec): POST with a JSON
//! body, GET with URL parameters for queries only, and answers in
//! `application/graphql-response+json` (status codes by outcome) or
//! `application/json` (200 for every well-formed request), as the client
//! accepts. The `graphql-http` audit runs against this in tests/it.

use std::collections::HashMap;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, ServerResult, Variables};
use axum::body::Body;
use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::error::{self, code_of};
use super::{hooks, AppSchema};
use crate::domain::Access;

/// Largest GraphQL request body read, in bytes.
const MAX_BODY: usize = 1 << 20;

/// The official GraphQL response media type.
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// Code of a request that is not a well-formed GraphQL-over-HTTP request.
const BAD_REQUEST: &str = "BAD_REQUEST";

/// Code of a subscription sent over plain HTTP.
const OPERATION_NOT_SUPPORTED: &str = "OPERATION_NOT_SUPPORTED";

/// The media type of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// `application/graphql-response+json`: status codes follow the outcome.
    GraphqlResponse,
    /// `application/json`: 200 for every well-formed request.
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// The media type the `Accept` header prefers, `Json` when there is none,
/// `None` when it accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    if accept.trim().is_empty() {
        return Some(Media::Json);
    }
    let mut best: Option<(f32, Media)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let kind = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match kind.as_str() {
            GRAPHQL_RESPONSE_JSON => Media::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bm)) => q > bq || (q == bq && media == Media::GraphqlResponse && bm != media),
        };
        if better {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

/// How the request arrived, for the operation-type check.
#[derive(Debug, Clone)]
pub struct Transport {
    get: bool,
    operation_name: Option<String>,
}

fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

fn refused(message: &str, code: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    err
}

/// Refuses mutations and subscriptions sent with GET, and subscriptions sent
/// with POST (they are served over WebSocket on the same path).
pub fn check_method(transport: &Transport, doc: &ExecutableDocument) -> ServerResult<()> {
    match operation_type(doc, transport.operation_name.as_deref()) {
        Some(OperationType::Query) | None => Ok(()),
        Some(OperationType::Mutation) if transport.get => Err(refused(
            "a mutation must be sent with POST",
            error::METHOD_NOT_ALLOWED,
        )),
        Some(OperationType::Subscription) if transport.get => Err(refused(
            "subscriptions are served over WebSocket at /graphql",
            error::METHOD_NOT_ALLOWED,
        )),
        Some(OperationType::Subscription) => Err(refused(
            "subscriptions are served over WebSocket at /graphql",
            OPERATION_NOT_SUPPORTED,
        )),
        Some(OperationType::Mutation) => Ok(()),
    }
}

/// A request that cannot be executed, answered before GraphQL sees it.
fn malformed(status: StatusCode, media: Media, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": BAD_REQUEST } }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    response
}

/// The parts of a GraphQL-over-HTTP request.
#[derive(Debug, Default)]
struct Params {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn optional_map(value: Option<Value>, name: &str) -> Result<Option<Map<String, Value>>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(format!("`{name}` must be a map")),
    }
}

fn optional_string(value: Option<Value>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

impl Params {
    fn from_body(bytes: &[u8]) -> Result<Params, String> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
        let Value::Object(mut map) = value else {
            return Err("the body must be a JSON object (batches are not supported)".into());
        };
        Ok(Params {
            query: optional_string(map.remove("query"), "query")?,
            operation_name: optional_string(map.remove("operationName"), "operationName")?,
            variables: optional_map(map.remove("variables"), "variables")?,
            extensions: optional_map(map.remove("extensions"), "extensions")?,
        })
    }

    fn from_url(pairs: HashMap<String, String>) -> Result<Params, String> {
        let json_map = |name: &str| -> Result<Option<Map<String, Value>>, String> {
            match pairs.get(name) {
                None => Ok(None),
                Some(text) => {
                    let value: Value = serde_json::from_str(text)
                        .map_err(|_| format!("`{name}` must be a JSON-encoded map"))?;
                    optional_map(Some(value), name)
                }
            }
        };
        Ok(Params {
            query: pairs.get("query").cloned(),
            operation_name: pairs
                .get("operationName")
                .cloned()
                .filter(|n| !n.is_empty()),
            variables: json_map("variables")?,
            extensions: json_map("extensions")?,
        })
    }

    /// The GraphQL request, and how it came.
    fn into_request(self, get: bool) -> Result<(async_graphql::Request, Transport), String> {
        let extensions = self.extensions.unwrap_or_default();
        let query = self.query.unwrap_or_default();
        if query.trim().is_empty() && !extensions.contains_key("persistedQuery") {
            return Err("the request has no `query`".into());
        }
        let transport = Transport {
            get,
            operation_name: self.operation_name.clone(),
        };
        let mut request = async_graphql::Request::new(query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = self.variables {
            request = request.variables(Variables::from_json(Value::Object(vars)));
        }
        for (key, value) in extensions {
            let value = async_graphql::Value::from_json(value).unwrap_or_default();
            request.extensions.insert(key, value);
        }
        Ok((request, transport))
    }
}

/// Whether the content type is JSON in UTF-8 (or without a charset).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let kind = parts.next().unwrap_or_default().trim();
    let utf8 = parts.all(|p| {
        let p = p.trim().to_ascii_lowercase();
        p.strip_prefix("charset=")
            .is_none_or(|cs| cs.trim_matches('"') == "utf-8")
    });
    kind.eq_ignore_ascii_case("application/json") && utf8
}

/// Executes a GraphQL-over-HTTP POST or GET (the WebSocket upgrade is routed before this).
pub async fn execute(schema: AppSchema, request: axum::extract::Request) -> Response {
    let Some(media) = negotiate(request.headers()) else {
        return malformed(
            StatusCode::NOT_ACCEPTABLE,
            Media::Json,
            "accept application/graphql-response+json or application/json",
        );
    };
    let access = request.extensions().get::<Access>().cloned();
    let get = request.method() == Method::GET;
    let params = if get {
        match Query::<HashMap<String, String>>::try_from_uri(request.uri()) {
            Ok(Query(pairs)) => Params::from_url(pairs),
            Err(_) => Err("the URL parameters do not parse".into()),
        }
    } else {
        if !is_json(request.headers()) {
            return malformed(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                media,
                "send the request as Content-Type: application/json",
            );
        }
        match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
            Ok(bytes) => Params::from_body(&bytes),
            Err(_) => {
                return malformed(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    media,
                    "the body is too large or could not be read",
                )
            }
        }
    };
    let (mut graphql, transport) = match params.and_then(|p| p.into_request(get)) {
        Ok(request) => request,
        Err(message) => return malformed(StatusCode::BAD_REQUEST, media, &message),
    };
    if let Some(access) = access {
        graphql = graphql.data(access);
    }

    let response = hooks::execute(&schema, graphql, Some(&transport)).await;
    respond(media, response)
}

fn respond(media: Media, response: async_graphql::Response) -> Response {
    let request_error = error::is_request_error(&response);
    let first_code = response.errors.first().and_then(code_of).map(str::to_owned);
    let status = match (first_code.as_deref(), media) {
        (Some(error::METHOD_NOT_ALLOWED), _) => StatusCode::METHOD_NOT_ALLOWED,
        (_, Media::Json) => StatusCode::OK,
        (Some(error::UNAUTHENTICATED), _) if request_error => StatusCode::UNAUTHORIZED,
        (Some(error::FORBIDDEN), _) if request_error => StatusCode::FORBIDDEN,
        _ if request_error => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = if request_error {
        let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut body {
            map.remove("data");
        }
        body.to_string().into_bytes()
    } else {
        // Straight to bytes: a detour through serde_json::Value copied every
        // field of a large answer once more.
        serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec())
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(value) = response.cache_control.value() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    for (name, value) in response.http_headers.iter() {
        headers.append(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn negotiation_prefers_the_graphql_media_type_and_defaults_to_json() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Media::Json)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn only_utf8_json_bodies_are_read() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            h
        };
        assert!(is_json(&ct("application/json")));
        assert!(is_json(&ct("application/json; charset=utf-8")));
        assert!(!is_json(&ct("application/json; charset=latin1")));
        assert!(!is_json(&ct("text/plain")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
