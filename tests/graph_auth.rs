//! Sign-in: each auth mode's request shape, token refresh from `expires_in`, 401 → one
//! re-sign-in, env/flag precedence, national clouds and the loopback-only http rule.

mod graph_stub;

use base64::Engine;
use graph_stub::*;
use hardmatch::graph::{
    AssertionAlg, Auth, AuthOptions, ClientCertificate, CloudEnv, Endpoints, GraphClient,
    GraphConfig, GraphError, Secret,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn me() -> Reply {
    Reply::json(
        200,
        json!({"id": "u1", "userPrincipalName": "a@contoso.com"}),
    )
}

#[tokio::test]
async fn client_secret_sends_the_documented_form() {
    let stub = serve(|r| (!r.is_token()).then(me)).await;
    let (client, _) = stub.client();
    client.get_user("u1").await.unwrap();
    let t = &stub.token_requests()[0];
    assert_eq!(t.path(), format!("/{TENANT}/oauth2/v2.0/token"));
    let f = t.form();
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], CLIENT_ID);
    assert_eq!(f["client_secret"], SECRET);
    assert_eq!(f["scope"], format!("{}/.default", stub.url));
    let g = &stub.graph_requests()[0];
    assert_eq!(g.header("authorization"), Some("Bearer tok-1"));
    assert!(uuid::Uuid::parse_str(g.header("client-request-id").unwrap()).is_ok());
}

fn verify_assertion(assertion: &str, alg: AssertionAlg, token_url: &str) {
    let cert = test_cert();
    let header = jsonwebtoken::decode_header(assertion).unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    use sha1::Digest as _;
    match alg {
        AssertionAlg::Ps256 => {
            assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
            assert_eq!(
                header.x5t_s256.as_deref(),
                Some(b64(&sha2::Sha256::digest(&cert.cert_der)).as_str())
            );
            assert!(header.x5t.is_none());
        }
        AssertionAlg::Rs256 => {
            assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
            assert_eq!(
                header.x5t.as_deref(),
                Some(b64(&sha1::Sha1::digest(&cert.cert_der)).as_str())
            );
        }
    }
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&cert.n, &cert.e);
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[token_url]);
    v.set_issuer(&[CLIENT_ID]);
    v.validate_nbf = true;
    let data = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v)
        .expect("signature and claims verify");
    let c = data.claims;
    assert_eq!(c["sub"], CLIENT_ID);
    assert!(uuid::Uuid::parse_str(c["jti"].as_str().unwrap()).is_ok());
    let (nbf, exp) = (c["nbf"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
    assert!(
        exp > nbf && exp - nbf <= 600,
        "exp must be at most 10 min after nbf"
    );
}

#[tokio::test]
async fn certificate_assertion_ps256_and_rs256_verify() {
    let cert = Arc::new(ClientCertificate::from_pem(test_cert().pem.as_bytes()).unwrap());
    for alg in [AssertionAlg::Ps256, AssertionAlg::Rs256] {
        let stub = serve(|r| (!r.is_token()).then(me)).await;
        let auth = Auth::Certificate {
            client_id: CLIENT_ID.into(),
            certificate: cert.clone(),
            alg,
        };
        let (cfg, _) = stub.config(auth);
        GraphClient::connect(cfg)
            .unwrap()
            .get_user("u1")
            .await
            .unwrap();
        let f = stub.token_requests()[0].form();
        assert_eq!(f["grant_type"], "client_credentials");
        assert_eq!(
            f["client_assertion_type"],
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        assert!(!f.contains_key("client_secret"));
        verify_assertion(
            &f["client_assertion"],
            alg,
            &format!("{}/{TENANT}/oauth2/v2.0/token", stub.url),
        );
    }
}

#[test]
fn pfx_with_password_loads_the_same_certificate() {
    let tc = test_cert();
    let mut store = p12_keystore::KeyStore::new();
    let chain = p12_keystore::PrivateKeyChain::new(
        b"k1".as_slice(),
        p12_keystore::PrivateKey::from_der(&tc.key_pkcs8_der).unwrap(),
        [p12_keystore::Certificate::from_der(&tc.cert_der).unwrap()],
    );
    store.add_entry(
        "hardmatch",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    let pfx = store.writer("pfx-pass").write().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pfx");
    std::fs::write(&path, &pfx).unwrap();

    let from_pfx = ClientCertificate::from_file(&path, Some(&Secret::new("pfx-pass"))).unwrap();
    let from_pem = ClientCertificate::from_pem(tc.pem.as_bytes()).unwrap();
    assert_eq!(from_pfx.cert_der(), tc.cert_der.as_slice());
    assert_eq!(from_pfx.thumbprint_sha256(), from_pem.thumbprint_sha256());
    let a = from_pfx
        .assertion(
            CLIENT_ID,
            "https://login.example/t/oauth2/v2.0/token",
            AssertionAlg::Ps256,
            now(),
        )
        .unwrap();
    verify_assertion(
        a.expose(),
        AssertionAlg::Ps256,
        "https://login.example/t/oauth2/v2.0/token",
    );

    let wrong = ClientCertificate::from_file(&path, Some(&Secret::new("nope"))).unwrap_err();
    assert!(wrong.to_string().contains("wrong password"), "{wrong}");
    assert!(format!("{from_pfx:?}").contains("***"));
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A device-code stub: the token endpoint answers `script` in turn, then a token.
async fn device_stub(script: Vec<&'static str>) -> Stub {
    let polls = Arc::new(AtomicUsize::new(0));
    serve(move |r| {
        if r.path().ends_with("/oauth2/v2.0/devicecode") {
            return Some(Reply::json(
                200,
                json!({"device_code": "DC-1", "user_code": "ABCD-EFGH", "verification_uri": "https://microsoft.com/devicelogin",
                       "expires_in": 900, "interval": 5, "message": "To sign in, use a web browser to open https://microsoft.com/devicelogin and enter the code ABCD-EFGH."}),
            ));
        }
        if r.is_token() {
            if r.form()["grant_type"] == "refresh_token" {
                return Some(Reply::json(200, json!({"token_type":"Bearer","expires_in":600,"access_token":"tok-refreshed","refresh_token":"rt-2"})));
            }
            let n = polls.fetch_add(1, Ordering::SeqCst);
            return Some(match script.get(n) {
                Some(err) => Reply::json(400, json!({"error": err, "error_description": format!("AADSTS: {err}"), "trace_id": "tr-1", "correlation_id": "co-1"})),
                None => Reply::json(200, json!({"token_type":"Bearer","expires_in":600,"access_token":"tok-device","refresh_token":"rt-1"})),
            });
        }
        Some(me())
    })
    .await
}

#[tokio::test]
async fn device_code_polls_through_pending_and_slow_down() {
    let stub = device_stub(vec![
        "authorization_pending",
        "slow_down",
        "authorization_pending",
    ])
    .await;
    let shown: Arc<Mutex<Vec<String>>> = Arc::default();
    let (mut cfg, clock) = stub.config(Auth::DeviceCode {
        client_id: CLIENT_ID.into(),
    });
    let s2 = shown.clone();
    cfg.device_code_prompt = Arc::new(move |m: &str| s2.lock().unwrap().push(m.to_string()));
    let client = GraphClient::connect(cfg).unwrap();
    client.get_user("u1").await.unwrap();

    assert!(shown.lock().unwrap()[0].contains("ABCD-EFGH"));
    let reqs = stub.requests();
    let dc = reqs
        .iter()
        .find(|r| r.path().ends_with("/devicecode"))
        .unwrap()
        .form();
    assert_eq!(dc["client_id"], CLIENT_ID);
    assert!(dc["scope"].contains("offline_access") && dc["scope"].contains("/.default"));
    let polls: Vec<HashMap<String, String>> =
        stub.token_requests().iter().map(|r| r.form()).collect();
    assert_eq!(polls.len(), 4);
    assert!(polls.iter().all(|f| f["grant_type"]
        == "urn:ietf:params:oauth:grant-type:device_code"
        && f["device_code"] == "DC-1"));
    // interval 5 s, then +5 s after slow_down: 5 + 5 + 10 + 10.
    assert_eq!(clock.total_slept(), Duration::from_secs(30));
    assert_eq!(
        stub.graph_requests()[0].header("authorization"),
        Some("Bearer tok-device")
    );

    // The token expires (600 s, refreshed 300 s early): the refresh token is used, no new prompt.
    clock.advance(Duration::from_secs(301));
    client.get_user("u1").await.unwrap();
    let last = stub.token_requests().last().unwrap().form();
    assert_eq!(last["grant_type"], "refresh_token");
    assert_eq!(last["refresh_token"], "rt-1");
    assert_eq!(
        stub.graph_requests()[1].header("authorization"),
        Some("Bearer tok-refreshed")
    );
    assert_eq!(shown.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn device_code_declined_expired_and_bad_code_are_clear_errors() {
    for (error, words) in [
        ("authorization_declined", "declined"),
        ("expired_token", "expired"),
        ("bad_verification_code", "not recognised"),
    ] {
        let stub = device_stub(vec!["authorization_pending", error]).await;
        let (mut cfg, _) = stub.config(Auth::DeviceCode {
            client_id: CLIENT_ID.into(),
        });
        cfg.device_code_prompt = Arc::new(|_| {});
        let err = GraphClient::connect(cfg)
            .unwrap()
            .get_user("u1")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(error));
        let text = format!("{err:#}");
        assert!(text.contains(words) && text.contains("tr-1"), "{text}");
        assert!(stub.graph_requests().is_empty());
    }
}

#[tokio::test]
async fn tokens_are_refreshed_from_expires_in_not_3600() {
    let n = Arc::new(AtomicUsize::new(0));
    let stub = serve(move |r| {
        Some(if r.is_token() {
            Reply::token(
                &format!("tok-{}", n.fetch_add(1, Ordering::SeqCst) + 1),
                1200,
            )
        } else {
            me()
        })
    })
    .await;
    let (client, clock) = stub.client();
    client.get_user("u1").await.unwrap();
    clock.advance(Duration::from_secs(850)); // < 1200 - 300
    client.get_user("u1").await.unwrap();
    assert_eq!(stub.token_requests().len(), 1);
    clock.advance(Duration::from_secs(100)); // past 900
    client.get_user("u1").await.unwrap();
    assert_eq!(stub.token_requests().len(), 2);
    assert_eq!(
        stub.graph_requests()[2].header("authorization"),
        Some("Bearer tok-2")
    );
}

#[tokio::test]
async fn a_401_signs_in_again_once_then_retries() {
    let stub = serve(|r| {
        (!r.is_token()).then(|| {
            if r.header("authorization") == Some("Bearer tok-1") {
                Reply::error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            } else {
                me()
            }
        })
    })
    .await;
    let (client, _) = stub.client();
    assert_eq!(
        client.get_user("u1").await.unwrap().id.as_deref(),
        Some("u1")
    );
    assert_eq!(stub.token_requests().len(), 2);
    assert_eq!(stub.graph_requests().len(), 2);

    // Always 401: exactly one re-sign-in, then the error comes back.
    let stub = serve(|r| {
        (!r.is_token()).then(|| {
            Reply::error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure.",
            )
        })
    })
    .await;
    let (client, _) = stub.client();
    let err = client.get_user("u1").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(stub.token_requests().len(), 2);
    assert_eq!(stub.graph_requests().len(), 2);
}

#[tokio::test]
async fn a_given_access_token_is_used_as_is_and_never_refreshed() {
    let stub = serve(|r| {
        (!r.is_token()).then(|| Reply::error(401, "InvalidAuthenticationToken", "expired"))
    })
    .await;
    let (cfg, _) = stub.config(Auth::AccessToken(Secret::new("given-token")));
    let err = GraphClient::connect(cfg)
        .unwrap()
        .get_user("u1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAuthenticationToken"));
    assert!(stub.token_requests().is_empty());
    assert_eq!(stub.graph_requests().len(), 1);
    assert_eq!(
        stub.graph_requests()[0].header("authorization"),
        Some("Bearer given-token")
    );
}

#[tokio::test]
async fn token_endpoint_errors_carry_the_trace_ids_and_a_fix() {
    let stub = serve(|r| {
        r.is_token().then(|| {
            Reply::json(401, json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215], "trace_id": "trace-9", "correlation_id": "corr-9", "timestamp": "2026-11-26 10:00:00Z"}))
        })
    })
    .await;
    let (client, _) = stub.client();
    let err = client.get_user("u1").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("invalid_client")
            && text.contains("AADSTS7000215")
            && text.contains("trace-9")
            && text.contains("corr-9"),
        "{text}"
    );
    assert!(text.contains("fix:"), "{text}");
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

#[test]
fn environment_is_read_like_environment_credential_and_flags_win() {
    let env = env_of(&[
        ("AZURE_TENANT_ID", "env-tenant"),
        ("AZURE_CLIENT_ID", "env-app"),
        ("AZURE_CLIENT_SECRET", "env-secret"),
    ]);
    let (tenant, auth) = AuthOptions::default().resolve(&env).unwrap();
    assert_eq!(tenant, "env-tenant");
    match auth {
        Auth::ClientSecret { client_id, secret } => {
            assert_eq!(client_id, "env-app");
            assert_eq!(secret.expose(), "env-secret");
        }
        other => panic!("{other:?}"),
    }
    let opts = AuthOptions {
        tenant: Some("flag-tenant".into()),
        client_id: Some("flag-app".into()),
        device_code: true,
        ..AuthOptions::default()
    };
    let (tenant, auth) = opts.resolve(&env).unwrap();
    assert_eq!(tenant, "flag-tenant");
    assert!(matches!(auth, Auth::DeviceCode { client_id } if client_id == "flag-app"));

    // A certificate from the environment, PEM.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("app.pem");
    std::fs::write(&pem, &test_cert().pem).unwrap();
    let env = env_of(&[
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "a"),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()),
    ]);
    assert!(matches!(
        AuthOptions::default().resolve(&env).unwrap().1,
        Auth::Certificate {
            alg: AssertionAlg::Ps256,
            ..
        }
    ));

    // Access token from the environment needs no tenant; nothing at all is an error that says what to set.
    let env = env_of(&[("HARDMATCH_ACCESS_TOKEN", "tok ")]);
    assert!(
        matches!(AuthOptions::default().resolve(&env).unwrap().1, Auth::AccessToken(t) if t.expose() == "tok")
    );
    let err = AuthOptions::default()
        .resolve(&env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AZURE_CLIENT_SECRET") && err.contains("--device-code"),
        "{err}"
    );
    let err = AuthOptions::default()
        .resolve(&env_of(&[
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_CLIENT_ID", "a"),
        ]))
        .unwrap_err();
    assert!(err.to_string().contains("--tenant"), "{err}");
}

#[test]
fn national_clouds_pick_matching_hosts() {
    let cases = [
        (
            CloudEnv::Global,
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
        ),
        (
            CloudEnv::UsGov,
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
        ),
        (
            CloudEnv::UsGovDod,
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
        ),
        (
            CloudEnv::China,
            "https://login.partner.microsoftonline.cn",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
    ];
    for (cloud, login, graph) in cases {
        let e = Endpoints::resolve(cloud, None, None).unwrap();
        assert_eq!((e.login.as_str(), e.graph.as_str()), (login, graph));
        assert_eq!(e.scope(), format!("{graph}/.default"));
        assert_eq!(e.graph_v1(), format!("{graph}/v1.0"));
        assert_eq!(e.token_url("t1"), format!("{login}/t1/oauth2/v2.0/token"));
    }
    let names: Vec<String> = [
        CloudEnv::Global,
        CloudEnv::UsGov,
        CloudEnv::UsGovDod,
        CloudEnv::China,
    ]
    .iter()
    .map(|c| {
        clap::ValueEnum::to_possible_value(c)
            .unwrap()
            .get_name()
            .to_string()
    })
    .collect();
    assert_eq!(names, ["global", "usgov", "usgov-dod", "china"]);
}

#[test]
fn plain_http_is_refused_unless_loopback() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.1.2.3:1/",
        "http://[::1]:9000",
        "http://localhost:5",
        "https://graph.example.org",
    ] {
        assert!(
            Endpoints::resolve(CloudEnv::Global, Some(ok), Some(ok)).is_ok(),
            "{ok}"
        );
    }
    for bad in [
        "http://graph.example.org",
        "http://10.0.0.5:80",
        "http://127.0.0.1.nip.io",
        "http://[::2]:80",
    ] {
        let err = Endpoints::resolve(CloudEnv::Global, Some(bad), None).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, GraphError::Config(_))
                && text.contains("unencrypted")
                && text.contains("loopback"),
            "{text}"
        );
        let err = Endpoints::resolve(CloudEnv::Global, None, Some(bad)).unwrap_err();
        assert!(err.to_string().contains("--login-url"));
        let mut cfg = GraphConfig::new("t", secret_auth());
        cfg.graph_url = Some(bad.into());
        assert!(GraphClient::connect(cfg).is_err());
    }
    let err = Endpoints::resolve(
        CloudEnv::Global,
        Some("https://graph.microsoft.com/v1.0"),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("appends /v1.0"));
}
