//! Table `api_key`: a GraphQL API key; only the SHA-256 of the secret is kept.

use sea_orm::entity::prelude::*;

/// A GraphQL API key: only the SHA-256 of the secret is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub key_hash: String,
    pub label: Option<String>,
    /// JSON array of "CC/PTY" strings the key may read; NULL means every party.
    #[sea_orm(column_type = "Text", nullable)]
    pub parties: Option<String>,
    /// Whether the key may read operator data (inbox, reconciliation).
    pub operator: bool,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
