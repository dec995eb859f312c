//! A CPO emulator: a fleet of locations whose EVSEs, sessions, CDRs and
//! station notifications evolve on a simulated clock, pushed over HTTP as
//! GreenFlux (OCPI 2.1.1) or an OCPI 2.2.1 CPO sends them, through a network
//! that may drop, reorder and duplicate; and the CPO's sender interface
//! (OCPI GETs and GreenFlux's pull API) over its own ground truth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chargegraph::emulator::EmulatorError> {
//! use chargegraph::emulator::{Emulator, EmulatorConfig, Target, Until};
//! let emulator = Emulator::new(EmulatorConfig { seed: 7, ..EmulatorConfig::default() })?;
//! let target = Target::new("http://127.0.0.1:8080", "push-token");
//! let report = emulator.run(&target, Until::For(std::time::Duration::from_secs(4 * 3600))).await?;
//! let truth = emulator.ground_truth();
//! # let _ = (report, truth);
//! # Ok(()) }
//! ```

mod curve;
mod fleet;
mod model;
mod network;
mod page;
mod sender;
mod shape;
mod sim;
mod tariff;

use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

pub use curve::{power_kw, Charge};
pub use model::{
    Cdr, ChargingPeriod, Connector, Evse, EvseStatus, GroundTruth, Location, Notification,
    OcpiVersion, Session, SessionStatus,
};
pub use network::{Faults, PushStats, Target};
pub use page::{Page, Query, QueryError};
pub use tariff::{Price, Tariff, Usage};

use crate::domain::Party;
use network::Network;
use sim::Sim;

/// How often (simulated seconds) history older than the retention is forgotten.
const FORGET_EVERY_SECS: i64 = 3600;

/// How the emulated CPO behaves.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Seeds every random choice: the same seed makes the same world.
    pub seed: u64,
    /// The CPO's party (its ids start with it, e.g. `NL-GFX-E0123456-1`).
    pub party: Party,
    /// How many locations.
    pub locations: usize,
    /// Share of locations with DC fast chargers (0 to 1).
    pub dc_share: f64,
    /// Where the simulated clock starts (whole seconds).
    pub start: DateTime<Utc>,
    /// Simulated seconds per real second; 0 runs as fast as pushes are answered.
    pub speed: f64,
    /// The shapes pushed: GreenFlux's 2.1.1 or OCPI 2.2.1.
    pub version: OcpiVersion,
    /// What the network does to pushes.
    pub faults: Faults,
    /// Sessions per EVSE per simulated day, on average.
    pub sessions_per_evse_per_day: f64,
    /// Faults per EVSE per simulated day, on average.
    pub faults_per_evse_per_day: f64,
    /// Seconds between a session's meter PATCHes; divides 900 (the full
    /// PATCH with periods comes every 15 minutes).
    pub meter_interval_secs: u64,
    /// Seconds from a session's end to its CDR.
    pub cdr_delay_secs: u64,
    /// The sender interface's largest page (X-Limit).
    pub page_limit: usize,
    /// The token the sender interface accepts (`Authorization: Token ...`);
    /// empty, nobody may pull.
    pub pull_token: String,
    /// How much simulated history is kept: completed and billed sessions,
    /// CDRs and notifications whose last change is older than this are
    /// forgotten (checked every simulated hour), so a long run holds a
    /// bounded world; the sender interface then serves only what is kept.
    /// `None` keeps everything.
    pub retention: Option<Duration>,
}

impl Default for EmulatorConfig {
    /// Ten GreenFlux-like NL/GFX locations from now, at 60 times real time.
    fn default() -> Self {
        EmulatorConfig {
            seed: 1,
            party: Party::new("NL", "GFX"),
            locations: 10,
            dc_share: 0.25,
            start: Utc::now().trunc_subsecs(0),
            speed: 60.0,
            version: OcpiVersion::V211,
            faults: Faults::default(),
            sessions_per_evse_per_day: 6.0,
            faults_per_evse_per_day: 0.5,
            meter_interval_secs: 300,
            cdr_delay_secs: 900,
            page_limit: 100,
            pull_token: String::new(),
            retention: None,
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    /// Everything but the pull token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("seed", &self.seed)
            .field("party", &self.party)
            .field("locations", &self.locations)
            .field("dc_share", &self.dc_share)
            .field("start", &self.start)
            .field("speed", &self.speed)
            .field("version", &self.version)
            .field("faults", &self.faults)
            .field("sessions_per_evse_per_day", &self.sessions_per_evse_per_day)
            .field("faults_per_evse_per_day", &self.faults_per_evse_per_day)
            .field("meter_interval_secs", &self.meter_interval_secs)
            .field("cdr_delay_secs", &self.cdr_delay_secs)
            .field("page_limit", &self.page_limit)
            .field("pull_token", &"***")
            .field("retention", &self.retention)
            .finish()
    }
}

impl EmulatorConfig {
    /// Says what is wrong with these settings.
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let share = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(EmulatorError::Config(format!(
                    "{name} must be between 0 and 1, not {value}"
                )))
            }
        };
        share("dc_share", self.dc_share)?;
        share("drop", self.faults.drop)?;
        share("reorder", self.faults.reorder)?;
        share("duplicate", self.faults.duplicate)?;
        let problem = if self.locations == 0 {
            Some("locations must be at least 1".to_owned())
        } else if !(self.speed >= 0.0 && self.speed.is_finite()) {
            Some(format!("speed must be 0 or more, not {}", self.speed))
        } else if self.sessions_per_evse_per_day < 0.0 || self.faults_per_evse_per_day < 0.0 {
            Some("rates per day must be 0 or more".to_owned())
        } else if self.meter_interval_secs < 60 || 900 % self.meter_interval_secs != 0 {
            Some(format!(
                "meter interval must be at least 60 s and divide 900 s, not {} s",
                self.meter_interval_secs
            ))
        } else if self.page_limit == 0 {
            Some("page limit must be at least 1".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(EmulatorError::Config(p)))
    }
}

/// Why the emulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// A setting is out of range.
    #[error("invalid emulator setting: {0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// How long a run lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// This much simulated time from where the clock stands.
    For(Duration),
    /// Until the simulated clock reaches this instant.
    At(DateTime<Utc>),
    /// This many events (arrivals, meter values, departures, CDRs, faults).
    Events(u64),
    /// Forever (until the future is dropped).
    Forever,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Events simulated.
    pub events: u64,
    /// What happened to the pushes.
    pub pushes: PushStats,
    /// The pushes the network dropped, as `METHOD path`, in order.
    pub dropped: Vec<String>,
    /// The simulated clock at the end of the run.
    pub until: Option<DateTime<Utc>>,
}

/// The emulated CPO. Cheap to clone: clones share the same world.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: EmulatorConfig,
    truth: RwLock<GroundTruth>,
    /// Held for the length of a run: one clock, one event queue.
    sim: tokio::sync::Mutex<Sim>,
}

impl Emulator {
    /// Builds the fleet from the seed; the clock stands at `config.start`.
    pub fn new(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        config.validate()?;
        let config = EmulatorConfig {
            start: config.start.trunc_subsecs(0),
            ..config
        };
        let (sim, truth) = Sim::new(&config);
        Ok(Emulator {
            inner: Arc::new(Inner {
                config,
                truth: RwLock::new(truth),
                sim: tokio::sync::Mutex::new(sim),
            }),
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// A copy of everything the CPO holds now, including what it pushed
    /// and the network dropped.
    pub fn ground_truth(&self) -> GroundTruth {
        self.read().clone()
    }

    /// Runs the world and pushes every change to `target`, paced by
    /// `speed`; a later run continues where this one stopped.
    pub async fn run(&self, target: &Target, until: Until) -> Result<RunReport, EmulatorError> {
        let config = self.config();
        let network = Network::new(target, config.version, config.faults)?;
        tracing::info!(url = %target.base(config.version), "emulator pushing");
        Ok(self.drive(Some(network), until).await)
    }

    /// Runs the world without pushing anything (only the sender interface
    /// shows it).
    pub async fn simulate(&self, until: Until) -> RunReport {
        self.drive(None, until).await
    }

    async fn drive(&self, mut network: Option<Network>, until: Until) -> RunReport {
        let mut sim = self.inner.sim.lock().await;
        let sim_start = sim.now();
        let real_start = tokio::time::Instant::now();
        let end = match until {
            Until::For(span) => Some(sim_start.saturating_add(span.as_secs() as i64)),
            Until::At(at) => Some(at.timestamp()),
            Until::Events(_) | Until::Forever => None,
        };
        let mut report = RunReport::default();
        let retention = self
            .config()
            .retention
            .map(|keep| i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
        let mut forgotten_at = sim_start;
        while let Some(due) = sim.next_due() {
            let over_time = end.is_some_and(|end| due > end);
            let over_count = matches!(until, Until::Events(n) if report.events >= n);
            if over_time || over_count {
                break;
            }
            let speed = self.config().speed;
            if speed > 0.0 {
                let offset = Duration::from_secs_f64((due - sim_start).max(0) as f64 / speed);
                tokio::time::sleep_until(real_start + offset).await;
            }
            let pushes = sim.step(&mut self.write());
            report.events += 1;
            if let Some(keep) = retention {
                if sim.now() - forgotten_at >= FORGET_EVERY_SECS {
                    forgotten_at = sim.now();
                    let before = forgotten_at.saturating_sub(keep);
                    sim.forget_before(before, &mut self.write());
                }
            }
            match network.as_mut() {
                Some(network) => {
                    let sim = &mut *sim;
                    network
                        .deliver(
                            pushes,
                            &mut sim.net_rng,
                            &mut report.pushes,
                            &mut report.dropped,
                        )
                        .await
                }
                None => {
                    report.pushes.intended += pushes.len() as u64;
                    report.pushes.unsent += pushes.len() as u64;
                }
            }
        }
        if let Some(end) = end {
            sim.idle_until(end, &mut self.write());
        }
        if let Some(network) = network.as_mut() {
            network.flush(&mut report.pushes).await;
        }
        report.until = Some(sim::instant(sim.now()));
        report
    }

    /// The CPO's sender interface: OCPI version discovery and the paginated
    /// Locations, Sessions, CDRs and Tariffs GETs under `/ocpi/`, and
    /// GreenFlux's pull API under `/api/2.0/`.
    pub fn sender_router(&self) -> axum::Router {
        sender::router(self.clone())
    }

    fn read(&self) -> RwLockReadGuard<'_, GroundTruth> {
        // A panic while holding the lock leaves a world that is still whole.
        self.inner.truth.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, GroundTruth> {
        self.inner.truth.write().unwrap_or_else(|e| e.into_inner())
    }
}
