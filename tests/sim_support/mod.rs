//! Shared set-up for the simulated-tenant tests: a sim on a random port, a reqwest client and a token.
#![allow(dead_code)]

use hardmatch::sim::{self, SimConfig, SimHandle, TenantState};
use hardmatch::wire::User;
use serde_json::Value;

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("reqwest client")
}

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

/// `n` users with ids `00000000-0000-4000-8000-{i:012}` and UPNs `user{i}@contoso.com`.
pub fn many_users(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| {
            user(
                &format!("00000000-0000-4000-8000-{i:012}"),
                &format!("user{i}@contoso.com"),
                None,
            )
        })
        .collect()
}

pub struct Env {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    pub token: String,
}

impl Env {
    pub async fn start(config: SimConfig, state: TenantState) -> Env {
        let sim = sim::start(config, state).await.expect("sim starts");
        let http = client();
        let token = secret_token(&http, &sim).await;
        Env { sim, http, token }
    }

    pub fn url(&self, rel: &str) -> String {
        format!("{}/v1.0{rel}", self.sim.base_url())
    }

    pub async fn get(&self, rel: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .http
            .get(self.url(rel))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        split(r).await
    }

    pub async fn get_abs(&self, url: &str) -> (u16, Value) {
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        let (s, _, v) = split(r).await;
        (s, v)
    }

    pub async fn send(
        &self,
        method: &str,
        rel: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, self.url(rel)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        split(req.send().await.expect("send")).await
    }
}

pub async fn split(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, headers, v)
}

pub async fn secret_token(http: &reqwest::Client, sim: &SimHandle) -> String {
    let r = http
        .post(sim.token_url())
        .form(&[
            ("client_id", sim.client_id()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
            ("client_secret", sim::DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("token JSON");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

pub fn error_message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}
