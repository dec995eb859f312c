//! The simulated CPO: a queue of timed events (arrivals, meter values,
//! departures, CDRs, faults) that change the ground truth and say what to push.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use axum::http::Method;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use super::curve::Charge;
use super::model::{
    Cdr, ChargingPeriod, EvseStatus, GroundTruth, Notification, OcpiVersion, Session, SessionStatus,
};
use super::tariff::Usage;
use super::{fleet, shape, tariff, EmulatorConfig};
use crate::domain::Party;

/// Seconds per charging period; GreenFlux's full PATCH comes at this rhythm.
pub(crate) const PERIOD_SECS: i64 = 900;

/// Seconds between the Unix epoch and .NET's year 1, whose ticks GreenFlux's
/// session and CDR ids carry.
const DOTNET_EPOCH_OFFSET: i64 = 62_135_596_800;

/// One push the CPO means to send: method, path below the version base, body.
#[derive(Debug, Clone)]
pub(crate) struct Push {
    /// PUT, PATCH or POST.
    pub method: Method,
    /// Below the receiver's version base, e.g. `sessions/NL/GFX/{id}`.
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// The OCPI module, for logs.
    pub module: &'static str,
}

impl Push {
    /// `METHOD path`, for reports.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What happens at a point of simulated time.
#[derive(Debug, Clone)]
enum Event {
    /// The first event: every location (and, in 2.2.1, tariff) is PUT.
    Open,
    /// A car arrives at an EVSE (location, EVSE index).
    Arrival(usize, usize),
    /// A session's meter value.
    Meter(String),
    /// A car leaves; the session completes.
    Departure(String),
    /// The CDR of a completed session is issued.
    Bill(String),
    /// An EVSE breaks or is taken out of service.
    FaultStart(usize, usize),
    /// The EVSE is back.
    FaultEnd(usize, usize),
}

/// A driver's token.
#[derive(Debug, Clone)]
struct Driver {
    party: Party,
    contract_id: String,
    uid: String,
}

/// A car at an EVSE.
#[derive(Debug, Clone)]
struct Active {
    location: usize,
    evse: usize,
    session: usize,
    charge: Charge,
    start: i64,
    departure: i64,
    /// Last time the charge was advanced to.
    metered_at: i64,
    /// When the battery reached its target.
    full_at: Option<i64>,
    /// Metered kWh at each period boundary (0, 15 min, 30 min, ...).
    marks: Vec<Decimal>,
    /// Periods pushed so far (2.2.1 appends only new ones).
    pushed_periods: usize,
}

/// The simulation state behind the ground truth.
pub(crate) struct Sim {
    party: Party,
    version: OcpiVersion,
    sessions_per_day: f64,
    faults_per_day: f64,
    meter_interval: i64,
    cdr_delay: i64,
    rng: StdRng,
    /// Drives the network's drops, reorders and duplicates, apart from the
    /// world's own randomness: the same seed makes the same world whatever
    /// the network does to it.
    pub net_rng: StdRng,
    now: i64,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    events: HashMap<u64, Event>,
    seq: u64,
    active: HashMap<String, Active>,
    /// Completed sessions awaiting their CDR: session index and parked seconds.
    billing: HashMap<String, (usize, i64)>,
    drivers: Vec<Driver>,
    ids: HashSet<String>,
    notification_seq: u64,
}

impl Sim {
    /// A simulation and the ground truth it starts from.
    pub fn new(config: &EmulatorConfig) -> (Sim, GroundTruth) {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let net_rng = StdRng::seed_from_u64(config.seed ^ 0x6e65_7477_6f72_6b00);
        let start = config.start;
        let locations = fleet::generate(
            &mut rng,
            &config.party,
            config.locations,
            config.dc_share,
            start,
        );
        let evse_count: usize = locations.iter().map(|l| l.evses.len()).sum();
        let drivers = (0..(evse_count * 3).max(20))
            .map(|_| driver(&mut rng))
            .collect();
        let truth = GroundTruth {
            party: config.party.clone(),
            now: start,
            locations,
            sessions: Vec::new(),
            cdrs: Vec::new(),
            tariffs: tariff::standard_tariffs(start),
            notifications: Vec::new(),
        };
        let mut sim = Sim {
            party: config.party.clone(),
            version: config.version,
            sessions_per_day: config.sessions_per_evse_per_day,
            faults_per_day: config.faults_per_evse_per_day,
            meter_interval: config.meter_interval_secs as i64,
            cdr_delay: config.cdr_delay_secs as i64,
            rng,
            net_rng,
            now: start.timestamp(),
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            seq: 0,
            active: HashMap::new(),
            billing: HashMap::new(),
            drivers,
            ids: HashSet::new(),
            notification_seq: 230_000,
        };
        sim.schedule(sim.now, Event::Open);
        (sim, truth)
    }

    /// The simulated time, Unix seconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Moves the clock forward to `at` without an event (the end of a run).
    pub fn idle_until(&mut self, at: i64, truth: &mut GroundTruth) {
        self.now = self.now.max(at);
        truth.now = instant(self.now);
    }

    /// Forgets what finished before `before` (Unix seconds): completed
    /// sessions whose CDR is issued, CDRs and notifications whose last
    /// change is older. Active sessions and sessions awaiting their CDR
    /// stay, whatever their age; so does every location and tariff.
    pub fn forget_before(&mut self, before: i64, truth: &mut GroundTruth) {
        let before = instant(before);
        let billing: HashSet<usize> = self.billing.values().map(|(i, _)| *i).collect();
        let active: HashSet<usize> = self.active.values().map(|a| a.session).collect();
        let mut kept = Vec::with_capacity(truth.sessions.len());
        let mut moved = HashMap::new();
        for (index, session) in std::mem::take(&mut truth.sessions).into_iter().enumerate() {
            let finished = session.status == SessionStatus::Completed
                && !billing.contains(&index)
                && !active.contains(&index);
            if finished && session.last_updated < before {
                self.ids.remove(&session.id);
            } else {
                moved.insert(index, kept.len());
                kept.push(session);
            }
        }
        truth.sessions = kept;
        for a in self.active.values_mut() {
            a.session = moved.get(&a.session).copied().unwrap_or(a.session);
        }
        for (index, _) in self.billing.values_mut() {
            *index = moved.get(index).copied().unwrap_or(*index);
        }
        let ids = &mut self.ids;
        truth.cdrs.retain(|c| {
            let keep = c.last_updated >= before;
            if !keep {
                ids.remove(&c.id);
            }
            keep
        });
        truth.notifications.retain(|n| n.created >= before);
    }

    /// When the next event is due.
    pub fn next_due(&self) -> Option<i64> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, event);
    }

    /// Runs the next event; returns the pushes it makes, in order.
    pub fn step(&mut self, truth: &mut GroundTruth) -> Vec<Push> {
        let Some(Reverse((at, seq))) = self.queue.pop() else {
            return Vec::new();
        };
        self.now = at;
        truth.now = instant(at);
        let Some(event) = self.events.remove(&seq) else {
            return Vec::new();
        };
        match event {
            Event::Open => self.open(truth),
            Event::Arrival(l, e) => self.arrival(truth, l, e),
            Event::Meter(id) => self.meter(truth, &id),
            Event::Departure(id) => self.departure(truth, &id),
            Event::Bill(id) => self.bill(truth, &id),
            Event::FaultStart(l, e) => self.fault_start(truth, l, e),
            Event::FaultEnd(l, e) => self.fault_end(truth, l, e),
        }
    }

    /// Seconds until the next occurrence of something that happens `per_day`
    /// times a day on average (exponential waiting time); never, at rate 0.
    fn wait(&mut self, per_day: f64) -> Option<i64> {
        if per_day <= 0.0 {
            return None;
        }
        let u: f64 = self.rng.gen();
        let secs = -(1.0 - u).ln() * 86_400.0 / per_day;
        Some((secs.round() as i64).max(1))
    }

    fn schedule_arrival(&mut self, l: usize, e: usize) {
        if let Some(wait) = self.wait(self.sessions_per_day) {
            self.schedule(self.now + wait, Event::Arrival(l, e));
        }
    }

    fn schedule_fault(&mut self, l: usize, e: usize) {
        if let Some(wait) = self.wait(self.faults_per_day) {
            self.schedule(self.now + wait, Event::FaultStart(l, e));
        }
    }

    fn open(&mut self, truth: &mut GroundTruth) -> Vec<Push> {
        let mut pushes = Vec::new();
        if self.version == OcpiVersion::V221 {
            for t in &truth.tariffs {
                pushes.push(Push {
                    method: Method::PUT,
                    path: self.object_path("tariffs", &[&t.id]),
                    body: shape::tariff(&self.party, t, self.version),
                    module: "tariffs",
                });
            }
        }
        for l in &truth.locations {
            pushes.push(Push {
                method: Method::PUT,
                path: self.object_path("locations", &[&l.id]),
                body: shape::location(&self.party, l, self.version),
                module: "locations",
            });
        }
        for l in 0..truth.locations.len() {
            for e in 0..truth.locations[l].evses.len() {
                self.schedule_arrival(l, e);
                self.schedule_fault(l, e);
            }
        }
        pushes
    }

    fn arrival(&mut self, truth: &mut GroundTruth, l: usize, e: usize) -> Vec<Push> {
        if truth.locations[l].evses[e].status != EvseStatus::Available {
            self.schedule_arrival(l, e);
            return Vec::new();
        }
        let (session, charge, dwell) = self.new_session(truth, l, e);
        let id = session.id.clone();
        let mut pushes = self.set_status(truth, l, e, EvseStatus::Charging);
        pushes.push(self.notify(truth, l, Some(e), "Charging", "NoError", "Info"));
        pushes.push(Push {
            method: Method::PUT,
            path: self.object_path("sessions", &[&id]),
            body: shape::session(&self.party, &session, truth.locations.get(l), self.version),
            module: "sessions",
        });
        truth.sessions.push(session);
        let departure = self.now + dwell;
        let active = Active {
            location: l,
            evse: e,
            session: truth.sessions.len() - 1,
            charge,
            start: self.now,
            departure,
            metered_at: self.now,
            full_at: None,
            marks: vec![Decimal::ZERO],
            pushed_periods: 0,
        };
        self.active.insert(id.clone(), active);
        if self.now + self.meter_interval < departure {
            self.schedule(self.now + self.meter_interval, Event::Meter(id.clone()));
        }
        self.schedule(departure, Event::Departure(id));
        pushes
    }

    /// A session starting now at an EVSE: a connector, a car, a driver;
    /// with the car's charge and how many seconds it stays.
    fn new_session(&mut self, truth: &GroundTruth, l: usize, e: usize) -> (Session, Charge, i64) {
        let evse = &truth.locations[l].evses[e];
        let connector = evse
            .connectors
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_else(|| evse.connectors[0].clone());
        let (charge, dwell) = car(&mut self.rng, evse.is_dc(), connector.max_electric_power);
        let driver = self
            .drivers
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_else(|| driver(&mut self.rng));
        let id = self.unique_id(|sim| {
            let hex = sim.rng.gen_range(0..0x10_0000);
            format!("{}-{hex:05x}", sim.ticks_id())
        });
        let auth_method = if self.rng.gen_bool(0.7) {
            "AUTH_REQUEST"
        } else {
            "WHITELIST"
        };
        let at = instant(self.now);
        let session = Session {
            id,
            location_id: truth.locations[l].id.clone(),
            evse_uid: evse.uid.clone(),
            connector_id: connector.id,
            auth_id: driver.contract_id,
            token_uid: driver.uid,
            token_party: driver.party,
            auth_method: auth_method.to_owned(),
            start: at,
            end: None,
            kwh: Decimal::ZERO,
            status: SessionStatus::Active,
            charging_periods: Vec::new(),
            tariff_id: connector.tariff_id,
            last_updated: at,
        };
        (session, charge, dwell)
    }

    /// Charges the car up to now; a SuspendedEV notification when it filled up.
    fn advance(&mut self, truth: &mut GroundTruth, id: &str) -> Vec<Push> {
        let now = self.now;
        let Some(active) = self.active.get_mut(id) else {
            return Vec::new();
        };
        let secs = (now - active.metered_at).max(0) as u64;
        let filled = active
            .charge
            .advance(secs)
            .map(|s| active.metered_at + s as i64);
        active.metered_at = now;
        let (l, e) = (active.location, active.evse);
        match filled {
            Some(at) => {
                active.full_at = Some(at);
                vec![self.notify_at(truth, l, Some(e), "SuspendedEV", "NoError", "Info", at)]
            }
            None => Vec::new(),
        }
    }

    fn meter(&mut self, truth: &mut GroundTruth, id: &str) -> Vec<Push> {
        let mut pushes = self.advance(truth, id);
        let now = self.now;
        let Some(active) = self.active.get_mut(id) else {
            return pushes;
        };
        let kwh = kwh(active.charge.energy_kwh);
        let elapsed = now - active.start;
        let full = elapsed % PERIOD_SECS == 0;
        if full {
            active.marks.push(kwh);
        }
        let session = &mut truth.sessions[active.session];
        session.kwh = kwh;
        session.last_updated = instant(now);
        let body = if full {
            session.charging_periods = periods(session.start, &active.marks, elapsed, kwh);
            let new = &session.charging_periods[active.pushed_periods..];
            active.pushed_periods = session.charging_periods.len();
            shape::session_periods_patch(session, new, self.version)
        } else {
            shape::session_compact_patch(session, self.version)
        };
        let departure = active.departure;
        pushes.push(Push {
            method: Method::PATCH,
            path: self.object_path("sessions", &[id]),
            body,
            module: "sessions",
        });
        if now + self.meter_interval < departure {
            self.schedule(now + self.meter_interval, Event::Meter(id.to_owned()));
        }
        pushes
    }

    fn departure(&mut self, truth: &mut GroundTruth, id: &str) -> Vec<Push> {
        let mut pushes = self.advance(truth, id);
        let now = self.now;
        let Some(active) = self.active.remove(id) else {
            return pushes;
        };
        let kwh = kwh(active.charge.energy_kwh);
        let session = &mut truth.sessions[active.session];
        session.kwh = kwh;
        session.end = Some(instant(now));
        session.status = SessionStatus::Completed;
        session.last_updated = instant(now);
        session.charging_periods = periods(session.start, &active.marks, now - active.start, kwh);
        let new =
            &session.charging_periods[active.pushed_periods.min(session.charging_periods.len())..];
        pushes.push(Push {
            method: Method::PATCH,
            path: self.object_path("sessions", &[id]),
            body: shape::session_completed_patch(session, new, self.version),
            module: "sessions",
        });
        let (l, e) = (active.location, active.evse);
        pushes.extend(self.set_status(truth, l, e, EvseStatus::Available));
        pushes.push(self.notify(truth, l, Some(e), "Available", "NoError", "Info"));
        let parked = active.full_at.map_or(0, |full| (now - full).max(0));
        self.billing.insert(id.to_owned(), (active.session, parked));
        self.schedule(now + self.cdr_delay, Event::Bill(id.to_owned()));
        self.schedule_arrival(l, e);
        pushes
    }

    fn bill(&mut self, truth: &mut GroundTruth, id: &str) -> Vec<Push> {
        let Some((index, parked_secs)) = self.billing.remove(id) else {
            return Vec::new();
        };
        let cdr_id = self.unique_id(|sim| format!("{}01", sim.ticks_id()));
        let Some(cdr) = cdr(truth, index, parked_secs, cdr_id, instant(self.now)) else {
            return Vec::new();
        };
        let body = shape::cdr(
            &self.party,
            &cdr,
            truth.location(&cdr.location_id),
            truth.tariff(&cdr.tariff_id),
            self.version,
        );
        truth.cdrs.push(cdr);
        vec![Push {
            method: Method::POST,
            path: "cdrs".to_owned(),
            body,
            module: "cdrs",
        }]
    }

    fn fault_start(&mut self, truth: &mut GroundTruth, l: usize, e: usize) -> Vec<Push> {
        if truth.locations[l].evses[e].status != EvseStatus::Available {
            self.schedule_fault(l, e);
            return Vec::new();
        }
        let mut pushes = Vec::new();
        if self.rng.gen_bool(0.7) {
            let code = *[
                "GroundFailure",
                "ConnectorLockFailure",
                "HighTemperature",
                "PowerMeterFailure",
                "OtherError",
            ]
            .choose(&mut self.rng)
            .unwrap_or(&"OtherError");
            // A ground failure is reported for the station first, then per EVSE.
            if code == "GroundFailure" {
                pushes.push(self.notify(truth, l, None, "Faulted", code, "Error"));
            }
            pushes.extend(self.set_status(truth, l, e, EvseStatus::OutOfOrder));
            pushes.push(self.notify(truth, l, Some(e), "Faulted", code, "Error"));
        } else {
            pushes.extend(self.set_status(truth, l, e, EvseStatus::Inoperative));
            pushes.push(self.notify(truth, l, Some(e), "Unavailable", "NoError", "Info"));
        }
        let repair = self.rng.gen_range(30 * 60..=4 * 3600);
        self.schedule(self.now + repair, Event::FaultEnd(l, e));
        pushes
    }

    fn fault_end(&mut self, truth: &mut GroundTruth, l: usize, e: usize) -> Vec<Push> {
        let mut pushes = self.set_status(truth, l, e, EvseStatus::Available);
        pushes.push(self.notify(truth, l, Some(e), "Available", "NoError", "Info"));
        self.schedule_fault(l, e);
        pushes
    }

    /// Sets an EVSE's status (bumping it and its location) and PATCHes it.
    fn set_status(
        &mut self,
        truth: &mut GroundTruth,
        l: usize,
        e: usize,
        status: EvseStatus,
    ) -> Vec<Push> {
        let at = instant(self.now);
        let location = &mut truth.locations[l];
        location.last_updated = at;
        let evse = &mut location.evses[e];
        evse.status = status;
        evse.last_updated = at;
        let body = shape::evse_status_patch(evse, self.version);
        let path = self.object_path("locations", &[&location.id, &location.evses[e].uid]);
        vec![Push {
            method: Method::PATCH,
            path,
            body,
            module: "locations",
        }]
    }

    fn notify(
        &mut self,
        truth: &mut GroundTruth,
        l: usize,
        e: Option<usize>,
        status: &str,
        error_code: &str,
        level: &str,
    ) -> Push {
        self.notify_at(truth, l, e, status, error_code, level, self.now)
    }

    /// A StatusNotification the station sent at `at`, as GreenFlux forwards
    /// it a few seconds later (now).
    #[allow(clippy::too_many_arguments)]
    fn notify_at(
        &mut self,
        truth: &mut GroundTruth,
        l: usize,
        e: Option<usize>,
        status: &str,
        error_code: &str,
        level: &str,
        at: i64,
    ) -> Push {
        let location = &truth.locations[l];
        let evse = &location.evses[e.unwrap_or(0)];
        let connector = e.map_or(0, |_| evse.station_connector);
        self.notification_seq += 1;
        let sent = stamp_secs(at.min(self.now) - 3);
        let notification = Notification {
            id: uuid::Builder::from_random_bytes(self.rng.gen())
                .into_uuid()
                .to_string(),
            charge_station_notification_id: self.notification_seq.to_string(),
            charge_station_id: evse.station_id.clone(),
            evse_uid: e.map(|_| evse.uid.clone()),
            location_id: location.id.clone(),
            payload: format!(
                r#"{{"connectorId":{connector},"errorCode":"{error_code}","status":"{status}","timestamp":"{sent}","VendorErrorCode":null}}"#
            ),
            level: level.to_owned(),
            message_action: "StatusNotification".to_owned(),
            created: instant(self.now),
        };
        let push = Push {
            method: Method::PUT,
            path: format!("notifications/{}", notification.id),
            body: shape::notification(&notification),
            module: "notifications",
        };
        truth.notifications.push(notification);
        push
    }

    /// `{cc}{party}{ticks}`: the party and the .NET ticks of now with a
    /// random fraction of a second, as GreenFlux's ids read.
    fn ticks_id(&mut self) -> String {
        let ticks =
            (self.now + DOTNET_EPOCH_OFFSET) * 10_000_000 + self.rng.gen_range(0..10_000_000);
        format!("{}{}{ticks}", self.party.country_code, self.party.party_id)
    }

    fn unique_id(&mut self, mut make: impl FnMut(&mut Sim) -> String) -> String {
        loop {
            let id = make(self);
            if self.ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn object_path(&self, module: &str, ids: &[&str]) -> String {
        let mut path = format!(
            "{module}/{}/{}",
            self.party.country_code, self.party.party_id
        );
        for id in ids {
            path.push('/');
            path.extend(percent_encoding::utf8_percent_encode(
                id,
                super::page::ESCAPED,
            ));
        }
        path
    }
}

/// The CDR of the completed session at `index`, which parked for
/// `parked_secs` after its battery was full, priced by its tariff.
fn cdr(
    truth: &GroundTruth,
    index: usize,
    parked_secs: i64,
    id: String,
    at: DateTime<Utc>,
) -> Option<Cdr> {
    let session = truth.sessions.get(index)?;
    let end = session.end?;
    let total_time = hours((end - session.start).num_seconds());
    let total_parking_time = hours(parked_secs).min(total_time);
    let usage = Usage {
        energy_kwh: session.kwh,
        charging_hours: total_time - total_parking_time,
        parking_hours: total_parking_time,
    };
    let price = truth.tariff(&session.tariff_id)?.price(&usage);
    Some(Cdr {
        id,
        session_id: session.id.clone(),
        location_id: session.location_id.clone(),
        evse_uid: session.evse_uid.clone(),
        connector_id: session.connector_id.clone(),
        auth_id: session.auth_id.clone(),
        token_uid: session.token_uid.clone(),
        token_party: session.token_party.clone(),
        auth_method: session.auth_method.clone(),
        start: session.start,
        end,
        currency: "EUR".to_owned(),
        tariff_id: session.tariff_id.clone(),
        charging_periods: session.charging_periods.clone(),
        total_energy: session.kwh,
        total_time,
        total_parking_time,
        price,
        last_updated: at,
    })
}

/// A car for a session at an AC or DC EVSE of `watts`, and how long it stays.
fn car(rng: &mut StdRng, dc: bool, watts: u32) -> (Charge, i64) {
    let capacity_kwh = *[40.0, 52.0, 58.0, 64.0, 77.0, 82.0, 100.0]
        .choose(rng)
        .unwrap_or(&58.0);
    let charger_kw = f64::from(watts) / 1000.0;
    let (car_kw, soc, target, dwell) = if dc {
        let car_kw = *[50.0, 75.0, 100.0, 150.0, 250.0]
            .choose(rng)
            .unwrap_or(&100.0);
        let target = *[0.8, 0.8, 0.9].choose(rng).unwrap_or(&0.8);
        (
            car_kw,
            rng.gen_range(0.1..0.6),
            target,
            rng.gen_range(20 * 60..=75 * 60),
        )
    } else {
        let car_kw = *[7.4, 11.0, 11.0, 22.0].choose(rng).unwrap_or(&11.0);
        let target = *[0.8, 0.9, 1.0, 1.0].choose(rng).unwrap_or(&1.0);
        (
            car_kw,
            rng.gen_range(0.2..0.7),
            target,
            rng.gen_range(45 * 60..=6 * 3600),
        )
    };
    let charge = Charge {
        capacity_kwh,
        soc,
        target_soc: f64::max(target, soc + 0.1).min(1.0),
        limit_kw: f64::min(car_kw, charger_kw),
        dc,
        energy_kwh: 0.0,
    };
    (charge, dwell)
}

/// A driver with an eMSP's token: a contract id like GreenFlux's auth_id
/// `NL*GFX*0dd6AE*6`, and a 7-byte RFID uid.
fn driver(rng: &mut StdRng) -> Driver {
    let emsp = *["TNM", "EVB", "SHL", "NUO", "ALL"]
        .choose(rng)
        .unwrap_or(&"TNM");
    let code: u32 = rng.gen_range(0..0x100_0000);
    let uid: u64 = rng.gen_range(0..1 << 56);
    Driver {
        party: Party::new("NL", emsp),
        contract_id: format!("NL*{emsp}*{code:06X}*{}", rng.gen_range(0..10)),
        uid: format!("{uid:014X}"),
    }
}

/// Unix seconds as a chrono instant.
pub(crate) fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

fn stamp_secs(secs: i64) -> String {
    shape::stamp(instant(secs))
}

/// Metered energy to the Wh, as kWh with 3 decimals.
fn kwh(energy_kwh: f64) -> Decimal {
    Decimal::new((energy_kwh * 1000.0).round() as i64, 3)
}

/// Seconds as hours with 4 decimals.
fn hours(secs: i64) -> Decimal {
    (Decimal::from(secs) / Decimal::from(3600))
        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// The charging periods `elapsed` seconds after `start`: one per 15 minutes,
/// the last cut at `elapsed`. `marks[i]` is the metered kWh at i x 15 minutes
/// and `kwh` the reading at `elapsed`.
pub(crate) fn periods(
    start: DateTime<Utc>,
    marks: &[Decimal],
    elapsed: i64,
    kwh: Decimal,
) -> Vec<ChargingPeriod> {
    let mut list = Vec::new();
    for (i, from_kwh) in marks.iter().enumerate() {
        let from = i as i64 * PERIOD_SECS;
        if from >= elapsed {
            break;
        }
        let to = (from + PERIOD_SECS).min(elapsed);
        let to_kwh = match marks.get(i + 1) {
            Some(mark) if to == from + PERIOD_SECS => *mark,
            _ => kwh,
        };
        list.push(ChargingPeriod {
            start: start + chrono::Duration::seconds(from),
            hours: hours(to - from),
            energy_kwh: to_kwh - from_kwh,
        });
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn periods_are_quarter_hours_from_the_start_and_the_last_is_cut_at_the_end() {
        let start = instant(1_620_553_119); // 2021-05-09T09:38:39Z
        let marks = [dec("0"), dec("5.1"), dec("9.8")];
        let list = periods(start, &marks, 2100, dec("11.005"));
        let shown: Vec<(String, Decimal, Decimal)> = list
            .iter()
            .map(|p| (shape::stamp(p.start), p.hours, p.energy_kwh))
            .collect();
        assert_eq!(
            shown,
            [
                ("2021-05-09T09:38:39Z".to_owned(), dec("0.25"), dec("5.1")),
                ("2021-05-09T09:53:39Z".to_owned(), dec("0.25"), dec("4.7")),
                (
                    "2021-05-09T10:08:39Z".to_owned(),
                    dec("0.0833"),
                    dec("1.205")
                ),
            ]
        );
    }

    #[test]
    fn at_a_quarter_hour_mark_every_period_is_closed() {
        let start = instant(0);
        let list = periods(start, &[dec("0"), dec("2.5"), dec("4")], 1800, dec("4"));
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].energy_kwh, dec("1.5"));
        assert_eq!(list[1].hours, dec("0.25"));
        assert!(periods(start, &[dec("0")], 0, dec("0")).is_empty());
    }

    #[test]
    fn greenflux_ids_carry_dotnet_ticks() {
        // GreenFlux's session NLGFX637561499213897595-ef07d started at
        // 2021-05-09T09:38:39Z; its ticks fall 2.4 s after that second.
        assert_eq!(
            (1_620_553_119 + DOTNET_EPOCH_OFFSET) * 10_000_000,
            637_561_499_190_000_000
        );
        assert_eq!(hours(300), dec("0.0833"));
        assert_eq!(kwh(0.2854999), dec("0.285"));
    }
}
