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

/// mimalloc in place of glibc's malloc: a GraphQL answer and the SQLite rows
/// behind it are many small allocations, freed on other threads (the SQLite
/// worker threads decode rows the tokio workers free), where glibc's arenas
/// spent a third of the status board's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
