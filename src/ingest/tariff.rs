//! Tariffs: PUT replaces, PATCH merges (OCPI 2.1.1 only; the router answers 405
//! on 2.2.1), DELETE is a soft delete so CDRs can still name the tariff.

use axum::http::Method;
use entity::tariff;
use serde_json::{Map, Value};

use super::location::check_id;
use super::merge::{self, is_stale};
use super::{check, check_patch_stamp, require_party, Ctx, IngestError};
use crate::ocpi::wire::{self, Mode, Report};
use crate::store::tariffs::{self as store, TariffRow};

/// The URL ids of a tariff push.
struct Url<'a> {
    country_code: &'a str,
    party_id: &'a str,
    tariff_id: &'a str,
}

pub(super) async fn apply(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    let ids = &ctx.push.ids;
    let url = Url {
        country_code: &ids[0],
        party_id: &ids[1],
        tariff_id: &ids[2],
    };
    require_party(ctx, url.country_code, url.party_id)?;
    let existing =
        store::find_for_update(ctx.tx, url.country_code, url.party_id, url.tariff_id).await?;
    if ctx.push.method == Method::DELETE {
        return delete(ctx, &url, existing).await;
    }
    let body = merge::object(&ctx.push.body);
    let patch = ctx.push.method == Method::PATCH;
    if patch {
        check_patch_stamp(ctx, &body)?;
    }
    let live = existing.filter(|m| m.deleted_at.is_none() || !patch);
    if patch && live.is_none() {
        return Err(unknown(url.tariff_id));
    }
    upsert(ctx, &url, live, &body, patch).await
}

async fn upsert(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    existing: Option<tariff::Model>,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<(), IngestError> {
    let mode = if patch { Mode::Patch } else { Mode::Whole };
    let mut report = Report::default();
    let parsed = wire::parse_tariff(&Value::Object(body.clone()), mode, &mut report);
    check(&report)?;
    check_id("$.id", parsed.id.as_deref(), url.tariff_id)?;
    check_id(
        "$.country_code",
        parsed.country_code.as_deref(),
        url.country_code,
    )?;
    check_id("$.party_id", parsed.party_id.as_deref(), url.party_id)?;
    ctx.warn(report);

    let stale = is_stale(
        existing.as_ref().and_then(|m| m.last_updated),
        parsed.last_updated,
    );
    let was_deleted = existing.as_ref().is_some_and(|m| m.deleted_at.is_some());
    let stored = existing.as_ref().map(|m| merge::parse_raw(&m.raw));
    let mut raw = stored.clone().unwrap_or_default();
    if stale {
        merge::fill_gaps(&mut raw, body, &[]);
    } else if patch {
        merge::patch(&mut raw, body, &[]);
    } else {
        raw = body.clone();
    }
    let created = existing.is_none();
    let changed = was_deleted || stored.as_ref() != Some(&raw);
    if changed {
        store::save(ctx.tx, existing, tariff_row(ctx, url, &raw)).await?;
    }
    let message = match (stale, created, changed) {
        (true, ..) => "not applied: older than the stored tariff; absent fields filled",
        (_, true, _) => "tariff created",
        (_, _, true) => "tariff updated",
        _ => "not applied: identical to the stored tariff",
    };
    ctx.outcome(created, message);
    Ok(())
}

async fn delete(
    ctx: &mut Ctx<'_>,
    url: &Url<'_>,
    existing: Option<tariff::Model>,
) -> Result<(), IngestError> {
    let model = existing.ok_or_else(|| unknown(url.tariff_id))?;
    if model.deleted_at.is_some() {
        ctx.outcome(false, "not applied: the tariff is already deleted");
        return Ok(());
    }
    store::soft_delete(ctx.tx, model, ctx.received_at().as_datetime()).await?;
    ctx.outcome(false, "tariff deleted");
    Ok(())
}

fn tariff_row(ctx: &Ctx<'_>, url: &Url<'_>, raw: &Map<String, Value>) -> TariffRow {
    let mut scratch = Report::default();
    let parsed = wire::parse_tariff(&Value::Object(raw.clone()), Mode::Whole, &mut scratch);
    TariffRow {
        country_code: url.country_code.to_owned(),
        party_id: url.party_id.to_owned(),
        ocpi_id: url.tariff_id.to_owned(),
        currency: parsed.currency,
        tariff_type: parsed.tariff_type,
        start_date_time: parsed.start_date_time.map(|t| t.as_datetime()),
        end_date_time: parsed.end_date_time.map(|t| t.as_datetime()),
        last_updated: parsed.last_updated.map(|t| t.as_datetime()),
        received_at: ctx.received_at().as_datetime(),
        raw: Value::Object(raw.clone()).to_string(),
    }
}

fn unknown(tariff_id: &str) -> IngestError {
    IngestError::UnknownLocation(format!("unknown tariff {tariff_id:?}"))
}
