//! Writes through the client against the simulated tenant: batches whose items are throttled
//! inside a 200, a 401 answered by one new sign-in, uniqueness conflicts with active and
//! soft-deleted holders, synced users, clearing with `null`, and finding holders by ImmutableId.

mod e2e_support;

use e2e_support::*;
use hardmatch::graph::{GraphClient, ImmutableIdUpdate, PacingConfig};
use hardmatch::sim::{SimConfig, ThrottleQuotas};
use hardmatch::wire::User;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn immutable_for(i: usize) -> String {
    use base64::Engine as _;
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    b[8..].copy_from_slice(&(i as u64).to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn immutables(sim: &hardmatch::sim::SimHandle) -> BTreeMap<String, Option<String>> {
    sim.state()
        .users
        .into_iter()
        .map(|u| (u.id.unwrap(), u.on_premises_immutable_id))
        .collect()
}

#[tokio::test]
async fn batched_writes_throttled_inside_the_batch_all_succeed_and_only_429s_are_resent() {
    // 100 writes per 150 simulated seconds at 1000× (a window is 0.15 real seconds). Another
    // writer has already used 60 of them, so the client, paced to the same quota but unaware
    // of that, bounces off the tenant's limit: items inside 200 batches come back 429.
    let cfg = SimConfig {
        time_scale: 1000.0,
        throttle: ThrottleQuotas {
            writes: 100.0,
            ..ThrottleQuotas::default()
        },
        ..sim_config()
    };
    let sim = start(cfg, state(many_users(360))).await;
    let other: Vec<ImmutableIdUpdate> = (300..360)
        .map(|i| ImmutableIdUpdate {
            user: id_of(i),
            immutable_id: Some(immutable_for(i)),
        })
        .collect();
    assert!(client(&sim)
        .set_immutable_ids(&other)
        .await
        .iter()
        .all(Result::is_ok));
    sim.clear_requests();

    let mut cfg = config(&sim, secret_auth(&sim));
    cfg.pacing = PacingConfig {
        writes_per_window: 100,
        write_window: Duration::from_millis(150),
        ..PacingConfig::default()
    };
    let client = GraphClient::connect(cfg).unwrap();
    let updates: Vec<ImmutableIdUpdate> = (0..300)
        .map(|i| ImmutableIdUpdate {
            user: id_of(i),
            immutable_id: Some(immutable_for(i)),
        })
        .collect();
    let results = client.set_immutable_ids(&updates).await;
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e.to_string())))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let state = immutables(&sim);
    for i in 0..300 {
        assert_eq!(state[&id_of(i)], Some(immutable_for(i)), "user {i}");
    }

    let items: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.batch_item.is_some() && r.method == "PATCH")
        .collect();
    let throttled = items.iter().filter(|r| r.status == 429).count();
    assert!(throttled > 0, "the quota was never hit");
    assert!(items.iter().all(|r| r.status == 429 || r.status == 204));
    assert!(items
        .iter()
        .filter(|r| r.status == 429)
        .all(|r| r.throttled));
    // Each user's PATCH succeeded exactly once and was never sent again after succeeding.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for r in &items {
        assert!(
            !done.contains(r.path.as_str()),
            "{} re-sent after it succeeded",
            r.path
        );
        if r.status == 204 {
            done.insert(&r.path);
        }
    }
    assert_eq!(done.len(), 300);
    assert_eq!(
        items.len(),
        300 + throttled,
        "only throttled items were re-sent"
    );
    // Once told, the client stops bursting: few throttled items compared with the 300.
    assert!(throttled < 150, "{throttled} throttled items");
}

#[tokio::test]
async fn a_revoked_token_gets_one_new_sign_in_and_the_write_succeeds() {
    let sim = start(sim_config(), state(many_users(3))).await;
    let client = client(&sim);
    client.get_user(&id_of(0)).await.unwrap();
    assert_eq!(sim.stats().token_requests, 1);
    sim.revoke_tokens();
    client
        .set_immutable_id(&id_of(1), Some(&immutable_for(1)))
        .await
        .unwrap();
    client.get_user(&id_of(2)).await.unwrap();
    assert_eq!(sim.stats().token_requests, 2, "exactly one new token");
    let unauthorized = sim.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorized, 1);
    assert_eq!(immutables(&sim)[&id_of(1)], Some(immutable_for(1)));
}

#[tokio::test]
async fn an_expired_token_gets_one_new_sign_in_mid_batch_run() {
    let sim = start(sim_config(), state(many_users(100))).await;
    // Tokens live 60 simulated seconds; the client believes it (expires_in), but the tenant's
    // clock then jumps past it, as when a laptop sleeps mid-run.
    sim.set_token_lifetime(60);
    let mut cfg = config(&sim, secret_auth(&sim));
    cfg.concurrency = 1; // one batch in flight, so exactly one request meets the 401
    let client = GraphClient::connect(cfg).unwrap();
    let updates = |r: std::ops::Range<usize>| -> Vec<ImmutableIdUpdate> {
        r.map(|i| ImmutableIdUpdate {
            user: id_of(i),
            immutable_id: Some(immutable_for(i)),
        })
        .collect()
    };
    assert!(client
        .set_immutable_ids(&updates(0..50))
        .await
        .iter()
        .all(Result::is_ok));
    assert_eq!(sim.stats().token_requests, 1);
    sim.advance_clock(120.0);
    assert!(client
        .set_immutable_ids(&updates(50..100))
        .await
        .iter()
        .all(Result::is_ok));
    assert_eq!(sim.stats().token_requests, 2, "exactly one new token");
    assert_eq!(sim.requests().iter().filter(|r| r.status == 401).count(), 1);
    let state = immutables(&sim);
    assert!((0..100).all(|i| state[&id_of(i)] == Some(immutable_for(i))));
}

#[tokio::test]
async fn conflicts_name_the_active_or_deleted_holder_and_purging_frees_the_value() {
    let active_holder = user(&id_of(10), "holder@contoso.com", Some("QUNUSVZF"));
    let mut deleted_holder = user(&id_of(11), "gone@contoso.com", Some("REVMRVRFRA=="));
    deleted_holder.deleted_date_time = Some("2026-01-01T00:00:00Z".into());
    let target = user(&id_of(12), "target@contoso.com", None);
    let mut st = state(vec![active_holder, target]);
    st.deleted_users = vec![deleted_holder];
    let sim = start(sim_config(), st).await;
    let client = client(&sim);

    for (value, holder) in [("QUNUSVZF", id_of(10)), ("REVMRVRFRA==", id_of(11))] {
        let err = client
            .set_immutable_id(&id_of(12), Some(value))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("Request_BadRequest"), "{err}");
        assert_eq!(err.status(), Some(400));
        let api = err.api().unwrap();
        assert!(api.is_conflict(), "{err}");
        assert!(
            api.details.iter().any(|d| d.code == "ObjectConflict"),
            "{:?}",
            api.details
        );
        assert_eq!(err.conflicting_object_id(), Some(holder.as_str()));
        assert!(api.request_id.is_some(), "the request-id is kept");
        // Never retried: one PATCH per attempt.
        let patches = sim
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.status == 400)
            .count();
        assert!(patches <= 2);
    }
    // The same through $batch.
    let batched = client
        .set_immutable_ids(&[ImmutableIdUpdate {
            user: id_of(12),
            immutable_id: Some("REVMRVRFRA==".into()),
        }])
        .await;
    let err = batched[0].as_ref().unwrap_err();
    assert_eq!(err.code(), Some("Request_BadRequest"));
    assert_eq!(err.conflicting_object_id(), Some(id_of(11).as_str()));

    client.purge_deleted_user(&id_of(11)).await.unwrap();
    assert!(sim.state().deleted_users.is_empty());
    client
        .set_immutable_id(&id_of(12), Some("REVMRVRFRA=="))
        .await
        .unwrap();
    assert_eq!(
        immutables(&sim)[&id_of(12)].as_deref(),
        Some("REVMRVRFRA==")
    );
}

#[tokio::test]
async fn synced_users_are_refused_with_graphs_message() {
    let mut synced = user(&id_of(1), "synced@contoso.com", Some("U1lOQ0VE"));
    synced.on_premises_sync_enabled = Some(true);
    let sim = start(sim_config(), state(vec![synced])).await;
    let client = client(&sim);
    for value in [Some("TkVX"), None] {
        let err = client.set_immutable_id(&id_of(1), value).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{err}");
        assert_eq!(
            err.api().unwrap().message,
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
        );
    }
    assert_eq!(immutables(&sim)[&id_of(1)].as_deref(), Some("U1lOQ0VE"));
}

#[tokio::test]
async fn clearing_sends_null_and_the_value_becomes_absent() {
    let users = vec![
        user(&id_of(1), "one@contoso.com", Some("T05F")),
        user(&id_of(2), "two@contoso.com", Some("VFdP")),
        user(&id_of(3), "three@contoso.com", Some("VEhSRUU=")),
    ];
    let sim = start(sim_config(), state(users)).await;
    let client = client(&sim);
    client.set_immutable_id(&id_of(1), None).await.unwrap();
    let r = client
        .set_immutable_ids(&[ImmutableIdUpdate {
            user: id_of(2),
            immutable_id: None,
        }])
        .await;
    assert!(r[0].is_ok(), "{r:?}");
    // The tenant refuses `""` ("Invalid value specified…"), so a success means the body
    // carried a literal null; and the stored property is gone, not empty.
    let empty = client
        .set_immutable_id(&id_of(3), Some(""))
        .await
        .unwrap_err();
    assert_eq!(empty.status(), Some(400));
    let state = sim.state();
    for u in &state.users[..2] {
        assert_eq!(u.on_premises_immutable_id, None, "{u:?}");
    }
    let json = serde_json::to_value(&state.users[0]).unwrap();
    assert!(
        json.get("onPremisesImmutableId")
            .is_none_or(|v| v.is_null()),
        "{json}"
    );
    let read = client.get_user(&id_of(1)).await.unwrap();
    assert_eq!(read.on_premises_immutable_id, None);
    assert_eq!(
        immutables(&sim)[&id_of(3)].as_deref(),
        Some("VEhSRUU="),
        "the refused empty value changed nothing"
    );
}

#[tokio::test]
async fn holders_are_found_by_immutable_ids_with_plus_slash_and_equals() {
    // 40 values (three `in (…)` chunks), each with `+`, `/` or `=`, split across active and
    // soft-deleted users; plus values nobody holds.
    let value = |i: usize| format!("a+b/{i}c==");
    let mut users: Vec<User> = (0..30)
        .map(|i| user(&id_of(i), &format!("u{i}@contoso.com"), Some(&value(i))))
        .collect();
    users.push(user(&id_of(99), "near@contoso.com", Some("a b/1c==")));
    let deleted: Vec<User> = (30..40)
        .map(|i| {
            let mut u = user(&id_of(i), &format!("d{i}@contoso.com"), Some(&value(i)));
            u.deleted_date_time = Some("2026-01-01T00:00:00Z".into());
            u
        })
        .collect();
    let mut st = state(users);
    st.deleted_users = deleted;
    let sim = start(sim_config(), st).await;
    let client = client(&sim);
    let mut wanted: Vec<String> = (0..40).map(value).collect();
    wanted.push("bm9ib2R5Kys=".into());
    wanted.push(value(3)); // duplicates are looked up once

    let active = client.find_users_by_immutable_ids(&wanted).await.unwrap();
    let got: BTreeSet<(String, String)> = active
        .iter()
        .map(|u| {
            (
                u.id.clone().unwrap(),
                u.on_premises_immutable_id.clone().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = (0..30).map(|i| (id_of(i), value(i))).collect();
    assert_eq!(got, want, "exact matches only (`+` is not a space)");

    let deleted = client
        .find_deleted_users_by_immutable_ids(&wanted)
        .await
        .unwrap();
    let got: BTreeSet<String> = deleted.iter().map(|u| u.id.clone().unwrap()).collect();
    assert_eq!(got, (30..40).map(id_of).collect());
    assert!(deleted.iter().all(|u| u.deleted_date_time.is_some()));
}
