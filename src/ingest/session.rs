//! Sessions: PUT replaces, PATCH merges (periods keyed by start), COMPLETED is
//! final, a PATCH before the PUT keeps a partial session (DESIGN.md policies).

use axum::http::Method;
use entity::session;
use serde_json::{json, Map, Value};

use super::merge::{self, is_stale};
use super::{check, check_patch_stamp, require_party, Ctx, IngestError};
use crate::domain::Timestamp;
use crate::ocpi::wire::{self, ChargingPeriod, Mode, Report};
use crate::store::locations;
use crate::store::outbox::{self, NewEvent};
use crate::store::sessions::{self as store, EventRow, PeriodRow, SessionRow};

const PERIODS: &str = "charging_periods";

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

    let existing = store::find(ctx.tx, cc, party, session_id).await?;
    let stale = is_stale(
        existing.as_ref().and_then(|m| m.last_updated),
        parsed.last_updated,
    );
    let reopen = is_reopen(existing.as_ref(), parsed.status.as_deref());
    let fill_only = stale || reopen;
    let stored = existing.as_ref().map(|m| merge::parse_raw(&m.raw));
    let mut raw = stored.clone().unwrap_or_default();
    if fill_only {
        merge::fill_gaps(&mut raw, &body, &[PERIODS]);
    } else if patch {
        merge::patch(&mut raw, &body, &[PERIODS]);
    } else {
        raw = merge::without(&body, &[PERIODS]);
    }
    let incomplete = match &existing {
        _ if !patch => false,
        Some(m) => m.incomplete,
        None => true,
    };
    let created = existing.is_none();
    let mut changed = stored.as_ref() != Some(&raw)
        || existing
            .as_ref()
            .is_some_and(|m| m.incomplete != incomplete);
    let previous_kwh = existing.as_ref().and_then(|m| m.kwh_micro);
    let row = session_row(ctx, (cc, party, session_id), &raw, incomplete).await?;
    let model = store::save(ctx.tx, existing, row).await?;
    changed |= apply_periods(
        ctx,
        model.id,
        &body,
        parsed.charging_periods,
        patch,
        fill_only,
    )
    .await?;
    if let (Some(old), Some(new)) = (previous_kwh, model.kwh_micro) {
        if new < old && !fill_only {
            ctx.applied
                .warnings
                .push("$.kwh: lower than the stored kwh".into());
        }
    }
    record_event(ctx, &model, parsed.last_updated, !fill_only).await?;
    if changed {
        emit(ctx, &model).await?;
    }
    ctx.outcome(created, message(stale, reopen, created, changed));
    Ok(())
}

fn is_reopen(existing: Option<&session::Model>, incoming: Option<&str>) -> bool {
    let completed = existing.and_then(|m| m.status.as_deref()) == Some("COMPLETED");
    completed && incoming.is_some_and(|s| s != "COMPLETED")
}

fn message(stale: bool, reopen: bool, created: bool, changed: bool) -> &'static str {
    match (stale, reopen, created, changed) {
        (true, ..) => "not applied: older than the stored session; absent fields filled",
        (_, true, ..) => "not applied: the session is COMPLETED and stays final",
        (_, _, true, _) => "session created",
        (_, _, _, true) => "session updated",
        _ => "not applied: identical to the stored session",
    }
}

/// A PUT replaces the periods; a PATCH merges them keyed by start (2.2.1's
/// append and GreenFlux's cumulative list converge); an older update only adds
/// periods that are missing.
async fn apply_periods(
    ctx: &mut Ctx<'_>,
    session_pk: i64,
    body: &Map<String, Value>,
    parsed: Option<Vec<ChargingPeriod>>,
    patch: bool,
    fill_only: bool,
) -> Result<bool, IngestError> {
    let periods = parsed.unwrap_or_default();
    let mut changed = false;
    if !patch && !fill_only {
        let starts = periods.iter().map(|p| p.start_date_time.as_datetime());
        changed = store::delete_periods_except(ctx.tx, session_pk, starts.collect()).await? > 0;
    }
    let raw_dimensions = raw_dimensions_by_start(body);
    for period in periods {
        let start = period.start_date_time;
        let dimensions = raw_dimensions
            .iter()
            .find(|(at, _)| *at == start)
            .map(|(_, dims)| dims.to_string())
            .unwrap_or_else(|| "[]".into());
        let row = PeriodRow {
            start_date_time: start.as_datetime(),
            dimensions,
            tariff_id: period.tariff_id,
            energy_micro: period.energy.map(|m| m.0),
            time_micro: period.time.map(|m| m.0),
        };
        changed |= store::upsert_period(ctx.tx, session_pk, row, fill_only).await?;
    }
    Ok(changed)
}

/// The dimensions of each period as sent, keyed by the period's start.
fn raw_dimensions_by_start(body: &Map<String, Value>) -> Vec<(Timestamp, Value)> {
    let Some(Value::Array(list)) = body.get(PERIODS) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|p| {
            let start = p.get("start_date_time")?.as_str()?;
            let at = crate::domain::time::parse(start).ok()?.at;
            Some((at, p.get("dimensions").cloned().unwrap_or(json!([]))))
        })
        .collect()
}

async fn session_row(
    ctx: &Ctx<'_>,
    (cc, party, id): (&str, &str, &str),
    raw: &Map<String, Value>,
    incomplete: bool,
) -> Result<SessionRow, IngestError> {
    let mut scratch = Report::default();
    let s = wire::parse_session(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    let location_pk = match &s.location_id {
        Some(location_id) => locations::find(ctx.tx, cc, party, location_id)
            .await?
            .map(|m| m.id),
        None => None,
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
    })
}

async fn record_event(
    ctx: &Ctx<'_>,
    model: &session::Model,
    stamp: Option<Timestamp>,
    applied: bool,
) -> Result<(), IngestError> {
    let row = EventRow {
        session_pk: model.id,
        inbox_pk: Some(ctx.inbox_pk),
        method: ctx.push.method.to_string(),
        at: stamp.unwrap_or(ctx.received_at()).as_datetime(),
        received_at: ctx.received_at().as_datetime(),
        status: model.status.clone(),
        kwh_micro: model.kwh_micro,
        total_cost_micro: model.total_cost_micro,
        applied,
    };
    store::insert_event(ctx.tx, row).await?;
    Ok(())
}

async fn emit(ctx: &mut Ctx<'_>, model: &session::Model) -> Result<(), IngestError> {
    let kwh = model
        .kwh_micro
        .map(|m| crate::domain::Micros(m).to_string());
    let event = NewEvent {
        kind: "SESSION_UPDATED",
        country_code: model.country_code.clone(),
        party_id: model.party_id.clone(),
        location_pk: model.location_pk,
        evse_pk: None,
        session_pk: Some(model.id),
        payload: json!({
            "country_code": model.country_code,
            "party_id": model.party_id,
            "session_id": model.ocpi_id,
            "status": model.status,
            "kwh": kwh,
        }),
    };
    outbox::insert(ctx.tx, event).await?;
    ctx.applied.emitted = true;
    Ok(())
}
