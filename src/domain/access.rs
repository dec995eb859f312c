//! What a front-end caller may read: some parties or all, and whether it is
//! an operator (the inbox and reconciliation runs are for operators only).
//!
//! Resolvers, subscriptions and exports narrow every read to the caller's
//! parties through this one type; the GraphQL auth layer decides which
//! `Access` a request gets.

use super::party::Party;

/// The read scope of one GraphQL request, subscription or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Parties the caller may read; `None` means every party.
    parties: Option<Vec<Party>>,
    /// Whether the caller may read operator data.
    operator: bool,
}

impl Access {
    /// Nothing at all: the scope to fall back on when none is known.
    pub const NONE: Access = Access {
        parties: Some(Vec::new()),
        operator: false,
    };

    /// Everything, for an open GraphQL endpoint (GraphQL auth off).
    pub fn full() -> Access {
        Access {
            parties: None,
            operator: true,
        }
    }

    /// Every party; operator data only when `operator`.
    pub fn all_parties(operator: bool) -> Access {
        Access {
            parties: None,
            operator,
        }
    }

    /// Only these parties (an empty list sees nothing); operator data when `operator`.
    pub fn scoped(parties: Vec<Party>, operator: bool) -> Access {
        Access {
            parties: Some(parties),
            operator,
        }
    }

    /// The parties the caller may read, or `None` for every party.
    pub fn parties(&self) -> Option<&[Party]> {
        self.parties.as_deref()
    }

    /// Whether the caller may read objects of this party (any spelling).
    pub fn may_read(&self, country_code: &str, party_id: &str) -> bool {
        match &self.parties {
            None => true,
            Some(parties) => parties.iter().any(|p| p.is(country_code, party_id)),
        }
    }

    /// Whether the caller may read the inbox and reconciliation runs.
    pub fn is_operator(&self) -> bool {
        self.operator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_access_reads_only_its_parties() {
        let access = Access::scoped(vec![Party::new("NL", "GFX")], false);
        assert!(access.may_read("nl", "gfx"));
        assert!(!access.may_read("BE", "BEC"));
        assert!(!access.is_operator());
        assert!(Access::full().may_read("BE", "BEC"));
        assert!(!Access::scoped(Vec::new(), true).may_read("NL", "GFX"));
    }
}
