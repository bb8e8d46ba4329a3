//! The one place the client waits. Every wait (Retry-After, backoff, pacing, device-code polling)
//! and every expiry (tokens) is measured in *Graph seconds* on a [`Clock`]:
//! - [`Clock::real`]: wall time;
//! - [`Clock::scaled`]: a wait of `d` sleeps `d × scale` of real time (the simulated tenant's
//!   `--time-scale` compresses its windows the same way, so both sides agree);
//! - [`Clock::manual`]: virtual time for tests. A sleep returns at once and moves the clock to the
//!   sleeper's wake-up time, so tests assert *how long* the client waited without waiting.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time source and sleeper shared by everything in one [`crate::graph::GraphClient`].
#[derive(Clone, Debug)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    Scaled {
        start: Instant,
        scale: f64,
    },
    Manual {
        now: Mutex<Duration>,
        slept: Mutex<Duration>,
    },
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
        }))
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
            Inner::Manual { now, slept } => {
                {
                    // Concurrent sleeps add up: virtual time is an upper bound of real time.
                    *lock(now) += d;
                    *lock(slept) += d;
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
