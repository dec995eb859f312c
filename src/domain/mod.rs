//! The model both sides share: ids, party keys, statuses, amounts, timestamps.

pub mod amount;
pub mod party;
pub mod time;

pub use amount::Micros;
pub use party::Party;
pub use time::Timestamp;
