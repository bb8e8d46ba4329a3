//! Sign-in against the Microsoft identity platform v2.0, written by hand with reqwest (see
//! crates.md: azure_identity needs openssl for certificates, has no device code and refuses
//! http authorities). Four modes ([`Auth`]): client secret, certificate assertion (PS256 +
//! `x5t#S256`, or RS256 + `x5t`), device code, and a ready-made access token.
//!
//! Tokens live in memory only and are refreshed `refresh_margin` before `expires_in` runs out
//! (Entra gives 60–90 min at random; 3600 is never assumed).

use super::clock::Clock;
use super::cloud_env::Endpoints;
use super::error::{GraphError, TokenFailure};
use super::secret::Secret;
use crate::wire::{DeviceCodeResponse, TokenResponse};
use base64::Engine;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How the client signs in.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Client credentials with a client secret (app-only).
    ClientSecret {
        /// Application (client) id.
        client_id: String,
        /// The secret.
        secret: Secret,
    },
    /// Client credentials with a certificate: a signed JWT client assertion (app-only).
    Certificate {
        /// Application (client) id.
        client_id: String,
        /// Certificate and private key.
        certificate: Arc<ClientCertificate>,
        /// Assertion algorithm and thumbprint header.
        alg: AssertionAlg,
    },
    /// Device code: an admin signs in in a browser with their own (public client) app.
    DeviceCode {
        /// Application (client) id; "Allow public client flows" must be on.
        client_id: String,
    },
    /// An access token obtained elsewhere; it cannot be refreshed.
    AccessToken(Secret),
}

/// Which signature and thumbprint header a certificate assertion uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AssertionAlg {
    /// PS256 with `x5t#S256` (SHA-256 thumbprint): what Microsoft documents today.
    #[default]
    Ps256,
    /// RS256 with `x5t` (SHA-1 thumbprint): the older form, still accepted.
    Rs256,
}

/// A certificate (DER) and its RSA private key (PKCS#8), loaded from PEM or PFX.
/// `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct ClientCertificate {
    cert_der: Vec<u8>,
    key_pem: Secret,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .field("key", &"***")
            .finish()
    }
}

impl ClientCertificate {
    /// From a PEM file's text holding the certificate and the private key (`PRIVATE KEY`,
    /// PKCS#8, or `RSA PRIVATE KEY`, PKCS#1), in any order.
    pub fn from_pem(pem: &[u8]) -> Result<ClientCertificate, GraphError> {
        let text =
            std::str::from_utf8(pem).map_err(|_| GraphError::config("the PEM file is not text"))?;
        let cert = pem_block(text, "CERTIFICATE").ok_or_else(|| {
            GraphError::config("no -----BEGIN CERTIFICATE----- block in the PEM file; it must hold the certificate and its private key")
        })?;
        let cert_der = base64::engine::general_purpose::STANDARD
            .decode(cert.split_whitespace().collect::<String>())
            .map_err(|_| {
                GraphError::config("the CERTIFICATE block of the PEM file is not valid base64")
            })?;
        let key_pem = ["PRIVATE KEY", "RSA PRIVATE KEY"]
            .iter()
            .find_map(|label| {
                pem_block(text, label)
                    .map(|b| format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", b.trim()))
            })
            .ok_or_else(|| {
                GraphError::config("no unencrypted -----BEGIN PRIVATE KEY----- block in the PEM file (encrypted PEM keys are not supported: use a PFX with a password)")
            })?;
        ClientCertificate::new(cert_der, Secret::new(key_pem))
    }

    /// From PFX (PKCS#12) bytes and their password (empty for none).
    pub fn from_pfx(pfx: &[u8], password: &Secret) -> Result<ClientCertificate, GraphError> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            pfx,
            password.expose(),
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| {
            GraphError::config(format!(
                "cannot open the PFX (wrong password, or not a PKCS#12 file): {e}"
            ))
        })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| GraphError::config("the PFX holds no private key"))?;
        let cert = chain
            .certs()
            .first()
            .ok_or_else(|| GraphError::config("the PFX holds a private key but no certificate"))?;
        let key_b64 = base64::engine::general_purpose::STANDARD.encode(chain.key().as_der());
        let key_pem =
            format!("-----BEGIN PRIVATE KEY-----\n{key_b64}\n-----END PRIVATE KEY-----\n");
        ClientCertificate::new(cert.as_der().to_vec(), Secret::new(key_pem))
    }

    /// From a file: `.pfx`/`.p12` (PKCS#12, with `password`) or PEM (anything else).
    pub fn from_file(
        path: &Path,
        password: Option<&Secret>,
    ) -> Result<ClientCertificate, GraphError> {
        let bytes = std::fs::read(path).map_err(|e| {
            GraphError::config(format!(
                "cannot read the certificate {}: {e}",
                path.display()
            ))
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let looks_pem =
            bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ");
        let res = if ext == "pfx" || ext == "p12" || !looks_pem {
            ClientCertificate::from_pfx(&bytes, password.unwrap_or(&Secret::default()))
        } else {
            ClientCertificate::from_pem(&bytes)
        };
        res.map_err(|e| GraphError::config(format!("{}: {e}", path.display())))
    }

    fn new(cert_der: Vec<u8>, key_pem: Secret) -> Result<ClientCertificate, GraphError> {
        x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| GraphError::config(format!("the certificate is not valid X.509: {e}")))?;
        jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose().as_bytes()).map_err(|_| {
            GraphError::config("the private key is not an RSA key that can sign (Entra needs RSA, at least 2048 bits)")
        })?;
        Ok(ClientCertificate { cert_der, key_pem })
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// base64url (no padding) SHA-256 of the DER certificate: the `x5t#S256` header.
    pub fn thumbprint_sha256(&self) -> String {
        use sha2::Digest;
        b64url(&sha2::Sha256::digest(&self.cert_der))
    }

    /// base64url (no padding) SHA-1 of the DER certificate: the `x5t` header.
    pub fn thumbprint_sha1(&self) -> String {
        use sha1::Digest;
        b64url(&sha1::Sha1::digest(&self.cert_der))
    }

    /// A signed client assertion for `client_id` at `token_url` (the `aud`), valid `lifetime`
    /// (at most 10 min, as Entra requires) from `now_unix`.
    pub fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        alg: AssertionAlg,
        now_unix: u64,
    ) -> Result<Secret, GraphError> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: u64,
            iat: u64,
            exp: u64,
        }
        let mut header = jsonwebtoken::Header::new(match alg {
            AssertionAlg::Ps256 => jsonwebtoken::Algorithm::PS256,
            AssertionAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
        });
        match alg {
            AssertionAlg::Ps256 => header.x5t_s256 = Some(self.thumbprint_sha256()),
            AssertionAlg::Rs256 => header.x5t = Some(self.thumbprint_sha1()),
        }
        let claims = Claims {
            aud: token_url,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now_unix,
            iat: now_unix,
            exp: now_unix + 600,
        };
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.key_pem.expose().as_bytes())
            .map_err(|_| GraphError::config("the certificate's private key cannot sign"))?;
        jsonwebtoken::encode(&header, &claims, &key)
            .map(Secret::new)
            .map_err(|e| GraphError::config(format!("cannot sign the client assertion: {e}")))
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    Some(&text[start..stop])
}

/// Builds the form of one token request (called once per attempt).
type FormFn<'a> = dyn Fn() -> Result<Vec<(&'static str, String)>, GraphError> + Send + Sync + 'a;

/// What [`TokenProvider`] needs to know beyond [`Auth`].
#[derive(Clone)]
pub(crate) struct AuthContext {
    pub http: reqwest::Client,
    pub endpoints: Endpoints,
    pub tenant: String,
    pub clock: Clock,
    pub refresh_margin: Duration,
    pub max_attempts: u32,
    /// Shows the device-code sign-in message to the admin (stderr by default).
    pub prompt: Arc<dyn Fn(&str) + Send + Sync>,
}

struct Cached {
    access: Secret,
    /// Clock time after which the token is refreshed.
    refresh_at: Duration,
    refresh_token: Option<Secret>,
}

/// After a sign-in fails all its attempts, token requests within this time get the same error
/// at once instead of signing in again: an unreachable identity platform then fails a command
/// in one round of retries, not one round per waiting request (a listing has dozens).
const SIGN_IN_HOLD: Duration = Duration::from_secs(30);

/// Hands out a valid access token, signing in or refreshing when needed. Shared by all tasks
/// of a client: a single sign-in happens at a time.
pub(crate) struct TokenProvider {
    ctx: AuthContext,
    auth: Auth,
    cache: tokio::sync::Mutex<TokenState>,
}

#[derive(Default)]
struct TokenState {
    token: Option<Cached>,
    /// The last sign-in that failed all its attempts, and when (clock time).
    failed: Option<(Duration, GraphError)>,
}

impl TokenProvider {
    pub fn new(ctx: AuthContext, auth: Auth) -> TokenProvider {
        TokenProvider {
            ctx,
            auth,
            cache: tokio::sync::Mutex::new(TokenState::default()),
        }
    }

    /// A token that is not about to expire.
    pub async fn token(&self) -> Result<Secret, GraphError> {
        let mut state = self.cache.lock().await;
        let now = self.ctx.clock.now();
        if let Some(c) = state.token.as_ref() {
            if now < c.refresh_at {
                return Ok(c.access.clone());
            }
        }
        if let Some((at, e)) = &state.failed {
            if now < *at + SIGN_IN_HOLD {
                return Err(e.clone());
            }
        }
        let previous_refresh = state.token.as_ref().and_then(|c| c.refresh_token.clone());
        match self.acquire(previous_refresh).await {
            Ok(fresh) => {
                let access = fresh.access.clone();
                *state = TokenState {
                    token: Some(fresh),
                    failed: None,
                };
                Ok(access)
            }
            Err(e) => {
                state.failed = Some((self.ctx.clock.now(), e.clone()));
                Err(e)
            }
        }
    }

    /// Drops `used` from the cache after Graph refused it with 401, so the next
    /// [`TokenProvider::token`] signs in again. Returns false when the token cannot be renewed
    /// (a token given from outside).
    pub async fn invalidate(&self, used: &Secret) -> bool {
        if matches!(self.auth, Auth::AccessToken(_)) {
            return false;
        }
        let mut state = self.cache.lock().await;
        if let Some(c) = state.token.as_mut() {
            if &c.access == used {
                c.refresh_at = Duration::ZERO;
            }
        }
        true
    }

    async fn acquire(&self, refresh_token: Option<Secret>) -> Result<Cached, GraphError> {
        let token_url = self.ctx.endpoints.token_url(&self.ctx.tenant);
        let scope = self.ctx.endpoints.scope();
        match &self.auth {
            Auth::AccessToken(t) => Ok(Cached {
                access: t.clone(),
                // Never refreshed; Graph's 401 tells when it has expired.
                refresh_at: Duration::MAX,
                refresh_token: None,
            }),
            Auth::ClientSecret { client_id, secret } => {
                let form = vec![
                    ("client_id", client_id.clone()),
                    ("scope", scope),
                    ("grant_type", "client_credentials".to_string()),
                    ("client_secret", secret.expose().to_string()),
                ];
                self.post_token(&token_url, &|| Ok(form.clone())).await
            }
            Auth::Certificate {
                client_id,
                certificate,
                alg,
            } => {
                // A new assertion (new jti, new nbf/exp) for every attempt: the identity
                // platform refuses a replayed jti, and an attempt whose answer was lost may
                // well have been handled.
                let form = || {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    let assertion = certificate.assertion(client_id, &token_url, *alg, now)?;
                    Ok(vec![
                        ("client_id", client_id.clone()),
                        ("scope", scope.clone()),
                        ("grant_type", "client_credentials".to_string()),
                        (
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                        ),
                        ("client_assertion", assertion.expose().to_string()),
                    ])
                };
                self.post_token(&token_url, &form).await
            }
            Auth::DeviceCode { client_id } => {
                let scope = format!("{scope} offline_access");
                if let Some(rt) = refresh_token {
                    let form = vec![
                        ("client_id", client_id.clone()),
                        ("scope", scope.clone()),
                        ("grant_type", "refresh_token".to_string()),
                        ("refresh_token", rt.expose().to_string()),
                    ];
                    match self.post_token(&token_url, &|| Ok(form.clone())).await {
                        Ok(t) => return Ok(t),
                        Err(e) => {
                            tracing::info!(error = %e, "refresh token refused; signing in again")
                        }
                    }
                }
                self.device_code(client_id, &scope, &token_url).await
            }
        }
    }

    async fn device_code(
        &self,
        client_id: &str,
        scope: &str,
        token_url: &str,
    ) -> Result<Cached, GraphError> {
        let url = self.ctx.endpoints.device_code_url(&self.ctx.tenant);
        let form = vec![
            ("client_id", client_id.to_string()),
            ("scope", scope.to_string()),
        ];
        let (status, body) = self.post_form(&url, &|| Ok(form.clone())).await?;
        if !(200..300).contains(&status) {
            return Err(TokenFailure::from_response(status, &body).into());
        }
        let dc: DeviceCodeResponse =
            serde_json::from_slice(&body).map_err(|e| GraphError::Decode {
                message: format!("devicecode answer: {e}"),
                request_id: String::new(),
            })?;
        (self.ctx.prompt)(&dc.message);
        let clock = &self.ctx.clock;
        let deadline = clock.now() + clock.from_server(Duration::from_secs(dc.expires_in));
        let mut interval = clock.from_server(Duration::from_secs(dc.interval.max(1)));
        let form = vec![
            ("client_id", client_id.to_string()),
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_string(),
            ),
            ("device_code", dc.device_code.clone()),
        ];
        loop {
            clock.sleep(interval).await;
            let (status, body) = self.post_form(token_url, &|| Ok(form.clone())).await?;
            if (200..300).contains(&status) {
                return self.cached_from(&body);
            }
            let failure = TokenFailure::from_response(status, &body);
            match failure.error.as_str() {
                "authorization_pending" => {}
                // RFC 8628 §3.5: slow down by 5 s (not in Entra's table, handled anyway).
                "slow_down" => interval += clock.from_server(Duration::from_secs(5)),
                _ => return Err(failure.into()),
            }
            if clock.now() >= deadline {
                return Err(TokenFailure {
                    status,
                    error: "expired_token".into(),
                    description: "the device code expired before sign-in completed".into(),
                    hint: Some("run again and sign in within the time shown".into()),
                    ..TokenFailure::default()
                }
                .into());
            }
        }
    }

    async fn post_token(&self, url: &str, form: &FormFn<'_>) -> Result<Cached, GraphError> {
        let (status, body) = self.post_form(url, form).await?;
        if (200..300).contains(&status) {
            self.cached_from(&body)
        } else {
            Err(TokenFailure::from_response(status, &body).into())
        }
    }

    fn cached_from(&self, body: &[u8]) -> Result<Cached, GraphError> {
        let t: TokenResponse = serde_json::from_slice(body).map_err(|e| GraphError::Decode {
            message: format!("token answer is not a token response: {e}"),
            request_id: String::new(),
        })?;
        // expires_in is real seconds, whatever the clock's scale.
        let lifetime = self
            .ctx
            .clock
            .from_server(Duration::from_secs(t.expires_in));
        // Short-lived tokens (tests, the simulator) still get used: refresh at half-life at most.
        let margin = self.ctx.refresh_margin.min(lifetime / 2);
        tracing::debug!(expires_in = t.expires_in, "signed in");
        Ok(Cached {
            access: Secret::new(t.access_token),
            refresh_at: self.ctx.clock.now() + lifetime - margin,
            refresh_token: t.refresh_token.map(Secret::new),
        })
    }

    /// POSTs a form to the identity platform, retrying transport errors, 429 and 5xx. The form
    /// is built anew for every attempt.
    async fn post_form(&self, url: &str, form: &FormFn<'_>) -> Result<(u16, Vec<u8>), GraphError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let crid = uuid::Uuid::new_v4().to_string();
            let res = self
                .ctx
                .http
                .post(url)
                .header("client-request-id", &crid)
                .form(&form()?)
                .send()
                .await;
            let (retry_in, why) = match res {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = super::http::retry_after(resp.headers())
                        .map(|d| self.ctx.clock.from_server(d));
                    let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    if !(status == 429 || status >= 500) || attempt >= self.ctx.max_attempts {
                        return Ok((status, body));
                    }
                    let wait = retry_after.unwrap_or_else(|| super::http::backoff(attempt));
                    (wait, format!("HTTP {status}"))
                }
                Err(e) => {
                    let message = super::http::describe(e);
                    if attempt >= self.ctx.max_attempts
                        || super::http::untrusted_certificate(&message)
                    {
                        return Err(GraphError::Transport {
                            host: super::http::host_of(url),
                            message,
                            client_request_id: crid,
                        });
                    }
                    (
                        super::http::backoff(attempt),
                        format!("network error ({message})"),
                    )
                }
            };
            tracing::info!(
                client_request_id = %crid,
                "sign-in at {}: {why}; retrying in {} (attempt {} of {})",
                super::http::host_of(url),
                super::http::secs(retry_in),
                attempt + 1,
                self.ctx.max_attempts
            );
            self.ctx.clock.sleep(retry_in).await;
        }
    }
}
