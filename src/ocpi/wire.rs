//! OCPI 2.1.1 and 2.2.1 wire objects, read leniently from JSON with every problem located.
//!
//! Parsing walks a `serde_json::Value` field by field instead of deriving
//! `Deserialize`, so one odd field never hides the others. A peer's harmless
//! habits ("true" for true, "2.00" for 2.00, a lower-case enum) are coerced
//! and noted as warnings; a value that cannot be read as its type is an error
//! that refuses the object (OCPI 2001). Field names of both versions are read,
//! so GreenFlux's 2.1.1-shaped pushes and strict 2.2.1 peers land in the same
//! structs. The spec fields nothing here stores (opening times, images,
//! energy mix, sub-costs, ...) are still checked for type, nested objects and
//! open enums included, so a wrongly typed field is refused whether or not it
//! is modelled (DESIGN.md: "the type of every field that is present").
//! Unknown fields are not checked: the raw body, kept beside, holds them.

use std::fmt;

use serde_json::{Map, Value};

use crate::domain::{time, Micros, Timestamp};

/// EVSE status values, the same in 2.1.1 and 2.2.1.
pub const EVSE_STATUSES: &[&str] = &[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
];

/// ConnectorType values of 2.2.1, a superset of 2.1.1's; IEC 60309 names are mixed-case.
pub const CONNECTOR_TYPES: &[&str] = &[
    "CHADEMO",
    "CHAOJI",
    "DOMESTIC_A",
    "DOMESTIC_B",
    "DOMESTIC_C",
    "DOMESTIC_D",
    "DOMESTIC_E",
    "DOMESTIC_F",
    "DOMESTIC_G",
    "DOMESTIC_H",
    "DOMESTIC_I",
    "DOMESTIC_J",
    "DOMESTIC_K",
    "DOMESTIC_L",
    "DOMESTIC_M",
    "DOMESTIC_N",
    "DOMESTIC_O",
    "GBT_AC",
    "GBT_DC",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
];

/// ConnectorFormat values.
pub const CONNECTOR_FORMATS: &[&str] = &["SOCKET", "CABLE"];

/// PowerType values of 2.2.1; 2.1.1 has only AC_1_PHASE, AC_3_PHASE and DC.
pub const POWER_TYPES: &[&str] = &[
    "AC_1_PHASE",
    "AC_2_PHASE",
    "AC_2_PHASE_SPLIT",
    "AC_3_PHASE",
    "DC",
];

/// LocationType values, the 2.1.1 `type` field.
pub const LOCATION_TYPES: &[&str] = &[
    "ON_STREET",
    "PARKING_GARAGE",
    "UNDERGROUND_GARAGE",
    "PARKING_LOT",
    "OTHER",
    "UNKNOWN",
];

/// ParkingType values, the 2.2.1 `parking_type` field.
pub const PARKING_TYPES: &[&str] = &[
    "ALONG_MOTORWAY",
    "PARKING_GARAGE",
    "PARKING_LOT",
    "ON_DRIVEWAY",
    "ON_STREET",
    "UNDERGROUND_GARAGE",
];

/// Facility values of 2.2.1, a superset of 2.1.1's.
pub const FACILITIES: &[&str] = &[
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
];

/// Capability values of 2.2.1, a superset of 2.1.1's.
pub const CAPABILITIES: &[&str] = &[
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
];

/// SessionStatus values of 2.2.1; 2.1.1 has no RESERVATION.
pub const SESSION_STATUSES: &[&str] = &["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"];

/// AuthMethod values of 2.2.1; 2.1.1 has no COMMAND.
pub const AUTH_METHODS: &[&str] = &["AUTH_REQUEST", "COMMAND", "WHITELIST"];

/// CdrDimensionType values of both versions (2.1.1 adds FLAT).
pub const CDR_DIMENSION_TYPES: &[&str] = &[
    "CURRENT",
    "ENERGY",
    "ENERGY_EXPORT",
    "ENERGY_IMPORT",
    "FLAT",
    "MAX_CURRENT",
    "MIN_CURRENT",
    "MAX_POWER",
    "MIN_POWER",
    "PARKING_TIME",
    "POWER",
    "RESERVATION_TIME",
    "STATE_OF_CHARGE",
    "TIME",
];

/// TariffDimensionType values, the `type` of a price component.
pub const TARIFF_DIMENSION_TYPES: &[&str] = &["ENERGY", "FLAT", "PARKING_TIME", "TIME"];

/// TariffType values (2.2.1 only).
pub const TARIFF_TYPES: &[&str] = &[
    "AD_HOC_PAYMENT",
    "PROFILE_CHEAP",
    "PROFILE_FAST",
    "PROFILE_GREEN",
    "REGULAR",
];

/// DayOfWeek values used in tariff restrictions.
pub const DAYS_OF_WEEK: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];

/// ParkingRestriction values, an EVSE's `parking_restrictions`.
pub const PARKING_RESTRICTIONS: &[&str] =
    &["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"];

/// ImageCategory values, an Image's `category`.
pub const IMAGE_CATEGORIES: &[&str] = &[
    "CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER",
];

/// EnergySourceCategory values, an EnergySource's `source`.
pub const ENERGY_SOURCE_CATEGORIES: &[&str] = &[
    "NUCLEAR",
    "GENERAL_FOSSIL",
    "COAL",
    "GAS",
    "GENERAL_GREEN",
    "SOLAR",
    "WIND",
    "WATER",
];

/// EnvironmentalImpactCategory values: 2.2.1 `category`, 2.1.1 `source`.
pub const ENVIRONMENTAL_IMPACT_CATEGORIES: &[&str] = &["NUCLEAR_WASTE", "CARBON_DIOXIDE"];

/// TokenType values of 2.2.1, a superset of 2.1.1's (OTHER, RFID).
pub const TOKEN_TYPES: &[&str] = &["AD_HOC_USER", "APP_USER", "OTHER", "RFID"];

/// ReservationRestrictionType values, a 2.2.1 tariff restriction's `reservation`.
pub const RESERVATION_RESTRICTION_TYPES: &[&str] = &["RESERVATION", "RESERVATION_EXPIRES"];

/// CiString(36), the limit on most OCPI ids; over it is a warning, never a cut.
const ID_MAX: usize = 36;

/// CiString(39): the limit on CDR ids, room for a credit CDR's `-C` suffix.
const CDR_ID_MAX: usize = 39;

/// The spellings GreenFlux has used for a notification's OCPP action.
const MESSAGE_ACTION_KEYS: &[&str] = &[
    "message_action",
    "message_Action",
    "messageAction",
    "MessageAction",
];

/// Longest slice of a sent string echoed in a problem message.
const MAX_ECHO: usize = 64;

/// A problem found in a pushed object, located by its JSON path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// Where the problem is, e.g. `$.evses[0].connectors[1].max_voltage`.
    pub path: String,
    /// What is wrong, in words the sender can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Errors refuse the object (OCPI 2001); warnings are stored on the inbox row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems that refuse the object.
    pub errors: Vec<Problem>,
    /// Problems the object is accepted with.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// True when nothing refuses the object.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Records a problem that refuses the object.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(problem(path, message));
    }

    /// Records a problem the object is accepted with.
    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(problem(path, message));
    }
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
    }
}

/// How complete a pushed body is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A PUT or POST body: missing spec-required fields give warnings.
    Whole,
    /// A PATCH body: only the fields present are checked.
    Patch,
}

/// A Location (OCPI Locations module), from a 2.1.1 or 2.2.1 body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// The CPO's id, kept whole even past CiString(36).
    pub id: Option<String>,
    /// Owner's ISO 3166 alpha-2 country code (2.2.1 only; 2.1.1 has it in the URL).
    pub country_code: Option<String>,
    /// Owner's party id (2.2.1 only).
    pub party_id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Street and number.
    pub address: Option<String>,
    /// City or town.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// State or province (2.2.1).
    pub state: Option<String>,
    /// ISO 3166 alpha-3 country.
    pub country: Option<String>,
    /// Latitude exactly as sent (OCPI sends coordinates as strings).
    pub latitude: Option<String>,
    /// Longitude exactly as sent.
    pub longitude: Option<String>,
    /// Parsed copy of `latitude`, when it reads as degrees within ±90.
    pub latitude_deg: Option<f64>,
    /// Parsed copy of `longitude`, when it reads as degrees within ±180.
    pub longitude_deg: Option<f64>,
    /// Whether the location may be published (2.2.1; GreenFlux sends it too).
    pub publish: Option<bool>,
    /// IANA time zone name.
    pub time_zone: Option<String>,
    /// 2.2.1 `parking_type`, else 2.1.1 `type`, normalised when known.
    pub location_type: Option<String>,
    /// Facility values, unknown ones kept as sent; `Some(empty)` for null.
    pub facilities: Option<Vec<String>>,
    /// The EVSEs: `None` when absent, `Some(empty)` for null or `[]`.
    pub evses: Option<Vec<Evse>>,
    /// When the CPO last changed the location.
    pub last_updated: Option<Timestamp>,
}

/// An EVSE of a Location.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evse {
    /// The CPO's key for the EVSE within its location.
    pub uid: Option<String>,
    /// The public eMI3 EVSE id.
    pub evse_id: Option<String>,
    /// EVSE status, normalised when known, kept as sent when not.
    pub status: Option<String>,
    /// Capability values, unknown ones kept as sent.
    pub capabilities: Option<Vec<String>>,
    /// Floor level as sent.
    pub floor_level: Option<String>,
    /// Number or name printed on the EVSE.
    pub physical_reference: Option<String>,
    /// The connectors: `None` when absent, `Some(empty)` for null or `[]`.
    pub connectors: Option<Vec<Connector>>,
    /// When the CPO last changed the EVSE.
    pub last_updated: Option<Timestamp>,
}

/// A Connector of an EVSE.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connector {
    /// Id, unique only within its EVSE.
    pub id: Option<String>,
    /// ConnectorType, normalised when known.
    pub standard: Option<String>,
    /// ConnectorFormat, normalised when known.
    pub format: Option<String>,
    /// PowerType, normalised when known.
    pub power_type: Option<String>,
    /// Volts: 2.2.1 `max_voltage` or 2.1.1 `voltage`.
    pub max_voltage: Option<i64>,
    /// Amperes: 2.2.1 `max_amperage` or 2.1.1 `amperage`.
    pub max_amperage: Option<i64>,
    /// Watts (2.2.1; GreenFlux sends it on 2.1.1 objects too).
    pub max_electric_power: Option<i64>,
    /// 2.2.1 `tariff_ids`, or the single 2.1.1 `tariff_id` as a one-element list.
    pub tariff_ids: Option<Vec<String>>,
    /// When the CPO last changed the connector.
    pub last_updated: Option<Timestamp>,
}

/// A charging Session (OCPI Sessions module), from a 2.1.1 or 2.2.1 body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// The CPO's session id.
    pub id: Option<String>,
    /// Owner's country code (2.2.1 only).
    pub country_code: Option<String>,
    /// Owner's party id (2.2.1 only).
    pub party_id: Option<String>,
    /// 2.2.1 `start_date_time` or 2.1.1 `start_datetime`.
    pub start_date_time: Option<Timestamp>,
    /// 2.2.1 `end_date_time` or 2.1.1 `end_datetime`.
    pub end_date_time: Option<Timestamp>,
    /// Energy charged so far, in kWh.
    pub kwh: Option<Micros>,
    /// 2.1.1 `auth_id`, else 2.2.1 `cdr_token.contract_id`.
    pub auth_id: Option<String>,
    /// `cdr_token.uid`, else a `token_uid` field, else `auth_id`.
    pub token_uid: Option<String>,
    /// AuthMethod, normalised when known.
    pub auth_method: Option<String>,
    /// 2.2.1 `location_id`, else the embedded 2.1.1 location's id.
    pub location_id: Option<String>,
    /// 2.2.1 `evse_uid`, else the embedded location's only EVSE.
    pub evse_uid: Option<String>,
    /// 2.2.1 `connector_id`, else the embedded EVSE's only connector.
    pub connector_id: Option<String>,
    /// The embedded 2.1.1 location: a snapshot, never to overwrite the master Location.
    pub location: Option<Location>,
    /// Meter id.
    pub meter_id: Option<String>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Periods: `None` when absent, `Some(empty)` for null or `[]`.
    pub charging_periods: Option<Vec<ChargingPeriod>>,
    /// Cost excluding VAT: a bare number (2.1.1) or a Price's `excl_vat`.
    pub total_cost: Option<Micros>,
    /// A Price's `incl_vat`.
    pub total_cost_incl_vat: Option<Micros>,
    /// SessionStatus, normalised when known.
    pub status: Option<String>,
    /// When the CPO last changed the session.
    pub last_updated: Option<Timestamp>,
}

/// One period of a session or CDR, running until the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargingPeriod {
    /// When the period starts; a period without it cannot be placed and is refused.
    pub start_date_time: Timestamp,
    /// Every dimension sent, in order.
    pub dimensions: Vec<Dimension>,
    /// Tariff that applies (2.2.1).
    pub tariff_id: Option<String>,
    /// Volume of the ENERGY dimension, in kWh.
    pub energy: Option<Micros>,
    /// Volume of the TIME dimension, in hours.
    pub time: Option<Micros>,
}

/// Written out because `Timestamp` has no default; the Unix epoch stands in.
impl Default for ChargingPeriod {
    fn default() -> Self {
        ChargingPeriod {
            start_date_time: Timestamp::from_datetime(chrono::DateTime::default()),
            dimensions: Vec::new(),
            tariff_id: None,
            energy: None,
            time: None,
        }
    }
}

/// One measured dimension of a charging period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dimension {
    /// CdrDimensionType (the JSON `type`), normalised when known.
    pub kind: String,
    /// The measured volume in the dimension's unit.
    pub volume: Micros,
}

/// A charge detail record (OCPI CDRs module), from a 2.1.1 or 2.2.1 body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cdr {
    /// The CPO's CDR id (CiString(39)).
    pub id: Option<String>,
    /// Owner's country code (2.2.1 only).
    pub country_code: Option<String>,
    /// Owner's party id (2.2.1 only).
    pub party_id: Option<String>,
    /// Start of the charging session.
    pub start_date_time: Option<Timestamp>,
    /// 2.2.1 `end_date_time` or 2.1.1 `stop_date_time`.
    pub end_date_time: Option<Timestamp>,
    /// Session the CDR closes (2.2.1; GreenFlux sends it too).
    pub session_id: Option<String>,
    /// 2.1.1 `auth_id`, else 2.2.1 `cdr_token.contract_id`.
    pub auth_id: Option<String>,
    /// `cdr_token.uid`, else GreenFlux's `token_uid`, else `auth_id`.
    pub token_uid: Option<String>,
    /// AuthMethod, normalised when known.
    pub auth_method: Option<String>,
    /// `cdr_location.id`, else the embedded 2.1.1 location's id.
    pub location_id: Option<String>,
    /// `cdr_location.evse_uid`, else the embedded location's only EVSE.
    pub evse_uid: Option<String>,
    /// `cdr_location.connector_id`, else the embedded EVSE's only connector.
    pub connector_id: Option<String>,
    /// The embedded 2.1.1 location: a snapshot, never to overwrite the master Location.
    pub location: Option<Location>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// Cost excluding VAT: a bare number (2.1.1) or a Price's `excl_vat`.
    pub total_cost: Option<Micros>,
    /// A Price's `incl_vat`, else GreenFlux's `total_cost_incl_vat` number.
    pub total_cost_incl_vat: Option<Micros>,
    /// Energy charged, in kWh.
    pub total_energy: Option<Micros>,
    /// Duration charging plus not charging, in hours.
    pub total_time: Option<Micros>,
    /// Duration not charging, in hours.
    pub total_parking_time: Option<Micros>,
    /// Ids of the embedded tariffs.
    pub tariff_ids: Vec<String>,
    /// The periods; empty when absent or null.
    pub charging_periods: Vec<ChargingPeriod>,
    /// True for a credit CDR that reverses another.
    pub credit: Option<bool>,
    /// Id of the CDR a credit CDR reverses.
    pub credit_reference_id: Option<String>,
    /// When the CPO last changed the CDR.
    pub last_updated: Option<Timestamp>,
}

/// A Tariff (OCPI Tariffs module); its elements are validated, not modelled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tariff {
    /// The CPO's tariff id.
    pub id: Option<String>,
    /// Owner's country code (2.2.1 only).
    pub country_code: Option<String>,
    /// Owner's party id (2.2.1 only).
    pub party_id: Option<String>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// TariffType (the JSON `type`, 2.2.1), normalised when known.
    pub tariff_type: Option<String>,
    /// When the CPO last changed the tariff.
    pub last_updated: Option<Timestamp>,
    /// First instant the tariff applies (2.2.1).
    pub start_date_time: Option<Timestamp>,
    /// Instant the tariff stops applying (2.2.1).
    pub end_date_time: Option<Timestamp>,
}

/// A GreenFlux ChargeStation notification: one OCPP message, not an OCPI object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Notification {
    /// GreenFlux's database id (deprecated by them).
    pub id: Option<String>,
    /// The OCPP message id; not unique across stations, so never a key.
    pub charge_station_notification_id: Option<String>,
    /// The charge station.
    pub charge_station_id: Option<String>,
    /// The EVSE, absent for station-level notifications.
    pub evse_id: Option<String>,
    /// `location_id`, else the deprecated `charge_location_id`.
    pub location_id: Option<String>,
    /// The OCPP action, from any of GreenFlux's spellings.
    pub message_action: Option<String>,
    /// The OCPP-J message type ("2" call, "3" result, "4" error), as text.
    pub message_type: Option<String>,
    /// `ToChargePoint` or `ToGsop`.
    pub direction: Option<String>,
    /// Severity, e.g. "Info".
    pub level: Option<String>,
    /// When GreenFlux recorded the message.
    pub created: Option<Timestamp>,
    /// The OCPP payload as sent (JSON inside a string), or an object's JSON text.
    pub payload: Option<String>,
    /// `payload` parsed, when it is valid JSON.
    pub payload_json: Option<Value>,
}

/// Parses a Location body (a Location PUT or PATCH).
pub fn parse_location(v: &Value, mode: Mode, report: &mut Report) -> Location {
    Obj::root(v, mode, report)
        .map(|o| location(&o, report))
        .unwrap_or_default()
}

/// Parses an EVSE body (a PUT or PATCH on an EVSE URL).
pub fn parse_evse(v: &Value, mode: Mode, report: &mut Report) -> Evse {
    Obj::root(v, mode, report)
        .map(|o| evse(&o, report))
        .unwrap_or_default()
}

/// Parses a Connector body (a PUT or PATCH on a connector URL).
pub fn parse_connector(v: &Value, mode: Mode, report: &mut Report) -> Connector {
    Obj::root(v, mode, report)
        .map(|o| connector(&o, report))
        .unwrap_or_default()
}

/// Parses a Session body (PUT or PATCH).
pub fn parse_session(v: &Value, mode: Mode, report: &mut Report) -> Session {
    Obj::root(v, mode, report)
        .map(|o| session(&o, report))
        .unwrap_or_default()
}

/// Parses a CDR body (POST).
pub fn parse_cdr(v: &Value, mode: Mode, report: &mut Report) -> Cdr {
    Obj::root(v, mode, report)
        .map(|o| cdr(&o, report))
        .unwrap_or_default()
}

/// Parses a Tariff body (PUT, or a 2.1.1 PATCH).
pub fn parse_tariff(v: &Value, mode: Mode, report: &mut Report) -> Tariff {
    Obj::root(v, mode, report)
        .map(|o| tariff(&o, report))
        .unwrap_or_default()
}

/// Parses a GreenFlux ChargeStation notification body (always a whole PUT).
pub fn parse_notification(v: &Value, report: &mut Report) -> Notification {
    Obj::root(v, Mode::Whole, report)
        .map(|o| notification(&o, report))
        .unwrap_or_default()
}

/// Fields required in both versions; a list of spellings is one field named differently.
const LOCATION_REQUIRED: &[&[&str]] = &[
    &["id"],
    &["address"],
    &["city"],
    &["country"],
    &["coordinates"],
    &["last_updated"],
];

fn location(o: &Obj, r: &mut Report) -> Location {
    o.require_all(LOCATION_REQUIRED, r);
    let coordinates = coordinates(o, r);
    let location = Location {
        id: o.id("id", ID_MAX, r),
        country_code: o.code_text("country_code", 2, r),
        party_id: o.code_text("party_id", 3, r),
        name: o.text("name", r),
        address: o.text("address", r),
        city: o.text("city", r),
        postal_code: o.text("postal_code", r),
        state: o.text("state", r),
        country: o.code_text("country", 3, r),
        latitude: coordinates.latitude,
        longitude: coordinates.longitude,
        latitude_deg: coordinates.latitude_deg,
        longitude_deg: coordinates.longitude_deg,
        publish: o.flag("publish", r),
        time_zone: o.text("time_zone", r),
        location_type: location_type(o, r),
        facilities: o.codes("facilities", FACILITIES, r),
        evses: o
            .objects("evses", r)
            .map(|list| list.iter().map(|e| evse(e, r)).collect()),
        last_updated: o.time("last_updated", r),
    };
    location_unstored(o, r);
    location
}

/// The Location's spec fields kept only in the raw JSON, checked for type.
fn location_unstored(o: &Obj, r: &mut Report) {
    o.each("publish_allowed_to", publisher, r);
    o.each("related_locations", additional_geo_location, r);
    o.each("directions", display_text, r);
    for key in ["operator", "suboperator", "owner"] {
        o.nested(key, business_details, r);
    }
    o.nested("opening_times", hours, r);
    o.flag("charging_when_closed", r);
    o.each("images", image, r);
    o.nested("energy_mix", energy_mix, r);
}

/// 2.2.1 `parking_type` when sent, else 2.1.1 `type`, each checked against its own enum.
fn location_type(o: &Obj, r: &mut Report) -> Option<String> {
    if o.has("parking_type") {
        o.code("parking_type", PARKING_TYPES, r)
    } else {
        o.code("type", LOCATION_TYPES, r)
    }
}

/// GeoLocation as sent plus parsed degrees.
#[derive(Default)]
struct Coordinates {
    latitude: Option<String>,
    longitude: Option<String>,
    latitude_deg: Option<f64>,
    longitude_deg: Option<f64>,
}

fn coordinates(o: &Obj, r: &mut Report) -> Coordinates {
    o.object("coordinates", r)
        .map(|c| geo_location(&c.whole(), r))
        .unwrap_or_default()
}

/// A GeoLocation, or the point of an AdditionalGeoLocation.
fn geo_location(c: &Obj, r: &mut Report) -> Coordinates {
    c.require_all(&[&["latitude"], &["longitude"]], r);
    let latitude = c.text("latitude", r);
    let longitude = c.text("longitude", r);
    Coordinates {
        latitude_deg: degrees(&c.at("latitude"), latitude.as_deref(), 2, 90.0, r),
        longitude_deg: degrees(&c.at("longitude"), longitude.as_deref(), 3, 180.0, r),
        latitude,
        longitude,
    }
}

/// Checks a coordinate against the OCPI pattern (§types GeoLocation) and parses it.
fn degrees(
    path: &str,
    text: Option<&str>,
    int_digits: usize,
    limit: f64,
    r: &mut Report,
) -> Option<f64> {
    let text = text?;
    if !coordinate_shape(text, int_digits) {
        let pattern = format!("-?[0-9]{{1,{int_digits}}}\\.[0-9]{{5,7}}");
        r.warn(path, format!("{} does not match {pattern}", echo(text)));
    }
    let deg = text.trim().parse::<f64>().ok().filter(|d| d.is_finite())?;
    if deg.abs() > limit {
        r.warn(
            path,
            format!("{deg} is outside ±{limit} degrees; not parsed"),
        );
        return None;
    }
    Some(deg)
}

fn coordinate_shape(text: &str, int_digits: usize) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let Some((int, frac)) = unsigned.split_once('.') else {
        return false;
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (1..=int_digits).contains(&int.len())
        && (5..=7).contains(&frac.len())
        && digits(int)
        && digits(frac)
}

const EVSE_REQUIRED: &[&[&str]] = &[&["uid"], &["status"], &["connectors"], &["last_updated"]];

fn evse(o: &Obj, r: &mut Report) -> Evse {
    o.require_all(EVSE_REQUIRED, r);
    let connectors: Option<Vec<Connector>> = o
        .objects("connectors", r)
        .map(|list| list.iter().map(|c| connector(c, r)).collect());
    if o.mode == Mode::Whole
        && o.has("connectors")
        && connectors.as_ref().is_some_and(Vec::is_empty)
    {
        r.warn(o.at("connectors"), "an EVSE needs at least one connector");
    }
    let evse = Evse {
        uid: o.id("uid", ID_MAX, r),
        evse_id: o.text("evse_id", r),
        status: o.code("status", EVSE_STATUSES, r),
        capabilities: o.codes("capabilities", CAPABILITIES, r),
        floor_level: o.text("floor_level", r),
        physical_reference: o.text("physical_reference", r),
        connectors,
        last_updated: o.time("last_updated", r),
    };
    evse_unstored(o, r);
    evse
}

/// The EVSE's spec fields kept only in the raw JSON, checked for type.
fn evse_unstored(o: &Obj, r: &mut Report) {
    o.each("status_schedule", status_schedule, r);
    coordinates(o, r);
    o.each("directions", display_text, r);
    o.codes("parking_restrictions", PARKING_RESTRICTIONS, r);
    o.each("images", image, r);
}

/// Spellings: 2.2.1 first, then 2.1.1.
const VOLTAGE: &[&str] = &["max_voltage", "voltage"];
const AMPERAGE: &[&str] = &["max_amperage", "amperage"];

const CONNECTOR_REQUIRED: &[&[&str]] = &[
    &["id"],
    &["standard"],
    &["format"],
    &["power_type"],
    VOLTAGE,
    AMPERAGE,
    &["last_updated"],
];

fn connector(o: &Obj, r: &mut Report) -> Connector {
    o.require_all(CONNECTOR_REQUIRED, r);
    let connector = Connector {
        id: o.id("id", ID_MAX, r),
        standard: o.code("standard", CONNECTOR_TYPES, r),
        format: o.code("format", CONNECTOR_FORMATS, r),
        power_type: o.code("power_type", POWER_TYPES, r),
        max_voltage: o.int(o.pick(VOLTAGE), r),
        max_amperage: o.int(o.pick(AMPERAGE), r),
        max_electric_power: o.int("max_electric_power", r),
        tariff_ids: connector_tariffs(o, r),
        last_updated: o.time("last_updated", r),
    };
    // Kept only in the raw JSON.
    o.text("terms_and_conditions", r);
    connector
}

/// 2.2.1 `tariff_ids`, else the single 2.1.1 `tariff_id`.
fn connector_tariffs(o: &Obj, r: &mut Report) -> Option<Vec<String>> {
    if o.has("tariff_ids") || !o.has("tariff_id") {
        return o.texts("tariff_ids", r);
    }
    o.id("tariff_id", ID_MAX, r).map(|id| vec![id])
}

const START: &[&str] = &["start_date_time", "start_datetime"];
const SESSION_END: &[&str] = &["end_date_time", "end_datetime"];

const SESSION_REQUIRED: &[&[&str]] = &[
    &["id"],
    START,
    &["kwh"],
    &["cdr_token", "auth_id"],
    &["auth_method"],
    &["location_id", "location"],
    &["currency"],
    &["status"],
    &["last_updated"],
];

fn session(o: &Obj, r: &mut Report) -> Session {
    o.require_all(SESSION_REQUIRED, r);
    let token = token_ref(o, r);
    let snapshot = snapshot(o, r);
    let place = Place {
        location_id: o.id("location_id", ID_MAX, r),
        evse_uid: o.id("evse_uid", ID_MAX, r),
        connector_id: o.id("connector_id", ID_MAX, r),
    }
    .or_snapshot(snapshot.as_ref(), &o.at("location"), r);
    let (total_cost, total_cost_incl_vat) = cost(o, "total_cost", r);
    // Kept only in the raw JSON.
    o.id("authorization_reference", ID_MAX, r);
    Session {
        id: o.id("id", ID_MAX, r),
        country_code: o.code_text("country_code", 2, r),
        party_id: o.code_text("party_id", 3, r),
        start_date_time: o.time(o.pick(START), r),
        end_date_time: o.time(o.pick(SESSION_END), r),
        kwh: o.amount("kwh", r),
        auth_id: token.auth_id,
        token_uid: token.token_uid,
        auth_method: o.code("auth_method", AUTH_METHODS, r),
        location_id: place.location_id,
        evse_uid: place.evse_uid,
        connector_id: place.connector_id,
        location: snapshot,
        meter_id: o.text("meter_id", r),
        currency: o.code_text("currency", 3, r),
        charging_periods: charging_periods(o, r),
        total_cost,
        total_cost_incl_vat,
        status: o.code("status", SESSION_STATUSES, r),
        last_updated: o.time("last_updated", r),
    }
}

const CDR_END: &[&str] = &["end_date_time", "stop_date_time"];

const CDR_REQUIRED: &[&[&str]] = &[
    &["id"],
    &["start_date_time"],
    CDR_END,
    &["cdr_token", "auth_id"],
    &["auth_method"],
    &["cdr_location", "location"],
    &["currency"],
    &["charging_periods"],
    &["total_cost"],
    &["total_energy"],
    &["total_time"],
    &["last_updated"],
];

fn cdr(o: &Obj, r: &mut Report) -> Cdr {
    o.require_all(CDR_REQUIRED, r);
    let token = token_ref(o, r);
    let snapshot = snapshot(o, r);
    let place = cdr_location(o, r).or_snapshot(snapshot.as_ref(), &o.at("location"), r);
    let (total_cost, price_incl_vat) = cost(o, "total_cost", r);
    let extra_incl_vat = o.amount("total_cost_incl_vat", r);
    cdr_unstored(o, r);
    Cdr {
        id: o.id("id", CDR_ID_MAX, r),
        country_code: o.code_text("country_code", 2, r),
        party_id: o.code_text("party_id", 3, r),
        start_date_time: o.time("start_date_time", r),
        end_date_time: o.time(o.pick(CDR_END), r),
        session_id: o.id("session_id", ID_MAX, r),
        auth_id: token.auth_id,
        token_uid: token.token_uid,
        auth_method: o.code("auth_method", AUTH_METHODS, r),
        location_id: place.location_id,
        evse_uid: place.evse_uid,
        connector_id: place.connector_id,
        location: snapshot,
        currency: o.code_text("currency", 3, r),
        total_cost,
        total_cost_incl_vat: price_incl_vat.or(extra_incl_vat),
        total_energy: o.amount("total_energy", r),
        total_time: o.amount("total_time", r),
        total_parking_time: o.amount("total_parking_time", r),
        tariff_ids: embedded_tariff_ids(o, r),
        charging_periods: charging_periods(o, r).unwrap_or_default(),
        credit: o.flag("credit", r),
        credit_reference_id: o.id("credit_reference_id", CDR_ID_MAX, r),
        last_updated: o.time("last_updated", r),
    }
}

/// The CDR's costs besides `total_cost`: Price objects (2.2.1), or bare
/// numbers as a 2.1.1-minded peer would send them.
const CDR_COSTS: &[&str] = &[
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
];

/// The CDR's spec fields kept only in the raw JSON, checked for type.
fn cdr_unstored(o: &Obj, r: &mut Report) {
    o.id("authorization_reference", ID_MAX, r);
    o.text("meter_id", r);
    o.nested("signed_data", signed_data, r);
    for key in CDR_COSTS {
        cost(o, key, r);
    }
    o.text("remark", r);
    o.id("invoice_reference_id", CDR_ID_MAX, r);
    o.flag("home_charging_compensation", r);
}

const CDR_LOCATION_REQUIRED: &[&[&str]] = &[
    &["id"],
    &["address"],
    &["city"],
    &["country"],
    &["coordinates"],
    &["evse_uid"],
    &["evse_id"],
    &["connector_id"],
    &["connector_standard"],
    &["connector_format"],
    &["connector_power_type"],
];

/// The 2.2.1 CdrLocation's ids; its other fields repeat the master Location,
/// so they are only checked.
fn cdr_location(o: &Obj, r: &mut Report) -> Place {
    let Some(l) = o.object("cdr_location", r) else {
        return Place::default();
    };
    let l = l.whole();
    l.require_all(CDR_LOCATION_REQUIRED, r);
    let place = Place {
        location_id: l.id("id", ID_MAX, r),
        evse_uid: l.id("evse_uid", ID_MAX, r),
        connector_id: l.id("connector_id", ID_MAX, r),
    };
    for key in ["name", "address", "city", "postal_code", "state", "evse_id"] {
        l.text(key, r);
    }
    l.code_text("country", 3, r);
    coordinates(&l, r);
    l.code("connector_standard", CONNECTOR_TYPES, r);
    l.code("connector_format", CONNECTOR_FORMATS, r);
    l.code("connector_power_type", POWER_TYPES, r);
    place
}

/// Validates the embedded tariffs and keeps their ids.
fn embedded_tariff_ids(o: &Obj, r: &mut Report) -> Vec<String> {
    let tariffs = o.objects("tariffs", r).unwrap_or_default();
    tariffs
        .into_iter()
        .filter_map(|t| tariff(&t.whole(), r).id)
        .collect()
}

/// The embedded 2.1.1 `location`, always a whole object even inside a PATCH.
fn snapshot(o: &Obj, r: &mut Report) -> Option<Location> {
    o.object("location", r).map(|l| location(&l.whole(), r))
}

/// Who charged: the ids a session or CDR carries for its token.
struct TokenRef {
    auth_id: Option<String>,
    token_uid: Option<String>,
}

/// Reads 2.2.1 `cdr_token`, 2.1.1 `auth_id` and GreenFlux's `token_uid`.
fn token_ref(o: &Obj, r: &mut Report) -> TokenRef {
    let token = o.object("cdr_token", r).map(Obj::whole);
    if let Some(t) = &token {
        t.require_all(&[&["uid"], &["type"], &["contract_id"]], r);
        // Kept only in the raw JSON. A missing country_code/party_id is not
        // warned about: the 2.2.1 examples themselves leave them out.
        t.code_text("country_code", 2, r);
        t.code_text("party_id", 3, r);
        t.code("type", TOKEN_TYPES, r);
    }
    let uid = token.as_ref().and_then(|t| t.id("uid", ID_MAX, r));
    let contract_id = token.as_ref().and_then(|t| t.text("contract_id", r));
    let auth_id = o.text("auth_id", r).or(contract_id);
    let extra_uid = o.text("token_uid", r);
    TokenRef {
        token_uid: uid.or(extra_uid).or_else(|| auth_id.clone()),
        auth_id,
    }
}

/// Where a session or CDR took place, as ids only.
#[derive(Default)]
struct Place {
    location_id: Option<String>,
    evse_uid: Option<String>,
    connector_id: Option<String>,
}

impl Place {
    /// Fills what is missing from a 2.1.1 embedded location, guessing nothing: the EVSE
    /// and connector are taken only when it names exactly one (ocpi/ocpi #469).
    fn or_snapshot(mut self, snapshot: Option<&Location>, path: &str, r: &mut Report) -> Place {
        let Some(location) = snapshot else {
            return self;
        };
        self.location_id = self.location_id.or_else(|| location.id.clone());
        if self.evse_uid.is_some() {
            return self;
        }
        let evses = location.evses.as_deref().unwrap_or_default();
        let [evse] = evses else {
            let message = format!(
                "embedded location names {} EVSEs; EVSE left unknown",
                evses.len()
            );
            r.warn(format!("{path}.evses"), message);
            return self;
        };
        self.evse_uid = evse.uid.clone();
        if self.connector_id.is_some() {
            return self;
        }
        let connectors = evse.connectors.as_deref().unwrap_or_default();
        match connectors {
            [connector] => self.connector_id = connector.id.clone(),
            _ => r.warn(
                format!("{path}.evses[0].connectors"),
                format!(
                    "embedded EVSE names {} connectors; connector left unknown",
                    connectors.len()
                ),
            ),
        }
        self
    }
}

/// Reads a cost: a bare number (2.1.1, excl. VAT) or a Price object (2.2.1).
fn cost(o: &Obj, key: &str, r: &mut Report) -> (Option<Micros>, Option<Micros>) {
    let Some((path, v)) = o.get(key, r) else {
        return (None, None);
    };
    let map = match v {
        Value::Object(map) => map,
        Value::Array(_) | Value::Bool(_) => {
            let message = format!("expected a number or a Price object, found {}", kind(v));
            r.error(path, message);
            return (None, None);
        }
        _ => return (to_amount(&path, v, r), None),
    };
    let price = Obj::new(map, path, Mode::Whole);
    price.require_all(&[&["excl_vat"]], r);
    (price.amount("excl_vat", r), price.amount("incl_vat", r))
}

/// `None` when absent, `Some(empty)` for null; a period without a start
/// cannot be placed and is dropped with a warning (only identity and field
/// types refuse an object, DESIGN.md).
fn charging_periods(o: &Obj, r: &mut Report) -> Option<Vec<ChargingPeriod>> {
    let periods = o.objects("charging_periods", r)?;
    let parsed = periods
        .into_iter()
        .filter_map(|p| charging_period(&p.whole(), r));
    Some(parsed.collect())
}

fn charging_period(p: &Obj, r: &mut Report) -> Option<ChargingPeriod> {
    if !p.has("start_date_time") {
        r.warn(
            p.at("start_date_time"),
            "missing required field; charging period dropped",
        );
        return None;
    }
    let start = p.time("start_date_time", r);
    p.require_all(&[&["dimensions"]], r);
    let dimensions: Vec<Dimension> = p
        .objects("dimensions", r)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| dimension(&d.whole(), r))
        .collect();
    let tariff_id = p.id("tariff_id", ID_MAX, r);
    Some(ChargingPeriod {
        start_date_time: start?,
        energy: volume_of(&dimensions, "ENERGY"),
        time: volume_of(&dimensions, "TIME"),
        dimensions,
        tariff_id,
    })
}

/// A dimension missing its type or volume is dropped, with the missing-field warning.
fn dimension(d: &Obj, r: &mut Report) -> Option<Dimension> {
    d.require_all(&[&["type"], &["volume"]], r);
    let kind = d.code("type", CDR_DIMENSION_TYPES, r);
    let volume = d.amount("volume", r);
    Some(Dimension {
        kind: kind?,
        volume: volume?,
    })
}

fn volume_of(dimensions: &[Dimension], kind: &str) -> Option<Micros> {
    dimensions.iter().find(|d| d.kind == kind).map(|d| d.volume)
}

const TARIFF_REQUIRED: &[&[&str]] = &[&["id"], &["currency"], &["elements"], &["last_updated"]];

fn tariff(o: &Obj, r: &mut Report) -> Tariff {
    o.require_all(TARIFF_REQUIRED, r);
    for element in o.objects("elements", r).unwrap_or_default() {
        tariff_element(&element.whole(), r);
    }
    let tariff = Tariff {
        id: o.id("id", ID_MAX, r),
        country_code: o.code_text("country_code", 2, r),
        party_id: o.code_text("party_id", 3, r),
        currency: o.code_text("currency", 3, r),
        tariff_type: o.code("type", TARIFF_TYPES, r),
        last_updated: o.time("last_updated", r),
        start_date_time: o.time("start_date_time", r),
        end_date_time: o.time("end_date_time", r),
    };
    tariff_unstored(o, r);
    tariff
}

/// The Tariff's spec fields kept only in the raw JSON, checked for type.
fn tariff_unstored(o: &Obj, r: &mut Report) {
    o.each("tariff_alt_text", display_text, r);
    o.text("tariff_alt_url", r);
    cost(o, "min_price", r);
    cost(o, "max_price", r);
    o.nested("energy_mix", energy_mix, r);
}

/// Checks an element's price components and restrictions for readable values.
fn tariff_element(e: &Obj, r: &mut Report) {
    e.require_all(&[&["price_components"]], r);
    for component in e.objects("price_components", r).unwrap_or_default() {
        let c = component.whole();
        c.require_all(&[&["type"], &["price"], &["step_size"]], r);
        c.code("type", TARIFF_DIMENSION_TYPES, r);
        c.amount("price", r);
        c.amount("vat", r);
        c.int("step_size", r);
    }
    if let Some(restrictions) = e.object("restrictions", r) {
        tariff_restrictions(&restrictions, r);
    }
}

fn tariff_restrictions(o: &Obj, r: &mut Report) {
    for key in ["start_time", "end_time", "start_date", "end_date"] {
        o.text(key, r);
    }
    for key in [
        "min_kwh",
        "max_kwh",
        "min_current",
        "max_current",
        "min_power",
        "max_power",
    ] {
        o.amount(key, r);
    }
    for key in ["min_duration", "max_duration"] {
        o.int(key, r);
    }
    o.codes("day_of_week", DAYS_OF_WEEK, r);
    o.code("reservation", RESERVATION_RESTRICTION_TYPES, r);
}

// The spec's nested classes that nothing stores: checked for type only, each
// read whole (a PATCH replaces a nested object, it does not merge into it).

/// A 2.2.1 PublisherTokenType (`publish_allowed_to`); every field is optional.
fn publisher(o: &Obj, r: &mut Report) {
    o.id("uid", ID_MAX, r);
    o.code("type", TOKEN_TYPES, r);
    o.text("visual_number", r);
    o.text("issuer", r);
    o.id("group_id", ID_MAX, r);
}

fn additional_geo_location(o: &Obj, r: &mut Report) {
    geo_location(o, r);
    o.nested("name", display_text, r);
}

fn display_text(o: &Obj, r: &mut Report) {
    o.require_all(&[&["language"], &["text"]], r);
    o.text("language", r);
    o.text("text", r);
}

fn business_details(o: &Obj, r: &mut Report) {
    o.require_all(&[&["name"]], r);
    o.text("name", r);
    o.text("website", r);
    o.nested("logo", image, r);
}

fn image(o: &Obj, r: &mut Report) {
    o.require_all(&[&["url"], &["category"], &["type"]], r);
    o.text("url", r);
    o.text("thumbnail", r);
    o.code("category", IMAGE_CATEGORIES, r);
    o.text("type", r);
    o.int("width", r);
    o.int("height", r);
}

/// Opening times. `twentyfourseven` is not required: in 2.1.1 it is one
/// choice beside `regular_hours`.
fn hours(o: &Obj, r: &mut Report) {
    o.flag("twentyfourseven", r);
    o.each("regular_hours", regular_hours, r);
    o.each("exceptional_openings", exceptional_period, r);
    o.each("exceptional_closings", exceptional_period, r);
}

fn regular_hours(o: &Obj, r: &mut Report) {
    o.require_all(&[&["weekday"], &["period_begin"], &["period_end"]], r);
    o.int("weekday", r);
    o.text("period_begin", r);
    o.text("period_end", r);
}

fn exceptional_period(o: &Obj, r: &mut Report) {
    o.require_all(&[&["period_begin"], &["period_end"]], r);
    o.time("period_begin", r);
    o.time("period_end", r);
}

fn energy_mix(o: &Obj, r: &mut Report) {
    o.require_all(&[&["is_green_energy"]], r);
    o.flag("is_green_energy", r);
    o.each("energy_sources", energy_source, r);
    o.each("environ_impact", environmental_impact, r);
    o.text("supplier_name", r);
    o.text("energy_product_name", r);
}

fn energy_source(o: &Obj, r: &mut Report) {
    o.require_all(&[&["source"], &["percentage"]], r);
    o.code("source", ENERGY_SOURCE_CATEGORIES, r);
    o.amount("percentage", r);
}

/// 2.2.1 names the category `category`, 2.1.1 `source`; either is checked.
fn environmental_impact(o: &Obj, r: &mut Report) {
    o.require_all(&[&["category", "source"], &["amount"]], r);
    o.code("category", ENVIRONMENTAL_IMPACT_CATEGORIES, r);
    o.code("source", ENVIRONMENTAL_IMPACT_CATEGORIES, r);
    o.amount("amount", r);
}

fn status_schedule(o: &Obj, r: &mut Report) {
    o.require_all(&[&["period_begin"], &["status"]], r);
    o.time("period_begin", r);
    o.time("period_end", r);
    o.code("status", EVSE_STATUSES, r);
}

fn signed_data(o: &Obj, r: &mut Report) {
    o.require_all(&[&["encoding_method"], &["signed_values"]], r);
    o.text("encoding_method", r);
    o.int("encoding_method_version", r);
    o.text("public_key", r);
    o.each("signed_values", signed_value, r);
    o.text("url", r);
}

fn signed_value(o: &Obj, r: &mut Report) {
    o.require_all(&[&["nature"], &["plain_data"], &["signed_data"]], r);
    for key in ["nature", "plain_data", "signed_data"] {
        o.text(key, r);
    }
}

fn notification(o: &Obj, r: &mut Report) -> Notification {
    let (payload, payload_json) = notification_payload(o, r);
    Notification {
        id: o.text("id", r),
        charge_station_notification_id: o.text("charge_station_notification_id", r),
        charge_station_id: o.text("charge_station_id", r),
        evse_id: o.text("evse_id", r),
        location_id: o.text(o.pick(&["location_id", "charge_location_id"]), r),
        message_action: o.text(o.pick(MESSAGE_ACTION_KEYS), r),
        message_type: o.number_or_text("message_type", r),
        direction: o.text("direction", r),
        level: o.text("level", r),
        created: o.time("created", r),
        payload,
        payload_json,
    }
}

/// The OCPP payload as sent, and parsed when it parses; bad JSON is kept, not refused.
fn notification_payload(o: &Obj, r: &mut Report) -> (Option<String>, Option<Value>) {
    let Some((path, v)) = o.get("charge_station_message_payload", r) else {
        return (None, None);
    };
    let text = match v {
        Value::Object(_) | Value::Array(_) => {
            r.warn(
                &path,
                "payload sent as JSON, not as a string; kept as its JSON text",
            );
            v.to_string()
        }
        _ => match to_text(&path, v, r) {
            Some(text) => text,
            None => return (None, None),
        },
    };
    match serde_json::from_str(&text) {
        Ok(json) => (Some(text), Some(json)),
        Err(e) => {
            r.warn(
                &path,
                format!("payload is not valid JSON ({e}); kept as sent"),
            );
            (Some(text), None)
        }
    }
}

/// One JSON object being read, with its path in the body and how complete it must be.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    mode: Mode,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, path: String, mode: Mode) -> Obj<'a> {
        Obj { map, path, mode }
    }

    /// The body itself; anything but an object is one error at `$`.
    fn root(v: &'a Value, mode: Mode, r: &mut Report) -> Option<Obj<'a>> {
        match v {
            Value::Object(map) => Some(Obj::new(map, "$".into(), mode)),
            other => {
                r.error(
                    "$",
                    format!("expected a JSON object, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// The same object read as complete: for parts sent whole even inside a PATCH.
    fn whole(self) -> Obj<'a> {
        Obj {
            mode: Mode::Whole,
            ..self
        }
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The entry for `key`: its exact spelling, else one differing only in case.
    fn entry(&self, key: &str) -> Option<(&'a String, &'a Value)> {
        self.map
            .get_key_value(key)
            .or_else(|| self.map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
    }

    /// The value under `key` and its path; a differently-cased key is read with a warning.
    fn get(&self, key: &str, r: &mut Report) -> Option<(String, &'a Value)> {
        let (sent, value) = self.entry(key)?;
        let path = self.at(sent);
        if sent != key {
            r.warn(&path, format!("field name {sent:?} read as {key:?}"));
        }
        Some((path, value))
    }

    /// True when `key` holds something other than null.
    fn has(&self, key: &str) -> bool {
        self.entry(key).is_some_and(|(_, v)| !v.is_null())
    }

    /// Which of several spellings of one field to read: an exact spelling that holds a
    /// value, else one in another case, else the first.
    fn pick(&self, spellings: &[&'static str]) -> &'static str {
        let exact = spellings
            .iter()
            .find(|k| self.map.get(**k).is_some_and(|v| !v.is_null()));
        let any_case = || spellings.iter().find(|k| self.has(k));
        exact
            .or_else(any_case)
            .or(spellings.first())
            .copied()
            .unwrap_or_default()
    }

    /// In [`Mode::Whole`], warns for each field none of whose spellings holds a value.
    fn require_all(&self, fields: &[&[&str]], r: &mut Report) {
        if self.mode == Mode::Patch {
            return;
        }
        for spellings in fields {
            if let Some(first) = spellings.first() {
                if !spellings.iter().any(|k| self.has(k)) {
                    r.warn(self.at(first), "missing required field");
                }
            }
        }
    }

    fn text(&self, key: &str, r: &mut Report) -> Option<String> {
        let (path, v) = self.get(key, r)?;
        to_text(&path, v, r)
    }

    /// A string where a number is also normal (OCPP message types), read without a warning.
    fn number_or_text(&self, key: &str, r: &mut Report) -> Option<String> {
        let (path, v) = self.get(key, r)?;
        match v {
            Value::Number(n) => Some(n.to_string()),
            _ => to_text(&path, v, r),
        }
    }

    /// An id, kept whole with a warning when it is longer than the spec allows.
    fn id(&self, key: &str, max: usize, r: &mut Report) -> Option<String> {
        let (path, v) = self.get(key, r)?;
        let id = to_identity(&path, v, r)?;
        let chars = id.chars().count();
        if chars > max {
            r.warn(
                &path,
                format!("{chars} characters, over the {max} OCPI allows; kept whole"),
            );
        }
        Some(id)
    }

    /// A country, party or currency code, with a warning when it has the wrong shape.
    fn code_text(&self, key: &str, len: usize, r: &mut Report) -> Option<String> {
        let (path, v) = self.get(key, r)?;
        let code = to_identity(&path, v, r)?;
        if code.len() != len || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            r.warn(
                &path,
                format!("expected {len} letters or digits, found {}", echo(&code)),
            );
        }
        Some(code)
    }

    fn flag(&self, key: &str, r: &mut Report) -> Option<bool> {
        let (path, v) = self.get(key, r)?;
        to_flag(&path, v, r)
    }

    fn amount(&self, key: &str, r: &mut Report) -> Option<Micros> {
        let (path, v) = self.get(key, r)?;
        to_amount(&path, v, r)
    }

    fn int(&self, key: &str, r: &mut Report) -> Option<i64> {
        let (path, v) = self.get(key, r)?;
        to_int(&path, v, r)
    }

    fn time(&self, key: &str, r: &mut Report) -> Option<Timestamp> {
        let (path, v) = self.get(key, r)?;
        to_time(&path, v, r)
    }

    /// An open enum value: see [`to_code`].
    fn code(&self, key: &str, known: &[&str], r: &mut Report) -> Option<String> {
        let (path, v) = self.get(key, r)?;
        to_code(&path, v, known, r)
    }

    fn object(&self, key: &str, r: &mut Report) -> Option<Obj<'a>> {
        let (path, v) = self.get(key, r)?;
        match v {
            Value::Null => None,
            Value::Object(map) => Some(Obj::new(map, path, self.mode)),
            other => {
                r.error(path, format!("expected an object, found {}", kind(other)));
                None
            }
        }
    }

    /// A list's entries: null means empty, null entries are dropped with a warning.
    fn items(&self, key: &str, r: &mut Report) -> Option<Vec<(String, &'a Value)>> {
        let (path, v) = self.get(key, r)?;
        match v {
            Value::Null => Some(Vec::new()),
            Value::Array(list) => Some(entries(&path, list, r)),
            other => {
                r.error(path, format!("expected a list, found {}", kind(other)));
                None
            }
        }
    }

    /// A list of objects; an entry that is not an object is an error and is left out.
    fn objects(&self, key: &str, r: &mut Report) -> Option<Vec<Obj<'a>>> {
        let mut objects = Vec::new();
        for (path, v) in self.items(key, r)? {
            match v {
                Value::Object(map) => objects.push(Obj::new(map, path, self.mode)),
                other => r.error(path, format!("expected an object, found {}", kind(other))),
            }
        }
        Some(objects)
    }

    /// Checks the object under `key` with `check`, read whole.
    fn nested(&self, key: &str, check: fn(&Obj, &mut Report), r: &mut Report) {
        if let Some(o) = self.object(key, r) {
            check(&o.whole(), r);
        }
    }

    /// Checks each object of the list under `key` with `check`, read whole.
    fn each(&self, key: &str, check: fn(&Obj, &mut Report), r: &mut Report) {
        for o in self.objects(key, r).unwrap_or_default() {
            check(&o.whole(), r);
        }
    }

    fn texts(&self, key: &str, r: &mut Report) -> Option<Vec<String>> {
        let items = self.items(key, r)?;
        Some(
            items
                .into_iter()
                .filter_map(|(p, v)| to_text(&p, v, r))
                .collect(),
        )
    }

    fn codes(&self, key: &str, known: &[&str], r: &mut Report) -> Option<Vec<String>> {
        let items = self.items(key, r)?;
        let codes = items
            .into_iter()
            .filter_map(|(p, v)| to_code(&p, v, known, r));
        Some(codes.collect())
    }
}

fn entries<'v>(path: &str, list: &'v [Value], r: &mut Report) -> Vec<(String, &'v Value)> {
    let mut kept = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if v.is_null() {
            r.warn(at, "null entry dropped");
        } else {
            kept.push((at, v));
        }
    }
    kept
}

/// A string; a number or boolean is kept as its text with a warning. NUL
/// characters are removed with a warning: no database text column holds
/// them (the stored raw JSON keeps them, escaped).
fn to_text(path: &str, v: &Value, r: &mut Report) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.contains('\0') => {
            r.warn(path, "NUL characters removed");
            Some(s.replace('\0', ""))
        }
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => {
            r.warn(
                path,
                format!("expected a string, found {}; kept as its text", kind(v)),
            );
            Some(v.to_string())
        }
        Value::Array(_) | Value::Object(_) => {
            r.error(path, format!("expected a string, found {}", kind(v)));
            None
        }
    }
}

/// An id or code: as [`to_text`], but control characters (NUL, CR, LF,
/// TAB, ...) are refused, never removed: the object's identity is not guessed.
fn to_identity(path: &str, v: &Value, r: &mut Report) -> Option<String> {
    if let Value::String(s) = v {
        if s.chars().any(char::is_control) {
            r.error(
                path,
                format!(
                    "control characters are not allowed in an id, found {}",
                    echo(s)
                ),
            );
            return None;
        }
    }
    to_text(path, v, r)
}

/// A boolean; "true"/"false" in any case are accepted with a warning (GreenFlux `publish`).
fn to_flag(path: &str, v: &Value, r: &mut Report) -> Option<bool> {
    let text = match v {
        Value::Null => return None,
        Value::Bool(b) => return Some(*b),
        Value::String(s) => s.trim(),
        other => {
            r.error(path, format!("expected a boolean, found {}", kind(other)));
            return None;
        }
    };
    let flag = if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    };
    match flag {
        Some(_) => r.warn(path, "boolean sent as a string"),
        None => r.error(path, format!("expected a boolean, found {}", echo(text))),
    }
    flag
}

/// A decimal number; a numeric string is accepted with a warning (OCPI 2.1.1's own
/// CDR example sends `"price": "2.00"`).
fn to_amount(path: &str, v: &Value, r: &mut Report) -> Option<Micros> {
    let read = match v {
        Value::Null => return None,
        Value::String(s) => Micros::parse_str(s),
        _ => Micros::from_json(v),
    };
    match read {
        Ok(amount) => {
            if v.is_string() {
                r.warn(path, "number sent as a string");
            }
            Some(amount)
        }
        Err(e) => {
            r.error(path, e.to_string());
            None
        }
    }
}

/// A whole number; whole floats (`220.0`) and numeric strings pass, fractions are refused.
fn to_int(path: &str, v: &Value, r: &mut Report) -> Option<i64> {
    let whole = match v {
        Value::Null => return None,
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole_float)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| {
            Micros::parse_str(s)
                .ok()
                .filter(|m| m.0 % 1_000_000 == 0)
                .map(|m| m.0 / 1_000_000)
        }),
        _ => None,
    };
    match whole {
        Some(_) if v.is_string() => r.warn(path, "number sent as a string"),
        Some(_) => {}
        None => r.error(path, format!("expected a whole number, found {}", found(v))),
    }
    whole
}

fn whole_float(f: f64) -> Option<i64> {
    // Below 2^63 in magnitude, so the cast is exact for a whole value.
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

/// A date-time via [`time::parse`]; a converted offset or a missing zone is a warning.
fn to_time(path: &str, v: &Value, r: &mut Report) -> Option<Timestamp> {
    let text = match v {
        Value::Null => return None,
        Value::String(s) => s,
        other => {
            r.error(
                path,
                format!("expected a date-time string, found {}", kind(other)),
            );
            return None;
        }
    };
    let parsed = time::parse(text)
        .map_err(|e| r.error(path, e.to_string()))
        .ok()?;
    if parsed.offset_converted {
        r.warn(path, "non-zero UTC offset converted to UTC");
    }
    if parsed.zone_missing {
        r.warn(path, "no zone designator; read as UTC");
    }
    Some(parsed.at)
}

/// An open enum value: a known spelling as is; one known in another case normalised
/// with a warning; an unknown one kept verbatim with a warning, never refused.
fn to_code(path: &str, v: &Value, known: &[&str], r: &mut Report) -> Option<String> {
    let raw = to_text(path, v, r)?;
    if known.contains(&raw.as_str()) {
        return Some(raw);
    }
    match known.iter().find(|k| k.eq_ignore_ascii_case(raw.trim())) {
        Some(spelling) => {
            r.warn(path, format!("{raw:?} normalised to {spelling:?}"));
            Some((*spelling).to_string())
        }
        None => {
            r.warn(path, format!("unknown value {}; kept as sent", echo(&raw)));
            Some(raw)
        }
    }
}

/// How a JSON value's type is named in messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message: strings and numbers shown, containers named by type.
fn found(v: &Value) -> String {
    match v {
        Value::String(s) => echo(s),
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

/// A quoted, bounded copy of sent text, so hostile input cannot bloat a report.
fn echo(text: &str) -> String {
    let bounded: String = text.chars().take(MAX_ECHO).collect();
    format!("{bounded:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GF_LOCATION_PUT: &str =
        include_str!("../../tests/fixtures/greenflux/push_location_put.json");
    const GF_EVSE_PATCH: &str =
        include_str!("../../tests/fixtures/greenflux/push_location_patch_evse_status.json");
    const GF_SESSION_PUT: &str =
        include_str!("../../tests/fixtures/greenflux/push_session_put.json");
    const GF_SESSION_FULL: &str =
        include_str!("../../tests/fixtures/greenflux/push_session_patch_full_15min.json");
    const GF_SESSION_COMPACT: &str =
        include_str!("../../tests/fixtures/greenflux/push_session_patch_compact.json");
    const GF_CDR: &str =
        include_str!("../../tests/fixtures/greenflux/cdr_pull_example_reconstructed.json");
    const GF_NOTIFICATION: &str =
        include_str!("../../tests/fixtures/greenflux/notification_doc_example.json");
    const GF_NOTIFICATION_2022: &str =
        include_str!("../../tests/fixtures/greenflux/notification_fields_after_2022_change.json");
    const V211_LOCATION: &str = include_str!("../../tests/fixtures/2.1.1/location_example.json");
    const V211_EVSE_PATCH: &str =
        include_str!("../../tests/fixtures/2.1.1/location_patch_example_status.json");
    const V211_SESSION_1: &str =
        include_str!("../../tests/fixtures/2.1.1/session_example_1_simple_start.json");
    const V211_SESSION_2: &str =
        include_str!("../../tests/fixtures/2.1.1/session_example_2_short_finished.json");
    const V211_SESSION_PATCH: &str =
        include_str!("../../tests/fixtures/2.1.1/session_patch_example_total_cost.json");
    const V211_CDR: &str = include_str!("../../tests/fixtures/2.1.1/cdr_example.json");
    const V221_LOCATION: &str = include_str!("../../tests/fixtures/2.2.1/location_example.json");
    const V221_ADD_EVSE: &str =
        include_str!("../../tests/fixtures/2.2.1/location_put_example_add_evse.json");
    const V221_PATCH_LOCATION: &str =
        include_str!("../../tests/fixtures/2.2.1/location_patch_example_location.json");
    const V221_PATCH_REMOVE: &str =
        include_str!("../../tests/fixtures/2.2.1/location_patch_example_remove_evse.json");
    const V221_PATCH_STATUS: &str =
        include_str!("../../tests/fixtures/2.2.1/location_patch_example_status.json");
    const V221_PATCH_TARIFF: &str =
        include_str!("../../tests/fixtures/2.2.1/location_patch_example_tariff.json");
    const V221_SESSION_1: &str =
        include_str!("../../tests/fixtures/2.2.1/session_example_1_simple_start.json");
    const V221_SESSION_2: &str =
        include_str!("../../tests/fixtures/2.2.1/session_example_2_short_finished.json");
    const V221_SESSION_PATCH_PERIOD: &str =
        include_str!("../../tests/fixtures/2.2.1/session_patch_example_charging_period.json");
    const V221_SESSION_PATCH_COST: &str =
        include_str!("../../tests/fixtures/2.2.1/session_patch_example_total_cost.json");
    const V221_CDR: &str = include_str!("../../tests/fixtures/2.2.1/cdr_example.json");
    const V221_TARIFF_PUT: &str =
        include_str!("../../tests/fixtures/2.2.1/tariff_put_example.json");
    const V221_TARIFF_COMPLEX: &str =
        include_str!("../../tests/fixtures/2.2.1/tariff_4_complex.json");

    type Parser<T> = fn(&Value, Mode, &mut Report) -> T;

    fn parse<T>(text: &str, parser: Parser<T>, mode: Mode) -> (T, Report) {
        let value: Value = serde_json::from_str(text).expect("fixture is valid JSON");
        let mut report = Report::default();
        let parsed = parser(&value, mode, &mut report);
        (parsed, report)
    }

    fn parse_value<T>(value: Value, parser: Parser<T>, mode: Mode) -> (T, Report) {
        let mut report = Report::default();
        let parsed = parser(&value, mode, &mut report);
        (parsed, report)
    }

    fn at(text: &str) -> Timestamp {
        time::parse(text).expect("test timestamp").at
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn warned(report: &Report, path: &str, needle: &str) -> bool {
        report
            .warnings
            .iter()
            .any(|p| p.path == path && p.message.contains(needle))
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    fn only_error(report: &Report) -> &Problem {
        assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
        &report.errors[0]
    }

    // GreenFlux fixtures

    #[test]
    fn greenflux_location_put_reads_string_publish_and_2_1_1_connector() {
        let (loc, report) = parse(GF_LOCATION_PUT, parse_location, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(
            loc.id.as_deref(),
            Some("0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa")
        );
        assert!(warned(&report, "$.id", "37 characters"));
        assert_eq!(loc.publish, Some(true));
        assert!(warned(&report, "$.publish", "boolean sent as a string"));
        assert_eq!(loc.location_type.as_deref(), Some("ON_STREET"));
        assert_eq!(loc.country.as_deref(), Some("BEL"));
        assert_eq!(loc.latitude.as_deref(), Some("51.047599"));
        assert_eq!(loc.longitude.as_deref(), Some("3.729944"));
        assert_eq!(loc.latitude_deg, Some(51.047599));
        assert_eq!(loc.longitude_deg, Some(3.729944));
        assert_eq!(loc.facilities, Some(vec![]));
        assert_eq!(loc.last_updated, Some(at("2021-06-29T20:39:09Z")));

        let evses = loc.evses.expect("evses");
        assert_eq!(evses.len(), 1);
        assert_eq!(evses[0].uid.as_deref(), Some("BE-BEC-E041503001"));
        assert_eq!(evses[0].evse_id.as_deref(), Some("BE*BEC*E041503001"));
        assert_eq!(evses[0].status.as_deref(), Some("AVAILABLE"));
        assert_eq!(evses[0].capabilities, Some(strings(&["RFID_READER"])));
        assert_eq!(evses[0].last_updated, Some(at("2021-06-07T18:25:01Z")));

        let connector = &evses[0].connectors.as_ref().expect("connectors")[0];
        assert_eq!(connector.id.as_deref(), Some("1"));
        assert_eq!(connector.standard.as_deref(), Some("IEC_62196_T2"));
        assert_eq!(connector.format.as_deref(), Some("CABLE"));
        assert_eq!(connector.power_type.as_deref(), Some("AC_3_PHASE"));
        assert_eq!(connector.max_voltage, Some(220));
        assert_eq!(connector.max_amperage, Some(16));
        assert_eq!(connector.tariff_ids, Some(strings(&["11"])));
        assert_eq!(connector.last_updated, Some(at("2015-03-16T10:10:02Z")));
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    }

    #[test]
    fn greenflux_evse_patch_is_status_only() {
        let (evse, report) = parse(GF_EVSE_PATCH, parse_evse, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(evse.status.as_deref(), Some("CHARGING"));
        assert_eq!(evse.last_updated, None);
        assert_eq!(evse.connectors, None);
    }

    #[test]
    fn greenflux_session_put_takes_ids_from_embedded_location() {
        let (session, report) = parse(GF_SESSION_PUT, parse_session, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(session.id.as_deref(), Some("NLGFX637561499213897595-ef07d"));
        assert_eq!(session.start_date_time, Some(at("2021-05-09T09:38:39Z")));
        assert_eq!(session.end_date_time, None);
        assert_eq!(session.kwh, Some(Micros(0)));
        assert_eq!(session.auth_id.as_deref(), Some("NL*GFX*0dd6AE*6"));
        assert_eq!(session.token_uid.as_deref(), Some("NL*GFX*0dd6AE*6"));
        assert_eq!(session.auth_method.as_deref(), Some("WHITELIST"));
        assert_eq!(
            session.location_id.as_deref(),
            Some("0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa")
        );
        assert_eq!(session.evse_uid.as_deref(), Some("BE-BEC-E041503001"));
        assert_eq!(session.connector_id.as_deref(), Some("1"));
        assert_eq!(session.meter_id, None);
        assert_eq!(session.currency.as_deref(), Some("EUR"));
        assert_eq!(session.charging_periods, Some(vec![]));
        assert_eq!(session.status.as_deref(), Some("ACTIVE"));
        assert_eq!(session.last_updated, Some(at("2021-05-09T09:38:41Z")));
        assert_eq!(session.location.and_then(|l| l.publish), Some(true));
        assert_eq!(paths(&report.warnings), ["$.location.id"]);
    }

    #[test]
    fn greenflux_full_session_patch_has_cumulative_period() {
        let (session, report) = parse(GF_SESSION_FULL, parse_session, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(session.kwh, Some(Micros(285_000)));
        let periods = session.charging_periods.expect("periods");
        assert_eq!(periods.len(), 1);
        assert_eq!(periods[0].start_date_time, at("2021-05-09T09:38:39Z"));
        assert_eq!(periods[0].time, Some(Micros(83_300)));
        assert_eq!(periods[0].energy, Some(Micros(285_000)));
        assert_eq!(periods[0].dimensions[0].kind, "TIME");
        assert_eq!(session.location_id, None);
    }

    #[test]
    fn greenflux_compact_session_patch_has_no_id_or_periods() {
        let (session, report) = parse(GF_SESSION_COMPACT, parse_session, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(session.id, None);
        assert_eq!(session.charging_periods, None);
        assert_eq!(session.kwh, Some(Micros(285_000)));
        assert_eq!(session.status.as_deref(), Some("ACTIVE"));
        assert_eq!(session.last_updated, Some(at("2021-05-09T09:43:39Z")));
    }

    #[test]
    fn greenflux_cdr_totals_are_exact() {
        let (cdr, report) = parse(GF_CDR, parse_cdr, Mode::Whole);

        assert_eq!(report, Report::default());
        assert_eq!(cdr.id.as_deref(), Some("NLGFX63759518932331194001"));
        assert_eq!(cdr.start_date_time, Some(at("2021-06-17T08:35:34Z")));
        assert_eq!(cdr.end_date_time, Some(at("2021-06-17T09:29:27Z")));
        assert_eq!(cdr.auth_method.as_deref(), Some("AUTH_REQUEST"));
        assert_eq!(cdr.token_uid.as_deref(), Some("NL*GFX*0dd6AE*6"));
        assert_eq!(
            cdr.location_id.as_deref(),
            Some("2738009c-0aa9-4197-8c16-7cc93fa1fa69")
        );
        assert_eq!(cdr.evse_uid.as_deref(), Some("NL-GFX-EEU171220-2"));
        assert_eq!(cdr.connector_id.as_deref(), Some("2"));
        assert_eq!(cdr.total_cost, Some(Micros(3_110_000)));
        assert_eq!(cdr.total_cost_incl_vat, None);
        assert_eq!(cdr.total_energy, Some(Micros(10_363_000)));
        assert_eq!(cdr.total_time, Some(Micros(898_100)));
        assert_eq!(cdr.total_parking_time, Some(Micros(0)));
        assert_eq!(cdr.charging_periods.len(), 1);
        assert_eq!(cdr.charging_periods[0].energy, Some(Micros(10_363_000)));
        assert_eq!(cdr.charging_periods[0].time, Some(Micros(898_100)));
        assert_eq!(cdr.tariff_ids, Vec::<String>::new());
        assert_eq!(cdr.last_updated, Some(at("2021-06-17T09:31:00Z")));
    }

    #[test]
    fn greenflux_notification_payload_is_parsed() {
        let value: Value = serde_json::from_str(GF_NOTIFICATION).expect("fixture");
        let mut report = Report::default();
        let n = parse_notification(&value, &mut report);

        assert_eq!(report, Report::default());
        assert_eq!(n.charge_station_notification_id.as_deref(), Some("230319"));
        assert_eq!(n.charge_station_id.as_deref(), Some("041503001"));
        assert_eq!(n.evse_id.as_deref(), Some("BE-BEC-E041503001-1"));
        assert_eq!(
            n.location_id.as_deref(),
            Some("0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa")
        );
        assert_eq!(n.level.as_deref(), Some("Info"));
        assert_eq!(n.created, Some(at("2021-12-09T08:12:17Z")));
        assert_eq!(n.message_action, None);
        let payload = n.payload.expect("payload");
        assert!(payload.starts_with("{\"connectorId\":1,"));
        let json = n.payload_json.expect("payload_json");
        assert_eq!(json["status"], "SuspendedEV");
        assert_eq!(json["connectorId"], 1);
        assert_eq!(json["VendorErrorCode"], Value::Null);
    }

    #[test]
    fn greenflux_notification_after_2022_reads_new_fields() {
        let value: Value = serde_json::from_str(GF_NOTIFICATION_2022).expect("fixture");
        let mut report = Report::default();
        let n = parse_notification(&value, &mut report);

        assert_eq!(report, Report::default());
        assert_eq!(
            n.id.as_deref(),
            Some("dfa3b87a-bc90-447e-9541-88a9ac1bf618")
        );
        assert_eq!(
            n.location_id.as_deref(),
            Some("0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa")
        );
        assert_eq!(n.direction.as_deref(), Some("ToGsop"));
        assert_eq!(n.message_type.as_deref(), Some("2"));
        assert_eq!(n.message_action.as_deref(), Some("StatusNotification"));
        assert_eq!(n.payload_json.expect("json")["errorCode"], "NoError");
    }

    // OCPI 2.1.1 fixtures

    #[test]
    fn v211_location_reads_voltage_amperage_and_tariff_id() {
        let (loc, report) = parse(V211_LOCATION, parse_location, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(loc.id.as_deref(), Some("LOC1"));
        assert_eq!(loc.location_type.as_deref(), Some("ON_STREET"));
        assert_eq!(loc.publish, None);
        let evses = loc.evses.expect("evses");
        assert_eq!(evses.len(), 2);
        assert_eq!(evses[1].uid.as_deref(), Some("3257"));
        assert_eq!(evses[1].status.as_deref(), Some("RESERVED"));
        assert_eq!(evses[0].physical_reference.as_deref(), Some("1"));
        assert_eq!(evses[0].floor_level.as_deref(), Some("-1"));
        let first = evses[0].connectors.as_ref().expect("connectors");
        assert_eq!(first.len(), 2);
        assert_eq!(first[1].max_voltage, Some(220));
        assert_eq!(first[1].max_amperage, Some(16));
        assert_eq!(first[1].tariff_ids, Some(strings(&["11"])));
        // The spec's second EVSE has a connector without last_updated.
        assert_eq!(
            paths(&report.warnings),
            ["$.evses[1].connectors[0].last_updated"]
        );
    }

    #[test]
    fn v211_evse_patch_reads_status() {
        let (evse, report) = parse(V211_EVSE_PATCH, parse_evse, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(evse.status.as_deref(), Some("CHARGING"));
    }

    #[test]
    fn v211_session_normalises_on_street_and_reads_upper_case_status_key() {
        let (session, report) = parse(V211_SESSION_1, parse_session, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        let snapshot = session.location.as_ref().expect("embedded location");
        assert_eq!(snapshot.location_type.as_deref(), Some("ON_STREET"));
        assert!(warned(
            &report,
            "$.location.type",
            "\"on_street\" normalised to \"ON_STREET\""
        ));
        let evse = &snapshot.evses.as_ref().expect("evses")[0];
        assert_eq!(evse.status.as_deref(), Some("AVAILABLE"));
        assert!(warned(
            &report,
            "$.location.evses[0].STATUS",
            "read as \"status\""
        ));
        assert!(warned(&report, "$.location.country", "expected 3 letters"));
        assert!(warned(&report, "$.auth_method", "missing required field"));

        assert_eq!(session.id.as_deref(), Some("101"));
        assert_eq!(session.start_date_time, Some(at("2015-06-29T22:39:09Z")));
        assert_eq!(session.kwh, Some(Micros(0)));
        assert_eq!(session.auth_id.as_deref(), Some("DE8ACC12E46L89"));
        assert_eq!(session.token_uid.as_deref(), Some("DE8ACC12E46L89"));
        assert_eq!(session.location_id.as_deref(), Some("LOC1"));
        assert_eq!(session.evse_uid.as_deref(), Some("3256"));
        assert_eq!(session.connector_id.as_deref(), Some("1"));
        assert_eq!(session.total_cost, Some(Micros(2_500_000)));
        assert_eq!(session.total_cost_incl_vat, None);
        assert_eq!(session.status.as_deref(), Some("PENDING"));
        assert_eq!(session.charging_periods, None);
    }

    #[test]
    fn v211_finished_session_reads_periods_and_lower_case_dimension() {
        let (session, report) = parse(V211_SESSION_2, parse_session, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(session.end_date_time, Some(at("2015-06-29T23:50:16Z")));
        assert_eq!(session.kwh, Some(Micros(41_000_000)));
        assert_eq!(session.total_cost, Some(Micros(8_500_000)));
        assert_eq!(session.status.as_deref(), Some("COMPLETED"));
        let periods = session.charging_periods.expect("periods");
        assert_eq!(periods.len(), 3);
        assert_eq!(periods[0].energy, Some(Micros(120_000_000)));
        assert_eq!(
            periods[0].dimensions[1],
            Dimension {
                kind: "MAX_CURRENT".into(),
                volume: Micros(30_000_000)
            }
        );
        assert_eq!(periods[1].start_date_time, at("2015-06-29T22:40:54Z"));
        assert_eq!(periods[1].energy, Some(Micros(41_000_000_000)));
        assert!(warned(
            &report,
            "$.charging_periods[1].dimensions[0].type",
            "\"energy\" normalised to \"ENERGY\""
        ));
        assert_eq!(periods[2].energy, None);
        assert_eq!(periods[2].dimensions[0].kind, "PARKING_TIME");
        assert_eq!(periods[2].dimensions[0].volume, Micros(718_000));
    }

    #[test]
    fn v211_session_patch_total_cost_is_a_bare_number() {
        let (session, report) = parse(V211_SESSION_PATCH, parse_session, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(session.total_cost, Some(Micros(600_000)));
        assert_eq!(session.total_cost_incl_vat, None);
    }

    #[test]
    fn v211_cdr_accepts_string_price_and_stop_date_time() {
        let (cdr, report) = parse(V211_CDR, parse_cdr, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert!(warned(
            &report,
            "$.tariffs[0].elements[0].price_components[0].price",
            "number sent as a string"
        ));
        // The spec's embedded tariff has no last_updated.
        assert!(warned(
            &report,
            "$.tariffs[0].last_updated",
            "missing required field"
        ));
        assert_eq!(cdr.id.as_deref(), Some("12345"));
        assert_eq!(cdr.start_date_time, Some(at("2015-06-29T21:39:09Z")));
        assert_eq!(cdr.end_date_time, Some(at("2015-06-29T23:37:32Z")));
        assert_eq!(cdr.auth_id.as_deref(), Some("DE8ACC12E46L89"));
        assert_eq!(cdr.auth_method.as_deref(), Some("WHITELIST"));
        assert_eq!(cdr.location_id.as_deref(), Some("LOC1"));
        assert_eq!(cdr.evse_uid.as_deref(), Some("3256"));
        assert_eq!(cdr.connector_id.as_deref(), Some("1"));
        assert_eq!(cdr.tariff_ids, strings(&["12"]));
        assert_eq!(cdr.total_cost, Some(Micros(4_000_000)));
        assert_eq!(cdr.total_energy, Some(Micros(15_342_000)));
        assert_eq!(cdr.total_time, Some(Micros(1_973_000)));
        assert_eq!(cdr.total_parking_time, None);
        assert_eq!(cdr.charging_periods[0].time, Some(Micros(1_973_000)));
        assert_eq!(cdr.currency.as_deref(), Some("EUR"));
    }

    // OCPI 2.2.1 fixtures

    #[test]
    fn v221_location_parses_without_problems() {
        let (loc, report) = parse(V221_LOCATION, parse_location, Mode::Whole);

        assert_eq!(report, Report::default());
        assert_eq!(loc.country_code.as_deref(), Some("BE"));
        assert_eq!(loc.party_id.as_deref(), Some("BEC"));
        assert_eq!(loc.publish, Some(true));
        assert_eq!(loc.location_type.as_deref(), Some("ON_STREET"));
        assert_eq!(loc.time_zone.as_deref(), Some("Europe/Brussels"));
        let evses = loc.evses.expect("evses");
        let connectors = evses[0].connectors.as_ref().expect("connectors");
        assert_eq!(connectors[1].tariff_ids, Some(strings(&["13"])));
        assert_eq!(connectors[1].max_voltage, Some(220));
        assert_eq!(evses[1].evse_id.as_deref(), Some("BE*BEC*E041503002"));
    }

    #[test]
    fn v221_location_patches_check_only_present_fields() {
        let (loc, report) = parse(V221_PATCH_LOCATION, parse_location, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(loc.name.as_deref(), Some("Interparking Gent Zuid"));
        assert_eq!(loc.evses, None);

        let (evse, report) = parse(V221_PATCH_REMOVE, parse_evse, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(evse.status.as_deref(), Some("REMOVED"));
        assert_eq!(evse.last_updated, Some(at("2019-06-24T12:39:09Z")));

        let (evse, report) = parse(V221_PATCH_STATUS, parse_evse, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(evse.status.as_deref(), Some("CHARGING"));

        let (connector, report) = parse(V221_PATCH_TARIFF, parse_connector, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(connector.tariff_ids, Some(strings(&["15"])));
    }

    #[test]
    fn v221_add_evse_example_is_accepted_with_its_defects_flagged() {
        let (evse, report) = parse(V221_ADD_EVSE, parse_evse, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(evse.uid.as_deref(), Some("3256"));
        assert_eq!(evse.physical_reference.as_deref(), Some("3"));
        assert!(warned(
            &report,
            "$.physical_reference",
            "found a number; kept as its text"
        ));
        let connector = &evse.connectors.expect("connectors")[0];
        assert_eq!(connector.tariff_ids, Some(strings(&["14"])));
        assert_eq!(
            paths(&report.warnings),
            [
                "$.connectors[0].power_type",
                "$.connectors[0].max_voltage",
                "$.connectors[0].max_amperage",
                "$.connectors[0].last_updated",
                "$.physical_reference",
            ]
        );
    }

    #[test]
    fn v221_session_reads_cdr_token_and_price() {
        let (session, report) = parse(V221_SESSION_1, parse_session, Mode::Whole);

        // The spec's cdr_token lacks country_code/party_id; they are not checked here.
        assert_eq!(report, Report::default());
        assert_eq!(session.country_code.as_deref(), Some("NL"));
        assert_eq!(session.party_id.as_deref(), Some("STK"));
        assert_eq!(session.start_date_time, Some(at("2020-03-09T10:17:09Z")));
        assert_eq!(session.token_uid.as_deref(), Some("123abc"));
        assert_eq!(session.auth_id.as_deref(), Some("NL-TST-C12345678-S"));
        assert_eq!(session.location_id.as_deref(), Some("LOC1"));
        assert_eq!(session.evse_uid.as_deref(), Some("3256"));
        assert_eq!(session.connector_id.as_deref(), Some("1"));
        assert_eq!(session.total_cost, Some(Micros(2_500_000)));
        assert_eq!(session.total_cost_incl_vat, None);
        assert_eq!(session.location, None);
    }

    #[test]
    fn v221_finished_session_has_price_with_vat_and_period_tariff() {
        let (session, report) = parse(V221_SESSION_2, parse_session, Mode::Whole);

        assert_eq!(report, Report::default());
        assert_eq!(session.end_date_time, Some(at("2015-06-29T23:50:16Z")));
        assert_eq!(session.total_cost, Some(Micros(8_500_000)));
        assert_eq!(session.total_cost_incl_vat, Some(Micros(9_350_000)));
        let periods = session.charging_periods.expect("periods");
        assert_eq!(periods[2].tariff_id.as_deref(), Some("12"));
        assert_eq!(periods[1].energy, Some(Micros(41_000_000_000)));
    }

    #[test]
    fn v221_session_patches() {
        let (session, report) = parse(V221_SESSION_PATCH_PERIOD, parse_session, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(session.kwh, Some(Micros(15_000_000)));
        let periods = session.charging_periods.expect("periods");
        assert_eq!(periods[0].start_date_time, at("2019-06-23T08:16:02Z"));
        assert_eq!(periods[0].energy, Some(Micros(2_200_000_000)));
        assert_eq!(session.total_cost_incl_vat, Some(Micros(880_000)));

        let (session, report) = parse(V221_SESSION_PATCH_COST, parse_session, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(session.total_cost, Some(Micros(600_000)));
        assert_eq!(session.total_cost_incl_vat, Some(Micros(660_000)));
        assert_eq!(session.last_updated, Some(at("2019-06-23T08:11:00Z")));
    }

    #[test]
    fn v221_cdr_reads_cdr_location_and_price() {
        let (cdr, report) = parse(V221_CDR, parse_cdr, Mode::Whole);

        assert_eq!(report, Report::default());
        assert_eq!(cdr.country_code.as_deref(), Some("BE"));
        assert_eq!(cdr.end_date_time, Some(at("2015-06-29T23:37:32Z")));
        assert_eq!(cdr.token_uid.as_deref(), Some("012345678"));
        assert_eq!(cdr.auth_id.as_deref(), Some("DE8ACC12E46L89"));
        assert_eq!(cdr.location_id.as_deref(), Some("LOC1"));
        assert_eq!(cdr.evse_uid.as_deref(), Some("3256"));
        assert_eq!(cdr.connector_id.as_deref(), Some("1"));
        assert_eq!(cdr.location, None);
        assert_eq!(cdr.tariff_ids, strings(&["12"]));
        assert_eq!(cdr.total_cost, Some(Micros(4_000_000)));
        assert_eq!(cdr.total_cost_incl_vat, Some(Micros(4_400_000)));
        assert_eq!(cdr.total_energy, Some(Micros(15_342_000)));
        assert_eq!(cdr.charging_periods[0].tariff_id.as_deref(), Some("12"));
    }

    #[test]
    fn v221_tariffs() {
        let (tariff, report) = parse(V221_TARIFF_COMPLEX, parse_tariff, Mode::Whole);
        assert_eq!(report, Report::default());
        assert_eq!(tariff.id.as_deref(), Some("14"));
        assert_eq!(tariff.country_code.as_deref(), Some("DE"));
        assert_eq!(tariff.party_id.as_deref(), Some("ALL"));
        assert_eq!(tariff.currency.as_deref(), Some("EUR"));
        assert_eq!(tariff.tariff_type.as_deref(), Some("REGULAR"));
        assert_eq!(tariff.last_updated, Some(at("2015-06-29T20:39:09Z")));

        let (tariff, report) = parse(V221_TARIFF_PUT, parse_tariff, Mode::Whole);
        assert_eq!(tariff.id.as_deref(), Some("12"));
        assert_eq!(tariff.tariff_type, None);
        assert_eq!(paths(&report.warnings), ["$.last_updated"]);
        assert!(report.is_ok());
    }

    // Lenient values and hard errors

    #[test]
    fn a_body_that_is_not_an_object_is_one_error_at_root() {
        let (loc, report) = parse_value(json!([1, 2]), parse_location, Mode::Whole);

        assert_eq!(loc, Location::default());
        let e = only_error(&report);
        assert_eq!(e.path, "$");
        assert_eq!(e.message, "expected a JSON object, found an array");
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn non_numeric_kwh_is_an_error_at_its_path() {
        let (session, report) = parse_value(json!({"kwh": "abc"}), parse_session, Mode::Patch);

        assert_eq!(session.kwh, None);
        let e = only_error(&report);
        assert_eq!(e.path, "$.kwh");
        assert_eq!(e.message, "\"abc\" is not a number");

        let (_, report) = parse_value(json!({"kwh": {"a": 1}}), parse_session, Mode::Patch);
        assert_eq!(
            only_error(&report).message,
            "expected a number, found an object"
        );
    }

    #[test]
    fn evses_of_the_wrong_type_are_an_error() {
        let (loc, report) = parse_value(json!({"evses": "x"}), parse_location, Mode::Patch);

        assert_eq!(loc.evses, None);
        let e = only_error(&report);
        assert_eq!(e.path, "$.evses");
        assert_eq!(e.message, "expected a list, found a string");
    }

    #[test]
    fn nested_error_names_the_full_path() {
        let body = json!({"evses": [{"connectors": [{"max_voltage": {}}]}]});
        let (loc, report) = parse_value(body, parse_location, Mode::Patch);

        let e = only_error(&report);
        assert_eq!(e.path, "$.evses[0].connectors[0].max_voltage");
        assert_eq!(e.message, "expected a whole number, found an object");
        let connectors = loc.evses.expect("evses")[0].connectors.clone();
        assert_eq!(connectors.expect("connectors")[0].max_voltage, None);
    }

    #[test]
    fn whole_numbers_from_strings_and_whole_floats() {
        let body =
            json!({"max_voltage": "230", "max_amperage": 32.0, "max_electric_power": "22000.0"});
        let (c, report) = parse_value(body, parse_connector, Mode::Patch);

        assert!(report.is_ok());
        assert_eq!(c.max_voltage, Some(230));
        assert_eq!(c.max_amperage, Some(32));
        assert_eq!(c.max_electric_power, Some(22_000));
        assert_eq!(
            paths(&report.warnings),
            ["$.max_voltage", "$.max_electric_power"]
        );

        let (_, report) = parse_value(json!({"max_amperage": 16.5}), parse_connector, Mode::Patch);
        assert_eq!(
            only_error(&report).message,
            "expected a whole number, found 16.5"
        );
    }

    #[test]
    fn null_list_entries_are_dropped() {
        let body = json!({"tariff_ids": [null, "T1"]});
        let (c, report) = parse_value(body, parse_connector, Mode::Patch);

        assert!(report.is_ok());
        assert_eq!(c.tariff_ids, Some(strings(&["T1"])));
        assert!(warned(&report, "$.tariff_ids[0]", "null entry dropped"));
    }

    #[test]
    fn null_lists_are_empty_and_null_scalars_absent() {
        let body = json!({"evses": null, "facilities": null, "name": null, "publish": null});
        let (loc, report) = parse_value(body, parse_location, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(loc.evses, Some(vec![]));
        assert_eq!(loc.facilities, Some(vec![]));
        assert_eq!(loc.name, None);
        assert_eq!(loc.publish, None);
    }

    #[test]
    fn booleans_from_strings_in_any_case() {
        let (loc, report) = parse_value(json!({"publish": "FALSE"}), parse_location, Mode::Patch);
        assert_eq!(loc.publish, Some(false));
        assert!(warned(&report, "$.publish", "boolean sent as a string"));

        let (loc, report) = parse_value(json!({"publish": "yes"}), parse_location, Mode::Patch);
        assert_eq!(loc.publish, None);
        assert_eq!(
            only_error(&report).message,
            "expected a boolean, found \"yes\""
        );
    }

    #[test]
    fn total_cost_as_number_string_or_price() {
        let (s, report) = parse_value(json!({"total_cost": 1.25}), parse_session, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(
            (s.total_cost, s.total_cost_incl_vat),
            (Some(Micros(1_250_000)), None)
        );

        let body = json!({"total_cost": {"excl_vat": 1.25, "incl_vat": "1.5125"}});
        let (s, report) = parse_value(body, parse_session, Mode::Patch);
        assert_eq!(s.total_cost, Some(Micros(1_250_000)));
        assert_eq!(s.total_cost_incl_vat, Some(Micros(1_512_500)));
        assert_eq!(paths(&report.warnings), ["$.total_cost.incl_vat"]);

        let (s, report) = parse_value(
            json!({"total_cost": {"incl_vat": 2}}),
            parse_session,
            Mode::Patch,
        );
        assert_eq!(s.total_cost, None);
        assert!(warned(
            &report,
            "$.total_cost.excl_vat",
            "missing required field"
        ));

        let (_, report) = parse_value(json!({"total_cost": [1]}), parse_session, Mode::Patch);
        assert_eq!(only_error(&report).path, "$.total_cost");
    }

    #[test]
    fn greenflux_cdr_total_cost_incl_vat_number_is_read() {
        let body = json!({"total_cost": 3.11, "total_cost_incl_vat": 3.7631});
        let (cdr, report) = parse_value(body, parse_cdr, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(cdr.total_cost_incl_vat, Some(Micros(3_763_100)));
    }

    #[test]
    fn date_times_seven_fraction_digits_offsets_and_missing_zone() {
        let body = json!({"last_updated": "2023-05-31T08:52:26.0000000+00:00"});
        let (cdr, report) = parse_value(body, parse_cdr, Mode::Patch);
        assert_eq!(report, Report::default());
        assert_eq!(cdr.last_updated, Some(at("2023-05-31T08:52:26Z")));

        let body = json!({
            "start_date_time": "2023-05-31T10:52:26+02:00",
            "end_date_time": "2023-05-31T11:00:00",
        });
        let (cdr, report) = parse_value(body, parse_cdr, Mode::Patch);
        assert!(report.is_ok());
        assert_eq!(cdr.start_date_time, Some(at("2023-05-31T08:52:26Z")));
        assert_eq!(cdr.end_date_time, Some(at("2023-05-31T11:00:00Z")));
        assert!(warned(&report, "$.start_date_time", "offset converted"));
        assert!(warned(&report, "$.end_date_time", "no zone designator"));

        let (_, report) = parse_value(json!({"last_updated": "yesterday"}), parse_cdr, Mode::Patch);
        assert_eq!(only_error(&report).path, "$.last_updated");
        let (_, report) = parse_value(
            json!({"last_updated": 1_700_000_000}),
            parse_cdr,
            Mode::Patch,
        );
        assert_eq!(
            only_error(&report).message,
            "expected a date-time string, found a number"
        );
    }

    #[test]
    fn open_enums_keep_unknown_values_and_match_mixed_case_exactly() {
        let body = json!({"connectors": [
            {"standard": "IEC_60309_2_single_16"},
            {"standard": "IEC_60309_2_SINGLE_16"},
            {"standard": "MCS", "power_type": "dc"},
        ]});
        let (evse, report) = parse_value(body, parse_evse, Mode::Patch);

        assert!(report.is_ok());
        let standards: Vec<_> = evse
            .connectors
            .expect("connectors")
            .into_iter()
            .map(|c| (c.standard, c.power_type))
            .collect();
        assert_eq!(
            standards,
            [
                (Some("IEC_60309_2_single_16".to_string()), None),
                (Some("IEC_60309_2_single_16".to_string()), None),
                (Some("MCS".to_string()), Some("DC".to_string())),
            ]
        );
        assert_eq!(
            paths(&report.warnings),
            [
                "$.connectors[1].standard",
                "$.connectors[2].standard",
                "$.connectors[2].power_type",
            ]
        );
        assert!(warned(
            &report,
            "$.connectors[2].standard",
            "unknown value \"MCS\""
        ));
    }

    #[test]
    fn unknown_facility_is_kept_with_a_warning() {
        let body = json!({"facilities": ["CAFE", "BUSINESS"]});
        let (loc, report) = parse_value(body, parse_location, Mode::Patch);

        assert!(report.is_ok());
        assert_eq!(loc.facilities, Some(strings(&["CAFE", "BUSINESS"])));
        assert_eq!(paths(&report.warnings), ["$.facilities[1]"]);
    }

    #[test]
    fn coordinates_as_numbers_and_off_pattern_are_flagged_not_refused() {
        let body = json!({"coordinates": {"latitude": 51.04759, "longitude": "3.7"}});
        let (loc, report) = parse_value(body, parse_location, Mode::Patch);

        assert!(report.is_ok());
        assert_eq!(loc.latitude.as_deref(), Some("51.04759"));
        assert_eq!(loc.latitude_deg, Some(51.04759));
        assert_eq!(loc.longitude.as_deref(), Some("3.7"));
        assert_eq!(loc.longitude_deg, Some(3.7));
        assert!(warned(
            &report,
            "$.coordinates.latitude",
            "kept as its text"
        ));
        assert!(warned(&report, "$.coordinates.longitude", "does not match"));

        let body = json!({"coordinates": {"latitude": "123.45678", "longitude": "3.72994"}});
        let (loc, report) = parse_value(body, parse_location, Mode::Patch);
        assert_eq!(loc.latitude_deg, None);
        assert!(warned(&report, "$.coordinates.latitude", "outside ±90"));
    }

    #[test]
    fn embedded_location_with_two_evses_leaves_evse_unknown() {
        let body = json!({"location": {"id": "LOC1", "evses": [
            {"uid": "A", "connectors": [{"id": "1"}]},
            {"uid": "B", "connectors": [{"id": "1"}]},
        ]}});
        let (session, report) = parse_value(body, parse_session, Mode::Patch);

        assert!(report.is_ok());
        assert_eq!(session.location_id.as_deref(), Some("LOC1"));
        assert_eq!(session.evse_uid, None);
        assert_eq!(session.connector_id, None);
        assert!(warned(
            &report,
            "$.location.evses",
            "embedded location names 2 EVSEs; EVSE left unknown"
        ));
    }

    #[test]
    fn embedded_evse_with_two_connectors_leaves_connector_unknown() {
        let body = json!({"location": {"id": "LOC1", "evses": [
            {"uid": "A", "connectors": [{"id": "1"}, {"id": "2"}]},
        ]}});
        let (cdr, report) = parse_value(body, parse_cdr, Mode::Patch);

        assert_eq!(cdr.evse_uid.as_deref(), Some("A"));
        assert_eq!(cdr.connector_id, None);
        assert!(warned(
            &report,
            "$.location.evses[0].connectors",
            "names 2 connectors"
        ));
    }

    #[test]
    fn period_without_start_is_dropped_with_a_warning() {
        let body = json!({"charging_periods": [
            {"dimensions": [{"type": "ENERGY", "volume": 1}]},
            {
                "start_date_time": "2021-05-09T09:38:39Z",
                "dimensions": [{"type": "TIME", "volume": "0.5"}],
            },
        ]});
        let (session, report) = parse_value(body, parse_session, Mode::Patch);

        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(warned(
            &report,
            "$.charging_periods[0].start_date_time",
            "missing required field; charging period dropped"
        ));
        let periods = session.charging_periods.expect("periods");
        assert_eq!(periods.len(), 1);
        assert_eq!(periods[0].time, Some(Micros(500_000)));
    }

    #[test]
    fn nul_is_removed_from_values_and_refused_in_ids() {
        let body = json!({"id": "L1", "name": "Gent\0Zuid", "city": "Gent"});
        let (location, report) = parse_value(body, parse_location, Mode::Patch);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(location.name.as_deref(), Some("GentZuid"));
        assert!(warned(&report, "$.name", "NUL characters removed"));

        let body = json!({"id": "L\u{0}1", "evses": [{"uid": "E\n1"}]});
        let (_, report) = parse_value(body, parse_location, Mode::Patch);
        assert_eq!(paths(&report.errors), ["$.id", "$.evses[0].uid"]);
        assert_eq!(
            report.errors[0].message,
            r#"control characters are not allowed in an id, found "L\01""#
        );
    }

    #[test]
    fn whole_mode_warns_for_missing_fields_and_patch_mode_does_not() {
        let body = json!({"id": "S1"});
        let (_, whole) = parse_value(body.clone(), parse_session, Mode::Whole);
        let (_, patch) = parse_value(body, parse_session, Mode::Patch);

        assert_eq!(
            paths(&whole.warnings),
            [
                "$.start_date_time",
                "$.kwh",
                "$.cdr_token",
                "$.auth_method",
                "$.location_id",
                "$.currency",
                "$.status",
                "$.last_updated",
            ]
        );
        assert!(whole
            .warnings
            .iter()
            .all(|w| w.message == "missing required field"));
        assert_eq!(patch, Report::default());
    }

    #[test]
    fn session_reads_2_2_1_names_before_2_1_1_names() {
        let body = json!({
            "start_date_time": "2021-01-01T00:00:00Z",
            "start_datetime": "2020-01-01T00:00:00Z",
            "end_datetime": "2021-01-01T01:00:00Z",
        });
        let (s, report) = parse_value(body, parse_session, Mode::Patch);

        assert_eq!(report, Report::default());
        assert_eq!(s.start_date_time, Some(at("2021-01-01T00:00:00Z")));
        assert_eq!(s.end_date_time, Some(at("2021-01-01T01:00:00Z")));
    }

    #[test]
    fn token_uid_falls_back_to_greenflux_token_uid_then_auth_id() {
        let (s, _) = parse_value(
            json!({"auth_id": "A1", "token_uid": "U1"}),
            parse_session,
            Mode::Patch,
        );
        assert_eq!(
            (s.auth_id.as_deref(), s.token_uid.as_deref()),
            (Some("A1"), Some("U1"))
        );

        let (s, _) = parse_value(json!({"auth_id": "A1"}), parse_session, Mode::Patch);
        assert_eq!(s.token_uid.as_deref(), Some("A1"));
    }

    #[test]
    fn notification_reads_every_action_spelling_and_numeric_type() {
        for key in [
            "message_action",
            "message_Action",
            "messageAction",
            "MessageAction",
        ] {
            let mut body = json!({"message_type": 2});
            body[key] = json!("Heartbeat");
            let mut report = Report::default();
            let n = parse_notification(&body, &mut report);

            assert_eq!(n.message_action.as_deref(), Some("Heartbeat"), "{key}");
            assert_eq!(n.message_type.as_deref(), Some("2"));
            assert_eq!(report, Report::default(), "{key}");
        }
    }

    #[test]
    fn notification_payload_invalid_json_survives() {
        let body = json!({"charge_station_message_payload": "{not json"});
        let mut report = Report::default();
        let n = parse_notification(&body, &mut report);

        assert!(report.is_ok());
        assert_eq!(n.payload.as_deref(), Some("{not json"));
        assert_eq!(n.payload_json, None);
        assert!(warned(
            &report,
            "$.charge_station_message_payload",
            "not valid JSON"
        ));
    }

    #[test]
    fn notification_payload_sent_as_object_is_kept_as_text() {
        let body = json!({"charge_station_message_payload": {"status": "Available"}});
        let mut report = Report::default();
        let n = parse_notification(&body, &mut report);

        assert_eq!(n.payload.as_deref(), Some("{\"status\":\"Available\"}"));
        assert_eq!(n.payload_json, Some(json!({"status": "Available"})));
        assert_eq!(
            paths(&report.warnings),
            ["$.charge_station_message_payload"]
        );
    }

    #[test]
    fn over_long_ids_are_kept_whole() {
        let long = "f24214df-6c8a-4236-b217-82ec52291e803";
        let (loc, report) = parse_value(json!({"id": long}), parse_location, Mode::Patch);

        assert_eq!(loc.id.as_deref(), Some(long));
        assert_eq!(
            report.warnings,
            [Problem {
                path: "$.id".into(),
                message: "37 characters, over the 36 OCPI allows; kept whole".into(),
            }]
        );
    }

    #[test]
    fn problems_display_path_and_message() {
        let p = Problem {
            path: "$.kwh".into(),
            message: "\"abc\" is not a number".into(),
        };
        assert_eq!(p.to_string(), "$.kwh: \"abc\" is not a number");
    }

    // Spec fields kept only in the raw JSON are still checked for type.

    fn error_paths(report: &Report) -> Vec<&str> {
        paths(&report.errors)
    }

    #[test]
    fn unstored_location_fields_are_checked_for_type() {
        let body = json!({
            "charging_when_closed": "sometimes",
            "opening_times": {
                "twentyfourseven": false,
                "regular_hours": [{ "weekday": "Monday", "period_begin": "08:00", "period_end": "18:00" }],
                "exceptional_closings": [{ "period_begin": "2024-12-25T00:00:00Z", "period_end": "soon" }]
            },
            "images": [{ "url": "https://x/y.png", "category": "SELFIE", "type": "png", "width": "wide" }],
            "energy_mix": { "is_green_energy": "true",
                "energy_sources": [{ "source": "PEAT", "percentage": 35.5 }] },
            "operator": { "name": ["GreenFlux"] },
            "directions": [{ "language": "en" }]
        });
        let (_, report) = parse_value(body, parse_location, Mode::Patch);

        assert_eq!(
            error_paths(&report),
            [
                "$.operator.name",
                "$.opening_times.regular_hours[0].weekday",
                "$.opening_times.exceptional_closings[0].period_end",
                "$.charging_when_closed",
                "$.images[0].width",
            ]
        );
        assert!(warned(&report, "$.images[0].category", "SELFIE"));
        assert!(warned(
            &report,
            "$.energy_mix.energy_sources[0].source",
            "PEAT"
        ));
        assert!(warned(
            &report,
            "$.energy_mix.is_green_energy",
            "boolean sent as a string"
        ));
        assert!(warned(&report, "$.directions[0].text", "required"));
    }

    #[test]
    fn unstored_evse_fields_are_checked_for_type() {
        let body = json!({
            "status_schedule": [{ "period_begin": "tomorrow", "status": "RESERVED" }],
            "parking_restrictions": ["EV_ONLY", "TRUCKS"],
            "coordinates": { "latitude": { "deg": 51 }, "longitude": "3.72" }
        });
        let (_, report) = parse_value(body, parse_evse, Mode::Patch);

        assert_eq!(
            error_paths(&report),
            [
                "$.status_schedule[0].period_begin",
                "$.coordinates.latitude"
            ]
        );
        assert!(warned(&report, "$.parking_restrictions[1]", "TRUCKS"));
    }

    #[test]
    fn unstored_cdr_and_tariff_fields_are_checked_for_type() {
        let cdr = json!({
            "total_energy_cost": { "excl_vat": "lots" },
            "total_fixed_cost": true,
            "total_time_cost": 1.5,
            "signed_data": "signed",
            "home_charging_compensation": "no"
        });
        let (_, report) = parse_value(cdr, parse_cdr, Mode::Patch);
        assert_eq!(
            error_paths(&report),
            [
                "$.signed_data",
                "$.total_fixed_cost",
                "$.total_energy_cost.excl_vat",
                "$.home_charging_compensation",
            ]
        );

        let tariff = json!({
            "min_price": [],
            "max_price": { "excl_vat": 9.5, "incl_vat": 11.5 },
            "tariff_alt_url": { "en": "https://x" },
            "elements": [{
                "price_components": [{ "type": "FLAT", "price": 1, "step_size": 1 }],
                "restrictions": { "reservation": "ALWAYS" }
            }]
        });
        let (_, report) = parse_value(tariff, parse_tariff, Mode::Patch);
        assert_eq!(error_paths(&report), ["$.tariff_alt_url", "$.min_price"]);
        assert!(warned(
            &report,
            "$.elements[0].restrictions.reservation",
            "ALWAYS"
        ));
    }

    #[test]
    fn an_embedded_location_without_evses_names_the_location_only() {
        let mut body: Value = serde_json::from_str(GF_SESSION_PUT).unwrap();
        body["location"]["evses"] = json!([]);
        let (session, report) = parse_value(body, parse_session, Mode::Whole);

        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(
            session.location_id.as_deref(),
            Some("0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa")
        );
        assert_eq!(session.evse_uid, None);
        assert_eq!(session.connector_id, None);
        assert!(warned(
            &report,
            "$.location.evses",
            "embedded location names 0 EVSEs; EVSE left unknown"
        ));
    }
}
