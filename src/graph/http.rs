//! The request pipeline every Graph call goes through:
//! pacing → bearer token → `client-request-id` → send → log the diagnostic headers → retry.
//!
//! - One `client-request-id` (a fresh v4 GUID) per *logical* request, reused by its retries, so
//!   all attempts of one operation can be found together in Graph's activity log; each attempt
//!   still gets its own server `request-id`.
//! - 429 waits `Retry-After` (fractional seconds allowed, e.g. `2.128`; real time whatever the
//!   clock's scale) and holds what the 429 names ([`Limit`]); throttling is bounded by time
//!   ([`RetryPolicy::throttle_budget`]), not by attempts, because Graph keeps a client waiting
//!   as long as its quota needs. 503/504, connection errors and timeouts back off exponentially
//!   with jitter (or honour `Retry-After` if sent), bounded by [`RetryPolicy::max_attempts`].
//! - 401 signs in again once, then retries; 400/403/404/409 and other statuses are never retried.
//! - A request whose answer was lost (network error, 5xx) may have been carried out: the caller
//!   learns it ([`Sent::in_doubt`]) and settles it (a DELETE's 404 is settled here).

use super::auth::TokenProvider;
use super::clock::Clock;
use super::error::{ApiError, GraphError};
use super::pacing::{Cost, Pacer};
use super::stats::{Limit, Recorder};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Retry bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per logical request that may fail with a 5xx or a network error, including
    /// the first (default 6). 429s do not count: see `throttle_budget`.
    pub max_attempts: u32,
    /// Longest single wait accepted from `Retry-After` or backoff (default 300 s; Graph's write
    /// window is 150 s).
    pub max_wait: Duration,
    /// How long a request keeps honouring 429s, from its first 429 (default 15 min): a retry
    /// that could not start within it is not made, and the 429 is returned.
    pub throttle_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_wait: Duration::from_secs(300),
            throttle_budget: Duration::from_secs(15 * 60),
        }
    }
}

/// A 429's Retry-After (or, without one, a backoff), in clock time, and what it holds.
pub(crate) struct Throttle {
    pub limit: Limit,
    pub wait: Duration,
}

impl Throttle {
    /// From a 429's headers: `x-ms-throttle-information` names the limit; `Retry-After` is
    /// real seconds (converted to `clock` time); `n` counts this request's 429s for the backoff.
    pub fn of(
        header: impl Fn(&str) -> Option<String>,
        is_write: bool,
        clock: &Clock,
        n: u32,
    ) -> Throttle {
        let wait = header("retry-after")
            .and_then(|v| parse_retry_after(&v))
            .map(|d| clock.from_server(d))
            .unwrap_or_else(|| backoff(n));
        Throttle {
            limit: Limit::of_429(header("x-ms-throttle-information").as_deref(), is_write),
            wait,
        }
    }
}

/// Seconds for a log line: "0.02 s", "2.13 s", "95 s".
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}

/// Exponential backoff with jitter for attempt `n` (1-based): 1 s, 2 s, 4 s … capped at 32 s,
/// each multiplied by a random factor in [0.5, 1.0) so that parallel workers spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 2f64.powi(attempt.saturating_sub(1).min(5) as i32);
    Duration::from_secs_f64(base * (0.5 + fastrand::f64() * 0.5))
}

/// `Retry-After` in seconds (fractional allowed); HTTP-date forms are ignored (Graph sends seconds).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get("retry-after")?.to_str().ok()?)
}

/// Parses a `Retry-After` seconds value such as `2.128`.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// A transport error's text with its whole cause chain, without the URL (which may be long).
pub(crate) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if untrusted_certificate(&msg) {
        msg.push_str(
            " (the server's TLS certificate is not trusted; for a simulated tenant started with \
             `sim serve --tls CERT.pem`, pass --ca-file CERT.pem)",
        );
    }
    msg
}

/// A TLS certificate the client does not trust: retrying cannot help.
pub(crate) fn untrusted_certificate(described: &str) -> bool {
    described.contains("invalid peer certificate")
}

pub(crate) fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct GraphResponse {
    /// HTTP status.
    pub status: u16,
    /// The body (empty for 204).
    pub body: Vec<u8>,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
    /// The `date` header.
    pub date: Option<String>,
    /// The `x-ms-ags-diagnostic` header (which Graph data centre answered), for support cases.
    pub ags_diagnostic: Option<String>,
    /// An earlier attempt's answer was lost (connection reset, timeout): that attempt may have
    /// been carried out. A retried DELETE that then finds nothing (404) already succeeded.
    pub answer_lost_before: bool,
}

impl GraphResponse {
    /// The body as JSON of type `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, GraphError> {
        serde_json::from_slice(&self.body).map_err(|e| GraphError::Decode {
            message: e.to_string(),
            request_id: self.request_id.clone().unwrap_or_default(),
        })
    }
}

/// What [`Pipeline::send`] ended with: the final result, and whether an attempt's answer was
/// lost before it, so that the request may have been carried out although it failed.
pub(crate) struct Sent {
    pub result: Result<GraphResponse, GraphError>,
    pub in_doubt: bool,
}

pub(crate) struct Pipeline {
    pub http: reqwest::Client,
    pub tokens: TokenProvider,
    pub clock: Clock,
    pub pacer: Arc<Pacer>,
    pub stats: Arc<Recorder>,
    pub retry: RetryPolicy,
    /// `<graph>/v1.0`
    pub root: String,
    /// Scheme + host + port of `root`: bearer tokens go nowhere else.
    pub origin: String,
}

impl Pipeline {
    /// Absolute URL for a path relative to `/v1.0`, or an opaque absolute URL (a nextLink),
    /// which must point at the same Graph origin so the bearer token never leaves it.
    pub fn absolute(&self, url: &str) -> Result<String, GraphError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                GraphError::config(format!("Graph returned a link that is not a URL: {e}"))
            })?;
            if parsed.origin().ascii_serialization() != self.origin {
                return Err(GraphError::config(format!(
                    "Graph returned a link to {} instead of {}; refusing to send the token there",
                    parsed.origin().ascii_serialization(),
                    self.origin
                )));
            }
            Ok(url.to_string())
        } else {
            Ok(format!("{}{}", self.root, url))
        }
    }

    /// Sends one logical request with pacing and retries. `cost` is what the pacer charges
    /// (for `$batch`, the sum of its items). Returns 2xx answers; any other final status is an error.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        cost: Cost,
    ) -> Result<GraphResponse, GraphError> {
        self.send_observed(method, url, body, headers, cost, &|| {})
            .await
            .result
    }

    /// [`Pipeline::send`], calling `on_attempt` right before each attempt leaves (after pacing
    /// and sign-in), and telling whether the request is in doubt.
    pub async fn send_observed(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        cost: Cost,
        on_attempt: &(dyn Fn() + Send + Sync),
    ) -> Sent {
        let url = match self.absolute(url) {
            Ok(u) => u,
            Err(e) => {
                return Sent {
                    result: Err(e),
                    in_doubt: false,
                }
            }
        };
        let mut r = Request {
            path: reqwest::Url::parse(&url)
                .map(|u| u.path().to_string())
                .unwrap_or_default(),
            host: host_of(&url),
            crid: uuid::Uuid::new_v4().to_string(),
            method,
            failures: 0,
            throttles: 0,
            throttled_since: None,
            refreshed: false,
            in_doubt: false,
        };
        loop {
            self.pacer.acquire(cost).await;
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => return r.done(Err(e)),
            };
            let mut req = self
                .http
                .request(r.method.clone(), &url)
                .bearer_auth(token.expose())
                .header("client-request-id", &r.crid);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            on_attempt();
            let next = match req.send().await {
                Err(e) => self.lost(&mut r, e),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let h = resp.headers().clone();
                    r.log_response(status, &h);
                    match resp.bytes().await {
                        Err(e) => self.lost(&mut r, e),
                        Ok(b) => {
                            self.answered(&mut r, status, &h, b.to_vec(), cost, &token)
                                .await
                        }
                    }
                }
            };
            match next {
                Next::Done(result) => return r.done(result),
                Next::Again => {}
                Next::Wait(wait) => self.clock.sleep(wait).await,
            }
        }
    }

    /// No answer, or half of one: retried with backoff within `max_attempts`.
    fn lost(&self, r: &mut Request, e: reqwest::Error) -> Next {
        let connect = e.is_connect();
        let transient = e.is_timeout() || connect || e.is_request() || e.is_body() || e.is_decode();
        let message = describe(e);
        // An untrusted TLS certificate stays untrusted.
        let transient = transient && !untrusted_certificate(&message);
        r.failures += 1;
        // A connection refused never reached Graph; anything else may have.
        r.in_doubt |= !connect;
        if r.failures >= self.retry.max_attempts || !transient {
            return Next::Done(Err(GraphError::Transport {
                host: r.host.clone(),
                message,
                client_request_id: r.crid.clone(),
            }));
        }
        self.stats.network_error();
        let wait = backoff(r.failures).min(self.retry.max_wait);
        tracing::info!(
            client_request_id = %r.crid,
            "{} {}: network error ({message}); retrying in {} (attempt {} of {})",
            r.method, r.path, secs(wait), r.failures + 1, self.retry.max_attempts
        );
        Next::Wait(wait)
    }

    /// An HTTP answer: the result, or what to do before the next attempt.
    async fn answered(
        &self,
        r: &mut Request,
        status: u16,
        h: &HeaderMap,
        body: Vec<u8>,
        cost: Cost,
        token: &super::secret::Secret,
    ) -> Next {
        let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let pct = hv("x-ms-throttle-limit-percentage").and_then(|v| v.parse::<f64>().ok());
        let ok = |status| GraphResponse {
            status,
            body: Vec::new(),
            request_id: hv("request-id"),
            date: hv("date"),
            ags_diagnostic: hv("x-ms-ags-diagnostic"),
            answer_lost_before: r.in_doubt,
        };
        if (200..300).contains(&status) {
            self.pacer.observe_pressure(pct);
            return Next::Done(Ok(GraphResponse { body, ..ok(status) }));
        }
        if status == 404 && r.in_doubt && r.method == Method::DELETE {
            // The lost attempt deleted it; Graph's 404 is the proof, not a failure.
            self.stats.in_doubt_resolved();
            tracing::debug!(client_request_id = %r.crid, "DELETE retried after a lost answer: 404 means done");
            return Next::Done(Ok(ok(204)));
        }
        let ra = retry_after(h).map(|d| self.clock.from_server(d));
        let mut e = ApiError::from_response(
            status,
            &body,
            hv("request-id"),
            hv("date"),
            Some(r.crid.clone()),
            ra,
        );
        e.ags_diagnostic = hv("x-ms-ags-diagnostic");
        let err = GraphError::from(e);
        match status {
            401 if !r.refreshed && self.tokens.invalidate(token).await => {
                r.refreshed = true;
                tracing::debug!(client_request_id = %r.crid, "401: signing in again once");
                Next::Again
            }
            429 => self.throttled(r, hv, pct, cost, err),
            503 | 504 => {
                // Not served: what it took from the quotas is given back (see Pacer::refund).
                self.pacer.refund(cost);
                self.server_error(r, status, ra, err)
            }
            500 | 502 => self.server_error(r, status, ra, err),
            _ => Next::Done(Err(err)),
        }
    }

    /// A 5xx: retried with backoff (or its Retry-After) within `max_attempts`; 500 and 502 are
    /// Graph failing, not asking to come back later, and are not retried.
    fn server_error(
        &self,
        r: &mut Request,
        status: u16,
        ra: Option<Duration>,
        err: GraphError,
    ) -> Next {
        r.failures += 1;
        // A gateway that gave up may have passed the request on.
        r.in_doubt = true;
        if r.failures >= self.retry.max_attempts || status == 500 || status == 502 {
            return Next::Done(Err(err));
        }
        self.stats.server_error();
        let wait = ra
            .unwrap_or_else(|| backoff(r.failures))
            .min(self.retry.max_wait);
        tracing::info!(
            client_request_id = %r.crid,
            "{} {}: HTTP {status}; retrying in {} (attempt {} of {})",
            r.method, r.path, secs(wait), r.failures + 1, self.retry.max_attempts
        );
        Next::Wait(wait)
    }

    /// A 429: hold what it names, wait its Retry-After, within the throttling budget.
    fn throttled(
        &self,
        r: &mut Request,
        hv: impl Fn(&str) -> Option<String> + Copy,
        pct: Option<f64>,
        cost: Cost,
        err: GraphError,
    ) -> Next {
        r.throttles += 1;
        let t = Throttle::of(hv, cost.writes > 0, &self.clock, r.throttles);
        let wait = t.wait.min(self.retry.max_wait);
        let now = self.clock.now();
        let since = *r.throttled_since.get_or_insert(now);
        if now + wait > since + self.retry.throttle_budget {
            tracing::info!(
                client_request_id = %r.crid,
                "{} {}: HTTP 429 for {} after {} of throttling; giving up",
                r.method, r.path, t.limit, secs(now - since)
            );
            return Next::Done(Err(err));
        }
        if t.limit == Limit::Request {
            // Not served, and not for a quota: see Pacer::refund.
            self.pacer.refund(cost);
        } else {
            // Someone (maybe another app on the tenant) is over a quota: slow down a little
            // even without the percentage header.
            self.pacer.observe_pressure(pct.or(Some(0.8)));
        }
        self.pacer.throttled(t.limit, wait);
        self.stats.throttled(t.limit, wait);
        tracing::info!(
            client_request_id = %r.crid,
            "{} {}: HTTP 429 for {}{}; retrying in {}",
            r.method,
            r.path,
            t.limit,
            hv("x-ms-throttle-information")
                .map(|i| format!(" ({i})"))
                .unwrap_or_default(),
            secs(wait)
        );
        Next::Wait(wait)
    }
}

/// One logical request across its attempts.
struct Request {
    method: Method,
    path: String,
    host: String,
    crid: String,
    /// 5xx answers and network errors so far (bounded by `max_attempts`).
    failures: u32,
    /// 429s so far (bounded by time, from the first).
    throttles: u32,
    throttled_since: Option<Duration>,
    refreshed: bool,
    /// An attempt's answer was lost: it may have been carried out.
    in_doubt: bool,
}

impl Request {
    fn done(&self, result: Result<GraphResponse, GraphError>) -> Sent {
        Sent {
            result,
            in_doubt: self.in_doubt,
        }
    }

    fn log_response(&self, status: u16, h: &HeaderMap) {
        let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::debug!(
            method = %self.method,
            path = %self.path,
            status,
            client_request_id = %self.crid,
            request_id = hv("request-id"),
            date = hv("date"),
            x_ms_ags_diagnostic = hv("x-ms-ags-diagnostic"),
            x_ms_resource_unit = hv("x-ms-resource-unit"),
            x_ms_throttle_limit_percentage = hv("x-ms-throttle-limit-percentage"),
            attempt = self.failures + self.throttles + 1,
            "graph response"
        );
    }
}

/// What an attempt leads to.
enum Next {
    Done(Result<GraphResponse, GraphError>),
    /// Sign in again and retry at once.
    Again,
    Wait(Duration),
}
