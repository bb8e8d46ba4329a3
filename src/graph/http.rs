//! The request pipeline every Graph call goes through:
//! pacing → bearer token → `client-request-id` → send → log the diagnostic headers → retry.
//!
//! - One `client-request-id` (a fresh v4 GUID) per *logical* request, reused by its retries, so
//!   all attempts of one operation can be found together in Graph's activity log; each attempt
//!   still gets its own server `request-id`.
//! - 429 waits `Retry-After` (fractional seconds allowed, e.g. `2.128`); 503/504, connection
//!   errors and timeouts back off exponentially with jitter (or honour `Retry-After` if sent).
//! - 401 signs in again once, then retries; 400/403/404/409 and other statuses are never retried.
//! - Attempts are bounded by [`RetryPolicy::max_attempts`].

use super::auth::TokenProvider;
use super::clock::Clock;
use super::error::{ApiError, GraphError};
use super::pacing::{Cost, Pacer};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Retry bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per logical request, including the first (default 6).
    pub max_attempts: u32,
    /// Longest single wait accepted from `Retry-After` or backoff (default 120 s).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_wait: Duration::from_secs(120),
        }
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

pub(crate) struct Pipeline {
    pub http: reqwest::Client,
    pub tokens: TokenProvider,
    pub clock: Clock,
    pub pacer: Arc<Pacer>,
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
        let url = self.absolute(url)?;
        let crid = uuid::Uuid::new_v4().to_string();
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut answer_lost = false;
        loop {
            attempt += 1;
            self.pacer.acquire(cost).await;
            let token = self.tokens.token().await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose())
                .header("client-request-id", &crid);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let wait = match req.send().await {
                Err(e) => {
                    let transient =
                        e.is_timeout() || e.is_connect() || e.is_request() || e.is_body();
                    let message = describe(e);
                    let transient = transient && !untrusted_certificate(&message);
                    tracing::debug!(client_request_id = %crid, attempt, error = %message, "transport error");
                    if attempt >= self.retry.max_attempts || !transient {
                        return Err(GraphError::Transport {
                            host: host_of(&url),
                            message,
                            client_request_id: crid,
                        });
                    }
                    answer_lost = true;
                    backoff(attempt)
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let h = resp.headers().clone();
                    let hv = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let request_id = hv("request-id");
                    let pct =
                        hv("x-ms-throttle-limit-percentage").and_then(|v| v.parse::<f64>().ok());
                    tracing::debug!(
                        method = %method,
                        path = resp.url().path(),
                        status,
                        client_request_id = %crid,
                        request_id = request_id.as_deref().unwrap_or(""),
                        date = hv("date").as_deref().unwrap_or(""),
                        x_ms_ags_diagnostic = hv("x-ms-ags-diagnostic").as_deref().unwrap_or(""),
                        x_ms_resource_unit = hv("x-ms-resource-unit").as_deref().unwrap_or(""),
                        x_ms_throttle_limit_percentage = hv("x-ms-throttle-limit-percentage").as_deref().unwrap_or(""),
                        attempt,
                        "graph response"
                    );
                    // A 429 means someone (maybe another app on the tenant) is over a limit:
                    // slow down a little even without the percentage header.
                    self.pacer.observe_pressure(if status == 429 {
                        pct.or(Some(0.8))
                    } else {
                        pct
                    });
                    let ra = retry_after(&h);
                    let body = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) if attempt < self.retry.max_attempts => {
                            answer_lost = true;
                            tracing::debug!(client_request_id = %crid, error = %describe(e), "body read failed");
                            self.clock.sleep(backoff(attempt)).await;
                            continue;
                        }
                        Err(e) => {
                            return Err(GraphError::Transport {
                                host: host_of(&url),
                                message: describe(e),
                                client_request_id: crid,
                            })
                        }
                    };
                    if (200..300).contains(&status) {
                        return Ok(GraphResponse {
                            status,
                            body,
                            request_id,
                            answer_lost_before: answer_lost,
                        });
                    }
                    if status == 404 && answer_lost && method == Method::DELETE {
                        // The lost attempt deleted it; Graph's 404 is the proof, not a failure.
                        tracing::debug!(client_request_id = %crid, "DELETE retried after a lost answer: 404 means done");
                        return Ok(GraphResponse {
                            status: 204,
                            body: Vec::new(),
                            request_id,
                            answer_lost_before: true,
                        });
                    }
                    let err = || {
                        GraphError::from(ApiError::from_response(
                            status,
                            &body,
                            request_id.clone(),
                            hv("date"),
                            Some(crid.clone()),
                            ra,
                        ))
                    };
                    match status {
                        401 if !refreshed && self.tokens.invalidate(&token).await => {
                            refreshed = true;
                            tracing::debug!(client_request_id = %crid, "401: signing in again once");
                            continue;
                        }
                        429 | 503 | 504 if attempt < self.retry.max_attempts => {
                            let wait = match (status, ra) {
                                (_, Some(ra)) => ra,
                                _ => backoff(attempt),
                            };
                            if status == 429 {
                                self.pacer.throttled(wait.min(self.retry.max_wait), cost);
                            }
                            wait
                        }
                        _ => return Err(err()),
                    }
                }
            };
            let wait = wait.min(self.retry.max_wait);
            tracing::debug!(client_request_id = %crid, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            self.clock.sleep(wait).await;
        }
    }
}
