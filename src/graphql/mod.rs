//! The GraphQL schema: queries, subscriptions, scalars.
//! (Placeholder until the graphql branch lands.)

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use axum::Router;

use crate::events::Events;
use crate::store::Store;

/// Root query.
pub struct Query;

#[Object]
impl Query {
    /// Liveness.
    async fn ok(&self) -> bool {
        true
    }
}

/// The schema type.
pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Builds the schema.
pub fn build_schema(_store: Store, _events: Events) -> AppSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription).finish()
}

/// GraphQL routes.
pub fn router(_schema: AppSchema) -> Router {
    Router::new()
}

/// Sorted SDL.
pub fn sdl(schema: &AppSchema) -> String {
    schema.sdl()
}
