//! `chargegraph replay`: re-applies chosen inbox rows after a fix, through the
//! receiver's own steps (the URL read again, the body parsed again, ingest,
//! a refusal recorded), as the token that sent them. Each replay writes an
//! inbox row of its own (source `replay`), which its original points to.

use std::fmt;

use axum::http::Method;
use entity::inbox;
use serde_json::Value;

use super::path::Target;
use super::routes::{apply_push, push_body};
use crate::domain::Timestamp;
use crate::events::Events;
use crate::ingest::{self, Answered, Push, Source};
use crate::store::inbox::{self as store_inbox, InboxFilter};
use crate::store::{tokens, Store, StoreError};

/// What became of one chosen row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// Not re-applied, and why.
    Skipped(String),
    /// A dry run: this request would be re-applied.
    WouldReplay {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// Re-applied (or tried); the replay's own inbox row says how it went.
    Done {
        /// The replay's inbox row.
        inbox_id: i64,
        /// Its outcome: created, updated, unchanged, rejected.
        outcome: String,
        /// The HTTP status it got.
        http_status: i32,
        /// The OCPI status code it got.
        status_code: i32,
        /// The status message it got.
        message: String,
    },
    /// The replay could not even be recorded.
    Failed(String),
}

/// One chosen row and what its replay did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The original inbox row.
    pub inbox_id: i64,
    /// Its outcome when it was received.
    pub old_outcome: String,
    /// What the replay did.
    pub replayed: Replayed,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inbox {} {} -> ", self.inbox_id, self.old_outcome)?;
        match &self.replayed {
            Replayed::Skipped(why) => write!(f, "skipped: {why}"),
            Replayed::WouldReplay { method, path } => write!(f, "would replay {method} {path}"),
            Replayed::Done {
                inbox_id,
                outcome,
                http_status,
                status_code,
                message,
            } => write!(
                f,
                "{outcome} ({http_status}/{status_code}) {message} [inbox {inbox_id}]"
            ),
            Replayed::Failed(cause) => write!(f, "failed: {cause}"),
        }
    }
}

/// Counts over every line of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows chosen.
    pub rows: usize,
    /// Re-applied and accepted (any 1000 answer).
    pub applied: usize,
    /// Re-applied and refused again.
    pub refused: usize,
    /// Not re-applied.
    pub skipped: usize,
    /// Would be re-applied (dry run).
    pub would_replay: usize,
    /// Failed on our side (a 5xx, or not recorded at all).
    pub failed: usize,
}

impl Summary {
    /// The counts of these lines.
    pub fn of(lines: &[Line]) -> Summary {
        let mut summary = Summary {
            rows: lines.len(),
            ..Summary::default()
        };
        for line in lines {
            match &line.replayed {
                Replayed::Skipped(_) => summary.skipped += 1,
                Replayed::WouldReplay { .. } => summary.would_replay += 1,
                Replayed::Done { status_code, .. } if *status_code == 1000 => summary.applied += 1,
                Replayed::Done { http_status, .. } if *http_status >= 500 => summary.failed += 1,
                Replayed::Done { .. } => summary.refused += 1,
                Replayed::Failed(_) => summary.failed += 1,
            }
        }
        summary
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.would_replay > 0 {
            return write!(
                f,
                "{} rows: {} would be replayed, {} skipped (dry run: nothing written)",
                self.rows, self.would_replay, self.skipped
            );
        }
        write!(
            f,
            "{} rows: {} applied, {} refused again, {} skipped, {} failed",
            self.rows, self.applied, self.refused, self.skipped, self.failed
        )
    }
}

/// Re-applies the rows `filter` chooses, oldest first so that a PUT goes
/// before the PATCHes that followed it. Rows already replayed are skipped
/// unless `filter.ids` names them: their latest replay is the row to choose.
pub async fn replay(
    store: &Store,
    events: &Events,
    filter: &InboxFilter,
    dry_run: bool,
) -> Result<Vec<Line>, StoreError> {
    let rows = store_inbox::oldest_first(store.db(), filter).await?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let named = filter.ids.contains(&row.id);
        let replayed = match prepare(store, &row, named).await? {
            Err(why) => Replayed::Skipped(why),
            Ok(push) if dry_run => Replayed::WouldReplay {
                method: push.method.to_string(),
                path: push.path,
            },
            Ok(push) => reapply(store, events, row.id, &push).await?,
        };
        lines.push(Line {
            inbox_id: row.id,
            old_outcome: row.outcome,
            replayed,
        });
    }
    Ok(lines)
}

/// The push a row re-applies, or why it cannot be.
async fn prepare(
    store: &Store,
    row: &inbox::Model,
    named: bool,
) -> Result<Result<Push, String>, StoreError> {
    if let (Some(by), false) = (row.replayed_by, named) {
        return Ok(Err(format!(
            "already replayed as inbox {by}; name it with --id to replay it again"
        )));
    }
    let Some(raw_body) = row.body.clone() else {
        return Ok(Err(format!(
            "no body was kept (HTTP {}: unauthenticated or over the size limit)",
            row.http_status
        )));
    };
    let Ok(method) = Method::from_bytes(row.method.as_bytes()) else {
        return Ok(Err(format!("method {:?} is not HTTP", row.method)));
    };
    let Ok(Target::Object {
        version,
        module,
        ids,
    }) = Target::parse(&method, &row.path)
    else {
        return Ok(Err(format!("{} {} is not an object URL", method, row.path)));
    };
    let Some(token_pk) = row.token_pk else {
        return Ok(Err("no token was recorded".into()));
    };
    let Some(caller) = tokens::caller_by_pk(store, token_pk).await? else {
        return Ok(Err(format!("token {token_pk} no longer exists")));
    };
    Ok(Ok(Push {
        source: Source::Replay(row.id),
        method,
        version,
        module,
        ids,
        // Replaced by the parsed body in `reapply`; a body that does not
        // parse is refused there as it was on arrival.
        body: Value::Null,
        raw_body,
        caller,
        received_at: Timestamp::now(),
        path: row.path.clone(),
        request_id: row.request_id.clone(),
    }))
}

/// Re-applies the push of inbox row `original` as the receiver would.
async fn reapply(
    store: &Store,
    events: &Events,
    original: i64,
    push: &Push,
) -> Result<Replayed, StoreError> {
    match push_body(&push.method, push.raw_body.as_bytes()) {
        Ok(body) => {
            let push = Push {
                body,
                ..push.clone()
            };
            // Accepted, refused or failed, the replay is recorded either way.
            let _ = apply_push(store, events, &push).await;
        }
        Err(err) => {
            let answer = Answered {
                outcome: err.outcome(),
                message: err.to_string(),
                http_status: err.http_status().as_u16(),
                status_code: err.status_code(),
            };
            ingest::record_unapplied(store, push, answer).await?;
        }
    }
    // The replay wrote its own row, which the original now names.
    let Some(replay) = store_inbox::latest_replay(store.db(), original).await? else {
        return Ok(Replayed::Failed(
            "the replay's inbox row could not be written; see the log".into(),
        ));
    };
    Ok(Replayed::Done {
        inbox_id: replay.id,
        outcome: replay.outcome,
        http_status: replay.http_status,
        status_code: replay.status_code,
        message: replay.message,
    })
}
