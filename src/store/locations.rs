//! Writes and lookups of locations, EVSEs, connectors and EVSE status history.

use chrono::{DateTime, Utc};
use entity::{connector, evse, evse_status_history, location};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, Select, Set, TryIntoModel,
};
use serde_json::{Map, Value};

use super::StoreError;
use crate::domain::party::key;

/// Derived columns of a location row.
#[derive(Debug, Clone, Default)]
pub struct LocationRow {
    pub country_code: String,
    pub party_id: String,
    pub ocpi_id: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub latitude_deg: Option<f64>,
    pub longitude_deg: Option<f64>,
    pub publish: Option<bool>,
    pub time_zone: Option<String>,
    pub location_type: Option<String>,
    /// The served sender stamp: the own one or a child's later one.
    pub last_updated: Option<DateTime<Utc>>,
    /// The stamp of the last applied location-level write.
    pub own_last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// Derived columns of an EVSE row.
#[derive(Debug, Clone, Default)]
pub struct EvseRow {
    pub uid: String,
    pub evse_id: Option<String>,
    pub status: Option<String>,
    pub status_since: Option<DateTime<Utc>>,
    /// The served sender stamp: the own one or a connector's later one.
    pub last_updated: Option<DateTime<Utc>>,
    /// The stamp of the last applied EVSE-level write.
    pub own_last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// Derived columns of a connector row.
#[derive(Debug, Clone, Default)]
pub struct ConnectorRow {
    pub connector_id: String,
    pub standard: Option<String>,
    pub format: Option<String>,
    pub power_type: Option<String>,
    pub max_voltage: Option<i64>,
    pub max_amperage: Option<i64>,
    pub max_electric_power: Option<i64>,
    pub tariff_ids: Vec<String>,
    pub last_updated: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub raw: String,
}

/// The location with these (case-insensitive) keys.
pub async fn find(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<location::Model>, StoreError> {
    let select = select_location(country_code, party_id, ocpi_id);
    Ok(select.one(conn).await?)
}

/// The location with these keys, locked until the transaction ends (PostgreSQL).
///
/// Ingest locks the location before any of its EVSEs or connectors, so that
/// writers of one location queue in one order and cannot deadlock.
pub async fn find_for_update(
    conn: &impl ConnectionTrait,
    country_code: &str,
    party_id: &str,
    ocpi_id: &str,
) -> Result<Option<location::Model>, StoreError> {
    let select = select_location(country_code, party_id, ocpi_id);
    Ok(super::for_update(select, conn).one(conn).await?)
}

fn select_location(country_code: &str, party_id: &str, ocpi_id: &str) -> Select<location::Entity> {
    location::Entity::find()
        .filter(location::Column::CountryCodeKey.eq(key(country_code)))
        .filter(location::Column::PartyIdKey.eq(key(party_id)))
        .filter(location::Column::OcpiIdKey.eq(key(ocpi_id)))
}

/// Inserts a location, or updates it keeping the id spelling first received.
pub async fn save(
    conn: &impl ConnectionTrait,
    existing: Option<location::Model>,
    row: LocationRow,
) -> Result<location::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => location::ActiveModel {
            country_code: Set(row.country_code.clone()),
            party_id: Set(row.party_id.clone()),
            ocpi_id: Set(row.ocpi_id.clone()),
            country_code_key: Set(key(&row.country_code)),
            party_id_key: Set(key(&row.party_id)),
            ocpi_id_key: Set(key(&row.ocpi_id)),
            ..Default::default()
        },
    };
    model.name = Set(row.name);
    model.address = Set(row.address);
    model.city = Set(row.city);
    model.postal_code = Set(row.postal_code);
    model.state = Set(row.state);
    model.country = Set(row.country);
    model.latitude = Set(row.latitude);
    model.longitude = Set(row.longitude);
    let unit = crate::domain::geo::unit_vector(row.latitude_deg, row.longitude_deg);
    model.geo_x = Set(unit.map(|v| v[0]));
    model.geo_y = Set(unit.map(|v| v[1]));
    model.geo_z = Set(unit.map(|v| v[2]));
    model.latitude_deg = Set(row.latitude_deg);
    model.longitude_deg = Set(row.longitude_deg);
    model.publish = Set(row.publish);
    model.time_zone = Set(row.time_zone);
    model.location_type = Set(row.location_type);
    model.last_updated = Set(row.last_updated);
    model.own_last_updated = Set(row.own_last_updated);
    model.received_at = Set(row.received_at);
    model.raw = Set(row.raw);
    Ok(model.save(conn).await?.try_into_model()?)
}

/// A parent's served stamp and raw JSON moved forward to a child's `stamp`,
/// when it is newer than the parent's `last_updated`.
fn forwarded(
    raw: &str,
    last_updated: Option<DateTime<Utc>>,
    stamp: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, String)> {
    let stamp = stamp.filter(|s| last_updated.is_none_or(|old| *s > old))?;
    let mut raw: Map<String, Value> = serde_json::from_str(raw).unwrap_or_default();
    let text = crate::domain::Timestamp::from_datetime(stamp).to_string();
    raw.insert("last_updated".into(), Value::String(text));
    Some((stamp, Value::Object(raw).to_string()))
}

/// Moves a parent's served sender stamp forward to a child's (OCPI 2.2.1
/// Locations: a child's change sets the new last_updated on its parents).
/// The parent's own stamp, which its stale guard compares with, stays.
pub async fn bump_location(
    conn: &impl ConnectionTrait,
    model: &location::Model,
    stamp: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = location::ActiveModel {
        received_at: Set(received_at),
        ..Default::default()
    };
    if let Some((stamp, raw)) = forwarded(&model.raw, model.last_updated, stamp) {
        update.last_updated = Set(Some(stamp));
        update.raw = Set(raw);
    }
    // The Set columns only, without reading the row (and its raw JSON) back.
    location::Entity::update_many()
        .set(update)
        .filter(location::Column::Id.eq(model.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves an EVSE's served sender stamp forward to its connector's; its own
/// stamp stays.
pub async fn bump_evse(
    conn: &impl ConnectionTrait,
    model: &evse::Model,
    stamp: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut update = evse::ActiveModel {
        received_at: Set(received_at),
        ..Default::default()
    };
    if let Some((stamp, raw)) = forwarded(&model.raw, model.last_updated, stamp) {
        update.last_updated = Set(Some(stamp));
        update.raw = Set(raw);
    }
    // The Set columns only, without reading the row (and its raw JSON) back.
    evse::Entity::update_many()
        .set(update)
        .filter(evse::Column::Id.eq(model.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The EVSEs of a location, in insertion order.
pub async fn evses(
    conn: &impl ConnectionTrait,
    location_pk: i64,
) -> Result<Vec<evse::Model>, StoreError> {
    Ok(evse::Entity::find()
        .filter(evse::Column::LocationPk.eq(location_pk))
        .order_by_asc(evse::Column::Id)
        .all(conn)
        .await?)
}

/// The EVSE of a location with this uid (case-insensitive, no fuzzy matching).
pub async fn find_evse(
    conn: &impl ConnectionTrait,
    location_pk: i64,
    uid: &str,
) -> Result<Option<evse::Model>, StoreError> {
    Ok(select_evse(location_pk, uid).one(conn).await?)
}

/// The EVSE with this uid, locked until the transaction ends (PostgreSQL).
pub async fn find_evse_for_update(
    conn: &impl ConnectionTrait,
    location_pk: i64,
    uid: &str,
) -> Result<Option<evse::Model>, StoreError> {
    let select = super::for_update(select_evse(location_pk, uid), conn);
    Ok(select.one(conn).await?)
}

fn select_evse(location_pk: i64, uid: &str) -> Select<evse::Entity> {
    evse::Entity::find()
        .filter(evse::Column::LocationPk.eq(location_pk))
        .filter(evse::Column::UidKey.eq(key(uid)))
}

/// Inserts or updates an EVSE.
pub async fn save_evse(
    conn: &impl ConnectionTrait,
    location_pk: i64,
    existing: Option<evse::Model>,
    row: EvseRow,
) -> Result<evse::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => evse::ActiveModel {
            location_pk: Set(location_pk),
            uid: Set(row.uid.clone()),
            uid_key: Set(key(&row.uid)),
            ..Default::default()
        },
    };
    model.evse_id = Set(row.evse_id);
    model.status = Set(row.status);
    model.status_since = Set(row.status_since);
    model.last_updated = Set(row.last_updated);
    model.own_last_updated = Set(row.own_last_updated);
    model.received_at = Set(row.received_at);
    model.raw = Set(row.raw);
    Ok(model.save(conn).await?.try_into_model()?)
}

/// The connectors of an EVSE, in insertion order.
pub async fn connectors(
    conn: &impl ConnectionTrait,
    evse_pk: i64,
) -> Result<Vec<connector::Model>, StoreError> {
    Ok(connector::Entity::find()
        .filter(connector::Column::EvsePk.eq(evse_pk))
        .order_by_asc(connector::Column::Id)
        .all(conn)
        .await?)
}

/// The connector of an EVSE with this id (case-insensitive).
pub async fn find_connector(
    conn: &impl ConnectionTrait,
    evse_pk: i64,
    connector_id: &str,
) -> Result<Option<connector::Model>, StoreError> {
    Ok(select_connector(evse_pk, connector_id).one(conn).await?)
}

/// The connector with this id, locked until the transaction ends (PostgreSQL).
pub async fn find_connector_for_update(
    conn: &impl ConnectionTrait,
    evse_pk: i64,
    connector_id: &str,
) -> Result<Option<connector::Model>, StoreError> {
    let select = super::for_update(select_connector(evse_pk, connector_id), conn);
    Ok(select.one(conn).await?)
}

fn select_connector(evse_pk: i64, connector_id: &str) -> Select<connector::Entity> {
    connector::Entity::find()
        .filter(connector::Column::EvsePk.eq(evse_pk))
        .filter(connector::Column::ConnectorIdKey.eq(key(connector_id)))
}

/// Inserts or updates a connector.
pub async fn save_connector(
    conn: &impl ConnectionTrait,
    evse_pk: i64,
    existing: Option<connector::Model>,
    row: ConnectorRow,
) -> Result<connector::Model, StoreError> {
    let mut model = match existing {
        Some(m) => m.into_active_model(),
        None => connector::ActiveModel {
            evse_pk: Set(evse_pk),
            connector_id: Set(row.connector_id.clone()),
            connector_id_key: Set(key(&row.connector_id)),
            ..Default::default()
        },
    };
    model.standard = Set(row.standard);
    model.format = Set(row.format);
    model.power_type = Set(row.power_type);
    model.max_voltage = Set(row.max_voltage);
    model.max_amperage = Set(row.max_amperage);
    model.max_electric_power = Set(row.max_electric_power);
    model.tariff_ids = Set(serde_json::to_string(&row.tariff_ids).unwrap_or_else(|_| "[]".into()));
    model.last_updated = Set(row.last_updated);
    model.received_at = Set(row.received_at);
    model.raw = Set(row.raw);
    Ok(model.save(conn).await?.try_into_model()?)
}

/// Deletes the connectors of an EVSE whose keys are not listed (a whole-EVSE
/// PUT stamped `stamp`), except those stamped after it: in stamp order they
/// were written after that PUT.
pub async fn delete_connectors_except(
    conn: &impl ConnectionTrait,
    evse_pk: i64,
    keep: &[String],
    stamp: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let mut delete = connector::Entity::delete_many()
        .filter(connector::Column::EvsePk.eq(evse_pk))
        .filter(connector::Column::ConnectorIdKey.is_not_in(keep.iter().map(|k| key(k))));
    if let Some(stamp) = stamp {
        let older = Condition::any()
            .add(connector::Column::LastUpdated.is_null())
            .add(connector::Column::LastUpdated.lte(stamp));
        delete = delete.filter(older);
    }
    delete.exec(conn).await?;
    Ok(())
}

/// One applied EVSE status change.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub evse_pk: i64,
    pub location_pk: i64,
    pub previous_status: Option<String>,
    pub status: String,
    pub changed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub stamp_from_sender: bool,
}

/// Records a status change in the EVSE's history.
pub async fn insert_status_change(
    conn: &impl ConnectionTrait,
    change: &StatusChange,
) -> Result<(), StoreError> {
    let model = evse_status_history::ActiveModel {
        evse_pk: Set(change.evse_pk),
        location_pk: Set(change.location_pk),
        previous_status: Set(change.previous_status.clone()),
        status: Set(change.status.clone()),
        changed_at: Set(change.changed_at),
        received_at: Set(change.received_at),
        stamp_from_sender: Set(change.stamp_from_sender),
        ..Default::default()
    };
    evse_status_history::Entity::insert(model)
        .exec(conn)
        .await?;
    Ok(())
}

/// The stored location as one OCPI object: its raw JSON with EVSEs and connectors nested.
pub async fn tree(
    conn: &impl ConnectionTrait,
    model: &location::Model,
) -> Result<Value, StoreError> {
    let mut root: Map<String, Value> = serde_json::from_str(&model.raw).unwrap_or_default();
    let mut evse_values = Vec::new();
    for evse in evses(conn, model.id).await? {
        evse_values.push(evse_tree(conn, &evse).await?);
    }
    root.insert("evses".into(), Value::Array(evse_values));
    Ok(Value::Object(root))
}

/// The stored EVSE as one OCPI object, connectors nested.
pub async fn evse_tree(
    conn: &impl ConnectionTrait,
    evse: &evse::Model,
) -> Result<Value, StoreError> {
    let mut value: Map<String, Value> = serde_json::from_str(&evse.raw).unwrap_or_default();
    let connectors = connectors(conn, evse.id).await?;
    let list = connectors
        .iter()
        .map(|c| serde_json::from_str(&c.raw).unwrap_or(Value::Null))
        .collect();
    value.insert("connectors".into(), Value::Array(list));
    Ok(Value::Object(value))
}
