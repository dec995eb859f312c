//! What the request hooks (`hooks`) feed `telemetry::metrics` with: open
//! subscriptions and the events they deliver (operations are timed in the
//! hooks' `execute`).

use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::Response;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::telemetry::metrics::{Metrics, SubscriptionGuard};

/// Counts one subscription stream: open while the stream lives, and each
/// event delivered under the root field `field` names once the document is
/// parsed (it stays `None` for a query answered once).
pub fn count_subscription<'s>(
    metrics: Metrics,
    field: Arc<Mutex<Option<String>>>,
    stream: BoxStream<'s, Response>,
) -> BoxStream<'s, Response> {
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

/// The root field of the document's subscription, when it has one.
pub fn subscription_field(document: &ExecutableDocument) -> Option<String> {
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
