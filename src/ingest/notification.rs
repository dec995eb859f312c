//! GreenFlux ChargeStation notifications: keyed by the URL id, a repeated PUT replaces.

use serde_json::{json, Value};

use super::{check, Ctx, IngestError};
use crate::ocpi::wire::{self, Report};
use crate::store::locations;
use crate::store::notifications::{self as store, NotificationRow};
use crate::store::outbox::NewEvent;

pub(super) async fn apply(ctx: &mut Ctx<'_>) -> Result<(), IngestError> {
    let notification_id = ctx.push.ids[0].clone();
    let party = ctx.push.caller.default_party().cloned().ok_or_else(|| {
        IngestError::ForeignParty("this token has no party to own the notification".into())
    })?;
    let body = &ctx.push.body;
    let mut report = Report::default();
    let parsed = wire::parse_notification(body, &mut report);
    check(&report)?;
    ctx.warn(report);

    let existing = store::find_for_update(
        ctx.tx,
        &party.country_code,
        &party.party_id,
        &notification_id,
    )
    .await?;
    let unchanged = existing
        .as_ref()
        .is_some_and(|m| serde_json::from_str::<Value>(&m.raw).ok().as_ref() == Some(body));
    if unchanged {
        ctx.outcome(false, "not applied: identical to the stored notification");
        return Ok(());
    }
    let created = existing.is_none();
    let row = NotificationRow {
        country_code: party.country_code.clone(),
        party_id: party.party_id.clone(),
        notification_id: notification_id.clone(),
        charge_station_notification_id: parsed.charge_station_notification_id,
        charge_station_id: parsed.charge_station_id,
        evse_id: parsed.evse_id,
        location_id: parsed.location_id,
        message_action: parsed.message_action,
        message_type: parsed.message_type,
        direction: parsed.direction,
        level: parsed.level,
        created: parsed.created.map(|t| t.as_datetime()),
        payload: parsed.payload,
        payload_json: parsed.payload_json.map(|v| v.to_string()),
        received_at: ctx.received_at().as_datetime(),
        raw: body.to_string(),
    };
    let location = match &row.location_id {
        Some(id) => locations::find(ctx.tx, &party.country_code, &party.party_id, id).await?,
        None => None,
    };
    let payload = json!({
        "country_code": party.country_code,
        "party_id": party.party_id,
        "notification_id": notification_id,
        "location_id": row.location_id,
        "evse_id": row.evse_id,
        "charge_station_id": row.charge_station_id,
        "level": row.level,
        "message_action": row.message_action,
    });
    store::save(ctx.tx, existing, row).await?;
    let event = NewEvent {
        kind: "NOTIFICATION_RECEIVED",
        country_code: party.country_code.clone(),
        party_id: party.party_id.clone(),
        location_pk: location.as_ref().map(|l| l.id),
        evse_pk: None,
        session_pk: None,
        payload: super::place::with(payload, super::place::fields(location.as_ref())),
    };
    ctx.emit(event);
    let message = if created {
        "notification stored"
    } else {
        "notification replaced"
    };
    ctx.outcome(created, message);
    Ok(())
}
