//! `POST /v1.0/$batch` (graph-behaviour.md §5). The envelope is refused whole (400, nothing runs)
//! when it is malformed, has more than 20 items, repeats an id, names an unknown `dependsOn`, has
//! an absolute item URL, or has a write (POST/PATCH/PUT) without a body and a Content-Type.
//! Otherwise each item runs through the same path as a top-level call (so each is faulted and
//! throttled on its own; an item over budget gets its own 429 with `Retry-After` inside a 200
//! batch), relative URLs with or without a leading `/`, `dependsOn` honoured with 424 for
//! dependents of failed items (down a whole chain). A batch must be fully parallel or fully
//! sequential (one chain), or Graph refuses it whole; the envelope itself may draw an injected
//! fault, like any Graph call. Items run in request order, deferred until
//! their dependencies ran; responses are shuffled (with the fault seed) unless
//! `SimConfig::shuffle_batch_responses` is off, because Graph does not promise an order.

use super::routes::{graph_call, graph_error, Headers, Ids, Reply};
use super::{lock, Sim};
use crate::wire::{BatchItemResponse, BatchRequest, BatchResponse};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

const MAX_ITEMS: usize = 20;

/// Graph's answer to a batch it cannot read, including one whose item URL is absolute
/// (field reports: microsoft-graph-docs-contrib#8576, msgraph-sdk-javascript#1451).
const INVALID_PAYLOAD: &str = "Invalid batch payload format.";

fn bad_batch(ids: &Ids, message: &str) -> Reply {
    graph_error(ids, 400, "BadRequest", message, vec![])
}

/// The envelope-level rules: one broken item fails the whole batch and nothing runs.
fn validate(req: &BatchRequest) -> Result<(), String> {
    if req.requests.is_empty() {
        return Err(INVALID_PAYLOAD.into());
    }
    if req.requests.len() > MAX_ITEMS {
        return Err(format!(
            "Number of batch steps exceeds the maximum of {MAX_ITEMS}."
        ));
    }
    let mut seen = HashSet::new();
    for r in &req.requests {
        if !seen.insert(r.id.as_str()) {
            return Err(format!(
                "Batch request contains a duplicate request id '{}'.",
                r.id
            ));
        }
    }
    for r in &req.requests {
        if is_absolute(&r.url) || r.method.trim().is_empty() || r.url.trim().is_empty() {
            return Err(INVALID_PAYLOAD.into());
        }
        // Field reports (msgraph-sdk-dotnet#2628, Softeria/ms-365-mcp-server#677): a write
        // without a body, or with one but no Content-Type, fails the whole batch.
        if is_write(&r.method) {
            if r.body.is_none() {
                return Err(format!(
                    "Write request id : {} does not contain Content-Type header or body.",
                    r.id
                ));
            }
            if !r
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                return Err(format!(
                    "Write request with id '{}' does not contain a Content-Type header.",
                    r.id
                ));
            }
        }
        if let Some(d) = r
            .depends_on
            .iter()
            .find(|d| !seen.contains(d.as_str()) || *d == &r.id)
        {
            return Err(format!(
                "Request '{}' depends on an unknown request id '{d}'.",
                r.id
            ));
        }
    }
    if !parallel_or_one_chain(req) {
        return Err("Batch should be either fully sequential or fully parallel".into());
    }
    Ok(())
}

/// `https://graph.microsoft.com/v1.0/users/…` (or any scheme): Graph wants `users/…` or `/users/…`.
fn is_absolute(url: &str) -> bool {
    let url = url.trim();
    url.starts_with("//")
        || url.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && !scheme.contains('/')
                && !scheme.contains('?')
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
}

fn is_write(method: &str) -> bool {
    ["POST", "PATCH", "PUT"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method.trim()))
}

pub(crate) async fn handle(sim: &Sim, app: &str, ids: &Ids, body: &[u8]) -> Reply {
    if let Some(r) = super::faults::injected_reply(sim, app, ids, true) {
        return r;
    }
    let req: BatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return bad_batch(ids, INVALID_PAYLOAD),
    };
    if let Err(message) = validate(&req) {
        return bad_batch(ids, &message);
    }

    let mut done: HashMap<String, u16> = HashMap::new();
    let mut out: Vec<BatchItemResponse> = Vec::with_capacity(req.requests.len());
    let mut pending: Vec<_> = req.requests.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for item in pending {
            if !item.depends_on.iter().all(|d| done.contains_key(d)) {
                rest.push(item);
                continue;
            }
            let headers: Headers = item
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect();
            let item_ids = Ids {
                request_id: uuid::Uuid::new_v4().to_string(),
                client_request_id: headers
                    .get("client-request-id")
                    .cloned()
                    .unwrap_or_else(|| ids.client_request_id.clone()),
            };
            let reply = if item
                .depends_on
                .iter()
                .any(|d| !(200..300).contains(&done[d]))
            {
                graph_error(
                    &item_ids,
                    424,
                    "FailedDependency",
                    "The request could not be performed because it depends on a request that failed.",
                    vec![],
                )
            } else {
                let url = item.url.trim();
                let (path, query) = url.split_once('?').unwrap_or((url, ""));
                let path = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("/{path}")
                };
                graph_call(
                    sim,
                    app,
                    &item.method.to_ascii_uppercase(),
                    &path,
                    query,
                    &headers,
                    item.body.clone(),
                    &item_ids,
                    Some(&item.id),
                )
            };
            done.insert(item.id.clone(), reply.status);
            let mut reply = reply;
            let body = reply.take_body();
            let mut h: BTreeMap<String, String> = reply.headers.into_iter().collect();
            if body.is_some() {
                h.entry("Content-Type".into())
                    .or_insert_with(|| "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8".into());
            }
            out.push(BatchItemResponse {
                id: item.id.clone(),
                status: reply.status,
                headers: h,
                body,
            });
        }
        if rest.len() == before {
            // A dependency cycle: nothing can run.
            for item in rest {
                out.push(BatchItemResponse {
                    id: item.id.clone(),
                    status: 424,
                    headers: BTreeMap::new(),
                    body: Some(json!({"error": {"code": "FailedDependency", "message": "Circular dependsOn."}})),
                });
            }
            break;
        }
        pending = rest;
    }
    if sim.cfg.shuffle_batch_responses {
        lock(&sim.faults).1.shuffle(&mut out);
    }
    let body = serde_json::to_value(BatchResponse { responses: out }).unwrap_or(Value::Null);
    Reply::json(200, body)
}

/// Fully parallel (no `dependsOn`), or fully sequential: one chain in which exactly one request
/// depends on nothing, every other depends on exactly one, and none is depended on twice.
/// Graph refused its own documentation's example of anything in between (two requests first,
/// then two depending on them) with this 400 (microsoft-graph-docs-contrib#2339).
fn parallel_or_one_chain(req: &BatchRequest) -> bool {
    if req.requests.iter().all(|r| r.depends_on.is_empty()) {
        return true;
    }
    let roots = req
        .requests
        .iter()
        .filter(|r| r.depends_on.is_empty())
        .count();
    let mut parents = HashSet::new();
    roots == 1
        && req
            .requests
            .iter()
            .all(|r| r.depends_on.len() <= 1 && r.depends_on.iter().all(|d| parents.insert(d)))
}
