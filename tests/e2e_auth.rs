//! Sign-in against the simulated tenant's token endpoint, one real HTTP round trip per mode:
//! client secret, certificate (PEM and PFX; PS256 + `x5t#S256` and RS256 + `x5t`), device code
//! (approved and declined), an access token given directly, and a wrong secret.

mod e2e_support;

use e2e_support::*;
use hardmatch::graph::{AssertionAlg, Auth, ClientCertificate, GraphClient, GraphError, Secret};
use hardmatch::sim::{self, SimConfig};
use std::sync::Arc;

fn one_user() -> hardmatch::sim::TenantState {
    state(vec![user(&id_of(1), "adele@contoso.com", None)])
}

async fn reads_a_user(client: &GraphClient) {
    let u = client
        .get_user(&id_of(1))
        .await
        .expect("signed in and read");
    assert_eq!(u.user_principal_name.as_deref(), Some("adele@contoso.com"));
}

#[tokio::test]
async fn client_secret_signs_in_once_for_many_requests() {
    let sim = start(sim_config(), one_user()).await;
    let client = client(&sim);
    for _ in 0..3 {
        reads_a_user(&client).await;
    }
    assert_eq!(sim.stats().token_requests, 1, "the token is cached");
    assert_eq!(sim.stats().requests, 3);
}

#[tokio::test]
async fn certificate_pem_signs_in_with_ps256_and_rs256() {
    let cfg = SimConfig {
        client_certificate_der: Some(test_cert().cert_der.clone()),
        client_secret: None,
        ..sim_config()
    };
    let sim = start(cfg, one_user()).await;
    let cert = Arc::new(ClientCertificate::from_pem(test_cert().pem.as_bytes()).unwrap());
    for alg in [AssertionAlg::Ps256, AssertionAlg::Rs256] {
        let before = sim.stats().token_requests;
        let auth = Auth::Certificate {
            client_id: sim.client_id().into(),
            certificate: cert.clone(),
            alg,
        };
        let client = GraphClient::connect(config(&sim, auth)).unwrap();
        reads_a_user(&client).await;
        assert_eq!(sim.stats().token_requests, before + 1, "{alg:?}");
    }
}

#[tokio::test]
async fn certificate_pfx_with_password_signs_in() {
    let cfg = SimConfig {
        client_certificate_der: Some(test_cert().cert_der.clone()),
        client_secret: None,
        ..sim_config()
    };
    let sim = start(cfg, one_user()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pfx");
    std::fs::write(&path, test_pfx("pfx-pass")).unwrap();
    let cert = ClientCertificate::from_file(&path, Some(&Secret::new("pfx-pass"))).unwrap();
    let auth = Auth::Certificate {
        client_id: sim.client_id().into(),
        certificate: Arc::new(cert),
        alg: AssertionAlg::Ps256,
    };
    reads_a_user(&GraphClient::connect(config(&sim, auth)).unwrap()).await;
}

#[tokio::test]
async fn a_certificate_the_tenant_does_not_know_is_refused() {
    // The tenant has no certificate registered: the assertion cannot verify.
    let sim = start(sim_config(), one_user()).await;
    let cert = Arc::new(ClientCertificate::from_pem(test_cert().pem.as_bytes()).unwrap());
    let auth = Auth::Certificate {
        client_id: sim.client_id().into(),
        certificate: cert,
        alg: AssertionAlg::Ps256,
    };
    let err = GraphClient::connect(config(&sim, auth))
        .unwrap()
        .get_user(&id_of(1))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Token(_)), "{err:?}");
    assert_eq!(sim.stats().requests, 0, "no Graph call without a token");
}

/// A device-code client whose prompt hands the message to a concurrent "user" task that
/// approves (or declines) the pending code through the SimHandle.
async fn device_code_run(approve: bool) -> (Result<(), GraphError>, u64) {
    // The tenant asks for 1 second between polls. That is real time whatever the clock's scale
    // (a server's durations are never compressed), so this flow costs a real second.
    let cfg = SimConfig {
        device_code_interval_secs: 1,
        ..sim_config()
    };
    let sim = Arc::new(start(cfg, one_user()).await);
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Mutex::new(Some(tx));
    let mut c = config(
        &sim,
        Auth::DeviceCode {
            client_id: sim.client_id().into(),
        },
    );
    c.device_code_prompt = Arc::new(move |m: &str| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(m.to_string());
        }
    });
    let user = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let message = rx.await.expect("the client shows the device-code message");
            let codes = sim.pending_user_codes();
            assert_eq!(codes.len(), 1);
            assert!(message.contains(&codes[0]), "{message}");
            if approve {
                assert!(sim.approve_device_code(&codes[0]));
            } else {
                assert!(sim.decline_device_code(&codes[0]));
            }
        })
    };
    let client = GraphClient::connect(c).unwrap();
    let r = client.get_user(&id_of(1)).await.map(|_| ());
    user.await.unwrap();
    (r, sim.stats().token_requests)
}

#[tokio::test]
async fn device_code_approved_while_the_client_polls() {
    let (r, token_requests) = device_code_run(true).await;
    r.expect("signed in after approval");
    // devicecode + at least one token poll.
    assert!(token_requests >= 2, "{token_requests}");
}

#[tokio::test]
async fn device_code_declined_is_an_error() {
    let (r, _) = device_code_run(false).await;
    let err = r.unwrap_err();
    assert_eq!(err.code(), Some("authorization_declined"), "{err}");
    assert!(err.to_string().contains("declined"), "{err}");
}

#[tokio::test]
async fn an_access_token_given_directly_is_used_as_is() {
    let sim = start(sim_config(), one_user()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let v: serde_json::Value = reqwest::Client::new()
        .post(sim.token_url())
        .form(&[
            ("client_id", sim.client_id()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
            ("client_secret", sim::DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["access_token"].as_str().unwrap().to_string();
    let auth = Auth::AccessToken(Secret::new(token.clone()));
    let client = GraphClient::connect(config(&sim, auth)).unwrap();
    reads_a_user(&client).await;
    assert_eq!(sim.stats().token_requests, 1, "only the test's own request");

    // Revoked, it cannot be refreshed: the 401 surfaces (once re-tried at most).
    sim.revoke_tokens();
    let err = client.get_user(&id_of(1)).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!format!("{err} {err:?}").contains(&token));
}

#[tokio::test]
async fn a_wrong_secret_names_the_aadsts_code_and_never_the_secret() {
    let sim = start(sim_config(), one_user()).await;
    let wrong = "Wr0ng~s3cret-value-xyz";
    let auth = Auth::ClientSecret {
        client_id: sim.client_id().into(),
        secret: Secret::new(wrong),
    };
    let client = GraphClient::connect(config(&sim, auth)).unwrap();
    let err = client.get_user(&id_of(1)).await.unwrap_err();
    assert_eq!(err.code(), Some("invalid_client"), "{err}");
    let shown = format!("{err}\n{err:?}");
    assert!(shown.contains("AADSTS7000215"), "{shown}");
    assert!(!shown.contains(wrong), "the secret leaked: {shown}");
    assert_eq!(sim.stats().requests, 0);
}
