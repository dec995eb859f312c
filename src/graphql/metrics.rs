//! The async-graphql extension that feeds `telemetry::metrics`: operations
//! by name with latency, open subscriptions and the events they deliver.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::{Response, ServerResult, Variables};
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::telemetry::metrics::{Metrics, SubscriptionGuard};

/// Registers the metrics extension on a schema.
pub struct GraphqlMetrics(pub Metrics);

impl ExtensionFactory for GraphqlMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            metrics: self.0.clone(),
            subscription: Arc::new(Mutex::new(None)),
        })
    }
}

/// One request's extension: remembers, once parsed, the subscription field
/// it opened (`None` for queries).
struct PerRequest {
    metrics: Metrics,
    subscription: Arc<Mutex<Option<String>>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(field) = subscription_field(&document) {
            if let Ok(mut slot) = self.subscription.lock() {
                *slot = Some(field);
            }
        }
        Ok(document)
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
        let metrics = self.metrics.clone();
        let field = self.subscription.clone();
        let mut open: Option<SubscriptionGuard> = None;
        let mut inner = stream;
        futures::stream::poll_fn(move |cx| {
            let polled = inner.poll_next_unpin(cx);
            // The document is parsed during the first poll; from then on the
            // stream is a subscription (or a query answered once).
            let name = field.lock().ok().and_then(|f| f.clone());
            if let Some(name) = &name {
                if open.is_none() {
                    open = Some(metrics.subscription_opened());
                }
                if let std::task::Poll::Ready(Some(response)) = &polled {
                    if response.errors.is_empty() {
                        metrics.events_delivered(name, 1);
                    }
                }
            }
            polled
        })
        .boxed()
    }
}

/// The root field of the document's subscription, when it has one.
fn subscription_field(document: &ExecutableDocument) -> Option<String> {
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    let op = operations
        .into_iter()
        .find(|op| op.node.ty == OperationType::Subscription)?;
    op.node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
}
