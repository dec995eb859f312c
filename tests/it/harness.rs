//! Spawns the app and talks to it: one helper per wire call.

use std::net::SocketAddr;
use std::time::Duration;

use chargegraph::app::{self, AppState};
use chargegraph::config::Config;
use chargegraph::domain::Party;
use chargegraph::ocpi::auth::hash_token;
use chargegraph::store::{api_keys, tokens};
use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderMap;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A fixture file's text.
pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

/// A running server with its own database and a push token for NL/GFX.
pub struct TestApp {
    pub addr: SocketAddr,
    pub token: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub db: TestDb,
}

/// Reads the PostgreSQL server that tests use, when any.
const TEST_DATABASE_URL: &str = "CHARGEGRAPH_TEST_DATABASE_URL";

/// A test's own database: a SQLite file in a temporary directory, or, when
/// CHARGEGRAPH_TEST_DATABASE_URL names a PostgreSQL server, a database created
/// for this test through that URL and dropped when the test ends.
pub enum TestDb {
    /// A temporary SQLite file.
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    /// A fresh PostgreSQL database.
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// The database on the backend the environment selects.
    ///
    /// With CHARGEGRAPH_TEST_DATABASE_URL set but the server unreachable, the
    /// test fails under CHARGEGRAPH_CI=1 and falls back to SQLite otherwise.
    pub async fn create() -> TestDb {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(admin_url) if !admin_url.is_empty() => match TestDb::postgres(&admin_url).await {
                Ok(db) => db,
                Err(err) if std::env::var("CHARGEGRAPH_CI").as_deref() == Ok("1") => {
                    panic!("PostgreSQL at {TEST_DATABASE_URL} is unreachable: {err:#}")
                }
                Err(err) => {
                    eprintln!("PostgreSQL unreachable ({err:#}); this test runs on SQLite");
                    TestDb::sqlite()
                }
            },
            _ => TestDb::sqlite(),
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("chargegraph.db").display());
        TestDb::Sqlite { _dir: dir, url }
    }

    async fn postgres(admin_url: &str) -> anyhow::Result<TestDb> {
        static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let pid = std::process::id();
        let name = format!("cg_test_{pid}_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_connection(admin_url).await?;
        if !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
            if let Err(err) = sweep_leftovers(&admin).await {
                eprintln!("leftover test databases not swept: {err:#}");
            }
        }
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        admin.close().await?;
        let mut url = reqwest::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        Ok(TestDb::Postgres {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// The URL the app connects to.
    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database, closing the app's connections to it.
    ///
    /// Best effort, on a detached thread: waiting here would block the test's
    /// runtime, and a pool connection still authenticating on that runtime
    /// would hold DROP DATABASE for the server's authentication timeout.
    /// Databases left behind by a finished test process are swept by the next
    /// one (`sweep_leftovers`).
    fn drop(&mut self) {
        let TestDb::Postgres {
            admin_url, name, ..
        } = self
        else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                if let Err(err) = runtime.block_on(drop_database(&admin_url, &name)) {
                    eprintln!("test database {name} not dropped: {err:#}");
                }
            }
        });
    }
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = admin_connection(admin_url).await?;
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    admin.execute_unprepared(&sql).await?;
    admin.close().await?;
    Ok(())
}

/// Drops the `cg_test_<pid>_*` databases of test processes that have exited.
async fn sweep_leftovers(admin: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let sql = "SELECT datname::text FROM pg_database WHERE datname LIKE 'cg\\_test\\_%'";
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql,
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let pid = name.split('_').nth(2).unwrap_or_default();
        let alive = std::path::Path::new("/proc").join(pid).exists();
        if !pid.is_empty() && !alive {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            admin.execute_unprepared(&sql).await?;
        }
    }
    Ok(())
}

async fn admin_connection(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Ok(sea_orm::Database::connect(options).await?)
}

/// An OCPI answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The envelope's OCPI status code.
    pub fn code(&self) -> i64 {
        self.body["status_code"].as_i64().unwrap_or(-1)
    }

    /// The envelope's status message.
    pub fn message(&self) -> &str {
        self.body["status_message"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// Spawns the app with default settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Spawns the app after adjusting its configuration.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::spawn_with_router(adjust, app::router).await
    }

    /// Spawns the app with the router `build` makes of its state (the
    /// app's own, with routes added).
    pub async fn spawn_with_router(
        adjust: impl FnOnce(&mut Config),
        build: impl FnOnce(&AppState) -> axum::Router,
    ) -> TestApp {
        let db = TestDb::create().await;
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url().to_owned(),
            ..Config::default()
        };
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::start(config).await.expect("app starts");
        let token = "test-token-0123456789abcdef0123456789abcdef".to_owned();
        let party = Party::new("NL", "GFX");
        tokens::insert(&state.store, &hash_token(&token), None, &[party], false)
            .await
            .unwrap();
        let serving = state.clone();
        let router = build(&state);
        tokio::spawn(async move {
            app::serve_router(listener, router, serving, std::future::pending())
                .await
                .unwrap();
        });
        TestApp {
            addr,
            token,
            state,
            // Redirects are answers too: a test must see one, never follow it.
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            db,
        }
    }

    /// Adds another token and returns its secret.
    pub async fn add_token(&self, parties: &[&str], strict: bool) -> String {
        let secret = format!("token-{}", uuid::Uuid::new_v4().simple());
        let parties: Vec<Party> = parties.iter().map(|p| Party::parse(p).unwrap()).collect();
        tokens::insert(
            &self.state.store,
            &hash_token(&secret),
            None,
            &parties,
            strict,
        )
        .await
        .unwrap();
        secret
    }

    /// Adds a token of the given strictness and returns its secret.
    pub async fn add_token_with(
        &self,
        parties: &[&str],
        strictness: chargegraph::ocpi::auth::Strictness,
    ) -> String {
        let secret = format!("token-{}", uuid::Uuid::new_v4().simple());
        let token = tokens::NewToken {
            parties: parties.iter().map(|p| Party::parse(p).unwrap()).collect(),
            strictness,
            ..Default::default()
        };
        tokens::create(&self.state.store, &hash_token(&secret), &token)
            .await
            .unwrap();
        secret
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends an OCPI request with our token.
    pub async fn ocpi(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let auth = format!("Token {}", self.token);
        self.ocpi_as(method, path, body, Some(&auth)).await
    }

    /// Sends an OCPI request with the given Authorization header (or none).
    pub async fn ocpi_as(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        authorization: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// PUT of a whole location.
    pub async fn put_location(&self, id: &str, body: &str) -> Answer {
        let path = format!("/ocpi/2.1.1/locations/NL/GFX/{id}");
        self.ocpi("PUT", &path, Some(body)).await
    }

    /// PATCH of an EVSE.
    pub async fn patch_evse(&self, location: &str, uid: &str, body: &str) -> Answer {
        let path = format!("/ocpi/2.1.1/locations/NL/GFX/{location}/{uid}");
        self.ocpi("PATCH", &path, Some(body)).await
    }

    /// PUT or PATCH of a session.
    pub async fn push_session(&self, method: &str, id: &str, body: &str) -> Answer {
        let path = format!("/ocpi/2.1.1/sessions/NL/GFX/{id}");
        self.ocpi(method, &path, Some(body)).await
    }

    /// POST of a CDR.
    pub async fn post_cdr(&self, body: &str) -> Answer {
        self.ocpi("POST", "/ocpi/2.1.1/cdrs", Some(body)).await
    }

    /// PUT of a notification.
    pub async fn put_notification(&self, id: &str, body: &str) -> Answer {
        let path = format!("/ocpi/2.1.1/notifications/{id}");
        self.ocpi("PUT", &path, Some(body)).await
    }

    /// Runs a GraphQL query and returns its `data`, failing on errors.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql_raw(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "GraphQL errors: {response}"
        );
        response["data"].clone()
    }

    /// Runs a GraphQL query and returns the whole response.
    pub async fn graphql_raw(&self, query: &str, variables: Value) -> Value {
        let body = json!({"query": query, "variables": variables});
        let response = self
            .client
            .post(self.url("/graphql"))
            .json(&body)
            .send()
            .await
            .expect("graphql request sent");
        response.json().await.expect("graphql answer is JSON")
    }

    /// Opens a graphql-transport-ws subscription and waits until the server
    /// has registered it, so that every later push reaches it.
    pub async fn subscribe(&self, query: &str, variables: Value) -> Subscription {
        self.subscribe_with(Protocol::TransportWs, query, variables)
            .await
    }

    /// Opens a subscription over either protocol and waits until it is registered.
    pub async fn subscribe_with(
        &self,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Subscription {
        self.subscribe_buffered(protocol, None, query, variables)
            .await
    }

    /// Opens a subscription whose socket has a fixed receive buffer.
    pub async fn subscribe_buffered(
        &self,
        protocol: Protocol,
        receive_buffer: Option<u32>,
        query: &str,
        variables: Value,
    ) -> Subscription {
        // What was committed before this call is not news to the subscriber.
        self.wait_for_reader().await;
        let before = self.state.events.subscriber_count();
        let mut subscription =
            Subscription::connect_with(self.addr, protocol, receive_buffer).await;
        subscription.init().await;
        subscription.start("1", query, variables).await;
        self.wait_for_subscribers(before + 1).await;
        subscription
    }

    /// Waits (up to 10 s) until the outbox reader has published every committed row.
    pub async fn wait_for_reader(&self) {
        let rows = self
            .sqlite_column("SELECT CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM outbox")
            .await;
        let last: i64 = rows[0].parse().unwrap();
        let events = &self.state.events;
        let caught_up = async {
            while events.position() < last {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), caught_up)
            .await
            .expect("the outbox reader catches up within 10 s");
    }

    /// Waits (up to 10 s) until exactly `n` subscriptions are registered.
    pub async fn wait_for_subscribers(&self, n: usize) {
        let events = &self.state.events;
        let registered = async {
            while events.subscriber_count() != n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), registered)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} subscriptions registered, not {n}",
                    events.subscriber_count()
                )
            });
    }

    /// Whether this app runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// Makes every outbox insert fail, so that a push fails inside its transaction.
    pub async fn refuse_outbox_inserts(&self) {
        let sql = if self.is_postgres() {
            "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$; \
             CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox \
             FOR EACH ROW EXECUTE FUNCTION fail_outbox()"
        } else {
            "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox \
             BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
        };
        self.state.store.db().execute_unprepared(sql).await.unwrap();
    }

    /// SQL for the text of a top-level field of a JSON text column, on either backend.
    pub fn json_field(&self, column: &str, field: &str) -> String {
        if self.is_postgres() {
            format!("({column}::json ->> '{field}')")
        } else {
            format!("json_extract({column}, '$.{field}')")
        }
    }

    /// Runs a SQL statement on the app's database (either backend) and returns
    /// the first column of each row as text.
    pub async fn sqlite_column(&self, sql: &str) -> Vec<String> {
        use sea_orm::Statement;
        let db = self.state.store.db();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect()
    }
}

impl TestApp {
    /// Adds a GraphQL API key and returns its id and secret.
    pub async fn add_api_key(
        &self,
        parties: Option<&[&str]>,
        operator: bool,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> (i64, String) {
        let secret = chargegraph::auth::new_api_key();
        let key = api_keys::NewApiKey {
            label: None,
            parties: parties.map(|ps| ps.iter().map(|p| Party::parse(p).unwrap()).collect()),
            operator,
            expires_at,
        };
        let id = api_keys::create(&self.state.store, &hash_token(&secret), &key)
            .await
            .unwrap();
        (id, secret)
    }

    /// POSTs a GraphQL query with extra headers; the HTTP status and the whole response.
    pub async fn graphql_with(
        &self,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let body = json!({"query": query, "variables": variables});
        let mut request = self.client.post(self.url("/graphql")).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("graphql request sent");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.expect("graphql answer is JSON"),
        )
    }

    /// GETs a path; the HTTP status and the body as text.
    pub async fn get_text(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

/// How a WebSocket subscription attempt ended before its first event.
#[derive(Debug)]
pub enum Refused {
    /// The HTTP upgrade was answered with this status.
    Http(u16),
    /// The server closed the socket with this code and reason.
    Closed(u16, String),
}

/// Opens a graphql-transport-ws subscription with a `connection_init`
/// payload and upgrade headers of the caller's; `Err` when the server refuses.
pub async fn subscribe_with(
    addr: SocketAddr,
    init_payload: Value,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Result<Subscription, Refused> {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName = name.parse().unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let mut ws = match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return Err(Refused::Http(response.status().as_u16()))
        }
        Err(other) => panic!("ws connect failed: {other}"),
    };
    let init = json!({"type": "connection_init", "payload": init_payload});
    send_json(&mut ws, init).await;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("an answer to connection_init");
    match first {
        Some(Ok(Message::Text(text))) => {
            let ack: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(ack["type"], "connection_ack", "unexpected {ack}");
        }
        Some(Ok(Message::Close(frame))) => {
            let (code, reason) = frame
                .map(|f| (u16::from(f.code), f.reason.to_string()))
                .unwrap_or((1005, String::new()));
            return Err(Refused::Closed(code, reason));
        }
        other => panic!("unexpected answer to connection_init: {other:?}"),
    }
    let subscribe = json!({
        "id": "1",
        "type": "subscribe",
        "payload": {"query": query, "variables": variables},
    });
    send_json(&mut ws, subscribe).await;
    Ok(Subscription {
        ws,
        protocol: Protocol::TransportWs,
    })
}

/// Opens a graphql-transport-ws subscription on the server at `addr`.
pub async fn subscribe_at(addr: SocketAddr, query: &str, variables: Value) -> Subscription {
    let mut subscription = Subscription::connect(addr, Protocol::TransportWs).await;
    subscription.init().await;
    subscription.start("1", query, variables).await;
    subscription
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The two GraphQL-over-WebSocket protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// graphql-transport-ws (the `graphql-ws` library).
    TransportWs,
    /// graphql-ws of subscriptions-transport-ws.
    Legacy,
}

/// An open GraphQL WebSocket connection with its subscriptions.
pub struct Subscription {
    ws: Ws,
    protocol: Protocol,
}

impl Subscription {
    /// Opens the socket, offering one protocol; no message sent yet.
    pub async fn connect(addr: SocketAddr, protocol: Protocol) -> Subscription {
        Subscription::connect_with(addr, protocol, None).await
    }

    /// Opens the socket with a fixed receive buffer (no kernel autotuning),
    /// so that a client that does not read soon pushes back on the server.
    pub async fn connect_with(
        addr: SocketAddr,
        protocol: Protocol,
        receive_buffer: Option<u32>,
    ) -> Subscription {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket.connect(addr).await.expect("tcp connects");
        let mut request = format!("ws://{addr}/graphql")
            .into_client_request()
            .unwrap();
        let name = match protocol {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        };
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", name.parse().unwrap());
        let stream = MaybeTlsStream::Plain(stream);
        let (ws, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .expect("ws connects");
        Subscription { ws, protocol }
    }

    /// Sends `connection_init` and expects the ack.
    pub async fn init(&mut self) {
        self.send(json!({"type": "connection_init", "payload": {}}))
            .await;
        let ack = self
            .next_message(Duration::from_secs(10))
            .await
            .expect("an answer to connection_init");
        assert_eq!(ack["type"], "connection_ack", "unexpected {ack}");
    }

    /// Starts an operation under this id.
    pub async fn start(&mut self, id: &str, query: &str, variables: Value) {
        let kind = match self.protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::Legacy => "start",
        };
        let payload = json!({"query": query, "variables": variables});
        self.send(json!({"id": id, "type": kind, "payload": payload}))
            .await;
    }

    /// Sends a message.
    pub async fn send(&mut self, value: Value) {
        send_json(&mut self.ws, value).await;
    }

    /// The next message other than a ping (which is answered) or a
    /// keep-alive, within the timeout; `None` on timeout. Panics when the
    /// socket closes.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let message = tokio::time::timeout_at(deadline, next_json(&mut self.ws))
                .await
                .ok()?;
            match message["type"].as_str() {
                Some("ping") => send_json(&mut self.ws, json!({"type": "pong"})).await,
                Some("ka") => {}
                _ => return Some(message),
            }
        }
    }

    /// The next text message as it came (keep-alives and pings included,
    /// none answered by this call), within the timeout; `None` on timeout.
    /// Panics when the socket closes.
    pub async fn next_raw(&mut self, timeout: Duration) -> Option<Value> {
        tokio::time::timeout(timeout, next_json(&mut self.ws))
            .await
            .ok()
    }

    /// The next data payload (`next`, or `data` in the legacy protocol), within the timeout.
    pub async fn next_data(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = self.next_message(left).await?;
            match message["type"].as_str() {
                Some("next") | Some("data") => return Some(message["payload"]["data"].clone()),
                Some("error") => panic!("subscription error: {message}"),
                _ => {}
            }
        }
    }

    /// The close frame's code and reason, skipping other messages, within the timeout.
    pub async fn closed(&mut self, timeout: Duration) -> Option<(u16, String)> {
        let wait = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Close(frame))) => {
                        return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
                    }
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("websocket closed: {other:?}"),
        }
    }
}
