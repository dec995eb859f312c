//! The wire shapes of the ground truth: GreenFlux's OCPI 2.1.1 (with its
//! quirks) and OCPI 2.2.1, for pushes and for the sender interface alike.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::model::{
    Cdr, ChargingPeriod, Connector, Evse, EvseStatus, Location, Notification, OcpiVersion, Session,
};
use super::tariff::Tariff;
use crate::domain::{Party, Timestamp};

/// An instant as OCPI writes it (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn stamp(at: DateTime<Utc>) -> String {
    Timestamp::from_datetime(at).to_string()
}

/// An exact decimal as a JSON number (OCPI `number`).
pub fn number(d: Decimal) -> Value {
    d.normalize()
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Adds the party's country_code and party_id first, as 2.2.1 bodies carry them.
fn with_party(party: &Party, body: Value) -> Value {
    let mut object = Map::new();
    object.insert("country_code".into(), json!(party.country_code));
    object.insert("party_id".into(), json!(party.party_id));
    if let Value::Object(fields) = body {
        object.extend(fields);
    }
    Value::Object(object)
}

/// A whole location with every EVSE.
pub fn location(party: &Party, l: &Location, v: OcpiVersion) -> Value {
    let evses: Vec<Value> = l.evses.iter().map(|e| evse(e, v)).collect();
    location_with(party, l, evses, v)
}

fn location_with(party: &Party, l: &Location, evses: Vec<Value>, v: OcpiVersion) -> Value {
    let coordinates = json!({"latitude": l.latitude, "longitude": l.longitude});
    match v {
        // GreenFlux's push: `publish` as a string and null lists, as its docs show.
        OcpiVersion::V211 => json!({
            "id": l.id,
            "type": l.location_type,
            "publish": "true",
            "name": l.name,
            "address": l.address,
            "city": l.city,
            "postal_code": l.postal_code,
            "country": l.country,
            "coordinates": coordinates,
            "evses": evses,
            "directions": null,
            "operator": {"name": l.operator, "logo": null},
            "facilities": null,
            "time_zone": l.time_zone,
            "last_updated": stamp(l.last_updated),
        }),
        OcpiVersion::V221 => with_party(
            party,
            json!({
                "id": l.id,
                "publish": true,
                "name": l.name,
                "address": l.address,
                "city": l.city,
                "postal_code": l.postal_code,
                "country": l.country,
                "coordinates": coordinates,
                "parking_type": l.location_type,
                "evses": evses,
                "operator": {"name": l.operator},
                "time_zone": l.time_zone,
                "last_updated": stamp(l.last_updated),
            }),
        ),
    }
}

/// An EVSE with its connectors.
pub fn evse(e: &Evse, v: OcpiVersion) -> Value {
    evse_with(e, e.status, e.connectors.iter().collect(), v)
}

fn evse_with(e: &Evse, status: EvseStatus, connectors: Vec<&Connector>, v: OcpiVersion) -> Value {
    let connectors: Vec<Value> = connectors.into_iter().map(|c| connector(c, v)).collect();
    match v {
        OcpiVersion::V211 => json!({
            "uid": e.uid,
            "evse_id": e.evse_id,
            "status": status.as_str(),
            "status_schedule": [],
            "capabilities": e.capabilities,
            "connectors": connectors,
            "directions": [],
            "parking_restrictions": [],
            "images": null,
            "last_updated": stamp(e.last_updated),
        }),
        OcpiVersion::V221 => json!({
            "uid": e.uid,
            "evse_id": e.evse_id,
            "status": status.as_str(),
            "capabilities": e.capabilities,
            "connectors": connectors,
            "last_updated": stamp(e.last_updated),
        }),
    }
}

/// A connector.
pub fn connector(c: &Connector, v: OcpiVersion) -> Value {
    match v {
        // GreenFlux sends max_electric_power beside the 2.1.1 fields.
        OcpiVersion::V211 => json!({
            "id": c.id,
            "standard": c.standard,
            "format": c.format,
            "power_type": c.power_type,
            "voltage": c.voltage,
            "amperage": c.amperage,
            "max_electric_power": c.max_electric_power,
            "tariff_id": c.tariff_id,
            "last_updated": stamp(c.last_updated),
        }),
        OcpiVersion::V221 => json!({
            "id": c.id,
            "standard": c.standard,
            "format": c.format,
            "power_type": c.power_type,
            "max_voltage": c.voltage,
            "max_amperage": c.amperage,
            "max_electric_power": c.max_electric_power,
            "tariff_ids": [c.tariff_id],
            "last_updated": stamp(c.last_updated),
        }),
    }
}

/// The 2.1.1 location a session or CDR embeds: only its EVSE and connector,
/// as they were while charging, stamped no later than `at` (when charging
/// started). A session's or CDR's body is then the same whenever it is
/// rendered, pushed or pulled: a later change to the location does not leak
/// into the snapshot of an older object.
fn snapshot(
    party: &Party,
    l: &Location,
    evse_uid: &str,
    connector_id: &str,
    at: DateTime<Utc>,
) -> Value {
    let evses = l
        .evse(evse_uid)
        .map(|e| {
            let connectors = e
                .connectors
                .iter()
                .filter(|c| c.id == connector_id)
                .collect();
            vec![evse_with(
                e,
                EvseStatus::Charging,
                connectors,
                OcpiVersion::V211,
            )]
        })
        .unwrap_or_default();
    let mut value = location_with(party, l, evses, OcpiVersion::V211);
    // The session's own document (GreenFlux's /docs/session) has a boolean.
    value["publish"] = json!(true);
    let frozen = |stamped: &mut Value, own: DateTime<Utc>| {
        stamped["last_updated"] = json!(stamp(own.min(at)));
    };
    frozen(&mut value, l.last_updated);
    if let (Some(e), Some(Value::Array(evses))) = (l.evse(evse_uid), value.get_mut("evses")) {
        for evse in evses.iter_mut() {
            frozen(evse, e.last_updated);
            if let Some(Value::Array(connectors)) = evse.get_mut("connectors") {
                for (c, value) in e
                    .connectors
                    .iter()
                    .filter(|c| c.id == connector_id)
                    .zip(connectors.iter_mut())
                {
                    frozen(value, c.last_updated);
                }
            }
        }
    }
    value
}

/// Charging periods with their TIME and ENERGY dimensions.
pub fn periods(list: &[ChargingPeriod], tariff_id: Option<&str>) -> Value {
    let periods: Vec<Value> = list
        .iter()
        .map(|p| {
            let mut period = json!({
                "start_date_time": stamp(p.start),
                "dimensions": [
                    {"type": "TIME", "volume": number(p.hours)},
                    {"type": "ENERGY", "volume": number(p.energy_kwh)},
                ],
            });
            if let Some(id) = tariff_id {
                period["tariff_id"] = json!(id);
            }
            period
        })
        .collect();
    Value::Array(periods)
}

fn cdr_token(party: &Party, uid: &str, contract_id: &str) -> Value {
    json!({
        "country_code": party.country_code,
        "party_id": party.party_id,
        "uid": uid,
        "type": "RFID",
        "contract_id": contract_id,
    })
}

/// A whole session; `location` is its location (2.1.1 embeds a snapshot).
pub fn session(party: &Party, s: &Session, location: Option<&Location>, v: OcpiVersion) -> Value {
    match v {
        OcpiVersion::V211 => json!({
            "id": s.id,
            "start_datetime": stamp(s.start),
            "end_datetime": s.end.map(stamp),
            "kwh": number(s.kwh),
            "auth_id": s.auth_id,
            "auth_method": s.auth_method,
            "location": location.map(|l| snapshot(party, l, &s.evse_uid, &s.connector_id, s.start)),
            "meter_id": null,
            "currency": "EUR",
            "charging_periods": if s.charging_periods.is_empty() {
                Value::Null
            } else {
                periods(&s.charging_periods, None)
            },
            "status": s.status.as_str(),
            "last_updated": stamp(s.last_updated),
        }),
        OcpiVersion::V221 => {
            let mut body = json!({
                "id": s.id,
                "start_date_time": stamp(s.start),
                "kwh": number(s.kwh),
                "cdr_token": cdr_token(&s.token_party, &s.token_uid, &s.auth_id),
                "auth_method": s.auth_method,
                "location_id": s.location_id,
                "evse_uid": s.evse_uid,
                "connector_id": s.connector_id,
                "currency": "EUR",
                "charging_periods": periods(&s.charging_periods, Some(&s.tariff_id)),
                "status": s.status.as_str(),
                "last_updated": stamp(s.last_updated),
            });
            if let Some(end) = s.end {
                body["end_date_time"] = json!(stamp(end));
            }
            with_party(party, body)
        }
    }
}

/// GreenFlux's compact meter PATCH: no id and no periods (2.2.1: kwh, status
/// and last_updated).
pub fn session_compact_patch(s: &Session, v: OcpiVersion) -> Value {
    let start = match v {
        OcpiVersion::V211 => "start_datetime",
        OcpiVersion::V221 => "start_date_time",
    };
    json!({
        start: stamp(s.start),
        "kwh": number(s.kwh),
        "status": s.status.as_str(),
        "last_updated": stamp(s.last_updated),
    })
}

/// The 15-minute PATCH: GreenFlux repeats every period from the session
/// start; 2.2.1 appends only `new_periods` (OCPI 2.2.1 Sessions, PATCH).
pub fn session_periods_patch(s: &Session, new_periods: &[ChargingPeriod], v: OcpiVersion) -> Value {
    match v {
        OcpiVersion::V211 => json!({
            "id": s.id,
            "start_datetime": stamp(s.start),
            "kwh": number(s.kwh),
            "charging_periods": periods(&s.charging_periods, None),
            "status": s.status.as_str(),
            "last_updated": stamp(s.last_updated),
        }),
        OcpiVersion::V221 => json!({
            "kwh": number(s.kwh),
            "charging_periods": periods(new_periods, Some(&s.tariff_id)),
            "status": s.status.as_str(),
            "last_updated": stamp(s.last_updated),
        }),
    }
}

/// The final PATCH: end, kwh, the last periods, COMPLETED.
pub fn session_completed_patch(
    s: &Session,
    new_periods: &[ChargingPeriod],
    v: OcpiVersion,
) -> Value {
    let mut body = session_periods_patch(s, new_periods, v);
    let end = match v {
        OcpiVersion::V211 => "end_datetime",
        OcpiVersion::V221 => "end_date_time",
    };
    body[end] = json!(s.end.map(stamp));
    body
}

/// An EVSE status PATCH: GreenFlux sends the status alone, 2.2.1 with its stamp.
pub fn evse_status_patch(e: &Evse, v: OcpiVersion) -> Value {
    match v {
        OcpiVersion::V211 => json!({"status": e.status.as_str()}),
        OcpiVersion::V221 => json!({
            "status": e.status.as_str(),
            "last_updated": stamp(e.last_updated),
        }),
    }
}

/// A CDR; `location` is where it took place, `tariff` what priced it.
pub fn cdr(
    party: &Party,
    c: &Cdr,
    location: Option<&Location>,
    tariff: Option<&Tariff>,
    v: OcpiVersion,
) -> Value {
    let price = &c.price;
    match v {
        // GreenFlux's CDR: 2.1.1 with its own session_id, token_uid and VAT fields.
        OcpiVersion::V211 => json!({
            "id": c.id,
            "start_date_time": stamp(c.start),
            "stop_date_time": stamp(c.end),
            "auth_id": c.auth_id,
            "auth_method": c.auth_method,
            "location": location.map(|l| snapshot(party, l, &c.evse_uid, &c.connector_id, c.start)),
            "meter_id": null,
            "currency": c.currency,
            "tariffs": tariff.map(|t| vec![self::tariff(party, t, v)]).unwrap_or_default(),
            "charging_periods": periods(&c.charging_periods, None),
            "total_cost": number(price.total_excl_vat),
            "total_energy": number(c.total_energy),
            "total_time": number(c.total_time),
            "total_parking_time": number(c.total_parking_time),
            "last_updated": stamp(c.last_updated),
            "session_id": c.session_id,
            "token_uid": c.token_uid,
            "total_cost_incl_vat": number(price.total_incl_vat),
            "total_vat": number(price.total_vat),
        }),
        OcpiVersion::V221 => {
            let cost = |excl: Decimal, incl: Decimal| json!({"excl_vat": number(excl), "incl_vat": number(incl)});
            let vat = |excl: Decimal| tariff.map_or(excl, |t| with_vat(excl, t.vat_percent));
            with_party(
                party,
                json!({
                    "id": c.id,
                    "start_date_time": stamp(c.start),
                    "end_date_time": stamp(c.end),
                    "session_id": c.session_id,
                    "cdr_token": cdr_token(&c.token_party, &c.token_uid, &c.auth_id),
                    "auth_method": c.auth_method,
                    "cdr_location": location.map(|l| cdr_location(l, c)),
                    "currency": c.currency,
                    "tariffs": tariff.map(|t| vec![self::tariff(party, t, v)]).unwrap_or_default(),
                    "charging_periods": periods(&c.charging_periods, Some(&c.tariff_id)),
                    "total_cost": cost(price.total_excl_vat, price.total_incl_vat),
                    "total_energy_cost": cost(price.energy_cost, vat(price.energy_cost)),
                    "total_time_cost": cost(price.time_cost, vat(price.time_cost)),
                    "total_parking_cost": cost(price.parking_cost, vat(price.parking_cost)),
                    "total_energy": number(c.total_energy),
                    "total_time": number(c.total_time),
                    "total_parking_time": number(c.total_parking_time),
                    "last_updated": stamp(c.last_updated),
                }),
            )
        }
    }
}

/// A component's price including VAT, to 4 decimals (a display value; the
/// total including VAT is computed once, from the total).
fn with_vat(excl: Decimal, vat_percent: Decimal) -> Decimal {
    (excl * (Decimal::ONE_HUNDRED + vat_percent) / Decimal::ONE_HUNDRED).round_dp(4)
}

fn cdr_location(l: &Location, c: &Cdr) -> Value {
    let evse = l.evse(&c.evse_uid);
    let connector = evse.and_then(|e| e.connectors.iter().find(|k| k.id == c.connector_id));
    json!({
        "id": l.id,
        "name": l.name,
        "address": l.address,
        "city": l.city,
        "postal_code": l.postal_code,
        "country": l.country,
        "coordinates": {"latitude": l.latitude, "longitude": l.longitude},
        "evse_uid": c.evse_uid,
        "evse_id": evse.map(|e| e.evse_id.clone()),
        "connector_id": c.connector_id,
        "connector_standard": connector.map(|k| k.standard.clone()),
        "connector_format": connector.map(|k| k.format.clone()),
        "connector_power_type": connector.map(|k| k.power_type.clone()),
    })
}

/// A tariff: one element with a component per priced dimension.
pub fn tariff(party: &Party, t: &Tariff, v: OcpiVersion) -> Value {
    let components: Vec<Value> = [
        ("ENERGY", t.energy_per_kwh, 1),
        ("TIME", t.time_per_hour, 60),
        ("PARKING_TIME", t.parking_per_hour, 60),
    ]
    .into_iter()
    .filter(|(_, price, _)| !price.is_zero())
    .map(|(kind, price, step_size)| {
        let mut component = json!({"type": kind, "price": number(price), "step_size": step_size});
        if v == OcpiVersion::V221 {
            component["vat"] = number(t.vat_percent);
        }
        component
    })
    .collect();
    let body = json!({
        "id": t.id,
        "currency": t.currency,
        "elements": [{"price_components": components}],
        "last_updated": stamp(t.last_updated),
    });
    match v {
        OcpiVersion::V211 => body,
        OcpiVersion::V221 => {
            let mut body = with_party(party, body);
            body["type"] = json!("REGULAR");
            body
        }
    }
}

/// A ChargeStation notification, with both the deprecated and the current
/// location field (GreenFlux's 2022 change).
pub fn notification(n: &Notification) -> Value {
    let mut body = json!({
        "id": n.id,
        "charge_station_notification_id": n.charge_station_notification_id,
        "charge_station_id": n.charge_station_id,
        "charge_location_id": n.location_id,
        "location_id": n.location_id,
        "charge_station_message_payload": n.payload,
        "created": stamp(n.created),
        "level": n.level,
        "direction": "ToGsop",
        "message_type": "2",
        "message_action": n.message_action,
    });
    if let Some(uid) = &n.evse_uid {
        body["evse_id"] = json!(uid);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_plain_json_numbers() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(number(d("0.285")).to_string(), "0.285");
        assert_eq!(number(d("10.3630")).to_string(), "10.363");
        assert_eq!(number(d("0.0833")).to_string(), "0.0833");
        assert_eq!(number(d("4.76")).to_string(), "4.76");
        assert_eq!(number(d("0")).to_string(), "0.0");
    }
}
