//! Opaque global ids (`node(id:)`) and keyset cursors.
//!
//! Both are base64url text so clients treat them as opaque; their content is
//! a type name and a row id, which is all a lookup needs.

use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The kinds of object `node(id:)` can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeType {
    /// A Location row.
    Location,
    /// An EVSE row.
    Evse,
    /// A Connector row.
    Connector,
    /// A Session row.
    Session,
    /// A CDR row.
    Cdr,
    /// A Notification row.
    Notification,
}

impl NodeType {
    const ALL: [NodeType; 6] = [
        NodeType::Location,
        NodeType::Evse,
        NodeType::Connector,
        NodeType::Session,
        NodeType::Cdr,
        NodeType::Notification,
    ];

    fn name(self) -> &'static str {
        match self {
            NodeType::Location => "Location",
            NodeType::Evse => "Evse",
            NodeType::Connector => "Connector",
            NodeType::Session => "Session",
            NodeType::Cdr => "Cdr",
            NodeType::Notification => "Notification",
        }
    }
}

/// The global id of a row.
pub fn global_id(kind: NodeType, pk: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{pk}", kind.name())))
}

/// Reads a global id back, or `None` when it is not one of ours.
pub fn parse_global_id(id: &str) -> Option<(NodeType, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let (name, pk) = text.split_once(':')?;
    let kind = NodeType::ALL.into_iter().find(|k| k.name() == name)?;
    Some((kind, pk.parse().ok()?))
}

/// The cursor of a row in a list ordered by row id.
pub fn cursor(pk: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{pk}"))
}

/// Reads a cursor back, or `None` when it is not one of ours.
pub fn parse_cursor(cursor: &str) -> Option<i64> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    text.strip_prefix("cursor:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_reject_foreign_text() {
        let id = global_id(NodeType::Evse, 42);
        assert_eq!(id.as_str(), "RXZzZTo0Mg");
        assert_eq!(parse_global_id(&id), Some((NodeType::Evse, 42)));
        assert_eq!(parse_global_id("not-an-id"), None);
        assert_eq!(parse_global_id(&URL_SAFE_NO_PAD.encode("Tariff:1")), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        assert_eq!(parse_cursor(&cursor(7)), Some(7));
        assert_eq!(parse_cursor("garbage!"), None);
        assert_eq!(parse_cursor(&URL_SAFE_NO_PAD.encode("cursor:x")), None);
    }
}
