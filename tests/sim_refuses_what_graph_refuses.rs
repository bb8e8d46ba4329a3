//! The simulated tenant refuses what Graph refuses, so the client's mistakes show up in tests
//! (issue 9): a `$batch` that mixes a `dependsOn` chain with independent requests, UPNs outside
//! Entra's character set (on create and in the seed); and it answers `GET /users/$count` and
//! injects faults on the `$batch` envelope itself.

mod sim_support;

use hardmatch::sim::{self, Faults, SimConfig, TenantState, ThrottleQuotas};
use hardmatch::wire::{BatchItem, BatchRequest};
use serde_json::json;
use sim_support::*;
use std::collections::BTreeMap;

fn patch(id: &str, user: usize, deps: &[&str]) -> BatchItem {
    BatchItem {
        id: id.into(),
        method: "PATCH".into(),
        url: format!("/users/00000000-0000-4000-8000-{user:012}"),
        headers: BTreeMap::from([("Content-Type".to_string(), "application/json".to_string())]),
        body: Some(json!({"onPremisesImmutableId": format!("dmFs{user}")})),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
    }
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

async fn batch(
    env: &Env,
    items: Vec<BatchItem>,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    env.send(
        "POST",
        "/$batch",
        Some(serde_json::to_value(BatchRequest { requests: items }).unwrap()),
    )
    .await
}

#[tokio::test]
async fn a_batch_is_fully_parallel_or_one_chain() {
    let env = Env::start(
        unthrottled(),
        TenantState {
            users: many_users(10),
            ..Default::default()
        },
    )
    .await;
    let mixed = [
        // A chain plus an independent request.
        vec![
            patch("1", 1, &[]),
            patch("2", 2, &["1"]),
            patch("3", 3, &[]),
        ],
        // Two parallel chains.
        vec![
            patch("1", 1, &[]),
            patch("2", 2, &["1"]),
            patch("3", 3, &[]),
            patch("4", 4, &["3"]),
        ],
        // Two requests depending on the same one.
        vec![
            patch("1", 1, &[]),
            patch("2", 2, &["1"]),
            patch("3", 3, &["1"]),
        ],
        // One request depending on two.
        vec![
            patch("1", 1, &[]),
            patch("2", 2, &["1"]),
            patch("3", 3, &["1", "2"]),
        ],
    ];
    for items in mixed {
        let (s, _, v) = batch(&env, items).await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(
            error_message(&v),
            "Batch should be either fully sequential or fully parallel"
        );
    }
    assert!(
        env.sim
            .state()
            .users
            .iter()
            .all(|u| u.on_premises_immutable_id.is_none()),
        "a refused batch runs nothing"
    );
    let (s, _, v) = batch(
        &env,
        vec![
            patch("c", 3, &["b"]),
            patch("a", 1, &[]),
            patch("b", 2, &["a"]),
        ],
    )
    .await;
    assert_eq!(s, 200, "one chain, listed in any order: {v}");
    let (s, _, v) = batch(&env, vec![patch("x", 4, &[]), patch("y", 5, &[])]).await;
    assert_eq!(s, 200, "fully parallel: {v}");
}

#[tokio::test]
async fn faults_strike_the_batch_envelope_too() {
    let env = Env::start(
        unthrottled(),
        TenantState {
            users: many_users(3),
            ..Default::default()
        },
    )
    .await;
    for (faults, status) in [
        (
            Faults {
                p429: 1.0,
                ..Faults::default()
            },
            429,
        ),
        (
            Faults {
                p503: 1.0,
                ..Faults::default()
            },
            503,
        ),
        (
            Faults {
                p504: 1.0,
                ..Faults::default()
            },
            504,
        ),
    ] {
        env.sim.set_faults(faults);
        let (s, h, v) = batch(&env, vec![patch("1", 1, &[])]).await;
        assert_eq!(s, status, "{v}");
        if status == 429 {
            assert!(h.contains_key("retry-after"));
            assert_eq!(h["x-ms-throttle-information"], "CPULimitExceeded");
        }
    }
    assert!(env.sim.state().users[1].on_premises_immutable_id.is_none());
}

#[tokio::test]
async fn users_count_needs_consistency_level_eventual_and_is_plain_text() {
    let env = Env::start(
        unthrottled(),
        TenantState {
            users: many_users(7),
            ..Default::default()
        },
    )
    .await;
    let (s, _, v) = env.get("/users/$count").await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(error_message(&v), "$count is not currently supported.");
    let r = env
        .http
        .get(env.url("/users/$count"))
        .bearer_auth(&env.token)
        .header("ConsistencyLevel", "eventual")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "7");
}

fn new_user(upn: &str) -> serde_json::Value {
    json!({
        "accountEnabled": true,
        "displayName": "New",
        "mailNickname": "new",
        "userPrincipalName": upn,
        "passwordProfile": {"password": "Sim-Passw0rd!"},
    })
}

#[tokio::test]
async fn upns_outside_entras_character_set_are_refused_on_create() {
    let env = Env::start(unthrottled(), TenantState::default()).await;
    let long_local = format!("{}@contoso.com", "a".repeat(65));
    for upn in [
        "Ünicode@contoso.com",
        "zoë@contoso.com",
        "two@at@contoso.com",
        "dot.@contoso.com",
        "space here@contoso.com",
        "plus+tag@contoso.com",
        long_local.as_str(),
    ] {
        let (s, _, v) = env.send("POST", "/users", Some(new_user(upn))).await;
        assert_eq!(s, 400, "{upn}: {v}");
        assert_eq!(error_code(&v), "Request_BadRequest", "{upn}");
        assert_eq!(
            error_message(&v),
            "Property userPrincipalName is invalid.",
            "{upn}"
        );
    }
    for upn in [
        "o'neil@contoso.com",
        "a.b-c_d!e#f^g~h@contoso.com",
        "ann_contoso.com#EXT#@contoso.onmicrosoft.com",
    ] {
        let (s, _, v) = env.send("POST", "/users", Some(new_user(upn))).await;
        assert_eq!(s, 201, "{upn}: {v}");
    }
}

#[tokio::test]
async fn a_seed_with_a_upn_entra_refuses_is_refused_with_the_user_named() {
    let mut users = many_users(2);
    users.push(user(
        "00000000-0000-4000-8000-00000000000f",
        "Ünicode@contoso.com",
        None,
    ));
    let err = match sim::start(
        SimConfig::default(),
        TenantState {
            users,
            ..Default::default()
        },
    )
    .await
    {
        Ok(_) => panic!("the seed was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("Ünicode@contoso.com"), "{err}");
    assert!(
        err.contains("00000000-0000-4000-8000-00000000000f"),
        "{err}"
    );
}
