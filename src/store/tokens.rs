//! Push tokens: created by the CLI, looked up by hash on every push.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::push_token;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Store, StoreError};
use crate::domain::{Party, Timestamp};
use crate::ocpi::auth::Caller;

/// A token as listed by `chargegraph token list` (never the secret).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Row id.
    pub id: i64,
    /// Free label.
    pub label: Option<String>,
    /// Parties it may write.
    pub parties: Vec<Party>,
    /// Strict 2.2.1 mode.
    pub strict: bool,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Stores a new token by its hash.
pub async fn insert(
    store: &Store,
    token_hash: &str,
    label: Option<String>,
    parties: &[Party],
    strict: bool,
) -> Result<i64, StoreError> {
    let parties: Vec<String> = parties.iter().map(Party::to_string).collect();
    let row = push_token::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        label: Set(label),
        parties: Set(serde_json::to_string(&parties).unwrap_or_else(|_| "[]".into())),
        strict: Set(strict),
        created_at: Set(Timestamp::now().as_datetime()),
        expires_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    Ok(row.insert(store.db()).await?.id)
}

/// The caller behind a token hash, when the token exists and is neither revoked nor expired.
///
/// An active token is remembered for a few seconds (`StoreOptions::token_cache_ttl`),
/// so that a CPO pushing many updates a second costs one lookup per token and
/// period; `forget_cached` drops what is remembered (a revocation calls it).
pub async fn find_active(store: &Store, token_hash: &str) -> Result<Option<Caller>, StoreError> {
    if let Some(caller) = store.tokens.get(token_hash) {
        return Ok(Some(caller));
    }
    let found = lookup(store, token_hash).await?;
    if let Some((caller, expires_at)) = &found {
        store.tokens.put(token_hash, caller, *expires_at);
    }
    Ok(found.map(|(caller, _)| caller))
}

/// Forgets every remembered token, so that the next push of each is looked up again.
pub fn forget_cached(store: &Store) {
    store.tokens.clear();
}

async fn lookup(
    store: &Store,
    token_hash: &str,
) -> Result<Option<(Caller, Option<DateTime<Utc>>)>, StoreError> {
    let row = push_token::Entity::find()
        .filter(push_token::Column::TokenHash.eq(token_hash))
        .one(store.db())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let now = Utc::now();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let caller = Caller {
        token_pk: row.id,
        parties: parties_of(&row)?,
        strict: row.strict,
    };
    Ok(Some((caller, row.expires_at)))
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
        strict: row.strict,
    }))
}

/// Every token, oldest first.
pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = push_token::Entity::find()
        .order_by_asc(push_token::Column::Id)
        .all(store.db())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(TokenInfo {
                id: row.id,
                label: row.label.clone(),
                parties: parties_of(row)?,
                strict: row.strict,
                revoked: row.revoked_at.is_some(),
            })
        })
        .collect()
}

fn parties_of(row: &push_token::Model) -> Result<Vec<Party>, StoreError> {
    let names: Vec<String> = serde_json::from_str(&row.parties)
        .map_err(|e| StoreError::Corrupt(format!("push_token {} parties: {e}", row.id)))?;
    names
        .iter()
        .map(|n| Party::parse(n).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
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
