//! Relay connections: `first/after/last/before` read into a keyset window,
//! rows turned into edges and `pageInfo`, and the complexity weight of a page.

use async_graphql::{Context, Result, SimpleObject};

use super::error::bad_user_input;
use super::ids::{cursor, parse_cursor, KeyKind};
use super::Limits;
use crate::store::read::{Key, Position, Window};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Where a page stands in its list.
#[derive(SimpleObject, Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// Whether rows follow this page (always known for a `first` page; for a
    /// `last` page, true when `before` was given).
    pub has_next_page: bool,
    /// Whether rows precede this page (always known for a `last` page; for a
    /// `first` page, true when `after` was given).
    pub has_previous_page: bool,
    /// The cursor of the first edge, null for an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of the last edge, null for an empty page.
    pub end_cursor: Option<String>,
}

/// A list's paging arguments as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Rows from the start (after `after`).
    pub first: Option<i32>,
    /// Only rows after this cursor.
    pub after: Option<String>,
    /// Rows from the end (before `before`).
    pub last: Option<i32>,
    /// Only rows before this cursor.
    pub before: Option<String>,
}

impl PageArgs {
    /// The arguments of one connection field.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> PageArgs {
        PageArgs {
            first,
            after,
            last,
            before,
        }
    }

    /// Checks the arguments against the page-size cap and reads the cursors
    /// of list `list`, whose sort key is of kind `kind`.
    pub fn window(&self, ctx: &Context<'_>, list: &str, kind: KeyKind) -> Result<Window> {
        let cap = ctx.data::<Limits>()?.max_page_size;
        let size = |name: &str, n: i32| -> Result<u64> {
            if n < 0 {
                return Err(bad_user_input(format!("`{name}` must not be negative")));
            }
            if n as u64 > cap {
                return Err(bad_user_input(format!("`{name}` must be at most {cap}")));
            }
            Ok(n as u64)
        };
        let (size, from_end) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(bad_user_input("give `first` or `last`, not both"));
            }
            (Some(n), None) => (size("first", n)?, false),
            (None, Some(n)) => (size("last", n)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE.min(cap), false),
        };
        let read = |text: &Option<String>| -> Result<Option<Position>> {
            match text {
                None => Ok(None),
                Some(t) => parse_cursor(t, list, kind)
                    .map(Some)
                    .ok_or_else(|| bad_user_input("invalid cursor")),
            }
        };
        Ok(Window {
            after: read(&self.after)?,
            before: read(&self.before)?,
            size,
            from_end,
        })
    }
}

/// Turns up to `size + 1` rows, in read order, into a page's edges (in list
/// order) and its `pageInfo`; the extra row only tells that more exist.
pub fn edges<R, E>(
    mut rows: Vec<R>,
    window: &Window,
    list: &str,
    position: impl Fn(&R) -> Position,
    edge: impl Fn(String, R) -> E,
) -> (Vec<E>, PageInfo) {
    let more = rows.len() as u64 > window.size;
    rows.truncate(window.size as usize);
    if window.from_end {
        rows.reverse();
    }
    let cursors: Vec<String> = rows.iter().map(|r| cursor(list, &position(r))).collect();
    let info = PageInfo {
        has_next_page: if window.from_end {
            window.before.is_some()
        } else {
            more
        },
        has_previous_page: if window.from_end {
            more
        } else {
            window.after.is_some()
        },
        start_cursor: cursors.first().cloned(),
        end_cursor: cursors.last().cloned(),
    };
    let edges = rows
        .into_iter()
        .zip(cursors)
        .map(|(row, c)| edge(c, row))
        .collect();
    (edges, info)
}

/// The position of a row in a list sorted by row id.
pub fn by_id(id: i64) -> Position {
    Position { key: Key::None, id }
}

/// The complexity of a connection field: its children times its page size,
/// so that nested pages multiply as the rows they can return do.
pub fn weight(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize);
    size.max(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// Declares a connection type and its edge type over a node type.
///
/// `$total` must have `async fn count(&self, ctx) -> Result<u64>`.
macro_rules! connection {
    ($(#[doc = $doc:literal])* $conn:ident, $(#[doc = $edge_doc:literal])* $edge:ident, $node:ty, $total:ty) => {
        $(#[doc = $doc])*
        pub struct $conn {
            /// The page's edges, in list order.
            pub edges: Vec<$edge>,
            /// Where the page stands.
            pub page_info: $crate::graphql::pagination::PageInfo,
            /// Counts the whole list on demand.
            pub total: $total,
        }

        $(#[doc = $doc])*
        #[async_graphql::Object]
        impl $conn {
            /// The rows of this page with their cursors.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }
            /// The rows of this page, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }
            /// Where this page stands in the list.
            async fn page_info(&self) -> &$crate::graphql::pagination::PageInfo {
                &self.page_info
            }
            /// How many rows the whole list has, over all pages (one more
            /// statement, run only when asked for).
            async fn total_count(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> async_graphql::Result<u64> {
                self.total.count(ctx).await
            }
        }

        $(#[doc = $edge_doc])*
        pub struct $edge {
            /// Where the row stands, for `after` and `before`.
            pub cursor: String,
            /// The row.
            pub node: $node,
        }

        $(#[doc = $edge_doc])*
        #[async_graphql::Object]
        impl $edge {
            /// Where this row stands, for `after` and `before`.
            async fn cursor(&self) -> &str {
                &self.cursor
            }
            /// The row.
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}

pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    fn window(size: u64, from_end: bool, bounded: bool) -> Window {
        Window {
            after: (bounded && !from_end).then(|| by_id(1)),
            before: (bounded && from_end).then(|| by_id(99)),
            size,
            from_end,
        }
    }

    #[test]
    fn a_first_page_reads_one_extra_row_to_know_more_exist() {
        let (edges, info) = edges(
            vec![2, 3, 4],
            &window(2, false, true),
            "L",
            |r| by_id(*r),
            |_, r| r,
        );
        assert_eq!(edges, vec![2, 3]);
        assert!(info.has_next_page && info.has_previous_page);
    }

    #[test]
    fn a_last_page_is_read_backwards_and_shown_in_list_order() {
        let (edges, info) = edges(
            vec![9, 8, 7],
            &window(2, true, false),
            "L",
            |r| by_id(*r),
            |_, r| r,
        );
        assert_eq!(edges, vec![8, 9]);
        assert!(info.has_previous_page && !info.has_next_page);
        assert_eq!(info.start_cursor, Some(cursor("L", &by_id(8))));
    }

    #[test]
    fn nested_pages_multiply_their_weight() {
        assert_eq!(weight(Some(10), None, 5), 51);
        assert_eq!(weight(None, Some(3), 2), 7);
        assert_eq!(weight(None, None, 1), 21);
        assert_eq!(weight(Some(0), None, 4), 5);
    }
}
