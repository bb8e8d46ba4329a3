//! Shared set-up for the end-to-end tests: the real client against the in-process simulated
//! tenant over HTTP on 127.0.0.1.
//!
//! Time: the tenant's `time_scale` compresses its own clock (throttle windows, token lifetimes)
//! and sends every duration on the wire in *real* seconds, so a client on [`Clock::real`] simply
//! waits less. Backoffs the client picks itself (503, resets: 1 s, 2 s, …) are only compressed by
//! a scaled client clock, which tests with faults use.
#![allow(dead_code)]

use hardmatch::graph::{Auth, Clock, GraphClient, GraphConfig, PacingConfig, Secret};
use hardmatch::sim::{self, SimConfig, SimHandle, TenantState};
use hardmatch::wire::User;
use std::sync::Arc;

pub fn user(id: &str, upn: &str, immutable: Option<&str>) -> User {
    User {
        id: Some(id.into()),
        user_principal_name: Some(upn.into()),
        display_name: Some(upn.split('@').next().unwrap_or(upn).into()),
        mail: Some(upn.into()),
        on_premises_immutable_id: immutable.map(String::from),
        proxy_addresses: Some(vec![format!("SMTP:{upn}")]),
        ..Default::default()
    }
}

pub fn id_of(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// `n` users with ids [`id_of`]`(i)` and UPNs `user{i}@contoso.com`.
pub fn many_users(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| user(&id_of(i), &format!("user{i}@contoso.com"), None))
        .collect()
}

pub fn state(users: Vec<User>) -> TenantState {
    TenantState {
        users,
        ..TenantState::default()
    }
}

/// Tokens that outlive any test (the client would otherwise refresh often on a compressed clock).
pub fn sim_config() -> SimConfig {
    SimConfig {
        token_lifetime_secs: 10_000_000,
        ..SimConfig::default()
    }
}

pub async fn start(config: SimConfig, state: TenantState) -> SimHandle {
    sim::start(config, state).await.expect("sim starts")
}

pub fn secret_auth(sim: &SimHandle) -> Auth {
    Auth::ClientSecret {
        client_id: sim.client_id().into(),
        secret: Secret::new(sim::DEFAULT_CLIENT_SECRET),
    }
}

/// A client configuration pointed at `sim`: real clock, no prompt output.
pub fn config(sim: &SimHandle, auth: Auth) -> GraphConfig {
    let mut c = GraphConfig::new(sim.tenant_id(), auth);
    c.graph_url = Some(sim.base_url());
    c.login_url = Some(sim.base_url());
    c.clock = Clock::real();
    c.device_code_prompt = Arc::new(|_: &str| {});
    c
}

/// A client signing in with the sim's secret, pacing off (tests provoke the tenant's own limits).
pub fn client(sim: &SimHandle) -> GraphClient {
    let mut c = config(sim, secret_auth(sim));
    c.pacing = PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    };
    GraphClient::connect(c).expect("client")
}

pub struct TestCert {
    pub cert_der: Vec<u8>,
    pub pem: String,
    pub key_pkcs8_der: Vec<u8>,
}

/// A fresh self-signed RSA certificate and key (generated once per test binary).
pub fn test_cert() -> &'static TestCert {
    static CERT: std::sync::OnceLock<TestCert> = std::sync::OnceLock::new();
    CERT.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &der.as_slice().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["hardmatch-e2e".to_string()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let key_pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        TestCert {
            cert_der: cert.der().to_vec(),
            pem: format!("{}{}", cert.pem(), key_pem),
            key_pkcs8_der: der,
        }
    })
}

/// The same certificate as a password-protected PFX.
pub fn test_pfx(password: &str) -> Vec<u8> {
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
    store.writer(password).write().unwrap()
}
