//! Secrets and tokens never appear in logs (captured at TRACE), in errors ({}, {:?}, {:#}) or in
//! Debug output of the configuration, across every sign-in mode and error path.

mod graph_stub;

use graph_stub::*;
use hardmatch::graph::{AssertionAlg, Auth, AuthOptions, ClientCertificate, GraphClient, Secret};
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const ACCESS: &str = "AccessTokenValue-9d8c7b6a";
const REFRESH: &str = "RefreshTokenValue-5e4f3a2b";
const GIVEN: &str = "GivenTokenValue-1a2b3c";
const PFX_PASSWORD: &str = "PfxPassword-4455";

// A single-threaded runtime so the thread-local subscriber sees every task.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_or_token_reaches_logs_errors_or_debug_output() {
    let buf = Buf::default();
    let b2 = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || b2.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let graph_calls = Arc::new(AtomicUsize::new(0));
    let stub = serve(move |r| {
        if r.path().ends_with("/devicecode") {
            return Some(Reply::json(200, json!({"device_code": "DeviceCodeValue", "user_code": "U", "verification_uri": "https://x",
                "expires_in": 900, "interval": 1, "message": "sign in"})));
        }
        if r.is_token() {
            let f = r.form();
            if f.get("client_secret").map(String::as_str) == Some("wrong") {
                return Some(Reply::json(401, json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})));
            }
            return Some(Reply::json(200, json!({"token_type": "Bearer", "expires_in": 3599, "access_token": ACCESS, "refresh_token": REFRESH})));
        }
        // Every other Graph call: first a 401 (forces a refresh), then alternately an error and a page.
        Some(match graph_calls.fetch_add(1, Ordering::SeqCst) % 3 {
            0 => Reply::error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
            1 => Reply::error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
            _ => Reply::json(200, json!({"id": "u1"})).with_header("request-id", "visible-request-id"),
        })
    })
    .await;

    let mut rendered: Vec<String> = Vec::new();
    let mut run = |auth: Auth| {
        let (mut cfg, _) = stub.config(auth);
        cfg.device_code_prompt = Arc::new(|_| {});
        rendered.push(format!("{cfg:?}"));
        GraphClient::connect(cfg).unwrap()
    };

    let tc = test_cert();
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "k",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            b"k".as_slice(),
            p12_keystore::PrivateKey::from_der(&tc.key_pkcs8_der).unwrap(),
            [p12_keystore::Certificate::from_der(&tc.cert_der).unwrap()],
        )),
    );
    let cert = Arc::new(
        ClientCertificate::from_pfx(
            &store.writer(PFX_PASSWORD).write().unwrap(),
            &Secret::new(PFX_PASSWORD),
        )
        .unwrap(),
    );

    let clients = vec![
        run(secret_auth()),
        run(Auth::Certificate {
            client_id: CLIENT_ID.into(),
            certificate: cert.clone(),
            alg: AssertionAlg::Ps256,
        }),
        run(Auth::Certificate {
            client_id: CLIENT_ID.into(),
            certificate: cert,
            alg: AssertionAlg::Rs256,
        }),
        run(Auth::DeviceCode {
            client_id: CLIENT_ID.into(),
        }),
        run(Auth::AccessToken(Secret::new(GIVEN))),
        run(Auth::ClientSecret {
            client_id: CLIENT_ID.into(),
            secret: Secret::new("wrong"),
        }),
    ];
    let mut errors = Vec::new();
    for c in &clients {
        for _ in 0..3 {
            if let Err(e) = c.get_user("u1").await {
                errors.push(e);
            }
        }
    }
    assert!(errors
        .iter()
        .any(|e| e.code() == Some("Authorization_RequestDenied")));
    assert!(errors.iter().any(|e| e.code() == Some("invalid_client")));
    for e in &errors {
        rendered.push(format!("{e}"));
        rendered.push(format!("{e:?}"));
        rendered.push(format!("{e:#}"));
        rendered.push(format!("{:#}", anyhow::Error::new(e.clone())));
    }
    let opts = AuthOptions {
        client_secret: Some(Secret::new(SECRET)),
        certificate_password: Some(Secret::new(PFX_PASSWORD)),
        ..AuthOptions::default()
    };
    rendered.push(format!("{opts:?}"));
    drop(_guard);

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("graph response") && logs.contains("visible-request-id"),
        "logs were captured"
    );
    rendered.push(logs);
    let all = rendered.join("\n");
    let key_b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&tc.key_pkcs8_der)
    };
    for secret in [
        SECRET,
        ACCESS,
        REFRESH,
        GIVEN,
        PFX_PASSWORD,
        "DeviceCodeValue",
        &key_b64[40..80],
        "PRIVATE KEY",
        "eyJ",
    ] {
        assert!(!all.contains(secret), "{secret:?} leaked");
    }
    assert!(all.contains("***"), "secrets are shown redacted");
}
