//! CDRs: immutable, idempotent on an identical re-POST, credit CDRs linked to
//! the one they correct, and stored with their snapshot when the location is unknown.

use serde_json::{json, Value};

use super::{check, Ctx, IngestError};
use crate::ocpi::wire::{self, Mode, Report};
use crate::store::cdrs::{self as store, CdrRow};
use crate::store::locations;
use crate::store::outbox::NewEvent;
use entity::cdr;

pub(super) async fn apply(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    let body = &ctx.push.body;
    let mut report = Report::default();
    let parsed = wire::parse_cdr(body, Mode::Whole, &mut report);
    check(&report)?;
    let id = parsed
        .id
        .clone()
        .ok_or_else(|| IngestError::Invalid("$.id: missing; a CDR needs its id".into()))?;
    let (cc, party) = owner(
        ctx,
        parsed.country_code.as_deref(),
        parsed.party_id.as_deref(),
    )?;
    super::require_party(ctx, &cc, &party)?;
    ctx.warn(report);
    ctx.applied.cdr_key = Some((cc.clone(), party.clone(), id.clone()));

    if let Some(stored) = store::find(ctx.tx, &cc, &party, &id).await? {
        let stored_value: Value = serde_json::from_str(&stored.raw).unwrap_or(Value::Null);
        if &stored_value == body || same_record(&stored, &parsed) {
            let key = (stored.country_code, stored.party_id, stored.ocpi_id);
            ctx.applied.cdr_key = Some(key);
            ctx.outcome(false, "not applied: identical CDR already stored");
            return Ok(());
        }
        return Err(IngestError::Invalid(format!(
            "$: CDR {id:?} is already stored with other content; CDRs are immutable"
        )));
    }
    let master = match &parsed.location_id {
        Some(location_id) => locations::find(ctx.tx, &cc, &party, location_id).await?,
        None => None,
    };
    if let Some(warning) = master
        .as_ref()
        .and_then(|m| super::location::swapped_coordinates(body, m))
    {
        ctx.applied.warnings.push(warning);
    }
    if let (None, Some(location_id)) = (&master, &parsed.location_id) {
        ctx.applied.unknown_location = Some((cc.clone(), party.clone(), location_id.clone()));
    }
    let location_pk = master.map(|m| m.id);
    let credit_of_pk = match &parsed.credit_reference_id {
        Some(original) => store::find(ctx.tx, &cc, &party, original)
            .await?
            .map(|m| m.id),
        None => None,
    };
    let row = CdrRow {
        country_code: cc.clone(),
        party_id: party.clone(),
        ocpi_id: id.clone(),
        session_id: parsed.session_id,
        location_id: parsed.location_id,
        evse_uid: parsed.evse_uid,
        connector_id: parsed.connector_id,
        location_pk,
        start_date_time: parsed.start_date_time.map(|t| t.as_datetime()),
        end_date_time: parsed.end_date_time.map(|t| t.as_datetime()),
        auth_id: parsed.auth_id,
        auth_method: parsed.auth_method,
        token_uid: parsed.token_uid,
        currency: parsed.currency,
        total_cost_micro: parsed.total_cost.map(|m| m.0),
        total_cost_incl_vat_micro: parsed.total_cost_incl_vat.map(|m| m.0),
        total_energy_micro: parsed.total_energy.map(|m| m.0),
        total_time_micro: parsed.total_time.map(|m| m.0),
        total_parking_time_micro: parsed.total_parking_time.map(|m| m.0),
        tariff_ids: parsed.tariff_ids,
        credit: parsed.credit.unwrap_or(false),
        credit_reference_id: parsed.credit_reference_id,
        credit_of_pk,
        last_updated: parsed.last_updated.map(|t| t.as_datetime()),
        received_at: ctx.received_at().as_datetime(),
        raw: body.to_string(),
    };
    let model = store::insert(ctx.tx, row).await?;
    let place = super::place::fields_of(ctx, model.location_pk).await?;
    let payload = json!({
        "country_code": cc, "party_id": party, "cdr_id": id,
        "session_id": model.session_id, "location_id": model.location_id,
        "evse_uid": model.evse_uid,
    });
    let event = NewEvent {
        kind: "CDR_RECEIVED",
        country_code: cc.clone(),
        party_id: party.clone(),
        location_pk: model.location_pk,
        evse_pk: None,
        session_pk: None,
        payload: super::place::with(payload, place),
    };
    ctx.emit(event);
    ctx.outcome(true, "CDR stored");
    Ok(())
}

/// Whether a CDR says what the stored one says, whatever its shape: the same
/// CDR pulled in OCPI 2.2.1 after it was pushed in GreenFlux's 2.1.1, or
/// rendered with other key order or number spellings. Every field both
/// carry is equal (one carrying a field the other lacks is no conflict, as
/// the versions name different fields), and so are the credit flag and the
/// tariffs when both list some.
fn same_record(stored: &cdr::Model, new: &wire::Cdr) -> bool {
    fn agree<T: PartialEq>(stored: Option<T>, new: Option<T>) -> bool {
        match (stored, new) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
    let at = |t: Option<crate::domain::Timestamp>| t.map(|t| t.as_datetime());
    let micros = |m: Option<crate::domain::amount::Micros>| m.map(|m| m.0);
    let stored_tariffs: Vec<String> = serde_json::from_str(&stored.tariff_ids).unwrap_or_default();
    let tariffs_agree =
        stored_tariffs.is_empty() || new.tariff_ids.is_empty() || stored_tariffs == new.tariff_ids;
    agree(stored.session_id.as_deref(), new.session_id.as_deref())
        && agree(stored.location_id.as_deref(), new.location_id.as_deref())
        && agree(stored.evse_uid.as_deref(), new.evse_uid.as_deref())
        && agree(stored.connector_id.as_deref(), new.connector_id.as_deref())
        && agree(stored.start_date_time, at(new.start_date_time))
        && agree(stored.end_date_time, at(new.end_date_time))
        && agree(stored.auth_id.as_deref(), new.auth_id.as_deref())
        && agree(stored.auth_method.as_deref(), new.auth_method.as_deref())
        && agree(stored.token_uid.as_deref(), new.token_uid.as_deref())
        && agree(stored.currency.as_deref(), new.currency.as_deref())
        && agree(stored.total_cost_micro, micros(new.total_cost))
        && agree(
            stored.total_cost_incl_vat_micro,
            micros(new.total_cost_incl_vat),
        )
        && agree(stored.total_energy_micro, micros(new.total_energy))
        && agree(stored.total_time_micro, micros(new.total_time))
        && agree(
            stored.total_parking_time_micro,
            micros(new.total_parking_time),
        )
        && agree(stored.last_updated, at(new.last_updated))
        && stored.credit == new.credit.unwrap_or(false)
        && agree(
            stored.credit_reference_id.as_deref(),
            new.credit_reference_id.as_deref(),
        )
        && tariffs_agree
}

/// A 2.2.1 CDR names its party; a 2.1.1 CDR belongs to the token's default party.
fn owner(
    ctx: &Ctx<'_>,
    country_code: Option<&str>,
    party_id: Option<&str>,
) -> Result<(String, String), IngestError> {
    if let (Some(cc), Some(party)) = (country_code, party_id) {
        return Ok((cc.to_owned(), party.to_owned()));
    }
    let party = ctx.push.caller.default_party().ok_or_else(|| {
        IngestError::ForeignParty("this token has no party to own the CDR".into())
    })?;
    Ok((party.country_code.clone(), party.party_id.clone()))
}
