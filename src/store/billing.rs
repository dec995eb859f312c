//! Billing totals: the CDRs of a range summed per period and group key in
//! one SQL statement, on the fixed-point BIGINT columns (never floats).
//!
//! Each CDR falls in the period whose bounds hold its `start_date_time`; the
//! bounds come from `domain::period` and are compared in SQL through a
//! balanced CASE (a binary search, a few comparisons per row whatever the
//! number of periods). Currencies are always a group key, so amounts of
//! different currencies are never added together.

use chrono::{DateTime, Utc};
use entity::cdr;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement, SimpleExpr};
use sea_orm::{ConnectionTrait, QueryResult};

use super::read::CdrFilter;
use super::StoreError;

/// Which keys, besides the period and the currency, the CDRs are grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Grouping {
    /// The CPO party (implied by location, EVSE and tariff: their ids are per party).
    pub party: bool,
    /// The CPO's location id, case-insensitively.
    pub location: bool,
    /// The EVSE uid within its location, case-insensitively.
    pub evse: bool,
    /// The tariff set (`cdr.tariff_key`).
    pub tariff: bool,
}

/// What to sum.
#[derive(Debug, Clone)]
pub struct TotalsQuery<'a> {
    /// Which CDRs, with the caller's scope.
    pub filter: &'a CdrFilter,
    /// CDRs that started at or after this instant...
    pub from: DateTime<Utc>,
    /// ...and before this one.
    pub to: DateTime<Utc>,
    /// The starts of the second and later periods, in order; `None` when
    /// not grouped by time (every CDR is then in period 0).
    pub period_starts: Option<&'a [DateTime<Utc>]>,
    /// The other group keys.
    pub grouping: Grouping,
    /// Most groups read; one more is read to tell that there are more.
    pub limit: u64,
}

/// The totals of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingRow {
    /// The period's index, 0 when not grouped by time.
    pub period: usize,
    /// Country code as first spelled, when grouped by party.
    pub country_code: Option<String>,
    /// Party id as first spelled, when grouped by party.
    pub party_id: Option<String>,
    /// The CPO's location id (the least spelling), when grouped by location.
    pub location_id: Option<String>,
    /// The EVSE uid (the least spelling), when grouped by EVSE.
    pub evse_uid: Option<String>,
    /// The tariff set's key, a JSON array, when grouped by tariff.
    pub tariff_key: Option<String>,
    /// ISO 4217 currency, upper-cased; null for CDRs without one.
    pub currency: Option<String>,
    /// A stored location of the group's CDRs, when grouped by location.
    pub location_pk: Option<i64>,
    /// CDRs in the group.
    pub cdrs: i64,
    /// Credit CDRs among them.
    pub credits: i64,
    /// Energy, kWh in millionths.
    pub energy: i64,
    /// Charging time, hours in millionths.
    pub time: i64,
    /// Parking time, hours in millionths.
    pub parking_time: i64,
    /// Cost excluding VAT, in millionths.
    pub cost: i64,
    /// Cost including VAT, only when every CDR of the group has it.
    pub cost_incl_vat: Option<i64>,
}

/// Sums the CDRs of `query`, one row per group, sorted by period and keys.
/// At most `limit + 1` rows are read.
pub async fn totals(
    db: &impl ConnectionTrait,
    query: &TotalsQuery<'_>,
) -> Result<Vec<BillingRow>, StoreError> {
    let statement = db.get_database_backend().build(&select(query));
    let rows = db.query_all_raw(statement).await?;
    let mut totals = rows
        .iter()
        .map(|row| read_row(row, query.grouping))
        .collect::<Result<Vec<_>, _>>()?;
    totals.sort_by_cached_key(sort_key);
    Ok(totals)
}

type SortKey = (usize, [Option<String>; 6]);

fn sort_key(row: &BillingRow) -> SortKey {
    let upper = |v: &Option<String>| v.as_ref().map(|s| s.to_uppercase());
    let keys = [
        upper(&row.country_code),
        upper(&row.party_id),
        upper(&row.location_id),
        upper(&row.evse_uid),
        // `["T1"]` before `["T1","T2"]`: compare the ids, not the brackets.
        row.tariff_key
            .as_ref()
            .map(|k| k.trim_start_matches('[').trim_end_matches(']').to_owned()),
        row.currency.clone(),
    ];
    (row.period, keys)
}

/// `SELECT period, keys, sums FROM (the CDRs with their keys) GROUP BY period, keys`.
fn select(query: &TotalsQuery<'_>) -> SelectStatement {
    let g = query.grouping;
    let mut outer = Query::select();
    outer.from_subquery(cdrs(query), Alias::new("c"));
    let mut group = vec!["period", "currency_key"];
    outer.expr(Expr::cust("period"));
    outer.expr_as(Expr::cust("MIN(currency_key)"), Alias::new("currency"));
    if g.party || g.location || g.evse || g.tariff {
        group.extend(["country_code_key", "party_id_key"]);
        outer.expr_as(Expr::cust("MIN(country_code)"), Alias::new("country_code"));
        outer.expr_as(Expr::cust("MIN(party_id)"), Alias::new("party_id"));
    }
    if g.location || g.evse {
        group.push("location_key");
        outer.expr_as(Expr::cust("MIN(location_id)"), Alias::new("location_id"));
        outer.expr_as(Expr::cust("MIN(location_pk)"), Alias::new("location_pk"));
    }
    if g.evse {
        group.push("evse_key");
        outer.expr_as(Expr::cust("MIN(evse_uid)"), Alias::new("evse_uid"));
    }
    if g.tariff {
        group.push("tariff_key");
        outer.expr_as(Expr::cust("MIN(tariff_key)"), Alias::new("tariff_key"));
    }
    for (name, sql) in SUMS {
        outer.expr_as(Expr::cust(*sql), Alias::new(*name));
    }
    outer.add_group_by(group.into_iter().map(Expr::cust));
    outer.limit(query.limit + 1);
    outer.to_owned()
}

/// The sums of a group, over the subquery's columns. PostgreSQL's SUM of a
/// BIGINT is NUMERIC (exact), cast back; SQLite's is an exact integer.
const SUMS: &[(&str, &str)] = &[
    ("cdrs", "COUNT(*)"),
    (
        "credits",
        "CAST(SUM(CASE WHEN credit THEN 1 ELSE 0 END) AS BIGINT)",
    ),
    ("energy", "CAST(COALESCE(SUM(energy), 0) AS BIGINT)"),
    ("time", "CAST(COALESCE(SUM(time), 0) AS BIGINT)"),
    (
        "parking_time",
        "CAST(COALESCE(SUM(parking_time), 0) AS BIGINT)",
    ),
    ("cost", "CAST(COALESCE(SUM(cost), 0) AS BIGINT)"),
    (
        "cost_incl_vat",
        "CASE WHEN COUNT(cost_incl_vat) = COUNT(*) \
         THEN CAST(SUM(cost_incl_vat) AS BIGINT) END",
    ),
];

/// The CDRs of the range under the filter, each with its period and keys.
fn cdrs(query: &TotalsQuery<'_>) -> SelectStatement {
    let col = |c: cdr::Column| Expr::col((cdr::Entity, c));
    let upper = |column: &str| Expr::cust(format!("UPPER(cdr.{column})"));
    let period = match query.period_starts {
        Some(starts) => period_of(starts, 0),
        None => Expr::cust("CAST(0 AS BIGINT)"),
    };
    let condition = query
        .filter
        .condition()
        .add(col(cdr::Column::StartDateTime).gte(query.from))
        .add(col(cdr::Column::StartDateTime).lt(query.to));
    let mut inner = Query::select();
    inner.from(cdr::Entity).cond_where(condition);
    inner.expr_as(period, Alias::new("period"));
    let columns = [
        ("country_code_key", col(cdr::Column::CountryCodeKey)),
        ("party_id_key", col(cdr::Column::PartyIdKey)),
        ("country_code", col(cdr::Column::CountryCode)),
        ("party_id", col(cdr::Column::PartyId)),
        ("location_key", upper("location_id")),
        ("location_id", col(cdr::Column::LocationId)),
        ("location_pk", col(cdr::Column::LocationPk)),
        ("evse_key", upper("evse_uid")),
        ("evse_uid", col(cdr::Column::EvseUid)),
        ("tariff_key", col(cdr::Column::TariffKey)),
        ("currency_key", upper("currency")),
        ("credit", col(cdr::Column::Credit)),
        ("energy", reversed("total_energy_micro")),
        ("time", reversed("total_time_micro")),
        ("parking_time", reversed("total_parking_time_micro")),
        ("cost", reversed("total_cost_micro")),
        ("cost_incl_vat", reversed("total_cost_incl_vat_micro")),
    ];
    for (alias, expr) in columns {
        inner.expr_as(expr, Alias::new(alias));
    }
    inner.to_owned()
}

/// An amount as it counts: a credit CDR reverses what it credits, so its
/// amounts count negative whatever sign the CPO gave them (OCPI negates the
/// costs of a credit CDR but copies its energy and times).
fn reversed(column: &str) -> SimpleExpr {
    Expr::cust(format!(
        "CASE WHEN cdr.credit THEN -ABS(cdr.{column}) ELSE cdr.{column} END"
    ))
}

/// The index of the period holding a CDR's start: `starts[k]` is the start
/// of period `first + k + 1`; a balanced CASE halves the candidates at
/// each comparison.
fn period_of(starts: &[DateTime<Utc>], first: usize) -> SimpleExpr {
    if starts.is_empty() {
        return Expr::val(first as i64);
    }
    let mid = starts.len() / 2;
    let start = Expr::col((cdr::Entity, cdr::Column::StartDateTime));
    Expr::case(start.lt(starts[mid]), period_of(&starts[..mid], first))
        .finally(period_of(&starts[mid + 1..], first + mid + 1))
        .into()
}

fn read_row(row: &QueryResult, g: Grouping) -> Result<BillingRow, StoreError> {
    let text = |on: bool, name: &str| -> Result<Option<String>, StoreError> {
        Ok(if on { row.try_get("", name)? } else { None })
    };
    let by_party = g.party || g.location || g.evse || g.tariff;
    let by_location = g.location || g.evse;
    let period: i64 = row.try_get("", "period")?;
    Ok(BillingRow {
        period: usize::try_from(period)
            .map_err(|_| StoreError::Corrupt(format!("billing period {period}")))?,
        country_code: text(by_party, "country_code")?,
        party_id: text(by_party, "party_id")?,
        location_id: text(by_location, "location_id")?,
        evse_uid: text(g.evse, "evse_uid")?,
        tariff_key: text(g.tariff, "tariff_key")?,
        currency: row.try_get("", "currency")?,
        location_pk: if by_location {
            row.try_get("", "location_pk")?
        } else {
            None
        },
        cdrs: row.try_get("", "cdrs")?,
        credits: row.try_get("", "credits")?,
        energy: row.try_get("", "energy")?,
        time: row.try_get("", "time")?,
        parking_time: row.try_get("", "parking_time")?,
        cost: row.try_get("", "cost")?,
        cost_incl_vat: row.try_get("", "cost_incl_vat")?,
    })
}
