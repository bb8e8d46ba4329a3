//! One notion of time for the whole tenant: simulated seconds since start. Throttle windows,
//! token lifetimes and device-code expiry all read it, so `--time-scale` compresses them together
//! and tests can move the clock instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Debug)]
pub enum SimClock {
    /// Real time multiplied by `scale` (1.0 = real time), plus whatever [`SimClock::advance`]
    /// added. Use this when a real client sleeps on `Retry-After`.
    Scaled {
        start: Instant,
        scale: f64,
        jumped: Arc<Mutex<f64>>,
    },
    /// Moves only when told to: for tests that drive the tenant directly and never sleep.
    Manual(Arc<Mutex<f64>>),
}

impl SimClock {
    pub fn scaled(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        SimClock::Scaled {
            start: Instant::now(),
            scale,
            jumped: Arc::new(Mutex::new(0.0)),
        }
    }

    pub fn manual() -> Self {
        SimClock::Manual(Arc::new(Mutex::new(0.0)))
    }

    /// Simulated seconds since the tenant started.
    pub fn now(&self) -> f64 {
        match self {
            SimClock::Scaled {
                start,
                scale,
                jumped,
            } => {
                start.elapsed().as_secs_f64() * scale
                    + *jumped.lock().unwrap_or_else(|e| e.into_inner())
            }
            SimClock::Manual(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// How many simulated seconds pass per real second (a manual clock counts as 1).
    pub fn scale(&self) -> f64 {
        match self {
            SimClock::Scaled { scale, .. } => *scale,
            SimClock::Manual(_) => 1.0,
        }
    }

    /// Simulated seconds → the real seconds a client must wait (what goes on the wire).
    pub fn to_real(&self, sim_secs: f64) -> f64 {
        sim_secs / self.scale()
    }

    /// Jump forward by `secs` simulated seconds (e.g. to expire every token at once).
    pub fn advance(&self, secs: f64) -> bool {
        let cell = match self {
            SimClock::Scaled { jumped, .. } => jumped,
            SimClock::Manual(t) => t,
        };
        *cell.lock().unwrap_or_else(|e| e.into_inner()) += secs.max(0.0);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_clocks_jump_forward() {
        let m = SimClock::manual();
        assert_eq!(m.now(), 0.0);
        m.advance(5.0);
        assert_eq!(m.now(), 5.0);
        let s = SimClock::scaled(10.0);
        s.advance(100.0);
        assert!(s.now() >= 100.0);
        assert!((s.to_real(50.0) - 5.0).abs() < 1e-9);
    }
}
