//! One committed outbox row, with the facts that filters look at read from
//! its payload once, by the reader, rather than once per subscriber.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::party::key;

/// What an outbox row says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An EVSE got a new status.
    EvseStatusChanged,
    /// A location, one of its EVSEs or connectors changed.
    LocationChanged,
    /// A session was created or changed.
    SessionUpdated,
    /// A CDR was stored.
    CdrReceived,
    /// A ChargeStation notification was stored or replaced.
    NotificationReceived,
    /// A kind this version does not deliver.
    Other,
}

impl Kind {
    /// Every kind a subscription can ask for.
    pub const ALL: [Kind; 5] = [
        Kind::EvseStatusChanged,
        Kind::LocationChanged,
        Kind::SessionUpdated,
        Kind::CdrReceived,
        Kind::NotificationReceived,
    ];

    /// Reads the `kind` column.
    pub fn parse(raw: &str) -> Kind {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == raw)
            .unwrap_or(Kind::Other)
    }

    /// The `kind` column's value.
    pub fn name(self) -> &'static str {
        match self {
            Kind::EvseStatusChanged => "EVSE_STATUS_CHANGED",
            Kind::LocationChanged => "LOCATION_CHANGED",
            Kind::SessionUpdated => "SESSION_UPDATED",
            Kind::CdrReceived => "CDR_RECEIVED",
            Kind::NotificationReceived => "NOTIFICATION_RECEIVED",
            Kind::Other => "OTHER",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kinds(u8);

impl Kinds {
    /// These kinds.
    pub fn of(kinds: &[Kind]) -> Kinds {
        Kinds(kinds.iter().fold(0, |bits, k| bits | k.bit()))
    }

    /// Whether the set holds `kind`.
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// The kinds' column values, for a query.
    pub fn names(self) -> Vec<&'static str> {
        Kind::ALL
            .into_iter()
            .filter(|k| self.contains(*k))
            .map(Kind::name)
            .collect()
    }
}

/// One committed outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Outbox sequence number, the subscription cursor.
    pub seq: i64,
    /// What happened.
    pub kind: Kind,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// Party country code, as first spelled.
    pub country_code: Option<String>,
    /// Party id, as first spelled.
    pub party_id: Option<String>,
    /// Location row, when the event concerns one.
    pub location_pk: Option<i64>,
    /// EVSE row, when the event concerns one.
    pub evse_pk: Option<i64>,
    /// Session row, when the event concerns one.
    pub session_pk: Option<i64>,
    /// The event JSON; `Null` if the stored text does not parse.
    pub payload: Value,
    /// What filters compare, read from the payload.
    pub facts: Facts,
}

/// The fields of an event that subscription filters compare; ids are upper-cased keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The location's OCPI id, as a key.
    pub location_id: Option<String>,
    /// The EVSE uid, as a key.
    pub evse_uid: Option<String>,
    /// The session's OCPI id, as a key.
    pub session_id: Option<String>,
    /// The EVSE's or session's status, as sent.
    pub status: Option<String>,
    /// The location's city, as sent.
    pub city: Option<String>,
    /// The location's (latitude, longitude) in degrees.
    pub coordinates: Option<(f64, f64)>,
}

impl Facts {
    /// Reads the facts of a payload of this kind.
    pub fn read(kind: Kind, payload: &Value) -> Facts {
        let text = |field: &str| payload.get(field).and_then(Value::as_str);
        let session_field = match kind {
            Kind::SessionUpdated | Kind::CdrReceived => text("session_id"),
            _ => None,
        };
        Facts {
            location_id: text("location_id").map(key),
            evse_uid: text("evse_uid").map(key),
            session_id: session_field.map(key),
            status: text("status").map(str::to_owned),
            city: text("city").map(str::to_owned),
            coordinates: degrees(payload.get("latitude")).zip(degrees(payload.get("longitude"))),
        }
    }
}

/// A coordinate written as a JSON number or a numeric string.
fn degrees(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Event {
    /// Reads an outbox row.
    pub fn from_row(row: entity::outbox::Model) -> Event {
        let payload = serde_json::from_str(&row.payload).unwrap_or_else(|err| {
            tracing::warn!(outbox.seq = row.seq, error = %err, "outbox payload is not JSON");
            Value::Null
        });
        let kind = Kind::parse(&row.kind);
        Event {
            seq: row.seq,
            kind,
            created_at: row.created_at,
            country_code: row.country_code,
            party_id: row.party_id,
            location_pk: row.location_pk,
            evse_pk: row.evse_pk,
            session_pk: row.session_pk,
            facts: Facts::read(kind, &payload),
            payload,
        }
    }

    /// A text field of the payload.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.payload.get(field).and_then(Value::as_str)
    }

    /// Events with the same key describe the latest state of one object, so a
    /// subscriber that falls behind needs only the newest of them. CDRs and
    /// notifications are each their own object and are never merged.
    pub fn conflation_key(&self) -> Option<(Kind, i64)> {
        let pk = match self.kind {
            Kind::EvseStatusChanged => self.evse_pk,
            Kind::LocationChanged => self.location_pk,
            Kind::SessionUpdated => self.session_pk,
            _ => None,
        };
        pk.map(|pk| (self.kind, pk))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_other() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), kind);
        }
        assert_eq!(Kind::parse("TARIFF_CHANGED"), Kind::Other);
        let set = Kinds::of(&[Kind::CdrReceived, Kind::SessionUpdated]);
        assert!(set.contains(Kind::CdrReceived));
        assert!(!set.contains(Kind::EvseStatusChanged));
        assert_eq!(set.names(), ["SESSION_UPDATED", "CDR_RECEIVED"]);
    }

    #[test]
    fn facts_are_read_as_keys_with_coordinates_in_either_spelling() {
        let payload = json!({
            "location_id": "loc-1", "evse_uid": "be-bec-e1", "status": "CHARGING",
            "city": "Gent", "latitude": "51.047599", "longitude": 3.729944
        });
        let facts = Facts::read(Kind::EvseStatusChanged, &payload);
        assert_eq!(facts.location_id.as_deref(), Some("LOC-1"));
        assert_eq!(facts.evse_uid.as_deref(), Some("BE-BEC-E1"));
        assert_eq!(facts.status.as_deref(), Some("CHARGING"));
        assert_eq!(facts.coordinates, Some((51.047599, 3.729944)));
        assert_eq!(facts.session_id, None);

        let cdr = Facts::read(Kind::CdrReceived, &json!({"session_id": "s1"}));
        assert_eq!(cdr.session_id.as_deref(), Some("S1"));
        assert_eq!(cdr.coordinates, None);
    }
}
