//! The emulated CPO's ground truth: every object as it meant to send it,
//! whether the push arrived or not.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::tariff::{Price, Tariff};
use crate::domain::Party;

/// An OCPI version the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcpiVersion {
    /// OCPI 2.1.1 as GreenFlux sends it (the default).
    V211,
    /// OCPI 2.2.1 to the letter.
    V221,
}

impl OcpiVersion {
    /// The version number as OCPI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            OcpiVersion::V211 => "2.1.1",
            OcpiVersion::V221 => "2.2.1",
        }
    }

    /// Reads `2.1.1` or `2.2.1`.
    pub fn parse(s: &str) -> Option<OcpiVersion> {
        match s {
            "2.1.1" => Some(OcpiVersion::V211),
            "2.2.1" => Some(OcpiVersion::V221),
            _ => None,
        }
    }
}

/// The EVSE statuses the emulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvseStatus {
    /// Free.
    Available,
    /// A car is plugged in (charging or parked after charging).
    Charging,
    /// Broken.
    OutOfOrder,
    /// Disabled by the operator.
    Inoperative,
}

impl EvseStatus {
    /// The OCPI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EvseStatus::Available => "AVAILABLE",
            EvseStatus::Charging => "CHARGING",
            EvseStatus::OutOfOrder => "OUTOFORDER",
            EvseStatus::Inoperative => "INOPERATIVE",
        }
    }
}

/// The session statuses the emulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    /// Charging or parked.
    Active,
    /// Ended; final.
    Completed,
}

impl SessionStatus {
    /// The OCPI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "ACTIVE",
            SessionStatus::Completed => "COMPLETED",
        }
    }
}

/// A location of the emulated CPO.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The CPO's location id (a 36-character UUID, as GreenFlux's).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Street and number.
    pub address: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166 alpha-3 country (NLD, BEL).
    pub country: String,
    /// Latitude, as OCPI writes it (a string with 6 decimals).
    pub latitude: String,
    /// Longitude, as OCPI writes it.
    pub longitude: String,
    /// OCPI 2.1.1 LocationType; also the 2.2.1 parking_type.
    pub location_type: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The operator's name.
    pub operator: String,
    /// The EVSEs.
    pub evses: Vec<Evse>,
    /// When anything at the location last changed.
    pub last_updated: DateTime<Utc>,
}

impl Location {
    /// The EVSE with this uid.
    pub fn evse(&self, uid: &str) -> Option<&Evse> {
        self.evses.iter().find(|e| e.uid == uid)
    }
}

/// An EVSE of the emulated CPO.
#[derive(Debug, Clone, PartialEq)]
pub struct Evse {
    /// The CPO's uid, e.g. `NL-GFX-E0123456-1`.
    pub uid: String,
    /// The public eMI3 id, e.g. `NL*GFX*E0123456*1`.
    pub evse_id: String,
    /// The charge station's id (the uid's digits), as notifications name it.
    pub station_id: String,
    /// The EVSE's OCPP connector number on its station (the uid's suffix).
    pub station_connector: u32,
    /// Live status.
    pub status: EvseStatus,
    /// OCPI capabilities.
    pub capabilities: Vec<String>,
    /// The connectors.
    pub connectors: Vec<Connector>,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
}

impl Evse {
    /// Whether its connectors deliver DC.
    pub fn is_dc(&self) -> bool {
        self.connectors.iter().any(|c| c.power_type == "DC")
    }
}

/// A connector of an EVSE.
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    /// The connector id within its EVSE.
    pub id: String,
    /// OCPI ConnectorType, e.g. IEC_62196_T2.
    pub standard: String,
    /// SOCKET or CABLE.
    pub format: String,
    /// AC_3_PHASE or DC.
    pub power_type: String,
    /// Volts (line to neutral for AC).
    pub voltage: u32,
    /// Amperes.
    pub amperage: u32,
    /// Watts.
    pub max_electric_power: u32,
    /// The tariff that applies.
    pub tariff_id: String,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
}

/// A charging period: from its start to the next one's (or the session end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargingPeriod {
    /// When it started.
    pub start: DateTime<Utc>,
    /// TIME dimension, hours (4 decimals).
    pub hours: Decimal,
    /// ENERGY dimension, kWh (3 decimals).
    pub energy_kwh: Decimal,
}

/// A charging session, as last pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The CPO's session id, e.g. `NLGFX637561499213897595-ef07d`.
    pub id: String,
    /// Where it takes place.
    pub location_id: String,
    /// The EVSE.
    pub evse_uid: String,
    /// The connector.
    pub connector_id: String,
    /// The driver's contract id (2.1.1 `auth_id`, 2.2.1 `cdr_token.contract_id`).
    pub auth_id: String,
    /// The RFID uid (2.2.1 `cdr_token.uid`).
    pub token_uid: String,
    /// The eMSP that issued the token.
    pub token_party: Party,
    /// AUTH_REQUEST or WHITELIST.
    pub auth_method: String,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: Option<DateTime<Utc>>,
    /// Energy so far, kWh (3 decimals).
    pub kwh: Decimal,
    /// ACTIVE or COMPLETED.
    pub status: SessionStatus,
    /// The periods pushed so far.
    pub charging_periods: Vec<ChargingPeriod>,
    /// The tariff of its connector.
    pub tariff_id: String,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
}

/// A charge detail record, priced by the emulator's tariff model.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdr {
    /// The CPO's CDR id, e.g. `NLGFX63759518932331194001`.
    pub id: String,
    /// The billed session.
    pub session_id: String,
    /// Where it took place.
    pub location_id: String,
    /// The EVSE.
    pub evse_uid: String,
    /// The connector.
    pub connector_id: String,
    /// The driver's contract id.
    pub auth_id: String,
    /// The RFID uid.
    pub token_uid: String,
    /// The eMSP that issued the token.
    pub token_party: Party,
    /// AUTH_REQUEST or WHITELIST.
    pub auth_method: String,
    /// When charging started.
    pub start: DateTime<Utc>,
    /// When the session ended.
    pub end: DateTime<Utc>,
    /// ISO 4217 currency.
    pub currency: String,
    /// The tariff it was priced with.
    pub tariff_id: String,
    /// The session's periods.
    pub charging_periods: Vec<ChargingPeriod>,
    /// Energy, kWh.
    pub total_energy: Decimal,
    /// Session duration, hours (4 decimals).
    pub total_time: Decimal,
    /// Hours parked after charging ended (4 decimals).
    pub total_parking_time: Decimal,
    /// The costs.
    pub price: Price,
    /// When it was made.
    pub last_updated: DateTime<Utc>,
}

/// A GreenFlux ChargeStation notification: an OCPP message as a JSON string.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The id in the push URL (a GUID).
    pub id: String,
    /// The OCPP message id.
    pub charge_station_notification_id: String,
    /// The charge station.
    pub charge_station_id: String,
    /// The EVSE uid; none for a station-level notification.
    pub evse_uid: Option<String>,
    /// The location.
    pub location_id: String,
    /// The OCPP payload, a JSON document as a string.
    pub payload: String,
    /// Info or Error.
    pub level: String,
    /// The OCPP action, e.g. StatusNotification.
    pub message_action: String,
    /// When GreenFlux received it.
    pub created: DateTime<Utc>,
}

/// A snapshot of everything the emulated CPO holds.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// The CPO's party.
    pub party: Party,
    /// The simulated clock's time.
    pub now: DateTime<Utc>,
    /// The locations, with live EVSE statuses.
    pub locations: Vec<Location>,
    /// Every session, in start order.
    pub sessions: Vec<Session>,
    /// Every CDR, in order of issue.
    pub cdrs: Vec<Cdr>,
    /// The tariffs.
    pub tariffs: Vec<Tariff>,
    /// Every notification, in order of issue.
    pub notifications: Vec<Notification>,
}

impl GroundTruth {
    /// The location with this id.
    pub fn location(&self, id: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// The tariff with this id.
    pub fn tariff(&self, id: &str) -> Option<&Tariff> {
        self.tariffs.iter().find(|t| t.id == id)
    }
}
