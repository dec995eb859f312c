//! UTC timestamps at millisecond precision, parsed leniently from what OCPI peers send.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeDelta, Utc};
use serde::{Serialize, Serializer};

/// The shape every accepted date-time has, quoted in format errors.
const EXPECTED: &str = "expected YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]";

/// Longest slice of the input echoed back in an error, so hostile input cannot bloat logs.
const MAX_ECHO: usize = 64;

/// Why a date-time string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The input was empty or only whitespace.
    #[error("invalid date-time: empty string; {EXPECTED}")]
    Empty,
    /// The input does not have the date-time shape.
    #[error("invalid date-time {0:?}: {EXPECTED}")]
    Format(String),
    /// The date part names no calendar day.
    #[error("invalid date-time {0:?}: no such calendar date")]
    Date(String),
    /// The hour, minute or second is out of range.
    #[error(
        "invalid date-time {0:?}: time of day out of range (hour 00-23, minute and second 00-59)"
    )]
    TimeOfDay(String),
    /// The fraction of a second has more than 9 digits.
    #[error("invalid date-time {0:?}: more than 9 fraction-of-second digits")]
    Fraction(String),
    /// The UTC offset is out of range.
    #[error("invalid date-time {0:?}: UTC offset out of range (at most ±23:59)")]
    Offset(String),
    /// The instant cannot be represented once converted to UTC.
    #[error("invalid date-time {0:?}: instant out of representable range")]
    Range(String),
}

/// A UTC instant truncated to whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// The outcome of [`parse`], with flags on how lenient the parse had to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The instant, in UTC, truncated to milliseconds.
    pub at: Timestamp,
    /// True when the input carried a non-zero offset that was converted to UTC.
    pub offset_converted: bool,
    /// True when the input had no zone designator and was taken as UTC.
    pub zone_missing: bool,
}

impl Timestamp {
    /// The current instant, truncated to milliseconds.
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncating it to milliseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Timestamp {
        Timestamp(dt.trunc_subsecs(3))
    }

    /// The instant as a chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// The instant at `ms` milliseconds since the Unix epoch, if chrono can represent it.
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        DateTime::from_timestamp_millis(ms).map(Timestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S"))?;
        let ms = self.0.timestamp_subsec_millis();
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time the way OCPI peers actually write them.
pub fn parse(s: &str) -> Result<Parsed, TimeError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(TimeError::Empty);
    }
    let fields = scan(text)?;
    let naive = build_naive(&fields, text)?;
    let offset = fields.offset_secs.unwrap_or(0);
    let utc = naive
        .checked_sub_signed(TimeDelta::seconds(i64::from(offset)))
        .ok_or_else(|| TimeError::Range(echo(text)))?;
    Ok(Parsed {
        at: Timestamp::from_datetime(utc.and_utc()),
        offset_converted: offset != 0,
        zone_missing: fields.offset_secs.is_none(),
    })
}

/// The raw numbers read from the text, not yet checked against the calendar.
struct Fields {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    offset_secs: Option<i32>,
}

/// Reads the fields in order, failing on the first byte that does not fit the shape.
fn scan(text: &str) -> Result<Fields, TimeError> {
    let bad = || TimeError::Format(echo(text));
    let mut c = Cursor::new(text);
    let year = c.digits(4).ok_or_else(bad)?;
    let month = c.after(b'-').and_then(|c| c.digits(2)).ok_or_else(bad)?;
    let day = c.after(b'-').and_then(|c| c.digits(2)).ok_or_else(bad)?;
    if !c.eat_any(b"Tt ") {
        return Err(bad());
    }
    let hour = c.digits(2).ok_or_else(bad)?;
    let minute = c.after(b':').and_then(|c| c.digits(2)).ok_or_else(bad)?;
    let second = c.after(b':').and_then(|c| c.digits(2)).ok_or_else(bad)?;
    let nanos = scan_fraction(&mut c, text)?;
    let offset_secs = scan_zone(&mut c, text)?;
    Ok(Fields {
        // Four digits always fit in i32.
        year: year as i32,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset_secs,
    })
}

/// Reads an optional `.digits` fraction as nanoseconds.
fn scan_fraction(c: &mut Cursor<'_>, text: &str) -> Result<u32, TimeError> {
    if !c.eat(b'.') {
        return Ok(0);
    }
    let digits = c.take_digits();
    match digits.len() {
        0 => Err(TimeError::Format(echo(text))),
        1..=9 => Ok(digits
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(9)
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))),
        _ => Err(TimeError::Fraction(echo(text))),
    }
}

/// Reads the zone designator; `None` means there was none.
fn scan_zone(c: &mut Cursor<'_>, text: &str) -> Result<Option<i32>, TimeError> {
    let bad = || TimeError::Format(echo(text));
    let offset = match c.next() {
        None => return Ok(None),
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = c.digits(2).ok_or_else(bad)?;
            c.eat(b':');
            let minutes = c.digits(2).ok_or_else(bad)?;
            if hours > 23 || minutes > 59 {
                return Err(TimeError::Offset(echo(text)));
            }
            // Both parts were bounds-checked above, so the cast cannot wrap.
            let secs = (hours * 3600 + minutes * 60) as i32;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return Err(bad()),
    };
    if c.at_end() {
        Ok(Some(offset))
    } else {
        Err(bad())
    }
}

/// Checks the fields against the calendar and the clock.
fn build_naive(f: &Fields, text: &str) -> Result<NaiveDateTime, TimeError> {
    let date = NaiveDate::from_ymd_opt(f.year, f.month, f.day)
        .ok_or_else(|| TimeError::Date(echo(text)))?;
    // Second 60 is refused: chrono would need a leap-second encoding nothing downstream expects.
    if f.hour > 23 || f.minute > 59 || f.second > 59 {
        return Err(TimeError::TimeOfDay(echo(text)));
    }
    let time = NaiveTime::from_hms_nano_opt(f.hour, f.minute, f.second, f.nanos)
        .ok_or_else(|| TimeError::TimeOfDay(echo(text)))?;
    Ok(date.and_time(time))
}

/// A bounded copy of the input for error messages.
fn echo(text: &str) -> String {
    text.chars().take(MAX_ECHO).collect()
}

/// A forward-only reader over the input bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.pos).copied();
        self.pos += usize::from(b.is_some());
        b
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn eat(&mut self, want: u8) -> bool {
        self.eat_any(&[want])
    }

    fn eat_any(&mut self, allowed: &[u8]) -> bool {
        match self.bytes.get(self.pos) {
            Some(b) if allowed.contains(b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes `want` and hands the cursor back for chaining, or `None`.
    fn after(&mut self, want: u8) -> Option<&mut Self> {
        self.eat(want).then_some(self)
    }

    /// Reads exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos = end;
        Some(
            slice
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
        )
    }

    /// Reads a run of ASCII digits of any length.
    fn take_digits(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, FixedOffset, TimeZone};
    use proptest::prelude::*;

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Timestamp {
        let dt = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
            + TimeDelta::milliseconds(i64::from(ms));
        Timestamp::from_datetime(dt)
    }

    fn ok(s: &str) -> Parsed {
        parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn check(s: &str, want: Timestamp, converted: bool, missing: bool) {
        let p = ok(s);
        assert_eq!(p.at, want, "{s:?}");
        assert_eq!(p.offset_converted, converted, "offset_converted for {s:?}");
        assert_eq!(p.zone_missing, missing, "zone_missing for {s:?}");
    }

    #[test]
    fn accepts_utc_designators() {
        let want = ts(2015, 6, 29, 20, 39, 9, 0);
        for s in [
            "2015-06-29T20:39:09Z",
            "2015-06-29T20:39:09z",
            "2015-06-29T20:39:09+00:00",
            "2015-06-29T20:39:09-00:00",
            "2015-06-29T20:39:09+0000",
        ] {
            check(s, want, false, false);
        }
    }

    #[test]
    fn converts_offsets_to_utc() {
        check(
            "2015-06-29T22:39:09+02:00",
            ts(2015, 6, 29, 20, 39, 9, 0),
            true,
            false,
        );
        check(
            "2015-06-29T22:39:09+0200",
            ts(2015, 6, 29, 20, 39, 9, 0),
            true,
            false,
        );
        check(
            "2015-06-29T20:09:09-05:30",
            ts(2015, 6, 30, 1, 39, 9, 0),
            true,
            false,
        );
        check(
            "2024-01-01T00:30:00+01:00",
            ts(2023, 12, 31, 23, 30, 0, 0),
            true,
            false,
        );
    }

    #[test]
    fn missing_zone_is_utc() {
        check(
            "2015-06-29T20:39:09",
            ts(2015, 6, 29, 20, 39, 9, 0),
            false,
            true,
        );
        check(
            "2015-06-29T20:39:09.5",
            ts(2015, 6, 29, 20, 39, 9, 500),
            false,
            true,
        );
    }

    #[test]
    fn accepts_space_lowercase_t_and_whitespace() {
        let want = ts(2015, 6, 29, 20, 39, 9, 0);
        check("2015-06-29 20:39:09Z", want, false, false);
        check("2015-06-29t20:39:09Z", want, false, false);
        check("  2015-06-29T20:39:09Z\n\t", want, false, false);
    }

    #[test]
    fn fractions_truncate_to_millis() {
        let cases = [
            ("2023-05-31T08:52:26.0000000+00:00", 0),
            ("2015-06-29T20:39:09.123456789Z", 123),
            ("2015-06-29T20:39:09.9999Z", 999),
            ("2015-06-29T20:39:09.1Z", 100),
            ("2015-06-29T20:39:09.12Z", 120),
            ("2015-06-29T20:39:09.000999999Z", 0),
        ];
        for (s, ms) in cases {
            let at = ok(s).at;
            assert_eq!(at.as_datetime().timestamp_subsec_millis(), ms, "{s:?}");
            assert_eq!(at.as_datetime().timestamp_subsec_nanos(), ms * 1_000_000);
        }
        assert_eq!(
            ok("2023-05-31T08:52:26.0000000+00:00").at,
            ts(2023, 5, 31, 8, 52, 26, 0)
        );
    }

    #[test]
    fn rejects_with_named_reason() {
        let e = String::new;
        let cases = [
            ("", TimeError::Empty),
            ("   ", TimeError::Empty),
            ("garbage", TimeError::Format(e())),
            ("2023-02-30T00:00:00Z", TimeError::Date(e())),
            ("2023-13-01T00:00:00Z", TimeError::Date(e())),
            ("2023-01-01T24:00:00Z", TimeError::TimeOfDay(e())),
            ("2023-01-01T23:60:00Z", TimeError::TimeOfDay(e())),
            ("2023-01-01T23:59:60Z", TimeError::TimeOfDay(e())),
            ("2023-01-01T00:00:00.1234567890Z", TimeError::Fraction(e())),
            ("2023-01-01T00:00:00.Z", TimeError::Format(e())),
            ("2023-01-01T00:00:00+24:00", TimeError::Offset(e())),
            ("2023-01-01T00:00:00+02:60", TimeError::Offset(e())),
            ("2023-01-01T00:00:00+02", TimeError::Format(e())),
            ("2023-01-01T00:00:00Zjunk", TimeError::Format(e())),
            ("2023-01-01", TimeError::Format(e())),
            ("2023-01-01T00:00", TimeError::Format(e())),
            ("23-01-01T00:00:00Z", TimeError::Format(e())),
            ("2023-01-01T00:00:00 Z", TimeError::Format(e())),
        ];
        for (s, want) in cases {
            let err = parse(s).expect_err(s);
            let same = std::mem::discriminant(&err) == std::mem::discriminant(&want);
            assert!(same, "{s:?} gave {err:?}, wanted {want:?}");
        }
    }

    #[test]
    fn error_messages_name_the_problem() {
        assert_eq!(
            parse("garbage").unwrap_err().to_string(),
            "invalid date-time \"garbage\": expected YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]"
        );
        assert_eq!(
            parse("2023-02-30T00:00:00Z").unwrap_err().to_string(),
            "invalid date-time \"2023-02-30T00:00:00Z\": no such calendar date"
        );
        assert!(parse("").unwrap_err().to_string().contains("empty"));
        let long = "x".repeat(1000);
        assert!(parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn display_shows_millis_only_when_nonzero() {
        assert_eq!(
            ts(2015, 6, 29, 20, 39, 9, 0).to_string(),
            "2015-06-29T20:39:09Z"
        );
        assert_eq!(
            ts(2015, 6, 29, 20, 39, 9, 7).to_string(),
            "2015-06-29T20:39:09.007Z"
        );
        assert_eq!(
            ts(2015, 6, 29, 20, 39, 9, 120).to_string(),
            "2015-06-29T20:39:09.120Z"
        );
    }

    #[test]
    fn serializes_as_display_string() {
        let t = ts(2015, 6, 29, 20, 39, 9, 120);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2015-06-29T20:39:09.120Z\""
        );
    }

    #[test]
    fn millis_round_trip_and_truncation() {
        let t = Timestamp::from_millis(1_435_610_349_123).unwrap();
        assert_eq!(t.millis(), 1_435_610_349_123);
        assert_eq!(t, ts(2015, 6, 29, 20, 39, 9, 123));
        let fine = DateTime::from_timestamp(1_435_610_349, 123_999_999).unwrap();
        assert_eq!(Timestamp::from_datetime(fine), t);
        assert_eq!(
            Timestamp::now().as_datetime().timestamp_subsec_nanos() % 1_000_000,
            0
        );
    }

    /// Last millisecond of year 9999.
    const MAX_MS: i64 = 253_402_300_799_999;

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_near_misses(s in "[0-9 :.+Tz-]{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn display_round_trips(ms in 0..=MAX_MS) {
            let t = Timestamp::from_millis(ms).unwrap();
            let p = parse(&t.to_string()).unwrap();
            prop_assert_eq!(p.at, t);
            prop_assert!(!p.offset_converted && !p.zone_missing);
        }

        #[test]
        fn offsets_and_fractions_parse_to_truncated_utc(
            // Leaves a day of margin so local time stays within four-digit years.
            secs in 86_400i64..(MAX_MS / 1000 - 86_400),
            nanos in 0u32..1_000_000_000,
            offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
            digits in 0usize..=9,
            colon in any::<bool>(),
            space in any::<bool>(),
        ) {
            let utc = DateTime::from_timestamp(secs, nanos).unwrap();
            let zone = FixedOffset::east_opt(offset_min * 60).unwrap();
            let local = utc.with_timezone(&zone);
            let text = format_with(&local, digits, offset_min, colon, space);
            let p = parse(&text).unwrap();
            let kept = nanos - nanos % 10u32.pow(9 - digits as u32);
            let want = DateTime::from_timestamp(secs, kept).unwrap();
            prop_assert_eq!(p.at, Timestamp::from_datetime(want), "{}", text);
            prop_assert_eq!(p.offset_converted, offset_min != 0);
            prop_assert!(local.year() <= 9999);
        }
    }

    fn format_with(
        local: &DateTime<FixedOffset>,
        digits: usize,
        offset_min: i32,
        colon: bool,
        space: bool,
    ) -> String {
        let sep = if space { ' ' } else { 'T' };
        let mut s = local.format(&format!("%Y-%m-%d{sep}%H:%M:%S")).to_string();
        if digits > 0 {
            let frac = format!("{:09}", local.timestamp_subsec_nanos());
            s.push('.');
            s.push_str(&frac[..digits]);
        }
        let sign = if offset_min < 0 { '-' } else { '+' };
        let (h, m) = (offset_min.abs() / 60, offset_min.abs() % 60);
        let c = if colon { ":" } else { "" };
        s.push_str(&format!("{sign}{h:02}{c}{m:02}"));
        s
    }
}
