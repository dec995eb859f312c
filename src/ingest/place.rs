//! Where an event happened, written into its outbox payload so that
//! subscriptions can filter by city and area without reading the database.

use entity::location;
use serde_json::{Map, Value};

use super::{Ctx, IngestError};
use crate::store::read;

/// The payload fields of a location's place: city, latitude, longitude (degrees).
pub(crate) fn fields(location: Option<&location::Model>) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("city".into(), location.and_then(|l| l.city.clone()).into());
    fields.insert(
        "latitude".into(),
        location.and_then(|l| l.latitude_deg).into(),
    );
    fields.insert(
        "longitude".into(),
        location.and_then(|l| l.longitude_deg).into(),
    );
    fields
}

/// The place fields of the location with this row id, when there is one.
pub(crate) async fn fields_of(
    ctx: &Ctx<'_>,
    location_pk: Option<i64>,
) -> Result<Map<String, Value>, IngestError> {
    let location = match location_pk {
        Some(pk) => read::locations_by_pk(ctx.tx, &[pk])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    Ok(fields(location.as_ref()))
}

/// Adds the place fields to an object payload.
pub(crate) fn with(mut payload: Value, place: Map<String, Value>) -> Value {
    if let Value::Object(map) = &mut payload {
        map.extend(place);
    }
    payload
}
