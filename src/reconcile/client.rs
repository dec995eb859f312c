//! The pull client: one GET to a CPO, with our token, timeouts and bounded
//! retries, answered by an OCPI envelope whose status_code must be 1000.
//!
//! Retries (timeouts, connection errors, 5xx, 429) use `backon`'s
//! exponential backoff with jitter: a small, maintained crate that retries
//! an async closure with a predicate (`when`) and a hook to log each retry
//! (`notify`), which is all this needs; a hand-written loop would repeat it.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Url;
use serde_json::Value;

use super::settings::CpoConfig;
use super::ReconcileError;

/// Longest pause between two retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// One answer whose envelope said 1000.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The envelope's `data`.
    pub data: Value,
    /// The response headers (Link, X-Total-Count, X-Limit).
    pub headers: HeaderMap,
}

/// An HTTP client for one CPO; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    authorization: HeaderValue,
    backoff: ExponentialBuilder,
}

impl Client {
    /// A client with the CPO's token, timeouts and retry policy.
    pub fn new(cpo: &CpoConfig) -> Result<Client, ReconcileError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cpo.connect_timeout())
            .timeout(cpo.request_timeout())
            .user_agent(concat!("chargegraph/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ReconcileError::Config(format!("cannot build the HTTP client: {e}")))?;
        let token = if cpo.token_base64 {
            base64::engine::general_purpose::STANDARD.encode(cpo.token.expose())
        } else {
            cpo.token.expose().to_owned()
        };
        let mut authorization = HeaderValue::from_str(&format!("Token {token}")).map_err(|_| {
            ReconcileError::Config(format!("reconcile {}: the token is not ASCII", cpo.name))
        })?;
        authorization.set_sensitive(true);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(cpo.retry_base_ms.max(1)))
            .with_max_delay(MAX_RETRY_DELAY)
            .with_max_times(cpo.retries)
            .with_jitter();
        Ok(Client {
            http,
            authorization,
            backoff,
        })
    }

    /// GETs `url`, retrying transient failures, and returns the envelope's
    /// data once its status_code is 1000.
    pub async fn get(&self, url: &Url) -> Result<Answer, ReconcileError> {
        let attempt = || self.get_once(url);
        attempt
            .retry(self.backoff)
            .when(ReconcileError::is_transient)
            .notify(|err, pause| {
                tracing::warn!(error = %err, retry_in_ms = pause.as_millis() as u64, "pull request failed; retrying");
            })
            .await
    }

    async fn get_once(&self, url: &Url) -> Result<Answer, ReconcileError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header("X-Request-ID", &request_id)
            .header("X-Correlation-ID", &request_id)
            .send()
            .await
            .map_err(|e| transport(url, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| transport(url, &e))?;
        let envelope: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let message = envelope.as_ref().and_then(status_message);
            return Err(ReconcileError::Http {
                url: url.to_string(),
                status: status.as_u16(),
                message,
            });
        }
        let envelope = envelope.ok_or_else(|| not_envelope(url, "not JSON"))?;
        let data = read_envelope(url, envelope)?;
        Ok(Answer { data, headers })
    }
}

/// The data of a 1000 envelope; any other status_code is an error.
fn read_envelope(url: &Url, envelope: Value) -> Result<Value, ReconcileError> {
    let Some(code) = envelope.get("status_code").and_then(status_code) else {
        return Err(not_envelope(url, "no status_code"));
    };
    if code != 1000 {
        return Err(ReconcileError::Status {
            url: url.to_string(),
            status_code: code,
            message: status_message(&envelope),
        });
    }
    let mut envelope = envelope;
    Ok(envelope
        .get_mut("data")
        .map(Value::take)
        .unwrap_or(Value::Null))
}

/// A status_code sent as a number or (leniently) as a numeric string.
fn status_code(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn status_message(envelope: &Value) -> Option<String> {
    envelope
        .get("status_message")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn transport(url: &Url, err: &reqwest::Error) -> ReconcileError {
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause.push_str(": ");
        cause.push_str(&inner.to_string());
        source = inner.source();
    }
    ReconcileError::Transport {
        url: url.to_string(),
        cause,
        timeout: err.is_timeout(),
    }
}

fn not_envelope(url: &Url, reason: &str) -> ReconcileError {
    ReconcileError::NotEnvelope {
        url: url.to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url() -> Url {
        Url::parse("https://cpo.example/ocpi/2.2.1/locations").unwrap()
    }

    #[test]
    fn only_a_1000_envelope_gives_its_data() {
        let ok = json!({"data": [1, 2], "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"});
        assert_eq!(read_envelope(&url(), ok).unwrap(), json!([1, 2]));
        let lenient = json!({"data": {"a": 1}, "status_code": "1000"});
        assert_eq!(read_envelope(&url(), lenient).unwrap(), json!({"a": 1}));
        let refused = json!({"status_code": 2001, "status_message": "date_from missing"});
        let err = read_envelope(&url(), refused).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET https://cpo.example/ocpi/2.2.1/locations answered OCPI status_code 2001: date_from missing"
        );
        assert!(!err.is_transient(), "an OCPI error status is an answer");
        assert!(read_envelope(&url(), json!([1])).is_err());
    }

    #[test]
    fn server_errors_and_429_are_retried_client_errors_not() {
        let http = |status| ReconcileError::Http {
            url: url().to_string(),
            status,
            message: None,
        };
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(404).is_transient());
        assert!(!http(401).is_transient());
    }
}
