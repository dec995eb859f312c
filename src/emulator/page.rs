//! Paginated sender GETs (OCPI 2.2.1 transport_and_format, "Pagination"):
//! date_from inclusive and date_to exclusive on last_updated, oldest first,
//! offset and limit, and the Link, X-Total-Count and X-Limit headers.

use chrono::{DateTime, Duration, Utc};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::shape::stamp;
use crate::domain::time;

/// The longest window GreenFlux's notifications pull accepts.
pub const NOTIFICATION_WINDOW_HOURS: i64 = 72;
/// The smallest limit GreenFlux's notifications pull accepts.
pub const NOTIFICATION_MIN_LIMIT: usize = 10_000;

/// Characters escaped in a URL path segment or query value: all but the
/// unreserved ones (RFC 3986).
pub(crate) const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The paging and filter parameters of a list GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only objects with last_updated at or after this.
    pub date_from: Option<DateTime<Utc>>,
    /// Only objects with last_updated before this.
    pub date_to: Option<DateTime<Utc>>,
    /// How many matching objects to skip.
    pub offset: usize,
    /// The most objects the client wants (the server may lower it).
    pub limit: Option<usize>,
}

/// Why a query was refused (OCPI 2001).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

impl Query {
    /// Reads a query string; unknown parameters are ignored.
    pub fn parse(raw: Option<&str>) -> Result<Query, QueryError> {
        let mut query = Query::default();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match name {
                "date_from" => query.date_from = Some(instant(name, &value)?),
                "date_to" => query.date_to = Some(instant(name, &value)?),
                "offset" => query.offset = count(name, &value)?,
                "limit" => match count(name, &value)? {
                    0 => return Err(QueryError("limit must be at least 1".into())),
                    n => query.limit = Some(n),
                },
                _ => {}
            }
        }
        Ok(query)
    }

    /// Whether an object stamped `at` falls in the date window.
    pub fn admits(&self, at: DateTime<Utc>) -> bool {
        self.date_from.is_none_or(|from| at >= from) && self.date_to.is_none_or(|to| at < to)
    }

    /// OCPI 2.2.1 Sessions, sender GET: date_from is required.
    pub fn require_date_from(&self) -> Result<(), QueryError> {
        match self.date_from {
            Some(_) => Ok(()),
            None => Err(QueryError("date_from is required for sessions".into())),
        }
    }

    /// GreenFlux's notifications pull: date_from, date_to and limit are
    /// required, the window is at most 72 hours and the limit at least 10000.
    pub fn check_notification_window(&self) -> Result<(), QueryError> {
        let (Some(from), Some(to), Some(limit)) = (self.date_from, self.date_to, self.limit) else {
            return Err(QueryError(
                "date_from, date_to and limit are required for notifications".into(),
            ));
        };
        if to <= from {
            return Err(QueryError("date_to must be after date_from".into()));
        }
        if to - from > Duration::hours(NOTIFICATION_WINDOW_HOURS) {
            return Err(QueryError(format!(
                "the window from date_from to date_to is at most {NOTIFICATION_WINDOW_HOURS} hours"
            )));
        }
        if limit < NOTIFICATION_MIN_LIMIT {
            return Err(QueryError(format!(
                "limit must be at least {NOTIFICATION_MIN_LIMIT}"
            )));
        }
        Ok(())
    }

    /// The query string of the page at `offset` with `limit`, carrying the
    /// date filters.
    fn at_offset(&self, offset: usize, limit: usize) -> String {
        let mut parts = Vec::new();
        for (name, value) in [("date_from", self.date_from), ("date_to", self.date_to)] {
            if let Some(at) = value {
                parts.push(format!(
                    "{name}={}",
                    utf8_percent_encode(&stamp(at), ESCAPED)
                ));
            }
        }
        parts.push(format!("offset={offset}"));
        parts.push(format!("limit={limit}"));
        parts.join("&")
    }
}

fn decode(value: &str) -> String {
    percent_decode_str(&value.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, QueryError> {
    time::parse(value)
        .map(|parsed| parsed.at.as_datetime())
        .map_err(|err| QueryError(format!("{name}: {err}")))
}

fn count(name: &str, value: &str) -> Result<usize, QueryError> {
    value
        .parse()
        .map_err(|_| QueryError(format!("{name} must be a whole number, not {value:?}")))
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The objects of this page, oldest first.
    pub items: Vec<T>,
    /// How many objects match the filters (X-Total-Count).
    pub total: usize,
    /// The page size used: the client's limit lowered to the server's.
    pub limit: usize,
    /// The offset of the next page, unless this is the last.
    pub next_offset: Option<usize>,
}

impl<T> Page<T> {
    /// The page `query` selects from `items` (each with its last_updated and
    /// id), with at most `max` objects.
    pub fn select(
        mut items: Vec<(DateTime<Utc>, String, T)>,
        query: &Query,
        max: usize,
    ) -> Page<T> {
        items.retain(|(at, _, _)| query.admits(*at));
        items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let total = items.len();
        let limit = query.limit.unwrap_or(max).min(max).max(1);
        let items: Vec<T> = items
            .into_iter()
            .skip(query.offset)
            .take(limit)
            .map(|(_, _, item)| item)
            .collect();
        let end = query.offset.saturating_add(items.len());
        let next_offset = (end < total).then_some(end);
        Page {
            items,
            total,
            limit,
            next_offset,
        }
    }

    /// The `Link` header value of the next page at `url` (without query), if any.
    pub fn link(&self, url: &str, query: &Query) -> Option<String> {
        self.next_offset.map(|offset| {
            format!(
                "<{url}?{}>; rel=\"next\"",
                query.at_offset(offset, self.limit)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        time::parse(s).unwrap().at.as_datetime()
    }

    fn items() -> Vec<(DateTime<Utc>, String, &'static str)> {
        vec![
            (at("2025-03-03T08:00:00Z"), "C".into(), "c"),
            (at("2025-03-03T06:00:00Z"), "B".into(), "b"),
            (at("2025-03-03T06:00:00Z"), "A".into(), "a"),
            (at("2025-03-03T09:00:00Z"), "D".into(), "d"),
            (at("2025-03-03T10:00:00Z"), "E".into(), "e"),
        ]
    }

    #[test]
    fn pages_are_oldest_first_with_the_total_and_a_link_carrying_the_filters() {
        let query = Query::parse(Some("date_from=2025-03-03T06%3A00%3A00Z&limit=2")).unwrap();
        let page = Page::select(items(), &query, 100);
        assert_eq!(page.items, ["a", "b"]);
        assert_eq!((page.total, page.limit, page.next_offset), (5, 2, Some(2)));
        assert_eq!(
            page.link("http://127.0.0.1:9000/ocpi/2.2.1/locations", &query)
                .unwrap(),
            "<http://127.0.0.1:9000/ocpi/2.2.1/locations?date_from=2025-03-03T06%3A00%3A00Z\
             &offset=2&limit=2>; rel=\"next\""
        );
        let last = Query {
            offset: 4,
            ..query.clone()
        };
        let page = Page::select(items(), &last, 100);
        assert_eq!((page.items, page.next_offset), (vec!["e"], None));
        assert_eq!(
            Page::<()>::select(Vec::new(), &query, 100).link("u", &query),
            None
        );
    }

    #[test]
    fn date_from_is_inclusive_and_date_to_exclusive() {
        let query = Query::parse(Some(
            "date_from=2025-03-03T08:00:00Z&date_to=2025-03-03T10:00:00Z",
        ))
        .unwrap();
        let page = Page::select(items(), &query, 100);
        assert_eq!(page.items, ["c", "d"]);
        assert_eq!(page.total, 2);
    }

    #[test]
    fn the_server_maximum_lowers_a_larger_limit() {
        let query = Query::parse(Some("limit=50")).unwrap();
        let page = Page::select(items(), &query, 3);
        assert_eq!(
            (page.items.len(), page.limit, page.next_offset),
            (3, 3, Some(3))
        );
        let link = page.link("http://h/l", &query).unwrap();
        assert_eq!(link, "<http://h/l?offset=3&limit=3>; rel=\"next\"");
        let page = Page::select(items(), &Query::default(), 3);
        assert_eq!(page.limit, 3, "no limit asked: the server's");
    }

    #[test]
    fn bad_parameters_are_refused() {
        let refused = |q: &str| Query::parse(Some(q)).unwrap_err().0;
        assert!(refused("date_from=yesterday").starts_with("date_from: invalid date-time"));
        assert_eq!(
            refused("offset=-1"),
            "offset must be a whole number, not \"-1\""
        );
        assert_eq!(refused("limit=0"), "limit must be at least 1");
        assert_eq!(Query::parse(Some("other=1&")).unwrap(), Query::default());
        assert!(Query::default().require_date_from().is_err());
    }

    #[test]
    fn greenflux_notifications_need_a_window_of_at_most_72_hours_and_a_limit_of_10000() {
        let check = |q: &str| Query::parse(Some(q)).unwrap().check_notification_window();
        let from = "date_from=2025-03-01T00:00:00Z";
        assert_eq!(
            check(&format!("{from}&date_to=2025-03-04T00:00:00Z&limit=10000")),
            Ok(())
        );
        assert_eq!(
            check(&format!("{from}&date_to=2025-03-04T01:00:00Z&limit=10000"))
                .unwrap_err()
                .0,
            "the window from date_from to date_to is at most 72 hours"
        );
        assert_eq!(
            check(&format!("{from}&date_to=2025-03-02T00:00:00Z&limit=9999"))
                .unwrap_err()
                .0,
            "limit must be at least 10000"
        );
        assert!(check(&format!("{from}&limit=10000")).is_err(), "no date_to");
        assert!(
            check(&format!("{from}&date_to=2025-03-02T00:00:00Z")).is_err(),
            "no limit"
        );
        assert!(
            check("date_to=2025-03-02T00:00:00Z&limit=10000").is_err(),
            "no date_from"
        );
        assert!(check(&format!("{from}&date_to=2025-03-01T00:00:00Z&limit=10000")).is_err());
    }
}
