//! The GraphQL schema: queries, subscriptions, scalars.
