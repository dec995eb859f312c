//! Writes of the ingest path: upserts, history rows, inbox and outbox rows.
