//! Columns `location.geo_x`, `geo_y`, `geo_z`: the unit vector of the
//! coordinates, so radius search and distance order are arithmetic in SQL on
//! both backends (SQLite as bundled has no trigonometric functions), filled
//! here for the locations already stored.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Location::GeoX, Location::GeoY, Location::GeoZ] {
            let alter = Table::alter()
                .table(Location::Table)
                .add_column(double_null(column))
                .to_owned();
            manager.alter_table(alter).await?;
        }
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Location::GeoX, Location::GeoY, Location::GeoZ] {
            let alter = Table::alter()
                .table(Location::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Location {
    Table,
    Id,
    LatitudeDeg,
    LongitudeDeg,
    GeoX,
    GeoY,
    GeoZ,
}

/// The same unit vector as `chargegraph::domain::geo::unit_vector` (this
/// crate cannot depend on the server crate).
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let select = Query::select()
        .columns([Location::Id, Location::LatitudeDeg, Location::LongitudeDeg])
        .from(Location::Table)
        .and_where(Expr::col(Location::LatitudeDeg).is_not_null())
        .and_where(Expr::col(Location::LongitudeDeg).is_not_null())
        .to_owned();
    for row in db.query_all(&select).await? {
        let id: i64 = row.try_get_by_index(0)?;
        let lat = row.try_get_by_index::<f64>(1)?.to_radians();
        let lon = row.try_get_by_index::<f64>(2)?.to_radians();
        let update = Query::update()
            .table(Location::Table)
            .value(Location::GeoX, lat.cos() * lon.cos())
            .value(Location::GeoY, lat.cos() * lon.sin())
            .value(Location::GeoZ, lat.sin())
            .and_where(Expr::col(Location::Id).eq(id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}
