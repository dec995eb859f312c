//! Writes and lookups of CDRs.

use chrono::{DateTime, Utc};
use entity::cdr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::StoreError;
use crate::domain::party::key;

/// Derived columns of a CDR row.
#[derive(Debug, Clone, Default)]
pub struct CdrRow {
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub session_id: Option<String>,
    pub location_id: Option<String>,
    pub evse_uid: Option<String>,
    pub connector_id: Option<String>,
    pub location_pk: Option<i64>,
    pub start_date_time: Option<DateTime<Utc>>,
    pub end_date_time: Option<DateTime<Utc>>,
    pub auth_id: Option<String>,
    pub auth_method: Option<String>,
    pub token_uid: Option<String>,
    pub currency: Option<String>,
    pub total_cost_micro: Option<i64>,
    pub total_cost_incl_vat_micro: Option<i64>,
    pub total_energy_micro: Option<i64>,
    pub total_time_micro: Option<i64>,
    pub total_parking_time_micro: Option<i64>,
    pub tariff_ids: Vec<String>,
    pub credit: bool,
    pub credit_reference_id: Option<String>,
    pub credit_of_pk: Option<i64>,
    pub last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// The CDR with these (case-insensitive) keys.
pub async fn find(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<cdr::Model>, StoreError> {
    Ok(cdr::Entity::find()
        .filter(cdr::Column::CountryCodeKey.eq(key(country_code)))
        .filter(cdr::Column::PartyIdKey.eq(key(party_id)))
        .filter(cdr::Column::OcpiIdKey.eq(key(ocpi_id)))
        .one(conn)
        .await?)
}

/// Stores a new CDR; CDRs are never updated.
pub async fn insert(conn: &impl ConnectionTrait, row: CdrRow) -> Result<cdr::Model, StoreError> {
    let model = cdr::ActiveModel {
        country_code_key: Set(key(&row.country_code)),
        party_id_key: Set(key(&row.party_id)),
        ocpi_id_key: Set(key(&row.ocpi_id)),
        country_code: Set(row.country_code),
        party_id: Set(row.party_id),
        ocpi_id: Set(row.ocpi_id),
        session_id: Set(row.session_id),
        location_id: Set(row.location_id),
        evse_uid: Set(row.evse_uid),
        connector_id: Set(row.connector_id),
        location_pk: Set(row.location_pk),
        start_date_time: Set(row.start_date_time),
        end_date_time: Set(row.end_date_time),
        auth_id: Set(row.auth_id),
        auth_method: Set(row.auth_method),
        token_uid: Set(row.token_uid),
        currency: Set(row.currency),
        total_cost_micro: Set(row.total_cost_micro),
        total_cost_incl_vat_micro: Set(row.total_cost_incl_vat_micro),
        total_energy_micro: Set(row.total_energy_micro),
        total_time_micro: Set(row.total_time_micro),
        total_parking_time_micro: Set(row.total_parking_time_micro),
        tariff_ids: Set(serde_json::to_string(&row.tariff_ids).unwrap_or_else(|_| "[]".into())),
        credit: Set(row.credit),
        credit_reference_id: Set(row.credit_reference_id),
        credit_of_pk: Set(row.credit_of_pk),
        last_updated: Set(row.last_updated),
        received_at: Set(row.received_at),
        raw: Set(row.raw),
        ..Default::default()
    };
    Ok(model.insert(conn).await?)
}
