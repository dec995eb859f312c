//! `cdr.tariff_key`: the canonical key of a CDR's tariff set, so that billing
//! groups CDRs by tariff set in SQL.
//!
//! `cdr.tariff_ids` keeps the ids in the order the CPO sent them; the key is
//! the same ids upper-cased (ids compare case-insensitively), deduplicated
//! and sorted, as a JSON array: `["T1","T9"]` for both `["t9","T1"]` and
//! `["T1","T9","t1"]`. Existing rows are filled in here; the store writes
//! the key of every new CDR (`store::cdrs::tariff_key`, the same rule).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Cdr::Table)
            .add_column(
                ColumnDef::new(Cdr::TariffKey)
                    .text()
                    .not_null()
                    .default("[]"),
            )
            .to_owned();
        manager.alter_table(alter).await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Cdr::Table)
            .drop_column(Cdr::TariffKey)
            .to_owned();
        manager.alter_table(alter).await
    }
}

/// Writes the key of every stored CDR whose tariff list is not empty.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let select = Query::select()
        .columns([Cdr::Id, Cdr::TariffIds])
        .from(Cdr::Table)
        .and_where(Expr::col(Cdr::TariffIds).ne("[]"))
        .to_owned();
    for row in db.query_all(&select).await? {
        let id: i64 = row.try_get("", "id")?;
        let ids: String = row.try_get("", "tariff_ids")?;
        let update = Query::update()
            .table(Cdr::Table)
            .value(Cdr::TariffKey, key(&ids))
            .and_where(Expr::col(Cdr::Id).eq(id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}

/// The canonical key of a JSON array of tariff ids (unreadable text: none).
fn key(tariff_ids: &str) -> String {
    let ids: Vec<Option<String>> = serde_json::from_str(tariff_ids).unwrap_or_default();
    let mut keys: Vec<String> = ids
        .into_iter()
        .flatten()
        .map(|id| id.to_uppercase())
        .collect();
    keys.sort();
    keys.dedup();
    serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into())
}

#[derive(DeriveIden)]
enum Cdr {
    Table,
    Id,
    TariffIds,
    TariffKey,
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn the_key_is_upper_cased_deduplicated_and_sorted() {
        assert_eq!(key(r#"["t9","T1"]"#), r#"["T1","T9"]"#);
        assert_eq!(key(r#"["T1","T9","t1"]"#), r#"["T1","T9"]"#);
        assert_eq!(key("[]"), "[]");
        assert_eq!(key("not json"), "[]");
    }
}
