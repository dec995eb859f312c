//! JWT bearer tokens of front ends: HS256 with a shared secret, or RS256
//! with a public key PEM or a JWKS file, checked by the `jsonwebtoken` crate.
//!
//! A token scopes its caller with two claims (names configurable): the
//! parties it may read (`"parties": ["NL/GFX"]`, or `"*"` for all) and its
//! role (`"role": "operator"`, or a list of roles).

use std::path::Path;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::AuthError;
use crate::config::Config;
use crate::domain::{Access, Party};

/// Why the JWT settings cannot be used (at start-up).
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// A key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key could not be parsed.
    #[error("{what} is not usable: {source}")]
    Key {
        /// Which setting.
        what: &'static str,
        /// Why.
        source: jsonwebtoken::errors::Error,
    },
    /// The JWKS file is not a JWKS.
    #[error("jwt_jwks_file is not a JSON Web Key Set: {0}")]
    Jwks(serde_json::Error),
}

/// Verifies front-end JWTs against the configured keys.
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    /// RS256 keys of the JWKS, with their `kid`.
    jwks: Vec<(Option<String>, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
    parties_claim: String,
    role_claim: String,
    operator_role: String,
}

impl JwtVerifier {
    /// The verifier of the configured keys; `None` when no JWT key is set.
    pub fn from_config(config: &Config) -> Result<Option<JwtVerifier>, JwtError> {
        let hs256 = config
            .jwt_hs256_secret
            .as_ref()
            .map(|secret| DecodingKey::from_secret(secret.as_bytes()));
        let rs256 =
            match &config.jwt_rs256_public_key {
                Some(path) => Some(DecodingKey::from_rsa_pem(&read(path)?).map_err(|source| {
                    JwtError::Key {
                        what: "jwt_rs256_public_key",
                        source,
                    }
                })?),
                None => None,
            };
        let jwks = match &config.jwt_jwks_file {
            Some(path) => jwks_keys(&read(path)?)?,
            None => Vec::new(),
        };
        if hs256.is_none() && rs256.is_none() && jwks.is_empty() {
            return Ok(None);
        }
        Ok(Some(JwtVerifier {
            hs256,
            rs256,
            jwks,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            parties_claim: config.jwt_parties_claim.clone(),
            role_claim: config.jwt_role_claim.clone(),
            operator_role: config.jwt_operator_role.clone(),
        }))
    }

    /// Checks a token's signature, expiry, issuer and audience, then reads
    /// its scope; returns the Access and the `sub` claim.
    pub fn verify(&self, token: &str) -> Result<(Access, String), AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("malformed JWT: {e}")))?;
        let key = self.key_for(header.alg, header.kid.as_deref())?;
        let mut validation = Validation::new(header.alg);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map_err(rejection)?;
        let claims = data.claims;
        let access = Access::from_claims(self.parties(&claims)?, self.is_operator(&claims));
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok((access, subject))
    }

    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey, AuthError> {
        let key = match alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => {
                let from_jwks = self
                    .jwks
                    .iter()
                    .find(|(k, _)| kid.is_none() || k.as_deref() == kid)
                    .map(|(_, key)| key);
                from_jwks.or(self.rs256.as_ref())
            }
            other => {
                return Err(AuthError::Invalid(format!(
                    "JWT algorithm {other:?} is not accepted (HS256 or RS256)"
                )))
            }
        };
        key.ok_or_else(|| AuthError::Invalid(format!("no key configured for {alg:?} JWTs")))
    }

    /// `None` for every party ("*"); a missing claim reads no party.
    fn parties(&self, claims: &Map<String, Value>) -> Result<Option<Vec<Party>>, AuthError> {
        let claim = &self.parties_claim;
        let names: Vec<&str> = match claims.get(claim) {
            None | Some(Value::Null) => return Ok(Some(Vec::new())),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(_) => {
                return Err(AuthError::Invalid(format!(
                    "JWT claim {claim} must be a list of CC/PTY"
                )))
            }
        };
        if names.contains(&"*") {
            return Ok(None);
        }
        let parties = names
            .iter()
            .map(|n| Party::parse(n))
            .collect::<Result<_, _>>();
        parties
            .map(Some)
            .map_err(|e| AuthError::Invalid(format!("JWT claim {claim}: {e}")))
    }

    fn is_operator(&self, claims: &Map<String, Value>) -> bool {
        match claims.get(&self.role_claim) {
            Some(Value::String(role)) => *role == self.operator_role,
            Some(Value::Array(roles)) => roles
                .iter()
                .any(|r| r.as_str() == Some(self.operator_role.as_str())),
            _ => false,
        }
    }
}

impl Access {
    /// The scope a token's claims describe: `None` parties means every party.
    fn from_claims(parties: Option<Vec<Party>>, operator: bool) -> Access {
        match parties {
            None => Access::all_parties(operator),
            Some(parties) => Access::scoped(parties, operator),
        }
    }
}

fn rejection(err: jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired("JWT expired".into()),
        ErrorKind::InvalidSignature => AuthError::Invalid("JWT signature does not verify".into()),
        ErrorKind::InvalidIssuer => AuthError::Invalid("JWT issuer is not accepted".into()),
        ErrorKind::InvalidAudience => AuthError::Invalid("JWT audience is not accepted".into()),
        ErrorKind::ImmatureSignature => AuthError::Invalid("JWT is not valid yet (nbf)".into()),
        ErrorKind::MissingRequiredClaim(claim) => {
            AuthError::Invalid(format!("JWT lacks the claim {claim}"))
        }
        _ => AuthError::Invalid(format!("JWT refused: {err}")),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, JwtError> {
    std::fs::read(path).map_err(|source| JwtError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The RSA keys of a JWKS document; other key types are skipped.
fn jwks_keys(bytes: &[u8]) -> Result<Vec<(Option<String>, DecodingKey)>, JwtError> {
    let set: JwkSet = serde_json::from_slice(bytes).map_err(JwtError::Jwks)?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if !matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_)
        ) {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|source| JwtError::Key {
            what: "jwt_jwks_file",
            source,
        })?;
        keys.push((jwk.common.key_id.clone(), key));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn verifier() -> JwtVerifier {
        let config = Config {
            jwt_hs256_secret: Some("unit-test-secret".into()),
            jwt_issuer: Some("https://auth.example".into()),
            jwt_audience: Some("chargegraph".into()),
            ..Config::default()
        };
        JwtVerifier::from_config(&config).unwrap().unwrap()
    }

    fn sign(claims: Value, secret: &str) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes());
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    fn claims(extra: Value) -> Value {
        let mut base = json!({
            "sub": "board-1", "iss": "https://auth.example", "aud": "chargegraph",
            "exp": jsonwebtoken::get_current_timestamp() + 600,
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    }

    #[test]
    fn parties_and_role_claims_scope_the_caller() {
        let v = verifier();
        let token = sign(claims(json!({"parties": ["NL/GFX"]})), "unit-test-secret");
        let (access, sub) = v.verify(&token).unwrap();
        assert_eq!(sub, "board-1");
        assert_eq!(access, Access::scoped(vec![Party::new("NL", "GFX")], false));

        let token = sign(
            claims(json!({"parties": "*", "role": ["viewer", "operator"]})),
            "unit-test-secret",
        );
        assert_eq!(v.verify(&token).unwrap().0, Access::full());

        let token = sign(claims(json!({})), "unit-test-secret");
        assert_eq!(
            v.verify(&token).unwrap().0,
            Access::scoped(Vec::new(), false)
        );
    }

    #[test]
    fn wrong_secret_expiry_issuer_and_audience_are_refused() {
        let v = verifier();
        let refused = |token: String| v.verify(&token).unwrap_err().to_string();
        assert_eq!(
            refused(sign(claims(json!({})), "other-secret")),
            "JWT signature does not verify"
        );
        let expired = claims(json!({"exp": jsonwebtoken::get_current_timestamp() - 3600}));
        assert_eq!(refused(sign(expired, "unit-test-secret")), "JWT expired");
        let issuer = claims(json!({"iss": "https://evil.example"}));
        assert_eq!(
            refused(sign(issuer, "unit-test-secret")),
            "JWT issuer is not accepted"
        );
        let audience = claims(json!({"aud": "someone-else"}));
        assert_eq!(
            refused(sign(audience, "unit-test-secret")),
            "JWT audience is not accepted"
        );
        let bad_party = claims(json!({"parties": ["NLD/GFX"]}));
        assert!(refused(sign(bad_party, "unit-test-secret")).starts_with("JWT claim parties"));
    }
}
