//! `$batch` limits and per-item results, and the throttling model (RU and write buckets,
//! 429 with Retry-After, x-ms-throttle-* headers), on the simulated tenant.

mod sim_support;

use hardmatch::sim::{SimConfig, TenantState, ThrottleQuotas};
use hardmatch::wire::{BatchItem, BatchRequest, BatchResponse};
use serde_json::json;
use sim_support::*;
use std::collections::BTreeMap;

fn patch_item(id: &str, user: usize, value: &str) -> BatchItem {
    BatchItem {
        id: id.into(),
        method: "PATCH".into(),
        url: format!("/users/00000000-0000-4000-8000-{user:012}"),
        headers: BTreeMap::from([("Content-Type".to_string(), "application/json".to_string())]),
        body: Some(json!({"onPremisesImmutableId": value})),
        depends_on: vec![],
    }
}

async fn batch(env: &Env, items: Vec<BatchItem>) -> (u16, serde_json::Value) {
    let (s, _, v) = env
        .send(
            "POST",
            "/$batch",
            Some(serde_json::to_value(BatchRequest { requests: items }).unwrap()),
        )
        .await;
    (s, v)
}

fn unthrottled() -> SimConfig {
    SimConfig {
        throttle: ThrottleQuotas {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn batch_limits_are_enforced() {
    let env = Env::start(
        unthrottled(),
        TenantState {
            users: many_users(30),
            ..Default::default()
        },
    )
    .await;
    let items: Vec<_> = (0..21)
        .map(|i| patch_item(&i.to_string(), i, &format!("aWQ{i}")))
        .collect();
    let (s, v) = batch(&env, items).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = batch(&env, vec![patch_item("1", 1, "a"), patch_item("1", 2, "b")]).await;
    assert_eq!(s, 400, "duplicate ids");
    assert!(
        env.sim
            .state()
            .users
            .iter()
            .all(|u| u.on_premises_immutable_id.is_none()),
        "a rejected batch runs nothing"
    );
    let items: Vec<_> = (0..20)
        .map(|i| patch_item(&i.to_string(), i, &format!("aWQ{i}")))
        .collect();
    assert_eq!(batch(&env, items).await.0, 200);
}

#[tokio::test]
async fn batch_items_get_their_own_status_and_depends_on_gives_424() {
    let mut state = TenantState {
        users: many_users(3),
        ..Default::default()
    };
    state.users[2].on_premises_immutable_id = Some("dGFrZW4=".into());
    let env = Env::start(unthrottled(), state).await;
    // One chain (Graph refuses a batch that mixes a chain with independent requests):
    // 1 → 5 → 2 (conflicts with user 2) → 3, which fails its dependency.
    let mut after_ok = patch_item("5", 1, "b2s=");
    after_ok.depends_on = vec!["1".into()];
    let mut conflicting = patch_item("2", 1, "dGFrZW4=");
    conflicting.depends_on = vec!["5".into()];
    let mut dependent = patch_item("3", 0, "ZGVwZW5kZW50");
    dependent.depends_on = vec!["2".into()];
    let items = vec![
        patch_item("1", 0, "Zmlyc3Q="),
        after_ok,
        conflicting,
        dependent,
    ];
    let (s, v) = batch(&env, items).await;
    assert_eq!(s, 200, "{v}");
    let r: BatchResponse = serde_json::from_value(v).unwrap();
    let by_id: BTreeMap<_, _> = r.responses.iter().map(|x| (x.id.as_str(), x)).collect();
    assert_eq!(by_id.len(), 4);
    assert_eq!(by_id["1"].status, 204);
    assert_eq!(by_id["5"].status, 204, "depends on a success, so it ran");
    assert_eq!(by_id["2"].status, 400);
    assert_eq!(
        by_id["2"].body.as_ref().unwrap()["error"]["details"][1]["target"],
        "User_00000000-0000-4000-8000-000000000002"
    );
    assert_eq!(by_id["3"].status, 424);
    let (s, v) = batch(
        &env,
        vec![BatchItem {
            id: "4".into(),
            method: "GET".into(),
            url: "/users/nobody@contoso.com".into(),
            ..Default::default()
        }],
    )
    .await;
    assert_eq!(s, 200);
    let r: BatchResponse = serde_json::from_value(v).unwrap();
    assert_eq!(r.responses[0].status, 404);
    let st = env.sim.state();
    assert_eq!(
        st.users[0].on_premises_immutable_id.as_deref(),
        Some("Zmlyc3Q=")
    );
    assert_eq!(
        st.users[1].on_premises_immutable_id.as_deref(),
        Some("b2s=")
    );
}

#[tokio::test]
async fn batch_items_over_the_write_budget_get_inner_429s() {
    let config = SimConfig {
        manual_clock: true,
        throttle: ThrottleQuotas {
            writes: 5.0,
            write_window_secs: 150.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let env = Env::start(
        config,
        TenantState {
            users: many_users(10),
            ..Default::default()
        },
    )
    .await;
    let items: Vec<_> = (0..8)
        .map(|i| patch_item(&format!("i{i}"), i, &format!("dmFs{i}")))
        .collect();
    let (s, v) = batch(&env, items).await;
    assert_eq!(s, 200, "the batch itself succeeds");
    let r: BatchResponse = serde_json::from_value(v).unwrap();
    let ok = r.responses.iter().filter(|x| x.status == 204).count();
    let throttled: Vec<_> = r.responses.iter().filter(|x| x.status == 429).collect();
    assert_eq!((ok, throttled.len()), (5, 3));
    for t in &throttled {
        let ra: f64 = t.headers["Retry-After"].parse().unwrap();
        assert!(ra > 0.0);
        assert_eq!(t.headers["x-ms-throttle-information"], "WriteLimitExceeded");
        let b = t.body.as_ref().unwrap();
        assert_eq!(b["error"]["code"], "TooManyRequests");
        assert_eq!(b["error"]["message"], "Please retry again later.");
        assert_eq!(b["error"]["innerError"]["code"], "429");
        assert_eq!(b["error"]["innerError"]["message"], "Please retry after");
    }
    let log = env.sim.requests();
    assert_eq!(
        log.iter()
            .filter(|r| r.batch_item.is_some() && r.throttled)
            .count(),
        3
    );
    // Retrying the failed items after the longest Retry-After makes progress every round; throttled
    // attempts are charged too (Graph keeps logging usage), so it may take more than one round.
    let mut failed: Vec<(String, f64)> = throttled
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                t.headers["Retry-After"].parse::<f64>().unwrap(),
            )
        })
        .collect();
    for _round in 0..10 {
        if failed.is_empty() {
            break;
        }
        let wait = failed.iter().map(|f| f.1).fold(0.0, f64::max);
        env.sim.advance_clock(wait);
        let retry: Vec<_> = failed
            .iter()
            .map(|(id, _)| {
                let i: usize = id[1..].parse().unwrap();
                patch_item(id, i, &format!("dmFs{i}"))
            })
            .collect();
        let (_, v) = batch(&env, retry).await;
        let r: BatchResponse = serde_json::from_value(v).unwrap();
        let before = failed.len();
        failed = r
            .responses
            .iter()
            .filter(|x| x.status == 429)
            .map(|x| {
                (
                    x.id.clone(),
                    x.headers["Retry-After"].parse::<f64>().unwrap(),
                )
            })
            .collect();
        assert!(
            failed.len() < before,
            "each round after Retry-After makes progress"
        );
        assert!(r
            .responses
            .iter()
            .all(|x| x.status == 204 || x.status == 429));
    }
    assert!(failed.is_empty());
    let st = env.sim.state();
    assert!(st
        .users
        .iter()
        .take(8)
        .all(|u| u.on_premises_immutable_id.is_some()));
}

#[tokio::test]
async fn throttling_headers_and_retry_after_follow_the_documented_model() {
    let config = SimConfig {
        manual_clock: true,
        throttle: ThrottleQuotas {
            writes: 3.0,
            write_window_secs: 150.0,
            resource_units: Some(10.0),
            ..Default::default()
        },
        ..Default::default()
    };
    let env = Env::start(
        config,
        TenantState {
            users: many_users(3),
            ..Default::default()
        },
    )
    .await;
    let u = "/users/00000000-0000-4000-8000-000000000000";
    let mut pct_seen = false;
    for i in 0..3 {
        let (s, h, _) = env
            .send("PATCH", u, Some(json!({"displayName": format!("n{i}")})))
            .await;
        assert_eq!(s, 204);
        assert_eq!(h["x-ms-resource-unit"], "1");
        pct_seen |= h.contains_key("x-ms-throttle-limit-percentage");
    }
    assert!(
        pct_seen,
        "x-ms-throttle-limit-percentage once over 0.8 of the write quota"
    );
    let (s, h, v) = env
        .send("PATCH", u, Some(json!({"displayName": "x"})))
        .await;
    assert_eq!(s, 429);
    assert_eq!(error_code(&v), "TooManyRequests");
    assert_eq!(h["x-ms-throttle-information"], "WriteLimitExceeded");
    assert_eq!(
        h["x-ms-throttle-scope"].to_str().unwrap(),
        format!(
            "Tenant_Application/ReadWrite/{}/{}",
            env.sim.client_id(),
            env.sim.tenant_id()
        )
    );
    let ra: f64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    // 3 writes per 150 s drain at 0.02/s; the throttled write was charged too, so 2 writes' worth.
    assert!((ra - 100.0).abs() < 0.01, "{ra}");
    env.sim.advance_clock(ra);
    assert_eq!(
        env.send("PATCH", u, Some(json!({"displayName": "y"})))
            .await
            .0,
        204
    );

    // Resource units: GET /users costs 2, 1 with $select.
    let (_, h, _) = env.get("/users?$select=id").await;
    assert_eq!(h["x-ms-resource-unit"], "1");
    let mut statuses = vec![];
    for _ in 0..6 {
        let (s, h, _) = env.get("/users").await;
        assert_eq!(h["x-ms-resource-unit"], "2");
        if s == 429 {
            assert_eq!(h["x-ms-throttle-information"], "ResourceUnitLimitExceeded");
        }
        statuses.push(s);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let log = env.sim.requests();
    assert!(log.iter().any(|r| r.throttled && r.status == 429));
}

#[tokio::test]
async fn retry_after_is_in_real_seconds_under_a_time_scale() {
    let config = SimConfig {
        time_scale: 1000.0,
        throttle: ThrottleQuotas {
            writes: 3.0,
            write_window_secs: 150.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let env = Env::start(
        config,
        TenantState {
            users: many_users(1),
            ..Default::default()
        },
    )
    .await;
    let u = "/users/00000000-0000-4000-8000-000000000000";
    let mut ra = None;
    for _ in 0..20 {
        let (s, h, _) = env
            .send("PATCH", u, Some(json!({"displayName": "z"})))
            .await;
        if s == 429 {
            ra = Some(h["retry-after"].to_str().unwrap().parse::<f64>().unwrap());
            break;
        }
    }
    let ra = ra.expect("throttled within 20 quick writes");
    assert!(
        ra > 0.0 && ra <= 0.15,
        "100 simulated seconds at 1000x is at most 0.1 real seconds: {ra}"
    );
}
