//! Front-end authentication: which `Access` a GraphQL request, subscription
//! or export gets, from an API key or a JWT bearer token.
//!
//! Credentials are read from HTTP headers (`Authorization: Bearer <jwt or
//! key>`, `X-API-Key: <key>`) or from a WebSocket `connection_init` payload
//! (`{"Authorization": "Bearer ..."}` or `{"apiKey": "..."}`). With auth off
//! every caller gets full access; with it on, a caller without valid
//! credentials gets an error and nothing else (the schema default is then
//! `Access::NONE`).

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use rand::RngCore;

use crate::config::Config;
use crate::domain::{Access, Timestamp};
use crate::store::api_keys::{self, KeyLookup};
use crate::store::tokens::UsageThrottle;
use crate::store::{Store, StoreError};

mod gate;
mod jwt;

pub use gate::{export_access, Gate, Refusal};
pub use jwt::{JwtError, JwtVerifier};

/// The prefix of every API key, so that a key is told from a JWT at a glance.
pub const API_KEY_PREFIX: &str = "cgk_";

/// Why a caller was not let in. Every variant is answered UNAUTHENTICATED
/// (HTTP 401), except `Store`, which is our fault.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials were sent.
    #[error("credentials required: send Authorization: Bearer <JWT or API key>, or X-API-Key")]
    Missing,
    /// The credentials are malformed or not known.
    #[error("{0}")]
    Invalid(String),
    /// The API key or JWT expired.
    #[error("{0}")]
    Expired(String),
    /// The API key was revoked.
    #[error("API key revoked")]
    Revoked,
    /// The key store failed.
    #[error("cannot check credentials")]
    Store(#[from] StoreError),
}

/// Who a caller is, for rate limits and logs (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// No credentials (auth off, or a refused caller).
    Anonymous,
    /// An API key, by row id.
    ApiKey(i64),
    /// A JWT, by its `sub` claim (empty when absent).
    Jwt(String),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// What it may read.
    pub access: Access,
    /// Who it is.
    pub identity: Identity,
}

/// Checks front-end credentials; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    enabled: bool,
    jwt: Option<JwtVerifier>,
    usage: UsageThrottle,
}

/// Credentials as sent, before they are checked.
enum Credentials {
    None,
    ApiKey(String),
    Jwt(String),
}

impl Authenticator {
    /// The authenticator the configuration asks for; fails on unreadable JWT keys.
    pub fn from_config(config: &Config, store: Store) -> Result<Authenticator, JwtError> {
        let jwt = JwtVerifier::from_config(config)?;
        Ok(Authenticator {
            inner: Arc::new(Inner {
                store,
                enabled: config.graphql_auth,
                jwt,
                usage: UsageThrottle::new(std::time::Duration::from_secs(60)),
            }),
        })
    }

    /// Whether credentials are required.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// The scope of a request that brings no valid credentials.
    pub fn default_access(&self) -> Access {
        if self.enabled() {
            Access::NONE
        } else {
            Access::full()
        }
    }

    /// Authenticates an HTTP request (POST/GET /graphql, a WebSocket upgrade, an export).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Authenticated, AuthError> {
        self.check(from_headers(headers)?).await
    }

    /// Authenticates a WebSocket `connection_init` payload.
    pub async fn authenticate_init(
        &self,
        payload: &serde_json::Value,
    ) -> Result<Authenticated, AuthError> {
        self.check(from_init_payload(payload)?).await
    }

    async fn check(&self, credentials: Credentials) -> Result<Authenticated, AuthError> {
        if !self.enabled() {
            return Ok(Authenticated {
                access: Access::full(),
                identity: Identity::Anonymous,
            });
        }
        match credentials {
            Credentials::None => Err(AuthError::Missing),
            Credentials::ApiKey(key) => self.check_api_key(&key).await,
            Credentials::Jwt(token) => {
                let jwt = self.inner.jwt.as_ref().ok_or_else(|| {
                    AuthError::Invalid(
                        "JWTs are not accepted here: no JWT key is configured".into(),
                    )
                })?;
                let (access, subject) = jwt.verify(&token)?;
                Ok(Authenticated {
                    access,
                    identity: Identity::Jwt(subject),
                })
            }
        }
    }

    async fn check_api_key(&self, key: &str) -> Result<Authenticated, AuthError> {
        let hash = crate::ocpi::auth::hash_token(key);
        match api_keys::lookup(&self.inner.store, &hash).await? {
            KeyLookup::Active(id, access) => {
                self.note_use(id);
                Ok(Authenticated {
                    access,
                    identity: Identity::ApiKey(id),
                })
            }
            KeyLookup::Expired(at) => Err(AuthError::Expired(format!(
                "API key expired at {}",
                Timestamp::from_datetime(at)
            ))),
            KeyLookup::Revoked => Err(AuthError::Revoked),
            KeyLookup::Unknown => Err(AuthError::Invalid("unknown API key".into())),
        }
    }

    /// Writes the key's last use down, at most once a minute, off the request path.
    fn note_use(&self, id: i64) {
        if !self.inner.usage.due(id) {
            return;
        }
        let store = self.inner.store.clone();
        // In the request's span, so that its log lines carry the X-Request-ID.
        let write = async move {
            if let Err(err) = api_keys::touch(&store, id).await {
                tracing::warn!(api_key.id = id, error = %err, "cannot record API key use");
            }
        };
        tokio::spawn(tracing::Instrument::instrument(
            write,
            tracing::Span::current(),
        ));
    }
}

/// A new API key secret: the prefix and 32 random bytes, base64url.
pub fn new_api_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("{API_KEY_PREFIX}{body}")
}

fn from_headers(headers: &HeaderMap) -> Result<Credentials, AuthError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| AuthError::Invalid("Authorization header is not ASCII".into()))?;
        return from_authorization(value);
    }
    if let Some(value) = headers.get("x-api-key") {
        let value = value
            .to_str()
            .map_err(|_| AuthError::Invalid("X-API-Key header is not ASCII".into()))?;
        return api_key(value);
    }
    Ok(Credentials::None)
}

/// `Bearer <JWT or API key>`; the scheme is case-insensitive.
fn from_authorization(value: &str) -> Result<Credentials, AuthError> {
    let (scheme, secret) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Invalid(
            "expected the Authorization scheme Bearer".into(),
        ));
    }
    let secret = secret.trim();
    if secret.starts_with(API_KEY_PREFIX) {
        api_key(secret)
    } else if secret.is_empty() {
        Err(AuthError::Invalid("empty bearer token".into()))
    } else {
        Ok(Credentials::Jwt(secret.to_owned()))
    }
}

fn api_key(value: &str) -> Result<Credentials, AuthError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AuthError::Invalid("empty API key".into()));
    }
    Ok(Credentials::ApiKey(value.to_owned()))
}

/// Reads `{"Authorization": "Bearer ..."}` (any case, also nested under
/// `headers`) or `{"apiKey": "..."}` (also `api_key`, `x-api-key`).
fn from_init_payload(payload: &serde_json::Value) -> Result<Credentials, AuthError> {
    let Some(object) = payload.as_object() else {
        return Ok(Credentials::None);
    };
    let field = |names: &[&str]| {
        object
            .iter()
            .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(_, v)| v)
    };
    if let Some(value) = field(&["authorization"]) {
        let text = value
            .as_str()
            .ok_or_else(|| AuthError::Invalid("Authorization must be a string".into()))?;
        return from_authorization(text);
    }
    if let Some(value) = field(&["apiKey", "api_key", "x-api-key"]) {
        let text = value
            .as_str()
            .ok_or_else(|| AuthError::Invalid("apiKey must be a string".into()))?;
        return api_key(text);
    }
    match field(&["headers"]) {
        Some(headers) => from_init_payload(headers),
        None => Ok(Credentials::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(c: Result<Credentials, AuthError>) -> String {
        match c {
            Ok(Credentials::None) => "none".into(),
            Ok(Credentials::ApiKey(k)) => format!("key:{k}"),
            Ok(Credentials::Jwt(t)) => format!("jwt:{t}"),
            Err(e) => format!("error:{e}"),
        }
    }

    #[test]
    fn headers_name_keys_and_jwts() {
        let mut headers = HeaderMap::new();
        assert_eq!(kind(from_headers(&headers)), "none");
        headers.insert("x-api-key", "cgk_abc".parse().unwrap());
        assert_eq!(kind(from_headers(&headers)), "key:cgk_abc");
        headers.insert("authorization", "bearer a.b.c".parse().unwrap());
        assert_eq!(kind(from_headers(&headers)), "jwt:a.b.c");
        headers.insert("authorization", "Bearer cgk_xyz".parse().unwrap());
        assert_eq!(kind(from_headers(&headers)), "key:cgk_xyz");
        headers.insert("authorization", "Token cgk_xyz".parse().unwrap());
        assert_eq!(
            kind(from_headers(&headers)),
            "error:expected the Authorization scheme Bearer"
        );
    }

    #[test]
    fn init_payloads_name_keys_and_jwts() {
        let read = |v: serde_json::Value| kind(from_init_payload(&v));
        assert_eq!(read(json!({})), "none");
        assert_eq!(read(json!(null)), "none");
        assert_eq!(read(json!({"Authorization": "Bearer a.b.c"})), "jwt:a.b.c");
        assert_eq!(read(json!({"authorization": "Bearer cgk_1"})), "key:cgk_1");
        assert_eq!(read(json!({"apiKey": "cgk_2"})), "key:cgk_2");
        assert_eq!(
            read(json!({"headers": {"Authorization": "Bearer x.y.z"}})),
            "jwt:x.y.z"
        );
        assert_eq!(read(json!({"apiKey": 5})), "error:apiKey must be a string");
    }

    #[test]
    fn api_keys_are_prefixed_and_random() {
        let (a, b) = (new_api_key(), new_api_key());
        assert!(a.starts_with(API_KEY_PREFIX));
        assert_eq!(a.len(), API_KEY_PREFIX.len() + 43);
        assert_ne!(a, b);
    }
}
