//! Which [`Auth`] mode a command line plus environment asks for, read the way azure-identity's
//! `EnvironmentCredential` reads `AZURE_*` variables, with explicit flags taking precedence.
//!
//! Precedence, first match wins:
//! 1. `--access-token-stdin` (token read from stdin);
//! 2. `--device-code`;
//! 3. `--client-secret`;
//! 4. `--certificate` (with `--certificate-password` or `AZURE_CLIENT_CERTIFICATE_PASSWORD`);
//! 5. `HARDMATCH_ACCESS_TOKEN`;
//! 6. `AZURE_CLIENT_SECRET`;
//! 7. `AZURE_CLIENT_CERTIFICATE_PATH`.
//!
//! `--tenant` / `--client-id` override `AZURE_TENANT_ID` / `AZURE_CLIENT_ID`.

use super::auth::{AssertionAlg, Auth, ClientCertificate};
use super::error::GraphError;
use super::secret::Secret;
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

impl AuthOptions {
    /// Resolves the tenant and the [`Auth`] mode; `env` looks variables up (`std::env::var`
    /// in the binary, a map in tests). Loads and checks a certificate now, so a bad file or
    /// password fails before any request.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Auth), GraphError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let tenant = self
            .tenant
            .clone()
            .or_else(|| env("AZURE_TENANT_ID"))
            .unwrap_or_default();
        let client_id = || {
            self.client_id.clone().or_else(|| env("AZURE_CLIENT_ID")).ok_or_else(|| {
                GraphError::config("no client id: give --client-id or set AZURE_CLIENT_ID to the app registration's Application (client) ID")
            })
        };
        let cert = |path: &PathBuf| -> Result<Auth, GraphError> {
            let password = self
                .certificate_password
                .clone()
                .or_else(|| env("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new));
            Ok(Auth::Certificate {
                client_id: client_id()?,
                certificate: Arc::new(ClientCertificate::from_file(path, password.as_ref())?),
                alg: self.assertion_alg,
            })
        };
        let auth = if let Some(t) = &self.access_token {
            if t.expose().trim().is_empty() {
                return Err(GraphError::config("--access-token-stdin: stdin was empty"));
            }
            Auth::AccessToken(Secret::new(t.expose().trim()))
        } else if self.device_code {
            Auth::DeviceCode {
                client_id: client_id()?,
            }
        } else if let Some(s) = &self.client_secret {
            Auth::ClientSecret {
                client_id: client_id()?,
                secret: s.clone(),
            }
        } else if let Some(p) = &self.certificate {
            cert(p)?
        } else if let Some(t) = env(ACCESS_TOKEN_ENV) {
            Auth::AccessToken(Secret::new(t.trim()))
        } else if let Some(s) = env("AZURE_CLIENT_SECRET") {
            Auth::ClientSecret {
                client_id: client_id()?,
                secret: Secret::new(s),
            }
        } else if let Some(p) = env("AZURE_CLIENT_CERTIFICATE_PATH") {
            cert(&PathBuf::from(p))?
        } else {
            return Err(GraphError::config(
                "no sign-in method: set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_CLIENT_ID and AZURE_TENANT_ID), or use --device-code, --client-secret, --certificate, --access-token-stdin or HARDMATCH_ACCESS_TOKEN",
            ));
        };
        if tenant.is_empty() && !matches!(auth, Auth::AccessToken(_)) {
            return Err(GraphError::config(
                "no tenant: give --tenant or set AZURE_TENANT_ID (tenant id or a verified domain such as contoso.onmicrosoft.com)",
            ));
        }
        Ok((tenant, auth))
    }
}
