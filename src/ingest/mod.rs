//! Applying a push: merge rules, the stale guard, idempotency, history and
//! outbox rows, all in one transaction with the inbox row.

use axum::http::Method;
use sea_orm::DatabaseTransaction;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::domain::Timestamp;
use crate::events::Events;
use crate::ocpi::auth::Caller;
use crate::ocpi::path::Module;
use crate::ocpi::wire::Report;
use crate::store::inbox::{self, InboxRow};
use crate::store::outbox::NewEvent;
use crate::store::sessions::{self, EventRow};
use crate::store::{Store, StoreError};

mod cdr;
mod job;
mod location;
pub mod merge;
mod notification;
mod place;
pub mod retention;
mod session;
mod tariff;

/// Why a push was refused. Nothing of it is applied.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The object is invalid (OCPI 2001); the message names the JSON path.
    #[error("{0}")]
    Invalid(String),
    /// The location, EVSE, connector or tariff is unknown (OCPI 2003).
    #[error("{0}")]
    UnknownLocation(String),
    /// The object's party is not writable with this token (OCPI 2001, HTTP 404).
    #[error("{0}")]
    ForeignParty(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for IngestError {
    fn from(err: sea_orm::DbErr) -> Self {
        IngestError::Store(StoreError::Db(err))
    }
}

/// Where a request came from, as recorded in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Pushed by the CPO.
    Push,
    /// Pulled by reconciliation.
    Pull,
    /// Re-applied from the inbox row with this id (`chargegraph replay`).
    Replay(i64),
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Pull => "pull",
            Source::Replay(_) => "replay",
        }
    }

    /// The inbox row a replay re-applies.
    fn replay_of(self) -> Option<i64> {
        match self {
            Source::Replay(original) => Some(original),
            Source::Push | Source::Pull => None,
        }
    }
}

/// One request to apply.
#[derive(Debug, Clone)]
pub struct Push {
    /// Where it came from.
    pub source: Source,
    /// PUT, PATCH, POST or DELETE.
    pub method: Method,
    /// The URL's OCPI version.
    pub version: &'static str,
    /// The module.
    pub module: Module,
    /// Decoded URL segments after the module.
    pub ids: Vec<String>,
    /// The parsed body.
    pub body: Value,
    /// The body as received, for the inbox.
    pub raw_body: String,
    /// Who sent it.
    pub caller: Caller,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The request path, for the inbox.
    pub path: String,
    /// The X-Request-ID, for the inbox.
    pub request_id: Option<String>,
}

/// The result of an applied push.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// A new object was created (HTTP 201).
    pub created: bool,
    /// The status message; "not applied: ..." when acknowledged without change.
    pub message: String,
    /// Warnings about the object, kept on the inbox row.
    pub warnings: Vec<String>,
    /// For a CDR: (country_code, party_id, id) of its receiver URL.
    pub cdr_key: Option<(String, String, String)>,
    /// Whether outbox events were written.
    pub emitted: bool,
    /// (country_code, party_id, location_id) of a location the object names
    /// but we do not have, for a targeted pull.
    pub unknown_location: Option<(String, String, String)>,
}

/// What an apply step works with: the transaction and the push's facts.
pub(crate) struct Ctx<'a> {
    pub tx: &'a DatabaseTransaction,
    pub push: &'a Push,
    pub applied: Applied,
    /// Change events, written with the transaction's other events just before its commit.
    events: &'a mut Vec<NewEvent>,
    /// Session timeline entries, written after the inbox row they point to.
    session_events: Vec<EventRow>,
}

impl Ctx<'_> {
    pub fn received_at(&self) -> Timestamp {
        self.push.received_at
    }

    pub fn warn(&mut self, report: Report) {
        let warnings = report.warnings.into_iter();
        self.applied
            .warnings
            .extend(warnings.map(|p| format!("{}: {}", p.path, p.message)));
    }

    pub fn outcome(&mut self, created: bool, message: impl Into<String>) {
        self.applied.created = created;
        self.applied.message = message.into();
    }

    /// Commits a change event with this push.
    pub fn emit(&mut self, event: NewEvent) {
        self.events.push(event);
        self.applied.emitted = true;
    }

    /// Adds an entry to a session's timeline, linked to this push's inbox row.
    pub fn record_session_event(&mut self, row: EventRow) {
        self.session_events.push(row);
    }
}

/// Refuses an object whose parse found errors, naming every JSON path.
pub(crate) fn check(report: &Report) -> Result<(), IngestError> {
    if report.errors.is_empty() {
        return Ok(());
    }
    let problems: Vec<String> = report
        .errors
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    Err(IngestError::Invalid(format!(
        "invalid object: {}",
        problems.join("; ")
    )))
}

/// Applies a push in one transaction with its inbox row, answers once that
/// transaction committed, then wakes the event reader.
///
/// The push goes to the store's group-commit writers (`store::group`), which
/// apply queued pushes together, each in its own savepoint, and commit them
/// at once. A push that lost a race with another replica (PostgreSQL:
/// deadlock, serialization failure, or the same object created at once) is
/// run again, a few times, after a short pause.
pub async fn apply(store: &Store, events: &Events, push: &Push) -> Result<Applied, IngestError> {
    let (reply, answer) = oneshot::channel();
    store
        .group()?
        .submit(Box::new(job::PushJob::new(push.clone(), reply)))
        .await?;
    let applied = answer.await.map_err(|_| StoreError::WriterStopped)??;
    if applied.emitted {
        events.wake();
    }
    Ok(applied)
}

/// Applies a push inside `tx`: the domain rows, then its inbox row with the
/// outcome, then what points at that row. Events are left in `events`.
async fn apply_in(
    tx: &DatabaseTransaction,
    push: &Push,
    events: &mut Vec<NewEvent>,
) -> Result<Applied, IngestError> {
    let mut ctx = Ctx {
        tx,
        push,
        applied: Applied::default(),
        events,
        session_events: Vec::new(),
    };
    dispatch(&mut ctx).await?;
    let Ctx {
        applied,
        session_events,
        ..
    } = ctx;
    let inbox_pk = inbox::insert(tx, push.received_at, finished_row(push, &applied)).await?;
    for mut row in session_events {
        row.inbox_pk = Some(inbox_pk);
        sessions::insert_event(tx, row).await?;
    }
    Ok(applied)
}

/// The inbox row of an applied push.
fn finished_row(push: &Push, applied: &Applied) -> InboxRow {
    let outcome = if applied.message.starts_with("not applied") {
        "unchanged"
    } else if applied.created {
        "created"
    } else {
        "updated"
    };
    InboxRow {
        http_status: if applied.created { 201 } else { 200 },
        outcome: outcome.into(),
        message: applied.message.clone(),
        warnings: applied.warnings.clone(),
        ..inbox_row(push)
    }
}

/// Records a refused push in the inbox, with its body kept for review.
pub async fn record_rejection(
    store: &Store,
    push: &Push,
    err: &IngestError,
    http_status: u16,
    status_code: u16,
) -> Result<(), StoreError> {
    let answer = Answered {
        outcome: "rejected",
        message: err.to_string(),
        http_status,
        status_code,
    };
    record_unapplied(store, push, answer).await
}

/// How a push that was not applied was answered.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The inbox outcome: rejected, error, unavailable.
    pub outcome: &'static str,
    /// What the inbox row says (for our own failures: their cause).
    pub message: String,
    /// The HTTP status answered.
    pub http_status: u16,
    /// The OCPI status code answered.
    pub status_code: u16,
}

/// Records a push that was not applied, refused or failed on our side, in
/// its own transaction and with its body, so that `chargegraph replay` can
/// re-apply it after a fix.
pub async fn record_unapplied(
    store: &Store,
    push: &Push,
    answer: Answered,
) -> Result<(), StoreError> {
    let mut row = inbox_row(push);
    row.http_status = answer.http_status;
    row.status_code = answer.status_code;
    row.outcome = answer.outcome.into();
    row.message = answer.message;
    let (reply, answer) = oneshot::channel();
    let job = job::InboxJob::new(push.received_at, row, reply);
    store.group()?.submit(Box::new(job)).await?;
    answer.await.map_err(|_| StoreError::WriterStopped)?
}

fn inbox_row(push: &Push) -> InboxRow {
    let (country_code, party_id) = match push.ids.as_slice() {
        [cc, party, ..] if push.module != crate::ocpi::path::Module::Notifications => {
            (Some(cc.clone()), Some(party.clone()))
        }
        _ => push
            .caller
            .default_party()
            .map(|p| (Some(p.country_code.clone()), Some(p.party_id.clone())))
            .unwrap_or_default(),
    };
    InboxRow {
        source: push.source.name().into(),
        method: push.method.to_string(),
        path: push.path.clone(),
        version: Some(push.version.into()),
        module: Some(push.module.name().into()),
        country_code,
        party_id,
        object_id: push.ids.last().cloned(),
        // A pull was made with no push token of ours.
        token_pk: (push.source != Source::Pull).then_some(push.caller.token_pk),
        request_id: push.request_id.clone(),
        http_status: 200,
        status_code: 1000,
        outcome: "pending".into(),
        message: String::new(),
        warnings: Vec::new(),
        body: Some(push.raw_body.clone()),
        replay_of: push.source.replay_of(),
    }
}

async fn dispatch(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    match ctx.push.module {
        Module::Locations => location::apply(ctx).await,
        Module::Sessions => session::apply(ctx).await,
        Module::Cdrs => cdr::apply(ctx).await,
        Module::Notifications => notification::apply(ctx).await,
        Module::Tariffs => tariff::apply(ctx).await,
    }
}

/// The URL's party must be one this token may write (404/2001 otherwise).
pub(crate) fn require_party(
    ctx: &Ctx<'_>,
    country_code: &str,
    party_id: &str,
) -> Result<(), IngestError> {
    if ctx.push.caller.may_write(country_code, party_id) {
        Ok(())
    } else {
        Err(IngestError::ForeignParty(format!(
            "party {country_code}/{party_id} is not writable with this token"
        )))
    }
}

/// OCPI 2.2.1 requires last_updated in every PATCH; GreenFlux's 2.1.1 EVSE
/// PATCH has none, so it applies in arrival order unless the token's
/// strictness, for this URL's version, says otherwise.
pub(crate) fn check_patch_stamp(
    ctx: &mut Ctx<'_>,
    body: &serde_json::Map<String, Value>,
) -> Result<(), IngestError> {
    if body.get("last_updated").is_some_and(|v| !v.is_null()) {
        return Ok(());
    }
    if ctx.push.caller.strictness.is_strict(ctx.push.version) {
        return Err(IngestError::Invalid(
            "$.last_updated: required in a PATCH (strict mode)".into(),
        ));
    }
    ctx.applied
        .warnings
        .push("$.last_updated: absent; applied in arrival order with the receive time".into());
    Ok(())
}
