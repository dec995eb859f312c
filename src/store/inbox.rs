//! The inbox: every request the receiver saw, with its outcome; the
//! operators' reads of it, the rows `chargegraph replay` chooses, and the
//! retention pruner's batched deletes.

use chrono::{DateTime, Utc};
use entity::inbox;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Set,
};

use super::read::{Sort, Window};
use super::{Store, StoreError};
use crate::domain::{Party, Timestamp};

/// One inbox row to write.
#[derive(Debug, Clone, Default)]
pub struct InboxRow {
    /// push, pull or replay.
    pub source: String,
    /// HTTP method.
    pub method: String,
    /// Request path as received.
    pub path: String,
    /// OCPI version of the URL.
    pub version: Option<String>,
    /// OCPI module of the URL.
    pub module: Option<String>,
    /// Country code of the object, when known.
    pub country_code: Option<String>,
    /// Party id of the object, when known.
    pub party_id: Option<String>,
    /// Object id (last URL id segment, or the CDR id).
    pub object_id: Option<String>,
    /// The authenticated token's row.
    pub token_pk: Option<i64>,
    /// X-Request-ID.
    pub request_id: Option<String>,
    /// HTTP status answered.
    pub http_status: u16,
    /// OCPI status code answered.
    pub status_code: u16,
    /// created, updated, unchanged, rejected, unauthorized, ...
    pub outcome: String,
    /// The status message answered.
    pub message: String,
    /// Warnings about the object.
    pub warnings: Vec<String>,
    /// The raw body, unless the request was unauthenticated or too large.
    pub body: Option<String>,
    /// For a replay: the inbox row it re-applies.
    pub replay_of: Option<i64>,
}

/// Writes an inbox row and returns its id. A replay's row is also recorded
/// on the row it re-applies (`replayed_by`), in the same transaction.
pub async fn insert(
    conn: &impl ConnectionTrait,
    received_at: Timestamp,
    row: InboxRow,
) -> Result<i64, StoreError> {
    let row = storable_row(row);
    let warnings = serde_json::to_string(&row.warnings).unwrap_or_else(|_| "[]".into());
    let model = inbox::ActiveModel {
        received_at: Set(received_at.as_datetime()),
        source: Set(row.source),
        method: Set(row.method),
        path: Set(row.path),
        version: Set(row.version),
        module: Set(row.module),
        country_code: Set(row.country_code),
        party_id: Set(row.party_id),
        object_id: Set(row.object_id),
        token_pk: Set(row.token_pk),
        request_id: Set(row.request_id),
        http_status: Set(i32::from(row.http_status)),
        status_code: Set(i32::from(row.status_code)),
        outcome: Set(row.outcome),
        message: Set(row.message),
        warnings: Set(warnings),
        body: Set(row.body),
        replay_of: Set(row.replay_of),
        ..Default::default()
    };
    // Only the id comes back: the row holds the whole body.
    let id = inbox::Entity::insert(model)
        .exec(conn)
        .await?
        .last_insert_id;
    if let Some(original) = row.replay_of {
        inbox::Entity::update_many()
            .col_expr(inbox::Column::ReplayedBy, Expr::value(id))
            .filter(inbox::Column::Id.eq(original))
            .exec(conn)
            .await?;
    }
    Ok(id)
}

/// Text as a column can hold it: PostgreSQL text refuses NUL, so each NUL
/// is written as the JSON escape `\u0000` (a raw body keeps its meaning).
fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\\u0000")
    } else {
        text
    }
}

/// The row with every text field storable (ids from a URL's `%00`, a body
/// that is not JSON, messages quoting either).
fn storable_row(row: InboxRow) -> InboxRow {
    let opt = |text: Option<String>| text.map(storable);
    InboxRow {
        path: storable(row.path),
        country_code: opt(row.country_code),
        party_id: opt(row.party_id),
        object_id: opt(row.object_id),
        request_id: opt(row.request_id),
        message: storable(row.message),
        warnings: row.warnings.into_iter().map(storable).collect(),
        body: opt(row.body),
        ..row
    }
}

/// Sets the final outcome of an accepted push's inbox row.
pub async fn finish(
    conn: &impl ConnectionTrait,
    inbox_pk: i64,
    outcome: &str,
    applied: &crate::ingest::Applied,
) -> Result<(), StoreError> {
    let model = inbox::ActiveModel {
        http_status: Set(if applied.created { 201 } else { 200 }),
        outcome: Set(outcome.to_owned()),
        message: Set(applied.message.clone()),
        warnings: Set(serde_json::to_string(&applied.warnings).unwrap_or_else(|_| "[]".into())),
        ..Default::default()
    };
    // Not `model.update`, which reads the row back, body and all.
    inbox::Entity::update_many()
        .set(model)
        .filter(inbox::Column::Id.eq(inbox_pk))
        .exec(conn)
        .await?;
    Ok(())
}

/// Which inbox rows to read; every given field must match, `None` or an
/// empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxFilter {
    /// Any of these outcomes (created, rejected, unauthorized, ...).
    pub outcomes: Vec<String>,
    /// Any of these sources (push, pull, replay).
    pub sources: Vec<String>,
    /// The OCPI module of the URL (locations, sessions, ...).
    pub module: Option<String>,
    /// Country code, compared case-insensitively.
    pub country_code: Option<String>,
    /// Party id, compared case-insensitively.
    pub party_id: Option<String>,
    /// Received at or after this instant.
    pub received_from: Option<DateTime<Utc>>,
    /// Received before this instant.
    pub received_before: Option<DateTime<Utc>>,
    /// Only these rows.
    pub ids: Vec<i64>,
    /// The caller's read scope: rows of these parties only (`None`: every
    /// row). A row no party can be named for is outside every scope.
    pub scope: Option<Vec<Party>>,
}

impl InboxFilter {
    fn condition(&self) -> Condition {
        let mut cond = Condition::all();
        if !self.outcomes.is_empty() {
            cond = cond.add(inbox::Column::Outcome.is_in(self.outcomes.iter().cloned()));
        }
        if !self.sources.is_empty() {
            cond = cond.add(inbox::Column::Source.is_in(self.sources.iter().cloned()));
        }
        if let Some(module) = &self.module {
            cond = cond.add(inbox::Column::Module.eq(module.as_str()));
        }
        if let Some(cc) = &self.country_code {
            cond = cond.add(upper(inbox::Column::CountryCode).eq(cc.to_uppercase()));
        }
        if let Some(party) = &self.party_id {
            cond = cond.add(upper(inbox::Column::PartyId).eq(party.to_uppercase()));
        }
        if let Some(from) = self.received_from {
            cond = cond.add(inbox::Column::ReceivedAt.gte(from));
        }
        if let Some(before) = self.received_before {
            cond = cond.add(inbox::Column::ReceivedAt.lt(before));
        }
        if !self.ids.is_empty() {
            cond = cond.add(inbox::Column::Id.is_in(self.ids.iter().copied()));
        }
        if let Some(parties) = &self.scope {
            let mut any = Condition::any();
            for p in parties {
                any = any.add(
                    Condition::all()
                        .add(upper(inbox::Column::CountryCode).eq(p.country_code.to_uppercase()))
                        .add(upper(inbox::Column::PartyId).eq(p.party_id.to_uppercase())),
                );
            }
            // An empty scope is an empty `any`, which matches nothing.
            cond = cond.add(any);
        }
        cond
    }
}

fn upper(column: inbox::Column) -> sea_orm::sea_query::SimpleExpr {
    Func::upper(Expr::col(column)).into()
}

/// One page of the rows matching `filter`, newest first.
pub async fn page_newest_first(
    db: &impl ConnectionTrait,
    filter: &InboxFilter,
    window: &Window,
) -> Result<Vec<inbox::Model>, StoreError> {
    let select = inbox::Entity::find().filter(filter.condition());
    let rows = Sort::by_id_desc(inbox::Column::Id)
        .page(select, window)
        .all(db)
        .await?;
    Ok(rows)
}

/// How many rows match `filter`.
pub async fn count(db: &impl ConnectionTrait, filter: &InboxFilter) -> Result<u64, StoreError> {
    let count = inbox::Entity::find()
        .filter(filter.condition())
        .count(db)
        .await?;
    Ok(count)
}

/// Every row matching `filter`, oldest first: the order a replay re-applies them in.
pub async fn oldest_first(
    db: &impl ConnectionTrait,
    filter: &InboxFilter,
) -> Result<Vec<inbox::Model>, StoreError> {
    let rows = inbox::Entity::find()
        .filter(filter.condition())
        .order_by_asc(inbox::Column::Id)
        .all(db)
        .await?;
    Ok(rows)
}

/// The latest replay of a row, when it was replayed.
pub async fn latest_replay(
    db: &impl ConnectionTrait,
    original: i64,
) -> Result<Option<inbox::Model>, StoreError> {
    let Some(by) = inbox::Entity::find_by_id(original)
        .one(db)
        .await?
        .and_then(|row| row.replayed_by)
    else {
        return Ok(None);
    };
    Ok(inbox::Entity::find_by_id(by).one(db).await?)
}

/// Deletes up to `limit` rows received before `before`, oldest first, and
/// says how many went.
pub async fn prune_batch(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, StoreError> {
    // DELETE ... LIMIT is not portable; a bounded id subquery is, on both backends.
    let oldest = Query::select()
        .column(inbox::Column::Id)
        .from(inbox::Entity)
        .and_where(inbox::Column::ReceivedAt.lt(before))
        .order_by(inbox::Column::Id, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    let result = inbox::Entity::delete_many()
        .filter(inbox::Column::Id.in_subquery(oldest))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes every row received before `before`, `batch` rows per write
/// transaction, so that no batch holds the (SQLite) writer for long and
/// pushes queued behind it are served in between.
pub async fn prune(store: &Store, before: DateTime<Utc>, batch: u64) -> Result<u64, StoreError> {
    let mut total = 0;
    loop {
        let write = store.begin_write().await?;
        let deleted = prune_batch(&write.txn, before, batch).await?;
        write.commit().await?;
        total += deleted;
        if deleted < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}
