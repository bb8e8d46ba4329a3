//! Microsoft Graph client: auth, HTTP with retries and pacing, JSON batching, and the operations
//! hardmatch needs. Knows HTTP and Graph's JSON ([`crate::wire`]); nothing about workbooks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hardmatch::graph::GraphError> {
//! use hardmatch::graph::{Auth, GraphClient, GraphConfig, Secret};
//! let config = GraphConfig::new(
//!     "contoso.onmicrosoft.com",
//!     Auth::ClientSecret { client_id: "app-id".into(), secret: Secret::new("…") },
//! );
//! let client = GraphClient::connect(config)?;
//! let users = client.list_users(|n| eprintln!("{n} users")).await?;
//! # Ok(()) }
//! ```
//!
//! # Set-up notes (for the README)
//!
//! - **Sign-in** ([`Auth`], flags in `src/cmd/graph_args.rs`): client secret or certificate
//!   (app-only, client credentials; PEM with cert + unencrypted key, or PFX with password;
//!   assertion PS256 + `x5t#S256`, or `--assertion-alg rs256` for RS256 + `x5t`), device code
//!   (an admin signs in; the app registration needs "Allow public client flows" = Yes and the
//!   delegated permissions below), or an access token from `HARDMATCH_ACCESS_TOKEN` /
//!   `--access-token-stdin`. `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
//!   `AZURE_CLIENT_CERTIFICATE_PATH`, `AZURE_CLIENT_CERTIFICATE_PASSWORD` are read like
//!   azure-identity's EnvironmentCredential; flags override them ([`AuthOptions`]).
//! - **Permissions** (application, or delegated for device code): `User.ReadWrite.All` to write
//!   `onPremisesImmutableId`; `User.DeleteRestore.All` to purge/restore deleted users;
//!   `User.Read.All` and `RoleManagement.Read.Directory` to read users and role assignments and
//!   eligibilities; `OnPremDirectorySynchronization.Read.All` for the tenant's sync features.
//!   Delegated sign-in also needs the User Administrator or Hybrid Identity Administrator role.
//! - **Clouds** (`--cloud`, [`CloudEnv`]): `global` (login.microsoftonline.com /
//!   graph.microsoft.com, incl. GCC), `usgov` (GCC High: login.microsoftonline.us /
//!   graph.microsoft.us), `usgov-dod` (login.microsoftonline.us / dod-graph.microsoft.us),
//!   `china` (login.partner.microsoftonline.cn / microsoftgraph.chinacloudapi.cn). Microsoft's
//!   pages disagree on China's login host: entra-docs say login.partner.microsoftonline.cn, the
//!   Graph deployments page says login.chinacloudapi.cn; pass `--login-url` for the other one.
//! - `--graph-url` is the service root *without* version (the client appends `/v1.0`);
//!   plain `http://` is accepted only for loopback hosts (the simulated tenant).
//! - **Unverified against the real service**: `$filter=onPremisesImmutableId in (…)` on
//!   `/directory/deletedItems/microsoft.graph.user`
//!   ([`GraphClient::find_deleted_users_by_immutable_ids`]); that requests answered 503/504 or
//!   429 `CPULimitExceeded` are not charged to the quotas (the pacer gives their cost back,
//!   [`pacing::Pacer::refund`]); that "fully sequential" means one chain in which each request
//!   depends on exactly the one before (Graph's wording; the client sends nothing else); that
//!   `GET /users/$count` answers a bare number (documented as `text/plain`).
//!
//! # Behaviour
//!
//! - One `client-request-id` GUID per logical request, kept across its retries; `request-id`,
//!   `date`, `x-ms-ags-diagnostic`, `x-ms-resource-unit`, `x-ms-throttle-limit-percentage` are
//!   logged at debug and kept in [`ApiError`].
//! - 429 waits `Retry-After` (fractional; real seconds at any clock scale) and holds what its
//!   `x-ms-throttle-information` names ([`Limit`]): writes for the write quota, everything for
//!   the resource-unit quota, only that request otherwise. Graph charges throttled requests
//!   too, so a held quota restarts empty and releases its waiters one by one at the quota rate
//!   (even with pacing off). Throttling is bounded by time ([`RetryPolicy::throttle_budget`]);
//!   503/504/resets back off exponentially with jitter, bounded by attempts; 400/403/404/409
//!   are never retried; a 401 signs in again once.
//! - A request whose answer was lost is *in doubt*: a DELETE that then gets 404 is done; a
//!   restore or a create is read back before it is reported as failed.
//! - `$batch`: fully parallel or one `dependsOn` chain per batch, as Graph requires;
//!   [`BatchObserver`] reports each item as it leaves and as soon as it is settled.
//! - [`PacingConfig`]: token buckets at the documented write (3,000 / 150 s) and read
//!   (8,000 RU / 10 s) quotas; slower while Graph reports `x-ms-throttle-limit-percentage`.
//! - [`GraphClient::stats`]: 429s and the time waited on them per limit, retried 5xx and
//!   network errors; logged at info (`-v`) when the client is dropped. Each retry is logged at
//!   info with its wait and the limit it names.
//! - Every wait goes through the [`Clock`] (real, scaled, or virtual for tests).
//!
//! Layout: [`auth`] (sign-in, token cache), [`cloud_env`] (national clouds, loopback rule),
//! `http` (request pipeline: ids, retries, logging), [`pacing`] (token buckets), `batch`
//! (`$batch`), `ops` (the operations), [`error`] (typed errors), [`clock`] (every wait).

#![warn(missing_docs)]

pub mod auth;
mod batch;
pub mod clock;
pub mod cloud_env;
mod credentials;
pub mod error;
mod http;
mod ops;
pub mod pacing;
mod secret;
mod stats;

pub use auth::{AssertionAlg, Auth, ClientCertificate};
pub use batch::{BatchObserver, BatchOutcome};
pub use clock::Clock;
pub use cloud_env::{CloudEnv, Endpoints};
pub use credentials::{AuthOptions, SignIn, ACCESS_TOKEN_ENV};
pub use error::{ApiError, GraphError, TokenFailure};
pub use http::{parse_retry_after, GraphResponse, RetryPolicy};
pub use ops::{partition_prefixes, ImmutableIdUpdate};
pub use pacing::{Cost, PacingConfig};
pub use secret::Secret;
pub use stats::{ByLimit, GraphStats, Limit};

use std::sync::Arc;
use std::time::Duration;

/// Everything needed to build a [`GraphClient`]. Start from [`GraphConfig::new`] and change fields.
#[derive(Clone)]
pub struct GraphConfig {
    /// Tenant id or verified domain.
    pub tenant: String,
    /// How to sign in.
    pub auth: Auth,
    /// National cloud: default hosts for login and Graph.
    pub cloud: CloudEnv,
    /// Graph service root *without* version (the client appends `/v1.0`); overrides `cloud`.
    pub graph_url: Option<String>,
    /// Identity platform root; overrides `cloud`.
    pub login_url: Option<String>,
    /// Retry bounds.
    pub retry: RetryPolicy,
    /// Client-side quotas.
    pub pacing: PacingConfig,
    /// `$batch` requests in flight (default 4).
    pub concurrency: usize,
    /// Listing partitions read in parallel by [`GraphClient::list_users_partitioned`]
    /// (default 16; reads are cheap in resource units, and listing is latency-bound).
    pub list_concurrency: usize,
    /// Requests per `$batch` (1–20, default 20).
    pub batch_size: usize,
    /// Refresh a token this long before it expires (default 5 min; at most half its lifetime).
    pub refresh_margin: Duration,
    /// Per-request timeout in real time (default 100 s).
    pub timeout: Duration,
    /// Time source for every wait; [`Clock::scaled`] compresses them (like the simulator's
    /// `--time-scale`), [`Clock::manual`] makes them virtual (tests).
    pub clock: Clock,
    /// Shows the device-code message (default: print to stderr).
    pub device_code_prompt: Arc<dyn Fn(&str) + Send + Sync>,
    /// Trusted in addition to the system's roots (`--ca-file`, e.g. `sim serve --tls`'s certificate).
    pub extra_root_certificates: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("tenant", &self.tenant)
            .field("auth", &self.auth)
            .field("cloud", &self.cloud)
            .field("graph_url", &self.graph_url)
            .field("login_url", &self.login_url)
            .field("retry", &self.retry)
            .field("pacing", &self.pacing)
            .field("concurrency", &self.concurrency)
            .field("list_concurrency", &self.list_concurrency)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl GraphConfig {
    /// Defaults for the global cloud: 6 attempts, Graph's documented quotas, concurrency 4.
    pub fn new(tenant: impl Into<String>, auth: Auth) -> GraphConfig {
        GraphConfig {
            tenant: tenant.into(),
            auth,
            cloud: CloudEnv::Global,
            graph_url: None,
            login_url: None,
            retry: RetryPolicy::default(),
            pacing: PacingConfig::default(),
            concurrency: 4,
            list_concurrency: 16,
            batch_size: 20,
            refresh_margin: Duration::from_secs(300),
            timeout: Duration::from_secs(100),
            clock: Clock::real(),
            device_code_prompt: Arc::new(|m: &str| eprintln!("{m}")),
            extra_root_certificates: Vec::new(),
        }
    }

    /// The hosts this configuration talks to (checked: https, or http to loopback).
    pub fn endpoints(&self) -> Result<Endpoints, GraphError> {
        Endpoints::resolve(
            self.cloud,
            self.graph_url.as_deref(),
            self.login_url.as_deref(),
        )
    }
}

/// A connected Graph client. Cheap to clone; clones share the token cache and the pacer.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    pipeline: http::Pipeline,
    concurrency: usize,
    list_concurrency: usize,
    batch_size: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let stats = self.pipeline.stats.snapshot();
        if !stats.is_quiet() {
            tracing::info!("Graph: {stats}");
        }
    }
}

impl GraphClient {
    /// Checks the configuration and builds the client. Signs in lazily, at the first request.
    pub fn connect(config: GraphConfig) -> Result<GraphClient, GraphError> {
        // reqwest is built without a default crypto provider (crates.md §0): install ring once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if config.tenant.trim().is_empty() && !matches!(config.auth, Auth::AccessToken(_)) {
            return Err(GraphError::config(
                "no tenant: give --tenant (or AZURE_TENANT_ID) as the tenant id or a verified domain",
            ));
        }
        let endpoints = config.endpoints()?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("hardmatch/", env!("CARGO_PKG_VERSION")))
            .https_only(false)
            .tls_certs_merge(config.extra_root_certificates.iter().cloned())
            .build()
            .map_err(|e| GraphError::config(format!("cannot build the HTTP client: {e}")))?;
        let tokens = auth::TokenProvider::new(
            auth::AuthContext {
                http: http.clone(),
                endpoints: endpoints.clone(),
                tenant: config.tenant.clone(),
                clock: config.clock.clone(),
                refresh_margin: config.refresh_margin,
                max_attempts: config.retry.max_attempts.max(1),
                prompt: config.device_code_prompt.clone(),
            },
            config.auth.clone(),
        );
        let root = endpoints.graph_v1();
        let origin = reqwest::Url::parse(&root)
            .map(|u| u.origin().ascii_serialization())
            .map_err(|e| GraphError::config(format!("bad Graph URL: {e}")))?;
        let mut retry = config.retry.clone();
        retry.max_attempts = retry.max_attempts.max(1);
        let pipeline = http::Pipeline {
            http,
            tokens,
            clock: config.clock.clone(),
            pacer: Arc::new(pacing::Pacer::new(
                config.pacing.clone(),
                config.clock.clone(),
            )),
            stats: Arc::new(stats::Recorder::new(config.clock.clone())),
            retry,
            root,
            origin,
        };
        Ok(GraphClient {
            inner: Arc::new(Inner {
                pipeline,
                concurrency: config.concurrency.max(1),
                list_concurrency: config.list_concurrency.max(1),
                batch_size: config.batch_size.clamp(1, 20),
            }),
        })
    }

    /// The `<graph>/v1.0` root requests go to.
    pub fn root(&self) -> &str {
        &self.inner.pipeline.root
    }

    /// What this client (and its clones) went through so far: 429s and the time waited on them
    /// per limit, retried 5xx answers and network errors, lost answers resolved.
    pub fn stats(&self) -> GraphStats {
        self.inner.pipeline.stats.snapshot()
    }

    /// The current pacing rate factor (1.0 = full quota; lower while Graph reports pressure).
    pub fn pacing_factor(&self) -> f64 {
        self.inner.pipeline.pacer.rate_factor()
    }

    /// Sends one request (path relative to `/v1.0`, or an absolute nextLink on the same host)
    /// through the pipeline: pacing, token, retries. For calls the typed operations lack.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<GraphResponse, GraphError> {
        let cost = Cost::of(method.as_str(), strip_root(url, self.root()));
        self.inner.pipeline.send(method, url, body, &[], cost).await
    }
}

/// `url` relative to `/v1.0`, for cost accounting of absolute nextLinks.
fn strip_root<'a>(url: &'a str, root: &str) -> &'a str {
    url.strip_prefix(root).unwrap_or(url)
}
