//! Columns `location.own_last_updated` and `evse.own_last_updated`: the
//! sender stamp of the object's own last applied write, kept apart from
//! `last_updated`, which children's changes move forward (OCPI parent
//! stamps). The stale guard compares with the own stamp. Existing rows take
//! their `last_updated`, the stamp the guard compared with until now.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Stamped::Location, Stamped::Evse] {
            let alter = Table::alter()
                .table(table)
                .add_column(timestamp_with_time_zone_null(Stamped::OwnLastUpdated))
                .to_owned();
            manager.alter_table(alter).await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("UPDATE location SET own_last_updated = last_updated")
            .await?;
        db.execute_unprepared("UPDATE evse SET own_last_updated = last_updated")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Stamped::Location, Stamped::Evse] {
            let alter = Table::alter()
                .table(table)
                .drop_column(Stamped::OwnLastUpdated)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Stamped {
    Location,
    Evse,
    OwnLastUpdated,
}
