//! Opaque global ids (`node(id:)`) and keyset cursors.
//!
//! Both are base64url text so clients treat them as opaque. A global id holds
//! a type name and a row id; a cursor holds the list and sort it belongs to,
//! the row's sort key and its row id, which is all a keyset page needs.

use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::store::read::{Key, Position};

/// The kinds of object `node(id:)` can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    /// A Location row.
    Location,
    /// An EVSE row.
    Evse,
    /// A Connector row.
    Connector,
    /// An EVSE status history row.
    EvseStatusEntry,
    /// A Session row.
    Session,
    /// A session timeline row.
    SessionEvent,
    /// A charging period row.
    ChargingPeriod,
    /// A CDR row.
    Cdr,
    /// A Tariff row.
    Tariff,
    /// A Notification row.
    Notification,
}

impl NodeType {
    const ALL: [NodeType; 10] = [
        NodeType::Location,
        NodeType::Evse,
        NodeType::Connector,
        NodeType::EvseStatusEntry,
        NodeType::Session,
        NodeType::SessionEvent,
        NodeType::ChargingPeriod,
        NodeType::Cdr,
        NodeType::Tariff,
        NodeType::Notification,
    ];

    fn name(self) -> &'static str {
        match self {
            NodeType::Location => "Location",
            NodeType::Evse => "Evse",
            NodeType::Connector => "Connector",
            NodeType::EvseStatusEntry => "EvseStatusEntry",
            NodeType::Session => "Session",
            NodeType::SessionEvent => "SessionEvent",
            NodeType::ChargingPeriod => "ChargingPeriod",
            NodeType::Cdr => "Cdr",
            NodeType::Tariff => "Tariff",
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

/// What a cursor's sort key is, so a cursor only fits the sort it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// No key: the list is sorted by row id.
    None,
    /// A text key.
    Text,
    /// An instant.
    Time,
    /// A floating-point number.
    Float,
}

/// The cursor of a row in the list `list` (a name for the list and its sort).
pub fn cursor(list: &str, pos: &Position) -> String {
    let key = match &pos.key {
        Key::None => String::new(),
        Key::Text(t) => t.clone(),
        Key::Time(t) => t.timestamp_millis().to_string(),
        Key::Float(f) => format!("{:016x}", f.to_bits()),
    };
    URL_SAFE_NO_PAD.encode(format!("{list}|{}|{key}", pos.id))
}

/// Reads a cursor of the list `list` back, or `None` when it is not one of
/// that list's cursors.
pub fn parse_cursor(text: &str, list: &str, kind: KeyKind) -> Option<Position> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let mut parts = text.splitn(3, '|');
    if parts.next()? != list {
        return None;
    }
    let id = parts.next()?.parse().ok()?;
    let raw = parts.next()?;
    let key = match kind {
        KeyKind::None if raw.is_empty() => Key::None,
        KeyKind::None => return None,
        KeyKind::Text => Key::Text(raw.to_owned()),
        KeyKind::Time => Key::Time(DateTime::<Utc>::from_timestamp_millis(raw.parse().ok()?)?),
        KeyKind::Float => Key::Float(f64::from_bits(u64::from_str_radix(raw, 16).ok()?)),
    };
    Some(Position { key, id })
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
        assert_eq!(parse_global_id(&URL_SAFE_NO_PAD.encode("Token:1")), None);
    }

    #[test]
    fn cursors_round_trip_only_in_their_own_list() {
        let by_id = Position {
            key: Key::None,
            id: 7,
        };
        let text = cursor("Session", &by_id);
        assert_eq!(parse_cursor(&text, "Session", KeyKind::None), Some(by_id));
        assert_eq!(parse_cursor(&text, "Cdr", KeyKind::None), None);
        assert_eq!(parse_cursor("garbage!", "Session", KeyKind::None), None);

        let near = Position {
            key: Key::Float(0.000_012_5),
            id: 3,
        };
        let text = cursor("Location:distance", &near);
        assert_eq!(
            parse_cursor(&text, "Location:distance", KeyKind::Float),
            Some(near)
        );
        let named = Position {
            key: Key::Text("Gent | Zuid".into()),
            id: 9,
        };
        let text = cursor("Location:name", &named);
        assert_eq!(
            parse_cursor(&text, "Location:name", KeyKind::Text),
            Some(named)
        );
    }
}
