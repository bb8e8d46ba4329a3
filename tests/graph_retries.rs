//! The request pipeline: Retry-After (fractional) on 429, backoff on 503/504 and resets,
//! bounded attempts, no retry on 400/403/404/409, typed errors from Graph's error JSON,
//! one client-request-id per logical request, and pacing.

mod graph_stub;

use graph_stub::*;
use hardmatch::graph::{GraphClient, GraphError, PacingConfig};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn me() -> Reply {
    Reply::json(200, json!({"id": "u1"}))
}

/// Graph requests get `first` for the first `n` calls, then 200.
async fn flaky(n: usize, first: Reply) -> Stub {
    let calls = Arc::new(AtomicUsize::new(0));
    serve(move |r| {
        (!r.is_token()).then(|| {
            if calls.fetch_add(1, Ordering::SeqCst) < n {
                first.clone()
            } else {
                me()
            }
        })
    })
    .await
}

#[tokio::test]
async fn a_429_waits_the_fractional_retry_after() {
    let throttled = Reply::json(
        429,
        json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.",
        "innerError": {"code": "429", "message": "Please retry after"}}}),
    )
    .with_header("Retry-After", "2.128");
    let stub = flaky(2, throttled).await;
    let (client, clock) = stub.client();
    client.get_user("u1").await.unwrap();
    let reqs = stub.graph_requests();
    assert_eq!(reqs.len(), 3);
    // Twice the Retry-After, plus the pacer refilling one read unit after each 429 (~1.3 ms).
    let slept = clock.total_slept();
    assert!(
        slept >= Duration::from_millis(4256) && slept < Duration::from_millis(4270),
        "{slept:?}"
    );
    // One client-request-id per logical request, kept across its retries.
    let ids: Vec<&str> = reqs
        .iter()
        .map(|r| r.header("client-request-id").unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]));
    client.get_user("u1").await.unwrap();
    assert_ne!(
        stub.graph_requests()[3].header("client-request-id"),
        Some(ids[0])
    );
}

#[tokio::test]
async fn a_503_backs_off_exponentially_with_jitter_and_attempts_are_bounded() {
    let stub = flaky(3, Reply::error(503, "serviceNotAvailable", "try later")).await;
    let (client, clock) = stub.client();
    client.get_user("u1").await.unwrap();
    // 1, 2, 4 s, each times [0.5, 1).
    let slept = clock.total_slept().as_secs_f64();
    assert!((3.5..7.0).contains(&slept), "{slept}");

    let stub = flaky(100, Reply::error(504, "gatewayTimeout", "slow")).await;
    let (client, _) = stub.client();
    let err = client.get_user("u1").await.unwrap_err();
    assert_eq!(err.status(), Some(504));
    assert_eq!(stub.graph_requests().len(), 4, "max_attempts = 4");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400u16, 403, 404, 409] {
        let stub = flaky(100, Reply::error(status, "Request_BadRequest", "nope")).await;
        let (client, clock) = stub.client();
        let err = client.get_user("u1").await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(stub.graph_requests().len(), 1, "status {status}");
        assert_eq!(clock.total_slept(), Duration::ZERO);
    }
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_with_the_request_id() {
    // Nothing listens on this port once the listener is dropped.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let stub = serve(|_| None).await;
    let (mut cfg, clock) = stub.config(secret_auth());
    cfg.graph_url = Some(format!("http://127.0.0.1:{port}"));
    let err = GraphClient::connect(cfg)
        .unwrap()
        .get_user("u1")
        .await
        .unwrap_err();
    match &err {
        GraphError::Transport {
            host,
            client_request_id,
            ..
        } => {
            assert_eq!(host, "127.0.0.1");
            assert!(uuid::Uuid::parse_str(client_request_id).is_ok());
        }
        other => panic!("{other:?}"),
    }
    assert!(clock.total_slept() > Duration::ZERO, "retried with backoff");
}

#[tokio::test]
async fn conflict_errors_name_the_holder_and_the_request_ids() {
    let body = json!({"error": {"code": "Request_BadRequest",
        "message": "Another object with the same value for property onPremisesImmutableId already exists.",
        "innerError": {"date": "2026-11-26T10:00:00", "request-id": "rid-42", "client-request-id": "crid-42"},
        "details": [
            {"code": "ObjectConflict", "message": "Another object with the same value for property onPremisesImmutableId already exists.", "target": "onPremisesImmutableId"},
            {"code": "ConflictingObjects", "message": "Another object with the same value for property onPremisesImmutableId already exists.", "target": "User_0f1e2d3c-aaaa-bbbb-cccc-111122223333"}]}});
    let stub = serve(move |r| (!r.is_token()).then(|| Reply::json(400, body.clone()))).await;
    let (client, _) = stub.client();
    let err = client
        .set_immutable_id("u1", Some("AAAA"))
        .await
        .unwrap_err();
    assert_eq!(
        err.conflicting_object_id(),
        Some("0f1e2d3c-aaaa-bbbb-cccc-111122223333")
    );
    let api = err.api().unwrap();
    assert!(api.is_conflict());
    assert_eq!(api.request_id.as_deref(), Some("rid-42"));
    assert_eq!(api.date.as_deref(), Some("2026-11-26T10:00:00"));
    let text = err.to_string();
    for part in [
        "Request_BadRequest",
        "already exists",
        "rid-42",
        "HTTP 400",
        "User_0f1e2d3c",
    ] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
}

#[tokio::test]
async fn non_json_error_bodies_still_give_a_usable_error() {
    let stub = serve(|r| {
        (!r.is_token()).then(|| Reply {
            status: 502,
            headers: vec![("request-id".into(), "hdr-rid".into())],
            body: "<html>Bad gateway</html>".into(),
        })
    })
    .await;
    let (client, _) = stub.client();
    let err = client.get_user("u1").await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.code, "HTTP 502");
    assert!(api.message.contains("Bad gateway"));
    assert_eq!(api.request_id.as_deref(), Some("hdr-rid"));
    assert!(api.client_request_id.is_some());
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let stub = serve(|r| {
        (!r.is_token()).then(|| {
            Reply::json(
                200,
                page(
                    &[json!({"id": "1"})],
                    Some("https://evil.example/v1.0/users?$skiptoken=x".into()),
                ),
            )
        })
    })
    .await;
    let (client, _) = stub.client();
    let err = client.list_users(|_| {}).await.unwrap_err();
    assert!(
        err.to_string().contains("refusing to send the token"),
        "{err}"
    );
}

#[tokio::test]
async fn writes_are_paced_to_the_configured_quota() {
    let stub = serve(|r| (!r.is_token()).then(|| Reply::empty(204))).await;
    let (mut cfg, clock) = stub.config(secret_auth());
    cfg.pacing = PacingConfig {
        writes_per_window: 10,
        write_window: Duration::from_secs(15),
        headroom: 1.0,
        ..PacingConfig::default()
    };
    let client = GraphClient::connect(cfg).unwrap();
    for i in 0..25 {
        client
            .set_immutable_id(&format!("u{i}"), Some("AAAA"))
            .await
            .unwrap();
    }
    // 10 at once, then 15 more at 10 per 15 s.
    let t = clock.now().as_secs_f64();
    assert!((22.4..23.0).contains(&t), "{t}");
}

#[tokio::test]
async fn throttle_pressure_headers_slow_the_client_down() {
    let stub = serve(|r| {
        (!r.is_token()).then(|| me().with_header("x-ms-throttle-limit-percentage", "1.2"))
    })
    .await;
    let (client, _) = stub.client();
    client.get_user("u1").await.unwrap();
    assert!(client.pacing_factor() < 0.5, "{}", client.pacing_factor());
}
