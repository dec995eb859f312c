//! The model both sides share: ids, party keys, statuses, amounts, timestamps.

pub mod amount;
pub mod time;

pub use amount::Micros;
pub use time::Timestamp;
