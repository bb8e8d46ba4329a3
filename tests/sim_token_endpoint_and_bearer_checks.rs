//! The simulated identity platform: client secret, certificate assertions, device code, and
//! the bearer check in front of Graph.

mod sim_support;

use base64::Engine as _;
use hardmatch::sim::{self, SimConfig, TenantState};
use hardmatch::wire::{DeviceCodeResponse, TokenError, TokenResponse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::Digest as _;
use sim_support::*;
use std::sync::OnceLock;

const SCOPE: &str = "https://graph.microsoft.com/.default";

async fn token_call(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = http.post(url).form(form).send().await.expect("token call");
    let s = r.status().as_u16();
    (s, r.json().await.expect("JSON"))
}

#[tokio::test]
async fn client_secret_is_checked_and_errors_have_the_documented_shape() {
    let s = sim::start(SimConfig::default(), TenantState::default())
        .await
        .unwrap();
    let http = client();
    let url = s.token_url();
    let (st, v) = token_call(
        &http,
        &url,
        &[
            ("client_id", s.client_id()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", "sim-secret"),
        ],
    )
    .await;
    assert_eq!(st, 200);
    let t: TokenResponse = serde_json::from_value(v).unwrap();
    assert_eq!((t.token_type.as_str(), t.expires_in), ("Bearer", 3599));

    let (st, v) = token_call(
        &http,
        &url,
        &[
            ("client_id", s.client_id()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(st, 401);
    let e: TokenError = serde_json::from_value(v).unwrap();
    assert_eq!(e.error, "invalid_client");
    assert_eq!(e.error_codes, vec![7000215]);
    assert!(e.error_description.starts_with("AADSTS7000215:"));
    assert!(e.trace_id.is_some() && e.correlation_id.is_some() && e.timestamp.is_some());
    assert!(
        !e.error_description.contains("wrong"),
        "the secret is never echoed"
    );

    let (st, v) = token_call(
        &http,
        &url,
        &[
            ("client_id", s.client_id()),
            ("scope", "User.Read"),
            ("grant_type", "client_credentials"),
            ("client_secret", "sim-secret"),
        ],
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_scope")));
    assert_eq!(v["error_codes"], json!([70011]));

    // HTTP Basic carries the secret too.
    let r = http
        .post(&url)
        .basic_auth(s.client_id(), Some("sim-secret"))
        .form(&[("scope", SCOPE), ("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, v) = token_call(
        &http,
        &format!("{}/other-tenant/oauth2/v2.0/token", s.base_url()),
        &[
            ("client_id", s.client_id()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", "sim-secret"),
        ],
    )
    .await;
    assert_eq!((st, v["error"].as_str()), (400, Some("invalid_request")));
}

struct TestCert {
    key_pem: String,
    der: Vec<u8>,
}

fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
        let key_pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PKCS#8")
            .to_string();
        let kp = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
            .expect("key pair");
        let cert = rcgen::CertificateParams::new(vec!["hardmatch-test".to_string()])
            .expect("params")
            .self_signed(&kp)
            .expect("self-signed");
        TestCert {
            key_pem,
            der: cert.der().to_vec(),
        }
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn assertion(
    alg: Algorithm,
    aud: &str,
    client_id: &str,
    nbf: u64,
    exp: u64,
    key_pem: &str,
) -> String {
    let c = test_cert();
    let mut h = Header::new(alg);
    h.typ = Some("JWT".into());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    if alg == Algorithm::PS256 {
        h.x5t_s256 = Some(b64.encode(sha2::Sha256::digest(&c.der)));
    } else {
        h.x5t = Some(b64.encode(sha1::Sha1::digest(&c.der)));
    }
    let claims = json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": uuid::Uuid::new_v4().to_string(), "nbf": nbf, "exp": exp});
    jsonwebtoken::encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("key"),
    )
    .expect("sign")
}

#[tokio::test]
async fn certificate_assertions_are_verified() {
    let cert = test_cert();
    let config = SimConfig {
        client_certificate_der: Some(cert.der.clone()),
        ..SimConfig::default()
    };
    let s = sim::start(config, TenantState::default()).await.unwrap();
    let http = client();
    let url = s.token_url();
    let cid = s.client_id().to_string();
    let call = |jwt: String| {
        let http = http.clone();
        let url = url.clone();
        let cid = cid.clone();
        async move {
            token_call(
                &http,
                &url,
                &[
                    ("client_id", cid.as_str()),
                    ("scope", SCOPE),
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", jwt.as_str()),
                ],
            )
            .await
        }
    };
    let t = now();
    for alg in [Algorithm::PS256, Algorithm::RS256] {
        let (st, v) = call(assertion(alg, &url, &cid, t, t + 600, &cert.key_pem)).await;
        assert_eq!(st, 200, "{alg:?}: {v}");
        assert!(v["access_token"].is_string());
    }
    // A replayed assertion is refused.
    let jwt = assertion(Algorithm::PS256, &url, &cid, t, t + 300, &cert.key_pem);
    assert_eq!(call(jwt.clone()).await.0, 200);
    assert_eq!(call(jwt).await.0, 401);

    // Signed by another key (same thumbprint header): bad signature.
    use rsa::pkcs8::EncodePrivateKey;
    let other = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let other_pem = other
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .to_string();
    let (st, v) = call(assertion(
        Algorithm::PS256,
        &url,
        &cid,
        t,
        t + 600,
        &other_pem,
    ))
    .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
    // Wrong audience.
    let (st, _) = call(assertion(
        Algorithm::PS256,
        "https://login.microsoftonline.com/x/oauth2/v2.0/token",
        &cid,
        t,
        t + 600,
        &cert.key_pem,
    ))
    .await;
    assert_eq!(st, 401);
    // Expired, and a lifetime over 10 minutes.
    assert_eq!(
        call(assertion(
            Algorithm::PS256,
            &url,
            &cid,
            t - 1200,
            t - 700,
            &cert.key_pem
        ))
        .await
        .0,
        401
    );
    assert_eq!(
        call(assertion(
            Algorithm::PS256,
            &url,
            &cid,
            t,
            t + 3600,
            &cert.key_pem
        ))
        .await
        .0,
        401
    );
    // iss/sub not the client.
    assert_eq!(
        call(assertion(
            Algorithm::PS256,
            &url,
            "someone-else",
            t,
            t + 600,
            &cert.key_pem
        ))
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_approve_declined_expired() {
    let config = SimConfig {
        manual_clock: true,
        ..SimConfig::default()
    };
    let s = sim::start(config, TenantState::default()).await.unwrap();
    let http = client();
    let base = s.base_url();
    let start = |http: reqwest::Client, base: String, cid: String, tenant: String| async move {
        let r = http
            .post(format!("{base}/{tenant}/oauth2/v2.0/devicecode"))
            .form(&[
                ("client_id", cid.as_str()),
                (
                    "scope",
                    "https://graph.microsoft.com/.default offline_access",
                ),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json::<DeviceCodeResponse>().await.unwrap()
    };
    let poll = |code: String| {
        let http = http.clone();
        let url = s.token_url();
        let cid = s.client_id().to_string();
        async move {
            token_call(
                &http,
                &url,
                &[
                    ("client_id", cid.as_str()),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", code.as_str()),
                ],
            )
            .await
        }
    };
    let (cid, tenant) = (s.client_id().to_string(), s.tenant_id().to_string());
    let d = start(http.clone(), base.clone(), cid.clone(), tenant.clone()).await;
    assert_eq!((d.interval, d.expires_in), (5, 900));
    assert!(d.message.contains(&d.user_code) && d.message.contains(&d.verification_uri));
    let (st, v) = poll(d.device_code.clone()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (_, v) = poll(d.device_code.clone()).await;
    assert_eq!(
        v["error"], "slow_down",
        "polled again without waiting the interval"
    );
    s.advance_clock(10.0);
    let (_, v) = poll(d.device_code.clone()).await;
    assert_eq!(v["error"], "authorization_pending");
    // Approve through the HTTP hook, as a browser-less test would.
    let r = http
        .post(format!("{base}/sim/devicecode/approve"))
        .form(&[("user_code", d.user_code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    s.advance_clock(10.0);
    let (st, v) = poll(d.device_code.clone()).await;
    assert_eq!(st, 200, "{v}");
    let t: TokenResponse = serde_json::from_value(v).unwrap();
    assert!(
        t.refresh_token.is_some(),
        "offline_access asked for a refresh token"
    );
    let (st, v) = token_call(
        &http,
        &s.token_url(),
        &[
            ("client_id", cid.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", t.refresh_token.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(st, 200, "{v}");

    let d = start(http.clone(), base.clone(), cid.clone(), tenant.clone()).await;
    assert!(s.decline_device_code(&d.user_code));
    let (_, v) = poll(d.device_code.clone()).await;
    assert_eq!(v["error"], "authorization_declined");

    let d = start(
        http.clone(),
        base.clone(),
        cid.clone(),
        "organizations".into(),
    )
    .await;
    s.advance_clock(901.0);
    let (_, v) = poll(d.device_code.clone()).await;
    assert_eq!(v["error"], "expired_token");
}

#[tokio::test]
async fn graph_requires_a_valid_unexpired_bearer_token() {
    let config = SimConfig {
        manual_clock: true,
        token_lifetime_secs: 60,
        ..SimConfig::default()
    };
    let s = sim::start(config, TenantState::default()).await.unwrap();
    let http = client();
    let users = format!("{}/v1.0/users", s.base_url());
    let check = |r: reqwest::Response, message: &'static str| async move {
        assert_eq!(r.status().as_u16(), 401);
        let www = r
            .headers()
            .get("www-authenticate")
            .expect("WWW-Authenticate")
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.starts_with("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""));
        assert!(r.headers().contains_key("request-id"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(error_code(&v), "InvalidAuthenticationToken");
        assert_eq!(error_message(&v), message);
    };
    check(
        http.get(&users).send().await.unwrap(),
        "Access token is empty.",
    )
    .await;
    check(
        http.get(&users)
            .bearer_auth("garbage")
            .send()
            .await
            .unwrap(),
        "Access token validation failure.",
    )
    .await;
    let r = http
        .post(s.token_url())
        .form(&[
            ("client_id", s.client_id()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", "sim-secret"),
        ])
        .send()
        .await
        .unwrap();
    let t: TokenResponse = r.json().await.unwrap();
    assert_eq!(t.expires_in, 60);
    assert_eq!(
        http.get(&users)
            .bearer_auth(&t.access_token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(s.stats().token_requests, 1);
    assert!(s
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/oauth2/v2.0/token") && r.status == 200));
    s.advance_clock(61.0);
    check(
        http.get(&users)
            .bearer_auth(&t.access_token)
            .send()
            .await
            .unwrap(),
        "Access token has expired or is not yet valid.",
    )
    .await;
    // Runtime changes: a shorter lifetime for new tokens, and revocation of all issued ones.
    s.set_token_lifetime(5);
    let short: TokenResponse = http
        .post(s.token_url())
        .form(&[
            ("client_id", s.client_id()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
            ("client_secret", "sim-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(short.expires_in, 5);
    s.revoke_tokens();
    check(
        http.get(&users)
            .bearer_auth(&short.access_token)
            .send()
            .await
            .unwrap(),
        "Access token validation failure.",
    )
    .await;
}
