//! One notion of time for the whole tenant: simulated seconds since start. Throttle windows,
//! token lifetimes and device-code expiry all read it, so `--time-scale` compresses them together
//! and tests can move a manual clock instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Debug)]
pub enum SimClock {
    /// Real time multiplied by `scale` (1.0 = real time).
    Scaled { start: Instant, scale: f64 },
    /// Moves only when told to ([`SimClock::advance`]).
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
        }
    }

    pub fn manual() -> Self {
        SimClock::Manual(Arc::new(Mutex::new(0.0)))
    }

    /// Simulated seconds since the tenant started.
    pub fn now(&self) -> f64 {
        match self {
            SimClock::Scaled { start, scale } => start.elapsed().as_secs_f64() * scale,
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

    /// Move a manual clock forward; a scaled clock ignores it and returns false.
    pub fn advance(&self, secs: f64) -> bool {
        match self {
            SimClock::Manual(t) => {
                *t.lock().unwrap_or_else(|e| e.into_inner()) += secs;
                true
            }
            SimClock::Scaled { .. } => false,
        }
    }
}
