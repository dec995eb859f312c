//! Where each module is pulled from: OCPI version discovery (GET versions,
//! pick 2.2.1 else 2.1.1, GET its details, take the SENDER endpoints), or
//! GreenFlux's fixed `api/{version}/{module}` paths, or URLs given by hand.

use std::collections::HashMap;

use reqwest::Url;
use serde_json::Value;

use super::client::Client;
use super::settings::{CpoConfig, Profile, GREENFLUX_DEFAULT_VERSION};
use super::ReconcileError;
use crate::ocpi::path::Module;

/// The versions we can pull, best first (OCPI 2.2.1 versions module).
const PREFERRED: &[&str] = &["2.2.1", "2.1.1"];

/// The module URLs of one CPO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The OCPI version pulled objects are applied as (the receiver URL's
    /// version: it only sets the default strictness).
    pub version: &'static str,
    urls: HashMap<&'static str, Url>,
}

impl Endpoints {
    /// The list URL of a module, without a trailing slash.
    pub fn of(&self, module: Module) -> Option<&Url> {
        self.urls.get(module.name())
    }
}

/// Finds the URL of every module to pull.
pub async fn endpoints(
    client: &Client,
    cpo: &CpoConfig,
    modules: &[Module],
) -> Result<Endpoints, ReconcileError> {
    let mut endpoints = match cpo.profile {
        Profile::Greenflux => greenflux(cpo, modules)?,
        Profile::Ocpi if modules.iter().all(|m| cpo.endpoints.of(*m).is_some()) => Endpoints {
            version: wanted_version(cpo).unwrap_or("2.2.1"),
            urls: HashMap::new(),
        },
        Profile::Ocpi => discover(client, cpo).await?,
    };
    for module in modules {
        if let Some(given) = cpo.endpoints.of(*module) {
            endpoints.urls.insert(module.name(), parse(given)?);
        }
    }
    Ok(endpoints)
}

/// GreenFlux's platform API: `{url}/api/{version}/{module}`; its objects
/// are OCPI 2.1.1-shaped.
fn greenflux(cpo: &CpoConfig, modules: &[Module]) -> Result<Endpoints, ReconcileError> {
    let base = parse(&cpo.url)?;
    let version = cpo.version.as_deref().unwrap_or(GREENFLUX_DEFAULT_VERSION);
    let mut urls = HashMap::new();
    for module in modules {
        urls.insert(
            module.name(),
            below(&base, &["api", version, module.name()]),
        );
    }
    Ok(Endpoints {
        version: "2.1.1",
        urls,
    })
}

async fn discover(client: &Client, cpo: &CpoConfig) -> Result<Endpoints, ReconcileError> {
    // The versions and details URLs are fetched as given; only the module
    // endpoints are normalised (we append ids and queries to them).
    let versions_url = exact(&cpo.url)?;
    let listed = client.get(&versions_url).await?.data;
    let (version, details_url) =
        choose_version(&listed, wanted_version(cpo)).ok_or_else(|| ReconcileError::Discovery {
            url: versions_url.to_string(),
            reason: format!("no version we pull ({}) is listed", PREFERRED.join(", ")),
        })?;
    let details_url = exact(&details_url)?;
    let details = client.get(&details_url).await?.data;
    Ok(Endpoints {
        version,
        urls: sender_endpoints(&details)?,
    })
}

/// The version asked for in the configuration, when it is one we speak.
fn wanted_version(cpo: &CpoConfig) -> Option<&'static str> {
    let wanted = cpo.version.as_deref()?;
    PREFERRED.iter().copied().find(|v| *v == wanted)
}

/// The best listed version we speak (or the one wanted) and its details URL.
fn choose_version(listed: &Value, wanted: Option<&'static str>) -> Option<(&'static str, String)> {
    let list = listed.as_array()?;
    let url_of = |version: &str| {
        list.iter().find_map(|v| {
            let listed = v.get("version")?.as_str()?;
            (listed.trim() == version).then(|| v.get("url")?.as_str().map(str::to_owned))?
        })
    };
    let candidates: Vec<&'static str> = match wanted {
        Some(v) => vec![v],
        None => PREFERRED.to_vec(),
    };
    candidates
        .into_iter()
        .find_map(|v| url_of(v).map(|url| (v, url)))
}

/// The module endpoints of version details: SENDER ones in 2.2.1, every one
/// in 2.1.1 (which has no roles). Trailing slashes are dropped, as peers
/// differ on them (OCPI versions module).
fn sender_endpoints(details: &Value) -> Result<HashMap<&'static str, Url>, ReconcileError> {
    let mut urls = HashMap::new();
    let list = details
        .get("endpoints")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for endpoint in list {
        let role = endpoint.get("role").and_then(Value::as_str);
        if role.is_some_and(|r| !r.eq_ignore_ascii_case("SENDER")) {
            continue;
        }
        let (Some(identifier), Some(url)) = (
            endpoint.get("identifier").and_then(Value::as_str),
            endpoint.get("url").and_then(Value::as_str),
        ) else {
            continue;
        };
        if let Some(module) = module_named(identifier) {
            urls.insert(module.name(), parse(url)?);
        }
    }
    Ok(urls)
}

fn module_named(identifier: &str) -> Option<Module> {
    [
        Module::Locations,
        Module::Sessions,
        Module::Cdrs,
        Module::Tariffs,
        Module::Notifications,
    ]
    .into_iter()
    .find(|m| m.name().eq_ignore_ascii_case(identifier.trim()))
}

fn exact(text: &str) -> Result<Url, ReconcileError> {
    Url::parse(text.trim())
        .map_err(|e| ReconcileError::Config(format!("{text:?} is not a URL: {e}")))
}

/// A URL without a trailing slash on its path.
pub fn parse(text: &str) -> Result<Url, ReconcileError> {
    let mut url = Url::parse(text.trim())
        .map_err(|e| ReconcileError::Config(format!("{text:?} is not a URL: {e}")))?;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(if path.is_empty() { "/" } else { &path });
    Ok(url)
}

/// `base` with path segments appended (each percent-encoded as needed).
pub fn below(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_2_2_1_else_2_1_1_and_only_sender_endpoints() {
        let listed = json!([
            {"version": "2.1.1", "url": "https://cpo/ocpi/2.1.1/"},
            {"version": "2.2.1", "url": "https://cpo/ocpi/2.2.1/"},
        ]);
        assert_eq!(
            choose_version(&listed, None),
            Some(("2.2.1", "https://cpo/ocpi/2.2.1/".into()))
        );
        assert_eq!(
            choose_version(&listed, Some("2.1.1")).map(|(v, _)| v),
            Some("2.1.1")
        );
        let old = json!([{"version": "2.0", "url": "x"}, {"version": "2.1.1", "url": "y"}]);
        assert_eq!(choose_version(&old, None).map(|(v, _)| v), Some("2.1.1"));

        let details = json!({"version": "2.2.1", "endpoints": [
            {"identifier": "locations", "role": "RECEIVER", "url": "https://cpo/in/locations/"},
            {"identifier": "locations", "role": "SENDER", "url": "https://cpo/out/locations/"},
            {"identifier": "credentials", "role": "SENDER", "url": "https://cpo/out/credentials"},
        ]});
        let urls = sender_endpoints(&details).unwrap();
        assert_eq!(urls["locations"].as_str(), "https://cpo/out/locations");
        assert_eq!(urls.len(), 1);
    }

    #[test]
    fn greenflux_paths_sit_below_the_base_url() {
        let base = parse("https://platform.example/").unwrap();
        let url = below(&base, &["api", "2.0", "locations", "LOC 1/A"]);
        assert_eq!(
            url.as_str(),
            "https://platform.example/api/2.0/locations/LOC%201%2FA"
        );
    }
}
