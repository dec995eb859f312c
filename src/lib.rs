//! chargegraph: receives OCPI pushes from charge point operators, keeps them
//! in a relational store and serves them as one GraphQL API.

pub mod app;
pub mod auth;
pub mod billing;
pub mod board;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod emulator;
pub mod events;
pub mod export;
pub mod front_door;
pub mod graphql;
pub mod ingest;
pub mod limits;
pub mod ocpi;
pub mod ops;
pub mod reconcile;
pub mod shutdown;
pub mod store;
pub mod telemetry;
