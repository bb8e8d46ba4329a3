//! Command line → one `cmd::*` call; errors → exit codes (2 = bad input, 1 = anything else).

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
    /// Convert a GUID / ImmutableId / octet string between every notation.
    Convert(cmd::convert::Args),
    /// Plan the hard match: AD export + cloud state → review workbook.
    Plan(cmd::plan::Args),
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
        Command::Plan(a) => cmd::plan::run(a),
        Command::Template(a) => cmd::template::run(a),
        Command::Script(a) => cmd::script::run(a),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Cloud(a) => cmd::cloud::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|e| {
                e.is::<hardmatch::InputError>()
                    || e.is::<cmd::cloud::UsageError>()
                    || matches!(
                        e.downcast_ref::<hardmatch::cloud::export::ExportError>(),
                        Some(hardmatch::cloud::export::ExportError::Input(_))
                    )
            }) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARDMATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
