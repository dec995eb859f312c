//! Rate limits: per address for callers without credentials (OCPI requests
//! that fail authentication, anonymous GraphQL), per API key or JWT subject
//! for GraphQL. An authenticated CPO's pushes are never limited: a refused
//! push is data lost for good (DESIGN.md, receiver policies).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::Extensions;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Identity;
use crate::config::Config;

/// Checks between sweeps of forgotten keys out of the limiters' maps.
const SWEEP_EVERY: u64 = 4096;

/// The limiters of one server; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<Inner>,
}

struct Inner {
    anonymous: Option<DefaultKeyedRateLimiter<IpAddr>>,
    keyed: Option<DefaultKeyedRateLimiter<Identity>>,
    checks: AtomicU64,
}

impl RateLimits {
    /// The limits the configuration asks for (a rate of 0 turns one off).
    pub fn from_config(config: &Config) -> RateLimits {
        let quota = |per_minute: u32, burst: u32| {
            let rate = NonZeroU32::new(per_minute)?;
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            Some(Quota::per_minute(rate).allow_burst(burst))
        };
        let anonymous = quota(
            config.rate_limit_anonymous_per_minute,
            config.rate_limit_anonymous_burst,
        );
        let keyed = quota(
            config.rate_limit_api_key_per_minute,
            config.rate_limit_api_key_burst,
        );
        RateLimits {
            inner: Arc::new(Inner {
                anonymous: anonymous.map(RateLimiter::keyed),
                keyed: keyed.map(RateLimiter::keyed),
                checks: AtomicU64::new(0),
            }),
        }
    }

    /// Whether a caller without (valid) credentials at `ip` may go on.
    pub fn allow_anonymous(&self, ip: IpAddr) -> bool {
        self.sweep();
        match &self.inner.anonymous {
            Some(limiter) => limiter.check_key(&ip).is_ok(),
            None => true,
        }
    }

    /// Whether a GraphQL caller may go on: by identity, or by address when anonymous.
    pub fn allow(&self, identity: &Identity, ip: IpAddr) -> bool {
        if *identity == Identity::Anonymous {
            return self.allow_anonymous(ip);
        }
        self.sweep();
        match &self.inner.keyed {
            Some(limiter) => limiter.check_key(identity).is_ok(),
            None => true,
        }
    }

    /// Forgets keys whose buckets are full again, so the maps stay small.
    fn sweep(&self) {
        if self.inner.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY != 0 {
            return;
        }
        if let Some(limiter) = &self.inner.anonymous {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.inner.keyed {
            limiter.retain_recent();
        }
    }
}

/// The peer address of a request (unspecified when served without connect info).
pub fn client_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_callers_are_limited_per_address_and_keys_apart() {
        let config = Config {
            rate_limit_anonymous_per_minute: 1,
            rate_limit_anonymous_burst: 2,
            rate_limit_api_key_per_minute: 1,
            rate_limit_api_key_burst: 1,
            ..Config::default()
        };
        let limits = RateLimits::from_config(&config);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limits.allow_anonymous(a));
        assert!(limits.allow_anonymous(a));
        assert!(!limits.allow_anonymous(a));
        assert!(limits.allow_anonymous(b));
        assert!(limits.allow(&Identity::ApiKey(7), a));
        assert!(!limits.allow(&Identity::ApiKey(7), a));
        assert!(limits.allow(&Identity::ApiKey(8), a));
        let off = RateLimits::from_config(&Config {
            rate_limit_anonymous_per_minute: 0,
            ..Config::default()
        });
        assert!((0..10_000).all(|_| off.allow_anonymous(a)));
    }
}
