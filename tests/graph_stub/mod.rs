//! A tiny programmable HTTP stub for the Graph client's tests: every request is recorded
//! (method, raw path+query as sent, headers, body) and answered by a closure. Token requests
//! (`/<tenant>/oauth2/v2.0/token`) get a default answer unless the closure handles them.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hardmatch::graph::{Auth, Clock, GraphClient, GraphConfig, Secret};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const TENANT: &str = "contoso-tenant";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "sEcReT~value-do-not-print-7f3a";

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Path and query exactly as received (still percent-encoded).
    pub uri: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Req {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("")
    }
    /// Decoded query parameter (form-urlencoded rules: a raw `+` becomes a space).
    pub fn query(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&format!("http://x{}", self.uri)).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    pub fn form(&self) -> HashMap<String, String> {
        let url = reqwest::Url::parse(&format!("http://x/?{}", self.body)).unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn is_login(&self) -> bool {
        self.path().contains("/oauth2/v2.0/")
    }
    pub fn is_token(&self) -> bool {
        self.path().ends_with("/oauth2/v2.0/token")
    }
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string(),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
    /// Graph's error JSON.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"error": {"code": code, "message": message,
                "innerError": {"date": "2026-11-26T10:00:00", "request-id": "req-123", "client-request-id": "ignored"}}}),
        )
    }
    pub fn token(access: &str, expires_in: u64) -> Reply {
        Reply::json(
            200,
            json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": access}),
        )
    }
}

type Handler = Arc<dyn Fn(&Req) -> Option<Reply> + Send + Sync>;

pub struct Stub {
    pub url: String,
    pub log: Arc<Mutex<Vec<Req>>>,
}

impl Stub {
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
    /// Requests to Graph (not to the token endpoint).
    pub fn graph_requests(&self) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| !r.is_login())
            .collect()
    }
    pub fn token_requests(&self) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_token())
            .collect()
    }
    /// A client with a secret, a manual clock and 4 attempts, pointed at this stub.
    pub fn client(&self) -> (GraphClient, Clock) {
        let (cfg, clock) = self.config(secret_auth());
        (GraphClient::connect(cfg).unwrap(), clock)
    }
    pub fn config(&self, auth: Auth) -> (GraphConfig, Clock) {
        let clock = Clock::manual();
        let mut cfg = GraphConfig::new(TENANT, auth);
        cfg.graph_url = Some(self.url.clone());
        cfg.login_url = Some(self.url.clone());
        cfg.clock = clock.clone();
        cfg.retry.max_attempts = 4;
        (cfg, clock)
    }
}

pub fn secret_auth() -> Auth {
    Auth::ClientSecret {
        client_id: CLIENT_ID.into(),
        secret: Secret::new(SECRET),
    }
}

/// Serves `handler` on 127.0.0.1:0. When it returns `None` for a token request, a token
/// `tok-N` (N counting token requests) valid 3600 s is returned; otherwise 404.
pub async fn serve(handler: impl Fn(&Req) -> Option<Reply> + Send + Sync + 'static) -> Stub {
    let log: Arc<Mutex<Vec<Req>>> = Arc::default();
    let handler: Handler = Arc::new(handler);
    let state = (log.clone(), handler);
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (log, handler) = state.clone();
            async move {
                let req = Req {
                    method: method.to_string(),
                    uri: uri
                        .path_and_query()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let n_tokens = {
                    let mut l = log.lock().unwrap();
                    l.push(req.clone());
                    l.iter().filter(|r| r.is_token()).count()
                };
                let reply = handler(&req).unwrap_or_else(|| {
                    if req.is_token() {
                        Reply::token(&format!("tok-{n_tokens}"), 3600)
                    } else {
                        Reply::error(404, "Request_ResourceNotFound", "no stub for this request")
                    }
                });
                into_response(reply)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Stub {
        url: format!("http://{addr}"),
        log,
    }
}

fn into_response(r: Reply) -> Response {
    let mut resp = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (k, v) in r.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    resp
}

/// A page of users as Graph returns it.
pub fn page(users: &[Value], next: Option<String>) -> Value {
    let mut v = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": users});
    if let Some(n) = next {
        v["@odata.nextLink"] = json!(n);
    }
    v
}

/// A test RSA certificate: (certificate DER, PEM with cert + PKCS#8 key, PKCS#8 key DER, modulus, exponent).
pub struct TestCert {
    pub cert_der: Vec<u8>,
    pub pem: String,
    pub key_pkcs8_der: Vec<u8>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

pub fn test_cert() -> &'static TestCert {
    static CERT: std::sync::OnceLock<TestCert> = std::sync::OnceLock::new();
    CERT.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &der.as_slice().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let cert = rcgen::CertificateParams::new(vec!["hardmatch-test".to_string()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let key_pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        TestCert {
            cert_der: cert.der().to_vec(),
            pem: format!("{}{}", cert.pem(), key_pem),
            key_pkcs8_der: der,
            n: key.n().to_bytes_be(),
            e: key.e().to_bytes_be(),
        }
    })
}
