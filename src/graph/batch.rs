//! JSON batching (`POST /v1.0/$batch`, graph-behaviour.md §5).
//!
//! - At most `batch_size` (≤ 20) requests per batch; requests linked by `dependsOn` stay in
//!   the same batch.
//! - A whole-batch 429/503 is retried as a whole by the pipeline.
//! - Inside a 200 batch, items answered 429/503/504 are retried in a new batch after the longest
//!   inner `Retry-After` (or a backoff). A 424 (failed dependency) is never retried on its own:
//!   it goes again only with its failed parent; otherwise it is returned as it is.
//! - Every sub-request is charged to the pacer, on every attempt.

use super::error::{ApiError, GraphError};
use super::http::{backoff, parse_retry_after};
use super::pacing::Cost;
use super::GraphClient;
use crate::wire::{BatchItem, BatchItemResponse, BatchRequest, BatchResponse};
use reqwest::Method;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The final answer to one batched request: its 2xx response, or its error.
pub type BatchOutcome = Result<BatchItemResponse, GraphError>;

impl GraphClient {
    /// Runs `items` through `$batch`, `batch_size` at a time with `concurrency` batches in flight,
    /// and returns one outcome per item, in the order given. Ids must be unique across `items`;
    /// `depends_on` may only name ids of the same call. URLs are relative to `/v1.0`.
    pub async fn batch(&self, items: Vec<BatchItem>) -> Vec<BatchOutcome> {
        let n = items.len();
        let mut outcomes: Vec<Option<BatchOutcome>> = (0..n).map(|_| None).collect();
        let index: HashMap<String, usize> = items
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id.clone(), i))
            .collect();
        if index.len() != n {
            let e = GraphError::config("batch request ids must be unique");
            return (0..n).map(|_| Err(e.clone())).collect();
        }
        let chunks = match chunk(&items, &index, self.inner.batch_size) {
            Ok(c) => c,
            Err(e) => return (0..n).map(|_| Err(e.clone())).collect(),
        };
        let items = Arc::new(items);
        let sem = Arc::new(tokio::sync::Semaphore::new(self.inner.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for chunk in chunks {
            let client = self.clone();
            let items = items.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                let batch: Vec<BatchItem> = chunk.iter().map(|&i| items[i].clone()).collect();
                let results = client.run_batch(batch).await;
                chunk.into_iter().zip(results).collect::<Vec<_>>()
            });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok(pairs) => {
                    for (i, r) in pairs {
                        outcomes[i] = Some(r);
                    }
                }
                Err(e) => tracing::error!(error = %e, "batch task failed"),
            }
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Err(GraphError::config("batch task failed before answering")))
            })
            .collect()
    }

    /// One batch (≤ 20 items, dependencies inside), with inner retries. Results in input order.
    async fn run_batch(&self, items: Vec<BatchItem>) -> Vec<BatchOutcome> {
        let p = &self.inner.pipeline;
        let mut done: HashMap<String, BatchOutcome> = HashMap::new();
        let mut pending: Vec<BatchItem> = items.iter().cloned().map(with_content_type).collect();
        let mut attempt = 0u32;
        let mut envelope_lost = false;
        while !pending.is_empty() {
            attempt += 1;
            let cost = pending.iter().fold(Cost::default(), |c, it| {
                c.plus(Cost::of(&it.method, &it.url))
            });
            let body = match serde_json::to_value(BatchRequest {
                requests: pending.clone(),
            }) {
                Ok(b) => b,
                Err(e) => {
                    let e = GraphError::config(format!("cannot encode batch: {e}"));
                    for it in &pending {
                        done.insert(it.id.clone(), Err(e.clone()));
                    }
                    break;
                }
            };
            let resp = match p
                .send(Method::POST, "/$batch", Some(&body), &[], cost)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    for it in &pending {
                        done.insert(it.id.clone(), Err(e.clone()));
                    }
                    break;
                }
            };
            let parsed: BatchResponse = match resp.json() {
                Ok(b) => b,
                Err(e) => {
                    for it in &pending {
                        done.insert(it.id.clone(), Err(e.clone()));
                    }
                    break;
                }
            };
            let by_id: HashMap<String, BatchItemResponse> = parsed
                .responses
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect();
            let may_retry = attempt < p.retry.max_attempts;
            // An earlier envelope may have been carried out although its answer was lost.
            envelope_lost |= resp.answer_lost_before;
            let mut retry: BTreeSet<String> = BTreeSet::new();
            let mut wait = Duration::ZERO;
            let mut failed_dependency = Vec::new();
            for it in &pending {
                let Some(r) = by_id.get(&it.id) else {
                    done.insert(
                        it.id.clone(),
                        Err(GraphError::Decode {
                            message: format!(
                                "the batch answer has no response for request {}",
                                it.id
                            ),
                            request_id: resp.request_id.clone().unwrap_or_default(),
                        }),
                    );
                    continue;
                };
                match r.status {
                    429 | 503 | 504 if may_retry => {
                        let ra =
                            header(&r.headers, "retry-after").and_then(|v| parse_retry_after(&v));
                        let item_wait = ra.unwrap_or_else(|| backoff(attempt));
                        if r.status == 429 {
                            p.pacer.throttled(
                                item_wait.min(p.retry.max_wait),
                                Cost::of(&it.method, &it.url),
                            );
                        }
                        wait = wait.max(item_wait);
                        retry.insert(it.id.clone());
                    }
                    424 => failed_dependency.push(it),
                    404 if envelope_lost && it.method.eq_ignore_ascii_case("DELETE") => {
                        // Deleted by the envelope whose answer was lost.
                        let mut gone = r.clone();
                        gone.status = 204;
                        gone.body = None;
                        done.insert(it.id.clone(), Ok(gone));
                    }
                    _ => {
                        done.insert(it.id.clone(), outcome(r));
                    }
                }
            }
            // A dependent goes again only if something it depends on goes again.
            let mut changed = true;
            while changed {
                changed = false;
                for it in &failed_dependency {
                    if !retry.contains(&it.id) && it.depends_on.iter().any(|d| retry.contains(d)) {
                        retry.insert(it.id.clone());
                        changed = true;
                    }
                }
            }
            for it in failed_dependency {
                if !retry.contains(&it.id) {
                    if let Some(r) = by_id.get(&it.id) {
                        done.insert(it.id.clone(), outcome(r));
                    }
                }
            }
            pending = pending
                .into_iter()
                .filter(|it| retry.contains(&it.id))
                .map(|mut it| {
                    it.depends_on.retain(|d| retry.contains(d));
                    it
                })
                .collect();
            if !pending.is_empty() {
                let wait = wait.min(p.retry.max_wait);
                tracing::debug!(
                    items = pending.len(),
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "retrying throttled batch items"
                );
                p.clock.sleep(wait).await;
            }
        }
        items
            .iter()
            .map(|it| {
                done.remove(&it.id).unwrap_or_else(|| {
                    Err(GraphError::config(format!(
                        "batch request {} got no answer",
                        it.id
                    )))
                })
            })
            .collect()
    }
}

fn with_content_type(mut it: BatchItem) -> BatchItem {
    if it.body.is_some()
        && !it
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
    {
        it.headers
            .insert("Content-Type".into(), "application/json".into());
    }
    it
}

fn header(h: &BTreeMap<String, String>, name: &str) -> Option<String> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn outcome(r: &BatchItemResponse) -> BatchOutcome {
    if (200..300).contains(&r.status) {
        return Ok(r.clone());
    }
    let body = r
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let ra = header(&r.headers, "retry-after").and_then(|v| parse_retry_after(&v));
    Err(ApiError::from_response(
        r.status,
        &body,
        header(&r.headers, "request-id"),
        header(&r.headers, "date"),
        None,
        ra,
    )
    .into())
}

/// Splits items into batches of at most `size`, keeping `dependsOn`-connected items together
/// and the input order otherwise.
fn chunk(
    items: &[BatchItem],
    index: &HashMap<String, usize>,
    size: usize,
) -> Result<Vec<Vec<usize>>, GraphError> {
    // Union-find over dependsOn edges.
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (i, it) in items.iter().enumerate() {
        for d in &it.depends_on {
            let j = *index.get(d).ok_or_else(|| {
                GraphError::config(format!("batch request {} depends on unknown id {d}", it.id))
            })?;
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut order = Vec::new();
    for i in 0..items.len() {
        let r = find(&mut parent, i);
        if !groups.contains_key(&r) {
            order.push(r);
        }
        groups.entry(r).or_default().push(i);
    }
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for r in order {
        let g = groups.remove(&r).unwrap_or_default();
        if g.len() > size {
            return Err(GraphError::config(format!(
                "{} batch requests are linked by dependsOn; at most {size} fit in one batch",
                g.len()
            )));
        }
        if current.len() + g.len() > size {
            chunks.push(std::mem::take(&mut current));
        }
        current.extend(g);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    Ok(chunks)
}
