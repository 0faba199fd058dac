//! Bandwidth limits for transfers to and from the service. The limits can
//! change while a transfer runs: every chunk reads the current one.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes are paced in pieces of this size.
pub const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// A pacing window: bytes sent since `start` at `rate`.
struct Window {
    start: Instant,
    bytes: u64,
    rate: u64,
}

/// Upload and download limits in bytes per second (0 = unlimited), shared by
/// every transfer of one agent.
#[derive(Default)]
pub struct Throttle {
    up: AtomicU64,
    down: AtomicU64,
    windows: Mutex<[Option<Window>; 2]>,
}

impl Throttle {
    pub fn set_limits(&self, up: u64, down: u64) {
        self.up.store(up, Ordering::Relaxed);
        self.down.store(down, Ordering::Relaxed);
    }

    #[cfg(test)]
    fn limits(&self) -> (u64, u64) {
        (self.up.load(Ordering::Relaxed), self.down.load(Ordering::Relaxed))
    }

    /// Accounts `bytes` just moved in `direction`, sleeping as long as needed
    /// to keep the average under the limit.
    pub fn pace(&self, direction: Direction, bytes: u64) {
        let wait = self.reserve(direction, bytes, Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Books `bytes` at time `now` and returns how long to wait before moving on.
    fn reserve(&self, direction: Direction, bytes: u64, now: Instant) -> Duration {
        let (slot, rate) = match direction {
            Direction::Up => (0, self.up.load(Ordering::Relaxed)),
            Direction::Down => (1, self.down.load(Ordering::Relaxed)),
        };
        if rate == 0 {
            return Duration::ZERO;
        }
        {
            let mut windows = self.windows.lock().expect("throttle lock");
            let window = windows[slot].get_or_insert(Window { start: now, bytes: 0, rate });
            // A new limit, or a pause between transfers, starts a new window
            // so old credit or debt does not carry over.
            if window.rate != rate || now.duration_since(window.start) > Duration::from_secs(10) && window.bytes == 0 {
                *window = Window { start: now, bytes: 0, rate };
            }
            window.bytes += bytes;
            let due = window.start + Duration::from_secs_f64(window.bytes as f64 / rate as f64);
            let wait = due.saturating_duration_since(now);
            if wait.is_zero() && now.duration_since(window.start) > Duration::from_secs(2) {
                // Idle time is not saved up as a burst.
                *window = Window { start: now, bytes: 0, rate };
            }
            wait
        }
    }
}

/// A reader (an upload body) paced by a [`Throttle`].
pub struct Paced<R> {
    inner: R,
    throttle: Arc<Throttle>,
    direction: Direction,
}

impl<R: Read> Paced<R> {
    pub fn new(inner: R, throttle: Arc<Throttle>, direction: Direction) -> Self {
        Paced { inner, throttle, direction }
    }
}

impl<R: Read> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = buf.len().min(CHUNK);
        let n = self.inner.read(&mut buf[..len])?;
        self.throttle.pace(self.direction, n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_current_limit() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(throttle.reserve(Direction::Up, 1 << 30, t0), Duration::ZERO, "no limit, no pacing");

        throttle.set_limits(1000, 0);
        assert_eq!(throttle.limits(), (1000, 0));
        assert_eq!(throttle.reserve(Direction::Up, 2000, t0), Duration::from_secs(2));
        assert_eq!(throttle.reserve(Direction::Down, 2000, t0), Duration::ZERO, "directions are separate");
        // 1 s later another 1000 bytes are due at 3 s: wait 2 s more.
        assert_eq!(throttle.reserve(Direction::Up, 1000, t0 + Duration::from_secs(1)), Duration::from_secs(2));

        // A new limit applies to the very next chunk.
        throttle.set_limits(4000, 0);
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(throttle.reserve(Direction::Up, 2000, t1), Duration::from_millis(500));
    }

    #[test]
    fn a_paced_reader_passes_every_byte_through() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let throttle = Arc::new(Throttle::default());
        let mut out = Vec::new();
        Paced::new(&data[..], throttle, Direction::Up).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}
