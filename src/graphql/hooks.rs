//! What every request goes through around async-graphql's execution:
//! persisted queries, parsing with its error code, the HTTP method check, the
//! introspection switch, the error codes of the answer, and metrics.
//!
//! These are plain steps before and after `Schema::execute`, not an
//! async-graphql extension: with any extension registered, async-graphql
//! runs every field and every list item through the extension chain (a
//! registry lookup and a type-name string per field), which on the status
//! board, 5,000 fields, cost more than the resolvers. No hook here is per
//! field. The schema keeps the hooks' settings in its data (`build_schema`).
//!
//! Front ends send the same few documents over and over, and parsing one
//! (async-graphql's PEG parser) cost a tenth of a one-location request, so
//! parsed documents are kept by their text in a small LRU.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{Data, Request, Response, ServerError, ServerResult};
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use lru::LruCache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::http::{self, Transport};
use super::{error, metrics, AppSchema};
use crate::telemetry::metrics::Metrics;

/// The hooks' settings, kept in the schema's data.
#[derive(Clone)]
pub struct Hooks {
    /// Where operations and subscriptions are counted.
    pub metrics: Metrics,
    /// The automatic persisted queries, by SHA-256 of their text.
    pub persisted: LruCacheStorage,
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
    /// Documents parsed before, by their text.
    pub documents: Documents,
}

/// How many parsed documents are kept.
const DOCUMENTS_KEPT: NonZeroUsize = NonZeroUsize::new(256).unwrap();

/// Longer documents are parsed each time, not kept: this and
/// `DOCUMENTS_KEPT` bound the cache's memory to a few MiB.
const DOCUMENT_TEXT_KEPT: usize = 8 * 1024;

/// Parsed documents by their text, the least recently used dropped first.
///
/// Not async-graphql's `LruCacheStorage`: its lookups take the key by value,
/// a copy of the text on every request, under an async lock.
#[derive(Clone)]
pub struct Documents(Arc<Mutex<LruCache<String, ExecutableDocument>>>);

impl Documents {
    fn new() -> Self {
        Documents(Arc::new(Mutex::new(LruCache::new(DOCUMENTS_KEPT))))
    }

    /// The document parsed before from `text`, if still kept.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        // A poisoned lock only costs the cache: parse again.
        self.0.lock().ok()?.get(text).cloned()
    }

    fn keep(&self, text: &str, doc: ExecutableDocument) {
        if let Ok(mut kept) = self.0.lock() {
            kept.put(text.to_owned(), doc);
        }
    }
}

/// Parses a document, its errors coded GRAPHQL_PARSE_FAILED.
fn parse(text: &str) -> ServerResult<ExecutableDocument> {
    async_graphql::parser::parse_query(text).map_err(|e| error::parse_failed(e.into()))
}

/// The `persistedQuery` request extension (Apollo's automatic persisted queries).
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// A request made ready to execute: its document parsed and checked.
struct Prepared {
    request: Request,
    /// The name of the operation it runs, when it has one.
    operation: Option<String>,
    /// The root field of its subscription, when it opens one.
    subscription: Option<String>,
}

impl Hooks {
    /// The hooks with their caches empty.
    pub fn new(metrics: Metrics, persisted_kept: usize, introspection: bool) -> Self {
        Hooks {
            metrics,
            persisted: LruCacheStorage::new(persisted_kept.max(1)),
            introspection,
            documents: Documents::new(),
        }
    }

    /// Apollo's automatic persisted queries, version 1: a hash alone runs the
    /// query registered under it; a query with its hash registers it.
    async fn persisted_query(&self, request: Request) -> ServerResult<Request> {
        let mut request = request;
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(request);
        };
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None)
        })?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                format!(
                    "Only the \"PersistedQuery\" extension of version \"1\" is supported, \
                     and the current version is \"{}\".",
                    persisted.version
                ),
                None,
            ));
        }
        if request.query.is_empty() {
            let Some(doc) = self.persisted.get(persisted.sha256_hash).await else {
                return Err(ServerError::new("PersistedQueryNotFound", None));
            };
            request.set_parsed_query(doc);
            return Ok(request);
        }
        let hash = format!("{:x}", Sha256::digest(request.query.as_bytes()));
        if persisted.sha256_hash != hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let doc = parse(&request.query)?;
        self.persisted.set(hash, doc.clone()).await;
        request.query = String::new();
        request.set_parsed_query(doc);
        Ok(request)
    }

    /// Gives the request the document parsed before from the same text, or
    /// parses it and keeps it. A request whose document is already parsed
    /// (a persisted query: its text is empty) or too long to keep is left
    /// to `Request::parsed_query`.
    async fn reuse_document(&self, request: &mut Request) -> ServerResult<()> {
        if request.query.is_empty() || request.query.len() > DOCUMENT_TEXT_KEPT {
            return Ok(());
        }
        let doc = match self.documents.get(&request.query) {
            Some(doc) => doc,
            None => {
                let doc = parse(&request.query)?;
                self.documents.keep(&request.query, doc.clone());
                doc
            }
        };
        request.set_parsed_query(doc);
        Ok(())
    }

    /// Resolves a persisted query, parses the document and checks it
    /// against the switches and the transport (`None`: not over HTTP).
    async fn prepare(
        &self,
        request: Request,
        transport: Option<&Transport>,
    ) -> ServerResult<Prepared> {
        let mut request = self.persisted_query(request).await?;
        self.reuse_document(&mut request).await?;
        let named = request.operation_name.clone();
        let document = request.parsed_query().map_err(error::parse_failed)?;
        if !self.introspection {
            error::refuse_introspection(document)?;
        }
        if let Some(transport) = transport {
            http::check_method(transport, document)?;
        }
        let subscription = metrics::subscription_field(document);
        let operation = match (named, &document.operations) {
            (Some(name), _) => Some(name),
            (None, DocumentOperations::Multiple(named)) if named.len() == 1 => {
                named.keys().next().map(|name| name.to_string())
            }
            (None, _) => None,
        };
        Ok(Prepared {
            request,
            operation,
            subscription,
        })
    }
}

/// The hooks of a schema built by `build_schema`; a schema built otherwise
/// (none in this crate) runs with introspection on and throwaway metrics.
fn hooks_of(schema: &AppSchema) -> Hooks {
    schema
        .data::<Hooks>()
        .cloned()
        .unwrap_or_else(|| Hooks::new(Metrics::new(), 1, true))
}

/// Executes a query or mutation (`transport`: how it came over HTTP, if it
/// did), and answers with every error coded. An executed operation is
/// counted and timed; a document refused before execution is not.
pub async fn execute(
    schema: &AppSchema,
    request: Request,
    transport: Option<&Transport>,
) -> Response {
    let hooks = hooks_of(schema);
    let started = Instant::now();
    let prepared = match hooks.prepare(request, transport).await {
        Ok(prepared) => prepared,
        Err(err) => return error::with_codes(Response::from_errors(vec![err])),
    };
    let response = schema.execute(prepared.request).await;
    if !error::is_request_error(&response) {
        let ok = response.errors.is_empty();
        let operation = prepared.operation.as_deref();
        hooks
            .metrics
            .graphql_operation(operation, ok, started.elapsed());
    }
    error::with_codes(response)
}

/// Runs a document over WebSocket: a subscription's stream of responses,
/// counted while open, or a query's one response.
pub fn subscribe(
    schema: &AppSchema,
    request: Request,
    session: std::sync::Arc<Data>,
) -> BoxStream<'static, Response> {
    let schema = schema.clone();
    stream::once(async move {
        let hooks = hooks_of(&schema);
        match hooks.prepare(request, None).await {
            Ok(Prepared {
                request,
                subscription,
                ..
            }) => {
                let responses = schema.execute_stream_with_session_data(request, session);
                match subscription {
                    Some(field) => metrics::count_subscription(hooks.metrics, field, responses),
                    None => responses,
                }
            }
            Err(err) => stream::once(async move { Response::from_errors(vec![err]) }).boxed(),
        }
    })
    .flatten()
    .boxed()
}
