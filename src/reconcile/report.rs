//! The report of one run: per module, what was fetched and what became of it.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::Timestamp;
use crate::store::reconcile::ModuleRow;
use crate::telemetry::metrics::Metrics;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule of `serve`.
    Scheduled,
    /// `chargegraph reconcile`, or a direct call.
    Manual,
    /// Targeted pulls of locations that pushes named but we did not have.
    Heal,
}

impl Trigger {
    /// The name stored in the run's row.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Heal => "heal",
        }
    }
}

/// What a run did in one module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModuleReport {
    /// The OCPI module's name.
    pub module: String,
    /// Distinct objects received (an object fetched twice, e.g. in two
    /// overlapping windows, counts once).
    pub fetched: u64,
    /// Objects we did not have: created.
    pub missing: u64,
    /// Objects we had in an older state: updated.
    pub updated: u64,
    /// Objects we already had as pulled, or newer: nothing written.
    pub unchanged: u64,
    /// Objects ingest refused or failed on (kept in the inbox).
    pub failed: u64,
    /// Why the module's crawl stopped early, if it did.
    pub error: Option<String>,
}

impl ModuleReport {
    /// An empty report of a module.
    pub fn new(module: &str) -> ModuleReport {
        ModuleReport {
            module: module.to_owned(),
            ..ModuleReport::default()
        }
    }

    /// The row the store keeps of it.
    pub fn row(&self) -> ModuleRow {
        ModuleRow {
            module: self.module.clone(),
            fetched: self.fetched,
            missing: self.missing,
            updated: self.updated,
            unchanged: self.unchanged,
            failed: self.failed,
            error: self.error.clone(),
        }
    }
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The run's row id.
    pub run_id: i64,
    /// The CPO's name.
    pub cpo: String,
    /// What started it.
    pub trigger: Trigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The `date_from` of its window, when it had one.
    pub window_from: Option<DateTime<Utc>>,
    /// The `date_to` of its window.
    pub window_to: Option<DateTime<Utc>>,
    /// One report per module pulled.
    pub modules: Vec<ModuleReport>,
    /// Why the run stopped before pulling (e.g. discovery failed).
    pub error: Option<String>,
}

impl RunReport {
    /// Whether the run and every module ended without error.
    pub fn is_clean(&self) -> bool {
        self.error.is_none() && self.modules.iter().all(|m| m.error.is_none())
    }

    /// The report of one module, by name.
    pub fn module(&self, name: &str) -> Option<&ModuleReport> {
        self.modules.iter().find(|m| m.module == name)
    }

    /// One info line per run, counts as fields (a warning when it failed).
    pub fn log(&self) {
        let sum = |f: fn(&ModuleReport) -> u64| self.modules.iter().map(f).sum::<u64>();
        let errors: Vec<String> = self
            .error
            .iter()
            .cloned()
            .chain(
                self.modules
                    .iter()
                    .filter_map(|m| m.error.as_ref().map(|e| format!("{}: {e}", m.module))),
            )
            .collect();
        let fields = (
            sum(|m| m.fetched),
            sum(|m| m.missing),
            sum(|m| m.updated),
            sum(|m| m.unchanged),
            sum(|m| m.failed),
        );
        let (fetched, missing, updated, unchanged, failed) = fields;
        let elapsed_ms = (self.finished_at - self.started_at).num_milliseconds();
        if errors.is_empty() {
            tracing::info!(run.id = self.run_id, cpo = %self.cpo, trigger = self.trigger.name(),
                fetched, missing, updated, unchanged, failed, elapsed_ms, "reconciliation run finished");
        } else {
            let error = errors.join("; ");
            tracing::warn!(run.id = self.run_id, cpo = %self.cpo, trigger = self.trigger.name(),
                fetched, missing, updated, unchanged, failed, elapsed_ms, error = %error,
                "reconciliation run finished with errors");
        }
    }

    /// Counts the run's objects in `chargegraph_reconciliations_total`.
    pub fn count(&self, metrics: &Metrics) {
        for m in &self.modules {
            for (result, n) in [
                ("missing", m.missing),
                ("updated", m.updated),
                ("unchanged", m.unchanged),
                ("failed", m.failed),
            ] {
                if n > 0 {
                    metrics.reconciliation(&m.module, result, n);
                }
            }
            if m.error.is_some() {
                metrics.reconciliation(&m.module, "error", 1);
            }
        }
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stamp = |t: DateTime<Utc>| Timestamp::from_datetime(t).to_string();
        let window = |t: Option<DateTime<Utc>>| t.map(stamp).unwrap_or_else(|| "-".into());
        writeln!(
            f,
            "run {} of {} ({}): {} to {}, window {} to {}",
            self.run_id,
            self.cpo,
            self.trigger.name(),
            stamp(self.started_at),
            stamp(self.finished_at),
            window(self.window_from),
            window(self.window_to),
        )?;
        if let Some(error) = &self.error {
            writeln!(f, "  error: {error}")?;
        }
        for m in &self.modules {
            write!(
                f,
                "  {}: fetched {}, missing {}, updated {}, unchanged {}, failed {}",
                m.module, m.fetched, m.missing, m.updated, m.unchanged, m.failed
            )?;
            match &m.error {
                Some(error) => writeln!(f, "; error: {error}")?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_one_line_per_module_with_its_error() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let report = RunReport {
            run_id: 7,
            cpo: "gfx".into(),
            trigger: Trigger::Manual,
            started_at: at("2026-01-02T03:00:00Z"),
            finished_at: at("2026-01-02T03:00:01.5Z"),
            window_from: None,
            window_to: Some(at("2026-01-02T03:00:00Z")),
            modules: vec![
                ModuleReport {
                    fetched: 3,
                    missing: 1,
                    updated: 1,
                    unchanged: 1,
                    ..ModuleReport::new("locations")
                },
                ModuleReport {
                    error: Some("GET x answered OCPI status_code 2001".into()),
                    ..ModuleReport::new("cdrs")
                },
            ],
            error: None,
        };
        assert_eq!(
            report.to_string(),
            "run 7 of gfx (manual): 2026-01-02T03:00:00Z to 2026-01-02T03:00:01.500Z, \
             window - to 2026-01-02T03:00:00Z\n  \
             locations: fetched 3, missing 1, updated 1, unchanged 1, failed 0\n  \
             cdrs: fetched 0, missing 0, updated 0, unchanged 0, failed 0; \
             error: GET x answered OCPI status_code 2001\n"
        );
        assert!(!report.is_clean());
    }
}
