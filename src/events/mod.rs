//! Outbox reader and in-memory fan-out of committed change events.
