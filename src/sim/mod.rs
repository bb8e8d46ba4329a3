//! A simulated tenant that answers like Microsoft Graph and the identity platform's token
//! endpoint (graph-behaviour.md), so the same client code is exercised without reaching
//! Microsoft. Shares only [`crate::wire`] with the client.
//!
//! In-process use (tests, benchmarks):
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hardmatch::sim::{self, SimConfig, TenantState};
//! let sim = sim::start(SimConfig::default(), TenantState::default()).await?;
//! let graph_root = sim.base_url(); // client appends /v1.0
//! # let _ = graph_root;
//! sim.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Outside `/v1.0` and the token endpoints, `/sim/…` holds test hooks that Graph does not have:
//! `POST /sim/devicecode/approve` and `POST /sim/devicecode/decline` (form or JSON `user_code`).

mod auth;
mod batch;
mod clock;
mod faults;
mod filter;
mod log;
mod payload;
mod query;
mod routes;
mod state;
mod throttle;
mod tls;
mod users;

pub use clock::SimClock;
pub use faults::{Fault, Faults, ResetPoint};
pub use log::{LoggedRequest, SimStats};
pub use state::{
    builtin_role_definitions, from_cloud_state, mangle_deleted_upn, upn_problem, Tenant,
    TenantState, GLOBAL_ADMINISTRATOR, HELPDESK_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR,
    REPORTS_READER, USER_ADMINISTRATOR,
};
pub use throttle::ThrottleQuotas;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Well-known defaults (documented in the README): a dummy tenant, app and secret.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-4000-8000-000000005151";
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-4000-8000-0000000c11e7";
pub const DEFAULT_CLIENT_SECRET: &str = "sim-secret";

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub tenant_id: String,
    pub client_id: String,
    /// `None` disables secret auth.
    pub client_secret: Option<String>,
    /// DER of the registered certificate for client assertions.
    pub client_certificate_der: Option<Vec<u8>>,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Use a manual clock ([`SimHandle::advance_clock`]) instead of real time × scale. Only for
    /// tests that never sleep: a client waiting out `Retry-After` would wait forever.
    pub manual_clock: bool,
    pub faults: Faults,
    pub fault_seed: u64,
    /// Access-token lifetime in simulated seconds.
    pub token_lifetime_secs: u64,
    pub device_code_lifetime_secs: u64,
    pub device_code_interval_secs: u64,
    pub throttle: ThrottleQuotas,
    /// Persist here (atomically) after changes and on shutdown.
    pub state_file: Option<PathBuf>,
    /// 0 = any free port. Always 127.0.0.1.
    pub port: u16,
    /// Return `$batch` responses in a shuffled order (Graph may reorder them).
    pub shuffle_batch_responses: bool,
    /// How many requests [`SimHandle::requests`] keeps (oldest dropped first).
    pub request_log_capacity: usize,
    /// Serve https with a fresh self-signed certificate for `127.0.0.1` and `localhost`
    /// ([`SimHandle::certificate_pem`]); plain http otherwise.
    pub tls: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            tenant_id: DEFAULT_TENANT_ID.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: Some(DEFAULT_CLIENT_SECRET.into()),
            client_certificate_der: None,
            time_scale: 1.0,
            manual_clock: false,
            faults: Faults::default(),
            fault_seed: 0x5151,
            token_lifetime_secs: 3599,
            device_code_lifetime_secs: 900,
            device_code_interval_secs: 5,
            throttle: ThrottleQuotas::default(),
            state_file: None,
            port: 0,
            shuffle_batch_responses: true,
            request_log_capacity: 100_000,
            tls: false,
        }
    }
}

pub(crate) struct Sim {
    pub cfg: SimConfig,
    pub base_url: String,
    pub clock: SimClock,
    pub tenant: Mutex<Tenant>,
    pub auth: Mutex<auth::AuthState>,
    pub throttle: Mutex<(throttle::Throttle, ThrottleQuotas)>,
    pub faults: Mutex<(Faults, fastrand::Rng)>,
    pub log: Mutex<log::RequestLog>,
    pub dirty: tokio::sync::Notify,
    pub persist_lock: Mutex<()>,
    /// The served certificate (PEM) with `SimConfig::tls`.
    pub certificate_pem: Option<String>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    pub fn changed(&self) {
        self.dirty.notify_one();
    }

    fn persist(&self) -> io::Result<()> {
        let Some(path) = &self.cfg.state_file else {
            return Ok(());
        };
        let _one_writer = lock(&self.persist_lock);
        let state = lock(&self.tenant).to_state();
        let bytes = serde_json::to_vec_pretty(&state).map_err(io::Error::other)?;
        crate::fsutil::write_atomic(path, &bytes)
    }
}

/// A running simulated tenant. Dropping it stops the server (without the final persist; call
/// [`SimHandle::shutdown`] for that).
pub struct SimHandle {
    sim: Arc<Sim>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

/// Load the state file if it exists, else `TenantState::default()`.
pub fn load_state(path: &std::path::Path) -> io::Result<Option<TenantState>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Bind 127.0.0.1 and serve on the current tokio runtime.
pub async fn start(config: SimConfig, state: TenantState) -> io::Result<SimHandle> {
    // Entra would never hold these; a test or rehearsal built on one would prove nothing.
    state
        .check_upns()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let tls = if config.tls {
        Some(tls::Tls::generate()?)
    } else {
        None
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let clock = if config.manual_clock {
        SimClock::manual()
    } else {
        SimClock::scaled(config.time_scale)
    };
    let sim = Arc::new(Sim {
        base_url: format!("{scheme}://{addr}"),
        clock,
        tenant: Mutex::new(Tenant::from_state(state)),
        auth: Mutex::new(auth::AuthState::default()),
        throttle: Mutex::new((throttle::Throttle::default(), config.throttle.clone())),
        faults: Mutex::new((
            config.faults.clone(),
            fastrand::Rng::with_seed(config.fault_seed),
        )),
        log: Mutex::new(log::RequestLog::new(config.request_log_capacity)),
        dirty: tokio::sync::Notify::new(),
        persist_lock: Mutex::new(()),
        certificate_pem: tls.as_ref().map(|t| t.certificate_pem.clone()),
        cfg: config,
    });
    // Seeded ids and mangled UPNs are a change worth keeping.
    sim.persist()?;

    let app = axum::Router::new()
        .fallback(routes::entry)
        .with_state(sim.clone())
        .into_make_service_with_connect_info::<ConnHandle>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let incoming = match &tls {
        Some(t) => Incoming::Tls(t.serve(listener)),
        None => Incoming::Plain(listener),
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(ResettableListener(incoming), app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    let writer = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let mut pause = std::time::Duration::from_millis(50);
            loop {
                sim.dirty.notified().await;
                // Debounce: one write per burst of changes, and never more than about a third
                // of the time spent writing (a million-user state takes a while to serialise).
                tokio::time::sleep(pause).await;
                let s = sim.clone();
                let started = std::time::Instant::now();
                match tokio::task::spawn_blocking(move || s.persist()).await {
                    Ok(Err(e)) => tracing::error!("sim: cannot write state: {e}"),
                    Err(e) => tracing::error!("sim: state writer failed: {e}"),
                    Ok(Ok(())) => {}
                }
                pause = (started.elapsed() * 2).max(std::time::Duration::from_millis(50));
            }
        })
    };
    Ok(SimHandle {
        sim,
        addr,
        stop: Some(stop_tx),
        server: Some(server),
        writer: Some(writer),
    })
}

impl SimHandle {
    /// `http://127.0.0.1:PORT` (`https://` with `SimConfig::tls`): the Graph root (append
    /// `/v1.0`) and the login authority.
    pub fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }
    /// The self-signed certificate served with `SimConfig::tls` (PEM), for clients to trust.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.sim.certificate_pem.as_deref()
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn tenant_id(&self) -> &str {
        &self.sim.cfg.tenant_id
    }
    pub fn client_id(&self) -> &str {
        &self.sim.cfg.client_id
    }
    /// `<base>/<tenant>/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.sim.base_url, self.sim.cfg.tenant_id
        )
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.sim.log).entries.iter().cloned().collect()
    }
    pub fn clear_requests(&self) {
        lock(&self.sim.log).entries.clear();
    }
    pub fn stats(&self) -> SimStats {
        lock(&self.sim.log).stats.clone()
    }
    /// A snapshot of the tenant.
    pub fn state(&self) -> TenantState {
        lock(&self.sim.tenant).to_state()
    }
    /// Change the tenant in place (re-indexes; meant for test set-up). Not checked against
    /// Entra's rules, so a test can build a tenant from before them (e.g. a non-ASCII UPN).
    pub fn update_state(&self, f: impl FnOnce(&mut TenantState)) {
        let mut t = lock(&self.sim.tenant);
        let mut s = t.to_state();
        f(&mut s);
        *t = Tenant::from_state(s);
        drop(t);
        self.sim.changed();
    }
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.sim.faults).0 = faults;
    }
    pub fn faults(&self) -> Faults {
        lock(&self.sim.faults).0.clone()
    }
    pub fn set_throttle(&self, quotas: ThrottleQuotas) {
        lock(&self.sim.throttle).1 = quotas;
    }
    /// Simulated seconds since start.
    pub fn now(&self) -> f64 {
        self.sim.clock.now()
    }
    /// Jump simulated time forward (either clock kind); e.g. past a token's lifetime.
    pub fn advance_clock(&self, secs: f64) -> bool {
        self.sim.clock.advance(secs)
    }
    /// Approve a pending device code as if the user signed in; false if unknown.
    pub fn approve_device_code(&self, user_code: &str) -> bool {
        lock(&self.sim.auth).set_device_status(user_code, auth::DeviceStatus::Approved)
    }
    pub fn decline_device_code(&self, user_code: &str) -> bool {
        lock(&self.sim.auth).set_device_status(user_code, auth::DeviceStatus::Declined)
    }
    /// User codes of device codes still pending (for tests that do not parse the message).
    pub fn pending_user_codes(&self) -> Vec<String> {
        lock(&self.sim.auth).pending_user_codes()
    }
    /// Lifetime (simulated seconds) of tokens issued from now on; short ones force refreshes.
    pub fn set_token_lifetime(&self, secs: u64) {
        lock(&self.sim.auth).lifetime_override = Some(secs);
    }
    /// Invalidate every issued access token (the next call gets 401).
    pub fn revoke_tokens(&self) {
        lock(&self.sim.auth).tokens.clear();
    }
    /// Write the state file now (no-op without `state_file`).
    pub fn persist(&self) -> io::Result<()> {
        self.sim.persist()
    }
    /// Stop serving, then persist the final state.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.writer.take() {
            w.abort();
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s).await;
        }
        self.sim.persist()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(w) = self.writer.take() {
            w.abort();
        }
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }
}

/// Accepts connections (plain, or TLS already handshaken) whose I/O can be made to fail from a
/// handler, so an injected "connection reset" closes the socket (with RST, linger 0) instead of
/// sending a response.
struct ResettableListener(Incoming);

enum Incoming {
    Plain(TcpListener),
    Tls(tokio::sync::mpsc::Receiver<tokio_rustls::server::TlsStream<TcpStream>>),
}

#[derive(Clone, Debug)]
pub(crate) struct ConnHandle {
    kill: Arc<AtomicBool>,
}

impl ConnHandle {
    pub fn reset(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl axum::serve::Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = ConnHandle;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let inner = match &mut self.0 {
            Incoming::Plain(listener) => loop {
                match TcpListener::accept(listener).await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        break Conn::Plain(stream);
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
            },
            Incoming::Tls(rx) => match rx.recv().await {
                Some(stream) => Conn::Tls(Box::new(stream)),
                // The acceptor is gone: nothing will ever arrive.
                None => std::future::pending().await,
            },
        };
        let kill = Arc::new(AtomicBool::new(false));
        (
            ResettableStream {
                inner,
                kill: kill.clone(),
            },
            ConnHandle { kill },
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(ConnHandle {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ResettableListener>>
    for ConnHandle
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, ResettableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

pub(crate) struct ResettableStream {
    inner: Conn,
    kill: Arc<AtomicBool>,
}

impl ResettableStream {
    fn check(&self) -> io::Result<()> {
        if self.kill.load(Ordering::SeqCst) {
            let tcp = match &self.inner {
                Conn::Plain(s) => s,
                Conn::Tls(s) => s.get_ref().0,
            };
            // Zero linger: closing sends RST, which is what a client sees on a real reset.
            #[allow(deprecated)]
            let _ = tcp.set_linger(Some(std::time::Duration::ZERO));
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "sim: injected reset",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        match &mut self.inner {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        match &mut self.inner {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        match &mut self.inner {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
