//! SIGTERM under load, against the real binary: every push is either
//! stored and answered 1000, or answered 503 (or never reached the server)
//! and absent; a push still being received when the signal comes is
//! answered 503 and kept in the inbox; WebSockets are closed with 1001; the
//! process exits cleanly.

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
    // A push whose body is still on its way when the signal comes: it is
    // being received, not yet applied, so it must be answered 503.
    let held = HeldPush::start(addr, &token, &template).await;
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
    // The 1001 close says the shutdown began: now the body may arrive.
    let held_outcome = held.finish().await;
    assert_eq!(held_outcome, Outcome::Answered(503, 3000));
    let mut outcomes = vec![(HeldPush::ID.to_owned(), held_outcome)];
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
    assert!(counts[1] >= 1, "the held push was answered 503");
    let kept = inbox_outcomes(&store, HeldPush::ID).await;
    assert_eq!(
        kept,
        ["unavailable|503|3000"],
        "kept in the inbox for replay"
    );
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

#[tokio::test]
async fn the_token_usage_writer_logs_in_the_request_span() {
    let db = TestDb::create().await;
    let store = Store::connect(&StoreOptions::new(db.url())).await.unwrap();
    let token = format!("usage-{}", uuid::Uuid::new_v4().simple());
    let party = [Party::new("NL", "GFX")];
    tokens::insert(&store, &hash_token(&token), None, &party, false)
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .arg("serve")
        .env("CHARGEGRAPH_DATABASE_URL", db.url())
        .env("CHARGEGRAPH_LISTEN", "127.0.0.1:0")
        .env("CHARGEGRAPH_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,chargegraph::ocpi::routes=debug")
        .env_remove("CHARGEGRAPH_CONFIG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let (addr, log) = read_log(child.stderr.take().unwrap()).await;
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/ocpi/2.1.1/locations/NL/GFX/NONE"))
        .header("Authorization", format!("Token {token}"))
        .header("X-Request-ID", "usage-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let recorded = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let found = log.lock().unwrap().iter().find_map(|l| {
                let line: Value = serde_json::from_str(l).ok()?;
                (line["fields"]["message"] == "push token use recorded").then_some(line)
            });
            if let Some(line) = found {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the usage writer logs");
    assert_eq!(recorded["span"]["request_id"], "usage-42", "{recorded}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_push_logs_in_a_span_with_the_ocpi_fields_and_never_the_token() {
    let db = TestDb::create().await;
    let store = Store::connect(&StoreOptions::new(db.url())).await.unwrap();
    let token = format!("span-{}", uuid::Uuid::new_v4().simple());
    let party = [Party::new("NL", "GFX")];
    tokens::insert(&store, &hash_token(&token), None, &party, false)
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"))
        .arg("serve")
        .env("CHARGEGRAPH_DATABASE_URL", db.url())
        .env("CHARGEGRAPH_LISTEN", "127.0.0.1:0")
        .env("CHARGEGRAPH_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,chargegraph=debug,tower_http=debug")
        .env_remove("CHARGEGRAPH_CONFIG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let (addr, log) = read_log(child.stderr.take().unwrap()).await;
    let location = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
    let client = reqwest::Client::new();
    let push = |method: reqwest::Method, path: String, body: String, id: &'static str| {
        client
            .request(method, format!("http://{addr}{path}"))
            .header("Authorization", format!("Token {token}"))
            .header("X-Request-ID", id)
            .body(body)
            .send()
    };
    let base = format!("/ocpi/2.1.1/locations/NL/GFX/{location}");
    let put = push(
        reqwest::Method::PUT,
        base.clone(),
        fixture("greenflux/push_location_put.json"),
        "span-put",
    )
    .await
    .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let patch = push(
        reqwest::Method::PATCH,
        format!("{base}/BE-BEC-E041503001"),
        fixture("greenflux/push_location_patch_evse_status.json"),
        "span-patch",
    )
    .await
    .unwrap();
    assert_eq!(patch.status().as_u16(), 200);

    let applied = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let found = log.lock().unwrap().iter().find_map(|l| {
                let line: Value = serde_json::from_str(l).ok()?;
                let ours = line["fields"]["message"] == "push applied"
                    && line["span"]["request_id"] == "span-patch";
                ours.then_some(line)
            });
            if let Some(line) = found {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the push is logged");
    let span = &applied["span"];
    assert_eq!(span["name"], "ocpi.push", "{applied}");
    for (field, want) in [
        ("http.method", "PATCH"),
        ("ocpi.module", "locations"),
        ("ocpi.country_code", "NL"),
        ("ocpi.party_id", "GFX"),
        ("location.id", location),
        ("evse.uid", "BE-BEC-E041503001"),
    ] {
        assert_eq!(span[field], want, "{field} in {applied}");
    }
    assert_eq!(applied["level"], "DEBUG");
    assert_eq!(applied["fields"]["status_message"], "EVSE updated");
    // Every line of both requests came before that one: at debug, the
    // token is on none of them.
    let leaked: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(&token))
        .cloned()
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
    child.kill().await.unwrap();
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

/// A session PUT sent over raw TCP in two parts: the head and half the
/// body before the signal, the rest after.
struct HeldPush {
    stream: tokio::net::TcpStream,
    rest: String,
}

impl HeldPush {
    const ID: &'static str = "SIGTERM-HELD";

    /// Sends the head and half the body, and returns once the server reads
    /// the body: its `100 Continue` (sent when the handler first reads the
    /// body) shows the request was accepted and is being received, not
    /// still waiting in the listener's backlog.
    async fn start(addr: SocketAddr, token: &str, template: &Value) -> HeldPush {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut body = template.clone();
        body["id"] = json!(HeldPush::ID);
        let body = body.to_string();
        let (first, rest) = body.split_at(body.len() / 2);
        let head = format!(
            "PUT /ocpi/2.1.1/sessions/NL/GFX/{} HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Token {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            HeldPush::ID,
            body.len()
        );
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut interim = Vec::new();
        while !interim.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte)).await;
            assert_eq!(
                read.ok().and_then(Result::ok),
                Some(1),
                "the server reads the push"
            );
            interim.push(byte[0]);
        }
        assert!(
            interim.starts_with(b"HTTP/1.1 100 "),
            "{}",
            String::from_utf8_lossy(&interim)
        );
        stream.write_all(first.as_bytes()).await.unwrap();
        HeldPush {
            stream,
            rest: rest.to_owned(),
        }
    }

    async fn finish(mut self) -> Outcome {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if self.stream.write_all(self.rest.as_bytes()).await.is_err() {
            return Outcome::NotReached;
        }
        let mut answer = Vec::new();
        let read = self.stream.read_to_end(&mut answer);
        let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
        let answer = String::from_utf8_lossy(&answer);
        let Some((head, body)) = answer.split_once("\r\n\r\n") else {
            return Outcome::NotReached;
        };
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let envelope: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        Outcome::Answered(status, envelope["status_code"].as_i64().unwrap_or(-1))
    }
}

/// outcome|http_status|status_code of the inbox rows of one object.
async fn inbox_outcomes(store: &Store, object_id: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let db = store.db();
    let sql = format!(
        "SELECT outcome || '|' || CAST(http_status AS TEXT) || '|' || \
         CAST(status_code AS TEXT) FROM inbox WHERE object_id = '{object_id}'"
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
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
