//! A CPO's sender interface as canned answers: a small axum server on
//! 127.0.0.1:0 that records every request and answers what the test's
//! script says, with helpers for OCPI envelopes and offset/limit pages.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use chargegraph::reconcile::{CpoConfig, Secret};
use serde_json::{json, Value};

use crate::harness::fixture;

/// The token the fake expects (and the tests configure).
pub const TOKEN: &str = "pull-token-6f1b0c2e9d4a4b7f8e3c1a5d2b9f0e7c";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The fake's base URL (`http://127.0.0.1:PORT`).
    pub base: String,
    /// The path as sent.
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The path and query as sent.
    pub path_and_query: String,
    /// The Authorization header.
    pub authorization: Option<String>,
}

impl Seen {
    /// A query parameter read as a number.
    pub fn number(&self, name: &str) -> Option<usize> {
        self.query.get(name).and_then(|v| v.parse().ok())
    }
}

/// What the fake answers.
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    /// A 200 answer with this body.
    pub fn ok(body: String) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
        }
    }

    /// An answer with this HTTP status and body.
    pub fn status(status: u16, body: String) -> Reply {
        Reply {
            status,
            ..Reply::ok(body)
        }
    }

    /// The same answer after a pause.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running fake CPO.
pub struct FakeCpo {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeCpo {
    /// Starts a fake answering each request with `script(request, n)`, n
    /// counting the requests before this one.
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> FakeCpo {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        let log = seen.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (script, count, log) = (script.clone(), count.clone(), log.clone());
            let base = base.clone();
            async move { answer(request, base, &script, &count, &log).await }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeCpo { addr, seen }
    }

    /// The fake's URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests so far to one path.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// A CPO entry pulling locations from this fake's `/cpo/locations`.
    pub fn cpo(&self) -> CpoConfig {
        let mut cpo = CpoConfig {
            name: "emu".into(),
            url: self.url("/ocpi/versions"),
            token: Secret(TOKEN.into()),
            parties: vec!["NL/GFX".into()],
            modules: vec!["locations".into()],
            page_limit: 2,
            retry_base_ms: 10,
            request_timeout_ms: 2_000,
            ..CpoConfig::default()
        };
        cpo.endpoints.locations = Some(self.url("/cpo/locations"));
        cpo
    }
}

async fn answer(
    request: Request<Body>,
    base: String,
    script: &Arc<Script>,
    count: &AtomicUsize,
    log: &Mutex<Vec<Seen>>,
) -> Response<Body> {
    let uri = request.uri().clone();
    let full = reqwest::Url::parse(&format!("http://fake{uri}")).unwrap();
    let query = full
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let seen = Seen {
        base,
        path: uri.path().to_owned(),
        query,
        path_and_query: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    log.lock().unwrap().push(seen.clone());
    let n = count.fetch_add(1, Ordering::SeqCst);
    let reply = script(&seen, n);
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", "application/json");
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// A success envelope around `data`.
pub fn envelope(data: Value) -> String {
    json!({
        "data": data,
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": "2026-01-10T00:00:00Z",
    })
    .to_string()
}

/// An error envelope.
pub fn refusal(status_code: u16, message: &str) -> String {
    json!({
        "status_code": status_code,
        "status_message": message,
        "timestamp": "2026-01-10T00:00:00Z",
    })
    .to_string()
}

/// The page of `all` a request asks for (offset, limit at most `cap`),
/// with X-Total-Count, X-Limit and a Link to the next page that repeats the
/// request's parameters (its `limit` too, as sent).
pub fn page_of(all: &[Value], seen: &Seen, cap: usize) -> Reply {
    let offset = seen.number("offset").unwrap_or(0);
    let limit = seen.number("limit").unwrap_or(cap).min(cap);
    let items: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let mut reply = Reply::ok(envelope(Value::Array(items)))
        .header("X-Total-Count", all.len().to_string())
        .header("X-Limit", cap.to_string());
    if offset + limit < all.len() {
        let next = with_offset(seen, offset + limit);
        reply = reply.header("Link", format!("<{next}>; rel=\"next\""));
    }
    reply
}

/// The request's URL (path and query) with another offset.
pub fn with_offset(seen: &Seen, offset: usize) -> String {
    let mut query = seen.query.clone();
    query.insert("offset".into(), offset.to_string());
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}?{}", seen.path, pairs.join("&"))
}

/// The five locations of `tests/fixtures/reconcile/locations_2.2.1.json`.
pub fn locations() -> Vec<Value> {
    serde_json::from_str(&fixture("reconcile/locations_2.2.1.json")).unwrap()
}

/// A fixture with `{base}` replaced by the fake's base URL.
pub fn fixture_at(path: &str, fake_base: &str) -> Value {
    serde_json::from_str(&fixture(path).replace("{base}", fake_base)).unwrap()
}
