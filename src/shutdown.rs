//! Graceful shutdown: one signal that every part watches.
//!
//! On SIGTERM or SIGINT the server stops accepting connections; from that
//! moment the receiver answers new pushes 503 (not applied) while pushes
//! already being applied commit and are answered; WebSockets are closed with
//! 1001 (going away); after the drain time the process exits regardless.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::{TaskTracker, TaskTrackerToken};

/// The shutdown signal of one server; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    /// Work that outlives its HTTP request (WebSocket connections).
    running: TaskTracker,
}

impl Shutdown {
    /// A server that is running.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Starts the shutdown; later calls do nothing.
    pub fn begin(&self) {
        self.token.cancel();
    }

    /// Whether the shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the shutdown begins.
    pub async fn draining(&self) {
        self.token.cancelled().await
    }

    /// Counts a piece of work as running until the returned token is dropped.
    pub fn track(&self) -> TaskTrackerToken {
        self.running.token()
    }

    /// Waits, at most `limit`, for tracked work to end; whether it all did.
    pub async fn wait_tracked(&self, limit: Duration) -> bool {
        self.running.close();
        tokio::time::timeout(limit, self.running.wait())
            .await
            .is_ok()
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
