//! National clouds: which login and Graph hosts belong together, and the rule that plain
//! `http://` is only ever spoken to loopback (the simulated tenant).

use super::GraphError;
use reqwest::Url;
use std::net::IpAddr;

/// A Microsoft cloud; picks the login (identity platform) and Graph hosts.
/// Tokens of one cloud are not accepted by another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CloudEnv {
    /// Global Azure, including GCC.
    #[default]
    Global,
    /// US Government L4 (GCC High).
    #[value(name = "usgov")]
    UsGov,
    /// US Government L5 (DoD).
    #[value(name = "usgov-dod")]
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl CloudEnv {
    /// The identity platform host (no trailing slash).
    pub fn login_url(self) -> &'static str {
        match self {
            CloudEnv::Global => "https://login.microsoftonline.com",
            CloudEnv::UsGov | CloudEnv::UsGovDod => "https://login.microsoftonline.us",
            // Microsoft's pages disagree here: entra-docs (national clouds / authentication
            // endpoints) say login.partner.microsoftonline.cn, the Graph "deployments" page says
            // login.chinacloudapi.cn. The entra-docs host is the current one; the other still
            // answers for older apps. Use --login-url to pick the other if sign-in fails.
            CloudEnv::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The Graph service root without version (no trailing slash).
    pub fn graph_url(self) -> &'static str {
        match self {
            CloudEnv::Global => "https://graph.microsoft.com",
            CloudEnv::UsGov => "https://graph.microsoft.us",
            CloudEnv::UsGovDod => "https://dod-graph.microsoft.us",
            CloudEnv::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

/// The resolved hosts one client talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Identity platform root, e.g. `https://login.microsoftonline.com` (no trailing slash).
    pub login: String,
    /// Graph service root without version, e.g. `https://graph.microsoft.com` (no trailing slash).
    pub graph: String,
}

impl Endpoints {
    /// Picks the cloud's hosts, replaced by `graph_url` / `login_url` when given, and checks
    /// both (https, or http to loopback only).
    pub fn resolve(
        cloud: CloudEnv,
        graph_url: Option<&str>,
        login_url: Option<&str>,
    ) -> Result<Endpoints, GraphError> {
        let graph = check_base_url(graph_url.unwrap_or(cloud.graph_url()), "--graph-url")?;
        let login = check_base_url(login_url.unwrap_or(cloud.login_url()), "--login-url")?;
        if graph.ends_with("/v1.0") || graph.ends_with("/beta") {
            return Err(GraphError::config(format!(
                "--graph-url {graph} ends with a version; give the service root (e.g. https://graph.microsoft.com): hardmatch appends /v1.0 itself"
            )));
        }
        Ok(Endpoints { login, graph })
    }

    /// `<graph>/v1.0`, the root every Graph path is relative to.
    pub fn graph_v1(&self) -> String {
        format!("{}/v1.0", self.graph)
    }

    /// The scope for client credentials: `<graph>/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.graph)
    }

    /// `<login>/<tenant>/oauth2/v2.0/token`; also the `aud` of certificate assertions.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login, tenant)
    }

    /// `<login>/<tenant>/oauth2/v2.0/devicecode`.
    pub fn device_code_url(&self, tenant: &str) -> String {
        format!("{}/{}/oauth2/v2.0/devicecode", self.login, tenant)
    }
}

/// Parses a base URL and refuses anything but https, or http to a loopback host, so that a
/// token or secret never crosses a network in clear text.
pub fn check_base_url(raw: &str, flag: &str) -> Result<String, GraphError> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        GraphError::config(format!(
            "{flag} {raw:?} is not a URL ({e}); expected e.g. https://graph.microsoft.com"
        ))
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(GraphError::config(format!(
                "{flag} {raw} uses plain http to a host that is not loopback; tokens and secrets would cross the network unencrypted. Use https, or http only to 127.0.0.1 / ::1 / localhost (the simulated tenant)"
            )))
        }
        other => {
            return Err(GraphError::config(format!(
                "{flag} {raw}: scheme {other:?} is not supported; use https"
            )))
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(GraphError::config(format!(
            "{flag} {raw} must not have a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// True for `localhost`, 127.0.0.0/8 and ::1.
pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(h) if h.eq_ignore_ascii_case("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false),
        None => false,
    }
}
