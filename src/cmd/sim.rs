//! `hardmatch sim serve`: run the simulated tenant (Graph `/v1.0` and the v2.0 token endpoints)
//! on 127.0.0.1, over http or (`--tls CERT_OUT.pem`) https with a fresh self-signed certificate.
//! The first line on stdout is the base URL; the rest goes to stderr.

use anyhow::Context as _;
use hardmatch::sim::{self, Faults, SimConfig, TenantState, ThrottleQuotas};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Serve a simulated tenant until Ctrl-C / SIGTERM.
    Serve(Box<ServeArgs>),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Tenant state (JSON): loaded if it exists, written atomically after every change and on exit.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Seed users (active and deleted) from a cloud export, when the state file does not exist yet.
    #[arg(long, value_name = "CLOUD_EXPORT")]
    seed: Option<PathBuf>,
    /// Start from N made-up users (UPNs over the whole alphabet, some ImmutableIds, some synced,
    /// N/100 deleted) when the state file does not exist yet; for benchmarks and rehearsals.
    #[arg(long, value_name = "N", conflicts_with = "seed")]
    synthetic: Option<usize>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve https with a fresh self-signed certificate for 127.0.0.1 and localhost, written
    /// (PEM) to this file before the URL is printed; point clients' CA settings at it.
    #[arg(long, value_name = "CERT_OUT.pem")]
    tls: Option<PathBuf>,
    /// Tenant id the token endpoint accepts (the --tenant of the commands that sign in to it).
    #[arg(long = "tenant", alias = "tenant-id", value_name = "ID", default_value = sim::DEFAULT_TENANT_ID)]
    tenant_id: String,
    /// Application (client) id it accepts (their --client-id).
    #[arg(long, value_name = "ID", default_value = sim::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Accepted client secret (default: the public dummy "sim-secret").
    #[arg(long, value_name = "S", hide_default_value = true)]
    client_secret: Option<String>,
    /// Certificate (PEM or DER) whose key may sign client assertions (their --certificate).
    #[arg(
        long = "certificate",
        alias = "client-certificate",
        value_name = "PEM_CERT_FILE"
    )]
    client_certificate: Option<PathBuf>,
    /// Simulated seconds per real second (throttle windows, token and device-code lifetimes).
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    time_scale: f64,
    /// Added latency per Graph request, real milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency: u64,
    /// Probability of an injected 429 per Graph request (and per $batch item).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    fault_429: f64,
    /// Probability of an injected 503.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    fault_503: f64,
    /// Probability of dropping the connection without an answer.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    fault_reset: f64,
    /// `Retry-After` of an injected 429, simulated seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    fault_retry_after: f64,
    /// Seed of the fault RNG (same seed, same faults for the same request sequence).
    #[arg(long, value_name = "N", default_value_t = 0x5151)]
    fault_seed: u64,
    /// Access-token lifetime, simulated seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3599)]
    token_lifetime: u64,
    /// Write quota per 150 s per app+tenant (Graph: 3,000).
    #[arg(long, value_name = "N", default_value_t = 3000.0)]
    write_quota: f64,
    /// Turn the throttling model off.
    #[arg(long)]
    no_throttle: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve(a) => serve(*a),
    }
}

fn probability(name: &str, p: f64) -> anyhow::Result<f64> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(hardmatch::InputError::new(
            format!("--{name}"),
            "",
            format!("{p} is not a probability"),
            "give a number between 0 and 1",
        )
        .into())
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    check_places(&a)?;
    let certificate = read_client_certificate(a.client_certificate.as_deref())?;
    let custom_secret = a.client_secret.is_some();
    let config = sim_config(&a, certificate)?;
    let state = initial_state(&a)?;
    run_until_stopped(config, state, a.tls, custom_secret)
}

/// What `serve` writes (the state file, the certificate) and `--time-scale`, checked before
/// anything starts.
fn check_places(a: &ServeArgs) -> anyhow::Result<()> {
    if let Some(state) = &a.state {
        // Written after every change: a missing folder must fail now, not at the first write.
        hardmatch::fsutil::check_output_place(state, "--state")?;
    }
    if let Some(cert_out) = &a.tls {
        // A fresh certificate each run, so an older one there is replaced (force); but never
        // one of the inputs, nor anything that is not a certificate file.
        let inputs: Vec<&std::path::Path> = [&a.state, &a.seed, &a.client_certificate]
            .into_iter()
            .flatten()
            .map(PathBuf::as_path)
            .collect();
        hardmatch::fsutil::check_output(
            cert_out,
            &hardmatch::fsutil::OutputRules {
                flag: "--tls",
                extensions: &["pem", "crt", "cer"],
                inputs: &inputs,
                example: "sim-ca.pem",
                force: true,
                describe: None,
            },
        )?;
    }
    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        return Err(hardmatch::InputError::new(
            "--time-scale",
            "",
            format!("{} is not a positive number", a.time_scale),
            "give how many simulated seconds pass per real second, e.g. 10",
        )
        .into());
    }
    Ok(())
}

/// The app's certificate (PEM or DER), as DER, checked to be an X.509 certificate.
fn read_client_certificate(path: Option<&std::path::Path>) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(p) = path else { return Ok(None) };
    let bytes = std::fs::read(p).map_err(|e| {
        hardmatch::InputError::new(
            p,
            "",
            format!("cannot read the certificate: {e}"),
            "give --certificate the certificate (public part) registered on the app",
        )
    })?;
    let der = match x509_parser::pem::parse_x509_pem(&bytes) {
        Ok((_, pem)) => pem.contents,
        Err(_) => bytes,
    };
    x509_parser::parse_x509_certificate(&der).map_err(|e| {
        hardmatch::InputError::new(
            p,
            "",
            format!("not a PEM or DER X.509 certificate ({e})"),
            "give the certificate (public part) registered on the app",
        )
    })?;
    Ok(Some(der))
}

fn sim_config(a: &ServeArgs, certificate: Option<Vec<u8>>) -> anyhow::Result<SimConfig> {
    Ok(SimConfig {
        tenant_id: a.tenant_id.clone(),
        client_id: a.client_id.clone(),
        client_secret: Some(
            a.client_secret
                .clone()
                .unwrap_or_else(|| sim::DEFAULT_CLIENT_SECRET.into()),
        ),
        client_certificate_der: certificate,
        time_scale: a.time_scale,
        faults: Faults {
            p429: probability("fault-429", a.fault_429)?,
            p503: probability("fault-503", a.fault_503)?,
            reset: probability("fault-reset", a.fault_reset)?,
            latency_ms: a.latency,
            retry_after_secs: a.fault_retry_after.max(0.0),
            ..Faults::default()
        },
        fault_seed: a.fault_seed,
        token_lifetime_secs: a.token_lifetime,
        throttle: ThrottleQuotas {
            enabled: !a.no_throttle,
            writes: a.write_quota,
            ..ThrottleQuotas::default()
        },
        state_file: a.state.clone(),
        port: a.port,
        tls: a.tls.is_some(),
        ..SimConfig::default()
    })
}

/// The tenant to start from: the state file if it exists, else the seed, else made-up users.
fn initial_state(a: &ServeArgs) -> anyhow::Result<TenantState> {
    let existing = match &a.state {
        Some(p) => {
            sim::load_state(p).with_context(|| format!("cannot load state {}", p.display()))?
        }
        None => None,
    };
    let state = match (existing, &a.seed, a.synthetic) {
        (Some(s), seed, synthetic) => {
            if seed.is_some() || synthetic.is_some() {
                eprintln!("sim: state file exists; --seed/--synthetic ignored");
            }
            s
        }
        (None, Some(seed), _) => sim::from_cloud_state(hardmatch::cloud::read_cloud_export(seed)?),
        (None, None, Some(n)) => TenantState::synthetic(n, a.fault_seed),
        (None, None, None) => TenantState::default(),
    };
    // A user Entra would refuse is bad input (exit 2), named with the file it came from.
    if let Err(why) = state.check_upns() {
        let file = a.seed.as_ref().or(a.state.as_ref());
        return Err(hardmatch::InputError::new(
            file.map_or_else(
                || std::path::PathBuf::from("(synthetic tenant)"),
                |f| f.clone(),
            ),
            "",
            why,
            "correct or remove that user in the file, then start the simulated tenant again",
        )
        .into());
    }
    Ok(state)
}

/// Serves until Ctrl-C or SIGTERM, then writes the final state.
fn run_until_stopped(
    config: SimConfig,
    state: TenantState,
    tls: Option<PathBuf>,
    custom_secret: bool,
) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let handle = sim::start(config, state).await.context("cannot start the simulated tenant")?;
        // The certificate is on disk before the URL is printed: a script that waits for the URL
        // can trust it at once.
        if let (Some(path), Some(pem)) = (&tls, handle.certificate_pem()) {
            hardmatch::fsutil::write_atomic(path, pem.as_bytes())
                .with_context(|| format!("cannot write the certificate to {}", path.display()))?;
            eprintln!(
                "sim: https with a self-signed certificate for 127.0.0.1 and localhost, written to {}; trust it with hardmatch --ca-file, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE or SSL_CERT_FILE",
                path.display()
            );
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", handle.base_url())?;
            out.flush()?;
        }
        let s = handle.state();
        // The default secret is a public dummy, so it is shown; one given with --client-secret is not.
        let secret = if custom_secret {
            "the one given with --client-secret".to_string()
        } else {
            format!("{} (public dummy)", sim::DEFAULT_CLIENT_SECRET)
        };
        eprintln!(
            "sim: tenant {} · client id {} · client secret {secret} · {} users, {} deleted",
            handle.tenant_id(),
            handle.client_id(),
            s.users.len(),
            s.deleted_users.len()
        );
        if s.users.is_empty() {
            eprintln!("sim: the tenant has no users: give --seed CLOUD_EXPORT (e.g. samples/cloud-users.csv) or --synthetic N to start from some");
        }
        eprintln!("sim: Graph at {0}/v1.0, token endpoint {0}/{1}/oauth2/v2.0/token; Ctrl-C to stop", handle.base_url(), handle.tenant_id());
        wait_for_signal().await;
        eprintln!("sim: stopping");
        handle.shutdown().await.context("cannot write the final state")?;
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
