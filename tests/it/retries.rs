//! Ingest transactions that lose a race on PostgreSQL (serialization
//! failure, deadlock) run again and are answered as if nothing happened.

use sea_orm::ConnectionTrait;

use crate::harness::{fixture, TestApp};

const LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const EVSE: &str = "BE-BEC-E041503001";

/// Makes the next insert into `evse_status_history` fail with `sqlstate`,
/// once: the sequence is outside the transaction, so the retry's insert
/// sees it already advanced.
async fn fail_next_history_insert(app: &TestApp, sqlstate: &str) {
    let sql = format!(
        "DROP TRIGGER IF EXISTS fail_once ON evse_status_history; \
         DROP SEQUENCE IF EXISTS fail_once_seq; \
         CREATE SEQUENCE fail_once_seq; \
         CREATE OR REPLACE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF nextval('fail_once_seq') = 1 THEN \
             RAISE EXCEPTION 'injected conflict' USING ERRCODE = TG_ARGV[0]; \
           END IF; \
           RETURN NEW; \
         END $$; \
         CREATE TRIGGER fail_once BEFORE INSERT ON evse_status_history \
         FOR EACH ROW EXECUTE FUNCTION fail_once('{sqlstate}')"
    );
    app.state.store.db().execute_unprepared(&sql).await.unwrap();
}

#[tokio::test]
async fn a_push_whose_transaction_conflicts_once_is_retried_and_stored_once() {
    let app = TestApp::spawn().await;
    if !app.is_postgres() {
        eprintln!("skipped: needs CHARGEGRAPH_TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let body = fixture("greenflux/push_location_put.json");
    assert_eq!(app.put_location(LOCATION, &body).await.status, 201);

    // serialization_failure, then deadlock_detected.
    for (sqlstate, status) in [("40001", "CHARGING"), ("40P01", "BLOCKED")] {
        fail_next_history_insert(&app, sqlstate).await;
        let patch = format!(r#"{{"status": "{status}"}}"#);
        let answer = app.patch_evse(LOCATION, EVSE, &patch).await;
        assert_eq!(
            (answer.status, answer.code()),
            (200, 1000),
            "{sqlstate}: {:?}",
            answer.body
        );

        let fired = app
            .sqlite_column("SELECT CAST(last_value AS TEXT) FROM fail_once_seq")
            .await;
        assert_eq!(fired, ["2"], "{sqlstate}: one failed run, one retry");
        let history = app
            .sqlite_column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM evse_status_history WHERE status = '{status}'"
            ))
            .await;
        assert_eq!(history, ["1"], "{sqlstate}: one history row");
        let inbox = app
            .sqlite_column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM inbox WHERE method = 'PATCH' \
                 AND body LIKE '%{status}%'"
            ))
            .await;
        assert_eq!(inbox, ["1"], "{sqlstate}: one inbox row");
        let events = app
            .sqlite_column(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM outbox WHERE kind = 'EVSE_STATUS_CHANGED' \
                 AND {} = '{status}'",
                app.json_field("payload", "status")
            ))
            .await;
        assert_eq!(events, ["1"], "{sqlstate}: one event");
    }
    let stored = app
        .sqlite_column(&format!("SELECT status FROM evse WHERE uid = '{EVSE}'"))
        .await;
    assert_eq!(stored, ["BLOCKED"]);
}
