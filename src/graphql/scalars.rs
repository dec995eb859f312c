//! Scalars and enums shared by the schema: DateTime, Decimal, EvseStatus.

use async_graphql::{Enum, InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::{time, Micros, Timestamp};

/// A UTC instant, `YYYY-MM-DDTHH:MM:SSZ` with `.sss` only when not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

/// A UTC instant, `YYYY-MM-DDTHH:MM:SSZ` with `.sss` only when not zero.
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(text) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        let parsed = time::parse(text).map_err(InputValueError::custom)?;
        Ok(DateTime(parsed.at.as_datetime()))
    }

    fn to_value(&self) -> Value {
        Value::String(Timestamp::from_datetime(self.0).to_string())
    }
}

/// An exact decimal number, serialised as a string ("11.2") so no float rounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal(pub Micros);

/// An exact decimal number, serialised as a string ("11.2") so no float rounds it.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let micros = match &value {
            Value::String(text) => Micros::parse_str(text),
            Value::Number(n) => Micros::parse_str(&n.to_string()),
            _ => return Err(InputValueError::expected_type(value)),
        };
        micros.map(Decimal).map_err(InputValueError::custom)
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_decimal().to_string())
    }
}

/// Wraps an optional micro-unit column for output.
pub fn decimal(micros: Option<i64>) -> Option<Decimal> {
    micros.map(|m| Decimal(Micros(m)))
}

/// Wraps an optional timestamp column for output.
pub fn datetime(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<DateTime> {
    at.map(DateTime)
}

/// OCPI EVSE status; values this version does not know are OTHER (the raw value is kept).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvseStatus {
    /// Free to start a new session.
    Available,
    /// Blocked by an obstacle, e.g. a parked car.
    Blocked,
    /// In use.
    Charging,
    /// Not usable, e.g. disabled by the operator.
    Inoperative,
    /// Broken.
    Outoforder,
    /// Being built.
    Planned,
    /// Taken away.
    Removed,
    /// Reserved for a driver.
    Reserved,
    /// No status known.
    Unknown,
    /// A status outside the OCPI list; see `statusRaw`.
    Other,
}

impl EvseStatus {
    /// Maps a raw OCPI status, whatever its case, never failing.
    pub fn from_raw(raw: &str) -> EvseStatus {
        match raw.trim().to_ascii_uppercase().as_str() {
            "AVAILABLE" => EvseStatus::Available,
            "BLOCKED" => EvseStatus::Blocked,
            "CHARGING" => EvseStatus::Charging,
            "INOPERATIVE" => EvseStatus::Inoperative,
            "OUTOFORDER" => EvseStatus::Outoforder,
            "PLANNED" => EvseStatus::Planned,
            "REMOVED" => EvseStatus::Removed,
            "RESERVED" => EvseStatus::Reserved,
            "UNKNOWN" => EvseStatus::Unknown,
            _ => EvseStatus::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_statuses_map_case_insensitively_and_unknown_ones_to_other() {
        assert_eq!(EvseStatus::from_raw("AVAILABLE"), EvseStatus::Available);
        assert_eq!(EvseStatus::from_raw("outoforder"), EvseStatus::Outoforder);
        assert_eq!(EvseStatus::from_raw("SUSPENDED_EV"), EvseStatus::Other);
    }

    #[test]
    fn decimals_print_without_trailing_zeros() {
        assert_eq!(Decimal(Micros(11_200_000)).to_value(), Value::from("11.2"));
        assert_eq!(Decimal(Micros(300_000)).to_value(), Value::from("0.3"));
        assert_eq!(Decimal(Micros(5_000_000)).to_value(), Value::from("5"));
    }

    #[test]
    fn datetimes_print_millis_only_when_present() {
        let whole = chrono::DateTime::from_timestamp(1_714_564_800, 0).unwrap();
        let milli = chrono::DateTime::from_timestamp(1_714_564_800, 120_000_000).unwrap();
        assert_eq!(
            DateTime(whole).to_value(),
            Value::from("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            DateTime(milli).to_value(),
            Value::from("2024-05-01T12:00:00.120Z")
        );
    }
}
