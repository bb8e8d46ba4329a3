//! The request log tests assert on. Bounded, so a million-request benchmark does not grow
//! without limit; the counters in [`SimStats`] are never trimmed.

use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    /// Path and query as received (for batch items: the item's relative URL).
    pub path: String,
    /// 0 when the connection was reset instead of answered.
    pub status: u16,
    pub client_request_id: Option<String>,
    pub request_id: String,
    /// Answered 429 by the throttling model (not by fault injection).
    pub throttled: bool,
    /// An injected fault, if any.
    pub fault: Option<super::Fault>,
    /// The batch item id when this was an item inside `$batch`.
    pub batch_item: Option<String>,
    /// Simulated seconds since start.
    pub at: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Graph requests (`/v1.0`), batch envelopes included.
    pub requests: u64,
    /// Calls to the token and device-code endpoints.
    pub token_requests: u64,
    pub batch_items: u64,
    pub throttled: u64,
    pub faults_429: u64,
    pub faults_503: u64,
    pub faults_504: u64,
    pub resets: u64,
    pub writes_ok: u64,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    pub(crate) entries: VecDeque<LoggedRequest>,
    pub(crate) capacity: usize,
    pub(crate) stats: SimStats,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            entries: VecDeque::new(),
            capacity,
            stats: SimStats::default(),
        }
    }

    pub fn push(&mut self, r: LoggedRequest) {
        let s = &mut self.stats;
        let token_endpoint = r.path.contains("/oauth2/");
        if token_endpoint {
            s.token_requests += 1;
        } else if r.batch_item.is_some() {
            s.batch_items += 1;
        } else {
            s.requests += 1;
        }
        if r.throttled {
            s.throttled += 1;
        }
        match r.fault {
            Some(super::Fault::TooManyRequests) => s.faults_429 += 1,
            Some(super::Fault::ServiceUnavailable) => s.faults_503 += 1,
            Some(super::Fault::GatewayTimeout) => s.faults_504 += 1,
            Some(super::Fault::Reset) => s.resets += 1,
            None => {}
        }
        if !token_endpoint
            && r.method != "GET"
            && (200..300).contains(&r.status)
            && r.path != "/v1.0/$batch"
        {
            s.writes_ok += 1;
        }
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }
}
