//! Where handlers and jobs get the time from. Behaviour that depends on time
//! (token expiry, retention, the deletion grace period, two-factor codes)
//! reads it through a [`Clock`], so tests can move time on their own.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now as Unix milliseconds (UTC).
    fn now_ms(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// A clock that only moves when told to (tests). Clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            now: Arc::new(AtomicI64::new(start_ms)),
        }
    }

    /// Moves the clock forward (or back, with a negative amount).
    pub fn advance_ms(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set_ms(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}
