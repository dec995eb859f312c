//! The schema's one extension: every request-level hook (persisted queries,
//! error codes, the HTTP method check, the introspection switch, metrics).
//!
//! They are one extension, not five, because async-graphql runs each field
//! through every registered extension's `resolve` (a boxed future per
//! extension per field) as soon as there is any extension: on the status
//! board, 5,000 fields, that chain cost more than the resolvers. No hook here
//! is per field.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextSubscribe, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use futures::stream::BoxStream;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{error, http, metrics};
use crate::telemetry::metrics::Metrics;

/// Registers the request hooks on a schema.
pub struct RequestHooks {
    /// Where operations and subscriptions are counted.
    pub metrics: Metrics,
    /// The automatic persisted queries, by SHA-256 of their text.
    pub persisted: LruCacheStorage,
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
}

impl ExtensionFactory for RequestHooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            metrics: self.metrics.clone(),
            persisted: self.persisted.clone(),
            introspection: self.introspection,
            subscription: Arc::new(Mutex::new(None)),
        })
    }
}

/// One request's hooks: remembers, once parsed, the subscription field it
/// opened (`None` for queries).
struct PerRequest {
    metrics: Metrics,
    persisted: LruCacheStorage,
    introspection: bool,
    subscription: Arc<Mutex<Option<String>>>,
}

/// The `persistedQuery` request extension (Apollo's automatic persisted queries).
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl PerRequest {
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
        let doc = async_graphql::parser::parse_query(&request.query)?;
        self.persisted.set(hash, doc.clone()).await;
        request.query = String::new();
        request.set_parsed_query(doc);
        Ok(request)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = self.persisted_query(request).await?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(error::parse_failed)?;
        if !self.introspection {
            error::refuse_introspection(&document)?;
        }
        http::check_method(ctx, &document)?;
        if let Some(field) = metrics::subscription_field(&document) {
            if let Ok(mut slot) = self.subscription.lock() {
                *slot = Some(field);
            }
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(error::validation_failed)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let response = next.run(ctx, operation_name).await;
        let ok = response.errors.is_empty();
        self.metrics
            .graphql_operation(operation_name, ok, started.elapsed());
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let stream = next.run(ctx, stream);
        metrics::count_subscription(self.metrics.clone(), self.subscription.clone(), stream)
    }
}
