//! GraphQL API keys: created by the CLI, looked up by hash on every request.

use chrono::{DateTime, Utc};
use entity::api_key;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::tokens::parse_parties;
use super::{Store, StoreError};
use crate::domain::{Access, Party, Timestamp};

/// An API key as listed by `chargegraph apikey list` (never the secret).
#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    /// Row id.
    pub id: i64,
    /// Free label.
    pub label: Option<String>,
    /// Parties it may read; `None` for every party.
    pub parties: Option<Vec<Party>>,
    /// Whether it may read operator data.
    pub operator: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key to create.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    /// Free label.
    pub label: Option<String>,
    /// Parties it may read; `None` for every party.
    pub parties: Option<Vec<Party>>,
    /// Whether it may read operator data.
    pub operator: bool,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a key hash stands for.
#[derive(Debug, Clone)]
pub enum KeyLookup {
    /// A usable key: its id and read scope.
    Active(i64, Access),
    /// A key that expired at this instant.
    Expired(DateTime<Utc>),
    /// A revoked key.
    Revoked,
    /// No such key.
    Unknown,
}

/// Stores a new key by its hash.
pub async fn create(store: &Store, key_hash: &str, key: &NewApiKey) -> Result<i64, StoreError> {
    let parties = key.parties.as_ref().map(|parties| {
        let names: Vec<String> = parties.iter().map(Party::to_string).collect();
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    });
    let row = api_key::ActiveModel {
        key_hash: Set(key_hash.to_owned()),
        label: Set(key.label.clone()),
        parties: Set(parties),
        operator: Set(key.operator),
        created_at: Set(Timestamp::now().as_datetime()),
        expires_at: Set(key.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    let id = row.insert(&write.txn).await?.id;
    write.commit().await?;
    Ok(id)
}

/// What a key hash stands for now.
pub async fn lookup(store: &Store, key_hash: &str) -> Result<KeyLookup, StoreError> {
    let row = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(key_hash))
        .one(store.db())
        .await?;
    let Some(row) = row else {
        return Ok(KeyLookup::Unknown);
    };
    if row.revoked_at.is_some() {
        return Ok(KeyLookup::Revoked);
    }
    if let Some(at) = row.expires_at.filter(|at| *at <= Utc::now()) {
        return Ok(KeyLookup::Expired(at));
    }
    let info = info(&row)?;
    let access = match info.parties {
        None if info.operator => Access::full(),
        None => Access::all_parties(false),
        Some(parties) => Access::scoped(parties, info.operator),
    };
    Ok(KeyLookup::Active(row.id, access))
}

/// Every key, oldest first.
pub async fn list(store: &Store) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let rows = api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(store.db())
        .await?;
    rows.iter().map(info).collect()
}

/// Revokes a key at once; `false` when there is no such key.
pub async fn revoke(store: &Store, id: i64) -> Result<bool, StoreError> {
    let write = store.begin_write().await?;
    let Some(row) = api_key::Entity::find_by_id(id).one(&write.txn).await? else {
        return Ok(false);
    };
    if row.revoked_at.is_none() {
        let mut row = row.into_active_model();
        row.revoked_at = Set(Some(Timestamp::now().as_datetime()));
        row.update(&write.txn).await?;
    }
    write.commit().await?;
    Ok(true)
}

/// Issues a key in place of `id`, with the same label, parties, operator
/// role and expiry, under `new_hash`; the old one keeps working until
/// `old_valid_until` (or its own earlier expiry). Returns the new key's id
/// and when the old one stops; `None` when `id` is unknown, revoked or expired.
pub async fn rotate(
    store: &Store,
    id: i64,
    new_hash: &str,
    old_valid_until: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
    let write = store.begin_write().await?;
    let Some(old) = api_key::Entity::find_by_id(id).one(&write.txn).await? else {
        return Ok(None);
    };
    if old.revoked_at.is_some() || old.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Ok(None);
    }
    let new = api_key::ActiveModel {
        key_hash: Set(new_hash.to_owned()),
        label: Set(old.label.clone()),
        parties: Set(old.parties.clone()),
        operator: Set(old.operator),
        created_at: Set(Timestamp::now().as_datetime()),
        expires_at: Set(old.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        ..Default::default()
    };
    let new_id = new.insert(&write.txn).await?.id;
    let until = old
        .expires_at
        .map_or(old_valid_until, |at| at.min(old_valid_until));
    let mut old = old.into_active_model();
    old.expires_at = Set(Some(until));
    old.update(&write.txn).await?;
    write.commit().await?;
    Ok(Some((new_id, until)))
}

/// Records that a key authenticated a request now.
pub async fn touch(store: &Store, id: i64) -> Result<(), StoreError> {
    let row = api_key::ActiveModel {
        id: Set(id),
        last_used_at: Set(Some(Timestamp::now().as_datetime())),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    row.update(&write.txn).await?;
    write.commit().await
}

fn info(row: &api_key::Model) -> Result<ApiKeyInfo, StoreError> {
    let parties = row
        .parties
        .as_deref()
        .map(parse_parties)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("api_key {}: {e}", row.id)))?;
    Ok(ApiKeyInfo {
        id: row.id,
        label: row.label.clone(),
        parties,
        operator: row.operator,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
    })
}
