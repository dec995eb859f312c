//! JSON merge rules shared by every module: PATCH merges, older updates fill gaps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::Timestamp;

/// The body as an object; the receiver only hands objects to ingest.
pub fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// Shallow merge of a PATCH (OCPI: a PATCH cannot clear data, so a null is ignored).
pub fn patch(stored: &mut Map<String, Value>, patch: &Map<String, Value>, skip: &[&str]) {
    for (key, value) in patch {
        if value.is_null() || skip.contains(&key.as_str()) {
            continue;
        }
        stored.insert(key.clone(), value.clone());
    }
}

/// Sets only the fields that are still absent (DESIGN.md: older updates fill gaps).
pub fn fill_gaps(stored: &mut Map<String, Value>, older: &Map<String, Value>, skip: &[&str]) {
    for (key, value) in older {
        if value.is_null() || skip.contains(&key.as_str()) {
            continue;
        }
        let absent = stored.get(key).is_none_or(Value::is_null);
        if absent {
            stored.insert(key.clone(), value.clone());
        }
    }
}

/// The object without the given keys (children are stored in their own tables).
pub fn without(value: &Map<String, Value>, skip: &[&str]) -> Map<String, Value> {
    value
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether an update stamped `incoming` is older than what is stored.
/// Without both sender stamps, updates apply in arrival order.
pub fn is_stale(stored: Option<DateTime<Utc>>, incoming: Option<Timestamp>) -> bool {
    match (stored, incoming) {
        (Some(stored), Some(incoming)) => incoming.as_datetime() < stored,
        _ => false,
    }
}

/// Parses stored raw JSON text; a corrupt row reads as an empty object.
pub fn parse_raw(raw: &str) -> Map<String, Value> {
    serde_json::from_str::<Value>(raw)
        .ok()
        .as_ref()
        .map(object)
        .unwrap_or_default()
}

/// The sender stamps behind a merged object: one per field, and the stamp of
/// the newest whole update (PUT). Together they make the merge a
/// last-writer-wins map, so updates with distinct stamps converge to the
/// state of applying them in stamp order, whatever order they arrive in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stamps {
    /// Stamp of the newest whole update: fields written before it are gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put: Option<DateTime<Utc>>,
    /// Stamp of the update that wrote each field.
    #[serde(default)]
    pub fields: BTreeMap<String, DateTime<Utc>>,
}

impl Stamps {
    /// Reads stored stamps; none or corrupt text reads as no stamps.
    pub fn parse(text: Option<&str>) -> Stamps {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    /// The stamps as stored text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// One update of a stamped object.
#[derive(Debug, Clone, Copy)]
pub struct Update<'a> {
    /// The fields sent (for a PUT, the whole object).
    pub body: &'a Map<String, Value>,
    /// The sender's stamp, when it sent one.
    pub at: Option<DateTime<Utc>>,
    /// PUT (replaces) rather than PATCH (merges).
    pub whole: bool,
}

/// Applies an update under last-writer-wins per field; returns whether any
/// field of it was taken. An update older than the newest PUT has no effect
/// (in stamp order that PUT replaced it); a PUT keeps fields written after
/// it, which lets a late PUT complete a session first seen through a PATCH.
/// Without a sender stamp the update applies in arrival order.
pub fn apply_stamped(
    stored: &mut Map<String, Value>,
    stamps: &mut Stamps,
    update: Update<'_>,
) -> bool {
    let Some(at) = update.at else {
        return apply_unstamped(stored, stamps, update);
    };
    if stamps.put.is_some_and(|put| at < put) {
        return false;
    }
    let newer = |stamps: &Stamps, key: &str| stamps.fields.get(key).is_some_and(|s| *s > at);
    let mut taken = false;
    if update.whole {
        stamps.put = Some(at);
        let gone: Vec<String> = stored
            .keys()
            .filter(|k| !update.body.contains_key(*k) && !newer(stamps, k))
            .cloned()
            .collect();
        for key in gone {
            stored.remove(&key);
            stamps.fields.remove(&key);
            taken = true;
        }
    }
    for (key, value) in update.body {
        if newer(stamps, key) || (value.is_null() && !update.whole) {
            continue;
        }
        if value.is_null() {
            stored.remove(key);
        } else {
            stored.insert(key.clone(), value.clone());
        }
        stamps.fields.insert(key.clone(), at);
        taken = true;
    }
    taken
}

fn apply_unstamped(
    stored: &mut Map<String, Value>,
    stamps: &mut Stamps,
    update: Update<'_>,
) -> bool {
    if update.whole {
        *stored = update.body.clone();
        *stamps = Stamps::default();
        return true;
    }
    patch(stored, update.body, &[]);
    for key in update.body.keys() {
        stamps.fields.remove(key);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_ignores_null_and_skipped_keys() {
        let mut stored = object(&json!({"name": "A", "city": "X", "evses": [1]}));
        patch(
            &mut stored,
            &object(&json!({"name": null, "city": "Y", "evses": []})),
            &["evses"],
        );
        assert_eq!(
            Value::Object(stored),
            json!({"name": "A", "city": "Y", "evses": [1]})
        );
    }

    #[test]
    fn fill_gaps_keeps_newer_values() {
        let mut stored = object(&json!({"kwh": 5, "status": "ACTIVE", "end": null}));
        fill_gaps(
            &mut stored,
            &object(&json!({"kwh": 1, "currency": "EUR", "end": "x"})),
            &[],
        );
        assert_eq!(
            Value::Object(stored),
            json!({"kwh": 5, "status": "ACTIVE", "end": "x", "currency": "EUR"})
        );
    }

    fn at(minute: u32) -> Option<DateTime<Utc>> {
        let text = format!("2021-05-09T10:{minute:02}:00Z");
        Some(text.parse().unwrap())
    }

    fn run(updates: &[(Value, u32, bool)]) -> Value {
        let mut stored = Map::new();
        let mut stamps = Stamps::default();
        for (body, minute, whole) in updates {
            let body = object(body);
            let update = Update {
                body: &body,
                at: at(*minute),
                whole: *whole,
            };
            apply_stamped(&mut stored, &mut stamps, update);
        }
        Value::Object(stored)
    }

    #[test]
    fn late_put_fills_gaps_without_undoing_newer_fields() {
        let patch = (json!({"kwh": 5, "status": "ACTIVE"}), 20, false);
        let put = (
            json!({"kwh": 0, "status": "ACTIVE", "auth_id": "A"}),
            10,
            true,
        );
        let expected = json!({"kwh": 5, "status": "ACTIVE", "auth_id": "A"});
        assert_eq!(run(&[patch.clone(), put.clone()]), expected);
        assert_eq!(run(&[put, patch]), expected);
    }

    #[test]
    fn patch_older_than_the_put_is_dropped_in_any_order() {
        let patch = (json!({"total_cost": 1}), 5, false);
        let put = (json!({"kwh": 0}), 10, true);
        assert_eq!(run(&[patch.clone(), put.clone()]), json!({"kwh": 0}));
        assert_eq!(run(&[put, patch]), json!({"kwh": 0}));
    }

    #[test]
    fn newest_write_of_each_field_wins() {
        let a = (json!({"kwh": 1, "meter_id": "m"}), 10, false);
        let b = (json!({"kwh": 2}), 20, false);
        assert_eq!(
            run(&[b.clone(), a.clone()]),
            json!({"kwh": 2, "meter_id": "m"})
        );
        assert_eq!(run(&[a, b]), json!({"kwh": 2, "meter_id": "m"}));
    }
}
