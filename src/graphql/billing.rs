//! The `billing` query: CDR totals per period of a time zone and per party,
//! location, EVSE, tariff set and currency (see `crate::billing`).

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::error::{bad_user_input, internal};
use super::loaders::TariffsByRef;
use super::query::CdrsFilter;
use super::scalars::{DateTime, Decimal, Money};
use super::types::{load_location, store, Location, Tariff};
use crate::billing::{self, BillingError, BillingRequest, Bucket, GroupBy};
use crate::store::read::TariffRef;

/// Entry point of billing reports, merged into `Query`.
#[derive(Default)]
pub struct BillingQuery;

/// What CDRs are grouped by in a billing report.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingGroup {
    /// Local calendar day of the CDR's start, in the report's time zone.
    Day,
    /// ISO week (Monday 00:00 to Monday 00:00 local) of the CDR's start.
    Week,
    /// Calendar month of the CDR's start, in the report's time zone.
    Month,
    /// The CPO's location id (with its party).
    Location,
    /// The EVSE uid (with its location and party).
    Evse,
    /// The CPO party.
    Party,
    /// The CDR's whole set of tariff ids (a CDR with several tariffs counts once).
    Tariff,
    /// The currency; always a key, so amounts of different currencies are never added.
    Currency,
}

impl From<BillingGroup> for GroupBy {
    fn from(group: BillingGroup) -> GroupBy {
        match group {
            BillingGroup::Day => GroupBy::Day,
            BillingGroup::Week => GroupBy::Week,
            BillingGroup::Month => GroupBy::Month,
            BillingGroup::Location => GroupBy::Location,
            BillingGroup::Evse => GroupBy::Evse,
            BillingGroup::Party => GroupBy::Party,
            BillingGroup::Tariff => GroupBy::Tariff,
            BillingGroup::Currency => GroupBy::Currency,
        }
    }
}

#[Object]
impl BillingQuery {
    /// CDR totals over `[from, to)` by the CDRs' start, grouped by `groupBy`
    /// and always by currency; buckets without CDRs are left out, credit
    /// CDRs count negative. At most 1,000 periods and 10,000 buckets.
    async fn billing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "CDRs that started at or after this instant.")] from: DateTime,
        #[graphql(desc = "CDRs that started before this instant.")] to: DateTime,
        #[graphql(
            desc = "IANA time zone of the day, week and month bounds, e.g. Europe/Amsterdam.",
            default = "UTC"
        )]
        time_zone: String,
        #[graphql(
            desc = "Group keys: at most one of DAY, WEEK and MONTH, any of the others.",
            default
        )]
        group_by: Vec<BillingGroup>,
        #[graphql(desc = "Which CDRs to count.")] filter: Option<CdrsFilter>,
    ) -> Result<BillingReport> {
        let request = BillingRequest {
            from: from.0,
            to: to.0,
            time_zone: time_zone.clone(),
            group_by: group_by.iter().copied().map(GroupBy::from).collect(),
            filter: filter.unwrap_or_default().into_store(ctx),
        };
        let buckets =
            billing::report(store(ctx)?.db(), &request)
                .await
                .map_err(|err| match err {
                    BillingError::Input(message) => bad_user_input(message),
                    BillingError::Store(cause) => internal(cause),
                })?;
        Ok(BillingReport {
            from,
            to,
            time_zone,
            group_by,
            buckets: buckets.into_iter().map(BillingBucket).collect(),
        })
    }
}

/// CDR totals per bucket over a range.
#[derive(SimpleObject)]
pub struct BillingReport {
    /// The range's start, inclusive.
    pub from: DateTime,
    /// The range's end, exclusive.
    pub to: DateTime,
    /// The IANA time zone of the period bounds.
    pub time_zone: String,
    /// The group keys asked for (CURRENCY is a key even when not listed).
    pub group_by: Vec<BillingGroup>,
    /// One bucket per period and key with CDRs, by period, party, location,
    /// EVSE, tariff set and currency.
    pub buckets: Vec<BillingBucket>,
}

/// A calendar period of a billing report.
#[derive(SimpleObject)]
pub struct BillingPeriod {
    /// `2024-03-31` (DAY), `2024-W13` (WEEK: ISO year and week) or `2024-03` (MONTH).
    pub label: String,
    /// The period's first instant (local midnight, in UTC).
    pub start: DateTime,
    /// The next period's first instant.
    pub end: DateTime,
}

/// The totals of the CDRs sharing a period and group keys.
pub struct BillingBucket(Bucket);

/// The totals of the CDRs sharing a period and group keys.
#[Object]
impl BillingBucket {
    /// The period, when grouped by DAY, WEEK or MONTH.
    async fn period(&self) -> Option<BillingPeriod> {
        self.0.period.as_ref().map(|p| BillingPeriod {
            label: p.label.clone(),
            start: DateTime(p.start),
            end: DateTime(p.end),
        })
    }
    /// Country code of the CPO, when grouped by PARTY, LOCATION, EVSE or TARIFF.
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    /// CPO party id, when grouped by PARTY, LOCATION, EVSE or TARIFF.
    async fn party_id(&self) -> Option<&str> {
        self.0.party_id.as_deref()
    }
    /// The CPO's location id, when grouped by LOCATION or EVSE.
    async fn location_id(&self) -> Option<&str> {
        self.0.location_id.as_deref()
    }
    /// The location, when grouped by LOCATION or EVSE and it was pushed.
    async fn location(&self, ctx: &Context<'_>) -> Result<Option<Location>> {
        load_location(ctx, self.0.location_pk).await
    }
    /// The EVSE uid, when grouped by EVSE.
    async fn evse_uid(&self) -> Option<&str> {
        self.0.evse_uid.as_deref()
    }
    /// The tariff set, ids upper-cased and sorted (empty: CDRs without
    /// tariffs), when grouped by TARIFF.
    async fn tariff_ids(&self) -> Option<&[String]> {
        self.0.tariff_ids.as_deref()
    }
    /// The stored tariffs of the tariff set, when grouped by TARIFF.
    async fn tariffs(&self, ctx: &Context<'_>) -> Result<Vec<Tariff>> {
        let (Some(ids), Some(cc), Some(party)) =
            (&self.0.tariff_ids, &self.0.country_code, &self.0.party_id)
        else {
            return Ok(Vec::new());
        };
        let keys: Vec<TariffRef> = ids.iter().map(|id| TariffRef::new(cc, party, id)).collect();
        let loader = ctx.data::<DataLoader<TariffsByRef>>()?;
        let found = loader
            .load_many(keys.iter().cloned())
            .await
            .map_err(internal)?;
        Ok(keys
            .iter()
            .filter_map(|k| found.get(k).cloned())
            .map(Tariff)
            .collect())
    }
    /// ISO 4217 currency, upper-cased; null for CDRs that name none.
    async fn currency(&self) -> Option<&str> {
        self.0.currency.as_deref()
    }
    /// How many CDRs the bucket holds.
    async fn cdr_count(&self) -> i64 {
        self.0.cdrs
    }
    /// How many of them are credit CDRs; a credit CDR reverses what it
    /// credits, so its amounts count negative whatever their sign as sent.
    async fn credit_count(&self) -> i64 {
        self.0.credits
    }
    /// Energy in kWh.
    async fn total_energy(&self) -> Decimal {
        Decimal(self.0.energy)
    }
    /// Charging time in hours.
    async fn total_time(&self) -> Decimal {
        Decimal(self.0.time)
    }
    /// Parking time in hours.
    async fn total_parking_time(&self) -> Decimal {
        Decimal(self.0.parking_time)
    }
    /// Cost excluding VAT.
    async fn total_cost(&self) -> Money {
        Money(self.0.cost)
    }
    /// Cost including VAT; null unless every CDR of the bucket has it.
    async fn total_cost_incl_vat(&self) -> Option<Money> {
        self.0.cost_incl_vat.map(Money)
    }
}
