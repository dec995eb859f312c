//! How one CPO is pulled: a `[[reconcile]]` entry of the configuration.
//!
//! The entries come from the TOML file or from CHARGEGRAPH_RECONCILE (a TOML
//! array of inline tables); an entry without `token` reads it from
//! CHARGEGRAPH_RECONCILE_<NAME>_TOKEN, so that the secret can stay out of
//! the file.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Party;
use crate::ocpi::path::Module;

/// A secret that never shows in `Debug` output or logs; `config check`
/// redacts it by its key name (`token`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Which pull API a CPO serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The OCPI sender interface, found through version discovery.
    #[default]
    Ocpi,
    /// GreenFlux's platform API: `api/{version}/{module}` under `url`.
    Greenflux,
}

impl Profile {
    /// The modules this profile can pull, in the order they are pulled
    /// (locations first, so that sessions and CDRs find them).
    pub fn modules(self) -> &'static [Module] {
        match self {
            Profile::Ocpi => &[
                Module::Locations,
                Module::Tariffs,
                Module::Sessions,
                Module::Cdrs,
            ],
            Profile::Greenflux => &[
                Module::Locations,
                Module::Sessions,
                Module::Cdrs,
                Module::Notifications,
            ],
        }
    }

    /// The profile's name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Ocpi => "ocpi",
            Profile::Greenflux => "greenflux",
        }
    }
}

/// Module URLs given by hand; each one set skips discovery for its module.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointUrls {
    /// The Locations sender endpoint.
    pub locations: Option<String>,
    /// The Sessions sender endpoint.
    pub sessions: Option<String>,
    /// The CDRs sender endpoint.
    pub cdrs: Option<String>,
    /// The Tariffs sender endpoint.
    pub tariffs: Option<String>,
    /// GreenFlux's notifications endpoint.
    pub notifications: Option<String>,
}

impl EndpointUrls {
    /// The URL given for a module.
    pub fn of(&self, module: Module) -> Option<&str> {
        match module {
            Module::Locations => self.locations.as_deref(),
            Module::Sessions => self.sessions.as_deref(),
            Module::Cdrs => self.cdrs.as_deref(),
            Module::Tariffs => self.tariffs.as_deref(),
            Module::Notifications => self.notifications.as_deref(),
        }
    }
}

/// One CPO to pull from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpoConfig {
    /// The CPO's name: `--cpo NAME`, reports and logs.
    pub name: String,
    /// The OCPI versions URL (`ocpi`), or the platform's base URL (`greenflux`).
    pub url: String,
    /// The token we pull with (`Authorization: Token ...`).
    pub token: Secret,
    /// `ocpi` or `greenflux`.
    pub profile: Profile,
    /// Parties the pulled objects belong to, as CC/PTY; the first owns
    /// objects that name none (2.1.1).
    pub parties: Vec<String>,
    /// Module URLs given by hand (skip discovery for those modules).
    pub endpoints: EndpointUrls,
    /// Modules to pull; empty: every module of the profile.
    pub modules: Vec<String>,
    /// GreenFlux: the API version in its paths (`api/{version}/...`); OCPI:
    /// the version to use instead of the newest both sides speak.
    pub version: Option<String>,
    /// Hours between scheduled pulls; 0: no schedule (manual and heals only).
    pub interval_hours: u64,
    /// Largest random delay added to each scheduled pull, in minutes.
    pub splay_minutes: u64,
    /// The `limit` asked for per page (the CPO may lower it).
    pub page_limit: u64,
    /// How far back the first pull of sessions (and notifications) reaches, in days.
    pub lookback_days: u64,
    /// Send the token base64-encoded (OCPI 2.2.1 to the letter) instead of raw.
    pub token_base64: bool,
    /// Longest wait for a connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Longest wait for one whole answer, in milliseconds.
    pub request_timeout_ms: u64,
    /// Retries of a request after a timeout, a connection error, 5xx or 429.
    pub retries: usize,
    /// First retry delay, in milliseconds (doubled per retry, with jitter).
    pub retry_base_ms: u64,
}

impl Default for CpoConfig {
    fn default() -> Self {
        CpoConfig {
            name: String::new(),
            url: String::new(),
            token: Secret::default(),
            profile: Profile::Ocpi,
            parties: Vec::new(),
            endpoints: EndpointUrls::default(),
            modules: Vec::new(),
            version: None,
            interval_hours: 24,
            splay_minutes: 60,
            page_limit: 100,
            lookback_days: 30,
            token_base64: false,
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            retries: 3,
            retry_base_ms: 500,
        }
    }
}

/// GreenFlux's example API version (its SDKs' paths use `api/2.0/...`).
pub const GREENFLUX_DEFAULT_VERSION: &str = "2.0";

impl CpoConfig {
    /// The parties, read; the first is the default owner.
    pub fn party_list(&self) -> Result<Vec<Party>, String> {
        self.parties
            .iter()
            .map(|p| Party::parse(p).map_err(|e| e.to_string()))
            .collect()
    }

    /// The modules to pull, in pull order.
    pub fn module_list(&self) -> Result<Vec<Module>, String> {
        let all = self.profile.modules();
        for name in &self.modules {
            if !all.iter().any(|m| m.name() == name) {
                return Err(format!(
                    "module {name:?} cannot be pulled with profile {}",
                    self.profile.name()
                ));
            }
        }
        let chosen =
            |m: &&Module| self.modules.is_empty() || self.modules.iter().any(|n| n == m.name());
        Ok(all.iter().filter(chosen).copied().collect())
    }

    /// What is wrong with this entry, if anything.
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() {
            return Err("a [[reconcile]] entry has no name".into());
        }
        reqwest::Url::parse(&self.url)
            .map_err(|e| format!("reconcile {name}: url {:?} is not a URL: {e}", self.url))?;
        if self.token.expose().is_empty() {
            return Err(format!(
                "reconcile {name}: no token (set token, or {})",
                token_variable(name)
            ));
        }
        let parties = self
            .party_list()
            .map_err(|e| format!("reconcile {name}: {e}"))?;
        if parties.is_empty() {
            return Err(format!(
                "reconcile {name}: no parties (e.g. parties = [\"NL/GFX\"])"
            ));
        }
        self.module_list()
            .map_err(|e| format!("reconcile {name}: {e}"))?;
        if self.page_limit == 0 {
            return Err(format!("reconcile {name}: page_limit must be at least 1"));
        }
        Ok(())
    }

    /// Longest wait for a connection.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    /// Longest wait for one answer.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// Fills a missing token from CHARGEGRAPH_RECONCILE_<NAME>_TOKEN.
    pub fn token_from_env(&mut self) {
        if !self.token.expose().is_empty() {
            return;
        }
        if let Ok(token) = std::env::var(token_variable(&self.name)) {
            self.token = Secret(token);
        }
    }
}

/// The variable a CPO's token may come from: its name upper-cased, other
/// characters than letters and digits as `_`.
pub fn token_variable(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CHARGEGRAPH_RECONCILE_{name}_TOKEN")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> CpoConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn an_entry_takes_defaults_and_names_its_problems() {
        let cpo = entry("name = \"gfx\"\nurl = \"https://cpo/ocpi/versions\"\ntoken = \"t\"\nparties = [\"nl/gfx\"]\n");
        assert_eq!(cpo.profile, Profile::Ocpi);
        assert_eq!((cpo.interval_hours, cpo.page_limit), (24, 100));
        assert_eq!(cpo.party_list().unwrap(), vec![Party::new("NL", "GFX")]);
        assert!(cpo.check().is_ok());
        let no_token = CpoConfig {
            token: Secret::default(),
            ..cpo.clone()
        };
        assert_eq!(
            no_token.check().unwrap_err(),
            "reconcile gfx: no token (set token, or CHARGEGRAPH_RECONCILE_GFX_TOKEN)"
        );
        let tariffs = CpoConfig {
            profile: Profile::Greenflux,
            modules: vec!["tariffs".into()],
            ..cpo
        };
        assert_eq!(
            tariffs.check().unwrap_err(),
            "reconcile gfx: module \"tariffs\" cannot be pulled with profile greenflux"
        );
    }

    #[test]
    fn modules_are_pulled_locations_first_whatever_the_order_given() {
        let cpo = CpoConfig {
            modules: vec!["cdrs".into(), "locations".into()],
            ..CpoConfig::default()
        };
        assert_eq!(
            cpo.module_list().unwrap(),
            vec![Module::Locations, Module::Cdrs]
        );
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let cpo = CpoConfig {
            token: Secret("pull-secret".into()),
            ..CpoConfig::default()
        };
        let debug = format!("{cpo:?}");
        assert!(!debug.contains("pull-secret"), "{debug}");
        assert!(debug.contains("token: \"***\""), "{debug}");
        assert_eq!(
            token_variable("gfx-prod"),
            "CHARGEGRAPH_RECONCILE_GFX_PROD_TOKEN"
        );
    }
}
