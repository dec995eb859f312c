//! Reconciliation runs for operators: every pull from a CPO (scheduled,
//! manual or a targeted heal) and what it found per module.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use entity::{reconcile_module, reconcile_run};

use super::error::forbidden;
use super::error::internal;
use super::ids::KeyKind;
use super::inbox::OcpiModule;
use super::pagination::{by_id, connection, edges, weight, PageArgs};
use super::scalars::DateTime;
use super::types::store;
use crate::store::reconcile::{self as rows, RunFilter};

/// The `reconciliationRuns` query.
#[derive(Default)]
pub struct ReconcileQuery;

/// What started a reconciliation run.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconciliationTrigger {
    /// The schedule of the server.
    Scheduled,
    /// `chargegraph reconcile`.
    Manual,
    /// Targeted pulls of locations that pushes named but we did not have.
    Heal,
}

impl ReconciliationTrigger {
    const ALL: [ReconciliationTrigger; 3] = [
        ReconciliationTrigger::Scheduled,
        ReconciliationTrigger::Manual,
        ReconciliationTrigger::Heal,
    ];

    fn stored(self) -> &'static str {
        match self {
            ReconciliationTrigger::Scheduled => "scheduled",
            ReconciliationTrigger::Manual => "manual",
            ReconciliationTrigger::Heal => "heal",
        }
    }
}

/// What `reconciliationRuns` may be narrowed by; every given field must match.
#[derive(InputObject, Default)]
pub struct ReconciliationRunFilter {
    /// The CPO's name in the configuration.
    pub cpo: Option<String>,
    /// Any of these triggers.
    pub trigger: Option<Vec<ReconciliationTrigger>>,
}

/// The total of the filtered runs, counted only when asked for.
pub struct RunTotal {
    filter: RunFilter,
}

impl RunTotal {
    async fn count(&self, ctx: &Context<'_>) -> Result<u64> {
        rows::count_runs(store(ctx)?.db(), &self.filter)
            .await
            .map_err(internal)
    }
}

connection!(
    /// A page of reconciliation runs, newest first.
    ReconciliationRunConnection,
    /// One reconciliation run and its cursor.
    ReconciliationRunEdge,
    ReconciliationRun,
    RunTotal
);

#[Object]
impl ReconcileQuery {
    /// Reconciliation runs, newest first. Operators only (FORBIDDEN
    /// otherwise); an operator limited to some parties sees the runs of
    /// CPOs whose first party is one of them.
    #[graphql(complexity = "weight(first, last, child_complexity)")]
    async fn reconciliation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Runs from the newest (after `after`).")] first: Option<i32>,
        #[graphql(desc = "Only runs older than this cursor.")] after: Option<String>,
        #[graphql(desc = "Runs from the oldest (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Only runs newer than this cursor.")] before: Option<String>,
        #[graphql(desc = "What the runs must match.")] filter: Option<ReconciliationRunFilter>,
    ) -> Result<ReconciliationRunConnection> {
        let access = super::access(ctx);
        if !access.is_operator() {
            return Err(forbidden("reconciliation runs are for operators"));
        }
        let window = PageArgs::new(first, after, last, before).window(ctx, LIST, KeyKind::None)?;
        let filter = run_filter(filter, access.parties().map(<[_]>::to_vec));

        let db = store(ctx)?.db();
        let found = rows::page_runs_newest_first(db, &filter, &window)
            .await
            .map_err(internal)?;
        let ids: Vec<i64> = found.iter().map(|r| r.id).collect();
        let modules = rows::modules_of(db, ids).await.map_err(internal)?;
        let (edges, page_info) = edges(
            found,
            &window,
            LIST,
            |run| by_id(run.id),
            |cursor, run| {
                let mine = modules
                    .iter()
                    .filter(|m| m.run_pk == run.id)
                    .cloned()
                    .collect();
                ReconciliationRunEdge {
                    cursor,
                    node: ReconciliationRun { run, modules: mine },
                }
            },
        );
        Ok(ReconciliationRunConnection {
            edges,
            page_info,
            total: RunTotal { filter },
        })
    }
}

fn run_filter(
    filter: Option<ReconciliationRunFilter>,
    scope: Option<Vec<crate::domain::Party>>,
) -> RunFilter {
    let filter = filter.unwrap_or_default();
    let triggers = filter.trigger.unwrap_or_default().into_iter();
    RunFilter {
        cpo: filter.cpo,
        triggers: triggers.map(|t| t.stored().to_owned()).collect(),
        scope,
    }
}

/// The cursor name of the runs list.
const LIST: &str = "reconciliationRuns";

/// One pull of one CPO and what it found.
pub struct ReconciliationRun {
    run: reconcile_run::Model,
    modules: Vec<reconcile_module::Model>,
}

/// One pull of one CPO and what it found.
#[Object]
impl ReconciliationRun {
    /// The run's number.
    async fn run_id(&self) -> i64 {
        self.run.id
    }
    /// The CPO's name in the configuration.
    async fn cpo(&self) -> &str {
        &self.run.cpo
    }
    /// What started it; null only for a trigger this version does not know.
    async fn trigger(&self) -> Option<ReconciliationTrigger> {
        let stored = self.run.trigger.as_str();
        ReconciliationTrigger::ALL
            .into_iter()
            .find(|t| t.stored() == stored)
    }
    /// When it started.
    async fn started_at(&self) -> DateTime {
        DateTime(self.run.started_at)
    }
    /// When it ended; null while it runs (or when the server stopped it).
    async fn finished_at(&self) -> Option<DateTime> {
        self.run.finished_at.map(DateTime)
    }
    /// The earliest `date_from` it asked for; null when a module was pulled whole.
    async fn window_from(&self) -> Option<DateTime> {
        self.run.window_from.map(DateTime)
    }
    /// The `date_to` it asked for.
    async fn window_to(&self) -> Option<DateTime> {
        self.run.window_to.map(DateTime)
    }
    /// Why it stopped before pulling anything (e.g. version discovery failed).
    async fn error(&self) -> Option<&str> {
        self.run.error.as_deref()
    }
    /// What it did per module, in pull order.
    async fn modules(&self) -> Vec<ReconciliationModule> {
        self.modules
            .iter()
            .map(ReconciliationModule::from)
            .collect()
    }
}

/// What a run did in one module.
#[derive(SimpleObject)]
pub struct ReconciliationModule {
    /// The module; null only for one this version does not know.
    pub module: Option<OcpiModule>,
    /// Distinct objects received from the CPO.
    pub fetched: i64,
    /// Objects we did not have: created.
    pub missing: i64,
    /// Objects we had in an older state: updated.
    pub updated: i64,
    /// Objects we already had as pulled, or newer: nothing written.
    pub unchanged: i64,
    /// Objects ingest refused or failed on (their inbox rows say why).
    pub failed: i64,
    /// Why the module's crawl stopped early.
    pub error: Option<String>,
}

impl From<&reconcile_module::Model> for ReconciliationModule {
    fn from(m: &reconcile_module::Model) -> Self {
        ReconciliationModule {
            module: OcpiModule::from_stored(&m.module),
            fetched: m.fetched,
            missing: m.missing,
            updated: m.updated,
            unchanged: m.unchanged,
            failed: m.failed,
            error: m.error.clone(),
        }
    }
}
