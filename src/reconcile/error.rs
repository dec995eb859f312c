//! Why a pull, or part of it, failed.

use crate::store::StoreError;

/// Errors of the reconcile layer. URLs are ours to log (the token travels
/// only in the Authorization header, never in a URL).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The `[[reconcile]]` entry cannot be used.
    #[error("{0}")]
    Config(String),
    /// No request could be completed: timeout, refused connection, broken
    /// body (retried).
    #[error("GET {url} failed: {cause}")]
    Transport {
        /// The URL asked for.
        url: String,
        /// What went wrong, with its chain.
        cause: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// The CPO answered with an HTTP error status (5xx and 429 are retried).
    #[error("GET {url} answered HTTP {status}{}", detail(.message))]
    Http {
        /// The URL asked for.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The envelope's status message, when the body was one.
        message: Option<String>,
    },
    /// The answer is not an OCPI envelope.
    #[error("GET {url}: the answer is not an OCPI envelope: {reason}")]
    NotEnvelope {
        /// The URL asked for.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The envelope's status_code is not 1000 (never retried).
    #[error("GET {url} answered OCPI status_code {status_code}{}", detail(.message))]
    Status {
        /// The URL asked for.
        url: String,
        /// The OCPI status code.
        status_code: i64,
        /// The status message.
        message: Option<String>,
    },
    /// Version discovery found nothing to pull from.
    #[error("version discovery at {url}: {reason}")]
    Discovery {
        /// The versions or version details URL.
        url: String,
        /// What was missing.
        reason: String,
    },
    /// The CPO's `Link: rel="next"` names a page already fetched in this
    /// crawl; following it would never end.
    #[error(
        "Link rel=\"next\" of {from} points to {to}, which this crawl already fetched; stopped"
    )]
    LinkLoop {
        /// The page whose Link it is.
        from: String,
        /// Where it points.
        to: String,
    },
    /// The crawl went on for more pages than any real list has.
    #[error("more than {0} pages; stopped")]
    TooManyPages(usize),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn detail(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

impl ReconcileError {
    /// Whether trying the same request again may help: timeouts, connection
    /// errors, 5xx and 429. An OCPI error status (2001, ...) is an answer,
    /// never retried.
    pub fn is_transient(&self) -> bool {
        match self {
            ReconcileError::Transport { .. } => true,
            ReconcileError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
