//! Paging through a sender list (OCPI 2.2.1 transport_and_format,
//! pagination): follow `Link: <...>; rel="next"`, honour `X-Limit`, step
//! back when `X-Total-Count` shrinks, and never fetch a Link already
//! fetched in this crawl.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use reqwest::header::HeaderMap;
use reqwest::Url;
use serde_json::Value;

use super::client::Client;
use super::ReconcileError;
use crate::domain::Timestamp;

/// Most pages one crawl fetches; a list longer than that is a peer's bug.
const MAX_PAGES: usize = 100_000;

/// Most step-backs after a shrinking `X-Total-Count` in one crawl.
const MAX_STEP_BACKS: usize = 64;

/// One `date_from`/`date_to` window on `last_updated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive lower bound, when any.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound, when any.
    pub to: Option<DateTime<Utc>>,
}

/// Splits `[from, to)` into windows of at most `max`, each starting
/// `overlap` before the previous one ends (2.1.1 only says "after" and
/// "before", so the edges are fetched twice and deduplicated).
pub fn windows(window: Window, max: Option<Duration>, overlap: Duration) -> Vec<Window> {
    let (Some(max), Some(mut from), Some(to)) = (max, window.from, window.to) else {
        return vec![window];
    };
    let mut out = Vec::new();
    loop {
        let end = (from + max).min(to);
        out.push(Window {
            from: Some(from),
            to: Some(end),
        });
        if end >= to || max <= overlap {
            return out;
        }
        from = end - overlap;
    }
}

/// The first page's URL: the list URL with the window and the paging parameters.
pub fn first_page(list: &Url, window: Window, limit: u64) -> Url {
    let mut url = list.clone();
    {
        let mut query = url.query_pairs_mut();
        if let Some(from) = window.from {
            query.append_pair("date_from", &Timestamp::from_datetime(from).to_string());
        }
        if let Some(to) = window.to {
            query.append_pair("date_to", &Timestamp::from_datetime(to).to_string());
        }
        query.append_pair("offset", "0");
        query.append_pair("limit", &limit.to_string());
    }
    url
}

/// Walks the pages of one list, one `next_page` call per page.
pub struct Pager<'a> {
    client: &'a Client,
    next: Option<Url>,
    fetched: HashSet<String>,
    last_total: Option<u64>,
    x_limit: Option<u64>,
    pages: usize,
    step_backs: usize,
    stopped: Option<ReconcileError>,
}

impl<'a> Pager<'a> {
    /// A crawl starting at `first`.
    pub fn new(client: &'a Client, first: Url) -> Pager<'a> {
        Pager {
            client,
            next: Some(first),
            fetched: HashSet::new(),
            last_total: None,
            x_limit: None,
            pages: 0,
            step_backs: 0,
            stopped: None,
        }
    }

    /// The objects of the next page; `None` after the last. A page whose
    /// Link loops is returned, and the error comes with the call after it.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Value>>, ReconcileError> {
        if let Some(err) = self.stopped.take() {
            return Err(err);
        }
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        self.pages += 1;
        if self.pages > MAX_PAGES {
            return Err(ReconcileError::TooManyPages(MAX_PAGES));
        }
        self.fetched.insert(page_key(&url));
        let answer = self.client.get(&url).await?;
        let items = match answer.data {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        self.x_limit = header_u64(&answer.headers, "x-limit").or(self.x_limit);
        let total = header_u64(&answer.headers, "x-total-count");
        match self.after(&url, items.len() as u64, total, &answer.headers) {
            Ok(next) => self.next = next,
            Err(err) => self.stopped = Some(err),
        }
        self.last_total = total.or(self.last_total);
        Ok(Some(items))
    }

    /// The page after `url`, which held `count` objects of `total`.
    fn after(
        &mut self,
        url: &Url,
        count: u64,
        total: Option<u64>,
        headers: &HeaderMap,
    ) -> Result<Option<Url>, ReconcileError> {
        let offset = query_u64(url, "offset");
        if let Some(back) = self.step_back(url, offset, total) {
            return Ok(Some(back));
        }
        if count == 0 {
            return Ok(None);
        }
        let next = match next_link(headers, url) {
            Some(link) => Some(self.capped(link)),
            // A peer that leaves the Link out while its own count says more
            // follow (citrineos-core #831) is paged by offset.
            None => match (offset, total) {
                (Some(offset), Some(total)) if offset + count < total => {
                    Some(self.capped(with_param(url, "offset", offset + count)))
                }
                _ => None,
            },
        };
        match next {
            Some(next) if self.fetched.contains(&page_key(&next)) => {
                Err(ReconcileError::LinkLoop {
                    from: url.to_string(),
                    to: next.to_string(),
                })
            }
            next => Ok(next),
        }
    }

    /// When the total shrank since the previous page, the objects after our
    /// position moved forward by as many places: fetch again from that many
    /// places back, so that none is skipped (OCPI 2.2.1 pagination; the
    /// repeats are deduplicated by the caller).
    fn step_back(&mut self, url: &Url, offset: Option<u64>, total: Option<u64>) -> Option<Url> {
        let (Some(before), Some(now), Some(offset)) = (self.last_total, total, offset) else {
            return None;
        };
        if now >= before || offset == 0 || self.step_backs >= MAX_STEP_BACKS {
            return None;
        }
        self.step_backs += 1;
        // Pages before this one are fetched again from here on: loops are
        // caught anew until the next step back (of which there are few).
        self.fetched.clear();
        let back = offset.saturating_sub(before - now);
        tracing::debug!(
            offset,
            back,
            before,
            now,
            "total count shrank; stepping back"
        );
        Some(self.capped(with_param(url, "offset", back)))
    }

    /// A URL whose `limit` is at most the server's `X-Limit`.
    fn capped(&self, url: Url) -> Url {
        match (self.x_limit, query_u64(&url, "limit")) {
            (Some(cap), Some(limit)) if limit > cap => with_param(&url, "limit", cap),
            _ => url,
        }
    }
}

/// The target of a `rel="next"` link, resolved against the page's URL.
pub fn next_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| {
            let next = params.split(';').any(|p| {
                let p = p.trim();
                let Some(value) = p.strip_prefix("rel=").or_else(|| p.strip_prefix("REL=")) else {
                    return false;
                };
                value
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            next.then(|| base.join(target).ok()).flatten()
        })
}

/// `<target>; params` pairs of a Link header value (targets may hold commas).
fn split_links(value: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let target = &rest[open + 1..open + close];
        let after = &rest[open + close + 1..];
        let end = after.find('<').unwrap_or(after.len());
        out.push((target, after[..end].trim().trim_end_matches(',')));
        rest = &after[end..];
    }
    out
}

/// A page's identity whatever the spelling of its URL: the path and the
/// decoded query parameters in order of name.
fn page_key(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    let host = url.host_str().unwrap_or_default();
    format!(
        "{}://{host}:{:?}{}?{pairs:?}",
        url.scheme(),
        url.port(),
        url.path()
    )
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn query_u64(url: &Url, name: &str) -> Option<u64> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// `url` with one query parameter set (added when absent).
fn with_param(url: &Url, name: &str, value: u64) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    {
        let mut query = out.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        query.append_pair(name, &value.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn reads_the_next_link_among_others_and_relative_ones() {
        let base = Url::parse("https://cpo/ocpi/2.2.1/locations?offset=0&limit=2").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            HeaderValue::from_static(
                "<https://cpo/x?a=1,2>; rel=\"prev\", <locations?offset=2&limit=2>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&headers, &base).unwrap().as_str(),
            "https://cpo/ocpi/2.2.1/locations?offset=2&limit=2"
        );
        headers.insert(
            "link",
            HeaderValue::from_static("<https://cpo/y>; rel=last"),
        );
        assert_eq!(next_link(&headers, &base), None);
    }

    #[test]
    fn a_long_range_is_cut_into_overlapping_windows() {
        let range = Window {
            from: Some(at("2026-01-01T00:00:00Z")),
            to: Some(at("2026-01-07T12:00:00Z")),
        };
        let cut = windows(range, Some(Duration::hours(72)), Duration::seconds(1));
        let text: Vec<(String, String)> = cut
            .iter()
            .map(|w| {
                let s = |t: Option<DateTime<Utc>>| Timestamp::from_datetime(t.unwrap()).to_string();
                (s(w.from), s(w.to))
            })
            .collect();
        assert_eq!(
            text,
            vec![
                ("2026-01-01T00:00:00Z".into(), "2026-01-04T00:00:00Z".into()),
                ("2026-01-03T23:59:59Z".into(), "2026-01-06T23:59:59Z".into()),
                ("2026-01-06T23:59:58Z".into(), "2026-01-07T12:00:00Z".into()),
            ]
        );
        let open = Window {
            from: None,
            to: None,
        };
        assert_eq!(
            windows(open, Some(Duration::hours(72)), Duration::seconds(1)),
            vec![open]
        );
    }

    #[test]
    fn the_same_page_is_recognised_however_its_url_is_spelled() {
        let ours = Url::parse("https://cpo/l?date_from=2026-01-01T00%3A00%3A00Z&offset=2&limit=2")
            .unwrap();
        let theirs =
            Url::parse("https://cpo/l?limit=2&offset=2&date_from=2026-01-01T00:00:00Z").unwrap();
        assert_eq!(page_key(&ours), page_key(&theirs));
        let other =
            Url::parse("https://cpo/l?limit=2&offset=4&date_from=2026-01-01T00:00:00Z").unwrap();
        assert_ne!(page_key(&ours), page_key(&other));
    }

    #[test]
    fn a_parameter_is_replaced_and_the_others_kept() {
        let url = Url::parse("https://cpo/l?date_from=2026-01-01T00%3A00%3A00Z&offset=4&limit=9")
            .unwrap();
        assert_eq!(
            with_param(&url, "offset", 3).as_str(),
            "https://cpo/l?date_from=2026-01-01T00%3A00%3A00Z&limit=9&offset=3"
        );
    }
}
