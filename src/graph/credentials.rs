//! Which [`Auth`] mode a command line plus environment asks for, read the way azure-identity's
//! `EnvironmentCredential` reads `AZURE_*` variables, with explicit flags taking precedence.
//!
//! Precedence, first match wins (the README's "Signing in" table is in this order):
//! 1. `--access-token-stdin` (token read from stdin);
//! 2. `--device-code`;
//! 3. `--client-secret`;
//! 4. `--certificate` (with `--certificate-password` or `AZURE_CLIENT_CERTIFICATE_PASSWORD`);
//! 5. `HARDMATCH_ACCESS_TOKEN`;
//! 6. `AZURE_CLIENT_SECRET`;
//! 7. `AZURE_CLIENT_CERTIFICATE_PATH`.
//!
//! `HARDMATCH_ACCESS_TOKEN` comes before the `AZURE_*` credentials because it is hardmatch's
//! own: setting it is a choice made for this tool, where `AZURE_*` may be left in a shell for
//! others. A token cannot be refreshed and goes stale within the hour, though, so the choice is
//! always said ([`SignIn`]): in every sign-in error, and on stderr when another method is
//! configured too. `--tenant` / `--client-id` override `AZURE_TENANT_ID` / `AZURE_CLIENT_ID`.

use super::auth::{AssertionAlg, Auth, ClientCertificate};
use super::error::GraphError;
use super::secret::Secret;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Environment variable holding a ready-made access token.
pub const ACCESS_TOKEN_ENV: &str = "HARDMATCH_ACCESS_TOKEN";

/// Sign-in choices from flags; anything left `None` may come from the environment.
#[derive(Clone, Debug, Default)]
pub struct AuthOptions {
    /// `--tenant` (else `AZURE_TENANT_ID`).
    pub tenant: Option<String>,
    /// `--client-id` (else `AZURE_CLIENT_ID`).
    pub client_id: Option<String>,
    /// `--client-secret` (else `AZURE_CLIENT_SECRET`).
    pub client_secret: Option<Secret>,
    /// `--certificate` PEM or PFX path (else `AZURE_CLIENT_CERTIFICATE_PATH`).
    pub certificate: Option<PathBuf>,
    /// `--certificate-password` (else `AZURE_CLIENT_CERTIFICATE_PASSWORD`).
    pub certificate_password: Option<Secret>,
    /// `--assertion-alg`.
    pub assertion_alg: AssertionAlg,
    /// `--device-code`.
    pub device_code: bool,
    /// The token read from stdin for `--access-token-stdin`.
    pub access_token: Option<Secret>,
}

/// The sign-in method chosen, where its credential came from, and what was configured but not
/// used: for messages ("the client secret from AZURE_CLIENT_SECRET") and `-v`. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// `client secret`, `certificate`, `device code` or `access token`.
    pub method: &'static str,
    /// The flag or variable it came from: `--client-secret`, `AZURE_CLIENT_SECRET`,
    /// `--certificate app.pem`, `stdin (--access-token-stdin)`…
    pub source: String,
    /// Where the client id came from (`--client-id` or `AZURE_CLIENT_ID`); empty for a token.
    pub client_id_source: &'static str,
    /// Where the tenant came from (`--tenant` or `AZURE_TENANT_ID`); empty when none was given.
    pub tenant_source: &'static str,
    /// The other methods configured at the same time, not used, each as "the … from …".
    pub not_used: Vec<String>,
}

impl fmt::Display for SignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.method == "device code" {
            return write!(f, "a device code ({})", self.source);
        }
        write!(f, "the {} from {}", self.method, self.source)
    }
}

impl SignIn {
    /// True when both the method used and one not used come from the environment: the case
    /// where a forgotten variable silently decides.
    pub fn environment_decided(&self) -> bool {
        !self.not_used.is_empty() && !self.source.contains("--")
    }

    /// What to do when the tenant or the token endpoint refused this sign-in.
    pub fn hint_on_refusal(&self) -> String {
        let other = self
            .not_used
            .first()
            .map(|o| format!(" to sign in with {o} instead"))
            .unwrap_or_default();
        match (self.method, self.source.as_str()) {
            ("access token", ACCESS_TOKEN_ENV) => format!(
                "an access token cannot be refreshed and expires within 60-90 minutes: get a new one, \
                 or unset {ACCESS_TOKEN_ENV}{other}"
            ),
            ("access token", _) => {
                "an access token cannot be refreshed and expires within 60-90 minutes: get a new one".into()
            }
            (_, source) if !other.is_empty() => format!(
                "check {source}, the client id ({}) and the tenant ({}), or remove {source}{other}",
                or_unset(self.client_id_source),
                or_unset(self.tenant_source)
            ),
            (_, source) => format!(
                "check {source}, the client id ({}) and the tenant ({})",
                or_unset(self.client_id_source),
                or_unset(self.tenant_source)
            ),
        }
    }
}

fn or_unset(source: &str) -> &str {
    if source.is_empty() {
        "not given"
    } else {
        source
    }
}

/// One configured method, before the first in precedence is picked.
struct Candidate {
    method: &'static str,
    source: String,
}

impl AuthOptions {
    /// Resolves the tenant and the [`Auth`] mode; `env` looks variables up (`std::env::var`
    /// in the binary, a map in tests). Loads and checks a certificate now, so a bad file or
    /// password fails before any request.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Auth), GraphError> {
        self.resolve_sign_in(env).map(|(t, a, _)| (t, a))
    }

    /// [`AuthOptions::resolve`], also saying which method was chosen and from where. Every
    /// error names the method and the flag or variable its credential came from.
    pub fn resolve_sign_in(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Auth, SignIn), GraphError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let (tenant, tenant_source) = match (&self.tenant, env("AZURE_TENANT_ID")) {
            (Some(t), _) => (t.clone(), "--tenant"),
            (None, Some(t)) => (t, "AZURE_TENANT_ID"),
            (None, None) => (String::new(), ""),
        };
        let (client_id, client_id_source) = match (&self.client_id, env("AZURE_CLIENT_ID")) {
            (Some(c), _) => (Some(c.clone()), "--client-id"),
            (None, Some(c)) => (Some(c), "AZURE_CLIENT_ID"),
            (None, None) => (None, ""),
        };
        let env_cert = env("AZURE_CLIENT_CERTIFICATE_PATH");
        let candidates = self.candidates(&env, env_cert.as_deref());
        let Some(chosen) = candidates.first() else {
            return Err(GraphError::config(
                "no sign-in method: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_CLIENT_ID and AZURE_TENANT_ID), or use --device-code, --client-secret, --certificate, --access-token-stdin or HARDMATCH_ACCESS_TOKEN",
            ));
        };
        let sign_in = SignIn {
            method: chosen.method,
            source: chosen.source.clone(),
            client_id_source,
            tenant_source,
            not_used: candidates[1..]
                .iter()
                .map(|c| format!("the {} from {}", c.method, c.source))
                .collect(),
        };
        let needs = |what: &str| GraphError::config(format!("signing in with {sign_in}: {what}"));
        let client_id = || {
            client_id.clone().ok_or_else(|| {
                needs("no client id: give --client-id or set AZURE_CLIENT_ID to the app registration's Application (client) ID")
            })
        };
        let cert = |path: &PathBuf| -> Result<Auth, GraphError> {
            let password = self
                .certificate_password
                .clone()
                .or_else(|| env("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new));
            let certificate = ClientCertificate::from_file(path, password.as_ref())
                .map_err(|e| needs(&e.to_string()))?;
            Ok(Auth::Certificate {
                client_id: client_id()?,
                certificate: Arc::new(certificate),
                alg: self.assertion_alg,
            })
        };
        let auth = match (chosen.method, chosen.source.as_str()) {
            ("access token", ACCESS_TOKEN_ENV) => Auth::AccessToken(Secret::new(
                env(ACCESS_TOKEN_ENV).unwrap_or_default().trim(),
            )),
            ("access token", _) => {
                let t = self
                    .access_token
                    .as_ref()
                    .map(|t| t.expose().trim())
                    .unwrap_or("");
                if t.is_empty() {
                    return Err(GraphError::config("--access-token-stdin: stdin was empty"));
                }
                Auth::AccessToken(Secret::new(t))
            }
            ("device code", _) => Auth::DeviceCode {
                client_id: client_id()?,
            },
            ("client secret", "--client-secret") => Auth::ClientSecret {
                client_id: client_id()?,
                secret: self.client_secret.clone().unwrap_or_default(),
            },
            ("client secret", _) => Auth::ClientSecret {
                client_id: client_id()?,
                secret: Secret::new(env("AZURE_CLIENT_SECRET").unwrap_or_default()),
            },
            _ => match &self.certificate {
                Some(p) => cert(p)?,
                None => cert(&PathBuf::from(env_cert.unwrap_or_default()))?,
            },
        };
        if tenant.is_empty() && !matches!(auth, Auth::AccessToken(_)) {
            return Err(needs(
                "no tenant: give --tenant or set AZURE_TENANT_ID (tenant id or a verified domain such as contoso.onmicrosoft.com)",
            ));
        }
        Ok((tenant, auth, sign_in))
    }

    /// Every method configured, in precedence order (the first is used).
    fn candidates(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        env_cert: Option<&str>,
    ) -> Vec<Candidate> {
        let c = |method, source: String| Candidate { method, source };
        let mut v = Vec::new();
        if self.access_token.is_some() {
            v.push(c("access token", "stdin (--access-token-stdin)".into()));
        }
        if self.device_code {
            v.push(c("device code", "--device-code".into()));
        }
        if self.client_secret.is_some() {
            v.push(c("client secret", "--client-secret".into()));
        }
        if let Some(p) = &self.certificate {
            v.push(c("certificate", format!("--certificate {}", p.display())));
        }
        if env(ACCESS_TOKEN_ENV).is_some() {
            v.push(c("access token", ACCESS_TOKEN_ENV.into()));
        }
        if env("AZURE_CLIENT_SECRET").is_some() {
            v.push(c("client secret", "AZURE_CLIENT_SECRET".into()));
        }
        if let Some(p) = env_cert {
            v.push(c(
                "certificate",
                format!("AZURE_CLIENT_CERTIFICATE_PATH ({p})"),
            ));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn a_stale_token_variable_wins_over_the_secret_and_says_so() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "a"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
            (ACCESS_TOKEN_ENV, "old-token"),
        ]);
        let (_, auth, sign_in) = AuthOptions::default().resolve_sign_in(&env).unwrap();
        assert!(matches!(auth, Auth::AccessToken(_)));
        assert_eq!(
            sign_in.to_string(),
            "the access token from HARDMATCH_ACCESS_TOKEN"
        );
        assert_eq!(
            sign_in.not_used,
            ["the client secret from AZURE_CLIENT_SECRET"]
        );
        assert!(sign_in.environment_decided());
        let hint = sign_in.hint_on_refusal();
        assert!(
            hint.contains("unset HARDMATCH_ACCESS_TOKEN to sign in with the client secret from AZURE_CLIENT_SECRET"),
            "{hint}"
        );
        assert!(!format!("{sign_in:?}").contains("s3cret") && !hint.contains("old-token"));
    }

    #[test]
    fn the_order_is_flags_then_the_token_variable_then_azure_variables() {
        let all_env = env_of(&[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "a"),
            ("AZURE_CLIENT_SECRET", "s"),
            (ACCESS_TOKEN_ENV, "tok"),
            ("AZURE_CLIENT_CERTIFICATE_PATH", "/no/such.pem"),
        ]);
        let flags = AuthOptions {
            access_token: Some(Secret::new("stdin-token")),
            device_code: true,
            client_secret: Some(Secret::new("flag")),
            certificate: Some(PathBuf::from("/no/such-flag.pem")),
            ..AuthOptions::default()
        };
        let sources: Vec<String> = flags
            .candidates(&all_env, Some("/no/such.pem"))
            .into_iter()
            .map(|c| c.source)
            .collect();
        assert_eq!(
            sources,
            [
                "stdin (--access-token-stdin)",
                "--device-code",
                "--client-secret",
                "--certificate /no/such-flag.pem",
                "HARDMATCH_ACCESS_TOKEN",
                "AZURE_CLIENT_SECRET",
                "AZURE_CLIENT_CERTIFICATE_PATH (/no/such.pem)"
            ]
        );
        let (_, _, s) = AuthOptions {
            device_code: true,
            ..AuthOptions::default()
        }
        .resolve_sign_in(&all_env)
        .unwrap();
        assert_eq!(s.to_string(), "a device code (--device-code)");
        assert!(!s.environment_decided(), "a flag was given on purpose");
        assert_eq!(
            (s.client_id_source, s.tenant_source),
            ("AZURE_CLIENT_ID", "AZURE_TENANT_ID")
        );
    }

    #[test]
    fn every_error_names_the_method_and_where_it_came_from() {
        let err = AuthOptions::default()
            .resolve_sign_in(&env_of(&[
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_TENANT_ID", "t"),
            ]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "signing in with the client secret from AZURE_CLIENT_SECRET: no client id"
            ),
            "{err}"
        );
        let err = AuthOptions {
            certificate: Some(PathBuf::from("/no/such/app.pem")),
            client_id: Some("a".into()),
            tenant: Some("t".into()),
            ..AuthOptions::default()
        }
        .resolve_sign_in(&env_of(&[]))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "signing in with the certificate from --certificate /no/such/app.pem: cannot read"
            ),
            "{err}"
        );
        let err = AuthOptions {
            device_code: true,
            client_id: Some("a".into()),
            ..AuthOptions::default()
        }
        .resolve_sign_in(&env_of(&[]))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("signing in with a device code (--device-code): no tenant"),
            "{err}"
        );
    }
}
