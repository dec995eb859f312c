//! Exact fixed-point quantities with six decimals, read from the loose numbers OCPI peers send.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Number, Value};

/// Decimal places held by [`Micros`].
const SCALE: u32 = 6;

/// Decimal places money is presented with (DESIGN.md: "money presented to at most 4").
pub const MONEY_DECIMALS: u32 = 4;

/// Micro-units per whole unit.
const UNIT: i128 = 1_000_000;

/// Most integer digits a value inside i64 micro-units can have (i64::MAX / 10^6 ≈ 9.2e12).
const MAX_INT_DIGITS: i64 = 13;

/// Fraction digits kept before rounding; truncating at 7 or more never changes a 6-decimal
/// half-away-from-zero result, and 13 + 15 digits always fit in a Decimal.
const KEPT_FRACTION_DIGITS: usize = 15;

/// Why a value could not be read as an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The JSON value was not a number or string.
    #[error("expected a number, found {0}")]
    WrongType(&'static str),
    /// The string was empty or only whitespace.
    #[error("expected a number, found an empty string")]
    Empty,
    /// The string is not a decimal number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// The value does not fit in i64 micro-units.
    #[error("{0} is out of range")]
    OutOfRange(String),
}

/// An exact quantity (money, kWh, hours) in millionths, as stored in BIGINT columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Micros(pub i64);

impl Micros {
    /// Reads a JSON number or numeric string, rounding half away from zero to six decimals.
    pub fn from_json(v: &Value) -> Result<Micros, AmountError> {
        match v {
            Value::Number(n) => from_number(n),
            Value::String(s) => Micros::parse_str(s),
            Value::Bool(_) => Err(AmountError::WrongType("a boolean")),
            Value::Null => Err(AmountError::WrongType("null")),
            Value::Array(_) => Err(AmountError::WrongType("an array")),
            Value::Object(_) => Err(AmountError::WrongType("an object")),
        }
    }

    /// Reads a decimal string, plain or with an exponent, rounding to six decimals.
    pub fn parse_str(s: &str) -> Result<Micros, AmountError> {
        let text = s.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let sci = Scientific::scan(text).ok_or_else(|| AmountError::NotANumber(text.into()))?;
        let plain = sci
            .to_plain()
            .ok_or_else(|| AmountError::OutOfRange(text.into()))?;
        let d =
            Decimal::from_str_exact(&plain).map_err(|_| AmountError::OutOfRange(text.into()))?;
        Micros::from_decimal(d).map_err(|_| AmountError::OutOfRange(text.into()))
    }

    /// Converts a Decimal, rounding half away from zero to six decimals.
    pub fn from_decimal(d: Decimal) -> Result<Micros, AmountError> {
        let rounded = d.round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero);
        // After rounding the scale is at most SCALE, so the shift is a whole power of ten.
        let shift = 10i128.pow(SCALE.saturating_sub(rounded.scale()));
        rounded
            .mantissa()
            .checked_mul(shift)
            .and_then(|m| i64::try_from(m).ok())
            .map(Micros)
            .ok_or_else(|| AmountError::OutOfRange(d.to_string()))
    }

    /// The exact value as a Decimal with trailing zeros removed.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE).normalize()
    }

    /// The value rounded half away from zero to `dp` decimals, for
    /// presentation, with trailing zeros removed.
    pub fn round_dp(self, dp: u32) -> Decimal {
        self.to_decimal()
            .round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    }

    /// Adds two amounts, or `None` on overflow.
    pub fn checked_add(self, other: Micros) -> Option<Micros> {
        self.0.checked_add(other.0).map(Micros)
    }
}

/// A money amount (a cost or a price). It is stored exactly, in micro-units
/// like every [`Micros`], and presented rounded half away from zero to
/// [`MONEY_DECIMALS`]: the one place where money is told apart from energy
/// and time, which are presented with all six decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub Micros);

impl Money {
    /// Money from an optional micro-unit column.
    pub fn of(micros: Option<i64>) -> Option<Money> {
        micros.map(|m| Money(Micros(m)))
    }

    /// The presented value: at most four decimals, trailing zeros removed.
    pub fn to_decimal(self) -> Decimal {
        self.0.round_dp(MONEY_DECIMALS)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_decimal(), f)
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_decimal(), f)
    }
}

impl FromStr for Micros {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Micros::parse_str(s)
    }
}

/// Converts a JSON number: integers exactly, floats via their shortest round-trip text.
fn from_number(n: &Number) -> Result<Micros, AmountError> {
    let out_of_range = || AmountError::OutOfRange(n.to_string());
    let whole = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    if let Some(w) = whole {
        return w
            .checked_mul(UNIT)
            .and_then(|m| i64::try_from(m).ok())
            .map(Micros)
            .ok_or_else(out_of_range);
    }
    let f = n.as_f64().ok_or_else(out_of_range)?;
    // f64's Display is the shortest text that round-trips, so float noise like
    // 0.30000000000000004 survives only in digits the rounding then drops.
    Micros::parse_str(&f.to_string()).map_err(|_| AmountError::OutOfRange(float_text(f)))
}

/// Shortest text for a float in an error, in exponent form once it gets long.
fn float_text(f: f64) -> String {
    if f.abs() < 1e16 {
        f.to_string()
    } else {
        format!("{f:e}")
    }
}

/// A decimal number split into sign, significant digits and the decimal point's position.
struct Scientific {
    negative: bool,
    /// ASCII digits with leading zeros removed; empty means zero.
    digits: Vec<u8>,
    /// How many of `digits` stand before the decimal point; may be negative or past the end.
    point: i64,
}

impl Scientific {
    /// Recognises `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one mantissa digit.
    fn scan(text: &str) -> Option<Scientific> {
        let (negative, rest) = split_sign(text.as_bytes());
        let (int, rest) = split_digits(rest);
        let (frac, rest) = match rest.split_first() {
            Some((b'.', after)) => split_digits(after),
            _ => (&[][..], rest),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let exp = scan_exponent(rest)?;
        let mut digits: Vec<u8> = int.iter().chain(frac).copied().collect();
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        digits.drain(..leading);
        // Each stripped leading zero moves the point one place left within `digits`.
        let point = len_i64(int.len())
            .saturating_sub(len_i64(leading))
            .saturating_add(exp);
        Some(Scientific {
            negative,
            digits,
            point,
        })
    }

    /// Spells the number without an exponent, or `None` when it cannot fit in [`Micros`].
    fn to_plain(&self) -> Option<String> {
        if self.digits.is_empty() || self.point < -(SCALE as i64) - 1 {
            // Below 10^-8 in magnitude, so it rounds to zero at six decimals.
            return Some("0".into());
        }
        if self.point > MAX_INT_DIGITS {
            return None;
        }
        let mut out = String::from(if self.negative { "-" } else { "" });
        let ascii = |d: &[u8]| String::from_utf8_lossy(d).into_owned();
        if self.point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat(self.point.unsigned_abs() as usize));
            out.push_str(&ascii(&self.digits));
        } else {
            let p = self.point as usize;
            let int_end = p.min(self.digits.len());
            out.push_str(&ascii(&self.digits[..int_end]));
            out.push_str(&"0".repeat(p - int_end));
            out.push('.');
            out.push_str(&ascii(&self.digits[int_end..]));
        }
        Some(truncate_fraction(out))
    }
}

/// Drops fraction digits past [`KEPT_FRACTION_DIGITS`] so the text fits a Decimal exactly.
fn truncate_fraction(mut plain: String) -> String {
    if let Some(dot) = plain.find('.') {
        plain.truncate(dot + 1 + KEPT_FRACTION_DIGITS.min(plain.len() - dot - 1));
        if plain.ends_with('.') {
            plain.pop();
        }
    }
    plain
}

/// Reads an optional exponent that must end the text; saturates rather than overflowing.
fn scan_exponent(rest: &[u8]) -> Option<i64> {
    let Some((first, after)) = rest.split_first() else {
        return Some(0);
    };
    if !matches!(first, b'e' | b'E') {
        return None;
    }
    let (negative, after) = split_sign(after);
    let (digits, tail) = split_digits(after);
    if digits.is_empty() || !tail.is_empty() {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if negative { -magnitude } else { magnitude })
}

fn split_sign(b: &[u8]) -> (bool, &[u8]) {
    match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    }
}

fn split_digits(b: &[u8]) -> (&[u8], &[u8]) {
    let n = b.iter().take_while(|d| d.is_ascii_digit()).count();
    b.split_at(n)
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn js(text: &str) -> Result<Micros, AmountError> {
        Micros::from_json(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn float_noise_rounds_away() {
        let m = Micros::from_json(&json!(0.1 + 0.2)).unwrap();
        assert_eq!(m, Micros(300_000));
        assert_eq!(m.to_string(), "0.3");
        assert_eq!(js("0.30000000000000004").unwrap().to_string(), "0.3");
    }

    #[test]
    fn accepts_numbers_in_all_json_forms() {
        assert_eq!(js("12345678.123456").unwrap(), Micros(12_345_678_123_456));
        assert_eq!(js("1.5e3").unwrap(), Micros(1_500_000_000));
        assert_eq!(js("2E-2").unwrap(), Micros(20_000));
        assert_eq!(js("7").unwrap(), Micros(7_000_000));
        assert_eq!(js("-7").unwrap(), Micros(-7_000_000));
        assert_eq!(js("0.0000004").unwrap(), Micros(0));
        assert_eq!(js("0.0000005").unwrap(), Micros(1));
        assert_eq!(js("-0.0").unwrap(), Micros(0));
        assert_eq!(js("5e-324").unwrap(), Micros(0));
    }

    #[test]
    fn accepts_numeric_strings() {
        assert_eq!(js("\"2.00\"").unwrap(), Micros(2_000_000));
        assert_eq!(js("\" 3.5 \"").unwrap(), Micros(3_500_000));
        assert_eq!(js("\"1e3\"").unwrap(), Micros(1_000_000_000));
        assert_eq!(Micros::parse_str("-0.0000005"), Ok(Micros(-1)));
        assert_eq!(Micros::parse_str("0.0000004999999999"), Ok(Micros(0)));
        assert_eq!(Micros::parse_str("1.23456750"), Ok(Micros(1_234_568)));
        assert_eq!(Micros::parse_str("+.5"), Ok(Micros(500_000)));
        assert_eq!(Micros::parse_str("5."), Ok(Micros(5_000_000)));
        assert_eq!(Micros::parse_str("0001.5E+1"), Ok(Micros(15_000_000)));
        assert_eq!(Micros::parse_str("12e-8"), Ok(Micros(0)));
        assert_eq!(Micros::parse_str("123456789e-13"), Ok(Micros(12)));
        assert_eq!(
            Micros::parse_str("0.1234564999999999999999999999999999"),
            Ok(Micros(123_456))
        );
        assert_eq!(Micros::parse_str("1e-99999999999999999999"), Ok(Micros(0)));
        assert_eq!(Micros::parse_str("0e99999"), Ok(Micros(0)));
    }

    #[test]
    fn range_limits() {
        assert_eq!(
            Micros::parse_str("9223372036854.775807"),
            Ok(Micros(i64::MAX))
        );
        assert_eq!(
            Micros::parse_str("-9223372036854.775808"),
            Ok(Micros(i64::MIN))
        );
        assert!(Micros::parse_str("9223372036854.7758075").is_err());
        assert!(Micros::parse_str("1e99999999999999999999").is_err());
    }

    #[test]
    fn rejections_say_what_was_found() {
        let msg = |v: Value| Micros::from_json(&v).unwrap_err().to_string();
        assert_eq!(msg(json!(true)), "expected a number, found a boolean");
        assert_eq!(msg(json!(null)), "expected a number, found null");
        assert_eq!(msg(json!([1])), "expected a number, found an array");
        assert_eq!(msg(json!({"a": 1})), "expected a number, found an object");
        assert_eq!(msg(json!("abc")), "\"abc\" is not a number");
        assert_eq!(msg(json!("")), "expected a number, found an empty string");
        assert_eq!(msg(json!(1e30)), "1e30 is out of range");
        assert_eq!(msg(json!(u64::MAX)), "18446744073709551615 is out of range");
        assert_eq!(msg(json!("1e30")), "1e30 is out of range");
        for s in [
            "NaN",
            "nan",
            "inf",
            "-Infinity",
            "1_000",
            "1 000",
            "0x10",
            "1e",
            "e5",
            ".",
            "-",
            "1.2.3",
        ] {
            assert!(
                matches!(Micros::parse_str(s), Err(AmountError::NotANumber(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn decimal_views_are_normalised() {
        assert_eq!(Micros(2_000_000).to_decimal().to_string(), "2");
        assert_eq!(
            Micros(12_345_678_123_456).to_decimal().to_string(),
            "12345678.123456"
        );
        assert_eq!(Micros(-1_500_000).to_string(), "-1.5");
        assert_eq!(Micros(11_200_000).to_string(), "11.2");
        assert_eq!(Micros(0).to_string(), "0");
        assert_eq!(Micros(1).to_string(), "0.000001");
    }

    #[test]
    fn round_dp_for_money() {
        assert_eq!(Micros(1_234_550).round_dp(4).to_string(), "1.2346");
        assert_eq!(Micros(-1_234_550).round_dp(4).to_string(), "-1.2346");
        assert_eq!(Micros(2_000_000).round_dp(4).to_string(), "2");
        assert_eq!(Micros(1_000_049).round_dp(4).to_string(), "1");
    }

    #[test]
    fn money_is_presented_to_four_decimals_half_away_from_zero() {
        let shown = |m: i64| Money(Micros(m)).to_string();
        assert_eq!(shown(1_234_567), "1.2346");
        assert_eq!(shown(-1_234_567), "-1.2346");
        // A tie goes away from zero, not to the even digit.
        assert_eq!(shown(1_234_450), "1.2345");
        assert_eq!(shown(-1_234_450), "-1.2345");
        assert_eq!(shown(1_234_449), "1.2344");
        assert_eq!(shown(50), "0.0001");
        assert_eq!(shown(-49), "0");
        assert_eq!(shown(10_123_400), "10.1234");
        assert_eq!(shown(4_000_000), "4");
        assert_eq!(Money::of(None), None);
        assert_eq!(Money::of(Some(3_333_333)).unwrap().to_string(), "3.3333");
    }

    #[test]
    fn from_decimal_rounds_and_checks_range() {
        let d = Decimal::from_str("2.0000005").unwrap();
        assert_eq!(Micros::from_decimal(d), Ok(Micros(2_000_001)));
        assert!(Micros::from_decimal(Decimal::MAX).is_err());
    }

    #[test]
    fn checked_add_detects_overflow() {
        assert_eq!(Micros(1).checked_add(Micros(2)), Some(Micros(3)));
        assert_eq!(Micros(i64::MAX).checked_add(Micros(1)), None);
    }

    proptest! {
        #[test]
        fn decimal_text_round_trips(n in -9_000_000_000_000_000i64..=9_000_000_000_000_000) {
            let text = Micros(n).to_decimal().to_string();
            prop_assert_eq!(Micros::parse_str(&text), Ok(Micros(n)));
        }

        #[test]
        fn floats_round_back_to_micros(n in -999_999_999_999i64..=999_999_999_999) {
            let v = json!(n as f64 / 1e6);
            prop_assert_eq!(Micros::from_json(&v), Ok(Micros(n)));
        }

        #[test]
        fn never_panics_on_strings(s in any::<String>()) {
            let _ = Micros::parse_str(&s);
        }

        #[test]
        fn never_panics_on_numberish(s in "[-+]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][-+]?[0-9]{0,25})?") {
            let _ = Micros::parse_str(&s);
        }
    }
}
