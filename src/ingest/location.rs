//! Locations, EVSEs and connectors: PUT and PATCH at each level (OCPI 2.2.1
//! Locations, receiver interface), with parent stamp bumps and status history.

use axum::http::Method;
use chrono::{DateTime, Utc};
use entity::{connector, evse, location};
use serde_json::{json, Map, Value};

use super::merge::{self, is_stale};
use super::{check, Ctx, IngestError};
use crate::domain::party::key;
use crate::domain::Timestamp;
use crate::ocpi::wire::{self, Mode, Report};
use crate::store::locations::{self as store, ConnectorRow, EvseRow, LocationRow, StatusChange};
use crate::store::outbox::NewEvent;

/// The URL ids of a location-level push: cc, party, location id, [evse uid, [connector id]].
struct Url<'a> {
    country_code: &'a str,
    party_id: &'a str,
    location_id: &'a str,
    evse_uid: Option<&'a str>,
    connector_id: Option<&'a str>,
}

pub(super) async fn apply(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    let ids = &ctx.push.ids;
    let url = Url {
        country_code: &ids[0],
        party_id: &ids[1],
        location_id: &ids[2],
        evse_uid: ids.get(3).map(String::as_str),
        connector_id: ids.get(4).map(String::as_str),
    };
    super::require_party(ctx, url.country_code, url.party_id)?;
    let body = merge::object(&ctx.push.body);
    let patch = ctx.push.method == Method::PATCH;
    if patch {
        super::check_patch_stamp(ctx, &body)?;
    }
    match (url.evse_uid, url.connector_id) {
        (None, _) => location_level(ctx, &url, &body, patch).await,
        (Some(uid), None) => evse_level(ctx, &url, uid, &body, patch).await,
        (Some(uid), Some(cid)) => connector_level(ctx, &url, uid, cid, &body, patch).await,
    }
}

async fn location_level(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<(), IngestError> {
    let incoming = check_location(ctx, url, body, patch)?;
    let existing =
        store::find_for_update(ctx.tx, url.country_code, url.party_id, url.location_id).await?;
    if patch && existing.is_none() {
        return Err(unknown_location(url.location_id));
    }
    let merged = Merged::new(
        existing.as_ref().map(Stored::location),
        body,
        incoming,
        patch,
        "evses",
    );
    let created = existing.is_none();
    let changed = merged.content_changed();
    let model = if merged.changed() {
        let row = location_row(url, &merged, ctx.received_at());
        store::save(ctx.tx, existing, row).await?
    } else {
        existing.ok_or_else(|| unknown_location(url.location_id))?
    };
    let mut evses_changed = false;
    if let Some(Value::Array(list)) = body.get("evses") {
        let mode = ListMode {
            patch,
            stale_parent: merged.stale,
            stamp: incoming,
        };
        evses_changed = apply_evse_list(ctx, &model, list, mode).await?;
    }
    // A Location push that changes only its EVSEs still changed the location.
    if changed || evses_changed {
        emit_location(ctx, &model).await?;
    }
    let message = match (merged.stale, evses_changed, created, changed) {
        (true, false, _, _) => "not applied: older than the stored location; absent fields filled",
        (true, true, _, _) => {
            "location updated: newer EVSE data applied; older location fields only filled gaps"
        }
        (_, _, true, _) => "location created",
        (_, true, _, _) | (_, _, _, true) => "location updated",
        _ => "not applied: identical to the stored location",
    };
    ctx.outcome(created, message);
    Ok(())
}

/// Validates a Location body against its URL; returns its sender stamp.
fn check_location(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<Option<Timestamp>, IngestError> {
    let mode = if patch { Mode::Patch } else { Mode::Whole };
    let mut report = Report::default();
    let parsed = wire::parse_location(&Value::Object(body.clone()), mode, &mut report);
    check(&report)?;
    check_id("$.id", parsed.id.as_deref(), url.location_id)?;
    check_id(
        "$.country_code",
        parsed.country_code.as_deref(),
        url.country_code,
    )?;
    check_id("$.party_id", parsed.party_id.as_deref(), url.party_id)?;
    ctx.warn(report);
    Ok(parsed.last_updated)
}

/// How the children listed in a Location or EVSE push apply.
#[derive(Debug, Clone, Copy)]
struct ListMode {
    /// A PATCH: listed children are patched, unlisted ones left alone.
    patch: bool,
    /// The parent's own fields were older than the stored ones: each stored
    /// child listed is merged against its own stamp, and none is created or
    /// removed (the newer parent write knew which children exist).
    stale_parent: bool,
    /// The parent's sender stamp, which removes unlisted children no newer.
    stamp: Option<Timestamp>,
}

/// EVSEs listed in a Location PUT or PATCH are applied one by one, each
/// against its own stamp; a PUT marks the EVSEs it no longer lists REMOVED
/// rather than deleting their history. Says whether any EVSE or connector
/// changed.
async fn apply_evse_list(
    ctx: &mut Ctx<'_>,
    location: &location::Model,
    list: &[Value],
    mode: ListMode,
) -> Result<bool, IngestError> {
    if mode.patch {
        // OCPI leaves a Location PATCH with `evses` undefined (ocpi/ocpi #285,
        // #540); each listed EVSE is patched, the others are left alone.
        ctx.applied
            .warnings
            .push("$.evses: a Location PATCH with evses is applied per listed EVSE".into());
    }
    let mut listed = Vec::new();
    let mut changed = false;
    for value in list {
        let Some(evse_body) = value.as_object() else {
            continue;
        };
        let Some(uid) = evse_body.get("uid").and_then(Value::as_str) else {
            continue;
        };
        listed.push(key(uid));
        let existing = store::find_evse_for_update(ctx.tx, location.id, uid).await?;
        if existing.is_none() && mode.stale_parent {
            continue;
        }
        changed |= upsert_evse(ctx, location, uid, existing, evse_body, mode.patch)
            .await?
            .changed;
    }
    if !mode.patch && !mode.stale_parent {
        changed |= remove_unlisted_evses(ctx, location, &listed, mode.stamp).await?;
    }
    Ok(changed)
}

/// Marks REMOVED the EVSEs a Location PUT stamped `stamp` no longer lists;
/// an EVSE stamped after that PUT is newer and stays.
async fn remove_unlisted_evses(
    ctx: &mut Ctx<'_>,
    location: &location::Model,
    listed: &[String],
    stamp: Option<Timestamp>,
) -> Result<bool, IngestError> {
    let mut removal = Map::new();
    removal.insert("status".into(), json!("REMOVED"));
    if let Some(stamp) = stamp {
        removal.insert("last_updated".into(), json!(stamp.to_string()));
    }
    let mut changed = false;
    for old in store::evses(ctx.tx, location.id).await? {
        if !listed.contains(&old.uid_key) && old.status.as_deref() != Some("REMOVED") {
            let uid = old.uid.clone();
            let result = upsert_evse(ctx, location, &uid, Some(old), &removal, true).await?;
            changed |= result.changed;
        }
    }
    Ok(changed)
}

async fn evse_level(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    uid: &str,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<(), IngestError> {
    let mode = if patch { Mode::Patch } else { Mode::Whole };
    let mut report = Report::default();
    let parsed = wire::parse_evse(&Value::Object(body.clone()), mode, &mut report);
    check(&report)?;
    check_id("$.uid", parsed.uid.as_deref(), uid)?;
    ctx.warn(report);
    let location = store::find_for_update(ctx.tx, url.country_code, url.party_id, url.location_id)
        .await?
        .ok_or_else(|| unknown_location(url.location_id))?;
    let existing = store::find_evse_for_update(ctx.tx, location.id, uid).await?;
    if patch && existing.is_none() {
        return Err(unknown_evse(url.location_id, uid));
    }
    let result = upsert_evse(ctx, &location, uid, existing, body, patch).await?;
    if result.changed {
        store::bump_location(
            ctx.tx,
            &location,
            parsed.last_updated.map(|t| t.as_datetime()),
            ctx.received_at().as_datetime(),
        )
        .await?;
        emit_location(ctx, &location).await?;
    }
    ctx.outcome(result.created, result.message("EVSE"));
    Ok(())
}

async fn connector_level(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    uid: &str,
    connector_id: &str,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<(), IngestError> {
    let mode = if patch { Mode::Patch } else { Mode::Whole };
    let mut report = Report::default();
    let parsed = wire::parse_connector(&Value::Object(body.clone()), mode, &mut report);
    check(&report)?;
    check_id("$.id", parsed.id.as_deref(), connector_id)?;
    ctx.warn(report);
    let location = store::find_for_update(ctx.tx, url.country_code, url.party_id, url.location_id)
        .await?
        .ok_or_else(|| unknown_location(url.location_id))?;
    let evse = store::find_evse_for_update(ctx.tx, location.id, uid)
        .await?
        .ok_or_else(|| unknown_evse(url.location_id, uid))?;
    let existing = store::find_connector_for_update(ctx.tx, evse.id, connector_id).await?;
    if patch && existing.is_none() {
        return Err(IngestError::UnknownLocation(format!(
            "unknown connector {connector_id:?} of EVSE {uid:?} at location {:?}",
            url.location_id
        )));
    }
    let result = upsert_connector(ctx, evse.id, connector_id, existing, body, patch).await?;
    if result.changed {
        let stamp = parsed.last_updated.map(|t| t.as_datetime());
        let at = ctx.received_at().as_datetime();
        store::bump_evse(ctx.tx, &evse, stamp, at).await?;
        store::bump_location(ctx.tx, &location, stamp, at).await?;
        emit_location(ctx, &location).await?;
    }
    ctx.outcome(result.created, result.message("connector"));
    Ok(())
}

/// What an EVSE or connector upsert did.
struct Upsert {
    created: bool,
    changed: bool,
    stale: bool,
    /// A listed connector changed (each is merged against its own stamp).
    children_changed: bool,
}

impl Upsert {
    fn message(&self, noun: &str) -> String {
        match (
            self.stale,
            self.children_changed,
            self.created,
            self.changed,
        ) {
            (true, false, _, _) => {
                format!("not applied: older than the stored {noun}; absent fields filled")
            }
            (true, true, _, _) => format!(
                "{noun} updated: newer connector data applied; \
                 older {noun} fields only filled gaps"
            ),
            (_, _, true, _) => format!("{noun} created"),
            (_, _, _, true) => format!("{noun} updated"),
            _ => format!("not applied: identical to the stored {noun}"),
        }
    }
}

/// Applies an EVSE body to the stored EVSE (`existing`, read under the
/// location's lock by the caller), with its connectors.
async fn upsert_evse(
    ctx: &mut Ctx<'_>,
    location: &location::Model,
    uid: &str,
    existing: Option<evse::Model>,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<Upsert, IngestError> {
    let incoming = stamp_of(body);
    let merged = Merged::new(
        existing.as_ref().map(Stored::evse),
        body,
        incoming,
        patch,
        "connectors",
    );
    let changed = merged.content_changed();
    let created = existing.is_none();
    let model = if merged.changed() {
        save_evse(ctx, location, uid, existing, &merged, incoming).await?
    } else {
        existing.ok_or_else(|| unknown_evse(&location.ocpi_id, uid))?
    };
    let mut children_changed = false;
    if let Some(Value::Array(list)) = body.get("connectors") {
        let mode = ListMode {
            patch,
            stale_parent: merged.stale,
            stamp: incoming,
        };
        children_changed = apply_connector_list(ctx, model.id, list, mode).await?;
    }
    Ok(Upsert {
        created,
        changed: changed || children_changed,
        stale: merged.stale,
        children_changed,
    })
}

/// Saves a merged EVSE, recording its status change, if any, in its history.
async fn save_evse(
    ctx: &mut Ctx<'_>,
    location: &location::Model,
    uid: &str,
    existing: Option<evse::Model>,
    merged: &Merged,
    incoming: Option<Timestamp>,
) -> Result<evse::Model, IngestError> {
    let previous_status = existing.as_ref().and_then(|m| m.status.clone());
    let previous_since = existing.as_ref().and_then(|m| m.status_since);
    let mut row = evse_row(uid, merged, ctx.received_at());
    let changed_at = incoming.unwrap_or(ctx.received_at()).as_datetime();
    row.status_since = if row.status != previous_status {
        Some(changed_at)
    } else {
        previous_since
    };
    let model = store::save_evse(ctx.tx, location.id, existing, row).await?;
    if model.status != previous_status {
        record_status_change(ctx, location, &model, previous_status, incoming).await?;
    }
    Ok(model)
}

/// Connectors listed in an EVSE push are applied one by one, each against
/// its own stamp; a PUT deletes the connectors it no longer lists.
async fn apply_connector_list(
    ctx: &mut Ctx<'_>,
    evse_pk: i64,
    list: &[Value],
    mode: ListMode,
) -> Result<bool, IngestError> {
    let mut listed = Vec::new();
    let mut changed = false;
    for value in list {
        let Some(body) = value.as_object() else {
            continue;
        };
        let Some(id) = body.get("id").and_then(id_text) else {
            continue;
        };
        let existing = store::find_connector_for_update(ctx.tx, evse_pk, &id).await?;
        listed.push(id.clone());
        if existing.is_none() && mode.stale_parent {
            continue;
        }
        changed |= upsert_connector(ctx, evse_pk, &id, existing, body, mode.patch)
            .await?
            .changed;
    }
    if !mode.patch && !mode.stale_parent {
        let stamp = mode.stamp.map(|t| t.as_datetime());
        store::delete_connectors_except(ctx.tx, evse_pk, &listed, stamp).await?;
    }
    Ok(changed)
}

async fn upsert_connector(
    ctx: &mut Ctx<'_>,
    evse_pk: i64,
    connector_id: &str,
    existing: Option<connector::Model>,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<Upsert, IngestError> {
    let stale = is_stale(
        existing.as_ref().and_then(|m| m.last_updated),
        stamp_of(body),
    );
    let stored = existing.as_ref().map(|m| merge::parse_raw(&m.raw));
    let mut raw = stored.clone().unwrap_or_default();
    if stale {
        merge::fill_gaps(&mut raw, body, &[]);
    } else if patch {
        merge::patch(&mut raw, body, &[]);
    } else {
        raw = body.clone();
    }
    let changed = stored.as_ref() != Some(&raw);
    let created = existing.is_none();
    if changed {
        let row = connector_row(connector_id, &raw, ctx.received_at());
        store::save_connector(ctx.tx, evse_pk, existing, row).await?;
    }
    Ok(Upsert {
        created,
        changed,
        stale,
        children_changed: false,
    })
}

async fn record_status_change(
    ctx: &mut Ctx<'_>,
    location: &location::Model,
    evse: &evse::Model,
    previous_status: Option<String>,
    stamp: Option<Timestamp>,
) -> Result<(), IngestError> {
    let Some(status) = evse.status.clone() else {
        return Ok(());
    };
    let changed_at = stamp.unwrap_or(ctx.received_at());
    let change = StatusChange {
        evse_pk: evse.id,
        location_pk: location.id,
        previous_status: previous_status.clone(),
        status: status.clone(),
        changed_at: changed_at.as_datetime(),
        received_at: ctx.received_at().as_datetime(),
        stamp_from_sender: stamp.is_some(),
    };
    store::insert_status_change(ctx.tx, &change).await?;
    let payload = json!({
        "country_code": location.country_code,
        "party_id": location.party_id,
        "location_id": location.ocpi_id,
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id,
        "previous_status": previous_status,
        "status": status,
        "changed_at": changed_at.to_string(),
    });
    let payload = super::place::with(payload, super::place::fields(Some(location)));
    let event = NewEvent {
        kind: "EVSE_STATUS_CHANGED",
        country_code: location.country_code.clone(),
        party_id: location.party_id.clone(),
        location_pk: Some(location.id),
        evse_pk: Some(evse.id),
        session_pk: None,
        payload,
    };
    ctx.emit(event);
    Ok(())
}

async fn emit_location(ctx: &mut Ctx<'_>, location: &location::Model) -> Result<(), IngestError> {
    let event = NewEvent {
        kind: "LOCATION_CHANGED",
        country_code: location.country_code.clone(),
        party_id: location.party_id.clone(),
        location_pk: Some(location.id),
        evse_pk: None,
        session_pk: None,
        payload: super::place::with(
            json!({
                "country_code": location.country_code,
                "party_id": location.party_id,
                "location_id": location.ocpi_id,
            }),
            super::place::fields(Some(location)),
        ),
    };
    ctx.emit(event);
    Ok(())
}

/// What is stored of a Location or an EVSE: its raw JSON (children
/// excluded), its own sender stamp and its served one.
#[derive(Debug, Clone, Copy)]
struct Stored<'a> {
    raw: &'a str,
    own: Option<DateTime<Utc>>,
    served: Option<DateTime<Utc>>,
}

impl<'a> Stored<'a> {
    fn location(model: &'a location::Model) -> Self {
        Stored {
            raw: &model.raw,
            own: model.own_last_updated,
            served: model.last_updated,
        }
    }

    fn evse(model: &'a evse::Model) -> Self {
        Stored {
            raw: &model.raw,
            own: model.own_last_updated,
            served: model.last_updated,
        }
    }
}

/// A Location's or an EVSE's own fields merged with a push; children are
/// merged on their own.
#[derive(Debug, Clone)]
struct Merged {
    /// The stored raw JSON, when there was a stored object.
    before: Option<Map<String, Value>>,
    /// The merged raw JSON, `last_updated` the served stamp.
    raw: Map<String, Value>,
    /// The push was older than the object's own stamp: it only filled gaps.
    stale: bool,
    /// The own stamp before the push.
    own_before: Option<DateTime<Utc>>,
    /// The own stamp after the push.
    own: Option<DateTime<Utc>>,
    /// The served stamp after the push.
    served: Option<DateTime<Utc>>,
}

impl Merged {
    /// Merges `body` (a PATCH when `patch`) stamped `incoming` into the
    /// stored object, leaving its `children` list to the caller. The stale guard compares with the object's own stamp,
    /// never with the one its children moved forward (DESIGN.md: older
    /// updates fill gaps; parent stamps).
    fn new(
        stored: Option<Stored<'_>>,
        body: &Map<String, Value>,
        incoming: Option<Timestamp>,
        patch: bool,
        children: &str,
    ) -> Self {
        let own_before = stored.and_then(|s| s.own);
        let stale = is_stale(own_before, incoming);
        let before = stored.map(|s| merge::parse_raw(s.raw));
        let mut raw = before.clone().unwrap_or_default();
        let children = [children];
        if stale {
            merge::fill_gaps(&mut raw, body, &children);
        } else if patch {
            merge::patch(&mut raw, body, &children);
        } else {
            raw = merge::without(body, &children);
        }
        let own = match (stale, incoming) {
            (false, Some(at)) => Some(at.as_datetime()),
            // An unstamped PUT restarts arrival order; an unstamped PATCH
            // leaves the stamp as it was.
            (false, None) if !patch => None,
            _ => own_before,
        };
        // OCPI 2.2.1 Locations: last_updated covers the children's changes.
        let served = stored.and_then(|s| s.served).max(own);
        if let Some(child) = served.filter(|s| Some(*s) > own) {
            let text = Timestamp::from_datetime(child).to_string();
            raw.insert("last_updated".into(), Value::String(text));
        }
        Merged {
            before,
            raw,
            stale,
            own_before,
            own,
            served,
        }
    }

    /// Whether anything stored changes, the own stamp included (the row
    /// is then written).
    fn changed(&self) -> bool {
        self.content_changed() || self.own != self.own_before
    }

    /// Whether the object as served changes. A push equal to what is served
    /// that only moves the own stamp up to the served one (a pull of a
    /// location whose EVSEs changed since its own last write) is recorded,
    /// but is no change: no event, "not applied: identical".
    fn content_changed(&self) -> bool {
        self.before.as_ref() != Some(&self.raw)
    }
}

fn location_row(url: &Url<'_>, merged: &Merged, received_at: Timestamp) -> LocationRow {
    let raw = &merged.raw;
    let mut scratch = Report::default();
    let parsed = wire::parse_location(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    LocationRow {
        country_code: url.country_code.to_owned(),
        party_id: url.party_id.to_owned(),
        ocpi_id: url.location_id.to_owned(),
        name: parsed.name,
        address: parsed.address,
        city: parsed.city,
        postal_code: parsed.postal_code,
        state: parsed.state,
        country: parsed.country,
        latitude: parsed.latitude,
        longitude: parsed.longitude,
        latitude_deg: parsed.latitude_deg,
        longitude_deg: parsed.longitude_deg,
        publish: parsed.publish,
        time_zone: parsed.time_zone,
        location_type: parsed.location_type,
        last_updated: merged.served,
        own_last_updated: merged.own,
        received_at: received_at.as_datetime(),
        raw: Value::Object(raw.clone()).to_string(),
    }
}

fn evse_row(uid: &str, merged: &Merged, received_at: Timestamp) -> EvseRow {
    let raw = &merged.raw;
    let mut scratch = Report::default();
    let parsed = wire::parse_evse(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    EvseRow {
        uid: uid.to_owned(),
        evse_id: parsed.evse_id,
        status: parsed.status,
        status_since: None,
        last_updated: merged.served,
        own_last_updated: merged.own,
        received_at: received_at.as_datetime(),
        raw: Value::Object(raw.clone()).to_string(),
    }
}

fn connector_row(id: &str, raw: &Map<String, Value>, received_at: Timestamp) -> ConnectorRow {
    let mut scratch = Report::default();
    let parsed = wire::parse_connector(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    ConnectorRow {
        connector_id: id.to_owned(),
        standard: parsed.standard,
        format: parsed.format,
        power_type: parsed.power_type,
        max_voltage: parsed.max_voltage,
        max_amperage: parsed.max_amperage,
        max_electric_power: parsed.max_electric_power,
        tariff_ids: parsed.tariff_ids.unwrap_or_default(),
        last_updated: parsed.last_updated.map(|t| t.as_datetime()),
        received_at: received_at.as_datetime(),
        raw: Value::Object(raw.clone()).to_string(),
    }
}

/// The sender stamp of a body, when it has a valid one.
fn stamp_of(body: &Map<String, Value>) -> Option<Timestamp> {
    let text = body.get("last_updated")?.as_str()?;
    crate::domain::time::parse(text).ok().map(|p| p.at)
}

/// A connector id sent as a string or (leniently) as a number.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The body's id, when present, must name the URL's object (OCPI: 2001 on mismatch).
pub(super) fn check_id(path: &str, body: Option<&str>, url: &str) -> Result<(), IngestError> {
    match body {
        Some(body) if key(body) != key(url) => Err(IngestError::Invalid(format!(
            "{path}: {body:?} does not match {url:?} in the URL"
        ))),
        _ => Ok(()),
    }
}

/// Degrees within which two coordinates are taken as the same point (~10 m).
const SAME_POINT: f64 = 1e-4;

/// A warning when the location snapshot in a session or CDR body has the
/// master location's latitude and longitude the other way round (the OCPI
/// 2.1.1 and 2.2.1 CDR examples do). The snapshot is stored as sent.
pub(super) fn swapped_coordinates(body: &Value, master: &location::Model) -> Option<String> {
    let (Some(lat), Some(lon)) = (master.latitude_deg, master.longitude_deg) else {
        return None;
    };
    let (key, coordinates) = ["cdr_location", "location"]
        .into_iter()
        .find_map(|k| Some((k, body.get(k)?.get("coordinates")?)))?;
    let degrees = |name: &str| match coordinates.get(name)? {
        Value::String(text) => text.trim().parse::<f64>().ok(),
        other => other.as_f64(),
    };
    let (snap_lat, snap_lon) = (degrees("latitude")?, degrees("longitude")?);
    let near = |a: f64, b: f64| (a - b).abs() < SAME_POINT;
    let swapped = near(snap_lat, lon) && near(snap_lon, lat) && !near(snap_lat, lat);
    swapped.then(|| {
        format!(
            "$.{key}.coordinates: latitude and longitude look swapped; \
             location {:?} has them the other way round",
            master.ocpi_id
        )
    })
}

fn unknown_location(location_id: &str) -> IngestError {
    IngestError::UnknownLocation(format!("unknown location {location_id:?}"))
}

fn unknown_evse(location_id: &str, uid: &str) -> IngestError {
    IngestError::UnknownLocation(format!("unknown EVSE {uid:?} at location {location_id:?}"))
}
