//! SIGTERM under load, against the real binary: every push is either
//! stored and answered 1000, or answered 503 (or never reached the server)
//! and absent; WebSockets are closed with 1001; the process exits cleanly.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chargegraph::domain::Party;
use chargegraph::ocpi::auth::hash_token;
use chargegraph::store::{tokens, Store, StoreOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::{fixture, subscribe_at, TestDb};

const WORKERS: usize = 6;
const PER_WORKER: usize = 200;
/// Answered pushes before the signal is sent.
const BEFORE_SIGNAL: usize = 30;

/// What one push got.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// An OCPI answer: HTTP status and status_code.
    Answered(u16, i64),
    /// No answer: refused connection, or closed before the request was read.
    NotReached,
}

#[tokio::test]
async fn pushes_during_sigterm_are_stored_and_answered_or_refused_and_absent() {
    let db = TestDb::create().await;
    let store = Store::connect(&StoreOptions::new(db.url())).await.unwrap();
    let token = format!("sigterm-{}", uuid::Uuid::new_v4().simple());
    tokens::insert(
        &store,
        &hash_token(&token),
        None,
        &[Party::new("NL", "GFX")],
        false,
    )
    .await
    .unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .arg("serve")
        .env("CHARGEGRAPH_DATABASE_URL", db.url())
        .env("CHARGEGRAPH_LISTEN", "127.0.0.1:0")
        .env("CHARGEGRAPH_LOG_FORMAT", "json")
        .env("CHARGEGRAPH_SHUTDOWN_DRAIN_MS", "10000")
        .env("RUST_LOG", "info")
        .env_remove("CHARGEGRAPH_CONFIG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let pid = child.id().expect("a pid");
    let (addr, log) = read_log(child.stderr.take().unwrap()).await;

    // A refused push logs a warning; its line carries the request's id.
    let refused = reqwest::Client::new()
        .put(format!("http://{addr}/ocpi/2.1.1/sessions/NL/GFX/X"))
        .header("Authorization", "Token not-a-token")
        .header("X-Request-ID", "it-request-42")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["x-request-id"], "it-request-42");

    let mut subscription = subscribe_at(
        addr,
        "subscription { evseStatusChanged { ... on EvseStatusChange { status } } }",
        json!({}),
    )
    .await;

    let answered = Arc::new(AtomicUsize::new(0));
    let template: Value =
        serde_json::from_str(&fixture("greenflux/push_session_put.json")).unwrap();
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (answered, template, token) = (answered.clone(), template.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            push_until_gone(worker, addr, &token, template, &answered).await
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while answered.load(Ordering::SeqCst) < BEFORE_SIGNAL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pushes are not answered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    assert_eq!(
        subscription
            .closed(Duration::from_secs(10))
            .await
            .map(|(code, _)| code),
        Some(1001)
    );
    let mut outcomes = Vec::new();
    for worker in workers {
        let done = tokio::time::timeout(Duration::from_secs(60), worker).await;
        outcomes.extend(done.expect("workers stop").unwrap());
    }
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the server exits after draining")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");

    let stored: HashSet<String> = session_ids(&store).await;
    let mut counts = [0usize; 3];
    for (id, outcome) in &outcomes {
        match outcome {
            Outcome::Answered(200 | 201, 1000) => {
                counts[0] += 1;
                assert!(stored.contains(id), "{id} answered 1000 but not stored");
            }
            Outcome::Answered(503, 3000) => {
                counts[1] += 1;
                assert!(!stored.contains(id), "{id} answered 503 but stored");
            }
            Outcome::NotReached => {
                counts[2] += 1;
                assert!(!stored.contains(id), "{id} got no answer but was stored");
            }
            other => panic!("{id}: unexpected answer {other:?}"),
        }
    }
    assert_eq!(
        stored.len(),
        counts[0],
        "nothing stored beyond what was answered 1000"
    );
    assert!(counts[0] >= BEFORE_SIGNAL);
    eprintln!(
        "sigterm under load: {} stored and answered 1000, {} answered 503, {} not reached",
        counts[0], counts[1], counts[2]
    );

    let lines = log.lock().unwrap().clone();
    let warning = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["level"] == "WARN" && l["fields"]["status_code"] == 2000)
        .unwrap_or_else(|| panic!("the refused push is logged: {lines:#?}"));
    assert_eq!(warning["span"]["request_id"], "it-request-42", "{warning}");
    assert_eq!(warning["spans"][0]["name"], "request", "{warning}");
    let log = lines.join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(&token), "a token was logged");
}

/// Waits for the JSON "listening" line; returns the address and the log so far and after.
pub(crate) async fn read_log(
    stderr: tokio::process::ChildStderr,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (found, addr) = tokio::sync::oneshot::channel();
    let lines = log.clone();
    tokio::spawn(async move {
        let mut found = Some(found);
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                if entry["fields"]["message"] == "listening" {
                    if let (Some(tx), Some(addr)) = (found.take(), entry["fields"]["addr"].as_str())
                    {
                        let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                    }
                }
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(60), addr)
        .await
        .expect("the server says where it listens")
        .unwrap();
    (addr, log)
}

/// Pushes sessions one after another until the server is gone.
async fn push_until_gone(
    worker: usize,
    addr: SocketAddr,
    token: &str,
    template: Value,
    answered: &AtomicUsize,
) -> Vec<(String, Outcome)> {
    let client = reqwest::Client::new();
    let mut outcomes = Vec::new();
    for i in 0..PER_WORKER {
        let id = format!("SIGTERM-{worker}-{i}");
        let mut body = template.clone();
        body["id"] = json!(id);
        let url = format!("http://{addr}/ocpi/2.1.1/sessions/NL/GFX/{id}");
        let sent = client
            .put(url)
            .header("Authorization", format!("Token {token}"))
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.json().await.expect("an OCPI envelope");
                answered.fetch_add(1, Ordering::SeqCst);
                Outcome::Answered(status, answer["status_code"].as_i64().unwrap_or(-1))
            }
            Err(_) => Outcome::NotReached,
        };
        let gone = outcome == Outcome::NotReached;
        outcomes.push((id, outcome));
        if gone {
            break;
        }
    }
    outcomes
}

async fn session_ids(store: &Store) -> HashSet<String> {
    use sea_orm::ConnectionTrait;
    let db = store.db();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT ocpi_id FROM session WHERE ocpi_id LIKE 'SIGTERM-%'",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}
