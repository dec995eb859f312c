//! Indexes for the read filters the earlier read-index migrations missed,
//! found by the plan test (src/graphql/tests/read_plans.rs): a location by
//! its id alone (the tariffs a location's connectors name: the filter has
//! no party, so the unique key, which starts with the country code, cannot
//! serve it) and a reconciliation run's CPO and trigger, each with the id,
//! the order the runs are paged in.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, indexed columns).
const INDEXES: &[(&str, &str, &str)] = &[
    ("ix_location_ocpi_id", "location", "ocpi_id_key"),
    ("ix_reconcile_run_cpo", "reconcile_run", "cpo, id"),
    ("ix_reconcile_run_trigger", "reconcile_run", "trigger, id"),
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
