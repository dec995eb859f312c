//! Queries behind the GraphQL API and the OCPI GET endpoints.
//!
//! Every read the GraphQL layer needs is built here, so resolvers never see
//! sea-orm query builders. List readers take many keys at once so that a
//! GraphQL list level costs one statement.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use entity::{
    cdr, charging_period, connector, evse, evse_status_history, location, notification, outbox,
    session, session_event,
};

use super::StoreError;

/// The highest outbox sequence number, or `None` while the outbox is empty.
pub async fn outbox_last_seq(db: &impl ConnectionTrait) -> Result<Option<i64>, StoreError> {
    let last = outbox::Entity::find()
        .order_by_desc(outbox::Column::Seq)
        .one(db)
        .await?;
    Ok(last.map(|row| row.seq))
}

/// Up to `limit` outbox rows after `seq`, in sequence order.
pub async fn outbox_after(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> Result<Vec<outbox::Model>, StoreError> {
    let rows = outbox::Entity::find()
        .filter(outbox::Column::Seq.gt(seq))
        .order_by_asc(outbox::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

/// What a page of locations may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationFilter {
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// City, compared exactly as stored.
    pub city: Option<String>,
}

impl LocationFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(party) = &self.party_id {
            cond = cond.add(location::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(location::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(city) = &self.city {
            cond = cond.add(location::Column::City.eq(city.as_str()));
        }
        cond
    }
}

/// The location with these OCPI ids, compared case-insensitively.
pub async fn location_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<location::Model>, StoreError> {
    let row = location::Entity::find()
        .filter(location::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(location::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(location::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// Up to `limit` locations matching `filter` with a row id above `after`, by row id.
pub async fn locations_page(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<location::Model>, StoreError> {
    let mut query = location::Entity::find().filter(filter.condition());
    if let Some(after) = after {
        query = query.filter(location::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(location::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many locations match `filter`.
pub async fn locations_count(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
) -> Result<u64, StoreError> {
    let count = location::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// The locations with these row ids, in no particular order.
pub async fn locations_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<location::Model>, StoreError> {
    let rows = location::Entity::find()
        .filter(location::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// The EVSEs of these locations, by location and then row id.
pub async fn evses_of_locations(
    db: &impl ConnectionTrait,
    location_pks: &[i64],
) -> Result<Vec<evse::Model>, StoreError> {
    let rows = evse::Entity::find()
        .filter(evse::Column::LocationPk.is_in(location_pks.iter().copied()))
        .order_by_asc(evse::Column::LocationPk)
        .order_by_asc(evse::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The EVSEs with these row ids, in no particular order.
pub async fn evses_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<evse::Model>, StoreError> {
    let rows = evse::Entity::find()
        .filter(evse::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// The connectors of these EVSEs, by EVSE and then row id.
pub async fn connectors_of_evses(
    db: &impl ConnectionTrait,
    evse_pks: &[i64],
) -> Result<Vec<connector::Model>, StoreError> {
    let rows = connector::Entity::find()
        .filter(connector::Column::EvsePk.is_in(evse_pks.iter().copied()))
        .order_by_asc(connector::Column::EvsePk)
        .order_by_asc(connector::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The connectors with these row ids, in no particular order.
pub async fn connectors_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<connector::Model>, StoreError> {
    let rows = connector::Entity::find()
        .filter(connector::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// Every applied status change of an EVSE, oldest first.
pub async fn evse_status_history(
    db: &impl ConnectionTrait,
    evse_pk: i64,
) -> Result<Vec<evse_status_history::Model>, StoreError> {
    let rows = evse_status_history::Entity::find()
        .filter(evse_status_history::Column::EvsePk.eq(evse_pk))
        .order_by_asc(evse_status_history::Column::ChangedAt)
        .order_by_asc(evse_status_history::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The session with these OCPI ids, compared case-insensitively.
pub async fn session_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<session::Model>, StoreError> {
    let row = session::Entity::find()
        .filter(session::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(session::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(session::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// The sessions with these row ids, in no particular order.
pub async fn sessions_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<session::Model>, StoreError> {
    let rows = session::Entity::find()
        .filter(session::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// The distinct charging periods of a session, by start.
pub async fn charging_periods(
    db: &impl ConnectionTrait,
    session_pk: i64,
) -> Result<Vec<charging_period::Model>, StoreError> {
    let rows = charging_period::Entity::find()
        .filter(charging_period::Column::SessionPk.eq(session_pk))
        .order_by_asc(charging_period::Column::StartDateTime)
        .all(db)
        .await?;
    Ok(rows)
}

/// Every push a session received, in arrival order.
pub async fn session_events(
    db: &impl ConnectionTrait,
    session_pk: i64,
) -> Result<Vec<session_event::Model>, StoreError> {
    let rows = session_event::Entity::find()
        .filter(session_event::Column::SessionPk.eq(session_pk))
        .order_by_asc(session_event::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The CDR with these OCPI ids, compared case-insensitively.
pub async fn cdr_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<cdr::Model>, StoreError> {
    let row = cdr::Entity::find()
        .filter(cdr::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(cdr::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(cdr::Column::OcpiIdKey.eq(ocpi_id.to_uppercase()))
        .one(db)
        .await?;
    Ok(row)
}

/// The first CDR a party sent for one of its sessions.
pub async fn cdr_of_session(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    session_id: &str,
) -> Result<Option<cdr::Model>, StoreError> {
    let row = cdr::Entity::find()
        .filter(cdr::Column::CountryCodeKey.eq(country_code.to_uppercase()))
        .filter(cdr::Column::PartyIdKey.eq(party_id.to_uppercase()))
        .filter(cdr::Column::SessionId.eq(session_id))
        .order_by_asc(cdr::Column::Id)
        .one(db)
        .await?;
    Ok(row)
}

/// The CDRs with these row ids, in no particular order.
pub async fn cdrs_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<cdr::Model>, StoreError> {
    let rows = cdr::Entity::find()
        .filter(cdr::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// The notification a party sent under this id, compared case-insensitively.
pub async fn notification_by_key(
    db: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    notification_id: &str,
) -> Result<Option<notification::Model>, StoreError> {
    // The unique key holds the party as first spelled, so the party is
    // compared here; few parties ever share one notification id.
    let rows = notification::Entity::find()
        .filter(notification::Column::NotificationIdKey.eq(notification_id.to_uppercase()))
        .all(db)
        .await?;
    Ok(rows.into_iter().find(|row| {
        row.country_code.eq_ignore_ascii_case(country_code)
            && row.party_id.eq_ignore_ascii_case(party_id)
    }))
}

/// The notifications with these row ids, in no particular order.
pub async fn notifications_by_pk(
    db: &impl ConnectionTrait,
    pks: &[i64],
) -> Result<Vec<notification::Model>, StoreError> {
    let rows = notification::Entity::find()
        .filter(notification::Column::Id.is_in(pks.iter().copied()))
        .all(db)
        .await?;
    Ok(rows)
}

/// What a page of sessions may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// Status, exactly as sent.
    pub status: Option<String>,
}

impl SessionFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(party) = &self.party_id {
            cond = cond.add(session::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(session::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(location_id) = &self.location_id {
            cond = cond.add(session::Column::LocationId.eq(location_id.as_str()));
        }
        if let Some(status) = &self.status {
            cond = cond.add(session::Column::Status.eq(status.as_str()));
        }
        cond
    }
}

/// Up to `limit` sessions matching `filter` with a row id above `after`, by row id.
pub async fn sessions_page(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<session::Model>, StoreError> {
    let mut query = session::Entity::find().filter(filter.condition());
    if let Some(after) = after {
        query = query.filter(session::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(session::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many sessions match `filter`.
pub async fn sessions_count(
    db: &impl ConnectionTrait,
    filter: &SessionFilter,
) -> Result<u64, StoreError> {
    let count = session::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// What a page of CDRs may be narrowed by; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CdrFilter {
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// The CPO's location id, exactly as sent.
    pub location_id: Option<String>,
    /// The CPO's session id, exactly as sent.
    pub session_id: Option<String>,
    /// ISO 4217 currency, exactly as sent.
    pub currency: Option<String>,
    /// Only credit CDRs (true) or only ordinary ones (false).
    pub credit: Option<bool>,
}

impl CdrFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if let Some(party) = &self.party_id {
            cond = cond.add(cdr::Column::PartyIdKey.eq(party.to_uppercase()));
        }
        if let Some(country) = &self.country_code {
            cond = cond.add(cdr::Column::CountryCodeKey.eq(country.to_uppercase()));
        }
        if let Some(location_id) = &self.location_id {
            cond = cond.add(cdr::Column::LocationId.eq(location_id.as_str()));
        }
        if let Some(session_id) = &self.session_id {
            cond = cond.add(cdr::Column::SessionId.eq(session_id.as_str()));
        }
        if let Some(currency) = &self.currency {
            cond = cond.add(cdr::Column::Currency.eq(currency.as_str()));
        }
        if let Some(credit) = self.credit {
            cond = cond.add(cdr::Column::Credit.eq(credit));
        }
        cond
    }
}

/// Up to `limit` CDRs matching `filter` with a row id above `after`, by row id.
pub async fn cdrs_page(
    db: &impl ConnectionTrait,
    filter: &CdrFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<cdr::Model>, StoreError> {
    let mut query = cdr::Entity::find().filter(filter.condition());
    if let Some(after) = after {
        query = query.filter(cdr::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(cdr::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many CDRs match `filter`.
pub async fn cdrs_count(db: &impl ConnectionTrait, filter: &CdrFilter) -> Result<u64, StoreError> {
    let count = cdr::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// EVSEs per raw status (`None` for no status yet) at the locations matching `filter`.
pub async fn evse_status_counts(
    db: &impl ConnectionTrait,
    filter: &LocationFilter,
) -> Result<Vec<(Option<String>, i64)>, StoreError> {
    let locations = location::Entity::find()
        .select_only()
        .column(location::Column::Id)
        .filter(filter.condition())
        .into_query();
    let counts = evse::Entity::find()
        .select_only()
        .column(evse::Column::Status)
        .column_as(Expr::col(evse::Column::Id).count(), "evses")
        .filter(Expr::col(evse::Column::LocationPk).in_subquery(locations))
        .group_by(evse::Column::Status)
        .order_by_asc(evse::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(counts)
}
