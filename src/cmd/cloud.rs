//! `hardmatch cloud export`: read the tenant live from Microsoft Graph (active users, the recycle
//! bin, privileged roles, the sync features) and write the snapshot `plan --cloud` reads.
//! Also holds what every live read shares: connecting from the Graph flags and the progress bar.

use crate::cmd::graph_args::GraphArgs;
use crate::cmd::output;
use anyhow::Context;
use hardmatch::cloud::export::{self, ExportFormat, SnapshotInfo};
use hardmatch::cloud::live::{self, LiveOptions, Stage};
use hardmatch::cloud::CloudState;
use hardmatch::fsutil::CheckedOutput;
use hardmatch::graph::{Clock, GraphClient, GraphError, SignIn};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CloudCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CloudCommand {
    /// Write a live snapshot of the tenant's users (active and soft-deleted) for `plan --cloud`.
    #[command(
        // It only reads: the write pacing is apply's.
        mut_arg("write_quota", |a| a.hide(true)),
        mut_arg("write_window", |a| a.hide(true)),
        after_help = "Examples:\n  \
        AZURE_CLIENT_SECRET=… hardmatch cloud export --tenant contoso.onmicrosoft.com --client-id APP_ID -o cloud.xlsx\n  \
        hardmatch cloud export --tenant ID --client-id APP_ID --device-code -o cloud.csv   (also writes cloud-deleted.csv and cloud-tenant.csv)")]
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output: .xlsx (deleted users on a "Deleted users" sheet, the tenant's sync features on
    /// "Tenant") or .csv (plus <stem>-deleted.csv and <stem>-tenant.csv).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace existing files; each one there now is kept as <stem>.bak.<ext>.
    #[arg(long)]
    pub force: bool,
    /// Page through all users one page at a time instead of reading UPN partitions in parallel.
    #[arg(long)]
    pub sequential: bool,
    /// Do not read privileged role assignments and eligibilities (no PrivilegedRoles column).
    #[arg(long)]
    pub no_roles: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// A bad flag found after clap parsed: exit code 2, like clap's own usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        CloudCommand::Export(a) => export_cmd(a),
    }
}

fn export_cmd(args: ExportArgs) -> anyhow::Result<ExitCode> {
    // Refuse a bad or taken output name before spending minutes reading the tenant.
    let mut checked = Vec::new();
    for file in export::snapshot_files(&args.output)? {
        let ext = file
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        checked.push(output::check(
            &file,
            "-o",
            &["xlsx", "csv"],
            &format!("cloud.{ext}"),
            &[],
            args.force,
        )?);
    }
    let options = LiveOptions {
        partitioned: !args.sequential,
        roles: !args.no_roles,
        tenant: String::new(),
    };
    let (state, info) = read_tenant(&args.graph, options)?;
    for w in &state.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(f) = &state.features {
        if f.block_cloud_object_takeover_through_hard_match {
            eprintln!(
                "warning: the tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled turned on: Entra Connect \
                 will refuse every hard match (sync error InvalidHardMatch) until it is turned off \
                 (Update-MgDirectoryOnPremiseSynchronization, Features). The snapshot records it, so a plan made \
                 from it warns too."
            );
        }
    }
    let backups = checked
        .iter()
        .map(CheckedOutput::keep_previous)
        .collect::<Result<Vec<_>, _>>()
        .context("keeping a backup of the previous snapshot")?;
    let written = export::write_export(&args.output, &state, &info)
        .with_context(|| format!("writing the snapshot {}", args.output.display()))?;
    println!(
        "Exported {} active and {} soft-deleted users:",
        state.users.len(),
        state.deleted.len()
    );
    for p in &written {
        println!("  {}", p.display());
    }
    for b in backups.into_iter().flatten() {
        println!("  (the previous file is kept as {})", b.keep().display());
    }
    if export::ExportFormat::from_path(&args.output)? == ExportFormat::Csv {
        // The -tenant.csv is found beside the first file; only the users' files are named.
        let args: Vec<String> = written
            .iter()
            .take(2)
            .map(|p| format!("--cloud {}", p.display()))
            .collect();
        println!("Plan with: hardmatch plan AD_EXPORT {}", args.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

/// A failure talking to Graph or signing in, with the sign-in it happened under, so the
/// message names the method and where its credential came from, and says what to do when the
/// sign-in was refused. Exit 3, as the [`GraphError`] it holds.
#[derive(Debug)]
pub struct TenantError {
    pub error: GraphError,
    /// What was being done: "reading the tenant from https://graph.microsoft.com/v1.0".
    pub doing: String,
    pub sign_in: SignIn,
}

impl std::fmt::Display for TenantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, signed in with {}: {}",
            self.doing, self.sign_in, self.error
        )?;
        let refused =
            matches!(self.error, GraphError::Token(_)) || self.error.status() == Some(401);
        let has_fix = matches!(&self.error, GraphError::Token(t) if t.hint.is_some());
        if refused && !has_fix {
            write!(f, "\n  fix: {}", self.sign_in.hint_on_refusal())?;
        }
        Ok(())
    }
}

impl std::error::Error for TenantError {}

/// Connects with the Graph flags. Flag and configuration mistakes become [`UsageError`]s
/// (exit 2); failures talking to Graph stay errors of their own (exit 3). The device-code
/// message is printed above the progress bar, not through it.
pub fn connect(graph: &GraphArgs, bar: &ProgressBar) -> anyhow::Result<Connected> {
    let (mut config, sign_in) = graph.sign_in().map_err(|e| UsageError(format!("{e:#}")))?;
    let shown = bar.clone();
    config.device_code_prompt = Arc::new(move |m: &str| shown.suspend(|| eprintln!("{m}")));
    let tenant = config.tenant.clone();
    let clock = config.clock.clone();
    let max_attempts = config.retry.max_attempts;
    let client = GraphClient::connect(config).map_err(|e| UsageError(e.to_string()))?;
    Ok(Connected {
        client,
        tenant,
        sign_in,
        clock,
        max_attempts,
    })
}

/// A client ready to use, and what the messages around its calls need.
pub struct Connected {
    pub client: GraphClient,
    /// The tenant signed in to, as given.
    pub tenant: String,
    /// Which sign-in, from where (for [`TenantError`]).
    pub sign_in: SignIn,
    /// The client's clock, for waits that must scale with `--time-scale` as its own do.
    pub clock: Clock,
    pub max_attempts: u32,
}

/// How long nothing may be read before stderr says the run is still waiting.
const STALL: Duration = Duration::from_secs(5);

/// Says so on stderr when nothing has been read for [`STALL`]: a dead `--graph-url`, a network
/// that drops packets or a long throttling wait would otherwise look like a hang, since each
/// retry is only logged at `-v`. Runs until dropped; `read` counts what was read so far.
async fn say_when_stalled(
    clock: Clock,
    read: Arc<AtomicU64>,
    bar: ProgressBar,
    root: String,
    max_attempts: u32,
) -> std::convert::Infallible {
    let mut last = read.load(Ordering::Relaxed);
    let mut said = false;
    loop {
        clock.sleep(STALL).await;
        let now = read.load(Ordering::Relaxed);
        if now != last {
            (last, said) = (now, false);
        } else if !said {
            said = true;
            bar.suspend(|| {
                eprintln!(
                    "note: nothing read from the tenant ({root}) for {} s: still trying (network errors, 429 and 503 are retried, \
                     up to {max_attempts} attempts per request; -v shows each retry)",
                    STALL.as_secs()
                )
            });
        }
    }
}

/// Reads the whole cloud state live, with a progress bar on stderr (only when it is a terminal),
/// and what a snapshot of it records besides the users.
pub fn read_tenant(
    graph: &GraphArgs,
    mut options: LiveOptions,
) -> anyhow::Result<(CloudState, SnapshotInfo)> {
    let bar = progress_bar();
    let Connected {
        client,
        tenant,
        sign_in,
        clock,
        max_attempts,
    } = connect(graph, &bar).inspect_err(|_| bar.finish_and_clear())?;
    let read_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    options.tenant = tenant.clone();
    bar.enable_steady_tick(Duration::from_millis(200));
    let shown = bar.clone();
    let read = Arc::new(AtomicU64::new(0));
    let counted = read.clone();
    let progress: live::Progress = Arc::new(move |stage, n| {
        counted.fetch_add(1, Ordering::Relaxed);
        show_progress(&shown, stage, n)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let stalled = say_when_stalled(
        clock,
        read,
        bar.clone(),
        client.root().to_string(),
        max_attempts,
    );
    let result = runtime.block_on(async {
        tokio::select! {
            r = live::read_live(&client, &options, progress) => r,
            never = stalled => match never {},
        }
    });
    bar.finish_and_clear();
    let state = result.map_err(|error| TenantError {
        error,
        doing: format!("reading the tenant from {}", client.root()),
        sign_in,
    })?;
    let info = SnapshotInfo {
        tenant,
        graph: client.root().to_string(),
        read_at,
        features: state.features.clone(),
        roles_read: options.roles,
        warnings: state.warnings.clone(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok((state, info))
}

fn show_progress(shown: &ProgressBar, stage: Stage, n: usize) {
    match stage {
        Stage::ActiveUsers => {
            shown.set_position(n as u64);
            shown.set_message("active users");
        }
        Stage::DeletedUsers => {
            shown.set_position(n as u64);
            shown.set_message("soft-deleted users");
        }
        Stage::TenantSettings => {
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                shown.set_style(style);
            }
            shown.set_message("reading privileged roles and sync features");
        }
    }
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn export_flags_parse() {
        let cli = Cli::try_parse_from([
            "cloud",
            "export",
            "-o",
            "x.csv",
            "--sequential",
            "--no-roles",
            "--tenant",
            "t",
            "--cloud",
            "usgov",
        ])
        .unwrap();
        let CloudCommand::Export(a) = cli.args.command;
        assert!(a.sequential && a.no_roles);
        assert_eq!(a.output, PathBuf::from("x.csv"));
        assert_eq!(a.graph.cloud, hardmatch::graph::CloudEnv::UsGov);
        assert!(
            Cli::try_parse_from(["cloud", "export"]).is_err(),
            "-o is required"
        );
    }
}
