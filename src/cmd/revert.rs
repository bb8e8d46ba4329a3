//! `hardmatch revert`: set Done rows back to the ImmutableId they had before apply (JSON null
//! where they had none), with the same pre-flight, journal and results as apply. Only rows
//! marked Revert = Yes, or every Done row with `--all`; a Previous ImmutableId is used only if
//! its signature shows apply recorded it.

use crate::cmd::apply::{execute, RunArgs};
use hardmatch::apply::Command;
use hardmatch::review::SelectOptions;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hardmatch revert plan.xlsx --what-if --tenant contoso.onmicrosoft.com --client-id APP_ID\n  \
    hardmatch revert plan.xlsx --all --tenant … --client-id …\n\n\
    Exit codes: 0 every selected row is Reverted; 1 some are not (see their Result); 2 bad input or \
    flags; 3 the sign-in or the tenant refused.")]
pub struct Args {
    /// The workbook apply recorded its results in.
    pub workbook: PathBuf,
    /// Revert every Done row, not only those marked Revert = Yes.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let select = SelectOptions {
        trust_workbook: args.run.trust_workbook,
        ..SelectOptions::default()
    };
    let flags = if args.all {
        vec!["--all".to_string()]
    } else {
        Vec::new()
    };
    execute(
        &args.workbook,
        &args.run,
        Command::Revert { all: args.all },
        select,
        false,
        flags,
    )
}
