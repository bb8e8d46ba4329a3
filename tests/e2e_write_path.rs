//! The write path against the simulated tenant (issue 9): no write lost with pacing off (2),
//! restores and creates whose answer was lost are read back (3), a time-scaled client waits
//! the tenant's real Retry-After (4), partitioned listing cross-checks `/users/$count` (7), and
//! a certificate sign-in survives a token answer lost after the tenant handled it (8).

mod e2e_support;

use e2e_support::*;
use hardmatch::graph::{
    AssertionAlg, Auth, ClientCertificate, Clock, GraphClient, ImmutableIdUpdate, PacingConfig,
};
use hardmatch::sim::{Faults, ResetPoint, SimConfig, ThrottleQuotas};
use hardmatch::wire::User;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

fn value(i: usize) -> String {
    format!("V3JpdGU{i:06}")
}

fn writes(range: std::ops::Range<usize>) -> Vec<ImmutableIdUpdate> {
    range
        .map(|i| ImmutableIdUpdate {
            user: id_of(i),
            immutable_id: Some(value(i)),
        })
        .collect()
}

fn failures(results: &[Result<(), hardmatch::graph::GraphError>]) -> Vec<(usize, String)> {
    results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e.to_string())))
        .collect()
}

#[tokio::test]
async fn without_pacing_no_write_is_lost_to_the_tenants_write_quota() {
    // Point 2: 6,000 PATCHes against 3,000 writes per 150 s, client-side pacing off. Every
    // throttled attempt is charged by the tenant, so a client that sends all its waiters at
    // once when a hold ends loses writes to a final 429. Both clocks are virtual and move
    // together only when the client waits, so the quota is reached whatever the machine's speed.
    let cfg = SimConfig {
        manual_clock: true,
        request_log_capacity: 50_000,
        ..sim_config()
    };
    let sim = Arc::new(start(cfg, state(many_users(6_000))).await);
    let tenant = sim.clone();
    let mut c = config(&sim, secret_auth(&sim));
    c.clock = Clock::manual_with_hook(move |d| {
        tenant.advance_clock(d.as_secs_f64());
    });
    c.pacing = PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    };
    let client = GraphClient::connect(c).unwrap();
    let results = client.set_immutable_ids(&writes(0..6_000)).await;
    let failed = failures(&results);
    assert!(
        failed.is_empty(),
        "{} lost: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    let throttled = sim.requests().iter().filter(|r| r.throttled).count();
    assert!(throttled > 0, "the quota was reached");
    assert_eq!(client.stats().throttled.writes as usize, throttled);
    // After a hold, waiters leave one by one at the quota rate: a few dozen 429s. Released all
    // at once, they were throttled (and charged) again by the thousand.
    assert!(throttled < 300, "{throttled} throttled writes");
}

#[tokio::test]
async fn a_time_scaled_client_waits_the_tenants_retry_after_in_real_time() {
    // Point 4: `--time-scale 1000` on both sides. Pacing windows shrink by 1000; the tenant's
    // Retry-After is already real seconds and must not shrink again. Another writer has used
    // most of the quota, so the client meets 429s.
    let cfg = SimConfig {
        time_scale: 1000.0,
        ..sim_config()
    };
    let sim = start(cfg, state(many_users(5_000))).await;
    assert!(failures(&client(&sim).set_immutable_ids(&writes(3_000..5_000)).await).is_empty());
    let mut c = config(&sim, secret_auth(&sim));
    c.clock = Clock::scaled(0.001);
    let client = GraphClient::connect(c).unwrap();
    let results = client.set_immutable_ids(&writes(0..3_000)).await;
    let failed = failures(&results);
    assert!(
        failed.is_empty(),
        "{} failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    let st = sim.state();
    let set = st
        .users
        .iter()
        .filter(|u| u.on_premises_immutable_id.is_some())
        .count();
    assert_eq!(set, 5_000);
}

/// A tenant that resets 30 % of connections, half of them after carrying the request out;
/// backoffs compressed (client clock) and Retry-After short (tenant ×1000).
async fn lossy(users: Vec<User>, deleted: Vec<User>) -> (hardmatch::sim::SimHandle, GraphClient) {
    let mut st = state(users);
    st.deleted_users = deleted;
    let cfg = SimConfig {
        time_scale: 1000.0,
        faults: Faults {
            reset: 0.3,
            ..Faults::default()
        },
        fault_seed: 0x9_0003,
        throttle: ThrottleQuotas {
            enabled: false,
            ..ThrottleQuotas::default()
        },
        ..sim_config()
    };
    let sim = start(cfg, st).await;
    let mut c = config(&sim, secret_auth(&sim));
    c.clock = Clock::scaled(0.001);
    c.retry.max_attempts = 10;
    (sim, GraphClient::connect(c).unwrap())
}

#[tokio::test]
async fn restores_whose_answer_was_lost_are_not_reported_as_failed() {
    // Point 3: a restore retried after a lost answer finds nothing to restore (404); the user
    // is back, so the restore succeeded.
    let deleted: Vec<User> = (0..100)
        .map(|i| {
            let mut u = user(&id_of(i), &format!("back{i}@contoso.com"), None);
            u.deleted_date_time = Some("2026-01-01T00:00:00Z".into());
            u
        })
        .collect();
    let (sim, client) = lossy(vec![], deleted).await;
    let mut failed = Vec::new();
    for i in 0..100 {
        match client.restore_deleted_user(&id_of(i)).await {
            Ok(u) => assert_eq!(u.id, Some(id_of(i))),
            Err(e) => failed.push((i, e.to_string())),
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    let st = sim.state();
    assert_eq!(st.users.len(), 100);
    assert!(st.deleted_users.is_empty());
    let lost = sim.requests().iter().filter(|r| r.status == 0).count();
    assert!(lost > 10, "the connections were reset: {lost}");
}

#[tokio::test]
async fn creates_whose_answer_was_lost_are_not_reported_as_failed() {
    // Point 3: a create retried after a lost answer meets its own UPN (400 ObjectConflict).
    let (sim, client) = lossy(vec![], vec![]).await;
    let mut failed = Vec::new();
    for i in 0..60 {
        let mut u = User {
            user_principal_name: Some(format!("new{i}@contoso.com")),
            display_name: Some(format!("New {i}")),
            ..Default::default()
        };
        u.other.insert("accountEnabled".into(), json!(true));
        u.other
            .insert("mailNickname".into(), json!(format!("new{i}")));
        u.other.insert(
            "passwordProfile".into(),
            json!({"password": "Sim-Passw0rd!", "forceChangePasswordNextSignIn": true}),
        );
        match client.create_user(&u).await {
            Ok(created) => {
                assert_eq!(created.user_principal_name, u.user_principal_name);
                assert!(created.id.is_some());
            }
            Err(e) => failed.push((i, e.to_string())),
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(
        sim.state().users.len(),
        60,
        "each user created exactly once"
    );
}

#[tokio::test]
async fn partitioned_listing_falls_back_when_users_count_disagrees() {
    // Point 7: a UPN outside the partition prefixes (Entra refuses it today, but a tenant may
    // hold one from before, or Graph may compare differently) must not be missed silently.
    let sim = start(sim_config(), state(many_users(50))).await;
    sim.update_state(|s| s.users.push(user(&id_of(999), "Ünicode@contoso.com", None)));
    let client = client(&sim);
    let listed = client.list_users_partitioned(|_| {}).await.unwrap();
    let ids: BTreeSet<String> = listed.iter().filter_map(|u| u.id.clone()).collect();
    assert_eq!(ids.len(), 51);
    assert!(ids.contains(&id_of(999)), "the Ünicode user is listed");
    let log = sim.requests();
    let count = log
        .iter()
        .find(|r| r.path.starts_with("/v1.0/users/$count"))
        .expect("the client asked for /users/$count");
    assert_eq!(count.status, 200);
    assert!(
        log.iter()
            .any(|r| r.path.starts_with("/v1.0/users?") && !r.path.contains("startsWith")),
        "fell back to sequential paging"
    );
}

#[tokio::test]
async fn a_certificate_sign_in_survives_a_token_answer_lost_after_it_was_handled() {
    // Point 8: the tenant records the assertion's jti, then the connection drops. A retry with
    // the same assertion is a replay and refused; a new assertion signs in.
    let cfg = SimConfig {
        client_certificate_der: Some(test_cert().cert_der.clone()),
        client_secret: None,
        // Half the connections drop after the tenant handled the request; this seed drops the
        // first token answer.
        faults: Faults {
            reset: 0.5,
            reset_point: Some(ResetPoint::AfterHandling),
            on_token_endpoint: true,
            ..Faults::default()
        },
        fault_seed: 2,
        ..sim_config()
    };
    let sim = start(cfg, state(vec![user(&id_of(1), "adele@contoso.com", None)])).await;
    let cert = Arc::new(ClientCertificate::from_pem(test_cert().pem.as_bytes()).unwrap());
    let mut c = config(
        &sim,
        Auth::Certificate {
            client_id: sim.client_id().into(),
            certificate: cert,
            alg: AssertionAlg::Ps256,
        },
    );
    c.clock = Clock::scaled(0.001);
    c.retry.max_attempts = 8;
    let client = GraphClient::connect(c).unwrap();
    let u = client.get_user(&id_of(1)).await.expect("signed in");
    assert_eq!(u.user_principal_name.as_deref(), Some("adele@contoso.com"));
    let token_log: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.contains("/oauth2/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        token_log.first(),
        Some(&0),
        "the first answer was lost: {token_log:?}"
    );
    assert_eq!(token_log.last(), Some(&200), "{token_log:?}");
}

#[tokio::test]
async fn an_identity_platform_that_keeps_failing_fails_a_listing_after_one_round_of_sign_in_retries(
) {
    // Every token request loses its connection, as an unreachable platform does. Each listing
    // partition needs a token, and a network error is one a page is read again for: without a
    // hold, every partition (and every page round of each) would go through all the sign-in
    // attempts again, one after another, for many minutes.
    let cfg = SimConfig {
        faults: Faults {
            reset: 1.0,
            reset_point: Some(ResetPoint::BeforeHandling),
            on_token_endpoint: true,
            ..Faults::default()
        },
        ..sim_config()
    };
    let sim = start(cfg, state(many_users(50))).await;
    let mut c = config(&sim, secret_auth(&sim));
    c.clock = Clock::scaled(0.001);
    c.retry.max_attempts = 3;
    let client = GraphClient::connect(c).unwrap();
    let err = client
        .list_users_partitioned(|_| {})
        .await
        .expect_err("no token, no listing");
    assert!(err.to_string().contains("network error"), "{err}");
    assert_eq!(
        sim.stats().token_requests,
        3,
        "one round of sign-in attempts, then the same error for every waiting request"
    );
}
