//! `POST /v1.0/$batch` (graph-behaviour.md §5): at most 20 items with unique ids, each run through
//! the same path as a top-level call (so each is faulted and throttled on its own; an item over
//! budget gets its own 429 inside a 200 batch), `dependsOn` honoured with 424 for dependents of
//! failed items. A batch must be fully parallel or fully sequential (one chain), or Graph
//! refuses it whole. The envelope itself may draw an injected fault, like any Graph call. Items run in request order, deferred until their dependencies ran; responses are
//! shuffled (with the fault seed) unless `SimConfig::shuffle_batch_responses` is off, because
//! Graph does not promise an order.

use super::routes::{graph_call, graph_error, Headers, Ids, Reply};
use super::{lock, Sim};
use crate::wire::{BatchItemResponse, BatchRequest, BatchResponse};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

const MAX_ITEMS: usize = 20;

pub(crate) async fn handle(sim: &Sim, app: &str, ids: &Ids, body: &[u8]) -> Reply {
    if let Some(r) = super::faults::injected_reply(sim, app, ids) {
        return r;
    }
    let req: BatchRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return graph_error(
                ids,
                400,
                "BadRequest",
                &format!("Invalid batch payload format: {e}"),
                vec![],
            )
        }
    };
    if req.requests.is_empty() {
        return graph_error(
            ids,
            400,
            "BadRequest",
            "Invalid batch payload format: no requests.",
            vec![],
        );
    }
    if req.requests.len() > MAX_ITEMS {
        return graph_error(
            ids,
            400,
            "BadRequest",
            &format!("Number of batch steps exceeds the maximum of {MAX_ITEMS}."),
            vec![],
        );
    }
    let mut seen = HashSet::new();
    for r in &req.requests {
        if !seen.insert(r.id.as_str()) {
            return graph_error(
                ids,
                400,
                "BadRequest",
                &format!("Batch request contains a duplicate request id '{}'.", r.id),
                vec![],
            );
        }
    }
    for r in &req.requests {
        if let Some(d) = r
            .depends_on
            .iter()
            .find(|d| !seen.contains(d.as_str()) || *d == &r.id)
        {
            return graph_error(
                ids,
                400,
                "BadRequest",
                &format!("Request '{}' depends on an unknown request id '{d}'.", r.id),
                vec![],
            );
        }
    }
    if !parallel_or_one_chain(&req) {
        return graph_error(
            ids,
            400,
            "BadRequest",
            "Batch should be either fully sequential or fully parallel",
            vec![],
        );
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
            } else if item.body.is_some() && !headers.contains_key("content-type") {
                graph_error(
                    &item_ids,
                    400,
                    "BadRequest",
                    "A Content-Type header is required when a request body is specified.",
                    vec![],
                )
            } else {
                let url = item.url.trim();
                let url = url
                    .find("/v1.0/")
                    .filter(|_| url.starts_with("http"))
                    .map(|i| &url[i + 5..])
                    .unwrap_or(url);
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
