//! Calendar periods in an IANA time zone: the time buckets of billing.
//!
//! A day starts at local midnight, an ISO week on Monday at local midnight,
//! a month on its first day at local midnight; each period's bounds are UTC
//! instants computed with the zone's rules (chrono-tz), so a day across a
//! DST change lasts 23 or 25 hours. The store assigns each CDR to a period
//! by comparing its start with these bounds in SQL.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// How long one period lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// A local calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// One calendar period: its label and its bounds `[start, end)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `2024-03-31`, `2024-W13` (ISO week-numbering year and week) or `2024-03`.
    pub label: String,
    /// The first instant of the period.
    pub start: DateTime<Utc>,
    /// The first instant of the next period.
    pub end: DateTime<Utc>,
}

/// Why periods could not be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The zone is not in the IANA database.
    #[error("unknown time zone {0:?}: expected an IANA name such as Europe/Amsterdam or UTC")]
    UnknownZone(String),
    /// `from` is not before `to`.
    #[error("`from` must be before `to`")]
    EmptyRange,
    /// The range holds more periods than allowed.
    #[error("the range spans more than {0} periods; narrow it or choose a longer period")]
    TooMany(usize),
}

/// The time zone of an IANA name (`Europe/Amsterdam`, `UTC`).
pub fn zone(name: &str) -> Result<Tz, PeriodError> {
    name.parse::<Tz>()
        .map_err(|_| PeriodError::UnknownZone(name.to_owned()))
}

/// The periods covering `[from, to)` in `tz`, in order: the first holds
/// `from`, the last holds the instant just before `to`. Periods keep their
/// calendar bounds; the range only chooses which periods there are.
pub fn periods(
    granularity: Granularity,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
) -> Result<Vec<Period>, PeriodError> {
    if from >= to {
        return Err(PeriodError::EmptyRange);
    }
    let mut date = first_day(granularity, from.with_timezone(&tz).date_naive());
    let mut start = local_midnight(tz, date);
    let mut periods = Vec::new();
    while start < to {
        if periods.len() == max {
            return Err(PeriodError::TooMany(max));
        }
        let next = advance(granularity, date);
        let end = local_midnight(tz, next);
        periods.push(Period {
            label: label(granularity, date),
            start,
            end,
        });
        (date, start) = (next, end);
    }
    Ok(periods)
}

/// The first day of the period holding `date`.
fn first_day(granularity: Granularity, date: NaiveDate) -> NaiveDate {
    match granularity {
        Granularity::Day => date,
        Granularity::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Granularity::Month => date.with_day(1).unwrap_or(date),
    }
}

/// The first day of the next period.
fn advance(granularity: Granularity, date: NaiveDate) -> NaiveDate {
    let next = match granularity {
        Granularity::Day => date.checked_add_days(Days::new(1)),
        Granularity::Week => date.checked_add_days(Days::new(7)),
        Granularity::Month => date.checked_add_months(Months::new(1)),
    };
    next.unwrap_or(NaiveDate::MAX)
}

fn label(granularity: Granularity, date: NaiveDate) -> String {
    match granularity {
        Granularity::Day => date.format("%Y-%m-%d").to_string(),
        Granularity::Week => {
            let week = date.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Granularity::Month => date.format("%Y-%m").to_string(),
    }
}

/// The instant a local day begins: midnight, the earlier midnight when the
/// clock goes back over it, or the end of the gap when a DST change skips
/// midnight (America/Santiago, Asia/Beirut), which is when the day begins.
fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(at) => at.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // The clock jumps from just before midnight, at the offset of the
            // evening before, to later in the new day: the jump is the start.
            let evening = midnight.and_utc() - chrono::Duration::hours(12);
            let before = tz.offset_from_utc_datetime(&evening.naive_utc()).fix();
            midnight.and_utc() - chrono::Duration::seconds(i64::from(before.local_minus_utc()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn amsterdam() -> Tz {
        zone("Europe/Amsterdam").unwrap()
    }

    #[test]
    fn days_across_the_spring_change_last_23_hours() {
        // CET (+01:00) until 2024-03-31 02:00 local, then CEST (+02:00).
        let days = periods(
            Granularity::Day,
            amsterdam(),
            utc("2024-03-30T12:00:00Z"),
            utc("2024-04-01T00:00:00Z"),
            10,
        )
        .unwrap();
        let bounds: Vec<_> = days
            .iter()
            .map(|p| (&p.label[..], p.start, p.end))
            .collect();
        assert_eq!(
            bounds,
            [
                (
                    "2024-03-30",
                    utc("2024-03-29T23:00:00Z"),
                    utc("2024-03-30T23:00:00Z")
                ),
                (
                    "2024-03-31",
                    utc("2024-03-30T23:00:00Z"),
                    utc("2024-03-31T22:00:00Z")
                ),
                (
                    "2024-04-01",
                    utc("2024-03-31T22:00:00Z"),
                    utc("2024-04-01T22:00:00Z")
                ),
            ]
        );
    }

    #[test]
    fn a_day_across_the_autumn_change_lasts_25_hours() {
        let days = periods(
            Granularity::Day,
            amsterdam(),
            utc("2024-10-27T00:00:00Z"),
            utc("2024-10-27T01:00:00Z"),
            10,
        )
        .unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].label, "2024-10-27");
        assert_eq!(days[0].start, utc("2024-10-26T22:00:00Z"));
        assert_eq!(days[0].end, utc("2024-10-27T23:00:00Z"));
    }

    #[test]
    fn iso_weeks_start_on_monday_and_cross_the_year() {
        // 2024-12-30 is the Monday of 2025-W01; 2021-01-03 is in 2020-W53.
        let weeks = periods(
            Granularity::Week,
            Tz::UTC,
            utc("2024-12-25T00:00:00Z"),
            utc("2025-01-07T00:00:00Z"),
            10,
        )
        .unwrap();
        let labels: Vec<_> = weeks.iter().map(|p| (&p.label[..], p.start)).collect();
        assert_eq!(
            labels,
            [
                ("2024-W52", utc("2024-12-23T00:00:00Z")),
                ("2025-W01", utc("2024-12-30T00:00:00Z")),
                ("2025-W02", utc("2025-01-06T00:00:00Z")),
            ]
        );
        let week = periods(
            Granularity::Week,
            Tz::UTC,
            utc("2021-01-03T10:00:00Z"),
            utc("2021-01-03T11:00:00Z"),
            10,
        )
        .unwrap();
        assert_eq!(week[0].label, "2020-W53");
    }

    #[test]
    fn months_start_on_the_first_at_local_midnight() {
        let months = periods(
            Granularity::Month,
            amsterdam(),
            utc("2024-01-31T23:30:00Z"),
            utc("2024-04-01T00:00:00Z"),
            10,
        )
        .unwrap();
        let labels: Vec<_> = months.iter().map(|p| (&p.label[..], p.start)).collect();
        assert_eq!(
            labels,
            [
                ("2024-02", utc("2024-01-31T23:00:00Z")),
                ("2024-03", utc("2024-02-29T23:00:00Z")),
                ("2024-04", utc("2024-03-31T22:00:00Z")),
            ]
        );
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_the_jump() {
        // Chile: 2024-09-08 00:00 (-04:00) jumps to 01:00 (-03:00).
        let santiago = zone("America/Santiago").unwrap();
        let days = periods(
            Granularity::Day,
            santiago,
            utc("2024-09-08T12:00:00Z"),
            utc("2024-09-08T13:00:00Z"),
            10,
        )
        .unwrap();
        assert_eq!(days[0].start, utc("2024-09-08T04:00:00Z"));
        assert_eq!(days[0].end, utc("2024-09-09T03:00:00Z"));
    }

    #[test]
    fn bad_zones_empty_ranges_and_too_many_periods_are_refused() {
        assert_eq!(
            zone("Europe/Atlantis"),
            Err(PeriodError::UnknownZone("Europe/Atlantis".into()))
        );
        let (from, to) = (utc("2024-01-01T00:00:00Z"), utc("2024-01-11T00:00:00Z"));
        let day = Granularity::Day;
        assert_eq!(
            periods(day, Tz::UTC, to, from, 10),
            Err(PeriodError::EmptyRange)
        );
        assert_eq!(periods(day, Tz::UTC, from, to, 10).unwrap().len(), 10);
        assert_eq!(
            periods(day, Tz::UTC, from, to, 9),
            Err(PeriodError::TooMany(9))
        );
    }
}
