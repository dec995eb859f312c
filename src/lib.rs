//! chargegraph: receives OCPI pushes from charge point operators, keeps them
//! in a relational store and serves them as one GraphQL API.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;
