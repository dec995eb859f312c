//! The OCPI wire: types, auth, the response envelope and the receiver routes.

pub mod auth;
pub mod envelope;
pub mod path;
pub mod replay;
pub mod routes;
pub mod wire;

pub use envelope::{Envelope, OcpiError};
