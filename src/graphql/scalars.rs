//! Scalars shared by the schema: DateTime (RFC 3339, UTC), Decimal (a
//! string with every stored decimal) and Money (a string of at most four).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::{self, time, Micros, Timestamp};

pub use super::enums::EvseStatus;

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
        parse_micros(value).map(Decimal)
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_decimal().to_string())
    }
}

/// Reads a Decimal or Money input: a decimal string or a number.
fn parse_micros<T: async_graphql::InputType>(value: Value) -> Result<Micros, InputValueError<T>> {
    let micros = match &value {
        Value::String(text) => Micros::parse_str(text),
        Value::Number(n) => Micros::parse_str(&n.to_string()),
        _ => return Err(InputValueError::expected_type(value)),
    };
    micros.map_err(InputValueError::custom)
}

/// A money amount (a cost or a price), serialised as a string rounded half
/// away from zero to at most four decimals ("1.2346").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub domain::Money);

/// A money amount (a cost or a price), serialised as a string rounded half
/// away from zero to at most four decimals ("1.2346"); the raw JSON keeps
/// the value as sent.
#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        parse_micros(value).map(|m| Money(domain::Money(m)))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Wraps an optional micro-unit column of money for output.
pub fn money(micros: Option<i64>) -> Option<Money> {
    domain::Money::of(micros).map(Money)
}

/// Wraps an optional micro-unit column for output.
pub fn decimal(micros: Option<i64>) -> Option<Decimal> {
    micros.map(|m| Decimal(Micros(m)))
}

/// Wraps an optional timestamp column for output.
pub fn datetime(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<DateTime> {
    at.map(DateTime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_without_trailing_zeros() {
        assert_eq!(Decimal(Micros(11_200_000)).to_value(), Value::from("11.2"));
        assert_eq!(Decimal(Micros(300_000)).to_value(), Value::from("0.3"));
        assert_eq!(Decimal(Micros(5_000_000)).to_value(), Value::from("5"));
    }

    #[test]
    fn money_prints_at_most_four_decimals() {
        let money = |m: i64| Money(domain::Money(Micros(m))).to_value();
        assert_eq!(money(1_234_567), Value::from("1.2346"));
        assert_eq!(money(-1_234_450), Value::from("-1.2345"));
        assert_eq!(money(4_000_000), Value::from("4"));
        assert_eq!(
            Decimal(Micros(12_345_678_123_456)).to_value(),
            Value::from("12345678.123456")
        );
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
