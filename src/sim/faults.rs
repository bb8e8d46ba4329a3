//! Injected faults, decided per request from a seeded RNG so a run can be replayed.
//!
//! Error statuses are drawn per Graph call: for every top-level request, for a `$batch`
//! envelope (which Graph may throttle or fail as a whole), and again for each of its items.
//! An injected 429 names `CPULimitExceeded`: it holds only that request, not a quota.

use super::routes::{fmt_secs, graph_error, too_many_requests, Ids, Reply};
use super::{lock, Sim};

/// Probabilities are per request (0.0–1.0). Latency is real milliseconds added before answering
/// (it is deliberately not scaled: it models the network, not Graph's clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    pub p429: f64,
    pub p503: f64,
    pub p504: f64,
    pub reset: f64,
    /// Where a reset strikes: `None` = half before and half after the request was handled.
    pub reset_point: Option<ResetPoint>,
    pub latency_ms: u64,
    /// `Retry-After` of an injected 429, in simulated seconds.
    pub retry_after_secs: f64,
    /// Also inject faults on the token endpoints (off by default).
    pub on_token_endpoint: bool,
    /// Also inject error statuses on `$batch` envelopes, not only on their items (on by
    /// default: the envelope is a Graph request like any other).
    pub on_batch_envelope: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            p429: 0.0,
            p503: 0.0,
            p504: 0.0,
            reset: 0.0,
            reset_point: None,
            latency_ms: 0,
            retry_after_secs: 1.0,
            on_token_endpoint: false,
            on_batch_envelope: true,
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
    GatewayTimeout,
    Reset,
}

impl Faults {
    /// Drop the connection instead of answering? Drawn once per HTTP request. Half of the
    /// resets happen after the request was carried out (the client cannot tell which), so a
    /// client's retries must be idempotent.
    pub fn roll_reset(&self, rng: &mut fastrand::Rng) -> Option<ResetPoint> {
        if self.reset > 0.0 && rng.f64() < self.reset {
            Some(self.reset_point.unwrap_or_else(|| {
                if rng.bool() {
                    ResetPoint::BeforeHandling
                } else {
                    ResetPoint::AfterHandling
                }
            }))
        } else {
            None
        }
    }

    /// An injected error status, drawn per Graph call (each `$batch` item draws its own).
    pub fn roll_error(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        if self.p503 > 0.0 && rng.f64() < self.p503 {
            return Some(Fault::ServiceUnavailable);
        }
        if self.p504 > 0.0 && rng.f64() < self.p504 {
            return Some(Fault::GatewayTimeout);
        }
        if self.p429 > 0.0 && rng.f64() < self.p429 {
            return Some(Fault::TooManyRequests);
        }
        None
    }
}

/// An injected error answer for one Graph call (a request, a `$batch` envelope or one of its
/// items), or `None` to handle it normally. Injected errors touch neither the quotas nor the
/// tenant.
pub(crate) fn injected_reply(sim: &Sim, app: &str, ids: &Ids, envelope: bool) -> Option<Reply> {
    let (fault, retry) = {
        let mut f = lock(&sim.faults);
        let (faults, rng) = &mut *f;
        if envelope && !faults.on_batch_envelope {
            return None;
        }
        (faults.roll_error(rng)?, faults.retry_after_secs)
    };
    let mut r = match fault {
        Fault::TooManyRequests => Reply::json(429, too_many_requests(ids))
            .header("Retry-After", fmt_secs(sim.clock.to_real(retry)))
            .header(
                "x-ms-throttle-scope",
                format!("Tenant_Application/ReadWrite/{app}/{}", sim.cfg.tenant_id),
            )
            .header("x-ms-throttle-information", "CPULimitExceeded"),
        Fault::ServiceUnavailable => graph_error(
            ids,
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Try the request again after a delay.",
            vec![],
        ),
        Fault::GatewayTimeout => graph_error(
            ids,
            504,
            "gatewayTimeout",
            "The gateway did not receive a response in time.",
            vec![],
        ),
        Fault::Reset => return None,
    };
    r.fault = Some(fault);
    Some(r)
}
