//! Injected faults, decided per request from a seeded RNG so a run can be replayed.

/// Probabilities are per request (0.0–1.0). Latency is real milliseconds added before answering
/// (it is deliberately not scaled: it models the network, not Graph's clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    pub p429: f64,
    pub p503: f64,
    pub reset: f64,
    pub latency_ms: u64,
    /// `Retry-After` of an injected 429, in simulated seconds.
    pub retry_after_secs: f64,
    /// Also inject faults on the token endpoints (off by default).
    pub on_token_endpoint: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            p429: 0.0,
            p503: 0.0,
            reset: 0.0,
            latency_ms: 0,
            retry_after_secs: 1.0,
            on_token_endpoint: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetPoint {
    BeforeHandling,
    AfterHandling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    TooManyRequests,
    ServiceUnavailable,
    Reset,
}

impl Faults {
    /// Drop the connection instead of answering? Drawn once per HTTP request. Half of the
    /// resets happen after the request was carried out (the client cannot tell which), so a
    /// client's retries must be idempotent.
    pub fn roll_reset(&self, rng: &mut fastrand::Rng) -> Option<ResetPoint> {
        if self.reset > 0.0 && rng.f64() < self.reset {
            Some(if rng.bool() {
                ResetPoint::BeforeHandling
            } else {
                ResetPoint::AfterHandling
            })
        } else {
            None
        }
    }

    /// An injected error status, drawn per Graph call (each `$batch` item draws its own).
    pub fn roll_error(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        if self.p503 > 0.0 && rng.f64() < self.p503 {
            return Some(Fault::ServiceUnavailable);
        }
        if self.p429 > 0.0 && rng.f64() < self.p429 {
            return Some(Fault::TooManyRequests);
        }
        None
    }
}
