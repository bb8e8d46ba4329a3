//! Fault injection, the request log and atomic persistence of the simulated tenant.

mod sim_support;

use hardmatch::sim::{self, Fault, Faults, SimConfig, TenantState, ThrottleQuotas};
use serde_json::json;
use sim_support::*;

fn faulty(p429: f64, p503: f64, reset: f64) -> SimConfig {
    SimConfig {
        faults: Faults {
            p429,
            p503,
            reset,
            ..Faults::default()
        },
        fault_seed: 42,
        throttle: ThrottleQuotas {
            enabled: false,
            ..Default::default()
        },
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn faults_are_injected_at_roughly_the_configured_rates() {
    let env = Env::start(
        faulty(0.10, 0.05, 0.02),
        TenantState {
            users: many_users(1),
            ..Default::default()
        },
    )
    .await;
    let url = env.url("/users/00000000-0000-4000-8000-000000000000");
    let (mut ok, mut s429, mut s503, mut errors) = (0, 0, 0, 0);
    for i in 0..500 {
        let r = env
            .http
            .get(&url)
            .bearer_auth(&env.token)
            .header(
                "client-request-id",
                format!("00000000-0000-0000-0000-{i:012}"),
            )
            .send()
            .await;
        match r {
            Err(_) => errors += 1,
            Ok(r) => match r.status().as_u16() {
                200 => ok += 1,
                429 => {
                    assert!(r.headers().contains_key("retry-after"));
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(error_code(&v), "TooManyRequests");
                    s429 += 1
                }
                503 => {
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(error_code(&v), "serviceNotAvailable");
                    assert!(v["error"]["innerError"]["request-id"].is_string());
                    s503 += 1
                }
                other => panic!("unexpected status {other}"),
            },
        }
    }
    let stats = env.sim.stats();
    // The pool may transparently resend a request whose connection was reset, so count on the sim side.
    assert!(stats.requests >= 500);
    assert!((25..=80).contains(&stats.faults_429), "{stats:?}");
    assert!((10..=45).contains(&stats.faults_503), "{stats:?}");
    assert!((3..=25).contains(&stats.resets), "{stats:?}");
    assert_eq!(ok + s429 + s503 + errors, 500);
    assert!(ok >= 350, "{ok}");
    // Every answered request is logged with the client-request-id it carried.
    let log = env.sim.requests();
    assert!(log.iter().filter(|r| r.fault == Some(Fault::Reset)).count() as u64 == stats.resets);
    let answered = log
        .iter()
        .find(|r| r.status == 200 && r.path.starts_with("/v1.0/"))
        .unwrap();
    assert!(answered
        .client_request_id
        .as_deref()
        .unwrap()
        .starts_with("00000000-0000-0000-0000-"));
    assert_eq!(answered.method, "GET");
    assert!(answered.path.starts_with("/v1.0/users/"));
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let mut runs = vec![];
    for _ in 0..2 {
        let env = Env::start(faulty(0.2, 0.1, 0.0), TenantState::default()).await;
        let mut statuses = vec![];
        for _ in 0..50 {
            statuses.push(env.get("/users?$top=1").await.0);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|s| *s != 200));
}

#[tokio::test]
async fn a_reset_drops_the_connection_without_an_answer() {
    let env = Env::start(SimConfig::default(), TenantState::default()).await;
    env.sim.set_faults(Faults {
        reset: 1.0,
        ..Faults::default()
    });
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = fresh
        .get(env.url("/users"))
        .bearer_auth(&env.token)
        .send()
        .await;
    assert!(r.is_err(), "expected a transport error, got {r:?}");
    // Some resets happen after the write was carried out: the client cannot tell, so it must retry idempotently.
    env.sim.update_state(|s| s.users = many_users(20));
    let mut transport_errors = 0;
    for i in 0..20 {
        let r = fresh
            .patch(env.url(&format!("/users/00000000-0000-4000-8000-{i:012}")))
            .bearer_auth(&env.token)
            .json(&json!({"displayName": "changed"}))
            .send()
            .await;
        transport_errors += usize::from(r.is_err());
    }
    assert_eq!(transport_errors, 20);
    let applied = env
        .sim
        .state()
        .users
        .iter()
        .filter(|u| u.display_name.as_deref() == Some("changed"))
        .count();
    assert!(
        (3..=17).contains(&applied),
        "some but not all resets came after the write: {applied}"
    );
    // Runtime changes take effect immediately, and the token endpoint is not faulted by default.
    env.sim.set_faults(Faults {
        latency_ms: 30,
        ..Faults::default()
    });
    let _ = secret_token(&env.http, &env.sim).await;
    let t = std::time::Instant::now();
    assert_eq!(env.get("/users").await.0, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(30));
}

#[tokio::test]
async fn state_is_persisted_atomically_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    let config = SimConfig {
        state_file: Some(path.clone()),
        ..SimConfig::default()
    };
    let mut state = TenantState {
        users: many_users(2),
        ..Default::default()
    };
    state.deleted_users.push(user(
        "dddddddd-0000-4000-8000-000000000001",
        "old@contoso.com",
        Some("b2xk"),
    ));
    state.users[1].id = None; // seeded without an id: gets a GUID
    let env = Env::start(config.clone(), state).await;
    assert!(path.exists(), "written at start");
    let (s, _, _) = env
        .send(
            "PATCH",
            "/users/00000000-0000-4000-8000-000000000000",
            Some(json!({"onPremisesImmutableId": "cGVyc2lzdGVk"})),
        )
        .await;
    assert_eq!(s, 204);
    env.sim.shutdown().await.unwrap();

    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary files left: {names:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("sim."), "no access tokens in the state file");
    let loaded = sim::load_state(&path).unwrap().expect("state file");
    assert_eq!(loaded.users.len(), 2);
    assert!(loaded.users.iter().all(|u| u
        .id
        .as_deref()
        .is_some_and(|i| uuid::Uuid::parse_str(i).is_ok())));
    assert_eq!(
        loaded.deleted_users[0].user_principal_name.as_deref(),
        Some("dddddddd000040008000000000000001old@contoso.com")
    );

    let env = Env::start(config, loaded).await;
    let (_, _, v) = env
        .get("/users/00000000-0000-4000-8000-000000000000?$select=onPremisesImmutableId")
        .await;
    assert_eq!(v["onPremisesImmutableId"], "cGVyc2lzdGVk");
    let (s, _, v) = env
        .send(
            "PATCH",
            "/users/user1@contoso.com",
            Some(json!({"onPremisesImmutableId": "b2xk"})),
        )
        .await;
    assert_eq!(
        s, 400,
        "the reloaded deleted user still holds its ImmutableId: {v}"
    );
}

#[test]
fn a_missing_state_file_is_not_an_error_but_a_corrupt_one_is() {
    let dir = tempfile::tempdir().unwrap();
    assert!(sim::load_state(&dir.path().join("none.json"))
        .unwrap()
        .is_none());
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let e = sim::load_state(&bad).unwrap_err();
    assert!(e.to_string().contains("bad.json"));
}
