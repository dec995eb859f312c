//! Table `push_token`: A push token: only the SHA-256 of the secret is kept.

use sea_orm::entity::prelude::*;

/// A push token: only the SHA-256 of the secret is kept.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "push_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub token_hash: String,
    pub label: Option<String>,
    /// JSON array of "CC/PTY" strings; the first is the default party.
    #[sea_orm(column_type = "Text")]
    pub parties: String,
    /// `by-version` (strict under 2.2.1 only), `strict` or `lenient`.
    pub strictness: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// When the token last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTimeUtc>,
    /// The token a rotation issued in this one's place.
    pub replaced_by: Option<i64>,
}

/// No relations are declared; joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
