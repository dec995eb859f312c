//! Indexes for the read filters the first read-index migration missed, each
//! on the expression the store's query compares (src/store/read.rs):
//! party-only filters (the unique keys start with the country code),
//! case-insensitive statuses, levels, actions and EVSE uids (UPPER(...)), a
//! connector's power in watts (minPower), a CDR's session id alone, whether
//! a tariff is deleted, and publish with the id (a filter this unselective
//! is only worth an index that also gives the page order). Plain indexes
//! that no query could use (the filters compare UPPER(column)) are
//! replaced, so that the EVSE status PATCH, the hottest write, updates as
//! many indexes as before.
//!
//! Expression indexes are SQL that SQLite and PostgreSQL both accept; each
//! expression is in parentheses, as PostgreSQL needs for anything but a
//! function call.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, indexed columns or expressions).
const CREATED: &[(&str, &str, &str)] = &[
    ("ix_location_party", "location", "party_id_key"),
    ("ix_location_publish_id", "location", "publish, id"),
    ("ix_evse_status_key", "evse", "(UPPER(status)), location_pk"),
    (
        "ix_connector_power",
        "connector",
        "(COALESCE(max_electric_power, max_voltage * max_amperage * \
         CASE WHEN UPPER(power_type) = 'AC_3_PHASE' THEN 3 ELSE 1 END))",
    ),
    ("ix_session_party", "session", "party_id_key"),
    ("ix_session_evse_uid", "session", "(UPPER(evse_uid))"),
    ("ix_session_status_key", "session", "(UPPER(status))"),
    ("ix_cdr_party", "cdr", "party_id_key"),
    ("ix_cdr_session_id", "cdr", "session_id"),
    (
        "ix_cdr_session_key",
        "cdr",
        "country_code_key, party_id_key, (UPPER(session_id))",
    ),
    ("ix_tariff_party", "tariff", "party_id_key"),
    ("ix_tariff_deleted", "tariff", "deleted_at"),
    ("ix_notification_party", "notification", "party_id"),
    (
        "ix_notification_level_key",
        "notification",
        "(UPPER(level))",
    ),
    (
        "ix_notification_action_key",
        "notification",
        "(UPPER(message_action))",
    ),
];

/// Indexes of m20261204_020002 that the ones above replace: (name, table, columns).
const REPLACED: &[(&str, &str, &str)] = &[
    ("ix_location_publish", "location", "publish"),
    ("ix_evse_status", "evse", "status, location_pk"),
    ("ix_session_status", "session", "status"),
    (
        "ix_cdr_session",
        "cdr",
        "country_code_key, party_id_key, session_id",
    ),
    ("ix_notification_level", "notification", "level"),
    ("ix_notification_action", "notification", "message_action"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        create_all(manager, CREATED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in CREATED {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        create_all(manager, REPLACED).await
    }
}

async fn create_all(
    manager: &SchemaManager<'_>,
    indexes: &[(&str, &str, &str)],
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for (name, table, columns) in indexes {
        let sql = format!("CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})");
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
