//! JSON batching (`POST /v1.0/$batch`, graph-behaviour.md §5).
//!
//! - Graph refuses a batch that is neither fully parallel nor fully sequential. So a batch
//!   carries either independent requests only (up to `batch_size`), or one `dependsOn` chain
//!   alone, in dependency order; requests linked some other way are refused before sending.
//! - A whole-batch 429/503/504 is retried as a whole by the pipeline.
//! - Inside a 200 batch, items answered 429/503/504 are retried in a new batch after the longest
//!   inner `Retry-After` (or a backoff); a 429 holds what it names, like a top-level one. A 424
//!   (failed dependency) goes again only with its retried parent, so a retry of a chain is the
//!   chain's tail, again one chain; otherwise it is returned as it is.
//! - Every sub-request is charged to the pacer, on every attempt.
//! - [`BatchObserver`] learns when items leave and as soon as each one is settled, so that a
//!   caller can journal them (apply).

use super::error::{ApiError, GraphError};
use super::http::{backoff, parse_retry_after, secs, Throttle};
use super::pacing::Cost;
use super::stats::Limit;
use super::GraphClient;
use crate::wire::{BatchItem, BatchItemResponse, BatchRequest, BatchResponse};
use reqwest::Method;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The final answer to one batched request: its 2xx response, or its error.
pub type BatchOutcome = Result<BatchItemResponse, GraphError>;

/// Told what happens to the items of [`GraphClient::batch_observed`] while it runs, so that a
/// caller can journal each one as started before its request leaves and as settled as soon as
/// that is known (a crash then loses nothing). Called from the client's tasks, possibly
/// concurrently for different batches; keep the calls short (a `fsync` per batch is fine).
pub trait BatchObserver: Send + Sync {
    /// Right before an envelope carrying these items (indices into the `items` given) is sent:
    /// on every attempt, including whole-envelope retries after a 429, a 5xx or a lost answer,
    /// and the resending of items that were throttled inside a batch.
    fn sending(&self, items: &[usize]);
    /// Once per item, with its final outcome, as soon as it is known: when the answer that
    /// settles it arrives (not when the whole call ends). Items refused before anything is
    /// sent (duplicate ids, links that are not one chain) are finished without `sending`.
    fn finished(&self, item: usize, outcome: &BatchOutcome);
}

/// An observer that ignores everything ([`GraphClient::batch`]).
pub(crate) struct Unobserved;

impl BatchObserver for Unobserved {
    fn sending(&self, _: &[usize]) {}
    fn finished(&self, _: usize, _: &BatchOutcome) {}
}

impl GraphClient {
    /// Runs `items` through `$batch`, `batch_size` at a time with `concurrency` batches in flight,
    /// and returns one outcome per item, in the order given. Ids must be unique across `items`;
    /// `depends_on` may only name ids of the same call, and requests linked by it must form
    /// chains (each depends on at most one, and is depended on by at most one); a chain goes in
    /// a batch of its own. URLs are relative to `/v1.0`.
    pub async fn batch(&self, items: Vec<BatchItem>) -> Vec<BatchOutcome> {
        self.batch_observed(items, Arc::new(Unobserved)).await
    }

    /// [`GraphClient::batch`], telling `observer` when each envelope is sent (`sending`, on
    /// every attempt) and each item's outcome as soon as it is known (`finished`, exactly once
    /// per item; always after that item's last `sending`).
    pub async fn batch_observed(
        &self,
        items: Vec<BatchItem>,
        observer: Arc<dyn BatchObserver>,
    ) -> Vec<BatchOutcome> {
        let n = items.len();
        let refuse = |e: GraphError| -> Vec<BatchOutcome> {
            (0..n)
                .map(|i| {
                    let r = Err(e.clone());
                    observer.finished(i, &r);
                    r
                })
                .collect()
        };
        let envelopes = match plan(&items, self.inner.batch_size) {
            Ok(e) => e,
            Err(e) => return refuse(e),
        };
        let items = Arc::new(items);
        let sem = Arc::new(tokio::sync::Semaphore::new(self.inner.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for envelope in envelopes {
            let (client, items, sem, observer) =
                (self.clone(), items.clone(), sem.clone(), observer.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                client.run_batch(envelope, &items, &*observer).await
            });
        }
        let mut outcomes: Vec<Option<BatchOutcome>> = (0..n).map(|_| None).collect();
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
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| {
                    let r = Err(GraphError::config("batch task failed before answering"));
                    observer.finished(i, &r);
                    r
                })
            })
            .collect()
    }

    /// One envelope's items (indices into `items`: independent ones, or one chain in order),
    /// with the retries of throttled and failed items. Every item is finished exactly once.
    async fn run_batch(
        &self,
        envelope: Vec<usize>,
        items: &[BatchItem],
        observer: &dyn BatchObserver,
    ) -> Vec<(usize, BatchOutcome)> {
        let p = &self.inner.pipeline;
        let mut round = Round::new(envelope);
        let mut out = Vec::with_capacity(round.pending.len());
        let settle = |i: usize, r: BatchOutcome, out: &mut Vec<(usize, BatchOutcome)>| {
            observer.finished(i, &r);
            out.push((i, r));
        };
        while !round.pending.is_empty() {
            let requests: Vec<BatchItem> = round
                .pending
                .iter()
                .map(|&i| {
                    let mut it = with_content_type(items[i].clone());
                    it.depends_on
                        .retain(|d| round.pending.iter().any(|&j| items[j].id == *d));
                    it
                })
                .collect();
            let cost = requests.iter().fold(Cost::default(), |c, it| {
                c.plus(Cost::of(&it.method, &it.url))
            });
            let body = match serde_json::to_value(BatchRequest { requests }) {
                Ok(b) => b,
                Err(e) => {
                    let e = GraphError::config(format!("cannot encode batch: {e}"));
                    for i in std::mem::take(&mut round.pending) {
                        settle(i, Err(e.clone()), &mut out);
                    }
                    break;
                }
            };
            let pending = round.pending.clone();
            let sent = p
                .send_observed(Method::POST, "/$batch", Some(&body), &[], cost, &|| {
                    observer.sending(&pending)
                })
                .await;
            round.envelope_lost |= sent.in_doubt;
            let parsed = sent.result.and_then(|resp| {
                let b: BatchResponse = resp.json()?;
                Ok((resp, b))
            });
            let (resp, parsed) = match parsed {
                Ok(x) => x,
                Err(e) => {
                    for i in std::mem::take(&mut round.pending) {
                        settle(i, Err(e.clone()), &mut out);
                    }
                    break;
                }
            };
            let envelope = Envelope {
                request_id: resp.request_id.clone(),
                date: resp.date.clone(),
                ags_diagnostic: resp.ags_diagnostic.clone(),
            };
            let wait = round.answer(self, items, parsed, &envelope, &mut |i, r| {
                settle(i, r, &mut out)
            });
            if !round.pending.is_empty() {
                let wait = wait.min(p.retry.max_wait);
                tracing::info!(
                    "$batch: retrying {} of its requests in {} ({})",
                    round.pending.len(),
                    secs(wait),
                    round.why
                );
                p.clock.sleep(wait).await;
            }
        }
        out
    }
}

/// The envelope's headers, which stand in for an item's own when it has none.
struct Envelope {
    request_id: Option<String>,
    date: Option<String>,
    ags_diagnostic: Option<String>,
}

/// The state of one envelope's items across its retries.
struct Round {
    /// Items still to send, in envelope order (a chain stays in dependency order).
    pending: Vec<usize>,
    /// 5xx answers per item, against `max_attempts`.
    failures: HashMap<usize, u32>,
    /// 429s per item, and when the first came (the throttling budget runs from there).
    throttled: HashMap<usize, (u32, Duration)>,
    /// An envelope's answer was lost: its items may have been carried out.
    envelope_lost: bool,
    /// Why items go again, for the log.
    why: String,
}

impl Round {
    fn new(pending: Vec<usize>) -> Round {
        Round {
            pending,
            failures: HashMap::new(),
            throttled: HashMap::new(),
            envelope_lost: false,
            why: String::new(),
        }
    }

    /// Reads one 200 batch answer: settles what is final (through `settle`), keeps what goes
    /// again in `pending`, and returns how long to wait before that.
    fn answer(
        &mut self,
        client: &GraphClient,
        items: &[BatchItem],
        parsed: BatchResponse,
        envelope: &Envelope,
        settle: &mut dyn FnMut(usize, BatchOutcome),
    ) -> Duration {
        let p = &client.inner.pipeline;
        let by_id: HashMap<String, BatchItemResponse> = parsed
            .responses
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut retry: HashSet<usize> = HashSet::new();
        let mut succeeded: HashSet<usize> = HashSet::new();
        let mut failed_dependency = Vec::new();
        let mut wait = Duration::ZERO;
        let mut unserved = Cost::default();
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        let now = p.clock.now();
        for &i in &self.pending {
            let it = &items[i];
            let Some(r) = by_id.get(&it.id) else {
                settle(
                    i,
                    Err(GraphError::Decode {
                        message: format!("the batch answer has no response for request {}", it.id),
                        request_id: envelope.request_id.clone().unwrap_or_default(),
                    }),
                );
                continue;
            };
            let h = |name: &str| header(&r.headers, name);
            match r.status {
                429 => {
                    let (n, since) = self.throttled.entry(i).or_insert((0, now));
                    *n += 1;
                    let t = Throttle::of(h, !it.method.eq_ignore_ascii_case("GET"), &p.clock, *n);
                    let item_wait = t.wait.min(p.retry.max_wait);
                    if now + item_wait > *since + p.retry.throttle_budget {
                        settle(i, outcome(r, envelope));
                        continue;
                    }
                    if t.limit == Limit::Request {
                        unserved = unserved.plus(Cost::of(&it.method, &it.url));
                    } else {
                        p.pacer.observe_pressure(Some(0.8));
                    }
                    p.pacer.throttled(t.limit, item_wait);
                    p.stats.throttled(t.limit, item_wait);
                    *why.entry(format!("429 for {}", t.limit)).or_default() += 1;
                    wait = wait.max(item_wait);
                    retry.insert(i);
                }
                500 | 502 | 503 | 504 => {
                    if r.status >= 503 {
                        unserved = unserved.plus(Cost::of(&it.method, &it.url));
                    }
                    let n = self.failures.entry(i).or_default();
                    *n += 1;
                    if *n >= p.retry.max_attempts {
                        settle(i, outcome(r, envelope));
                        continue;
                    }
                    p.stats.server_error();
                    let ra = h("retry-after")
                        .and_then(|v| parse_retry_after(&v))
                        .map(|d| p.clock.from_server(d));
                    wait = wait.max(ra.unwrap_or_else(|| backoff(*n)));
                    *why.entry(format!("HTTP {}", r.status)).or_default() += 1;
                    retry.insert(i);
                }
                424 => failed_dependency.push(i),
                404 if self.envelope_lost && it.method.eq_ignore_ascii_case("DELETE") => {
                    // Deleted by the envelope whose answer was lost.
                    p.stats.in_doubt_resolved();
                    let mut gone = r.clone();
                    gone.status = 204;
                    gone.body = None;
                    succeeded.insert(i);
                    settle(i, Ok(gone));
                }
                s => {
                    if (200..300).contains(&s) {
                        succeeded.insert(i);
                    }
                    settle(i, outcome(r, envelope));
                }
            }
        }
        // Not served for a reason other than a quota: see Pacer::refund.
        p.pacer.refund(unserved);
        for i in self.dependents(items, &failed_dependency, &succeeded, &mut retry) {
            if let Some(r) = by_id.get(&items[i].id) {
                settle(i, outcome(r, envelope));
            }
        }
        self.pending.retain(|i| retry.contains(i));
        self.why = why
            .iter()
            .map(|(k, n)| format!("{n} × {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        wait
    }
}

impl Round {
    /// Sorts the items answered 424: a dependent goes again (added to `retry`) if its parent
    /// goes again, or if the parent was settled as a success although Graph had failed it (a
    /// DELETE whose answer was lost). Returns the others, whose 424 is final. In a chain,
    /// retried parents come first, so one pass in chain order is enough.
    fn dependents(
        &self,
        items: &[BatchItem],
        failed_dependency: &[usize],
        succeeded: &HashSet<usize>,
        retry: &mut HashSet<usize>,
    ) -> Vec<usize> {
        let index: HashMap<&str, usize> = self
            .pending
            .iter()
            .map(|&i| (items[i].id.as_str(), i))
            .collect();
        let mut last = Vec::new();
        for &i in self
            .pending
            .iter()
            .filter(|i| failed_dependency.contains(i))
        {
            let parents: Vec<usize> = items[i]
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            let again = parents.iter().any(|j| retry.contains(j))
                || (!parents.is_empty() && parents.iter().all(|j| succeeded.contains(j)));
            if again {
                retry.insert(i);
            } else {
                last.push(i);
            }
        }
        last
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

fn outcome(r: &BatchItemResponse, envelope: &Envelope) -> BatchOutcome {
    if (200..300).contains(&r.status) {
        return Ok(r.clone());
    }
    let body = r
        .body
        .as_ref()
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let ra = header(&r.headers, "retry-after").and_then(|v| parse_retry_after(&v));
    let mut e = ApiError::from_response(
        r.status,
        &body,
        header(&r.headers, "request-id"),
        header(&r.headers, "date").or_else(|| envelope.date.clone()),
        None,
        ra,
    );
    e.ags_diagnostic =
        header(&r.headers, "x-ms-ags-diagnostic").or_else(|| envelope.ags_diagnostic.clone());
    Err(e.into())
}

/// Splits items into envelopes of independent requests (at most `size`, in input order) and
/// envelopes holding one `dependsOn` chain each (root first). Graph refuses anything between.
fn plan(items: &[BatchItem], size: usize) -> Result<Vec<Vec<usize>>, GraphError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if index.insert(it.id.as_str(), i).is_some() {
            return Err(GraphError::config("batch request ids must be unique"));
        }
    }
    let mut parent: Vec<Option<usize>> = vec![None; items.len()];
    let mut child: Vec<Option<usize>> = vec![None; items.len()];
    let not_a_chain = |id: &str| {
        GraphError::config(format!(
            "batch request {id} is linked by dependsOn in a way that is not one chain; Graph \
             accepts a batch that is fully parallel or fully sequential, so each request may \
             depend on at most one other and be depended on by at most one"
        ))
    };
    for (i, it) in items.iter().enumerate() {
        match it.depends_on.as_slice() {
            [] => {}
            [d] => {
                let j = *index.get(d.as_str()).ok_or_else(|| {
                    GraphError::config(format!("batch request {} depends on unknown id {d}", it.id))
                })?;
                if j == i || child[j].is_some() {
                    return Err(not_a_chain(&it.id));
                }
                parent[i] = Some(j);
                child[j] = Some(i);
            }
            _ => return Err(not_a_chain(&it.id)),
        }
    }
    let mut envelopes = Vec::new();
    let mut parallel: Vec<usize> = Vec::new();
    let mut placed = 0;
    for i in 0..items.len() {
        if parent[i].is_some() {
            continue;
        }
        if child[i].is_none() {
            parallel.push(i);
            placed += 1;
            if parallel.len() == size {
                envelopes.push(std::mem::take(&mut parallel));
            }
            continue;
        }
        let mut chain = vec![i];
        let mut at = i;
        while let Some(c) = child[at] {
            chain.push(c);
            at = c;
        }
        if chain.len() > size {
            return Err(GraphError::config(format!(
                "{} batch requests are linked by dependsOn; at most {size} fit in one batch",
                chain.len()
            )));
        }
        placed += chain.len();
        envelopes.push(chain);
    }
    if placed != items.len() {
        // Whatever was not reached from a request without dependsOn lies on a cycle.
        let stuck = (0..items.len())
            .find(|&i| parent[i].is_some())
            .map(|i| items[i].id.as_str())
            .unwrap_or_default();
        return Err(GraphError::config(format!(
            "batch request {stuck} is part of a dependsOn cycle"
        )));
    }
    if !parallel.is_empty() {
        envelopes.push(parallel);
    }
    Ok(envelopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(id: &str, deps: &[&str]) -> BatchItem {
        BatchItem {
            id: id.into(),
            method: "GET".into(),
            url: "/users".into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            ..BatchItem::default()
        }
    }

    #[test]
    fn envelopes_are_fully_parallel_or_one_chain() {
        let items = vec![
            it("a", &[]),
            it("c", &["b"]),
            it("b", &["p"]),
            it("p", &[]),
            it("x", &[]),
            it("y", &[]),
        ];
        assert_eq!(plan(&items, 3).unwrap(), [vec![3, 2, 1], vec![0, 4, 5]]);
        assert!(plan(&items, 2)
            .unwrap_err()
            .to_string()
            .contains("at most 2"));
        let cycle = vec![it("a", &["b"]), it("b", &["a"])];
        assert!(plan(&cycle, 20).unwrap_err().to_string().contains("cycle"));
        let long: Vec<BatchItem> = (0..21)
            .map(|i| {
                let prev = (i > 0).then(|| (i - 1).to_string());
                it(
                    &i.to_string(),
                    &prev.iter().map(String::as_str).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert!(plan(&long, 20)
            .unwrap_err()
            .to_string()
            .contains("at most 20"));
    }
}
