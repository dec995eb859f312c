//! Billing reports: CDR totals per calendar period of a time zone and per
//! party, location, EVSE, tariff set and currency, for the GraphQL `billing`
//! query and the `/export/billing.csv` export alike.
//!
//! The request is checked and its periods laid out here (`domain::period`);
//! the sums are one SQL statement (`store::billing`).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::domain::period::{self, Granularity, Period, PeriodError};
use crate::domain::{Micros, Money};
use crate::store::billing::{self as store, BillingRow, Grouping, TotalsQuery};
use crate::store::read::CdrFilter;
use crate::store::StoreError;

/// Most periods one report may span (about 2.7 years of days).
pub const MAX_PERIODS: usize = 1_000;

/// Most buckets one report may hold.
pub const MAX_BUCKETS: usize = 10_000;

/// What CDRs can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// Local calendar day of the CDR's start.
    Day,
    /// ISO week (Monday to Sunday) of the CDR's start.
    Week,
    /// Calendar month of the CDR's start.
    Month,
    /// The CPO's location id (within its party).
    Location,
    /// The EVSE uid (within its location).
    Evse,
    /// The CPO party.
    Party,
    /// The CDR's set of tariff ids.
    Tariff,
    /// The currency (always a key, whether asked for or not).
    Currency,
}

impl GroupBy {
    /// Every key, in the order the API lists them.
    pub const ALL: [GroupBy; 8] = [
        GroupBy::Day,
        GroupBy::Week,
        GroupBy::Month,
        GroupBy::Location,
        GroupBy::Evse,
        GroupBy::Party,
        GroupBy::Tariff,
        GroupBy::Currency,
    ];

    /// The key's name in the API (`DAY`, `LOCATION`, ...).
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Day => "DAY",
            GroupBy::Week => "WEEK",
            GroupBy::Month => "MONTH",
            GroupBy::Location => "LOCATION",
            GroupBy::Evse => "EVSE",
            GroupBy::Party => "PARTY",
            GroupBy::Tariff => "TARIFF",
            GroupBy::Currency => "CURRENCY",
        }
    }

    /// The key of a name, case-insensitively.
    pub fn parse(name: &str) -> Option<GroupBy> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(name.trim()))
    }

    fn granularity(self) -> Option<Granularity> {
        match self {
            GroupBy::Day => Some(Granularity::Day),
            GroupBy::Week => Some(Granularity::Week),
            GroupBy::Month => Some(Granularity::Month),
            _ => None,
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The request is wrong; the message says how (BAD_USER_INPUT, HTTP 400).
    #[error("{0}")]
    Input(String),
    /// The store failed (our fault).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PeriodError> for BillingError {
    fn from(err: PeriodError) -> BillingError {
        BillingError::Input(err.to_string())
    }
}

/// What to report on.
#[derive(Debug, Clone)]
pub struct BillingRequest {
    /// CDRs that started at or after this instant...
    pub from: DateTime<Utc>,
    /// ...and before this one.
    pub to: DateTime<Utc>,
    /// The IANA zone periods are laid out in.
    pub time_zone: String,
    /// The group keys; the currency is always one.
    pub group_by: Vec<GroupBy>,
    /// Which CDRs, with the caller's scope.
    pub filter: CdrFilter,
}

/// The totals of one group of CDRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The period, when grouped by time.
    pub period: Option<Period>,
    /// Country code, when grouped by party, location, EVSE or tariff.
    pub country_code: Option<String>,
    /// Party id, when grouped by party, location, EVSE or tariff.
    pub party_id: Option<String>,
    /// The CPO's location id, when grouped by location or EVSE.
    pub location_id: Option<String>,
    /// The EVSE uid, when grouped by EVSE.
    pub evse_uid: Option<String>,
    /// The tariff set, ids upper-cased and sorted, when grouped by tariff.
    pub tariff_ids: Option<Vec<String>>,
    /// ISO 4217 currency, upper-cased; null for CDRs without one.
    pub currency: Option<String>,
    /// The stored location, when grouped by location and it was pushed.
    pub location_pk: Option<i64>,
    /// CDRs in the bucket.
    pub cdrs: i64,
    /// Credit CDRs among them (their amounts count negative).
    pub credits: i64,
    /// Energy in kWh.
    pub energy: Micros,
    /// Charging time in hours.
    pub time: Micros,
    /// Parking time in hours.
    pub parking_time: Micros,
    /// Cost excluding VAT.
    pub cost: Money,
    /// Cost including VAT, when every CDR of the bucket has it.
    pub cost_incl_vat: Option<Money>,
}

/// The request checked: its periods and group keys.
struct Plan {
    periods: Option<Vec<Period>>,
    grouping: Grouping,
}

impl Plan {
    fn of(request: &BillingRequest) -> Result<Plan, BillingError> {
        let zone = period::zone(&request.time_zone)?;
        if request.from >= request.to {
            return Err(PeriodError::EmptyRange.into());
        }
        let granularities: Vec<Granularity> = request
            .group_by
            .iter()
            .filter_map(|g| g.granularity())
            .collect();
        let periods = match granularities[..] {
            [] => None,
            [g, ..] if granularities.iter().all(|other| *other == g) => Some(period::periods(
                g,
                zone,
                request.from,
                request.to,
                MAX_PERIODS,
            )?),
            _ => {
                return Err(BillingError::Input(
                    "group by at most one of DAY, WEEK and MONTH".into(),
                ))
            }
        };
        let has = |g: GroupBy| request.group_by.contains(&g);
        let grouping = Grouping {
            party: has(GroupBy::Party),
            location: has(GroupBy::Location),
            evse: has(GroupBy::Evse),
            tariff: has(GroupBy::Tariff),
        };
        Ok(Plan { periods, grouping })
    }

    fn bucket(&self, row: BillingRow) -> Bucket {
        let period = self
            .periods
            .as_ref()
            .and_then(|periods| periods.get(row.period).cloned());
        let tariff_ids = row
            .tariff_key
            .map(|key| serde_json::from_str(&key).unwrap_or_default());
        Bucket {
            period,
            country_code: row.country_code,
            party_id: row.party_id,
            location_id: row.location_id,
            evse_uid: row.evse_uid,
            tariff_ids,
            currency: row.currency,
            location_pk: row.location_pk,
            cdrs: row.cdrs,
            credits: row.credits,
            energy: Micros(row.energy),
            time: Micros(row.time),
            parking_time: Micros(row.parking_time),
            cost: Money(Micros(row.cost)),
            cost_incl_vat: Money::of(row.cost_incl_vat),
        }
    }
}

/// The buckets of a request, sorted by period, then party, location, EVSE,
/// tariff set and currency; buckets without CDRs are left out.
pub async fn report(
    db: &impl ConnectionTrait,
    request: &BillingRequest,
) -> Result<Vec<Bucket>, BillingError> {
    let plan = Plan::of(request)?;
    let starts: Option<Vec<DateTime<Utc>>> = plan
        .periods
        .as_ref()
        .map(|periods| periods.iter().skip(1).map(|p| p.start).collect());
    let query = TotalsQuery {
        filter: &request.filter,
        from: request.from,
        to: request.to,
        period_starts: starts.as_deref(),
        grouping: plan.grouping,
        limit: MAX_BUCKETS as u64,
    };
    let rows = store::totals(db, &query).await?;
    if rows.len() > MAX_BUCKETS {
        return Err(BillingError::Input(format!(
            "the report has more than {MAX_BUCKETS} buckets: narrow the range or the filter, \
             or group by fewer keys"
        )));
    }
    Ok(rows.into_iter().map(|row| plan.bucket(row)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(group_by: Vec<GroupBy>, zone: &str) -> BillingRequest {
        BillingRequest {
            from: "2024-01-01T00:00:00Z".parse().unwrap(),
            to: "2024-02-01T00:00:00Z".parse().unwrap(),
            time_zone: zone.into(),
            group_by,
            filter: CdrFilter::default(),
        }
    }

    fn refusal(request: &BillingRequest) -> String {
        match Plan::of(request) {
            Err(BillingError::Input(message)) => message,
            Err(other) => panic!("not an input error: {other}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn group_keys_parse_case_insensitively() {
        assert_eq!(GroupBy::parse("month"), Some(GroupBy::Month));
        assert_eq!(GroupBy::parse(" EVSE "), Some(GroupBy::Evse));
        assert_eq!(GroupBy::parse("year"), None);
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let two = request(vec![GroupBy::Day, GroupBy::Month], "UTC");
        assert_eq!(refusal(&two), "group by at most one of DAY, WEEK and MONTH");
        let zone = request(vec![], "Mars/Olympus");
        assert_eq!(
            refusal(&zone),
            "unknown time zone \"Mars/Olympus\": expected an IANA name such as Europe/Amsterdam or UTC"
        );
        let mut empty = request(vec![], "UTC");
        empty.to = empty.from;
        assert_eq!(refusal(&empty), "`from` must be before `to`");
        let mut long = request(vec![GroupBy::Day], "UTC");
        long.to = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            refusal(&long),
            "the range spans more than 1000 periods; narrow it or choose a longer period"
        );
    }
}
