//! Integration tests: the real app on 127.0.0.1:0 with its own database,
//! driven over real HTTP and WebSocket.

mod apikeys;
mod auth;
mod billing;
mod board;
mod cli;
mod emulator;
mod examples;
mod fuzz;
mod graphql_http;
mod harness;
mod heal;
mod inbox;
mod merge_order;
mod ops;
mod policies;
mod read_api;
mod readme;
mod receiver;
mod reconcile;
mod replicas;
mod retries;
mod schema;
mod shutdown;
mod spine;
mod subscriptions;
