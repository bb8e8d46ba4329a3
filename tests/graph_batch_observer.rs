//! What apply journals by: `BatchObserver` hears `sending` for an item before every envelope
//! that carries it leaves, and `finished` exactly once per item, after its last `sending`,
//! with the outcome the call returns, under 429s, 503s, 504s and resets (inside batches and on
//! envelopes); and `GraphClient::stats` counts what was retried and waited.

mod e2e_support;

use e2e_support::*;
use hardmatch::graph::{BatchObserver, BatchOutcome, Clock, GraphClient, ImmutableIdUpdate};
use hardmatch::sim::{Faults, SimConfig, ThrottleQuotas};
use hardmatch::wire::BatchItem;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Sending(usize),
    Finished(usize, Result<u16, Option<u16>>),
}

#[derive(Default)]
struct Journal(Mutex<Vec<Event>>);

impl BatchObserver for Journal {
    fn sending(&self, items: &[usize]) {
        let mut j = self.0.lock().unwrap();
        j.extend(items.iter().map(|&i| Event::Sending(i)));
    }
    fn finished(&self, item: usize, outcome: &BatchOutcome) {
        let r = outcome.as_ref().map(|r| r.status).map_err(|e| e.status());
        self.0.lock().unwrap().push(Event::Finished(item, r));
    }
}

impl Journal {
    /// Checks the contract for `n` items and returns each item's finished outcome.
    fn check(&self, n: usize) -> Vec<Result<u16, Option<u16>>> {
        let events = self.0.lock().unwrap().clone();
        let mut sent: HashMap<usize, usize> = HashMap::new();
        let mut finished: HashMap<usize, Result<u16, Option<u16>>> = HashMap::new();
        for e in &events {
            match e {
                Event::Sending(i) => {
                    assert!(*i < n, "unknown item {i}");
                    assert!(!finished.contains_key(i), "item {i} sent after it finished");
                    *sent.entry(*i).or_default() += 1;
                }
                Event::Finished(i, r) => {
                    assert!(sent.contains_key(i), "item {i} finished before it was sent");
                    assert!(finished.insert(*i, *r).is_none(), "item {i} finished twice");
                }
            }
        }
        (0..n)
            .map(|i| {
                finished
                    .remove(&i)
                    .unwrap_or_else(|| panic!("item {i} never finished"))
            })
            .collect()
    }
}

async fn rough_tenant(users: usize) -> (hardmatch::sim::SimHandle, GraphClient) {
    let mut st = state(many_users(users));
    st.deleted_users = (users..users + 100)
        .map(|i| {
            let mut u = user(&id_of(i), &format!("gone{i}@contoso.com"), None);
            u.deleted_date_time = Some("2026-01-01T00:00:00Z".into());
            u
        })
        .collect();
    let cfg = SimConfig {
        time_scale: 1000.0,
        faults: Faults {
            p429: 0.2,
            p503: 0.05,
            p504: 0.02,
            reset: 0.02,
            ..Faults::default()
        },
        fault_seed: 0x0b5e,
        throttle: ThrottleQuotas {
            enabled: false,
            ..ThrottleQuotas::default()
        },
        request_log_capacity: 100_000,
        ..sim_config()
    };
    let sim = start(cfg, st).await;
    let mut c = config(&sim, secret_auth(&sim));
    c.clock = Clock::scaled(0.001);
    (sim, GraphClient::connect(c).unwrap())
}

#[tokio::test]
async fn every_write_is_sent_before_it_finishes_and_finishes_exactly_once() {
    let (sim, client) = rough_tenant(600).await;
    let updates: Vec<ImmutableIdUpdate> = (0..600)
        .map(|i| ImmutableIdUpdate {
            user: id_of(i),
            immutable_id: Some(format!("T2JzZXJ2{i:04}")),
        })
        .collect();
    let journal = Arc::new(Journal::default());
    let results = client
        .set_immutable_ids_observed(&updates, journal.clone())
        .await;
    let finished = journal.check(600);
    for (i, (r, f)) in results.iter().zip(&finished).enumerate() {
        assert_eq!(
            r.is_ok(),
            f.is_ok(),
            "item {i}: returned {r:?}, journalled {f:?}"
        );
        assert!(r.is_ok(), "item {i}: {r:?}");
    }
    let st = sim.state();
    assert!(st
        .users
        .iter()
        .take(600)
        .all(|u| u.on_premises_immutable_id.is_some()));

    let ids: Vec<String> = (600..700).map(id_of).collect();
    let journal = Arc::new(Journal::default());
    let purged = client
        .purge_deleted_users_observed(&ids, journal.clone())
        .await;
    journal.check(100);
    assert!(purged.iter().all(Result::is_ok), "{purged:?}");
    assert!(sim.state().deleted_users.is_empty());

    // The faults happened, and the client counted what it retried.
    let s = sim.stats();
    assert!(
        s.faults_429 > 50 && s.faults_503 > 5 && s.faults_504 > 0 && s.resets > 0,
        "{s:?}"
    );
    let log = sim.requests();
    assert!(
        log.iter()
            .any(|r| r.batch_item.is_none() && r.path.ends_with("$batch") && r.fault.is_some()),
        "an envelope itself was faulted"
    );
    let c = client.stats();
    assert!(c.throttled.request > 50, "{c:?}");
    assert!(c.throttle_wait.request > std::time::Duration::ZERO, "{c:?}");
    assert_eq!(
        c.throttled.writes, 0,
        "injected 429s name CPULimitExceeded: {c:?}"
    );
    assert!(c.server_errors > 5 && c.network_errors > 0, "{c:?}");
}

#[tokio::test]
async fn chains_and_refused_items_are_journalled_too() {
    let (_sim, client) = rough_tenant(40).await;
    let patch = |id: &str, user: usize, dep: Option<&str>| BatchItem {
        id: id.into(),
        method: "PATCH".into(),
        url: format!("/users/{}", id_of(user)),
        body: Some(serde_json::json!({"onPremisesImmutableId": format!("Q2hhaW4{user:03}")})),
        depends_on: dep.into_iter().map(String::from).collect(),
        ..BatchItem::default()
    };
    let mut items = Vec::new();
    for c in 0..10 {
        let (a, b, d) = (format!("a{c}"), format!("b{c}"), format!("d{c}"));
        items.push(patch(&a, 3 * c, None));
        items.push(patch(&b, 3 * c + 1, Some(&a)));
        items.push(patch(&d, 3 * c + 2, Some(&b)));
    }
    items.extend((30..40).map(|u| patch(&format!("p{u}"), u, None)));
    let journal = Arc::new(Journal::default());
    let out = client.batch_observed(items, journal.clone()).await;
    let finished = journal.check(40);
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert!(finished.iter().all(Result::is_ok));

    // Refused before sending: finished without sending.
    let journal = Arc::new(Journal::default());
    let fan_out = vec![
        patch("p", 1, None),
        patch("c", 2, Some("p")),
        patch("d", 3, Some("p")),
    ];
    let out = client.batch_observed(fan_out, journal.clone()).await;
    assert!(out.iter().all(Result::is_err));
    let events = journal.0.lock().unwrap().clone();
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|e| matches!(e, Event::Finished(_, Err(None)))));
}
