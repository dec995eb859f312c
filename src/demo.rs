//! `serve --demo`: replays a bundled GreenFlux day through our own HTTP
//! receiver, so a new user sees data in GraphiQL at once, then lets an
//! emulated CPO push a live fleet into it.

use std::net::SocketAddr;

use rand::RngCore;
use tracing::{info, warn};

use crate::domain::Party;
use crate::emulator::{Emulator, EmulatorConfig, EmulatorError, Target, Until};
use crate::ocpi::auth::hash_token;
use crate::shutdown::Shutdown;
use crate::store::{tokens, Store};

/// The party of the demo's emulated CPO, apart from the replayed NL/GFX day.
pub const EMULATOR_PARTY: &str = "NL/EMU";

const LOCATION_ID: &str = "0d4ef8c6-e0c8-54c1d-b4f4-eb245f3f7afa";
const SESSION_ID: &str = "NLGFX637561499213897595-ef07d";

/// One push of the demo day: method, path below `/ocpi/2.1.1/`, body.
struct Step {
    method: &'static str,
    path: String,
    body: &'static str,
}

fn day() -> Vec<Step> {
    let evse = format!("locations/NL/GFX/{LOCATION_ID}/BE-BEC-E041503001");
    let session = format!("sessions/NL/GFX/{SESSION_ID}");
    let step = |method, path: &str, body| Step {
        method,
        path: path.to_owned(),
        body,
    };
    vec![
        step(
            "PUT",
            &format!("locations/NL/GFX/{LOCATION_ID}"),
            include_str!("../tests/fixtures/greenflux/push_location_put.json"),
        ),
        step("PATCH", &evse, r#"{"status": "CHARGING"}"#),
        step(
            "PUT",
            &session,
            include_str!("../tests/fixtures/greenflux/push_session_put.json"),
        ),
        step(
            "PATCH",
            &session,
            include_str!("../tests/fixtures/greenflux/push_session_patch_compact.json"),
        ),
        step(
            "PATCH",
            &session,
            include_str!("../tests/fixtures/greenflux/push_session_patch_full_15min.json"),
        ),
        step(
            "PATCH",
            &session,
            include_str!("../tests/fixtures/greenflux/push_session_patch_completed.json"),
        ),
        step("PATCH", &evse, r#"{"status": "AVAILABLE"}"#),
        step(
            "POST",
            "cdrs",
            include_str!("../tests/fixtures/greenflux/cdr_pull_example_reconstructed.json"),
        ),
        step(
            "PUT",
            "notifications/dfa3b87a-bc90-447e-9541-88a9ac1bf618",
            include_str!("../tests/fixtures/greenflux/notification_doc_example.json"),
        ),
    ]
}

/// Creates a demo token for NL/GFX and pushes the day to the server at `addr`.
pub async fn replay(store: &Store, addr: SocketAddr) -> anyhow::Result<()> {
    let token = new_token();
    let party = Party::new("NL", "GFX");
    tokens::insert(
        store,
        &hash_token(&token),
        Some("demo".into()),
        &[party],
        false,
    )
    .await?;
    let client = reqwest::Client::new();
    for step in day() {
        let url = format!("http://{addr}/ocpi/2.1.1/{}", step.path);
        let method = reqwest::Method::from_bytes(step.method.as_bytes())?;
        let response = client
            .request(method, &url)
            .header("Authorization", format!("Token {token}"))
            .header("Content-Type", "application/json")
            .body(step.body)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        let message = body["status_message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status.is_success() && body["status_code"] == 1000 {
            info!(method = step.method, path = %step.path, %message, "demo push");
        } else {
            warn!(method = step.method, path = %step.path, %status, %message, "demo push refused");
        }
    }
    Ok(())
}

/// Simulated history the demo's emulator keeps: a day (24 real minutes).
const DEMO_RETENTION_SECS: u64 = 24 * 3600;

/// The demo's emulated CPO: 20 NL/EMU locations from now, at one simulated
/// minute per second, busy enough that an EVSE status changes every second
/// or two; a fresh random pull token for its sender interface; a simulated
/// day of finished history kept (its memory stays bounded).
pub fn emulator() -> Result<Emulator, EmulatorError> {
    let party = Party::parse(EMULATOR_PARTY).map_err(|e| EmulatorError::Config(e.to_string()))?;
    Emulator::new(EmulatorConfig {
        seed: 2024,
        party,
        locations: 20,
        speed: 60.0,
        sessions_per_evse_per_day: 12.0,
        faults_per_evse_per_day: 1.0,
        pull_token: new_token(),
        retention: Some(std::time::Duration::from_secs(DEMO_RETENTION_SECS)),
        ..EmulatorConfig::default()
    })
}

/// Creates a push token for the emulator's party and lets it push into the
/// server at `addr` until the server shuts down.
pub async fn emulate(
    store: &Store,
    addr: SocketAddr,
    emulator: Emulator,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let token = new_token();
    let party = emulator.config().party.clone();
    tokens::insert(
        store,
        &hash_token(&token),
        Some("demo emulator".into()),
        &[party],
        false,
    )
    .await?;
    let target = Target::new(format!("http://{addr}"), token);
    tokio::select! {
        run = emulator.run(&target, Until::Forever) => { run?; }
        () = shutdown.draining() => info!("demo emulator stopped"),
    }
    Ok(())
}

/// A new push token: 32 random bytes, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
