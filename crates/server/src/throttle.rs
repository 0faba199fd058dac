//! Sign-in throttling: after too many wrong passwords (or two-factor codes)
//! for one email or from one IP address within a window, further attempts
//! are refused with `429 too_many_attempts` and `Retry-After`, before the
//! password is even checked.
//!
//! A refused attempt does not count as a failure, and failures older than
//! the window are forgotten, so a lock ends at most one window after the
//! last wrong attempt: nobody can lock a person out for good. A correct
//! sign-in forgets the email's failures (not the address's, or an attacker
//! with an account of their own could reset the count).
//!
//! The counts live in memory, per process: a restart forgets them, and each
//! replica counts on its own. Time comes from the [`crate::Clock`].
//!
//! [`RequestLimiter`] limits how often something may be asked for at all
//! (sign-ups per address, password-reset mails per email and per address),
//! with the same sliding window and the same `429`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Wrong attempts allowed per email within the window unless configured.
pub const DEFAULT_MAX_FAILURES_PER_EMAIL: u32 = 10;
/// Wrong attempts allowed per IP address within the window unless
/// configured (higher: people behind one NAT or proxy share an address).
pub const DEFAULT_MAX_FAILURES_PER_IP: u32 = 100;
/// The window failures are counted in: 15 minutes.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

// Past this many keys, keys with no failure inside the window are dropped.
const PRUNE_AT_KEYS: usize = 10_000;

/// Recent failures by key (`email:…`, `ip:…`).
#[derive(Debug)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
    max_per_email: usize,
    max_per_ip: usize,
}

/// Who an attempt is counted against.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    email: String,
    ip: Option<String>,
}

impl AttemptKeys {
    /// An attempt for `email` (normalised) from `ip`, if known.
    pub fn new(email: &str, ip: Option<&str>) -> AttemptKeys {
        AttemptKeys {
            email: format!("email:{email}"),
            ip: ip.map(|ip| format!("ip:{ip}")),
        }
    }
}

impl SignInThrottle {
    /// At most `max_per_email` / `max_per_ip` failures per window; 0 turns
    /// that limit off.
    pub fn new(max_per_email: u32, max_per_ip: u32) -> SignInThrottle {
        SignInThrottle {
            failures: Mutex::new(HashMap::new()),
            max_per_email: max_per_email as usize,
            max_per_ip: max_per_ip as usize,
        }
    }

    fn limits<'a>(&self, keys: &'a AttemptKeys) -> impl Iterator<Item = (&'a str, usize)> {
        std::iter::once((keys.email.as_str(), self.max_per_email))
            .chain(keys.ip.as_deref().map(|ip| (ip, self.max_per_ip)))
            .filter(|(_, max)| *max > 0)
    }

    /// `Err(seconds)` until the attempt may be made, when the email or the
    /// address is over its limit.
    pub fn check(&self, keys: &AttemptKeys, now: i64) -> Result<(), u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait_ms = 0;
        for (key, max) in self.limits(keys) {
            let Some(times) = failures.get_mut(key) else {
                continue;
            };
            forget_old(times, now);
            if times.len() >= max {
                // Allowed again when enough failures have left the window.
                let oldest_counted = times[times.len() - max];
                wait_ms = wait_ms.max(oldest_counted + WINDOW_MS - now);
            }
        }
        if wait_ms > 0 {
            Err(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1))
        } else {
            Ok(())
        }
    }

    /// Counts a wrong password or code.
    pub fn record_failure(&self, keys: &AttemptKeys, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= PRUNE_AT_KEYS {
            failures.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
        }
        for (key, max) in self.limits(keys) {
            let times = failures.entry(key.to_owned()).or_default();
            forget_old(times, now);
            times.push_back(now);
            // Only the newest `max` matter for the decision.
            while times.len() > max {
                times.pop_front();
            }
        }
    }

    /// Forgets the email's failures after a correct sign-in.
    pub fn record_success(&self, keys: &AttemptKeys) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&keys.email);
    }
}

/// Sign-ups allowed per IP address within [`REQUEST_WINDOW_MS`] unless
/// configured.
pub const DEFAULT_SIGN_UPS_PER_IP: u32 = 20;
/// Password-reset requests allowed per email within [`REQUEST_WINDOW_MS`]
/// unless configured.
pub const DEFAULT_RESETS_PER_EMAIL: u32 = 5;
/// Password-reset requests allowed per IP address within
/// [`REQUEST_WINDOW_MS`] unless configured.
pub const DEFAULT_RESETS_PER_IP: u32 = 30;
/// The window sign-ups and reset requests are counted in: one hour.
pub const REQUEST_WINDOW_MS: i64 = 60 * 60 * 1000;

/// A sliding-window limit on requests (sign-ups, password-reset mails): at
/// most `max` accepted requests per key within the window. A refused request
/// is not counted, so a refusal lifts at most one window after the last
/// accepted request, however often someone keeps trying: nobody can lock a
/// person out for good.
///
/// Like [`SignInThrottle`], the counts live in memory, per process.
#[derive(Debug)]
pub struct RequestLimiter {
    accepted: Mutex<HashMap<String, VecDeque<i64>>>,
    window_ms: i64,
}

impl RequestLimiter {
    /// A limiter counting within `window_ms`.
    pub fn new(window_ms: i64) -> RequestLimiter {
        RequestLimiter {
            accepted: Mutex::new(HashMap::new()),
            window_ms,
        }
    }

    /// Accepts and counts a request against every `(key, max)` pair (a `max`
    /// of 0 is no limit), or, when any key is at its limit, counts nothing
    /// and returns `Err(seconds)` until the request would be accepted.
    pub fn admit(&self, limits: &[(&str, u32)], now: i64) -> Result<(), u64> {
        let mut accepted = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window_ms;
        let forget = |times: &mut VecDeque<i64>| {
            while times.front().is_some_and(|&t| t <= now - window) {
                times.pop_front();
            }
        };
        if accepted.len() >= PRUNE_AT_KEYS {
            accepted.retain(|_, times| {
                forget(times);
                !times.is_empty()
            });
        }
        let mut wait_ms = 0;
        for &(key, max) in limits.iter().filter(|(_, max)| *max > 0) {
            let max = max as usize;
            if let Some(times) = accepted.get_mut(key) {
                forget(times);
                if times.len() >= max {
                    let oldest_counted = times[times.len() - max];
                    wait_ms = wait_ms.max(oldest_counted + window - now);
                }
            }
        }
        if wait_ms > 0 {
            return Err(u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1));
        }
        for &(key, max) in limits.iter().filter(|(_, max)| *max > 0) {
            let times = accepted.entry(key.to_owned()).or_default();
            times.push_back(now);
            while times.len() > max as usize {
                times.pop_front();
            }
        }
        Ok(())
    }
}

fn forget_old(times: &mut VecDeque<i64>, now: i64) {
    while times.front().is_some_and(|&t| t <= now - WINDOW_MS) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn the_limit_refuses_then_lifts_as_failures_age() {
        let throttle = SignInThrottle::new(3, 5);
        let ann = AttemptKeys::new("ann@example.com", Some("10.0.0.1"));
        for minute in 0..3 {
            assert_eq!(throttle.check(&ann, minute * MINUTE), Ok(()));
            throttle.record_failure(&ann, minute * MINUTE);
        }
        // Third failure at minute 2; the first one (minute 0) leaves the
        // window at minute 15.
        assert_eq!(throttle.check(&ann, 3 * MINUTE), Err(12 * 60));
        // Another email from the same address is still allowed (5 per IP)…
        let bob = AttemptKeys::new("bob@example.com", Some("10.0.0.1"));
        assert_eq!(throttle.check(&bob, 3 * MINUTE), Ok(()));
        throttle.record_failure(&bob, 3 * MINUTE);
        throttle.record_failure(&bob, 3 * MINUTE);
        // …until the address has had 5 failures.
        let cy = AttemptKeys::new("cy@example.com", Some("10.0.0.1"));
        assert!(throttle.check(&cy, 4 * MINUTE).is_err());
        let cy_elsewhere = AttemptKeys::new("cy@example.com", Some("10.0.0.2"));
        assert_eq!(throttle.check(&cy_elsewhere, 4 * MINUTE), Ok(()));
        // Time lifts both limits.
        assert_eq!(throttle.check(&ann, 15 * MINUTE - 1000), Err(1));
        assert_eq!(throttle.check(&ann, 15 * MINUTE), Ok(()));
        assert_eq!(throttle.check(&cy, 15 * MINUTE), Ok(()));
    }

    #[test]
    fn success_forgets_the_email_and_zero_turns_a_limit_off() {
        let throttle = SignInThrottle::new(2, 0);
        let ann = AttemptKeys::new("ann@example.com", Some("10.0.0.1"));
        throttle.record_failure(&ann, 0);
        throttle.record_success(&ann);
        throttle.record_failure(&ann, 0);
        assert_eq!(throttle.check(&ann, 0), Ok(()));
        throttle.record_failure(&ann, 0);
        assert!(throttle.check(&ann, 0).is_err());
        // No per-address limit: another email from there is fine.
        let bob = AttemptKeys::new("bob@example.com", Some("10.0.0.1"));
        assert_eq!(throttle.check(&bob, 0), Ok(()));
    }
    #[test]
    fn requests_are_limited_in_a_sliding_window_and_refusals_do_not_count() {
        let limiter = RequestLimiter::new(60 * MINUTE);
        let limits = [("ip:10.0.0.1", 2), ("email:ann@example.com", 0)];
        assert_eq!(limiter.admit(&limits, 0), Ok(()));
        assert_eq!(limiter.admit(&limits, 10 * MINUTE), Ok(()));
        // The first request leaves the window at minute 60.
        assert_eq!(limiter.admit(&limits, 20 * MINUTE), Err(40 * 60));
        // Trying again and again does not push the end further away.
        for minute in 21..60 {
            assert!(limiter.admit(&limits, minute * MINUTE).is_err());
        }
        assert_eq!(limiter.admit(&limits, 60 * MINUTE), Ok(()));
        // Other keys are separate; 0 means no limit.
        for _ in 0..100 {
            assert_eq!(limiter.admit(&[("ip:10.0.0.2", 100_000)], 0), Ok(()));
        }
        assert_eq!(
            limiter.admit(&[("email:ann@example.com", 0)], 60 * MINUTE),
            Ok(())
        );
        // A refusal by one key counts against none.
        let both = [("ip:10.0.0.1", 2), ("email:bob@example.com", 1)];
        assert!(limiter.admit(&both, 61 * MINUTE).is_err());
        assert_eq!(
            limiter.admit(&[("email:bob@example.com", 1)], 61 * MINUTE),
            Ok(())
        );
    }
}
