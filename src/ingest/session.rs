//! Sessions: PUT replaces, PATCH merges (periods keyed by start), COMPLETED is
//! final, a PATCH before the PUT keeps a partial session (DESIGN.md policies).

use axum::http::Method;
use entity::session;
use serde_json::{json, Map, Value};

use chrono::{DateTime, Utc};

use super::merge::{self, Stamps, Update};
use super::{check, check_patch_stamp, require_party, Ctx, IngestError};
use crate::domain::party::key;
use crate::domain::Timestamp;
use crate::ocpi::wire::{self, ChargingPeriod, Mode, Report};
use crate::store::locations;
use crate::store::outbox::NewEvent;
use crate::store::sessions::{self as store, EventRow, PeriodRow, SessionRow};

const PERIODS: &str = "charging_periods";

/// Sender stamps of a session's fields and of its periods (keyed by start).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SessionStamps {
    #[serde(default)]
    fields: Stamps,
    #[serde(default)]
    periods: Stamps,
}

/// What applying an update did.
struct Outcome {
    taken: bool,
    changed: bool,
}

pub(super) async fn apply(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    let ids = &ctx.push.ids;
    let (cc, party, session_id) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    require_party(ctx, cc, party)?;
    let body = merge::object(&ctx.push.body);
    let patch = ctx.push.method == Method::PATCH;
    if patch {
        check_patch_stamp(ctx, &body)?;
    }
    let mode = if patch { Mode::Patch } else { Mode::Whole };
    let mut report = Report::default();
    let parsed = wire::parse_session(&Value::Object(body.clone()), mode, &mut report);
    check(&report)?;
    super::location::check_id("$.id", parsed.id.as_deref(), session_id)?;
    super::location::check_id("$.country_code", parsed.country_code.as_deref(), cc)?;
    super::location::check_id("$.party_id", parsed.party_id.as_deref(), party)?;
    ctx.warn(report);

    let existing = store::find_for_update(ctx.tx, cc, party, session_id).await?;
    let at = parsed.last_updated.map(|t| t.as_datetime());
    let mut stamps: SessionStamps = existing
        .as_ref()
        .and_then(|m| m.merge_stamps.as_deref())
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    if is_reopen(
        existing.as_ref(),
        parsed.status.as_deref(),
        at,
        &stamps.fields,
    ) {
        if let Some(model) = &existing {
            record_event(ctx, model, parsed.last_updated, false);
        }
        ctx.outcome(
            false,
            "not applied: the session is COMPLETED and stays final",
        );
        return Ok(());
    }
    let created = existing.is_none();
    let previous_kwh = existing.as_ref().and_then(|m| m.kwh_micro);
    let stored = existing.as_ref().map(|m| merge::parse_raw(&m.raw));
    let mut raw = stored.clone().unwrap_or_default();
    let fields = merge::without(&body, &[PERIODS]);
    let update = Update {
        body: &fields,
        at,
        whole: !patch,
    };
    let mut taken = merge::apply_stamped(&mut raw, &mut stamps.fields, update);
    // A PUT completes a session first stored from a PATCH; so does a PATCH
    // that carries a whole session (GreenFlux's pulled aggregate, applied
    // as a PATCH to keep the pushed periods).
    let incomplete = match &existing {
        _ if !patch => false,
        Some(m) => m.incomplete && !is_whole(&body),
        None => !is_whole(&body),
    };
    let mut changed = stored.as_ref() != Some(&raw)
        || existing
            .as_ref()
            .is_some_and(|m| m.incomplete != incomplete);
    let known_location = existing
        .as_ref()
        .and_then(|m| Some((m.location_id.clone()?, m.location_pk?)));
    let ids = (cc, party, session_id);
    let mut row = session_row(ctx, ids, &raw, incomplete, known_location).await?;
    let field_stamps = serde_json::to_string(&stamps).ok();
    row.merge_stamps = field_stamps.clone();
    let model = store::save(ctx.tx, existing, row).await?;
    let periods = apply_periods(
        ctx,
        model.id,
        &body,
        parsed.charging_periods,
        update,
        &mut stamps,
    )
    .await?;
    taken |= periods.taken;
    changed |= periods.changed;
    let all_stamps = serde_json::to_string(&stamps).ok();
    if all_stamps != field_stamps {
        store::save_stamps(ctx.tx, model.id, all_stamps).await?;
    }
    if let (Some(old), Some(new)) = (previous_kwh, model.kwh_micro) {
        if new < old && taken {
            ctx.applied
                .warnings
                .push("$.kwh: lower than the stored kwh".into());
        }
    }
    record_event(ctx, &model, parsed.last_updated, taken);
    if changed {
        emit(ctx, &model).await?;
    }
    ctx.outcome(created, message(!taken, created, changed));
    Ok(())
}

/// Whether a body carries every field both versions require of a whole
/// session (id, start, kwh, token, auth method, where, currency, status,
/// last_updated): what a PUT would have said, charging periods aside.
fn is_whole(body: &Map<String, Value>) -> bool {
    let mut report = Report::default();
    let s = wire::parse_session(&Value::Object(body.clone()), Mode::Whole, &mut report);
    report.errors.is_empty()
        && s.id.is_some()
        && s.start_date_time.is_some()
        && s.kwh.is_some()
        && (s.auth_id.is_some() || s.token_uid.is_some())
        && s.auth_method.is_some()
        && s.location_id.is_some()
        && s.evse_uid.is_some()
        && s.connector_id.is_some()
        && s.currency.is_some()
        && s.status.is_some()
        && s.last_updated.is_some()
}

/// A later status other than COMPLETED on a COMPLETED session would reopen it
/// (DESIGN.md: COMPLETED is final). An older update cannot, as its status loses
/// to the newer one anyway and the rest of it may still fill gaps.
fn is_reopen(
    existing: Option<&session::Model>,
    incoming: Option<&str>,
    at: Option<DateTime<Utc>>,
    stamps: &Stamps,
) -> bool {
    let completed = existing.and_then(|m| m.status.as_deref()) == Some("COMPLETED");
    let older = at.is_some_and(|at| {
        stamps.put.is_some_and(|put| at < put)
            || stamps.fields.get("status").is_some_and(|s| at < *s)
    });
    completed && !older && incoming.is_some_and(|s| s != "COMPLETED")
}

fn message(stale: bool, created: bool, changed: bool) -> &'static str {
    match (stale, created, changed) {
        (true, ..) => "not applied: older than the stored session",
        (_, true, _) => "session created",
        (_, _, true) => "session updated",
        _ => "not applied: identical to the stored session",
    }
}

/// Periods merge like fields, keyed by start: a PUT replaces the list, a PATCH
/// upserts the periods it sends (so 2.2.1's append and GreenFlux's cumulative
/// list converge), a PATCH without periods leaves them alone.
async fn apply_periods(
    ctx: &mut Ctx<'_>,
    session_pk: i64,
    body: &Map<String, Value>,
    parsed: Option<Vec<ChargingPeriod>>,
    update: Update<'_>,
    stamps: &mut SessionStamps,
) -> Result<Outcome, IngestError> {
    if !update.whole && !body.contains_key(PERIODS) {
        return Ok(Outcome {
            taken: false,
            changed: false,
        });
    }
    let before = stored_periods(ctx, session_pk).await?;
    let incoming = period_map(body);
    let mut after = before.clone();
    let periods_update = Update {
        body: &incoming,
        ..update
    };
    let taken = merge::apply_stamped(&mut after, &mut stamps.periods, periods_update);
    if after == before {
        return Ok(Outcome {
            taken,
            changed: false,
        });
    }
    // The stored rows are `before`; only a PUT can leave some of them out.
    if before.keys().any(|k| !after.contains_key(k)) {
        let keep = after.keys().filter_map(|k| parse_start(k)).collect();
        store::delete_periods_except(ctx.tx, session_pk, keep).await?;
    }
    for period in parsed.unwrap_or_default() {
        let key = period.start_date_time.to_string();
        if after.get(&key).is_some_and(|v| before.get(&key) != Some(v)) {
            store::upsert_period(ctx.tx, session_pk, period_row(&after[&key], period), false)
                .await?;
        }
    }
    Ok(Outcome {
        taken,
        changed: true,
    })
}

async fn stored_periods(ctx: &Ctx<'_>, session_pk: i64) -> Result<Map<String, Value>, IngestError> {
    let rows = store::periods(ctx.tx, session_pk).await?;
    Ok(rows
        .iter()
        .map(|p| {
            let start = Timestamp::from_datetime(p.start_date_time);
            let dimensions = serde_json::from_str(&p.dimensions).unwrap_or(json!([]));
            (
                start.to_string(),
                period_value(start, dimensions, p.tariff_id.as_deref()),
            )
        })
        .collect())
}

/// The periods sent, keyed by their normalised start.
fn period_map(body: &Map<String, Value>) -> Map<String, Value> {
    raw_dimensions_by_start(body)
        .into_iter()
        .map(|(start, dimensions, tariff_id)| {
            (
                start.to_string(),
                period_value(start, dimensions, tariff_id.as_deref()),
            )
        })
        .collect()
}

/// One period in the one shape used to compare stored and sent periods.
fn period_value(start: Timestamp, dimensions: Value, tariff_id: Option<&str>) -> Value {
    json!({"start_date_time": start.to_string(), "dimensions": dimensions, "tariff_id": tariff_id})
}

fn parse_start(key: &str) -> Option<DateTime<Utc>> {
    crate::domain::time::parse(key)
        .ok()
        .map(|p| p.at.as_datetime())
}

fn period_row(value: &Value, period: ChargingPeriod) -> PeriodRow {
    PeriodRow {
        start_date_time: period.start_date_time.as_datetime(),
        dimensions: value["dimensions"].to_string(),
        tariff_id: period.tariff_id,
        energy_micro: period.energy.map(|m| m.0),
        time_micro: period.time.map(|m| m.0),
    }
}

/// The dimensions and tariff of each period as sent, with the period's start.
fn raw_dimensions_by_start(body: &Map<String, Value>) -> Vec<(Timestamp, Value, Option<String>)> {
    let Some(Value::Array(list)) = body.get(PERIODS) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|p| {
            let start = p.get("start_date_time")?.as_str()?;
            let at = crate::domain::time::parse(start).ok()?.at;
            let dimensions = p.get("dimensions").cloned().unwrap_or(json!([]));
            let tariff_id = p
                .get("tariff_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Some((at, dimensions, tariff_id))
        })
        .collect()
}

/// The session's columns from its merged JSON. The location row is looked
/// up unless the stored session already links the same location id.
async fn session_row(
    ctx: &mut Ctx<'_>,
    (cc, party, id): (&str, &str, &str),
    raw: &Map<String, Value>,
    incomplete: bool,
    known_location: Option<(String, i64)>,
) -> Result<SessionRow, IngestError> {
    let mut scratch = Report::default();
    let s = wire::parse_session(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    // Only a push that carries a location snapshot is checked for swapped
    // coordinates, which needs the stored location itself; otherwise a
    // session that already links the same location reuses its id.
    let snapshot = ctx.push.body.get("location").is_some();
    let location_pk = match (&s.location_id, known_location) {
        (Some(location_id), Some((known, pk))) if !snapshot && key(location_id) == key(&known) => {
            Some(pk)
        }
        (Some(location_id), _) => {
            let master = locations::find(ctx.tx, cc, party, location_id).await?;
            if let Some(warning) = master
                .as_ref()
                .and_then(|m| super::location::swapped_coordinates(&ctx.push.body, m))
            {
                ctx.applied.warnings.push(warning);
            }
            if master.is_none() {
                let missing = (cc.to_owned(), party.to_owned(), location_id.clone());
                ctx.applied.unknown_location = Some(missing);
            }
            master.map(|m| m.id)
        }
        (None, _) => None,
    };
    Ok(SessionRow {
        country_code: cc.to_owned(),
        party_id: party.to_owned(),
        ocpi_id: id.to_owned(),
        location_id: s.location_id,
        evse_uid: s.evse_uid,
        connector_id: s.connector_id,
        location_pk,
        start_date_time: s.start_date_time.map(|t| t.as_datetime()),
        end_date_time: s.end_date_time.map(|t| t.as_datetime()),
        kwh_micro: s.kwh.map(|m| m.0),
        auth_id: s.auth_id,
        auth_method: s.auth_method,
        token_uid: s.token_uid,
        currency: s.currency,
        total_cost_micro: s.total_cost.map(|m| m.0),
        total_cost_incl_vat_micro: s.total_cost_incl_vat.map(|m| m.0),
        status: s.status,
        incomplete,
        last_updated: s.last_updated.map(|t| t.as_datetime()),
        received_at: ctx.received_at().as_datetime(),
        raw: Value::Object(raw.clone()).to_string(),
        merge_stamps: None,
    })
}

/// Adds the push to the session's timeline (written after the push's inbox row).
fn record_event(
    ctx: &mut Ctx<'_>,
    model: &session::Model,
    stamp: Option<Timestamp>,
    applied: bool,
) {
    let row = EventRow {
        session_pk: model.id,
        inbox_pk: None,
        method: ctx.push.method.to_string(),
        at: stamp.unwrap_or(ctx.received_at()).as_datetime(),
        received_at: ctx.received_at().as_datetime(),
        status: model.status.clone(),
        kwh_micro: model.kwh_micro,
        total_cost_micro: model.total_cost_micro,
        applied,
    };
    ctx.record_session_event(row);
}

async fn emit(ctx: &mut Ctx<'_>, model: &session::Model) -> Result<(), IngestError> {
    let kwh = model
        .kwh_micro
        .map(|m| crate::domain::Micros(m).to_string());
    let place = super::place::fields_of(ctx, model.location_pk).await?;
    let event = NewEvent {
        kind: "SESSION_UPDATED",
        country_code: model.country_code.clone(),
        party_id: model.party_id.clone(),
        location_pk: model.location_pk,
        evse_pk: None,
        session_pk: Some(model.id),
        payload: super::place::with(
            json!({
                "country_code": model.country_code,
                "party_id": model.party_id,
                "session_id": model.ocpi_id,
                "status": model.status,
                "kwh": kwh,
                "location_id": model.location_id,
                "evse_uid": model.evse_uid,
                "connector_id": model.connector_id,
            }),
            place,
        ),
    };
    ctx.emit(event);
    Ok(())
}
