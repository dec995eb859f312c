//! Pulled objects go through the receiver's own steps: each becomes a PUT of
//! the object at its receiver URL (a POST for a CDR), applied with a caller
//! for the CPO's parties and recorded in the inbox with source `pull`. The
//! stale guard applies as to any push, and an object already current is
//! acknowledged "not applied" and emits nothing.

use std::collections::HashSet;

use axum::http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use super::report::ModuleReport;
use crate::domain::party::key;
use crate::domain::{Party, Timestamp};
use crate::events::Events;
use crate::ingest::{Applied, Push, Source};
use crate::ocpi::auth::Caller;
use crate::ocpi::path::Module;
use crate::ocpi::routes::apply_push;
use crate::ocpi::OcpiError;
use crate::store::{sessions, Store, StoreError};

/// Characters a URL segment keeps as they are (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Pulled objects applied at once (each still in its own savepoint).
const IN_FLIGHT: usize = 32;

/// Applies the objects of one module and counts what became of them.
pub struct Applier<'a> {
    store: &'a Store,
    events: &'a Events,
    caller: &'a Caller,
    version: &'static str,
    module: Module,
    /// GreenFlux serves completed sessions without their charging periods.
    sessions_without_periods: bool,
    request_id: String,
    seen: HashSet<(String, Option<String>)>,
    /// What became of the objects so far.
    pub report: ModuleReport,
}

/// Which pull an applier belongs to.
pub struct Pull<'a> {
    /// The database.
    pub store: &'a Store,
    /// Woken after each commit that emitted events.
    pub events: &'a Events,
    /// The CPO's parties.
    pub caller: &'a Caller,
    /// The receiver version the objects are applied as.
    pub version: &'static str,
    /// Whether sessions come without charging periods (GreenFlux).
    pub sessions_without_periods: bool,
    /// The run's row, named in the inbox rows' request id.
    pub run_id: i64,
}

impl<'a> Applier<'a> {
    /// An applier of one module's objects.
    pub fn new(pull: &Pull<'a>, module: Module) -> Applier<'a> {
        Applier {
            store: pull.store,
            events: pull.events,
            caller: pull.caller,
            version: pull.version,
            module,
            sessions_without_periods: pull.sessions_without_periods,
            request_id: format!("reconcile-{}", pull.run_id),
            seen: HashSet::new(),
            report: ModuleReport::new(module.name()),
        }
    }

    /// Applies one page of objects; objects without their own party belong
    /// to `owner`, or else to the CPO's first party.
    pub async fn apply_page(
        &mut self,
        items: Vec<Value>,
        owner: Option<&Party>,
    ) -> Result<(), StoreError> {
        let mut pushes = Vec::with_capacity(items.len());
        for item in items {
            if let Some(push) = self.prepare(item, owner).await? {
                pushes.push(push);
            }
        }
        // Applied together, so that the group-commit writers commit them in
        // a few transactions rather than one each; a page holds distinct
        // objects (or versions, which the stale guard orders).
        for chunk in pushes.chunks(IN_FLIGHT) {
            let applying = chunk.iter().map(|p| apply_push(self.store, self.events, p));
            for applied in futures::future::join_all(applying).await {
                self.count(applied);
            }
        }
        Ok(())
    }

    /// Applies one object; says whether ingest accepted it.
    pub async fn apply_one(
        &mut self,
        body: Value,
        owner: Option<&Party>,
    ) -> Result<bool, StoreError> {
        let failed_before = self.report.failed;
        match self.prepare(body, owner).await? {
            Some(push) => {
                let applied = apply_push(self.store, self.events, &push).await;
                Ok(self.count(applied))
            }
            // Seen before in this run (accepted then), or not applicable.
            None => Ok(self.report.failed == failed_before),
        }
    }

    /// The push of a pulled object, counted as fetched; `None` for an
    /// object seen before in this run, or one that cannot be put anywhere
    /// (counted as failed).
    async fn prepare(
        &mut self,
        body: Value,
        owner: Option<&Party>,
    ) -> Result<Option<Push>, StoreError> {
        let (push, object_key) = match self.push_for(body, owner) {
            Ok(found) => found,
            Err(why) => {
                tracing::warn!(ocpi.module = self.module.name(), reason = %why, "pulled object skipped");
                self.report.fetched += 1;
                self.report.failed += 1;
                return Ok(None);
            }
        };
        let stamp = push.body.get("last_updated").and_then(Value::as_str);
        let identity = (object_key, stamp.map(str::to_owned));
        if !self.seen.insert(identity) {
            // The same version again (overlapping windows, a step back).
            return Ok(None);
        }
        self.report.fetched += 1;
        Ok(Some(self.method_for(push).await?))
    }

    fn count(&mut self, applied: Result<Applied, OcpiError>) -> bool {
        match applied {
            Ok(a) if a.created => self.report.missing += 1,
            Ok(a) if a.message.starts_with("not applied") => self.report.unchanged += 1,
            Ok(_) => self.report.updated += 1,
            Err(err) => {
                tracing::warn!(ocpi.module = self.module.name(), error = %err, "pulled object refused");
                self.report.failed += 1;
                return false;
            }
        }
        true
    }

    /// A GreenFlux session comes without charging periods, which a PUT would
    /// clear: one we already have is PATCHed instead (its periods kept).
    async fn method_for(&self, mut push: Push) -> Result<Push, StoreError> {
        if self.module != Module::Sessions || !self.sessions_without_periods {
            return Ok(push);
        }
        let [cc, party, id] = push.ids.as_slice() else {
            return Ok(push);
        };
        if sessions::find(self.store.db(), cc, party, id)
            .await?
            .is_some()
        {
            push.method = Method::PATCH;
        }
        Ok(push)
    }

    /// The push that delivers `body` to its receiver URL, and the object's
    /// case-insensitive key.
    fn push_for(&self, body: Value, owner: Option<&Party>) -> Result<(Push, String), String> {
        let id = self.id_of(&body)?;
        let party = party_of(&body)
            .or_else(|| owner.cloned())
            .or_else(|| self.caller.default_party().cloned())
            .ok_or("no party to own the object")?;
        let object_key = format!("{party}/{}", key(&id));
        let (method, ids) = match self.module {
            Module::Cdrs => (Method::POST, Vec::new()),
            Module::Notifications => (Method::PUT, vec![id]),
            _ => (Method::PUT, vec![party.country_code, party.party_id, id]),
        };
        let mut path = format!("/ocpi/{}/{}", self.version, self.module.name());
        for segment in &ids {
            path.push('/');
            path.extend(utf8_percent_encode(segment, SEGMENT));
        }
        let push = Push {
            source: Source::Pull,
            method,
            version: self.version,
            module: self.module,
            ids,
            raw_body: body.to_string(),
            body,
            caller: self.caller.clone(),
            received_at: Timestamp::now(),
            path,
            request_id: Some(self.request_id.clone()),
        };
        Ok((push, object_key))
    }

    /// The object's id; a GreenFlux notification's is its `id`, else its
    /// `charge_station_notification_id`.
    fn id_of(&self, body: &Value) -> Result<String, String> {
        if !body.is_object() {
            return Err(format!("not a JSON object: {body}"));
        }
        let mut names = vec!["id"];
        if self.module == Module::Notifications {
            names.push("charge_station_notification_id");
        }
        names
            .iter()
            .find_map(|name| match body.get(*name)? {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| format!("no {} in the object", names.join(" or ")))
    }
}

/// The party a (2.2.1) object names itself.
fn party_of(body: &Value) -> Option<Party> {
    let cc = body.get("country_code")?.as_str()?;
    let party = body.get("party_id")?.as_str()?;
    (!cc.is_empty() && !party.is_empty()).then(|| Party {
        country_code: key(cc),
        party_id: key(party),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_unreserved_characters_and_encode_the_rest() {
        let encoded: String = utf8_percent_encode("BE*BEC-E041/1 x", SEGMENT).collect();
        assert_eq!(encoded, "BE%2ABEC-E041%2F1%20x");
    }

    #[test]
    fn an_object_names_its_own_party_only_with_both_parts() {
        let body = serde_json::json!({"country_code": "be", "party_id": "bec"});
        assert_eq!(party_of(&body), Some(Party::new("BE", "BEC")));
        assert_eq!(party_of(&serde_json::json!({"country_code": "BE"})), None);
    }
}
