//! sea-orm entities of chargegraph, one module per table.

pub mod api_key;
pub mod cdr;
pub mod charging_period;
pub mod connector;
pub mod evse;
pub mod evse_status_history;
pub mod inbox;
pub mod location;
pub mod location_heal;
pub mod notification;
pub mod outbox;
pub mod outbox_horizon;
pub mod push_token;
pub mod reconcile_module;
pub mod reconcile_run;
pub mod session;
pub mod session_event;
pub mod tariff;
