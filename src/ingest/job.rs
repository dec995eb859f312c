//! Pushes and inbox rows as jobs of the group-commit writer (`store::group`).

use futures::future::BoxFuture;
use sea_orm::DatabaseTransaction;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::{apply_in, Applied, IngestError, Push};
use crate::domain::party::key;
use crate::domain::Timestamp;
use crate::ocpi::path::Module;
use crate::store::group::{Job, Step};
use crate::store::inbox::{self, InboxRow};
use crate::store::outbox::NewEvent;
use crate::store::StoreError;

/// A push to apply; answered through `reply` once its writes are committed.
pub(super) struct PushJob {
    push: Push,
    lock_key: String,
    /// The outcome of the latest run, sent once the batch is over.
    result: Option<Result<Applied, IngestError>>,
    reply: oneshot::Sender<Result<Applied, IngestError>>,
    /// The request's span, so that what ingest logs stays with its request.
    span: tracing::Span,
}

impl PushJob {
    pub(super) fn new(push: Push, reply: oneshot::Sender<Result<Applied, IngestError>>) -> Self {
        PushJob {
            lock_key: lock_key(&push),
            push,
            result: None,
            reply,
            span: tracing::Span::current(),
        }
    }
}

impl Job for PushJob {
    fn lock_key(&self) -> &str {
        &self.lock_key
    }

    fn run<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
        events: &'a mut Vec<NewEvent>,
    ) -> BoxFuture<'a, Step> {
        let span = self.span.clone();
        Box::pin(
            async move {
                match apply_in(txn, &self.push, events).await {
                    Ok(applied) => {
                        self.result = Some(Ok(applied));
                        Step::Keep
                    }
                    Err(IngestError::Store(err)) if err.is_conflict() => Step::Conflict(err),
                    Err(err) => {
                        self.result = Some(Err(err));
                        Step::Undo
                    }
                }
            }
            .instrument(span),
        )
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(err), _) => Err(IngestError::Store(err)),
            (Ok(()), None) => Err(IngestError::Store(StoreError::WriterStopped)),
        };
        // A requester that went away no longer needs the answer.
        let _ = self.reply.send(answer);
    }
}

/// The key of the first row a push locks: its module and the (upper-cased)
/// party and id of the object at the top of the URL, which is the location
/// for an EVSE or connector. For a CDR, whose URL has no ids, the body's.
fn lock_key(push: &Push) -> String {
    let module = push.module.name();
    let default_party = push.caller.default_party();
    match push.module {
        Module::Notifications => {
            let (cc, party) = default_party
                .map(|p| (p.country_code.as_str(), p.party_id.as_str()))
                .unwrap_or_default();
            let id = push.ids.first().map(String::as_str).unwrap_or_default();
            format!("{module}/{cc}/{party}/{}", key(id))
        }
        Module::Cdrs => {
            let text = |field: &str| push.body.get(field).and_then(|v| v.as_str());
            let cc = text("country_code").or(default_party.map(|p| p.country_code.as_str()));
            let party = text("party_id").or(default_party.map(|p| p.party_id.as_str()));
            let (cc, party, id) = (
                cc.unwrap_or_default(),
                party.unwrap_or_default(),
                text("id").unwrap_or_default(),
            );
            format!("{module}/{}/{}/{}", key(cc), key(party), key(id))
        }
        _ => {
            let ids: Vec<String> = push.ids.iter().take(3).map(|id| key(id)).collect();
            format!("{module}/{}", ids.join("/"))
        }
    }
}

/// An inbox row written on its own (a refused push).
pub(super) struct InboxJob {
    received_at: Timestamp,
    row: InboxRow,
    result: Option<Result<(), StoreError>>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

impl InboxJob {
    pub(super) fn new(
        received_at: Timestamp,
        row: InboxRow,
        reply: oneshot::Sender<Result<(), StoreError>>,
    ) -> Self {
        InboxJob {
            received_at,
            row,
            result: None,
            reply,
        }
    }
}

impl Job for InboxJob {
    /// Locks nothing; sorts first.
    fn lock_key(&self) -> &str {
        ""
    }

    fn run<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
        _events: &'a mut Vec<NewEvent>,
    ) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            match inbox::insert(txn, self.received_at, self.row.clone()).await {
                Ok(_) => {
                    self.result = Some(Ok(()));
                    Step::Keep
                }
                Err(err) if err.is_conflict() => Step::Conflict(err),
                Err(err) => {
                    self.result = Some(Err(err));
                    Step::Undo
                }
            }
        })
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(err), _) => Err(err),
            (Ok(()), None) => Err(StoreError::WriterStopped),
        };
        let _ = self.reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Party;
    use crate::ingest::Source;
    use crate::ocpi::auth::Caller;
    use axum::http::Method;
    use serde_json::json;

    fn push(module: Module, ids: &[&str], body: serde_json::Value) -> Push {
        Push {
            source: Source::Push,
            method: Method::PUT,
            version: "2.1.1",
            module,
            ids: ids.iter().map(|s| s.to_string()).collect(),
            raw_body: body.to_string(),
            body,
            caller: Caller {
                token_pk: 1,
                parties: vec![Party::new("nl", "gfx")],
                strictness: Default::default(),
            },
            received_at: Timestamp::now(),
            path: String::new(),
            request_id: None,
        }
    }

    #[test]
    fn pushes_under_one_location_share_its_lock_key() {
        let location = push(Module::Locations, &["nl", "gfx", "loc-1"], json!({}));
        let evse = push(Module::Locations, &["NL", "GFX", "LOC-1", "E1"], json!({}));
        let connector = push(
            Module::Locations,
            &["NL", "GFX", "Loc-1", "E1", "1"],
            json!({}),
        );
        assert_eq!(lock_key(&location), "locations/NL/GFX/LOC-1");
        assert_eq!(lock_key(&evse), "locations/NL/GFX/LOC-1");
        assert_eq!(lock_key(&connector), "locations/NL/GFX/LOC-1");
    }

    #[test]
    fn cdrs_and_notifications_are_keyed_by_their_object() {
        let cdr = push(Module::Cdrs, &[], json!({"id": "cdr-9"}));
        assert_eq!(lock_key(&cdr), "cdrs/NL/GFX/CDR-9");
        let named = push(
            Module::Cdrs,
            &[],
            json!({"id": "c", "country_code": "be", "party_id": "bec"}),
        );
        assert_eq!(lock_key(&named), "cdrs/BE/BEC/C");
        let notification = push(Module::Notifications, &["n-1"], json!({}));
        assert_eq!(lock_key(&notification), "notifications/NL/GFX/N-1");
    }
}
