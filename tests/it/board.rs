//! The status board (`/board`) in a real browser: headless Chromium driven
//! over WebDriver (chromedriver) against servers started here on the test's
//! database. The board shows the seeded statuses, turns a tile when a PATCH
//! arrives, goes offline when its server stops and, once a server is back on
//! the same port, resumes by cursor with what changed meanwhile (or, when
//! its cursor was pruned, takes the RESET and a fresh snapshot); it filters
//! by party and city from the URL, and asks for an API key when GraphQL auth
//! is on. Screenshots are written as test artifacts (see `artifacts_dir`).
//!
//! The browser tests need Debian's `chromium` and `chromium-driver`
//! (.ci/run installs them): without them they are skipped, or, under
//! CHARGEGRAPH_CI=1, they fail.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chargegraph::app::{self, AppState};
use chargegraph::config::Config;
use chargegraph::domain::Party;
use chargegraph::ocpi::auth::hash_token;
use chargegraph::store::{api_keys, tokens};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{fixture, TestApp, TestDb};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// Generous: two cores, Chromium, and other builds running beside the tests.
const WAIT: Duration = Duration::from_secs(45);
const POLL: Duration = Duration::from_millis(100);

const TOKEN: &str = "board-token-0123456789abcdef0123456789abcdef";
const GF_LOCATION: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const GF_EVSE: &str = "BE-BEC-E041503001";
const SESSION: &str = "NLGFX637561499213897595-ef07d";
const CDR: &str = "NLGFX63759518932331194001";

/// One browser at a time: Chromium is heavy on two cores, and browser tests
/// run side by side would only slow each other into their timeouts.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// (party, location, EVSE uid, status, the word on the tile) after `seed`.
const SEEDED: [(&str, &str, &str, &str, &str); 9] = [
    ("NL/GFX", GF_LOCATION, GF_EVSE, "AVAILABLE", "Available"),
    ("NL/GFX", "LOC1", "3256", "AVAILABLE", "Available"),
    ("NL/GFX", "LOC1", "3257", "RESERVED", "Reserved"),
    ("BE/BEC", "LOC1", "3256", "AVAILABLE", "Available"),
    ("BE/BEC", "LOC1", "3257", "RESERVED", "Reserved"),
    ("NL/GFX", "BRUGGE-1", "BRU-1", "CHARGING", "Charging"),
    ("NL/GFX", "BRUGGE-1", "BRU-2", "OUTOFORDER", "Out of order"),
    ("NL/GFX", "BRUGGE-1", "BRU-3", "BLOCKED", "Blocked"),
    ("NL/GFX", "BRUGGE-1", "BRU-4", "INOPERATIVE", "Inoperative"),
];

// What the tests read from the page. WebDriver scripts are exempt from the
// page's Content-Security-Policy.
const TILES: &str = "return [...document.querySelectorAll('.tile')].map((t) => [
    t.dataset.party, t.dataset.location, t.dataset.evseUid, t.dataset.status,
    t.querySelector('.tile-status').textContent, t.getAttribute('aria-label') ?? '']);";
const TILE: &str = "const t = [...document.querySelectorAll('.tile')].find((t) =>
    t.dataset.party === arguments[0] && t.dataset.location === arguments[1]
    && t.dataset.evseUid === arguments[2]);
    return t ? [t.dataset.status, t.querySelector('.tile-status').textContent,
                t.dataset.feedKind ?? null] : null;";
const COUNTS: &str = "return Object.fromEntries([...document.querySelectorAll('.count')].map(
    (c) => [c.dataset.status, Number(c.querySelector('.count-n').textContent)]));";
const FEED: &str = "return [...document.querySelectorAll('.feed-item')].map(
    (i) => [i.dataset.kind, i.dataset.id]);";
/// A tile's since-when text (`< 1 min`, `3 h`, `5 yr`) and its machine time.
const SINCE: &str = "const t = [...document.querySelectorAll('.tile')].find((t) =>
    t.dataset.party === arguments[0] && t.dataset.location === arguments[1]
    && t.dataset.evseUid === arguments[2]);
    const s = t && t.querySelector('.tile-since');
    return s ? [s.textContent, s.dateTime] : null;";
/// How the page is laid out at the current window size.
const LAYOUT: &str = "const grid = document.getElementById('grid').getBoundingClientRect();
    const feed = document.querySelector('aside.feed').getBoundingClientRect();
    const n = document.querySelector('.count-n');
    return { overflows: document.documentElement.scrollWidth > window.innerWidth,
             feedBeside: feed.left >= grid.right, feedBelow: feed.top >= grid.bottom,
             countPx: parseFloat(getComputedStyle(n).fontSize) };";
const CONNECTION: &str = "return [document.body.dataset.connection,
    !document.getElementById('offline').hidden];";

#[tokio::test]
async fn the_board_shows_live_statuses_goes_offline_and_resumes_by_cursor_on_the_same_port() {
    let Some(_browser_slot) = browser_slot().await else {
        return;
    };
    let db = TestDb::create().await;
    let server = Server::start(&db, any_port(), |_| {}).await;
    let addr = server.addr;
    seed(&server).await;
    let browser = Browser::launch().await;

    browser.open(&format!("http://{addr}/board")).await;
    browser
        .wait_for("the seeded tiles", TILES, &[], |v| tiles(v) == seeded())
        .await;
    assert_labels_name_the_status(&browser.eval(TILES, &[]).await);
    let counts = json!({"ALL": 9, "AVAILABLE": 3, "CHARGING": 1, "RESERVED": 2,
                        "BLOCKED": 1, "OUTOFORDER": 1, "INOPERATIVE": 1});
    browser
        .wait_for("the seeded counts", COUNTS, &[], |v| *v == counts)
        .await;
    browser
        .wait_for("the session and CDR feed", FEED, &[], |v| {
            let feed = v.as_array().cloned().unwrap_or_default();
            feed.contains(&json!(["session", SESSION])) && feed.contains(&json!(["cdr", CDR]))
        })
        .await;

    // A push while the page watches turns its tile.
    let before = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let patch = fixture("greenflux/push_location_patch_evse_status.json");
    let evse_path = format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}/{GF_EVSE}");
    push(addr, "PATCH", &evse_path, &patch).await;
    let gf_tile = [json!("NL/GFX"), json!(GF_LOCATION), json!(GF_EVSE)];
    browser
        .wait_for("the PATCHed tile to turn", TILE, &gf_tile, |v| {
            *v == json!(["CHARGING", "Charging", "LIVE"])
        })
        .await;
    // Since-when: the change just made, and a seeded status of years ago.
    browser
        .wait_for("the PATCHed tile's since-when", SINCE, &gf_tile, |v| {
            v[0] == "< 1 min" && v[1].as_str().is_some_and(|t| t >= before.as_str())
        })
        .await;
    let loc1_tile = [json!("NL/GFX"), json!("LOC1"), json!("3256")];
    let since = browser.eval(SINCE, &loc1_tile).await;
    let text = since[0].as_str().unwrap_or_default();
    assert!(
        text.ends_with(" yr") && text[..text.len() - 3].parse::<u32>().is_ok(),
        "{since}"
    );

    // The server goes away; a change lands meanwhile through another
    // instance on the same database.
    server.stop().await;
    browser
        .wait_for("the offline banner", CONNECTION, &[], |v| {
            *v == json!(["offline", true])
        })
        .await;
    browser.screenshot("board-offline.png").await;
    let other = Server::start(&db, any_port(), |_| {}).await;
    let out_of_order = json!({"status": "OUTOFORDER", "last_updated": "2021-07-01T10:00:00Z"});
    let loc1_path = "/ocpi/2.1.1/locations/NL/GFX/LOC1/3256";
    push(other.addr, "PATCH", loc1_path, &out_of_order.to_string()).await;
    other.stop().await;

    // Back on the same port: the page reconnects and replays from its cursor.
    let server = Server::start(&db, addr, |_| {}).await;
    browser
        .wait_for("the change made while offline", TILE, &loc1_tile, |v| {
            *v == json!(["OUTOFORDER", "Out of order", "REPLAY"])
        })
        .await;
    browser
        .wait_for("the banner to go", CONNECTION, &[], |v| {
            *v == json!(["live", false])
        })
        .await;
    let counts = json!({"ALL": 9, "AVAILABLE": 1, "CHARGING": 2, "RESERVED": 2,
                        "BLOCKED": 1, "OUTOFORDER": 2, "INOPERATIVE": 1});
    browser
        .wait_for("the counts after the restart", COUNTS, &[], |v| {
            *v == counts
        })
        .await;

    // A wall screen: the feed beside the grid, counts readable from afar;
    // a phone: one column, the feed under the grid. Neither scrolls sideways.
    browser.screenshot_at("board-wall.png", 1920, 1080).await;
    let wall = browser.eval(LAYOUT, &[]).await;
    assert_eq!(
        (&wall["overflows"], &wall["feedBeside"], &wall["countPx"]),
        (&json!(false), &json!(true), &json!(56)),
        "{wall}"
    );
    browser.screenshot_at("board-phone.png", 390, 844).await;
    let phone = browser.eval(LAYOUT, &[]).await;
    assert_eq!(
        (
            &phone["overflows"],
            &phone["feedBeside"],
            &phone["feedBelow"]
        ),
        (&json!(false), &json!(false), &json!(true)),
        "{phone}"
    );
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_resets_the_board_to_a_fresh_snapshot() {
    let Some(_browser_slot) = browser_slot().await else {
        return;
    };
    let db = TestDb::create().await;
    let server = Server::start(&db, any_port(), |_| {}).await;
    let addr = server.addr;
    seed(&server).await;
    let browser = Browser::launch().await;
    browser.open(&format!("http://{addr}/board")).await;
    browser
        .wait_for("the seeded tiles", TILES, &[], |v| tiles(v) == seeded())
        .await;

    // While the board is away: an EVSE added, another one blocked, and
    // every event since its cursor pruned from the outbox.
    server.stop().await;
    browser
        .wait_for("the offline banner", CONNECTION, &[], |v| {
            *v == json!(["offline", true])
        })
        .await;
    let other = Server::start(&db, any_port(), |_| {}).await;
    let mut evse: Value =
        serde_json::from_str(&fixture("2.2.1/location_put_example_add_evse.json")).unwrap();
    evse["uid"] = json!("3258");
    let new_evse = "/ocpi/2.2.1/locations/BE/BEC/LOC1/3258";
    push(other.addr, "PUT", new_evse, &evse.to_string()).await;
    let blocked = json!({"status": "BLOCKED", "last_updated": "2021-07-01T10:00:00Z"});
    let loc1_path = "/ocpi/2.1.1/locations/NL/GFX/LOC1/3257";
    push(other.addr, "PATCH", loc1_path, &blocked.to_string()).await;
    age_and_prune_the_outbox(&other).await;
    other.stop().await;

    // The cursor is gone: RESET, a fresh snapshot, the locations read again.
    let server = Server::start(&db, addr, |_| {}).await;
    let mut expected: Vec<_> = SEEDED
        .iter()
        .map(|&(p, l, u, s, w)| match (p, l, u) {
            ("NL/GFX", "LOC1", "3257") => vec![p, l, u, "BLOCKED", "Blocked"],
            _ => vec![p, l, u, s, w],
        })
        .collect();
    expected.push(vec!["BE/BEC", "LOC1", "3258", "AVAILABLE", "Available"]);
    let expected = sorted(expected);
    browser
        .wait_for("the state after the reset", TILES, &[], |v| {
            tiles(v) == expected
        })
        .await;
    let kinds = "return [...new Set([...document.querySelectorAll('.tile')]
        .map((t) => t.dataset.feedKind ?? null))];";
    browser
        .wait_for("every tile from the new snapshot", kinds, &[], |v| {
            *v == json!(["SNAPSHOT"])
        })
        .await;
    browser.close().await;
    server.stop().await;
}

/// Dates every outbox row back past the retention and prunes them.
async fn age_and_prune_the_outbox(server: &Server) {
    use sea_orm::ConnectionTrait;
    let store = &server.state.store;
    let aged = "UPDATE outbox SET created_at = '2020-01-01 00:00:00+00:00'";
    store.db().execute_unprepared(aged).await.expect("aged");
    let week = Duration::from_secs(7 * 24 * 3600);
    let pruned = chargegraph::events::prune_outbox(store, week)
        .await
        .expect("pruned");
    assert!(pruned > 0, "nothing pruned");
}

#[tokio::test]
async fn with_graphql_auth_the_board_asks_for_a_key_once_and_then_shows_the_tiles() {
    let Some(_browser_slot) = browser_slot().await else {
        return;
    };
    let db = TestDb::create().await;
    let server = Server::start(&db, any_port(), |c| c.graphql_auth = true).await;
    seed(&server).await;
    let key = api_key(&server).await;
    let browser = Browser::launch().await;
    let asking = "return [document.body.dataset.connection,
        !document.getElementById('auth').hidden,
        document.getElementById('auth-reason').textContent.includes('refused'),
        document.querySelectorAll('.tile').length];";

    browser.open(&format!("http://{}/board", server.addr)).await;
    browser
        .wait_for("the key form", asking, &[], |v| {
            *v == json!(["locked", true, false, 0])
        })
        .await;
    browser.enter_key("cgk_not-a-key").await;
    browser
        .wait_for("the key form again, saying why", asking, &[], |v| {
            *v == json!(["locked", true, true, 0])
        })
        .await;
    browser.screenshot("board-key.png").await;
    browser.enter_key(&key).await;
    browser
        .wait_for("the tiles", TILES, &[], |v| tiles(v) == seeded())
        .await;
    browser
        .wait_for("a live WebSocket", CONNECTION, &[], |v| {
            *v == json!(["live", false])
        })
        .await;
    let kept = browser
        .eval(
            "return localStorage.getItem('chargegraph.board.apiKey');",
            &[],
        )
        .await;
    assert_eq!(kept, json!(key));

    // A reload asks no more: the kept key opens both HTTP and the WebSocket.
    browser.client.refresh().await.expect("reload");
    browser
        .wait_for("the tiles after a reload", TILES, &[], |v| {
            tiles(v) == seeded()
        })
        .await;
    browser
        .wait_for("a live WebSocket after a reload", CONNECTION, &[], |v| {
            *v == json!(["live", false])
        })
        .await;
    let form = browser
        .eval("return !document.getElementById('auth').hidden;", &[])
        .await;
    assert_eq!(form, json!(false), "the key form is shown again");
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_board_filters_by_party_and_city_kept_in_the_url() {
    let Some(_browser_slot) = browser_slot().await else {
        return;
    };
    let db = TestDb::create().await;
    let server = Server::start(&db, any_port(), |_| {}).await;
    seed(&server).await;
    let browser = Browser::launch().await;
    let only = |party: &str, city_locations: &[&str]| -> Vec<Vec<String>> {
        let rows = SEEDED.iter().filter(|(p, location, ..)| {
            *p == party && (city_locations.is_empty() || city_locations.contains(location))
        });
        sorted(rows.map(|&(p, l, u, s, w)| vec![p, l, u, s, w]).collect())
    };

    browser
        .open(&format!("http://{}/board?party=BE/BEC", server.addr))
        .await;
    browser
        .wait_for("BE/BEC's tiles only", TILES, &[], |v| {
            tiles(v) == only("BE/BEC", &[])
        })
        .await;
    browser
        .wait_for("BE/BEC's counts", COUNTS, &[], |v| {
            *v == json!({"ALL": 2, "AVAILABLE": 1, "RESERVED": 1})
        })
        .await;

    // Choose in the form: the URL follows, and a reload keeps the choice.
    let has_brugge = "return [...document.getElementById('city').options]
        .some((o) => o.value === 'Brugge');";
    browser
        .wait_for("the city choices", has_brugge, &[], |v| *v == json!(true))
        .await;
    browser.choose("party", "").await;
    browser.choose("city", "Brugge").await;
    let brugge = only("NL/GFX", &["BRUGGE-1"]);
    browser
        .wait_for("Brugge's tiles only", TILES, &[], |v| tiles(v) == brugge)
        .await;
    let url = browser.client.current_url().await.expect("the URL");
    assert_eq!(url.query(), Some("city=Brugge"));
    browser.client.refresh().await.expect("reload");
    browser
        .wait_for("Brugge's tiles after a reload", TILES, &[], |v| {
            tiles(v) == brugge
        })
        .await;
    let chosen = browser
        .eval("return document.getElementById('city').value;", &[])
        .await;
    assert_eq!(chosen, json!("Brugge"));
    browser.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_page_and_its_assets_carry_security_and_cache_headers() {
    let app = TestApp::spawn().await;

    let page = app.client.get(app.url("/board")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    let script = attribute_after(&html, "<script type=\"module\" src=\"");
    let style = attribute_after(&html, "<link rel=\"stylesheet\" href=\"");
    assert!(script.starts_with("/board/board.js?v="), "{script}");
    assert!(style.starts_with("/board/board.css?v="), "{style}");

    for (url, content_type) in [
        (&script, "text/javascript; charset=utf-8"),
        (&style, "text/css; charset=utf-8"),
    ] {
        let asset = app.client.get(app.url(url)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{url}");
        assert_eq!(asset.headers()["content-type"], content_type);
        assert_eq!(
            asset.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = asset.headers()["etag"].to_str().unwrap().to_owned();
        let (path, version) = url.split_once("?v=").unwrap();
        assert_eq!(etag, format!("\"{version}\""));

        let again = app.client.get(app.url(url)).header("If-None-Match", &etag);
        assert_eq!(again.send().await.unwrap().status(), 304, "{url}");
        let unversioned = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(unversioned.headers()["cache-control"], "no-cache", "{path}");
    }
}

/// The text of an HTML attribute that starts right after `prefix`.
fn attribute_after(html: &str, prefix: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {html}"))
        + prefix.len();
    let end = html[start..].find('"').expect("a closing quote") + start;
    html[start..end].to_owned()
}

/// The seeded tiles as `tiles` reads them.
fn seeded() -> Vec<Vec<String>> {
    sorted(
        SEEDED
            .iter()
            .map(|&(p, l, u, s, w)| vec![p, l, u, s, w])
            .collect(),
    )
}

fn sorted(rows: Vec<Vec<&str>>) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.into_iter().map(str::to_owned).collect())
        .collect();
    rows.sort();
    rows
}

/// (party, location, uid, status, word) of each tile `TILES` read, sorted.
fn tiles(value: &Value) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = value
        .as_array()
        .into_iter()
        .flatten()
        .map(|tile| {
            let cells = tile.as_array().cloned().unwrap_or_default();
            cells
                .iter()
                .take(5)
                .map(|c| c.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// Every tile's spoken label names its EVSE and says its status in words.
fn assert_labels_name_the_status(value: &Value) {
    for tile in value.as_array().expect("tiles") {
        let word = tile[4].as_str().unwrap_or_default();
        let label = tile[5].as_str().unwrap_or_default();
        assert!(label.starts_with("EVSE "), "{tile}");
        assert!(label.contains(&format!(": {word}")), "{tile}");
    }
}

// ---- Servers ---------------------------------------------------------------

/// A chargegraph server in this process that can be stopped, and started
/// again on the same address and database.
struct Server {
    addr: SocketAddr,
    state: AppState,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<()>,
}

impl Server {
    /// Starts a server on `listen` (port 0 for any) over the test's database.
    async fn start(db: &TestDb, listen: SocketAddr, adjust: impl FnOnce(&mut Config)) -> Server {
        let mut config = Config {
            listen,
            database_url: db.url().to_owned(),
            // Stopping is part of the test: no reason to wait long.
            shutdown_drain_ms: 2_000,
            ..Config::default()
        };
        adjust(&mut config);
        let listener = bind(listen).await;
        let addr = listener.local_addr().expect("a bound address");
        let state = AppState::start(config).await.expect("the app starts");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving_state = state.clone();
        let serving = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            app::serve(listener, serving_state, shutdown)
                .await
                .expect("the server serves");
        });
        Server {
            addr,
            state,
            stop,
            serving,
        }
    }

    /// Shuts down as on SIGTERM (WebSockets get a 1001 close) and waits
    /// until the port is free.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(20), self.serving)
            .await
            .expect("the server stops within 20 s")
            .expect("the serving task ends cleanly");
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Binds `addr`, retrying for a while: a port just released may take a moment.
async fn bind(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(err) if tokio::time::Instant::now() > deadline => {
                panic!("cannot bind {addr}: {err}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// A push token for NL/GFX and BE/BEC, then locations of both parties in
/// Gent and Brugge, an open session and a CDR, pushed over HTTP.
async fn seed(server: &Server) {
    let parties = [Party::new("NL", "GFX"), Party::new("BE", "BEC")];
    tokens::insert(
        &server.state.store,
        &hash_token(TOKEN),
        None,
        &parties,
        false,
    )
    .await
    .expect("the push token is stored");
    let addr = server.addr;
    let gf = fixture("greenflux/push_location_put.json");
    push(
        addr,
        "PUT",
        &format!("/ocpi/2.1.1/locations/NL/GFX/{GF_LOCATION}"),
        &gf,
    )
    .await;
    let loc1 = fixture("2.1.1/location_example.json");
    push(addr, "PUT", "/ocpi/2.1.1/locations/NL/GFX/LOC1", &loc1).await;
    let bec = fixture("2.2.1/location_example.json");
    push(addr, "PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", &bec).await;
    push(
        addr,
        "PUT",
        "/ocpi/2.1.1/locations/NL/GFX/BRUGGE-1",
        &brugge(),
    )
    .await;
    let session = fixture("greenflux/push_session_put.json");
    push(
        addr,
        "PUT",
        &format!("/ocpi/2.1.1/sessions/NL/GFX/{SESSION}"),
        &session,
    )
    .await;
    let cdr = fixture("greenflux/cdr_pull_example_reconstructed.json");
    push(addr, "POST", "/ocpi/2.1.1/cdrs", &cdr).await;
}

/// The GreenFlux location copied to Brugge, with four EVSEs in other statuses.
fn brugge() -> String {
    let gf = fixture("greenflux/push_location_put.json");
    let mut location: Value = serde_json::from_str(&gf).expect("the fixture is JSON");
    let template = location["evses"][0].clone();
    let evses: Vec<Value> = [
        ("BRU-1", "CHARGING"),
        ("BRU-2", "OUTOFORDER"),
        ("BRU-3", "BLOCKED"),
        ("BRU-4", "INOPERATIVE"),
    ]
    .into_iter()
    .map(|(uid, status)| {
        let mut evse = template.clone();
        evse["uid"] = json!(uid);
        evse["status"] = json!(status);
        if let Some(fields) = evse.as_object_mut() {
            fields.remove("evse_id");
        }
        evse
    })
    .collect();
    location["id"] = json!("BRUGGE-1");
    location["name"] = json!("Brugge Station");
    location["city"] = json!("Brugge");
    location["evses"] = json!(evses);
    location.to_string()
}

/// Sends an OCPI push with the test's token and expects it applied.
async fn push(addr: SocketAddr, method: &str, path: &str, body: &str) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let response = reqwest::Client::new()
        .request(method.clone(), format!("http://{addr}{path}"))
        .header("Authorization", format!("Token {TOKEN}"))
        .body(body.to_owned())
        .send()
        .await
        .expect("the push is sent");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.expect("an OCPI envelope");
    assert!(
        status / 100 == 2 && answer["status_code"] == 1000,
        "{method} {path}: {status} {answer}"
    );
}

/// A GraphQL API key that reads every party.
async fn api_key(server: &Server) -> String {
    let secret = chargegraph::auth::new_api_key();
    let key = api_keys::NewApiKey {
        label: Some("board test".into()),
        parties: None,
        operator: false,
        expires_at: None,
    };
    api_keys::create(&server.state.store, &hash_token(&secret), &key)
        .await
        .expect("the API key is stored");
    secret
}

// ---- The browser -----------------------------------------------------------

/// Whether Chromium and chromedriver are here; without them the test is
/// skipped, except under CHARGEGRAPH_CI=1 where it fails. The guard keeps
/// browser tests from running side by side.
async fn browser_slot() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    let driver = std::process::Command::new(CHROMEDRIVER)
        .arg("--version")
        .output();
    let problem = if !Path::new(CHROMIUM).exists() {
        Some(format!("{CHROMIUM} is missing"))
    } else if !driver.is_ok_and(|output| output.status.success()) {
        Some(format!("{CHROMEDRIVER} is not runnable"))
    } else {
        None
    };
    match problem {
        None => Some(ONE_BROWSER.lock().await),
        Some(problem) if std::env::var("CHARGEGRAPH_CI").as_deref() == Ok("1") => {
            panic!("{problem}: apt-get install chromium chromium-driver (.ci/run does)")
        }
        Some(problem) => {
            eprintln!(
                "{problem}: the board's browser test is skipped \
                 (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// Headless Chromium under chromedriver, with a fresh profile.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn launch() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that `Drop` ends Chromium with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        wait_for_driver(&url).await;
        let profile = tempfile::tempdir().expect("a profile directory");
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(profile.path()))
            .connect(&url)
            .await
            .expect("chromedriver opens a Chromium session");
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    async fn eval(&self, script: &str, args: &[Value]) -> Value {
        self.client
            .execute(script, args.to_vec())
            .await
            .expect("the script runs")
    }

    /// Polls `script` until `done` holds for its value; on timeout, writes a
    /// screenshot and fails with the last value and the page's text.
    async fn wait_for(
        &self,
        what: &str,
        script: &str,
        args: &[Value],
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let value = self.eval(script, args).await;
            if done(&value) {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                let shot = self.screenshot("board-failure.png").await;
                let text = self.eval("return document.body.innerText;", &[]).await;
                panic!(
                    "{what}: not within {WAIT:?}; last value {value}\npage ({}):\n{}",
                    shot.display(),
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types an API key into the board's form and sends it.
    async fn enter_key(&self, key: &str) {
        let input = self
            .client
            .find(Locator::Id("api-key"))
            .await
            .expect("the key field");
        input.send_keys(key).await.expect("the key is typed");
        self.client
            .find(Locator::Css("#key-form button"))
            .await
            .expect("the submit button")
            .click()
            .await
            .expect("the form is sent");
    }

    /// Picks an option of a filter by its value.
    async fn choose(&self, select_id: &str, value: &str) {
        self.client
            .find(Locator::Id(select_id))
            .await
            .expect("the filter")
            .select_by_value(value)
            .await
            .expect("the option is chosen");
    }

    /// Saves the viewport as a PNG in the artifacts directory.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// A screenshot at a window size, waiting for the layout to settle.
    async fn screenshot_at(&self, name: &str, width: u32, height: u32) -> PathBuf {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window is resized");
        let settled = format!("return window.innerWidth === {width};");
        self.wait_for("the new window size", &settled, &[], |v| *v == json!(true))
            .await;
        self.screenshot(name).await
    }

    async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Ends chromedriver's process group, Chromium included, also when a
    /// test fails halfway (a closed session has ended Chromium already).
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Chromium as this machine can run it: as root, headless, with no GPU and
/// nothing that reaches for the (closed) network.
fn capabilities(profile: &Path) -> serde_json::Map<String, Value> {
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Waits (up to 20 s) until chromedriver answers `/status` as ready.
async fn wait_for_driver(url: &str) {
    let client = reqwest::Client::new();
    let ready = async {
        loop {
            let status = client.get(format!("{url}/status")).send().await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .expect("chromedriver is ready within 20 s");
}

/// Where screenshots go: CHARGEGRAPH_ARTIFACTS_DIR, else `target/artifacts`.
fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("CHARGEGRAPH_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            tmp.parent().unwrap_or(tmp).join("artifacts")
        });
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}
