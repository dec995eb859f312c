//! Database migrations for chargegraph, one file per change, run on SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod m20261203_000001_init;
mod m20261203_000002_tariff;
mod m20261203_000003_session_stamps;
mod m20261204_010001_inbox_replay;
mod m20261204_020001_location_geo;
mod m20261204_020002_read_indexes;
mod m20261204_04_outbox_horizon;
mod m20261204_05_child_order_indexes;
mod m20261204_070001_token_lifecycle;
mod m20261204_080001_reconcile;
mod m20261204_090001_read_filter_indexes;
mod m20261204_100001_token_strictness;
mod m20261204_110001_own_stamps;
mod m20261205_040001_cdr_tariff_key;
mod m20261206_010001_location_id_and_run_filter_indexes;

/// Runs every chargegraph migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261203_000001_init::Migration),
            Box::new(m20261203_000002_tariff::Migration),
            Box::new(m20261203_000003_session_stamps::Migration),
            Box::new(m20261204_04_outbox_horizon::Migration),
            Box::new(m20261204_010001_inbox_replay::Migration),
            Box::new(m20261204_05_child_order_indexes::Migration),
            Box::new(m20261204_020001_location_geo::Migration),
            Box::new(m20261204_020002_read_indexes::Migration),
            Box::new(m20261204_070001_token_lifecycle::Migration),
            Box::new(m20261204_080001_reconcile::Migration),
            Box::new(m20261204_090001_read_filter_indexes::Migration),
            Box::new(m20261204_100001_token_strictness::Migration),
            Box::new(m20261204_110001_own_stamps::Migration),
            Box::new(m20261205_040001_cdr_tariff_key::Migration),
            Box::new(m20261206_010001_location_id_and_run_filter_indexes::Migration),
        ]
    }
}
