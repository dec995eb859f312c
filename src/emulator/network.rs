//! Delivery of pushes over real HTTP, through a network that drops, holds
//! back and duplicates some of them, as the CPO's real one does.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;
use tracing::{debug, warn, Instrument};

use super::model::OcpiVersion;
use super::sim::Push;

/// Where pushes go: the receiver's base URL and the push token.
#[derive(Clone)]
pub struct Target {
    url: String,
    token: String,
}

impl Target {
    /// A receiver at `url`: its version base (`http://host/ocpi/2.1.1`), or
    /// its root, to which `/ocpi/{version}` is added.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            token: token.into(),
        }
    }

    /// The version base the module paths are put under.
    pub fn base(&self, version: OcpiVersion) -> String {
        let url = self.url.trim_end_matches('/');
        let path = reqwest::Url::parse(url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let last = path.rsplit('/').next().unwrap_or_default();
        let is_version = last.contains('.') && last.chars().all(|c| c.is_ascii_digit() || c == '.');
        if is_version {
            url.to_owned()
        } else {
            format!("{url}/ocpi/{}", version.as_str())
        }
    }
}

impl fmt::Debug for Target {
    /// Never shows the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("token", &"***")
            .finish()
    }
}

/// What happened to the pushes of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Pushes the CPO meant to send.
    pub intended: u64,
    /// Answered 2xx with OCPI status 1000 (duplicates included).
    pub accepted: u64,
    /// Answered otherwise (an HTTP error or another OCPI status).
    pub refused: u64,
    /// Not answered (connection refused, timeout).
    pub failed: u64,
    /// Dropped by the network: never sent.
    pub dropped: u64,
    /// Held back and sent after later pushes.
    pub reordered: u64,
    /// Sent twice.
    pub duplicated: u64,
    /// Not sent because the run had no target (`Emulator::simulate`).
    pub unsent: u64,
}

/// Shares of pushes the network drops, reorders and duplicates (0 to 1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Share of pushes never sent.
    pub drop: f64,
    /// Share of pushes held back and sent after one to three later ones.
    pub reorder: f64,
    /// Share of pushes sent twice.
    pub duplicate: f64,
}

struct Held {
    after: u32,
    push: Push,
}

/// Sends pushes to one target.
pub(crate) struct Network {
    client: reqwest::Client,
    base: String,
    authorization: String,
    faults: Faults,
    held: Vec<Held>,
}

impl Network {
    /// A network to `target`, speaking `version`.
    pub fn new(
        target: &Target,
        version: OcpiVersion,
        faults: Faults,
    ) -> Result<Network, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Network {
            client,
            base: target.base(version),
            authorization: format!("Token {}", target.token),
            faults,
            held: Vec::new(),
        })
    }

    /// Sends `pushes` in order, unless the network drops or holds one back.
    pub async fn deliver(
        &mut self,
        pushes: Vec<Push>,
        rng: &mut StdRng,
        stats: &mut PushStats,
        dropped: &mut Vec<String>,
    ) {
        for push in pushes {
            stats.intended += 1;
            if rng.gen_bool(self.faults.drop) {
                stats.dropped += 1;
                debug!(push = %push.describe(), "push dropped");
                dropped.push(push.describe());
                continue;
            }
            if rng.gen_bool(self.faults.reorder) {
                stats.reordered += 1;
                let after = rng.gen_range(1..=3);
                self.held.push(Held { after, push });
                continue;
            }
            self.send(&push, stats).await;
            if rng.gen_bool(self.faults.duplicate) {
                stats.duplicated += 1;
                self.send(&push, stats).await;
            }
            self.release(stats).await;
        }
    }

    /// Sends the held-back pushes whose turn has come.
    async fn release(&mut self, stats: &mut PushStats) {
        for held in &mut self.held {
            held.after = held.after.saturating_sub(1);
        }
        let (due, later): (Vec<Held>, Vec<Held>) = self.held.drain(..).partition(|h| h.after == 0);
        self.held = later;
        for held in due {
            self.send(&held.push, stats).await;
        }
    }

    /// Sends every push still held back (the end of a run).
    pub async fn flush(&mut self, stats: &mut PushStats) {
        for held in std::mem::take(&mut self.held) {
            self.send(&held.push, stats).await;
        }
    }

    async fn send(&self, push: &Push, stats: &mut PushStats) {
        let span = tracing::debug_span!(
            "emulator.push",
            ocpi.module = push.module,
            http.method = %push.method,
            http.path = %push.path,
        );
        let url = format!("{}/{}", self.base, push.path);
        let request = self
            .client
            .request(push.method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .json(&push.body);
        async {
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let envelope: Value = response.json().await.unwrap_or(Value::Null);
                    let code = envelope["status_code"].as_i64();
                    if status.is_success() && code == Some(1000) {
                        stats.accepted += 1;
                        debug!(status = status.as_u16(), "push accepted");
                    } else {
                        stats.refused += 1;
                        let message = envelope["status_message"].as_str().unwrap_or_default();
                        warn!(status = status.as_u16(), status_code = code, %message, "push refused");
                    }
                }
                Err(err) => {
                    stats.failed += 1;
                    warn!(error = %err, "push not delivered");
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_url_gets_the_version_base_and_a_version_base_is_kept() {
        let root = Target::new("http://127.0.0.1:8080/", "t");
        assert_eq!(
            root.base(OcpiVersion::V211),
            "http://127.0.0.1:8080/ocpi/2.1.1"
        );
        assert_eq!(
            root.base(OcpiVersion::V221),
            "http://127.0.0.1:8080/ocpi/2.2.1"
        );
        let base = Target::new("https://emsp.example/ocpi/cpo/2.2.1/", "t");
        assert_eq!(
            base.base(OcpiVersion::V211),
            "https://emsp.example/ocpi/cpo/2.2.1"
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let target = Target::new("http://x", "secret-token");
        assert!(!format!("{target:?}").contains("secret-token"));
    }
}
