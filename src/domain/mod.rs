//! The model both sides share: ids, party keys, statuses, amounts, timestamps.

pub mod access;
pub mod amount;
pub mod geo;
pub mod party;
pub mod period;
pub mod time;

pub use access::Access;
pub use amount::{Micros, Money};
pub use party::Party;
pub use time::Timestamp;
