//! Party keys: an OCPI country code and party id, compared case-insensitively.

use std::fmt;

/// A CPO party such as NL/GFX, held upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Party {
    /// ISO 3166 alpha-2 country code, upper-cased.
    pub country_code: String,
    /// The party id, upper-cased.
    pub party_id: String,
}

/// Why a party could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid party {0:?}: expected CC/PTY, for example NL/GFX")]
pub struct PartyError(pub String);

impl Party {
    /// A party from its two parts, upper-cased.
    pub fn new(country_code: &str, party_id: &str) -> Party {
        Party {
            country_code: key(country_code),
            party_id: key(party_id),
        }
    }

    /// Reads `CC/PTY` (also `CC-PTY` or `CC*PTY`).
    pub fn parse(s: &str) -> Result<Party, PartyError> {
        let mut parts = s.trim().splitn(2, ['/', '-', '*']);
        let cc = parts.next().unwrap_or_default();
        let pty = parts.next().unwrap_or_default();
        let valid = |p: &str, max: usize| {
            !p.is_empty() && p.len() <= max && p.chars().all(|c| c.is_ascii_alphanumeric())
        };
        if valid(cc, 2) && valid(pty, 3) {
            Ok(Party::new(cc, pty))
        } else {
            Err(PartyError(s.to_owned()))
        }
    }

    /// Whether this party owns the given URL or body spelling.
    pub fn is(&self, country_code: &str, party_id: &str) -> bool {
        self.country_code == key(country_code) && self.party_id == key(party_id)
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.country_code, self.party_id)
    }
}

/// The case-insensitive key of an OCPI id (CiString): its upper-cased form.
pub fn key(id: &str) -> String {
    id.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_upper_cases() {
        let party = Party::parse("nl/gfx").unwrap();
        assert_eq!(party.to_string(), "NL/GFX");
        assert!(party.is("NL", "gfx"));
        assert!(Party::parse("NLD/GFX").is_err());
        assert!(Party::parse("NL").is_err());
    }
}
