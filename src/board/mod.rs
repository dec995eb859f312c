//! The live status board: one page at `/board`, written for this project
//! and embedded in the binary, that reads GraphQL over HTTP (the locations)
//! and graphql-transport-ws (statuses, counts, sessions and CDRs).
//!
//! The page is static: it holds no data, so it is served without
//! credentials; with GraphQL auth on, its script asks for an API key. Its
//! script and style are separate files so that the Content-Security-Policy
//! can forbid inline code; their URLs carry a hash of their content, so a
//! browser may keep them for a year and still never runs a stale copy.

use std::sync::LazyLock;

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

const PAGE: &str = include_str!("index.html");
const SCRIPT: Asset = Asset::new(include_str!("board.js"), "text/javascript; charset=utf-8");
const STYLE: Asset = Asset::new(include_str!("board.css"), "text/css; charset=utf-8");

/// Path of the script; the page links it with `?v=` its version.
pub const SCRIPT_PATH: &str = "/board/board.js";
/// Path of the style sheet; the page links it with `?v=` its version.
pub const STYLE_PATH: &str = "/board/board.css";

/// Same-origin only: no inline script or style, no other host, no framing.
/// `connect-src 'self'` covers the page's own `ws:`/`wss:` origin (CSP 3).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// A year: the longest lifetime caches honour, for URLs that never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The page with its asset URLs filled in, built once.
static RENDERED_PAGE: LazyLock<String> = LazyLock::new(|| {
    PAGE.replace("{{style}}", &STYLE.url(STYLE_PATH))
        .replace("{{script}}", &SCRIPT.url(SCRIPT_PATH))
});

/// The board's routes: `/board` (also with a trailing slash) and its assets.
pub fn router() -> Router {
    Router::new()
        .route("/board", get(page))
        .route("/board/", get(page))
        .route(SCRIPT_PATH, get(script))
        .route(STYLE_PATH, get(style))
}

/// A file of the page, embedded, with its content type and version.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    version: u64,
}

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Asset {
        Asset {
            body,
            content_type,
            version: fnv1a(body.as_bytes()),
        }
    }

    fn version_text(&self) -> String {
        format!("{:016x}", self.version)
    }

    fn url(&self, path: &str) -> String {
        format!("{path}?v={}", self.version_text())
    }

    fn etag(&self) -> String {
        format!("\"{}\"", self.version_text())
    }
}

/// 64-bit FNV-1a: a stable content hash computed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The `?v=` of an asset URL.
#[derive(Debug, Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

/// The page itself: revalidated on every load, so a new build's asset URLs
/// are picked up at once.
async fn page() -> Response {
    let mut response = RENDERED_PAGE.as_str().into_response();
    let headers = response.headers_mut();
    set(headers, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(headers, header::CACHE_CONTROL, "no-cache");
    secure(headers);
    response
}

async fn script(query: Query<AssetQuery>, request: HeaderMap) -> Response {
    serve_asset(&SCRIPT, &query, &request)
}

async fn style(query: Query<AssetQuery>, request: HeaderMap) -> Response {
    serve_asset(&STYLE, &query, &request)
}

/// An asset, cached for a year when asked for by its current version and
/// revalidated otherwise; a matching `If-None-Match` gets 304.
fn serve_asset(asset: &Asset, query: &AssetQuery, request: &HeaderMap) -> Response {
    let etag = asset.etag();
    let current = query.v.as_deref() == Some(asset.version_text().as_str());
    let cache = if current { IMMUTABLE } else { "no-cache" };
    let mut response = if matches_etag(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    set(headers, header::CONTENT_TYPE, asset.content_type);
    set(headers, header::CACHE_CONTROL, cache);
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    secure(headers);
    response
}

/// Whether `If-None-Match` names this entity tag (or `*`).
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Headers that keep the page to its own origin and its declared types.
fn secure(headers: &mut HeaderMap) {
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    );
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // From the FNV reference test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_page_links_both_assets_by_version_and_has_no_inline_code() {
        let page = RENDERED_PAGE.as_str();
        assert!(page.contains(&SCRIPT.url(SCRIPT_PATH)), "{page}");
        assert!(page.contains(&STYLE.url(STYLE_PATH)), "{page}");
        assert!(!page.contains("{{"), "an unfilled placeholder: {page}");
        assert!(!page.contains("<style"), "inline style element");
        assert!(!page.contains(" style="), "inline style attribute");
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains("<script type=\"module\" src="));
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = "\"00ff\"";
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            matches_etag(&headers, tag)
        };
        assert!(with("\"00ff\""));
        assert!(with("\"abc\", W/\"00ff\""));
        assert!(with("*"));
        assert!(!with("\"00fe\""));
        assert!(!matches_etag(&HeaderMap::new(), tag));
    }
}
