//! Push tokens: `Authorization: Token <x>`, raw or base64, looked up by SHA-256.

use axum::http::HeaderMap;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::{Party, Timestamp};
use crate::ocpi::OcpiError;
use crate::store::tokens::{self, Lookup};
use crate::store::Store;

/// The CPO behind an authenticated push.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token row's id.
    pub token_pk: i64,
    /// Parties this token may write; the first is the default.
    pub parties: Vec<Party>,
    /// 2.2.1 to the letter: a PATCH without last_updated is refused.
    pub strict: bool,
}

impl Caller {
    /// The party of objects that carry none (2.1.1 CDRs, notifications).
    pub fn default_party(&self) -> Option<&Party> {
        self.parties.first()
    }

    /// The caller that pulled objects are applied as: the CPO's parties (the
    /// first owns objects that name none), lenient, and no push token
    /// (`token_pk` 0, which the inbox records as none).
    pub fn puller(parties: Vec<Party>) -> Caller {
        Caller {
            token_pk: 0,
            parties,
            strict: false,
        }
    }

    /// Whether this token may write objects of the given party.
    pub fn may_write(&self, country_code: &str, party_id: &str) -> bool {
        self.parties.iter().any(|p| p.is(country_code, party_id))
    }
}

/// The hex SHA-256 under which a token is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Authenticates a request, trying the raw token first and then its base64 decoding
/// (OCPI 2.2.1 requires base64; 2.1.1 peers such as GreenFlux send it raw).
/// An expired or revoked token is told apart from an unknown one, so that a
/// CPO's operator sees at once why its pushes stopped.
pub async fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, OcpiError> {
    let token = credentials(headers)?;
    let mut found = tokens::lookup(store, &hash_token(token)).await?;
    if matches!(found, Lookup::Unknown) {
        if let Some(decoded) = decode_base64(token) {
            found = tokens::lookup(store, &hash_token(&decoded)).await?;
        }
    }
    match found {
        Lookup::Active(caller) => Ok(caller),
        Lookup::Expired(at) => Err(OcpiError::Unauthorized(format!(
            "token expired at {}",
            Timestamp::from_datetime(at)
        ))),
        Lookup::Revoked => Err(OcpiError::Unauthorized("token revoked".into())),
        Lookup::Unknown => Err(OcpiError::Unauthorized("unknown token".into())),
    }
}

fn credentials(headers: &HeaderMap) -> Result<&str, OcpiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| OcpiError::Unauthorized("missing Authorization header".into()))?;
    let value = value
        .to_str()
        .map_err(|_| OcpiError::Unauthorized("Authorization header is not ASCII".into()))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("token") {
        return Err(OcpiError::Unauthorized(
            "expected the Authorization scheme Token".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(OcpiError::Unauthorized("empty token".into()));
    }
    Ok(token)
}

fn decode_base64(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scheme_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "tOkEn abc".parse().unwrap());
        assert_eq!(credentials(&headers).unwrap(), "abc");
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        assert!(credentials(&headers).is_err());
    }

    #[test]
    fn decodes_base64_of_the_token() {
        assert_eq!(
            decode_base64("ZXhhbXBsZS10b2tlbg==").unwrap(),
            "example-token"
        );
    }
}
