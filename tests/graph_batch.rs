//! `$batch`: at most 20 requests, unique ids, Content-Type on bodies, per-item results in input
//! order, inner 429s retried alone after the longest Retry-After, a `dependsOn` chain sent alone
//! (Graph refuses a batch that is neither fully parallel nor fully sequential) and a 424 retried
//! only with its failed parent, whole-batch 429 retried whole.

mod graph_stub;

use graph_stub::*;
use hardmatch::graph::ImmutableIdUpdate;
use hardmatch::wire::BatchItem;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn batch_items(r: &Req) -> Vec<Value> {
    r.json()["requests"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn inner_429s_are_retried_alone_after_the_longest_retry_after() {
    // First sight of ids 3 and 7 → 429 (Retry-After 0.5 and 1.25); id 5 → 404 (final).
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let stub = serve(move |r| {
        if r.is_token() {
            return None;
        }
        let mut seen = seen.lock().unwrap();
        let responses: Vec<Value> = batch_items(r)
            .iter()
            .rev() // Graph may answer in any order
            .map(|it| {
                let id = it["id"].as_str().unwrap().to_string();
                let n = { let c = seen.entry(id.clone()).or_default(); *c += 1; *c };
                match (id.as_str(), n) {
                    ("3", 1) => json!({"id": id, "status": 429, "headers": {"Retry-After": "0.5"}, "body": {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}}),
                    ("7", 1) => json!({"id": id, "status": 429, "headers": {"retry-after": "1.25"}, "body": {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}}),
                    ("5", _) => json!({"id": id, "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "Resource 'u5' does not exist", "innerError": {"request-id": "inner-5"}}}}),
                    _ => json!({"id": id, "status": 204}),
                }
            })
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (client, clock) = stub.client();
    let updates: Vec<ImmutableIdUpdate> = (1..=8)
        .map(|i| ImmutableIdUpdate {
            user: format!("u{i}"),
            immutable_id: (i != 2).then(|| format!("id{i}+/=")),
        })
        .collect();
    let results = client.set_immutable_ids(&updates).await;
    assert_eq!(results.len(), 8);
    for (i, r) in results.iter().enumerate() {
        if i == 4 {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.code(), Some("Request_ResourceNotFound"));
            assert_eq!(e.api().unwrap().request_id.as_deref(), Some("inner-5"));
        } else {
            assert!(r.is_ok(), "item {i}: {r:?}");
        }
    }
    let batches = stub.graph_requests();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].path(), "/v1.0/$batch");
    let first = batch_items(&batches[0]);
    assert_eq!(first.len(), 8);
    assert_eq!(
        first[1]["body"],
        json!({"onPremisesImmutableId": null}),
        "clearing sends a literal null"
    );
    assert_eq!(first[0]["headers"]["Content-Type"], "application/json");
    assert_eq!(first[0]["url"], "/users/u1");
    assert_eq!(first[0]["method"], "PATCH");
    let ids: Vec<String> = batch_items(&batches[1])
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["3", "7"]);
    // One wait for the longest Retry-After, then the pacer's write bucket (emptied by the 429s)
    // refills the two retried writes at 3,000 × 0.97 / 150 s: about 0.1 s.
    let slept = clock.total_slept();
    assert!(
        slept >= Duration::from_millis(1250) && slept < Duration::from_millis(1400),
        "one wait: the longest Retry-After, then pacing; slept {slept:?}"
    );
}

#[tokio::test]
async fn batches_hold_at_most_twenty_and_a_whole_batch_429_is_retried_whole() {
    let calls = Arc::new(AtomicUsize::new(0));
    let stub = serve(move |r| {
        if r.is_token() {
            return None;
        }
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Some(
                Reply::error(429, "TooManyRequests", "Please retry again later.")
                    .with_header("Retry-After", "0.01"),
            );
        }
        let responses: Vec<Value> = batch_items(r)
            .iter()
            .map(|it| json!({"id": it["id"], "status": 204}))
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (mut cfg, _) = stub.config(secret_auth());
    cfg.concurrency = 1;
    let client = hardmatch::graph::GraphClient::connect(cfg).unwrap();
    let ids: Vec<String> = (0..45).map(|i| format!("deleted-{i}")).collect();
    let results = client.purge_deleted_users(&ids).await;
    assert!(results.iter().all(|r| r.is_ok()));
    let sizes: Vec<usize> = stub
        .graph_requests()
        .iter()
        .map(|r| batch_items(r).len())
        .collect();
    assert_eq!(
        sizes,
        [20, 20, 20, 5],
        "first batch retried whole, then the rest"
    );
    let first = batch_items(&stub.graph_requests()[0]);
    assert_eq!(first[0]["method"], "DELETE");
    assert_eq!(first[0]["url"], "/directory/deletedItems/deleted-0");
    assert!(
        first[0].get("headers").is_none(),
        "no Content-Type without a body"
    );
}

/// What Graph checks first: a batch is either fully parallel (no `dependsOn`) or fully
/// sequential (one chain: one first request, every other one depending on exactly one request,
/// no request depended on twice). Anything else is the 400 of graph-behaviour.md §5.
fn mixed(items: &[Value]) -> bool {
    let deps: Vec<Vec<&str>> = items
        .iter()
        .map(|it| {
            it["dependsOn"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        })
        .collect();
    if deps.iter().all(Vec::is_empty) {
        return false;
    }
    let roots = deps.iter().filter(|d| d.is_empty()).count();
    let mut parents: Vec<&str> = deps.iter().flatten().copied().collect();
    let n = parents.len();
    parents.sort();
    parents.dedup();
    roots != 1 || deps.iter().any(|d| d.len() > 1) || parents.len() != n
}

fn refuse_mixed() -> Reply {
    Reply::error(
        400,
        "BadRequest",
        "Batch should be either fully sequential or fully parallel",
    )
}

fn item(id: &str, deps: &[&str]) -> BatchItem {
    BatchItem {
        id: id.into(),
        method: "GET".into(),
        url: format!("/users/{id}"),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        ..BatchItem::default()
    }
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_dependent_chain_goes_alone_and_independent_requests_go_together() {
    // Issue 9 point 1: chunk() used to pack chains together with unrelated items.
    let stub = serve(|r| {
        if r.is_token() {
            return None;
        }
        let items = batch_items(r);
        if mixed(&items) {
            return Some(refuse_mixed());
        }
        let responses: Vec<Value> = items
            .iter()
            .map(|it| json!({"id": it["id"], "status": 200, "body": {"ok": it["id"]}}))
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (mut cfg, _) = stub.config(secret_auth());
    cfg.concurrency = 1;
    let client = hardmatch::graph::GraphClient::connect(cfg).unwrap();
    let out = client
        .batch(vec![
            item("a", &[]),
            item("c", &["p"]),
            item("p", &[]),
            item("b", &[]),
            item("x", &[]),
            item("y", &["x"]),
            item("z", &["y"]),
            item("d", &[]),
        ])
        .await;
    for (i, r) in out.iter().enumerate() {
        assert!(r.is_ok(), "item {i}: {r:?}");
    }
    let mut envelopes: Vec<Vec<String>> = stub
        .graph_requests()
        .iter()
        .map(|r| ids_of(&batch_items(r)))
        .collect();
    envelopes.sort();
    assert_eq!(
        envelopes,
        [vec!["a", "b", "d"], vec!["p", "c"], vec!["x", "y", "z"]],
        "independent requests together; each chain alone, in dependency order"
    );
}

#[tokio::test]
async fn a_failed_dependency_is_retried_only_with_its_parent_and_stays_a_chain() {
    // Chain p → c → d: c is throttled, so d fails its dependency; they go again as the chain
    // c → d. Chain x → y: x is not found, so y's 424 is final.
    let calls = Arc::new(AtomicUsize::new(0));
    let stub = serve(move |r| {
        if r.is_token() {
            return None;
        }
        let items = batch_items(r);
        if mixed(&items) {
            return Some(refuse_mixed());
        }
        calls.fetch_add(1, Ordering::SeqCst);
        let first_try = |id: &str| items.iter().any(|i| i["id"] == "p") && id == "c";
        let mut failed = false;
        let responses: Vec<Value> = items
            .iter()
            .map(|it| {
                let id = it["id"].as_str().unwrap();
                let status = if failed {
                    424
                } else if first_try(id) {
                    429
                } else if id == "x" {
                    404
                } else {
                    200
                };
                failed |= status != 200;
                json!({"id": id, "status": status, "headers": {"Retry-After": "1"}, "body": {"ok": id}})
            })
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (client, _) = stub.client();
    let out = client
        .batch(vec![
            item("p", &[]),
            item("c", &["p"]),
            item("d", &["c"]),
            item("x", &[]),
            item("y", &["x"]),
        ])
        .await;
    assert!(
        out[0].is_ok() && out[1].is_ok() && out[2].is_ok(),
        "{out:?}"
    );
    assert_eq!(out[3].as_ref().unwrap_err().status(), Some(404));
    assert_eq!(out[4].as_ref().unwrap_err().status(), Some(424));
    let requests = stub.graph_requests();
    assert_eq!(requests.len(), 3, "two chains, then the retried tail");
    let retried = requests
        .iter()
        .map(batch_items)
        .find(|items| items[0]["id"] == "c")
        .expect("the tail c → d was sent again");
    assert_eq!(ids_of(&retried), ["c", "d"]);
    assert!(retried[0].get("dependsOn").is_none(), "c's parent is done");
    assert_eq!(retried[1]["dependsOn"], json!(["c"]));
}

#[tokio::test]
async fn requests_that_do_not_form_one_chain_are_refused_before_sending() {
    // c and d both depend on p: neither fully sequential nor fully parallel.
    let stub = serve(|_| None).await;
    let (client, _) = stub.client();
    let out = client
        .batch(vec![item("p", &[]), item("c", &["p"]), item("d", &["p"])])
        .await;
    for r in &out {
        let e = r.as_ref().unwrap_err().to_string();
        assert!(e.contains("chain"), "{e}");
    }
    assert!(stub.graph_requests().is_empty());
}

#[tokio::test]
async fn duplicate_ids_and_unknown_dependencies_are_refused_before_sending() {
    let stub = serve(|_| None).await;
    let (client, _) = stub.client();
    let it = |id: &str, dep: Option<&str>| BatchItem {
        id: id.into(),
        method: "GET".into(),
        url: "/users".into(),
        depends_on: dep.into_iter().map(String::from).collect(),
        ..BatchItem::default()
    };
    let out = client.batch(vec![it("1", None), it("1", None)]).await;
    assert!(out
        .iter()
        .all(|r| r.as_ref().unwrap_err().to_string().contains("unique")));
    let out = client.batch(vec![it("1", Some("9"))]).await;
    assert!(out[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("unknown id 9"));
    assert!(stub.graph_requests().is_empty());
}

#[tokio::test]
async fn a_purge_then_set_chain_survives_a_lost_answer() {
    // Apply's ConflictDeleted row: purge the holder, then set the ImmutableId. The first
    // envelope was carried out but answered 504 (in doubt); the retry finds the holder gone
    // (404) and Graph fails the dependent set (424). The purge is done, so the set goes again.
    let calls = Arc::new(AtomicUsize::new(0));
    let stub = serve(move |r| {
        if r.is_token() {
            return None;
        }
        let items = batch_items(r);
        if mixed(&items) {
            return Some(refuse_mixed());
        }
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n == 0 {
            return Some(Reply::error(504, "GatewayTimeout", "The gateway timed out"));
        }
        let responses: Vec<Value> = items
            .iter()
            .map(|it| match (n, it["id"].as_str().unwrap()) {
                (1, "purge") => json!({"id": "purge", "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}}),
                (1, id) => json!({"id": id, "status": 424}),
                (_, id) => json!({"id": id, "status": 204}),
            })
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (client, _) = stub.client();
    let out = client
        .batch(vec![
            BatchItem {
                id: "purge".into(),
                method: "DELETE".into(),
                url: "/directory/deletedItems/holder".into(),
                ..BatchItem::default()
            },
            BatchItem {
                id: "set".into(),
                method: "PATCH".into(),
                url: "/users/target".into(),
                body: Some(json!({"onPremisesImmutableId": "QUFBQQ=="})),
                depends_on: vec!["purge".into()],
                ..BatchItem::default()
            },
        ])
        .await;
    assert!(out[0].is_ok(), "the purge is done: {:?}", out[0]);
    assert!(out[1].is_ok(), "the set went again: {:?}", out[1]);
    let sent: Vec<Vec<String>> = stub
        .graph_requests()
        .iter()
        .map(|r| ids_of(&batch_items(r)))
        .collect();
    assert_eq!(
        sent,
        [vec!["purge", "set"], vec!["purge", "set"], vec!["set"]]
    );
}
