//! Table `outbox_horizon`: one row; every outbox row up to `pruned_through` is gone.

use sea_orm::entity::prelude::*;

/// One row; every outbox row up to `pruned_through` has been pruned.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_horizon")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// Highest sequence number pruned; a cursor below it is stale.
    pub pruned_through: i64,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
