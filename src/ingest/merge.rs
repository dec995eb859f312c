//! JSON merge rules shared by every module: PATCH merges, older updates fill gaps.

use chrono::{DateTime, Utc};
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
}
