//! Issue 7's promise end to end: the CPO emulator pushes into the spawned
//! chargegraph through a network that drops 10 % of its pushes and reorders
//! and repeats some, so what chargegraph holds differs from the emulator's
//! ground truth; one reconciliation against the emulator's own sender
//! interface makes them equal again, field by field (locations, EVSE
//! statuses, sessions with their periods, CDRs).

use std::time::Duration;

use chargegraph::emulator::{
    Emulator, EmulatorConfig, Faults, OcpiVersion, RunReport, SessionStatus, Target, Until,
};
use chargegraph::reconcile::{self, CpoConfig, Profile, RunOptions, Secret};

use crate::emulator::{config, differences, PULL_TOKEN};
use crate::harness::TestApp;

/// Four simulated hours of six busy locations (about 700 pushes).
const HOURS: Duration = Duration::from_secs(4 * 3600);

/// 10 % dropped, some reordered, some sent twice.
const LOSSY: Faults = Faults {
    drop: 0.10,
    reorder: 0.05,
    duplicate: 0.05,
};

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.max_page_size = 1000;
        c.graphql_max_complexity = 10_000_000;
    })
    .await
}

/// Serves the emulator's sender interface on 127.0.0.1:0; its root URL.
async fn serve(emulator: &Emulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = emulator.sender_router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// Pushes `HOURS` of the emulated world through the lossy network.
async fn lossy_run(app: &TestApp, config: EmulatorConfig) -> (Emulator, RunReport) {
    let emulator = Emulator::new(config).unwrap();
    let target = Target::new(app.url(""), app.token.clone());
    let report = emulator.run(&target, Until::For(HOURS)).await.unwrap();
    let p = &report.pushes;
    assert!(p.reordered > 0 && p.duplicated > 0, "{report:?}");
    assert_eq!(p.failed, 0, "{report:?}");
    (emulator, report)
}

/// The CPO as a `[[reconcile]]` entry: the emulator's party, its pull
/// token, a lookback reaching its simulated (past) clock.
fn cpo(profile: Profile, url: String) -> CpoConfig {
    CpoConfig {
        name: "emu".into(),
        url,
        token: Secret(PULL_TOKEN.into()),
        profile,
        parties: vec!["NL/GFX".into()],
        lookback_days: 3650,
        ..CpoConfig::default()
    }
}

async fn pull(app: &TestApp, cpo: &CpoConfig) -> reconcile::RunReport {
    reconcile::run_once(
        &app.state.store,
        &app.state.events,
        cpo,
        &RunOptions::default(),
    )
    .await
    .expect("the run is reported")
}

fn counts(report: &reconcile::RunReport, module: &str) -> (u64, u64, u64, u64, u64) {
    let m = report
        .module(module)
        .unwrap_or_else(|| panic!("no {module} in {report}"));
    (m.fetched, m.missing, m.updated, m.unchanged, m.failed)
}

fn shown(diffs: &[String]) -> String {
    format!("{} differences:\n{}", diffs.len(), diffs.join("\n"))
}

/// The highest outbox sequence number.
async fn max_seq(app: &TestApp) -> i64 {
    let seq = app
        .sqlite_column("SELECT CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM outbox")
        .await;
    seq[0].parse().unwrap()
}

#[tokio::test]
async fn one_ocpi_reconciliation_heals_what_a_lossy_network_lost() {
    let app = spawn().await;
    let (emulator, pushed) = lossy_run(&app, config(OcpiVersion::V211, LOSSY)).await;
    // Seed 42 and the network's own stream drop exactly these many.
    let p = &pushed.pushes;
    assert_eq!((p.intended, p.dropped, p.refused), (702, 64, 0));
    assert_eq!(pushed.dropped.len(), 64);
    let truth = emulator.ground_truth();
    let before = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(!before.is_empty(), "64 pushes dropped, yet no difference");

    // The OCPI profile discovers the sender interface (2.2.1 is chosen).
    let base = serve(&emulator).await;
    let entry = cpo(Profile::Ocpi, format!("{base}/ocpi/versions"));
    let report = pull(&app, &entry).await;

    let after = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(after.is_empty(), "{}\n{report}", shown(&after));
    assert!(report.is_clean(), "{report}");
    // (fetched, missing, updated, unchanged, failed). Pulled in 2.2.1, every
    // location and session pushed in 2.1.1 is updated (its stamps, its
    // periods' tariff, its token uid); two CDRs were lost and are created,
    // the five already held are the same CDRs in another shape.
    assert_eq!(counts(&report, "locations"), (6, 0, 6, 0, 0), "{report}");
    assert_eq!(counts(&report, "tariffs"), (3, 3, 0, 0, 0), "{report}");
    assert_eq!(counts(&report, "sessions"), (28, 0, 28, 0, 0), "{report}");
    assert_eq!(counts(&report, "cdrs"), (7, 2, 0, 5, 0), "{report}");

    // A second pull finds everything current: no write, no event.
    let seq = max_seq(&app).await;
    let again = pull(&app, &entry).await;
    assert_eq!(counts(&again, "locations"), (6, 0, 0, 6, 0), "{again}");
    assert_eq!(counts(&again, "sessions"), (28, 0, 0, 28, 0), "{again}");
    assert_eq!(counts(&again, "cdrs"), (7, 0, 0, 7, 0), "{again}");
    assert_eq!(max_seq(&app).await, seq, "no event for current objects");
}

/// `chargegraph reconcile` against the app's database, the CPO given by
/// CHARGEGRAPH_RECONCILE and its token by its own variable.
async fn reconcile_cli(app: &TestApp, entry: &str) -> (String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chargegraph"));
    command
        .args(["reconcile", "--cpo", "emu"])
        .env("CHARGEGRAPH_DATABASE_URL", &app.state.config.database_url)
        .env("CHARGEGRAPH_RECONCILE", entry)
        .env("CHARGEGRAPH_RECONCILE_EMU_TOKEN", PULL_TOKEN)
        .env_remove("CHARGEGRAPH_CONFIG");
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chargegraph runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[tokio::test]
async fn chargegraph_reconcile_pulling_the_shape_it_pushed_writes_only_what_was_lost() {
    let app = spawn().await;
    let (emulator, pushed) = lossy_run(&app, config(OcpiVersion::V211, LOSSY)).await;
    assert_eq!(pushed.pushes.dropped, 64);
    let truth = emulator.ground_truth();
    let base = serve(&emulator).await;
    let seq = max_seq(&app).await;

    let entry = format!(
        "[{{name = \"emu\", url = \"{base}/ocpi/versions\", parties = [\"NL/GFX\"], \
         version = \"2.1.1\", lookback_days = 3650}}]"
    );
    let (stdout, stderr) = reconcile_cli(&app, &entry).await;

    let after = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(after.is_empty(), "{}\n{stdout}", shown(&after));
    // The four sessions the drops left behind (a lost PUT, a lost
    // COMPLETED, two lost meter values) are updated; the other 24 and the
    // five CDRs held are unchanged.
    for line in [
        "  locations: fetched 6, missing 0, updated 6, unchanged 0, failed 0\n",
        "  tariffs: fetched 3, missing 3, updated 0, unchanged 0, failed 0\n",
        "  sessions: fetched 28, missing 0, updated 4, unchanged 24, failed 0\n",
        "  cdrs: fetched 7, missing 2, updated 0, unchanged 5, failed 0\n",
    ] {
        assert!(stdout.contains(line), "{line:?} in {stdout}");
    }
    assert!(!stdout.contains(PULL_TOKEN) && !stderr.contains(PULL_TOKEN));
    let events = app
        .sqlite_column(&format!(
            "SELECT kind || ' ' || CAST(COUNT(*) AS TEXT) FROM outbox WHERE seq > {seq} \
             GROUP BY kind ORDER BY kind"
        ))
        .await;
    assert_eq!(
        events,
        ["CDR_RECEIVED 2", "LOCATION_CHANGED 6", "SESSION_UPDATED 4"]
    );
}

#[tokio::test]
async fn an_ocpi_221_cpo_is_healed_the_same_way() {
    let app = spawn().await;
    let (emulator, pushed) = lossy_run(&app, config(OcpiVersion::V221, LOSSY)).await;
    assert_eq!((pushed.pushes.intended, pushed.pushes.dropped), (705, 65));
    let truth = emulator.ground_truth();
    let before = differences(&app, &truth, OcpiVersion::V221).await;
    // Lost EVSE PATCHes show here: 2.2.1 PATCHes carry last_updated.
    assert!(
        before.iter().any(|d| d.starts_with("EVSE ")),
        "{}",
        shown(&before)
    );
    let base = serve(&emulator).await;

    let report = pull(&app, &cpo(Profile::Ocpi, format!("{base}/ocpi/versions"))).await;

    let after = differences(&app, &truth, OcpiVersion::V221).await;
    assert!(after.is_empty(), "{}\n{report}", shown(&after));
    assert!(report.is_clean(), "{report}");
    assert_eq!(counts(&report, "locations"), (6, 0, 3, 3, 0), "{report}");
    assert_eq!(counts(&report, "tariffs"), (3, 0, 0, 3, 0), "{report}");
    assert_eq!(counts(&report, "sessions"), (28, 1, 9, 18, 0), "{report}");
    assert_eq!(counts(&report, "cdrs"), (7, 1, 0, 6, 0), "{report}");
}

/// Seed 2: the network drops the PUTs of two of the six locations, so the
/// 19 later pushes under them are refused (404/2003).
fn lost_locations() -> EmulatorConfig {
    EmulatorConfig {
        seed: 2,
        ..config(OcpiVersion::V211, LOSSY)
    }
}

#[tokio::test]
async fn locations_whose_put_was_lost_are_created_by_the_pull_with_what_was_refused_under_them() {
    let app = spawn().await;
    let (emulator, pushed) = lossy_run(&app, lost_locations()).await;
    let p = &pushed.pushes;
    assert_eq!((p.intended, p.dropped, p.refused), (674, 64, 19));
    let truth = emulator.ground_truth();
    let before = differences(&app, &truth, OcpiVersion::V211).await;
    let absent: Vec<&String> = before
        .iter()
        .filter(|d| d.starts_with("location ") && d.ends_with("got \"absent\""))
        .collect();
    assert_eq!(absent.len(), 2, "{}", shown(&before));
    let base = serve(&emulator).await;

    let report = pull(&app, &cpo(Profile::Ocpi, format!("{base}/ocpi/versions"))).await;

    let after = differences(&app, &truth, OcpiVersion::V211).await;
    assert!(after.is_empty(), "{}\n{report}", shown(&after));
    assert!(report.is_clean(), "{report}");
    assert_eq!(counts(&report, "locations"), (6, 2, 4, 0, 0), "{report}");
}

/// GreenFlux's platform API heals locations (EVSE statuses as its GET
/// says), completed sessions as aggregates, CDRs and notifications; it
/// serves no running session and no charging periods, so those stay as the
/// pushes left them (README, "What each profile can and cannot heal").
#[tokio::test]
async fn greenflux_pull_heals_locations_completed_sessions_and_cdrs_but_not_running_sessions() {
    let app = spawn().await;
    let (emulator, pushed) = lossy_run(&app, lost_locations()).await;
    assert_eq!((pushed.pushes.dropped, pushed.pushes.refused), (64, 19));
    let truth = emulator.ground_truth();
    let base = serve(&emulator).await;

    let report = pull(&app, &cpo(Profile::Greenflux, format!("{base}/"))).await;

    assert!(report.is_clean(), "{report}");
    // The two lost locations are created, the four others take the CPO's
    // EVSE stamps; nine completed sessions are served, two of them stale.
    assert_eq!(counts(&report, "locations"), (6, 2, 4, 0, 0), "{report}");
    assert_eq!(counts(&report, "sessions"), (9, 0, 2, 7, 0), "{report}");
    assert_eq!(counts(&report, "cdrs"), (8, 1, 0, 7, 0), "{report}");
    assert_eq!(
        counts(&report, "notifications"),
        (51, 4, 0, 47, 0),
        "{report}"
    );
    let notifications = app
        .sqlite_column("SELECT CAST(COUNT(*) AS TEXT) FROM notification")
        .await;
    assert_eq!(notifications, [truth.notifications.len().to_string()]);

    // Locations (with every EVSE status) and CDRs are whole again; what is
    // left is sessions only.
    let after = differences(&app, &truth, OcpiVersion::V211).await;
    let session = |id: &str| truth.sessions.iter().find(|s| s.id == id).unwrap();
    let left: Vec<(&str, &str, SessionStatus)> = after
        .iter()
        .map(|d| {
            let mut words = d.split(' ');
            assert_eq!(words.next(), Some("session"), "{}", shown(&after));
            let id = words.next().unwrap();
            let field = words.next().unwrap().trim_end_matches(':');
            (id, field, session(id).status)
        })
        .collect();
    use SessionStatus::{Active, Completed};
    assert_eq!(
        left,
        [
            // Completed, but a lost 15-minute PATCH carried some periods.
            ("NLGFX638765808256689716-48664", "periods", Completed),
            ("NLGFX638765816100014323-d1b64", "periods", Completed),
            // Running: a lost meter PATCH.
            ("NLGFX638765874944423080-4df0d", "kwh", Active),
            // Running, and its PUT was lost: a stub until it completes.
            ("NLGFX638765903119653293-82336", "location", Active),
            ("NLGFX638765903119653293-82336", "evse", Active),
            ("NLGFX638765903119653293-82336", "connector", Active),
            ("NLGFX638765903119653293-82336", "auth", Active),
            ("NLGFX638765903119653293-82336", "auth", Active),
            ("NLGFX638765903119653293-82336", "incomplete", Active),
        ],
        "{}",
        shown(&after)
    );
}
