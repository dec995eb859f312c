//! Writes and lookups of tariffs.

use chrono::{DateTime, Utc};
use entity::tariff;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    Select, Set, TryIntoModel,
};

use super::StoreError;
use crate::domain::party::key;

/// Derived columns of a tariff row.
#[derive(Debug, Clone, Default)]
pub struct TariffRow {
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub currency: Option<String>,
    pub tariff_type: Option<String>,
    pub start_date_time: Option<DateTime<Utc>>,
    pub end_date_time: Option<DateTime<Utc>>,
    pub last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// The tariff with these (case-insensitive) keys, deleted or not.
pub async fn find(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<tariff::Model>, StoreError> {
    let select = select_tariff(country_code, party_id, ocpi_id);
    Ok(select.one(conn).await?)
}

/// The tariff with these keys, locked until the transaction ends (PostgreSQL),
/// so that two replicas applying updates of one tariff take turns.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<tariff::Model>, StoreError> {
    let select = select_tariff(country_code, party_id, ocpi_id);
    Ok(super::for_update(select, conn).one(conn).await?)
}

fn select_tariff(country_code: &str, party_id: &str, ocpi_id: &str) -> Select<tariff::Entity> {
    tariff::Entity::find()
        .filter(tariff::Column::CountryCodeKey.eq(key(country_code)))
        .filter(tariff::Column::PartyIdKey.eq(key(party_id)))
        .filter(tariff::Column::OcpiIdKey.eq(key(ocpi_id)))
}

/// Inserts a tariff, or replaces the stored one (clearing a soft delete).
pub async fn save(
    conn: &impl ConnectionTrait,
    existing: Option<tariff::Model>,
    row: TariffRow,
) -> Result<tariff::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => tariff::ActiveModel {
            country_code_key: Set(key(&row.country_code)),
            party_id_key: Set(key(&row.party_id)),
            ocpi_id_key: Set(key(&row.ocpi_id)),
            country_code: Set(row.country_code),
            party_id: Set(row.party_id),
            ocpi_id: Set(row.ocpi_id),
            ..Default::default()
        },
    };
    model.currency = Set(row.currency);
    model.tariff_type = Set(row.tariff_type);
    model.start_date_time = Set(row.start_date_time);
    model.end_date_time = Set(row.end_date_time);
    model.last_updated = Set(row.last_updated);
    model.received_at = Set(row.received_at);
    model.deleted_at = Set(None);
    model.raw = Set(row.raw);
    Ok(model.save(conn).await?.try_into_model()?)
}

/// Marks a tariff deleted; its row and raw JSON stay for history.
pub async fn soft_delete(
    conn: &impl ConnectionTrait,
    model: tariff::Model,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut active = model.into_active_model();
    active.deleted_at = Set(Some(at));
    active.received_at = Set(at);
    active.update(conn).await?;
    Ok(())
}
