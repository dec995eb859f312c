//! Indexes for every filter and sort the GraphQL read API offers, on both
//! backends. Expression indexes are written as SQL that SQLite and
//! PostgreSQL both accept, with the expressions the store's queries use.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, indexed columns or expressions).
const INDEXES: &[(&str, &str, &str)] = &[
    ("ix_location_postal_code", "location", "postal_code"),
    ("ix_location_publish", "location", "publish"),
    (
        "ix_location_coordinates",
        "location",
        "latitude_deg, longitude_deg",
    ),
    (
        "ix_location_name_order",
        "location",
        "COALESCE(name, ''), id",
    ),
    (
        "ix_location_updated_order",
        "location",
        "COALESCE(last_updated, received_at), id",
    ),
    ("ix_evse_status", "evse", "status, location_pk"),
    ("ix_connector_standard", "connector", "UPPER(standard)"),
    ("ix_connector_power_type", "connector", "UPPER(power_type)"),
    ("ix_session_location", "session", "location_pk, id"),
    ("ix_session_location_id", "session", "location_id"),
    ("ix_session_status", "session", "status"),
    ("ix_session_auth_id", "session", "auth_id"),
    ("ix_session_token_uid", "session", "token_uid"),
    ("ix_session_start", "session", "start_date_time"),
    ("ix_cdr_location", "cdr", "location_pk, id"),
    ("ix_cdr_location_id", "cdr", "location_id"),
    (
        "ix_cdr_session",
        "cdr",
        "country_code_key, party_id_key, session_id",
    ),
    ("ix_cdr_currency", "cdr", "currency"),
    ("ix_cdr_credit", "cdr", "credit"),
    (
        "ix_notification_station",
        "notification",
        "charge_station_id",
    ),
    ("ix_notification_location", "notification", "location_id"),
    ("ix_notification_level", "notification", "level"),
    ("ix_notification_action", "notification", "message_action"),
    ("ix_notification_created", "notification", "created"),
    ("ix_tariff_currency", "tariff", "currency"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, table, columns) in INDEXES {
            let sql = format!("CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})");
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
