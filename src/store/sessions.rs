//! Writes and lookups of sessions, their charging periods and timeline events.

use chrono::{DateTime, Utc};
use entity::{charging_period, session, session_event};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Select, Set, TryIntoModel,
};

use super::StoreError;
use crate::domain::party::key;

/// Derived columns of a session row.
#[derive(Debug, Clone, Default)]
pub struct SessionRow {
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub connector_id: Option<String>,
    pub location_pk: Option<i64>,
    pub start_date_time: Option<DateTime<Utc>>,
    pub end_date_time: Option<DateTime<Utc>>,
    pub kwh_micro: Option<i64>,
    pub auth_id: Option<String>,
    pub auth_method: Option<String>,
    pub token_uid: Option<String>,
    pub currency: Option<String>,
    pub total_cost_micro: Option<i64>,
    pub total_cost_incl_vat_micro: Option<i64>,
    pub status: Option<String>,
    pub incomplete: bool,
    pub last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
    /// Per-field sender stamps as JSON (see `ingest::merge::Stamps`).
    pub merge_stamps: Option<String>,
}

/// One charging period to store.
#[derive(Debug, Clone)]
pub struct PeriodRow {
    pub start_date_time: DateTime<Utc>,
    pub dimensions: String,
    pub tariff_id: Option<String>,
    pub energy_micro: Option<i64>,
    pub time_micro: Option<i64>,
}

/// One timeline entry of a session.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub session_pk: i64,
    pub inbox_pk: Option<i64>,
    pub method: String,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub status: Option<String>,
    pub kwh_micro: Option<i64>,
    pub total_cost_micro: Option<i64>,
    pub applied: bool,
}

/// The session with these (case-insensitive) keys.
pub async fn find(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<session::Model>, StoreError> {
    let select = select_session(country_code, party_id, ocpi_id);
    Ok(select.one(conn).await?)
}

/// The session with these keys, locked until the transaction ends (PostgreSQL).
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<session::Model>, StoreError> {
    let select = select_session(country_code, party_id, ocpi_id);
    Ok(super::for_update(select, conn).one(conn).await?)
}

fn select_session(country_code: &str, party_id: &str, ocpi_id: &str) -> Select<session::Entity> {
    session::Entity::find()
        .filter(session::Column::CountryCodeKey.eq(key(country_code)))
        .filter(session::Column::PartyIdKey.eq(key(party_id)))
        .filter(session::Column::OcpiIdKey.eq(key(ocpi_id)))
}

/// Inserts a session, or updates it keeping the id spelling first received.
pub async fn save(
    conn: &impl ConnectionTrait,
    existing: Option<session::Model>,
    row: SessionRow,
) -> Result<session::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => session::ActiveModel {
            country_code: Set(row.country_code.clone()),
            party_id: Set(row.party_id.clone()),
            ocpi_id: Set(row.ocpi_id.clone()),
            country_code_key: Set(key(&row.country_code)),
            party_id_key: Set(key(&row.party_id)),
            ocpi_id_key: Set(key(&row.ocpi_id)),
            ..Default::default()
        },
    };
    model.location_id = Set(row.location_id);
    model.evse_uid = Set(row.evse_uid);
    model.connector_id = Set(row.connector_id);
    model.location_pk = Set(row.location_pk);
    model.start_date_time = Set(row.start_date_time);
    model.end_date_time = Set(row.end_date_time);
    model.kwh_micro = Set(row.kwh_micro);
    model.auth_id = Set(row.auth_id);
    model.auth_method = Set(row.auth_method);
    model.token_uid = Set(row.token_uid);
    model.currency = Set(row.currency);
    model.total_cost_micro = Set(row.total_cost_micro);
    model.total_cost_incl_vat_micro = Set(row.total_cost_incl_vat_micro);
    model.status = Set(row.status);
    model.incomplete = Set(row.incomplete);
    model.last_updated = Set(row.last_updated);
    model.received_at = Set(row.received_at);
    model.raw = Set(row.raw);
    model.merge_stamps = Set(row.merge_stamps);
    Ok(model.save(conn).await?.try_into_model()?)
}

/// Replaces the per-field sender stamps of a session.
pub async fn save_stamps(
    conn: &impl ConnectionTrait,
    session_pk: i64,
    merge_stamps: Option<String>,
) -> Result<(), StoreError> {
    let model = session::ActiveModel {
        id: Set(session_pk),
        merge_stamps: Set(merge_stamps),
        ..Default::default()
    };
    model.update(conn).await?;
    Ok(())
}

/// The charging periods of a session, by start.
pub async fn periods(
    conn: &impl ConnectionTrait,
    session_pk: i64,
) -> Result<Vec<charging_period::Model>, StoreError> {
    Ok(charging_period::Entity::find()
        .filter(charging_period::Column::SessionPk.eq(session_pk))
        .order_by_asc(charging_period::Column::StartDateTime)
        .all(conn)
        .await?)
}

/// Deletes the periods of a session that do not start at one of `starts`
/// (a PUT replaces the list); returns how many went.
pub async fn delete_periods_except(
    conn: &impl ConnectionTrait,
    session_pk: i64,
    starts: Vec<DateTime<Utc>>,
) -> Result<u64, StoreError> {
    let result = charging_period::Entity::delete_many()
        .filter(charging_period::Column::SessionPk.eq(session_pk))
        .filter(charging_period::Column::StartDateTime.is_not_in(starts))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Inserts a period, or replaces the stored one with the same start unless `keep_existing`.
/// Returns whether anything changed.
pub async fn upsert_period(
    conn: &impl ConnectionTrait,
    session_pk: i64,
    period: PeriodRow,
    keep_existing: bool,
) -> Result<bool, StoreError> {
    let existing = charging_period::Entity::find()
        .filter(charging_period::Column::SessionPk.eq(session_pk))
        .filter(charging_period::Column::StartDateTime.eq(period.start_date_time))
        .one(conn)
        .await?;
    let mut model = match existing {
        Some(_) if keep_existing => return Ok(false),
        Some(m) if m.dimensions == period.dimensions && m.tariff_id == period.tariff_id => {
            return Ok(false)
        }
        Some(m) => m.into_active_model(),
        None => charging_period::ActiveModel {
            session_pk: Set(session_pk),
            start_date_time: Set(period.start_date_time),
            ..Default::default()
        },
    };
    model.dimensions = Set(period.dimensions);
    model.tariff_id = Set(period.tariff_id);
    model.energy_micro = Set(period.energy_micro);
    model.time_micro = Set(period.time_micro);
    model.save(conn).await?;
    Ok(true)
}

/// Appends a timeline entry.
pub async fn insert_event(conn: &impl ConnectionTrait, row: EventRow) -> Result<(), StoreError> {
    let model = session_event::ActiveModel {
        session_pk: Set(row.session_pk),
        inbox_pk: Set(row.inbox_pk),
        method: Set(row.method),
        at: Set(row.at),
        received_at: Set(row.received_at),
        status: Set(row.status),
        kwh_micro: Set(row.kwh_micro),
        total_cost_micro: Set(row.total_cost_micro),
        applied: Set(row.applied),
        ..Default::default()
    };
    session_event::Entity::insert(model).exec(conn).await?;
    Ok(())
}
