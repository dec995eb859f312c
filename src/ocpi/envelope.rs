//! The OCPI response envelope and the one place where errors become HTTP answers.

use axum::http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::domain::Timestamp;

/// The body of every OCPI answer, errors included (OCPI 2.2.1 transport_and_format).
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// The object(s) returned, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The OCPI status code (1000 success, 2xxx client error, 3xxx server error).
    pub status_code: u16,
    /// A human-readable explanation.
    pub status_message: String,
    /// When the answer was made.
    pub timestamp: Timestamp,
}

impl Envelope {
    /// A success envelope.
    pub fn success(data: Option<Value>, message: impl Into<String>) -> Envelope {
        Envelope::new(1000, data, message)
    }

    /// An envelope with any status code.
    pub fn new(status_code: u16, data: Option<Value>, message: impl Into<String>) -> Envelope {
        Envelope {
            data,
            status_code,
            status_message: message.into(),
            timestamp: Timestamp::now(),
        }
    }
}

/// Why the receiver refused a request. Each variant names its HTTP and OCPI status.
#[derive(Debug, thiserror::Error)]
pub enum OcpiError {
    /// 401 / 2000: missing, unknown or other-scheme credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 400 / 2000: the body is not JSON, or is empty where a body is needed.
    #[error("{0}")]
    BadJson(String),
    /// 200 / 2001: the object is invalid (the message names the JSON path).
    #[error("{0}")]
    Invalid(String),
    /// 404 / 2003: the location, EVSE, connector or tariff is unknown.
    #[error("{0}")]
    UnknownLocation(String),
    /// 404 / 2001: the URL's party is not writable with this token.
    #[error("{0}")]
    ForeignParty(String),
    /// 404 / 2000: nothing is stored at this URL, or no such endpoint exists.
    #[error("{0}")]
    NotFound(String),
    /// 405 / 2000: the method is not supported here; carries the Allow list.
    #[error("method {method} is not supported at this URL (allowed: {allow})")]
    MethodNotAllowed {
        /// The method that was used.
        method: String,
        /// The methods this URL supports, comma-separated.
        allow: String,
    },
    /// 413 / 2000: the body is over the size limit.
    #[error("request body is over the limit of {0} bytes")]
    TooLarge(usize),
    /// 429 / 2000: too many requests without valid credentials from this address.
    #[error("too many requests without valid credentials; retry later")]
    RateLimited,
    /// 408 / 2000: the request body did not arrive in time.
    #[error("request body not received within {0} ms")]
    TimedOut(u64),
    /// 503 / 3000: the server is shutting down and did not apply the push.
    #[error("server is shutting down; push not applied")]
    Unavailable,
    /// 500 / 3000: our fault; the cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl OcpiError {
    /// The HTTP status of this error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            OcpiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            OcpiError::BadJson(_) => StatusCode::BAD_REQUEST,
            OcpiError::Invalid(_) => StatusCode::OK,
            OcpiError::UnknownLocation(_) | OcpiError::ForeignParty(_) | OcpiError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            OcpiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            OcpiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            OcpiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            OcpiError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            OcpiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            OcpiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OCPI status code of this error.
    pub fn status_code(&self) -> u16 {
        match self {
            OcpiError::Invalid(_) | OcpiError::ForeignParty(_) => 2001,
            OcpiError::UnknownLocation(_) => 2003,
            OcpiError::Unavailable | OcpiError::Internal(_) => 3000,
            _ => 2000,
        }
    }

    /// The inbox outcome recorded for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            OcpiError::Unauthorized(_) => "unauthorized",
            OcpiError::TooLarge(_) => "too_large",
            OcpiError::RateLimited => "rate_limited",
            OcpiError::TimedOut(_) => "timed_out",
            OcpiError::NotFound(_) | OcpiError::MethodNotAllowed { .. } => "no_route",
            OcpiError::Unavailable => "unavailable",
            OcpiError::Internal(_) => "error",
            _ => "rejected",
        }
    }

    /// Whether the inbox row may keep the body (DESIGN.md: not for 401 and 413).
    pub fn keeps_body(&self) -> bool {
        !matches!(
            self,
            OcpiError::Unauthorized(_)
                | OcpiError::TooLarge(_)
                | OcpiError::RateLimited
                | OcpiError::TimedOut(_)
        )
    }

    /// The envelope sent for this error; internal causes are never sent.
    pub fn envelope(&self) -> Envelope {
        Envelope::new(self.status_code(), None, self.to_string())
    }

    /// The Allow header value for a 405.
    pub fn allow_header(&self) -> Option<HeaderValue> {
        match self {
            OcpiError::MethodNotAllowed { allow, .. } => HeaderValue::from_str(allow).ok(),
            _ => None,
        }
    }
}

impl From<crate::store::StoreError> for OcpiError {
    fn from(err: crate::store::StoreError) -> Self {
        OcpiError::Internal(err.to_string())
    }
}

impl From<sea_orm::DbErr> for OcpiError {
    fn from(err: sea_orm::DbErr) -> Self {
        OcpiError::Internal(err.to_string())
    }
}
