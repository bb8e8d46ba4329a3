//! HTTP entry: splits the token endpoints, `/sim` hooks and Graph (`/v1.0`), and wraps every
//! Graph answer with the headers Graph sends (graph-behaviour.md §2, §6, §9).

use super::faults::ResetPoint;
use super::{auth, batch, lock, users, ConnHandle, Fault, LoggedRequest, Sim};
use crate::wire::{ErrorBody, ErrorDetail, ErrorResponse, InnerError};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One answer, before it becomes HTTP (or a `$batch` item).
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// A body already written as JSON (listing pages, which are large and hot); sent as is.
    pub raw: Option<Vec<u8>>,
    pub throttled: bool,
    pub fault: Option<Fault>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            ..Default::default()
        }
    }
    /// `bytes` must be one JSON value.
    pub fn json_bytes(status: u16, bytes: Vec<u8>) -> Reply {
        Reply {
            status,
            raw: Some(bytes),
            ..Default::default()
        }
    }
    /// The body as a JSON value (for a `$batch` item), whichever way it was written.
    pub fn take_body(&mut self) -> Option<Value> {
        match self.raw.take() {
            Some(b) => serde_json::from_slice(&b).ok(),
            None => self.body.take(),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            ..Default::default()
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// The ids an error body echoes.
#[derive(Clone, Debug)]
pub(crate) struct Ids {
    pub request_id: String,
    pub client_request_id: String,
}

pub(crate) fn graph_date() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `{"error":{"code","message","innerError":{"date","request-id","client-request-id"},"details"}}`.
pub(crate) fn graph_error(
    ids: &Ids,
    status: u16,
    code: &str,
    message: &str,
    details: Vec<ErrorDetail>,
) -> Reply {
    let body = ErrorResponse {
        error: ErrorBody {
            code: code.into(),
            message: message.into(),
            inner_error: Some(InnerError {
                date: Some(graph_date()),
                request_id: Some(ids.request_id.clone()),
                client_request_id: Some(ids.client_request_id.clone()),
                ..Default::default()
            }),
            details,
        },
    };
    Reply::json(status, serde_json::to_value(body).unwrap_or(Value::Null))
}

/// The documented 429 body (throttling.md sample).
pub(crate) fn too_many_requests(ids: &Ids) -> Value {
    json!({"error": {
        "code": "TooManyRequests",
        "innerError": {
            "code": "429",
            "date": graph_date(),
            "message": "Please retry after",
            "request-id": ids.request_id,
            "client-request-id": ids.client_request_id,
            "status": "429"
        },
        "message": "Please retry again later."
    }})
}

/// Query options, decoded the way Graph decodes them: form rules (`+` is a space, `%2B` a plus).
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pub raw: String,
    pub pairs: Vec<(String, String)>,
}

pub(crate) fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (form_decode(k), form_decode(v)),
                None => (form_decode(p), String::new()),
            })
            .collect();
        Query {
            raw: raw.to_string(),
            pairs,
        }
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The raw query without `$skiptoken`, to rebuild a next link.
    pub fn raw_without_skiptoken(&self) -> String {
        self.raw
            .split('&')
            .filter(|p| {
                let k = p.split_once('=').map(|(k, _)| k).unwrap_or(p);
                !p.is_empty() && !form_decode(k).eq_ignore_ascii_case("$skiptoken")
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Lower-cased request headers.
pub(crate) type Headers = BTreeMap<String, String>;

fn header_map(h: &HeaderMap) -> Headers {
    h.iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}

pub(crate) async fn entry(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let headers = header_map(req.headers());
    let is_graph = path == "/v1.0" || path.starts_with("/v1.0/");
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b,
        // Even this answer carries Graph's ids and Date, as every Graph answer does.
        Err(_) if is_graph => {
            let ids = ids_for(&headers);
            let reply = graph_error(
                &ids,
                413,
                "RequestEntityTooLarge",
                "The request body is too large.",
                vec![],
            );
            return with_graph_headers(reply, &ids);
        }
        Err(_) => return plain(413, "request body too large"),
    };

    if is_graph {
        return graph_entry(&sim, &conn, &method, &path, &raw_query, &headers, &body).await;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        [tenant, "oauth2", "v2.0", endpoint @ ("token" | "devicecode")] if method == "POST" => {
            let tenant = form_decode(tenant);
            let (reset, err) = {
                let mut f = lock(&sim.faults);
                let (faults, rng) = &mut *f;
                if faults.on_token_endpoint {
                    (faults.roll_reset(rng), faults.roll_error(rng))
                } else {
                    (None, None)
                }
            };
            let mut reply = if reset == Some(ResetPoint::BeforeHandling) {
                Reply::default()
            } else if matches!(err, Some(Fault::ServiceUnavailable | Fault::GatewayTimeout)) {
                auth::unavailable()
            } else if *endpoint == "token" {
                auth::token(&sim, &tenant, &headers, &body)
            } else {
                auth::device_code(&sim, &tenant, &body)
            };
            if reset.is_some() {
                // After handling, the token was issued (and an assertion's jti recorded), but
                // the client never sees it.
                conn.reset();
                reply.status = 0;
                reply.fault = Some(Fault::Reset);
            }
            // Logged without the body: it carries secrets and assertions.
            lock(&sim.log).push(LoggedRequest {
                method,
                path: path.clone(),
                status: reply.status,
                client_request_id: headers.get("client-request-id").cloned(),
                request_id: String::new(),
                throttled: false,
                fault: reply.fault,
                batch_item: None,
                at: sim.clock.now(),
            });
            to_response(reply, &[])
        }
        ["sim", "devicecode", action @ ("approve" | "decline")] if method == "POST" => {
            let code = auth::form_field(&body, "user_code").or_else(|| {
                serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("user_code").and_then(|c| c.as_str()).map(String::from))
            });
            let status = if *action == "approve" { auth::DeviceStatus::Approved } else { auth::DeviceStatus::Declined };
            match code {
                Some(c) if lock(&sim.auth).set_device_status(&c, status) => plain(204, ""),
                _ => plain(404, "unknown user_code"),
            }
        }
        ["sim", "devicelogin"] => plain(
            200,
            "hardmatch simulated tenant: approve a device code with POST /sim/devicecode/approve (form field user_code).",
        ),
        _ => plain(404, "not found"),
    }
}

fn plain(status: u16, text: &'static str) -> Response {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

fn to_response(reply: Reply, extra: &[(String, String)]) -> Response {
    let has_body = reply.body.is_some() || reply.raw.is_some();
    let bytes = match (reply.raw, reply.body) {
        (Some(raw), _) => raw,
        (None, Some(b)) => serde_json::to_vec(&b).unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    for (k, v) in reply.headers.iter().chain(extra) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            h.append(k, v);
        }
    }
    if has_body && !h.contains_key("content-type") {
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"),
        );
    }
    r
}

const AGS_DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"SIM-HARDMATCH","ADSiteName":"SIM"}}"#;

async fn graph_entry(
    sim: &Arc<Sim>,
    conn: &ConnHandle,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &Headers,
    body: &[u8],
) -> Response {
    let ids = ids_for(headers);
    let logged_path = if raw_query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{raw_query}")
    };
    let (latency, reset) = {
        let mut f = lock(&sim.faults);
        let (faults, rng) = &mut *f;
        (faults.latency_ms, faults.roll_reset(rng))
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let mut reply = if reset == Some(ResetPoint::BeforeHandling) {
        Reply::default()
    } else {
        match auth::bearer(sim, headers) {
            Err(message) => graph_error(&ids, 401, "InvalidAuthenticationToken", message, vec![]).header(
                "WWW-Authenticate",
                r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#,
            ),
            Ok(app) => {
                let rel = &path["/v1.0".len()..];
                let root = rel.trim_end_matches('/');
                if root.eq_ignore_ascii_case("/$batch") || root.eq_ignore_ascii_case("/%24batch") {
                    if method == "POST" {
                        batch::handle(sim, &app, &ids, body).await
                    } else {
                        graph_error(&ids, 405, "Request_BadRequest", "The HTTP method is not allowed for $batch.", vec![])
                    }
                } else {
                    let parsed = if body.iter().all(|b| b.is_ascii_whitespace()) {
                        Ok(None)
                    } else {
                        serde_json::from_slice::<Value>(body).map(Some)
                    };
                    match parsed {
                        Ok(json) => graph_call(sim, &app, method, rel, raw_query, headers, json, &ids, None),
                        Err(_) => graph_error(
                            &ids,
                            400,
                            "BadRequest",
                            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
                            vec![],
                        ),
                    }
                }
            }
        }
    };
    if reset.is_some() {
        // The handler may have run (AfterHandling); either way the client gets no answer.
        conn.reset();
        reply.status = 0;
        reply.fault = Some(Fault::Reset);
    }
    tracing::debug!(
        method,
        path = %logged_path,
        status = reply.status,
        request_id = %ids.request_id,
        "sim: graph request"
    );
    lock(&sim.log).push(LoggedRequest {
        method: method.to_string(),
        path: logged_path,
        status: reply.status,
        client_request_id: headers.get("client-request-id").cloned(),
        request_id: ids.request_id.clone(),
        throttled: reply.throttled,
        fault: reply.fault,
        batch_item: None,
        at: sim.clock.now(),
    });
    with_graph_headers(reply, &ids)
}

/// A new `request-id`; the caller's `client-request-id` echoed, or one made up.
fn ids_for(headers: &Headers) -> Ids {
    Ids {
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: headers
            .get("client-request-id")
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    }
}

/// The headers every Graph answer carries, errors included.
fn with_graph_headers(reply: Reply, ids: &Ids) -> Response {
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let common = vec![
        ("request-id".to_string(), ids.request_id.clone()),
        (
            "client-request-id".to_string(),
            ids.client_request_id.clone(),
        ),
        ("date".to_string(), date),
        (
            "x-ms-ags-diagnostic".to_string(),
            AGS_DIAGNOSTIC.to_string(),
        ),
        ("cache-control".to_string(), "no-cache".to_string()),
    ];
    to_response(reply, &common)
}

/// One Graph call, top-level or a `$batch` item: injected faults, throttling, then the handler.
/// `rel` is the raw (still percent-encoded) path after `/v1.0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn graph_call(
    sim: &Sim,
    app: &str,
    method: &str,
    rel: &str,
    raw_query: &str,
    headers: &Headers,
    body: Option<Value>,
    ids: &Ids,
    batch_item: Option<&str>,
) -> Reply {
    let query = Query::parse(raw_query);
    let segs: Vec<String> = rel
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let scope = format!("Tenant_Application/ReadWrite/{app}/{}", sim.cfg.tenant_id);

    let faulted = super::faults::injected_reply(sim, app, ids, false);
    // An injected fault is answered without touching the quotas or the tenant, but is still
    // logged below (batch items are logged here, not by the envelope's handler).
    let reply = match faulted {
        Some(r) => r,
        None => charged_call(sim, app, method, &segs, &query, headers, body, ids, scope),
    };
    if batch_item.is_some() {
        lock(&sim.log).push(LoggedRequest {
            method: method.to_string(),
            path: if raw_query.is_empty() {
                rel.to_string()
            } else {
                format!("{rel}?{raw_query}")
            },
            status: reply.status,
            client_request_id: headers.get("client-request-id").cloned(),
            request_id: ids.request_id.clone(),
            throttled: reply.throttled,
            fault: reply.fault,
            batch_item: batch_item.map(String::from),
            at: sim.clock.now(),
        });
    }
    reply
}

/// Throttling, then the handler.
#[allow(clippy::too_many_arguments)]
fn charged_call(
    sim: &Sim,
    app: &str,
    method: &str,
    segs: &[String],
    query: &Query,
    headers: &Headers,
    body: Option<Value>,
    ids: &Ids,
    scope: String,
) -> Reply {
    let is_user_list = method == "GET" && segs.len() == 1 && segs[0].eq_ignore_ascii_case("users");
    let small_top = query
        .get("$top")
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|t| t < 20);
    let cost = super::throttle::cost(
        method,
        is_user_list,
        query.get("$select").is_some(),
        small_top,
    );
    let users = lock(&sim.tenant).users.len();
    let verdict = {
        let mut t = lock(&sim.throttle);
        let (th, quotas) = &mut *t;
        th.check(app, sim.clock.now(), cost, quotas, users)
    };
    let ru = format!("{}", cost.resource_units);
    let pct = |f: f64| (f > 0.8).then(|| format!("{:.2}", f.min(1.8)));
    let mut reply = match verdict {
        super::throttle::Verdict::Throttled {
            retry_after,
            information,
            limit_fraction,
        } => {
            let mut r = Reply::json(429, too_many_requests(ids))
                .header("Retry-After", fmt_secs(sim.clock.to_real(retry_after)))
                .header("x-ms-throttle-scope", scope)
                .header("x-ms-throttle-information", information);
            if let Some(p) = pct(limit_fraction) {
                r = r.header("x-ms-throttle-limit-percentage", p);
            }
            r.throttled = true;
            r
        }
        super::throttle::Verdict::Allowed { limit_fraction } => {
            let mut r = users::route(sim, method, segs, query, headers, body, ids);
            if let Some(p) = pct(limit_fraction) {
                r = r.header("x-ms-throttle-limit-percentage", p);
            }
            r
        }
    };
    reply = reply.header("x-ms-resource-unit", ru);
    reply
}

/// Seconds as Graph writes them in `Retry-After` (fractional allowed, e.g. `2.128`).
pub(crate) fn fmt_secs(s: f64) -> String {
    let s = (s * 1000.0).ceil() / 1000.0;
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.3}")
    }
}
