//! Command line → one `cmd::*` call; errors → exit codes ([`Exit`]: one table for every command).

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "hardmatch", version, about = "Hard-match on-premises AD users to their Entra ID users", long_about = None)]
struct Cli {
    /// More output on stderr (-v info, -vv debug). Secrets and tokens are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try the whole workflow on the bundled samples against a simulated tenant (nothing leaves this machine).
    Demo(cmd::demo::Args),
    /// Convert a GUID / ImmutableId / octet string between every notation.
    Convert(cmd::convert::Args),
    /// Plan the hard match: AD export + cloud state → review workbook.
    Plan(cmd::plan::Args),
    /// Execute the approved rows of a review workbook against the tenant and record the results in it.
    Apply(cmd::apply::Args),
    /// Set Done rows back to their previous ImmutableId.
    Revert(cmd::revert::Args),
    /// Write the blank input workbook an admin can fill in by hand.
    Template(cmd::template::Args),
    /// Write the approved rows as a Graph PowerShell script or an ldifde file, for runbooks.
    Script(cmd::script::Args),
    /// Run the simulated tenant.
    Sim(cmd::sim::Args),
    /// Read the tenant live from Microsoft Graph (cloud export).
    Cloud(cmd::cloud::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Convert(a) => cmd::convert::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Apply(a) => cmd::apply::run(a),
        Command::Revert(a) => cmd::revert::run(a),
        Command::Template(a) => cmd::template::run(a),
        Command::Script(a) => cmd::script::run(a),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Cloud(a) => cmd::cloud::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            Exit::of(&err).into()
        }
    }
}

fn init_tracing(verbose: u8) {
    // -vv is for reading what hardmatch did: the HTTP stack's own debug lines (connection
    // pool, TLS, h2 frames) would be most of it, so they stay at info.
    // rustls-platform-verifier logs an untrusted certificate as an ERROR of its own; the
    // client's error already says it, with the fix (--ca-file), so the duplicate only confuses.
    let default = match verbose {
        0 => "warn,rustls_platform_verifier=off",
        1 => "info,rustls_platform_verifier=off",
        _ => "debug,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info,tower=info,axum=info,mio=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARDMATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
}

/// Colour only on a terminal, and not when `NO_COLOR` is set to anything but "" (no-color.org):
/// `-vv 2>run.log` must be readable as text.
fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The exit codes, the same for every command and documented once (README, "Exit codes").
/// Commands return `Ok(Exit::….into())` for an outcome that is not an error (apply: some
/// approved rows not Done); an error is classified by [`Exit::of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // `Incomplete` as an outcome is apply's; until then only errors map to it.
pub enum Exit {
    /// 0: everything asked for was done.
    Success,
    /// 1: the run ended without doing everything: some approved rows are not Done (apply), or
    /// a failure that is neither the input's nor the tenant's (a full disk, a locked file).
    Incomplete,
    /// 2: bad input, flags or output path. Found before anything is requested from Graph;
    /// nothing is written.
    Usage,
    /// 3: the sign-in or the tenant refused (the token endpoint's AADSTS error, a Graph error
    /// with its code, message and request-id), or Graph could not be reached.
    Refused,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Incomplete => 1,
            Exit::Usage => 2,
            Exit::Refused => 3,
        }
    }

    /// What an error means for the exit code, from the first error in its chain that says:
    /// contexts added on the way up never change the class.
    pub fn of(err: &anyhow::Error) -> Exit {
        use hardmatch::cloud::export::ExportError;
        use hardmatch::graph::GraphError;
        for e in err.chain() {
            if e.is::<hardmatch::InputError>()
                || e.is::<cmd::cloud::UsageError>()
                || matches!(e.downcast_ref::<ExportError>(), Some(ExportError::Input(_)))
            {
                return Exit::Usage;
            }
            let graph = e.downcast_ref::<GraphError>().or_else(|| {
                e.downcast_ref::<cmd::cloud::TenantError>()
                    .map(|t| &t.error)
            });
            if let Some(g) = graph {
                return match g {
                    // A flag or a credential file that cannot work: found before any request.
                    GraphError::Config(_) => Exit::Usage,
                    GraphError::Api(_)
                    | GraphError::Token(_)
                    | GraphError::Transport { .. }
                    | GraphError::Decode { .. } => Exit::Refused,
                };
            }
        }
        Exit::Incomplete
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hardmatch::graph::GraphError;

    #[test]
    fn every_error_class_has_its_exit_code_whatever_context_is_added() {
        let input: anyhow::Error =
            hardmatch::InputError::new("ad.csv", "line 2", "bad", "fix it").into();
        assert_eq!(Exit::of(&input.context("planning")), Exit::Usage);
        let usage: anyhow::Error = cmd::cloud::UsageError("--cloud graph alone".into()).into();
        assert_eq!(Exit::of(&usage), Exit::Usage);
        let token = GraphError::Token(Box::default());
        let refused = anyhow::Error::from(token).context("reading the tenant");
        assert_eq!(Exit::of(&refused), Exit::Refused);
        let api: anyhow::Error = GraphError::Api(Box::default()).into();
        assert_eq!(Exit::of(&api), Exit::Refused);
        let config: anyhow::Error = GraphError::Config("no client id".into()).into();
        assert_eq!(Exit::of(&config), Exit::Usage);
        let disk: anyhow::Error = std::io::Error::other("disk full").into();
        assert_eq!(Exit::of(&disk), Exit::Incomplete);
        assert_eq!(
            [Exit::Success, Exit::Incomplete, Exit::Usage, Exit::Refused].map(Exit::code),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
