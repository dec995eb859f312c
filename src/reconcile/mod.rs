//! Pull reconciliation: heals what a fire-and-forget CPO's pushes missed by
//! pulling its sender interface and applying every object through the same
//! ingest path as a push (inbox source `pull`).
//!
//! - [`run_once`] pulls one CPO's modules in a window and reports per module;
//! - [`heal_locations`] pulls single locations that pushes named but we did
//!   not have (queued by the receiver in `location_heal`);
//! - [`Reconciler`] runs both in `serve`: a schedule per CPO (daily by
//!   default, with random splay) and a worker draining the heal queue.
//!
//! The profiles: `ocpi` discovers the sender endpoints (versions, version
//! details); `greenflux` pulls GreenFlux's platform API under
//! `api/{version}/`, whose notifications need windows of at most 72 hours.

use chrono::{DateTime, Duration, Utc};
use tracing::Instrument;

use crate::domain::{Party, Timestamp};
use crate::events::Events;
use crate::ocpi::auth::Caller;
use crate::ocpi::path::Module;
use crate::store::reconcile::{self as runs, NewRun};
use crate::store::Store;
use crate::telemetry::metrics::Metrics;

mod apply;
pub mod client;
pub mod crawl;
pub mod discovery;
mod error;
mod report;
mod schedule;
pub mod settings;

pub use error::ReconcileError;
pub use report::{ModuleReport, RunReport, Trigger};
pub use schedule::{Background, Reconciler};
pub use settings::{CpoConfig, Profile, Secret};

use apply::{Applier, Pull};
use client::Client;
use crawl::{Pager, Window};
use discovery::Endpoints;

/// The overlap of consecutive windows (2.1.1 says only "after"/"before").
const OVERLAP: Duration = Duration::seconds(1);

/// GreenFlux's notifications API takes windows of at most 72 hours.
const GREENFLUX_NOTIFICATION_WINDOW: Duration = Duration::hours(72);

/// GreenFlux's notifications API wants a limit of at least 10000.
const GREENFLUX_NOTIFICATION_LIMIT: u64 = 10_000;

/// The longest lookback taken from the configuration (a century).
const MAX_LOOKBACK_DAYS: u64 = 36_500;

/// How a run is made.
#[derive(Clone)]
pub struct RunOptions {
    /// What started it.
    pub trigger: Trigger,
    /// Modules to pull (names); empty: the CPO's.
    pub modules: Vec<String>,
    /// `date_from`; default: where the last scheduled run of each module
    /// ended (less the overlap), or nothing (a full pull). Sessions and
    /// GreenFlux notifications always get one (`lookback_days` back).
    pub from: Option<DateTime<Utc>>,
    /// `date_to`; default: now.
    pub to: Option<DateTime<Utc>>,
    /// Where the run is counted (`chargegraph_reconciliations_total`).
    pub metrics: Option<Metrics>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            trigger: Trigger::Manual,
            modules: Vec::new(),
            from: None,
            to: None,
            metrics: None,
        }
    }
}

/// A location to pull by id, and the party it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealTarget {
    /// Its party (as the push named it).
    pub party: Party,
    /// The location's id.
    pub location_id: String,
}

/// Pulls one CPO once: every chosen module in its window, each object
/// applied through ingest. The report is stored (`reconciliationRuns`),
/// logged and counted. A CPO that cannot be reached or answers an error is
/// a report with errors, not an `Err`: that is for an unusable
/// configuration or a failing store.
pub async fn run_once(
    store: &Store,
    events: &Events,
    cpo: &CpoConfig,
    options: &RunOptions,
) -> Result<RunReport, ReconcileError> {
    cpo.check().map_err(ReconcileError::Config)?;
    let modules = chosen_modules(cpo, &options.modules)?;
    let client = Client::new(cpo)?;
    let caller = caller_of(cpo)?;
    let now = Timestamp::now().as_datetime();
    let to = options.to.unwrap_or(now);
    let mut windows = Vec::with_capacity(modules.len());
    for module in &modules {
        windows.push(window_of(store, cpo, *module, options, to).await?);
    }
    let run = NewRun {
        cpo: cpo.name.clone(),
        trigger: options.trigger.name().into(),
        party: caller.default_party().cloned(),
        started_at: now,
        window_from: earliest(&windows),
        window_to: Some(to),
    };
    let run_id = runs::start_run(store, &run).await?;
    let span = tracing::info_span!(
        "reconcile",
        run.id = run_id,
        cpo = %cpo.name,
        trigger = options.trigger.name()
    );
    let pulled = Pulled {
        store,
        events,
        cpo,
        client: &client,
        caller: &caller,
        run_id,
    };
    let (modules, error) = pulled.modules(&modules, windows).instrument(span).await?;
    let metrics = options.metrics.as_ref();
    finish(
        store,
        (run, options.trigger),
        run_id,
        modules,
        error,
        metrics,
    )
    .await
}

/// What one run pulls with.
struct Pulled<'a> {
    store: &'a Store,
    events: &'a Events,
    cpo: &'a CpoConfig,
    client: &'a Client,
    caller: &'a Caller,
    run_id: i64,
}

impl Pulled<'_> {
    /// Discovers the endpoints, then pulls each module in its window; a
    /// failed discovery is the run's error.
    async fn modules(
        &self,
        modules: &[Module],
        windows: Vec<Window>,
    ) -> Result<(Vec<ModuleReport>, Option<String>), ReconcileError> {
        let endpoints = match discovery::endpoints(self.client, self.cpo, modules).await {
            Ok(endpoints) => endpoints,
            Err(err) => return Ok((Vec::new(), Some(err.to_string()))),
        };
        let pull = Pull {
            store: self.store,
            events: self.events,
            caller: self.caller,
            version: endpoints.version,
            sessions_without_periods: self.cpo.profile == Profile::Greenflux,
            run_id: self.run_id,
        };
        let crawl = Crawl {
            client: self.client,
            cpo: self.cpo,
            endpoints: &endpoints,
        };
        let mut reports = Vec::with_capacity(modules.len());
        for (module, window) in modules.iter().zip(windows) {
            reports.push(crawl.module(&pull, *module, window).await?);
        }
        Ok((reports, None))
    }
}

/// Pulls single locations by id (`GET {locations}/{id}`) and applies each;
/// the report has one `locations` module, and the second value says, per
/// target, whether it was healed or why not.
pub async fn heal_locations(
    store: &Store,
    events: &Events,
    cpo: &CpoConfig,
    targets: &[HealTarget],
    metrics: Option<&Metrics>,
) -> Result<(RunReport, Vec<Result<(), String>>), ReconcileError> {
    cpo.check().map_err(ReconcileError::Config)?;
    let client = Client::new(cpo)?;
    let caller = caller_of(cpo)?;
    let run = NewRun {
        cpo: cpo.name.clone(),
        trigger: Trigger::Heal.name().into(),
        party: caller.default_party().cloned(),
        started_at: Timestamp::now().as_datetime(),
        window_from: None,
        window_to: None,
    };
    let run_id = runs::start_run(store, &run).await?;
    let endpoints = match discovery::endpoints(&client, cpo, &[Module::Locations]).await {
        Ok(endpoints) => endpoints,
        Err(err) => {
            let why = err.to_string();
            let outcomes = targets.iter().map(|_| Err(why.clone())).collect();
            let run = (run, Trigger::Heal);
            let report = finish(store, run, run_id, Vec::new(), Some(why), metrics).await?;
            return Ok((report, outcomes));
        }
    };
    let pull = Pull {
        store,
        events,
        caller: &caller,
        version: endpoints.version,
        sessions_without_periods: false,
        run_id,
    };
    let mut applier = Applier::new(&pull, Module::Locations);
    let mut outcomes = Vec::with_capacity(targets.len());
    for target in targets {
        let span = tracing::info_span!("reconcile.heal", run.id = run_id, cpo = %cpo.name,
            ocpi.country_code = %target.party.country_code, ocpi.party_id = %target.party.party_id,
            location.id = %target.location_id);
        let healed = heal_one(&client, &endpoints, &mut applier, target);
        outcomes.push(healed.instrument(span).await?);
    }
    let module = applier.report;
    let run = (run, Trigger::Heal);
    let report = finish(store, run, run_id, vec![module], None, metrics).await?;
    Ok((report, outcomes))
}

async fn heal_one(
    client: &Client,
    endpoints: &Endpoints,
    applier: &mut Applier<'_>,
    target: &HealTarget,
) -> Result<Result<(), String>, ReconcileError> {
    let Some(list) = endpoints.of(Module::Locations) else {
        return Ok(Err("the CPO lists no locations sender endpoint".into()));
    };
    let url = discovery::below(list, &[&target.location_id]);
    let body = match client.get(&url).await {
        Ok(answer) => answer.data,
        Err(err) => return Ok(Err(err.to_string())),
    };
    let accepted = applier.apply_one(body, Some(&target.party)).await?;
    Ok(if accepted {
        Ok(())
    } else {
        Err("the pulled location was refused; see the inbox".into())
    })
}

/// Stores, logs and counts the report of a finished run.
async fn finish(
    store: &Store,
    (run, trigger): (NewRun, Trigger),
    run_id: i64,
    modules: Vec<ModuleReport>,
    error: Option<String>,
    metrics: Option<&Metrics>,
) -> Result<RunReport, ReconcileError> {
    let finished_at = Timestamp::now().as_datetime();
    let rows: Vec<_> = modules.iter().map(ModuleReport::row).collect();
    runs::finish_run(store, run_id, finished_at, error.clone(), &rows).await?;
    let report = RunReport {
        run_id,
        cpo: run.cpo,
        trigger,
        started_at: run.started_at,
        finished_at,
        window_from: run.window_from,
        window_to: run.window_to,
        modules,
        error,
    };
    report.log();
    if let Some(metrics) = metrics {
        report.count(metrics);
    }
    Ok(report)
}

/// The crawl of one CPO's modules.
struct Crawl<'a> {
    client: &'a Client,
    cpo: &'a CpoConfig,
    endpoints: &'a Endpoints,
}

impl Crawl<'_> {
    /// Pulls one module in its window; a failure stops this module only.
    async fn module(
        &self,
        pull: &Pull<'_>,
        module: Module,
        window: Window,
    ) -> Result<ModuleReport, ReconcileError> {
        let mut applier = Applier::new(pull, module);
        let Some(list) = self.endpoints.of(module) else {
            applier.report.error = Some(format!(
                "the CPO lists no {} sender endpoint",
                module.name()
            ));
            return Ok(applier.report);
        };
        let notifications = module == Module::Notifications;
        let (max, limit) = if notifications && self.cpo.profile == Profile::Greenflux {
            let limit = self.cpo.page_limit.max(GREENFLUX_NOTIFICATION_LIMIT);
            (Some(GREENFLUX_NOTIFICATION_WINDOW), limit)
        } else {
            (None, self.cpo.page_limit)
        };
        for window in crawl::windows(window, max, OVERLAP) {
            let first = crawl::first_page(list, window, limit);
            let mut pager = Pager::new(self.client, first);
            if let Err(err) = drain(&mut pager, &mut applier).await {
                match err {
                    ReconcileError::Store(err) => return Err(ReconcileError::Store(err)),
                    other => {
                        applier.report.error = Some(other.to_string());
                        break;
                    }
                }
            }
        }
        Ok(applier.report)
    }
}

/// Applies every page of a crawl.
async fn drain(pager: &mut Pager<'_>, applier: &mut Applier<'_>) -> Result<(), ReconcileError> {
    while let Some(items) = pager.next_page().await? {
        applier.apply_page(items, None).await?;
    }
    Ok(())
}

/// The modules a run pulls: the ones asked for, else the CPO's.
fn chosen_modules(cpo: &CpoConfig, asked: &[String]) -> Result<Vec<Module>, ReconcileError> {
    let configured = cpo.module_list().map_err(ReconcileError::Config)?;
    if asked.is_empty() {
        return Ok(configured);
    }
    let all = cpo.profile.modules();
    for name in asked {
        if !all.iter().any(|m| m.name() == name) {
            return Err(ReconcileError::Config(format!(
                "module {name:?} cannot be pulled from {} (profile {}): choose from {}",
                cpo.name,
                cpo.profile.name(),
                all.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(all
        .iter()
        .filter(|m| asked.iter().any(|n| n == m.name()))
        .copied()
        .collect())
}

/// The caller pulled objects are applied as: the CPO's parties, lenient.
fn caller_of(cpo: &CpoConfig) -> Result<Caller, ReconcileError> {
    let parties = cpo.party_list().map_err(ReconcileError::Config)?;
    Ok(Caller::puller(parties))
}

/// A module's window: `date_to` is the run's; `date_from` is the one asked
/// for, else the end of the last scheduled run's window less the overlap,
/// else none, except for modules whose list needs one.
async fn window_of(
    store: &Store,
    cpo: &CpoConfig,
    module: Module,
    options: &RunOptions,
    to: DateTime<Utc>,
) -> Result<Window, ReconcileError> {
    let from = match options.from {
        Some(from) => Some(from),
        None => runs::watermark(store.db(), &cpo.name, module.name())
            .await?
            .map(|end| end - OVERLAP),
    };
    // OCPI 2.2.1 Sessions: date_from is required; GreenFlux notifications too.
    let needs_from = module == Module::Sessions
        || (module == Module::Notifications && cpo.profile == Profile::Greenflux);
    let days = i64::try_from(cpo.lookback_days.min(MAX_LOOKBACK_DAYS)).unwrap_or(0);
    let lookback = Duration::try_days(days).unwrap_or(Duration::zero());
    let from = from.or_else(|| needs_from.then(|| to - lookback));
    Ok(Window { from, to: Some(to) })
}

/// The earliest `date_from` of the windows, or none when one has none.
fn earliest(windows: &[Window]) -> Option<DateTime<Utc>> {
    windows
        .iter()
        .map(|w| w.from)
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .min()
}
