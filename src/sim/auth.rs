//! The identity platform's v2.0 endpoints (graph-behaviour.md §7): client credentials with a
//! secret or a certificate assertion, the device code flow, refresh tokens; and the bearer check
//! in front of Graph. Access tokens are opaque random strings, kept only in memory.

use super::routes::{form_decode, Headers, Reply};
use super::{lock, Sim};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Declined,
}

#[derive(Debug)]
struct Device {
    user_code: String,
    scope: String,
    expires_at: f64,
    interval: f64,
    last_poll: Option<f64>,
    status: DeviceStatus,
}

#[derive(Debug)]
pub(crate) struct TokenInfo {
    app: String,
    expires_at: f64,
}

#[derive(Debug, Default)]
pub(crate) struct AuthState {
    pub tokens: HashMap<String, TokenInfo>,
    devices: HashMap<String, Device>,
    refresh: HashMap<String, String>,
    /// Assertion ids already used, with their expiry (unix seconds) for pruning.
    jtis: HashMap<String, u64>,
    /// Set at runtime ([`super::SimHandle::set_token_lifetime`]); else the configured lifetime.
    pub lifetime_override: Option<u64>,
}

impl AuthState {
    pub fn set_device_status(&mut self, user_code: &str, status: DeviceStatus) -> bool {
        match self.devices.values_mut().find(|d| {
            d.user_code.eq_ignore_ascii_case(user_code.trim()) && d.status == DeviceStatus::Pending
        }) {
            Some(d) => {
                d.status = status;
                true
            }
            None => false,
        }
    }

    pub fn pending_user_codes(&self) -> Vec<String> {
        self.devices
            .values()
            .filter(|d| d.status == DeviceStatus::Pending)
            .map(|d| d.user_code.clone())
            .collect()
    }
}

/// `Authorization: Bearer …` → the app id, or the 401 message.
pub(crate) fn bearer(sim: &Sim, headers: &Headers) -> Result<String, &'static str> {
    let h = headers.get("authorization").map(|s| s.trim()).unwrap_or("");
    let token = match h.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => "",
    };
    if token.is_empty() {
        return Err("Access token is empty.");
    }
    let auth = lock(&sim.auth);
    match auth.tokens.get(token) {
        None => Err("Access token validation failure."),
        Some(t) if sim.clock.now() >= t.expires_at => {
            Err("Access token has expired or is not yet valid.")
        }
        Some(t) => Ok(t.app.clone()),
    }
}

pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    s.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// `{"error","error_description","error_codes","timestamp","trace_id","correlation_id"}`.
fn token_error(status: u16, error: &str, code: u32, description: &str) -> Reply {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = uuid::Uuid::new_v4().to_string();
    let ts = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// The identity platform unavailable (an injected fault).
pub(crate) fn unavailable() -> Reply {
    token_error(
        503,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
    )
}

/// Durations go on the wire in real seconds (simulated / time-scale), rounded down so a client
/// never believes a token lives longer than it does; at least 1.
fn wire_secs(sim: &Sim, sim_secs: f64) -> u64 {
    (sim.clock.to_real(sim_secs).floor() as u64).max(1)
}

fn known_tenant(sim: &Sim, tenant: &str, public_client: bool) -> bool {
    tenant.eq_ignore_ascii_case(&sim.cfg.tenant_id)
        || (public_client
            && (tenant.eq_ignore_ascii_case("organizations")
                || tenant.eq_ignore_ascii_case("common")))
}

fn unknown_tenant(tenant: &str) -> Reply {
    token_error(
        400,
        "invalid_request",
        90002,
        &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
    )
}

fn unknown_app(sim: &Sim, client_id: &str) -> Reply {
    token_error(
        400,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'.",
            sim.cfg.tenant_id
        ),
    )
}

fn issue(sim: &Sim, app: &str, scope: &str, with_refresh: bool) -> Reply {
    let access = random_token("sim.");
    let mut auth = lock(&sim.auth);
    let lifetime = auth
        .lifetime_override
        .unwrap_or(sim.cfg.token_lifetime_secs) as f64;
    auth.tokens.insert(
        access.clone(),
        TokenInfo {
            app: app.to_string(),
            expires_at: sim.clock.now() + lifetime,
        },
    );
    let expires_in = wire_secs(sim, lifetime);
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access,
    });
    if with_refresh {
        let refresh = random_token("simrt.");
        auth.refresh.insert(refresh.clone(), app.to_string());
        body["refresh_token"] = json!(refresh);
    }
    Reply::json(200, body)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(sim: &Sim, tenant: &str, headers: &Headers, body: &[u8]) -> Reply {
    let field = |n: &str| form_field(body, n).filter(|v| !v.is_empty());
    let grant = field("grant_type").unwrap_or_default();
    let public = grant != "client_credentials";
    if !known_tenant(sim, tenant, public) {
        return unknown_tenant(tenant);
    }
    let basic = basic_credentials(headers);
    let client_id = field("client_id").or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let Some(client_id) = client_id else {
        return token_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if client_id != sim.cfg.client_id {
        return unknown_app(sim, &client_id);
    }
    match grant.as_str() {
        "client_credentials" => client_credentials(sim, tenant, &client_id, &field, basic),
        "urn:ietf:params:oauth:grant-type:device_code" => {
            device_code_grant(sim, &client_id, &field)
        }
        "refresh_token" => refresh(sim, &field),
        "" => token_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => token_error(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// A form field of the token request, empty counted as absent.
type Field<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// HTTP Basic: client_id:client_secret, each form-encoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &Headers) -> Option<(String, String)> {
    let h = headers.get("authorization")?;
    let (scheme, b64) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// The app signs in as itself: a secret (in the body or HTTP Basic) or a signed assertion.
fn client_credentials(
    sim: &Sim,
    tenant: &str,
    client_id: &str,
    field: &Field<'_>,
    basic: Option<(String, String)>,
) -> Reply {
    let scope = field("scope").unwrap_or_default();
    if !scope.ends_with("/.default") || scope.contains(' ') {
        return token_error(
            400,
            "invalid_scope",
            70011,
            &format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        );
    }
    if let Some(assertion) = field("client_assertion") {
        if field("client_assertion_type").as_deref()
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return token_error(
                400,
                "invalid_request",
                90058,
                "The request body must contain a valid 'client_assertion_type' parameter.",
            );
        }
        if let Err(r) = verify_assertion(sim, tenant, client_id, &assertion) {
            return r;
        }
        return issue(sim, client_id, &scope, false);
    }
    let secret = field("client_secret").or_else(|| basic.map(|b| b.1));
    match (secret, &sim.cfg.client_secret) {
        (Some(given), Some(expected)) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
            issue(sim, client_id, &scope, false)
        }
        (Some(_), _) => token_error(
            401,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
        ),
        (None, _) => token_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ),
    }
}

/// An admin's device code sign-in, polled until approved, declined or expired.
fn device_code_grant(sim: &Sim, client_id: &str, field: &Field<'_>) -> Reply {
    let Some(code) = field("device_code") else {
        return token_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'device_code'.",
        );
    };
    let now = sim.clock.now();
    let mut auth = lock(&sim.auth);
    let Some(d) = auth.devices.get_mut(&code) else {
        return token_error(
            400,
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        );
    };
    if now >= d.expires_at {
        return token_error(
            400,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is expired.",
        );
    }
    if d.status == DeviceStatus::Declined {
        auth.devices.remove(&code);
        return token_error(
            400,
            "authorization_declined",
            70000,
            "The end user denied the authorization request.",
        );
    }
    let too_fast = d.last_poll.is_some_and(|t| now - t < d.interval);
    d.last_poll = Some(now);
    if too_fast {
        // RFC 8628 §3.5: the client must add 5 s to its interval from now on.
        d.interval += 5.0;
        return token_error(
            400,
            "slow_down",
            70016,
            "OAuth 2.0 device flow error. Polling too frequently; slow down.",
        );
    }
    if d.status == DeviceStatus::Pending {
        return token_error(
            400,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        );
    }
    let Some(d) = auth.devices.remove(&code) else {
        return token_error(
            400,
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        );
    };
    drop(auth);
    let refresh = d.scope.split(' ').any(|s| s == "offline_access");
    issue(sim, client_id, &d.scope, refresh)
}

fn refresh(sim: &Sim, field: &Field<'_>) -> Reply {
    let app = field("refresh_token").and_then(|r| lock(&sim.auth).refresh.remove(&r));
    match app {
        Some(app) => {
            let scope = field("scope").unwrap_or_default();
            issue(sim, &app, &scope, true)
        }
        None => token_error(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn b64url_eq(given: &str, digest: &[u8]) -> bool {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let std = base64::engine::general_purpose::STANDARD.encode(digest);
    given.trim_end_matches('=') == url || given == std
}

/// Certificate assertion checks (certificate-credentials doc). Codes for the individual failures
/// are Entra's where known; the exact AADSTS numbers for jti replay and lifetime are unverified.
fn verify_assertion(
    sim: &Sim,
    tenant: &str,
    client_id: &str,
    assertion: &str,
) -> Result<(), Reply> {
    use sha1::Digest as _;
    let bad = |code: u32, msg: &str| token_error(401, "invalid_client", code, msg);
    let Some(der) = &sim.cfg.client_certificate_der else {
        return Err(bad(700027, "The certificate with identifier used to sign the client assertion is not registered on application."));
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| bad(50027, "JWT token is invalid or malformed."))?;
    let alg = header.alg;
    if !matches!(
        alg,
        jsonwebtoken::Algorithm::PS256 | jsonwebtoken::Algorithm::RS256
    ) {
        return Err(bad(
            5002738,
            "Invalid JWT token. The signing algorithm is not supported.",
        ));
    }
    let s256 = sha2::Sha256::digest(der);
    let s1 = sha1::Sha1::digest(der);
    let thumb_ok = header
        .x5t_s256
        .as_deref()
        .is_some_and(|t| b64url_eq(t, &s256))
        || header.x5t.as_deref().is_some_and(|t| b64url_eq(t, &s1));
    if !thumb_ok {
        return Err(bad(700027, "The certificate with identifier used to sign the client assertion is not registered on application."));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| bad(700027, "The registered certificate cannot be read."))?;
    let key = jsonwebtoken::DecodingKey::from_rsa_der(&cert.public_key().subject_public_key.data);
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims: Value = jsonwebtoken::decode::<Value>(assertion, &key, &v)
        .map_err(|_| bad(7000274, "Client assertion failed signature validation."))?
        .claims;

    let aud = claims.get("aud").and_then(|a| a.as_str()).unwrap_or("");
    let localhost = sim.base_url.replace("127.0.0.1", "localhost");
    let aud_ok = [tenant, sim.cfg.tenant_id.as_str()].iter().any(|t| {
        [&sim.base_url, &localhost]
            .iter()
            .any(|b| aud.eq_ignore_ascii_case(&format!("{b}/{t}/oauth2/v2.0/token")))
    });
    if !aud_ok {
        return Err(bad(700021, &format!("Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials. Audience: '{aud}'.")));
    }
    let iss = claims.get("iss").and_then(|a| a.as_str());
    let sub = claims.get("sub").and_then(|a| a.as_str());
    if iss != Some(client_id) || sub != Some(client_id) {
        return Err(bad(
            700023,
            "Client assertion issuer and subject must both be the client id.",
        ));
    }
    // Assertions are minted by the client on the real clock, so they are checked against it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let skew = 300;
    let exp = claims.get("exp").and_then(|x| x.as_u64());
    let nbf = claims
        .get("nbf")
        .and_then(|x| x.as_u64())
        .or_else(|| claims.get("iat").and_then(|x| x.as_u64()))
        .unwrap_or(now);
    match exp {
        Some(exp) if exp > now && nbf <= now + skew && exp.saturating_sub(nbf) <= 600 => {}
        _ => {
            return Err(bad(700024, &format!(
                "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {}.",
                exp.map(|e| e.to_string()).unwrap_or_else(|| "missing".into())
            )))
        }
    }
    let Some(jti) = claims
        .get("jti")
        .and_then(|j| j.as_str())
        .filter(|j| !j.is_empty())
    else {
        return Err(bad(700025, "Client assertion must contain a 'jti' claim."));
    };
    let mut auth = lock(&sim.auth);
    auth.jtis.retain(|_, e| *e + skew > now);
    if auth
        .jtis
        .insert(jti.to_string(), exp.unwrap_or(now))
        .is_some()
    {
        return Err(bad(
            700025,
            "Client assertion contains a replayed 'jti' value.",
        ));
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) fn device_code(sim: &Sim, tenant: &str, body: &[u8]) -> Reply {
    if !known_tenant(sim, tenant, true) {
        return unknown_tenant(tenant);
    }
    let field = |n: &str| form_field(body, n).filter(|v| !v.is_empty());
    let Some(client_id) = field("client_id") else {
        return token_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if client_id != sim.cfg.client_id {
        return unknown_app(sim, &client_id);
    }
    let Some(scope) = field("scope") else {
        return token_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let device_code = random_token("simdc.");
    let mut rng = fastrand::Rng::new();
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let user_code: String = (0..9)
        .map(|_| LETTERS[rng.usize(..LETTERS.len())] as char)
        .collect();
    let lifetime = sim.cfg.device_code_lifetime_secs as f64;
    let interval = sim.cfg.device_code_interval_secs as f64;
    lock(&sim.auth).devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            scope,
            expires_at: sim.clock.now() + lifetime,
            interval,
            last_poll: None,
            status: DeviceStatus::Pending,
        },
    );
    let uri = format!("{}/sim/devicelogin", sim.base_url);
    let interval_wire = if interval <= 0.0 {
        0
    } else {
        wire_secs(sim, interval)
    };
    Reply::json(
        200,
        json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": wire_secs(sim, lifetime),
            "interval": interval_wire,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }),
    )
}
