//! The one place the client waits. Every wait (Retry-After, backoff, pacing, device-code polling)
//! and every expiry (tokens) is measured in *Graph seconds* on a [`Clock`]:
//! - [`Clock::real`]: wall time;
//! - [`Clock::scaled`]: a wait of `d` sleeps `d × scale` of real time (the simulated tenant's
//!   `--time-scale` compresses its windows the same way, so both sides agree). What a *server*
//!   says (`Retry-After`, `expires_in`, a device code's `interval`) is real time already and
//!   goes through [`Clock::from_server`], so it is never compressed a second time;
//! - [`Clock::manual`]: virtual time for tests. A sleep returns at once and moves the clock to the
//!   sleeper's wake-up time, so tests assert *how long* the client waited without waiting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time source and sleeper shared by everything in one [`crate::graph::GraphClient`].
#[derive(Clone)]
pub struct Clock(Arc<Inner>);

/// Called with each sleep's duration on a manual clock.
type SleepHook = Arc<dyn Fn(Duration) + Send + Sync>;

enum Inner {
    Scaled {
        start: Instant,
        scale: f64,
    },
    Manual {
        now: Mutex<Duration>,
        slept: Mutex<Duration>,
        on_sleep: Option<SleepHook>,
    },
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::Scaled { scale, .. } => write!(f, "Clock::scaled({scale})"),
            Inner::Manual { .. } => write!(f, "Clock::manual(now = {:?})", self.now()),
        }
    }
}

impl Clock {
    /// Wall-clock time.
    pub fn real() -> Clock {
        Clock::scaled(1.0)
    }

    /// Real time compressed by `scale` (0.01 = a 150 s window passes in 1.5 s).
    /// Non-positive or non-finite values mean 1.0.
    pub fn scaled(scale: f64) -> Clock {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Clock(Arc::new(Inner::Scaled {
            start: Instant::now(),
            scale,
        }))
    }

    /// Virtual time starting at zero; sleeps return immediately and advance it.
    pub fn manual() -> Clock {
        Clock(Arc::new(Inner::Manual {
            now: Mutex::new(Duration::ZERO),
            slept: Mutex::new(Duration::ZERO),
            on_sleep: None,
        }))
    }

    /// A manual clock that also calls `on_sleep(d)` for every sleep, e.g. to advance the
    /// simulated tenant's manual clock in lock-step with the client's.
    pub fn manual_with_hook(on_sleep: impl Fn(Duration) + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(Inner::Manual {
            now: Mutex::new(Duration::ZERO),
            slept: Mutex::new(Duration::ZERO),
            on_sleep: Some(Arc::new(on_sleep)),
        }))
    }

    /// A duration a server stated in real seconds (`Retry-After`, `expires_in`, `interval`),
    /// in this clock's seconds: sleeping the result takes that long in real time at any scale.
    pub fn from_server(&self, real: Duration) -> Duration {
        match &*self.0 {
            Inner::Scaled { scale, .. } => real.div_f64(*scale),
            Inner::Manual { .. } => real,
        }
    }

    /// Time since the clock started, in Graph seconds.
    pub fn now(&self) -> Duration {
        match &*self.0 {
            Inner::Scaled { start, scale } => start.elapsed().div_f64(*scale),
            Inner::Manual { now, .. } => *lock(now),
        }
    }

    /// Waits `d` Graph seconds.
    pub async fn sleep(&self, d: Duration) {
        match &*self.0 {
            Inner::Scaled { scale, .. } => {
                if !d.is_zero() {
                    tokio::time::sleep(d.mul_f64(*scale)).await
                }
            }
            Inner::Manual {
                now,
                slept,
                on_sleep,
            } => {
                {
                    // Concurrent sleeps add up: virtual time is an upper bound of real time.
                    *lock(now) += d;
                    *lock(slept) += d;
                }
                if let Some(hook) = on_sleep {
                    hook(d);
                }
                tokio::task::yield_now().await;
            }
        }
    }

    /// Moves a manual clock forward (no effect on real clocks).
    pub fn advance(&self, d: Duration) {
        if let Inner::Manual { now, .. } = &*self.0 {
            *lock(now) += d;
        }
    }

    /// Total of all sleeps on a manual clock (zero on real clocks); lets tests check waits.
    pub fn total_slept(&self) -> Duration {
        match &*self.0 {
            Inner::Manual { slept, .. } => *lock(slept),
            Inner::Scaled { .. } => Duration::ZERO,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleeps_are_virtual_and_reported_to_the_hook() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let clock = Clock::manual_with_hook(move |d| s2.lock().unwrap().push(d));
        clock.sleep(Duration::from_millis(2128)).await;
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_millis(3128));
        assert_eq!(clock.total_slept(), Duration::from_millis(2128));
        assert_eq!(*seen.lock().unwrap(), [Duration::from_millis(2128)]);
    }

    #[tokio::test]
    async fn scaled_clocks_compress_waits() {
        let clock = Clock::scaled(0.001);
        let t = Instant::now();
        clock.sleep(Duration::from_secs(2)).await; // 2 ms of real time
        assert!(t.elapsed() < Duration::from_millis(500));
        assert!(clock.now() >= Duration::from_secs(2));
    }

    #[test]
    fn server_durations_stay_real_time_on_a_scaled_clock() {
        let clock = Clock::scaled(0.001);
        // 0.2 real seconds are 200 clock seconds, which sleep 0.2 real seconds.
        assert_eq!(
            clock.from_server(Duration::from_millis(200)),
            Duration::from_secs(200)
        );
        assert_eq!(
            Clock::manual().from_server(Duration::from_secs(3)),
            Duration::from_secs(3)
        );
    }
}
