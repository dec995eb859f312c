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
        tariff_key: Set(tariff_key(&row.tariff_ids)),
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

/// The key billing groups a CDR's tariff set by: the ids upper-cased (ids
/// compare case-insensitively), deduplicated and sorted, as a JSON array, so
/// that a CDR with several tariffs counts once, under its whole set.
pub fn tariff_key(tariff_ids: &[String]) -> String {
    let mut keys: Vec<String> = tariff_ids.iter().map(|id| id.to_uppercase()).collect();
    keys.sort();
    keys.dedup();
    serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::tariff_key;

    #[test]
    fn a_tariff_set_has_one_key_whatever_the_order_and_spelling() {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(tariff_key(&ids(&["t9", "T1"])), r#"["T1","T9"]"#);
        assert_eq!(tariff_key(&ids(&["T1", "T9", "t1"])), r#"["T1","T9"]"#);
        assert_eq!(tariff_key(&[]), "[]");
    }
}
