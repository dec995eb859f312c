//! Push tokens: created by the CLI, looked up by hash on every push.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::push_token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use super::{Store, StoreError};
use crate::domain::{Party, Timestamp};
use crate::ocpi::auth::{Caller, Strictness};

/// A token as listed by `chargegraph token list` (never the secret).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Row id.
    pub id: i64,
    /// Free label.
    pub label: Option<String>,
    /// Parties it may write.
    pub parties: Vec<Party>,
    /// When a PATCH without last_updated is refused.
    pub strictness: Strictness,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// The token a rotation issued in its place.
    pub replaced_by: Option<i64>,
}

/// A token to create.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// Free label.
    pub label: Option<String>,
    /// Parties it may write; the first is the default.
    pub parties: Vec<Party>,
    /// When a PATCH without last_updated is refused.
    pub strictness: Strictness,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a token hash stands for.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// A token that may push now.
    Active(Caller),
    /// A token that expired at this instant.
    Expired(DateTime<Utc>),
    /// A revoked token.
    Revoked,
    /// No such token.
    Unknown,
}

/// Stores a new token by its hash: `strict` for always strict, else
/// strict under 2.2.1 only (the default).
pub async fn insert(
    store: &Store,
    token_hash: &str,
    label: Option<String>,
    parties: &[Party],
    strict: bool,
) -> Result<i64, StoreError> {
    let token = NewToken {
        label,
        parties: parties.to_vec(),
        strictness: if strict {
            Strictness::Strict
        } else {
            Strictness::ByVersion
        },
        expires_at: None,
    };
    create(store, token_hash, &token).await
}

/// Stores a new token, with its expiry, by its hash.
pub async fn create(store: &Store, token_hash: &str, token: &NewToken) -> Result<i64, StoreError> {
    let parties: Vec<String> = token.parties.iter().map(Party::to_string).collect();
    let row = push_token::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        label: Set(token.label.clone()),
        parties: Set(serde_json::to_string(&parties).unwrap_or_else(|_| "[]".into())),
        strictness: Set(token.strictness.as_str().to_owned()),
        created_at: Set(Timestamp::now().as_datetime()),
        expires_at: Set(token.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        replaced_by: Set(None),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    let id = row.insert(&write.txn).await?.id;
    write.commit().await?;
    Ok(id)
}

/// What a token hash stands for now.
///
/// An active token is remembered for a few seconds
/// (`StoreOptions::token_cache_ttl`), so that a CPO pushing many updates a
/// second costs one lookup per token and period; `revoke` and `rotate` drop
/// what this process remembers (another process or replica may keep a
/// revoked token working for up to the cache time).
pub async fn lookup(store: &Store, token_hash: &str) -> Result<Lookup, StoreError> {
    if let Some(caller) = store.tokens.get(token_hash) {
        return Ok(Lookup::Active(caller));
    }
    let row = push_token::Entity::find()
        .filter(push_token::Column::TokenHash.eq(token_hash))
        .one(store.db())
        .await?;
    let Some(row) = row else {
        return Ok(Lookup::Unknown);
    };
    if row.revoked_at.is_some() {
        return Ok(Lookup::Revoked);
    }
    if let Some(at) = row.expires_at.filter(|at| *at <= Utc::now()) {
        return Ok(Lookup::Expired(at));
    }
    let caller = Caller {
        token_pk: row.id,
        parties: parties_of(&row)?,
        strictness: strictness_of(&row)?,
    };
    store.tokens.put(token_hash, &caller, row.expires_at);
    Ok(Lookup::Active(caller))
}

/// Forgets every remembered token, so that the next push of each is looked up again.
pub fn forget_cached(store: &Store) {
    store.tokens.clear();
}

/// The caller a token row stood for, whether or not it is still active:
/// `chargegraph replay` re-applies a push as the token that sent it.
pub async fn caller_by_pk(store: &Store, token_pk: i64) -> Result<Option<Caller>, StoreError> {
    let Some(row) = push_token::Entity::find_by_id(token_pk)
        .one(store.db())
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Caller {
        token_pk: row.id,
        parties: parties_of(&row)?,
        strictness: strictness_of(&row)?,
    }))
}

/// The caller behind a token hash, when the token exists and is neither revoked nor expired.
pub async fn find_active(store: &Store, token_hash: &str) -> Result<Option<Caller>, StoreError> {
    match lookup(store, token_hash).await? {
        Lookup::Active(caller) => Ok(Some(caller)),
        _ => Ok(None),
    }
}

/// Every token, oldest first.
pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = push_token::Entity::find()
        .order_by_asc(push_token::Column::Id)
        .all(store.db())
        .await?;
    rows.iter().map(info).collect()
}

/// One token, by id.
pub async fn get(store: &Store, id: i64) -> Result<Option<TokenInfo>, StoreError> {
    let row = push_token::Entity::find_by_id(id).one(store.db()).await?;
    row.as_ref().map(info).transpose()
}

/// Revokes a token at once; `false` when there is no such token.
pub async fn revoke(store: &Store, id: i64) -> Result<bool, StoreError> {
    let write = store.begin_write().await?;
    let Some(row) = push_token::Entity::find_by_id(id).one(&write.txn).await? else {
        return Ok(false);
    };
    if row.revoked_at.is_none() {
        let mut row = row.into_active_model();
        row.revoked_at = Set(Some(Timestamp::now().as_datetime()));
        row.update(&write.txn).await?;
    }
    write.commit().await?;
    forget_cached(store);
    Ok(true)
}

/// Issues a token in place of `id`, with the same label, parties, strictness
/// and expiry, under `new_hash`; the old one keeps working until
/// `old_valid_until` (or its own earlier expiry). `None` when `id` is unknown,
/// revoked or expired.
pub async fn rotate(
    store: &Store,
    id: i64,
    new_hash: &str,
    old_valid_until: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let write = store.begin_write().await?;
    let Some(old) = push_token::Entity::find_by_id(id).one(&write.txn).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if old.revoked_at.is_some() || old.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let new = push_token::ActiveModel {
        token_hash: Set(new_hash.to_owned()),
        label: Set(old.label.clone()),
        parties: Set(old.parties.clone()),
        strictness: Set(old.strictness.clone()),
        created_at: Set(Timestamp::now().as_datetime()),
        expires_at: Set(old.expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        replaced_by: Set(None),
        ..Default::default()
    };
    let new_id = new.insert(&write.txn).await?.id;
    let until = old
        .expires_at
        .map_or(old_valid_until, |at| at.min(old_valid_until));
    let mut old = old.into_active_model();
    old.expires_at = Set(Some(until));
    old.replaced_by = Set(Some(new_id));
    old.update(&write.txn).await?;
    write.commit().await?;
    forget_cached(store);
    Ok(Some(new_id))
}

/// Records that a token authenticated a request now.
pub async fn touch(store: &Store, id: i64) -> Result<(), StoreError> {
    let row = push_token::ActiveModel {
        id: Set(id),
        last_used_at: Set(Some(Timestamp::now().as_datetime())),
        ..Default::default()
    };
    let write = store.begin_write().await?;
    row.update(&write.txn).await?;
    write.commit().await
}

fn info(row: &push_token::Model) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: row.id,
        label: row.label.clone(),
        parties: parties_of(row)?,
        strictness: strictness_of(row)?,
        revoked: row.revoked_at.is_some(),
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        last_used_at: row.last_used_at,
        replaced_by: row.replaced_by,
    })
}

fn parties_of(row: &push_token::Model) -> Result<Vec<Party>, StoreError> {
    parse_parties(&row.parties)
        .map_err(|e| StoreError::Corrupt(format!("push_token {}: {e}", row.id)))
}

fn strictness_of(row: &push_token::Model) -> Result<Strictness, StoreError> {
    Strictness::parse(&row.strictness).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "push_token {}: strictness {:?}",
            row.id, row.strictness
        ))
    })
}

/// Reads a stored JSON list of "CC/PTY" names.
pub(crate) fn parse_parties(json: &str) -> Result<Vec<Party>, String> {
    let names: Vec<String> = serde_json::from_str(json).map_err(|e| format!("parties: {e}"))?;
    names
        .iter()
        .map(|n| Party::parse(n).map_err(|e| e.to_string()))
        .collect()
}

/// Decides which credential uses are written down: at most one per
/// credential per interval, so that `last_used_at` costs no write per push.
#[derive(Debug, Clone)]
pub struct UsageThrottle {
    interval: std::time::Duration,
    last: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>>,
}

impl UsageThrottle {
    /// Writes at most once per `interval` per credential id.
    pub fn new(interval: std::time::Duration) -> UsageThrottle {
        UsageThrottle {
            interval,
            last: Default::default(),
        }
    }

    /// Whether this use of credential `id` should be written down now.
    pub fn due(&self, id: i64) -> bool {
        let now = std::time::Instant::now();
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        match last.get(&id) {
            Some(at) if now.duration_since(*at) < self.interval => false,
            _ => {
                last.insert(id, now);
                true
            }
        }
    }
}

/// Active tokens seen recently, by hash. Unknown tokens are never kept, so a
/// new token works at once and guessing fills nothing.
pub(crate) struct Cache {
    ttl: Duration,
    entries: std::sync::Mutex<HashMap<String, Cached>>,
}

struct Cached {
    caller: Caller,
    fetched: Instant,
    expires_at: Option<DateTime<Utc>>,
}

/// Tokens remembered at most; the cache starts over when it is full.
const CACHE_ENTRIES: usize = 4096;

impl Cache {
    pub(crate) fn new(ttl: Duration) -> Cache {
        Cache {
            ttl,
            entries: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, token_hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.get(token_hash)?;
        let fresh = cached.fetched.elapsed() < self.ttl;
        let unexpired = cached.expires_at.is_none_or(|at| at > Utc::now());
        (fresh && unexpired).then(|| cached.caller.clone())
    }

    fn put(&self, token_hash: &str, caller: &Caller, expires_at: Option<DateTime<Utc>>) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        let cached = Cached {
            caller: caller.clone(),
            fetched: Instant::now(),
            expires_at,
        };
        entries.insert(token_hash.to_owned(), cached);
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
