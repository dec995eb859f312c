//! The inbox for operators: every request the receiver saw, with its
//! outcome, its warnings and (except for 401 and 413) its body, so that what
//! was refused, and why, can be found and replayed (`chargegraph replay`).

use async_graphql::{Context, Enum, InputObject, Object, Result};
use entity::inbox;

use super::error::{forbidden, internal};
use super::ids::KeyKind;
use super::pagination::{by_id, connection, edges, weight, PageArgs};
use super::scalars::DateTime;
use super::types::store;
use crate::store::inbox::{self as rows, InboxFilter as RowFilter};

/// The `inbox` query.
#[derive(Default)]
pub struct InboxQuery;

/// What became of a request.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// Applied; the object was new (HTTP 201).
    Created,
    /// Applied to a stored object.
    Updated,
    /// Acknowledged and not applied: stale, identical, or a COMPLETED session kept final.
    Unchanged,
    /// Refused: invalid object, unknown location, foreign party, bad JSON.
    Rejected,
    /// Missing or unknown credentials (HTTP 401); no body kept.
    Unauthorized,
    /// Over the body size limit (HTTP 413); no body kept.
    TooLarge,
    /// No OCPI endpoint at that URL and method (HTTP 404 or 405).
    NoRoute,
    /// Refused while the server was shutting down (HTTP 503).
    Unavailable,
    /// Our fault (HTTP 500); the message names the cause, the body is kept for a replay.
    Error,
}

impl InboxOutcome {
    const ALL: [InboxOutcome; 9] = [
        InboxOutcome::Created,
        InboxOutcome::Updated,
        InboxOutcome::Unchanged,
        InboxOutcome::Rejected,
        InboxOutcome::Unauthorized,
        InboxOutcome::TooLarge,
        InboxOutcome::NoRoute,
        InboxOutcome::Unavailable,
        InboxOutcome::Error,
    ];

    /// The value stored in the inbox's `outcome` column.
    fn stored(self) -> &'static str {
        match self {
            InboxOutcome::Created => "created",
            InboxOutcome::Updated => "updated",
            InboxOutcome::Unchanged => "unchanged",
            InboxOutcome::Rejected => "rejected",
            InboxOutcome::Unauthorized => "unauthorized",
            InboxOutcome::TooLarge => "too_large",
            InboxOutcome::NoRoute => "no_route",
            InboxOutcome::Unavailable => "unavailable",
            InboxOutcome::Error => "error",
        }
    }
}

/// An OCPI module of the receiver.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcpiModule {
    /// Locations, EVSEs and connectors.
    Locations,
    /// Charging sessions.
    Sessions,
    /// Charge detail records.
    Cdrs,
    /// Tariffs.
    Tariffs,
    /// GreenFlux ChargeStation notifications.
    Notifications,
}

impl OcpiModule {
    const ALL: [OcpiModule; 5] = [
        OcpiModule::Locations,
        OcpiModule::Sessions,
        OcpiModule::Cdrs,
        OcpiModule::Tariffs,
        OcpiModule::Notifications,
    ];

    /// The module whose stored name is `text`.
    pub(super) fn from_stored(text: &str) -> Option<OcpiModule> {
        from_stored(&OcpiModule::ALL, OcpiModule::stored, text)
    }

    fn stored(self) -> &'static str {
        match self {
            OcpiModule::Locations => "locations",
            OcpiModule::Sessions => "sessions",
            OcpiModule::Cdrs => "cdrs",
            OcpiModule::Tariffs => "tariffs",
            OcpiModule::Notifications => "notifications",
        }
    }
}

/// Where a request came from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxSource {
    /// Pushed by the CPO.
    Push,
    /// Pulled by reconciliation.
    Pull,
    /// Re-applied from an earlier inbox row by `chargegraph replay`.
    Replay,
}

impl InboxSource {
    const ALL: [InboxSource; 3] = [InboxSource::Push, InboxSource::Pull, InboxSource::Replay];

    fn stored(self) -> &'static str {
        match self {
            InboxSource::Push => "push",
            InboxSource::Pull => "pull",
            InboxSource::Replay => "replay",
        }
    }
}

/// Finds the enum value whose stored text is `text`.
fn from_stored<T: Copy>(all: &[T], stored: impl Fn(T) -> &'static str, text: &str) -> Option<T> {
    all.iter().copied().find(|v| stored(*v) == text)
}

/// What `inbox` may be narrowed by; every given field must match.
#[derive(InputObject, Default)]
#[graphql(name = "InboxFilter")]
pub struct InboxFilterInput {
    /// Any of these outcomes.
    pub outcome: Option<Vec<InboxOutcome>>,
    /// Any of these sources.
    pub source: Option<Vec<InboxSource>>,
    /// The module of the URL.
    pub module: Option<OcpiModule>,
    /// The party's country code, case-insensitive.
    pub country_code: Option<String>,
    /// The party id, case-insensitive.
    pub party_id: Option<String>,
    /// Received at or after this instant.
    pub received_from: Option<DateTime>,
    /// Received before this instant.
    pub received_before: Option<DateTime>,
}

impl From<InboxFilterInput> for RowFilter {
    fn from(f: InboxFilterInput) -> Self {
        let outcomes = f.outcome.unwrap_or_default().into_iter();
        let sources = f.source.unwrap_or_default().into_iter();
        RowFilter {
            outcomes: outcomes.map(|o| o.stored().to_owned()).collect(),
            sources: sources.map(|s| s.stored().to_owned()).collect(),
            module: f.module.map(|m| m.stored().to_owned()),
            country_code: f.country_code,
            party_id: f.party_id,
            received_from: f.received_from.map(|t| t.0),
            received_before: f.received_before.map(|t| t.0),
            ..RowFilter::default()
        }
    }
}

/// The total of a filtered inbox, counted only when asked for.
pub struct InboxTotal {
    filter: RowFilter,
}

impl InboxTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        rows::count(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

connection!(
    /// A page of inbox rows, newest first.
    InboxConnection,
    /// One inbox row and its cursor.
    InboxEdge,
    InboxEntry,
    InboxTotal
);

#[Object]
impl InboxQuery {
    /// Inbox rows, newest first. Operators only (FORBIDDEN otherwise), and
    /// only the parties they may read.
    #[graphql(complexity = "weight(first, last, child_complexity)")]
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Rows from the newest (after `after`).")] first: Option<i32>,
        #[graphql(desc = "Only rows older than this cursor.")] after: Option<String>,
        #[graphql(desc = "Rows from the oldest (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Only rows newer than this cursor.")] before: Option<String>,
        #[graphql(desc = "What the rows must match.")] filter: Option<InboxFilterInput>,
    ) -> Result<InboxConnection> {
        let access = super::access(ctx);
        if !access.is_operator() {
            return Err(forbidden("the inbox is for operators"));
        }
        let window = PageArgs::new(first, after, last, before).window(ctx, LIST, KeyKind::None)?;
        let mut filter = filter.map(RowFilter::from).unwrap_or_default();
        filter.scope = access.parties().map(<[_]>::to_vec);

        let found = rows::page_newest_first(store(ctx)?.db(), &filter, &window)
            .await
            .map_err(internal)?;
        let (edges, page_info) = edges(
            found,
            &window,
            LIST,
            |row| by_id(row.id),
            |cursor, row| InboxEdge {
                cursor,
                node: InboxEntry(row),
            },
        );
        Ok(InboxConnection {
            edges,
            page_info,
            total: InboxTotal { filter },
        })
    }
}

/// The cursor name of the inbox list.
const LIST: &str = "inbox";

/// One request the receiver saw, with its outcome.
pub struct InboxEntry(pub inbox::Model);

/// One request the receiver saw, with its outcome.
#[Object]
impl InboxEntry {
    /// The row's number, as `chargegraph replay --id` takes it.
    async fn inbox_id(&self) -> i64 {
        self.0.id
    }
    /// When the request arrived.
    async fn received_at(&self) -> DateTime {
        DateTime(self.0.received_at)
    }
    /// Pushed, pulled or replayed.
    async fn source(&self) -> Option<InboxSource> {
        from_stored(&InboxSource::ALL, InboxSource::stored, &self.0.source)
    }
    /// HTTP method.
    async fn method(&self) -> &str {
        &self.0.method
    }
    /// Request path as received (percent-encoded).
    async fn path(&self) -> &str {
        &self.0.path
    }
    /// OCPI version of the URL, when the URL named one.
    async fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    /// OCPI module of the URL, when the URL named one.
    async fn module(&self) -> Option<OcpiModule> {
        let module = self.0.module.as_deref()?;
        from_stored(&OcpiModule::ALL, OcpiModule::stored, module)
    }
    /// The party's country code, as in the URL (or the token's default party).
    async fn country_code(&self) -> Option<&str> {
        self.0.country_code.as_deref()
    }
    /// The party id, as in the URL (or the token's default party).
    async fn party_id(&self) -> Option<&str> {
        self.0.party_id.as_deref()
    }
    /// The object's id: the last id segment of the URL.
    async fn object_id(&self) -> Option<&str> {
        self.0.object_id.as_deref()
    }
    /// The X-Request-ID, as sent or as generated.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
    /// What became of it; null only for an outcome this version does not know.
    async fn outcome(&self) -> Option<InboxOutcome> {
        from_stored(&InboxOutcome::ALL, InboxOutcome::stored, &self.0.outcome)
    }
    /// The HTTP status answered.
    async fn http_status(&self) -> i32 {
        self.0.http_status
    }
    /// The OCPI status code answered (1000 success, 2001 invalid, 2003 unknown location, ...).
    async fn status_code(&self) -> i32 {
        self.0.status_code
    }
    /// The status message answered; for a refusal it names the JSON path.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// Problems accepted leniently, each as `$.path: message` (a required
    /// field missing, a boolean sent as a string, a PATCH without last_updated, ...).
    async fn warnings(&self) -> Vec<String> {
        serde_json::from_str(&self.0.warnings).unwrap_or_default()
    }
    /// The body as received; null for 401 and 413, whose bodies are never kept.
    async fn body(&self) -> Option<&str> {
        self.0.body.as_deref()
    }
    /// For a replay: the inbox row it re-applied.
    async fn replay_of(&self) -> Option<i64> {
        self.0.replay_of
    }
    /// For a replayed row: the inbox row of its latest replay.
    async fn replayed_by(&self) -> Option<i64> {
        self.0.replayed_by
    }
}
