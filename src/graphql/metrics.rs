//! What the request hooks (`hooks`) feed `telemetry::metrics` with: open
//! subscriptions and the events they deliver (operations are timed in the
//! hooks' `execute`).

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection,
};
use async_graphql::Response;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::telemetry::metrics::{Metrics, SubscriptionGuard};

/// Counts the stream of a subscription on the root field `field`: open
/// while the stream lives, and each event it delivers.
pub fn count_subscription<'s>(
    metrics: Metrics,
    field: String,
    stream: BoxStream<'s, Response>,
) -> BoxStream<'s, Response> {
    let open: SubscriptionGuard = metrics.subscription_opened();
    let mut inner = stream;
    futures::stream::poll_fn(move |cx| {
        // Held by the stream: the subscription counts as open while it lives.
        let _open = &open;
        let polled = inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(response)) = &polled {
            if response.errors.is_empty() {
                metrics.events_delivered(&field, 1);
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
