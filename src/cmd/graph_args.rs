//! The flags every command that talks to Microsoft Graph shares (`#[command(flatten)]` a
//! [`GraphArgs`]): tenant, sign-in, cloud and hosts, retries and pacing. Secrets are read from
//! the environment preferably; they never appear in `Debug` output or logs.

use anyhow::Context;
use hardmatch::graph::{
    AssertionAlg, AuthOptions, Clock, CloudEnv, GraphConfig, PacingConfig, RetryPolicy, Secret,
    SignIn,
};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// Graph connection flags. Environment variables follow azure-identity's EnvironmentCredential
/// (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH,
/// AZURE_CLIENT_CERTIFICATE_PASSWORD); flags override them.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// Tenant id or verified domain [env: AZURE_TENANT_ID].
    #[arg(long, value_name = "ID", help_heading = "Microsoft Graph")]
    pub tenant: Option<String>,

    /// Application (client) id of the app registration [env: AZURE_CLIENT_ID].
    #[arg(long, value_name = "ID", help_heading = "Microsoft Graph")]
    pub client_id: Option<String>,

    /// Client secret. Prefer AZURE_CLIENT_SECRET: command lines are visible to other local users.
    #[arg(long, value_name = "SECRET", help_heading = "Microsoft Graph")]
    pub client_secret: Option<Secret>,

    /// Certificate: PEM (certificate + unencrypted private key) or PFX/P12 [env: AZURE_CLIENT_CERTIFICATE_PATH].
    #[arg(long, value_name = "FILE", help_heading = "Microsoft Graph")]
    pub certificate: Option<PathBuf>,

    /// Password of the PFX [env: AZURE_CLIENT_CERTIFICATE_PASSWORD].
    #[arg(long, value_name = "PASSWORD", help_heading = "Microsoft Graph")]
    pub certificate_password: Option<Secret>,

    /// Client assertion form: ps256 (x5t#S256, current) or rs256 (x5t, older).
    #[arg(long, value_enum, default_value_t = AssertionAlg::Ps256, help_heading = "Microsoft Graph")]
    pub assertion_alg: AssertionAlg,

    /// Sign in as an admin in a browser (device code flow; the app needs "Allow public client flows").
    #[arg(long, help_heading = "Microsoft Graph")]
    pub device_code: bool,

    /// Read an access token from stdin (or set HARDMATCH_ACCESS_TOKEN). It cannot be refreshed.
    #[arg(long, help_heading = "Microsoft Graph")]
    pub access_token_stdin: bool,

    /// National cloud: picks the login and Graph hosts.
    #[arg(long, visible_alias = "national-cloud", value_enum, default_value_t = CloudEnv::Global, help_heading = "Microsoft Graph")]
    pub cloud: CloudEnv,

    /// Graph service root without version, e.g. the simulated tenant's URL (hardmatch appends /v1.0).
    #[arg(long, value_name = "URL", help_heading = "Microsoft Graph")]
    pub graph_url: Option<String>,

    /// Identity platform root (token endpoint is <URL>/<tenant>/oauth2/v2.0/token).
    #[arg(long, value_name = "URL", help_heading = "Microsoft Graph")]
    pub login_url: Option<String>,

    /// Also trust the CA certificate(s) in this PEM file, e.g. the one `sim serve --tls` wrote.
    #[arg(long, value_name = "FILE", help_heading = "Microsoft Graph")]
    pub ca_file: Option<PathBuf>,

    /// Attempts per request before giving up on 503/504 and network errors (429s are waited
    /// out within --throttle-budget instead).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 6,
        help_heading = "Microsoft Graph"
    )]
    pub max_attempts: u32,

    /// $batch requests in flight (20 requests each): the role reads, and apply's writes.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        help_heading = "Microsoft Graph"
    )]
    pub concurrency: usize,

    /// Parallel listing partitions when reading all users.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        help_heading = "Microsoft Graph"
    )]
    pub list_concurrency: usize,

    /// Writes allowed per write window (Graph: 3,000 per 150 s per app and tenant).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3000,
        help_heading = "Microsoft Graph"
    )]
    pub write_quota: u32,

    /// Length of the write window in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 150.0,
        help_heading = "Microsoft Graph"
    )]
    pub write_window: f64,

    /// Read resource units per read window. Graph allows 3,500 (tenants under 50 users), 5,000
    /// (50-500) or 8,000 (over 500); the default fits every tenant, raise it for a large one.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3500,
        help_heading = "Microsoft Graph"
    )]
    pub read_quota: u32,

    /// Length of the read window in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 10.0,
        help_heading = "Microsoft Graph"
    )]
    pub read_window: f64,

    /// For measurements only, not for real runs: do not pace requests to the quotas above until
    /// Graph throttles one. Graph charges throttled requests too, so this is slower and
    /// risks failed writes; after a 429 the throttled quota is paced anyway.
    #[arg(long, help_heading = "Microsoft Graph")]
    pub no_pacing: bool,

    /// How long one request keeps waiting out Graph's throttling (429s) before it fails.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 900.0,
        help_heading = "Microsoft Graph"
    )]
    pub throttle_budget: f64,

    /// Rehearsals only: simulated time runs F times faster, as with `sim serve --time-scale F`, so
    /// pacing windows, backoffs and token refresh margins shrink by F. What the server says
    /// (Retry-After, token lifetimes) is real time already and is not shrunk again.
    #[arg(long, value_name = "F", default_value_t = 1.0, hide = true)]
    pub time_scale: f64,
}

impl GraphArgs {
    /// The client configuration (flags, then the process environment, then stdin for
    /// `--access-token-stdin`), and which sign-in method it chose from where. Says so on stderr:
    /// at `-v` always, and by default when another method set in the environment is not used
    /// (a forgotten variable must not decide silently); warns of secrets on the command line.
    pub fn sign_in(&self) -> anyhow::Result<(GraphConfig, SignIn)> {
        let access_token = if self.access_token_stdin {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("--access-token-stdin: cannot read stdin")?;
            Some(Secret::new(s))
        } else {
            None
        };
        let options = AuthOptions {
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            certificate: self.certificate.clone(),
            certificate_password: self.certificate_password.clone(),
            assertion_alg: self.assertion_alg,
            device_code: self.device_code,
            access_token,
        };
        let (tenant, auth, sign_in) = options.resolve_sign_in(&|k| std::env::var(k).ok())?;
        self.announce(&sign_in);
        let secs = |s: f64, flag: &str| -> anyhow::Result<Duration> {
            anyhow::ensure!(
                s.is_finite() && s > 0.0,
                "{flag} must be a positive number of seconds"
            );
            Ok(Duration::from_secs_f64(s))
        };
        anyhow::ensure!(self.max_attempts >= 1, "--max-attempts must be at least 1");
        let mut config = GraphConfig::new(tenant, auth);
        config.cloud = self.cloud;
        config.graph_url = self.graph_url.clone();
        config.login_url = self.login_url.clone();
        if let Some(path) = &self.ca_file {
            config.extra_root_certificates = ca_certificates(path)?;
        }
        config.retry = RetryPolicy {
            max_attempts: self.max_attempts,
            throttle_budget: secs(self.throttle_budget, "--throttle-budget")?,
            ..RetryPolicy::default()
        };
        config.concurrency = self.concurrency.max(1);
        config.list_concurrency = self.list_concurrency.max(1);
        config.pacing = PacingConfig {
            enabled: !self.no_pacing,
            writes_per_window: self.write_quota,
            write_window: secs(self.write_window, "--write-window")?,
            read_units_per_window: self.read_quota,
            read_window: secs(self.read_window, "--read-window")?,
            ..PacingConfig::default()
        };
        if self.time_scale != 1.0 {
            anyhow::ensure!(
                self.time_scale.is_finite() && self.time_scale > 0.0,
                "--time-scale must be positive"
            );
            // The sim's F means "F times faster"; the clock's factor multiplies each wait.
            config.clock = Clock::scaled(1.0 / self.time_scale);
        }
        // Fail on bad URLs now, with the flag's name, rather than at the first request.
        config.endpoints()?;
        Ok((config, sign_in))
    }

    /// The flags given with a value other than their default, by name: for the warning when
    /// they cannot matter (`plan` with export files reads nothing from Graph).
    pub fn given(&self) -> Vec<&'static str> {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            graph: GraphArgs,
        }
        let d = <Defaults as clap::Parser>::parse_from(["hardmatch"]).graph;
        let flags = [
            (self.tenant.is_some(), "--tenant"),
            (self.client_id.is_some(), "--client-id"),
            (self.client_secret.is_some(), "--client-secret"),
            (self.certificate.is_some(), "--certificate"),
            (
                self.certificate_password.is_some(),
                "--certificate-password",
            ),
            (self.assertion_alg != d.assertion_alg, "--assertion-alg"),
            (self.device_code, "--device-code"),
            (self.access_token_stdin, "--access-token-stdin"),
            (self.cloud != d.cloud, "--national-cloud"),
            (self.graph_url.is_some(), "--graph-url"),
            (self.login_url.is_some(), "--login-url"),
            (self.ca_file.is_some(), "--ca-file"),
            (self.max_attempts != d.max_attempts, "--max-attempts"),
            (self.concurrency != d.concurrency, "--concurrency"),
            (
                self.list_concurrency != d.list_concurrency,
                "--list-concurrency",
            ),
            (self.write_quota != d.write_quota, "--write-quota"),
            (self.write_window != d.write_window, "--write-window"),
            (self.read_quota != d.read_quota, "--read-quota"),
            (self.read_window != d.read_window, "--read-window"),
            (self.no_pacing, "--no-pacing"),
            (self.time_scale != d.time_scale, "--time-scale"),
        ];
        flags
            .into_iter()
            .filter_map(|(given, name)| given.then_some(name))
            .collect()
    }

    fn announce(&self, sign_in: &SignIn) {
        tracing::info!(
            client_id_from = sign_in.client_id_source,
            tenant_from = sign_in.tenant_source,
            not_used = ?sign_in.not_used,
            "signing in with {sign_in}"
        );
        if sign_in.environment_decided() {
            eprintln!(
                "note: signing in with {sign_in}; also set but not used: {} (the README's \"Signing in\" lists the order)",
                sign_in.not_used.join(", ")
            );
        }
        for (given, flag, variable) in [
            (
                self.client_secret.is_some(),
                "--client-secret",
                "AZURE_CLIENT_SECRET",
            ),
            (
                self.certificate_password.is_some(),
                "--certificate-password",
                "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            ),
        ] {
            if given {
                eprintln!(
                    "warning: {flag} on the command line can be read by other local users (ps, /proc) and stays \
                     in the shell history; set {variable} instead"
                );
            }
        }
    }
}

/// The certificates of a PEM file given with `--ca-file`; a file without any is an input error.
fn ca_certificates(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let bad = |why: String| {
        hardmatch::InputError::new(
            path,
            "",
            why,
            "give a PEM file with the CA certificate(s) to trust (BEGIN CERTIFICATE blocks)",
        )
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()).into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use hardmatch::graph::Auth;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        graph: GraphArgs,
    }

    fn parse(args: &[&str]) -> GraphArgs {
        let mut argv = vec![
            "hardmatch",
            "--tenant",
            "t1",
            "--client-id",
            "app",
            "--client-secret",
            "s3cret-flag",
        ];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().graph
    }

    #[test]
    fn flags_build_the_client_config() {
        let cfg = parse(&[
            "--cloud",
            "usgov-dod",
            "--write-quota",
            "600",
            "--write-window",
            "30",
            "--max-attempts",
            "3",
            "--concurrency",
            "9",
        ])
        .sign_in()
        .unwrap()
        .0;
        assert_eq!(cfg.tenant, "t1");
        assert!(
            matches!(&cfg.auth, Auth::ClientSecret { client_id, secret } if client_id == "app" && secret.expose() == "s3cret-flag")
        );
        assert_eq!(
            cfg.endpoints().unwrap().graph,
            "https://dod-graph.microsoft.us"
        );
        assert_eq!(cfg.pacing.writes_per_window, 600);
        assert_eq!(cfg.pacing.write_window, Duration::from_secs(30));
        assert_eq!((cfg.retry.max_attempts, cfg.concurrency), (3, 9));
        assert!(
            !format!("{:?}", parse(&[])).contains("s3cret-flag"),
            "Debug of the flags hides the secret"
        );
    }

    #[test]
    fn bad_hosts_fail_before_any_request() {
        let err = parse(&["--graph-url", "http://graph.example.org"])
            .sign_in()
            .unwrap_err();
        assert!(format!("{err:#}").contains("loopback"), "{err:#}");
        assert!(parse(&[
            "--graph-url",
            "http://127.0.0.1:4000",
            "--login-url",
            "http://127.0.0.1:4000"
        ])
        .sign_in()
        .is_ok());
    }
}
