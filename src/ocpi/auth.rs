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
    /// When a PATCH without last_updated is refused.
    pub strictness: Strictness,
}

/// How strictly a token's pushes are held to OCPI 2.2.1: whether a PATCH
/// without `last_updated` is refused (2001) or applied in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Strict under `/ocpi/2.2.1/`, lenient under `/ocpi/2.1.1/` (the
    /// default: 2.1.1 has no last_updated rule, GreenFlux pushes 2.1.1).
    #[default]
    ByVersion,
    /// Strict under either base (`token add --strict`).
    Strict,
    /// Lenient under either base (`token add --lenient`).
    Lenient,
}

impl Strictness {
    /// Whether a PATCH under this URL version must carry last_updated.
    pub fn is_strict(self, version: &str) -> bool {
        match self {
            Strictness::ByVersion => version != "2.1.1",
            Strictness::Strict => true,
            Strictness::Lenient => false,
        }
    }

    /// The stored and listed name: `by-version`, `strict` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strictness::ByVersion => "by-version",
            Strictness::Strict => "strict",
            Strictness::Lenient => "lenient",
        }
    }

    /// Reads a stored name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Strictness> {
        [
            Strictness::ByVersion,
            Strictness::Strict,
            Strictness::Lenient,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
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
            strictness: Strictness::Lenient,
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
///
/// The form that matched (never the token) is recorded on the request span
/// as `token.form` and in a debug line.
pub async fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, OcpiError> {
    let token = credentials(headers)?;
    let mut found = tokens::lookup(store, &hash_token(token)).await?;
    let mut form = "raw";
    if matches!(found, Lookup::Unknown) {
        for (name, decoded) in decodings(token) {
            found = tokens::lookup(store, &hash_token(&decoded)).await?;
            if !matches!(found, Lookup::Unknown) {
                form = name;
                break;
            }
        }
    }
    if !matches!(found, Lookup::Unknown) {
        tracing::Span::current().record("token.form", form);
        tracing::debug!(token.form = form, "push token recognised");
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

/// The token of an `Authorization: Token <x>` header, as sent (raw or base64).
pub(crate) fn credentials(headers: &HeaderMap) -> Result<&str, OcpiError> {
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

/// The base64 readings of a token, each named by its form: standard padded
/// (RFC 4648 §4, what OCPI 2.2 asks for), then unpadded, then the URL-safe
/// alphabet (§5) padded and unpadded, as peers send them.
pub(crate) fn decodings(token: &str) -> Vec<(&'static str, String)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let engines: [(&str, &base64::engine::GeneralPurpose); 4] = [
        ("base64", &STANDARD),
        ("base64-unpadded", &STANDARD_NO_PAD),
        ("base64url", &URL_SAFE),
        ("base64url-unpadded", &URL_SAFE_NO_PAD),
    ];
    let mut seen = Vec::new();
    for (name, engine) in engines {
        let Some(text) = engine
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            continue;
        };
        if text != token && !seen.iter().any(|(_, t)| *t == text) {
            seen.push((name, text));
        }
    }
    seen
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
    fn strictness_follows_the_base_unless_set() {
        assert!(Strictness::ByVersion.is_strict("2.2.1"));
        assert!(!Strictness::ByVersion.is_strict("2.1.1"));
        assert!(Strictness::Strict.is_strict("2.1.1"));
        assert!(!Strictness::Lenient.is_strict("2.2.1"));
        assert_eq!(Strictness::parse("by-version"), Some(Strictness::ByVersion));
        assert_eq!(Strictness::parse("true"), None);
    }

    #[test]
    fn decodes_each_base64_form_of_the_token() {
        let forms = |t: &str| -> Vec<(&str, String)> { decodings(t) };
        assert_eq!(
            forms("ZXhhbXBsZS10b2tlbg=="),
            [("base64", "example-token".to_owned())]
        );
        assert_eq!(
            forms("ZXhhbXBsZS10b2tlbg"),
            [("base64-unpadded", "example-token".to_owned())]
        );
        // "<<??>>" has a '+' and a '/' in standard base64.
        assert_eq!(forms("PDw/Pz4+"), [("base64", "<<??>>".to_owned())]);
        assert_eq!(forms("PDw_Pz4-"), [("base64url", "<<??>>".to_owned())]);
        assert_eq!(forms("not base64!"), []);
    }
}
