//! `hardmatch template`: write the blank input workbook an admin fills in by hand (a "Users" sheet
//! with UserPrincipalName, objectGUID in any notation, Approve and Comment, plus Instructions).

use crate::cmd::output;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the template (.xlsx).
    #[arg(short, long, value_name = "FILE", default_value = "input.xlsx")]
    pub output: PathBuf,
    /// Replace FILE if it exists (it may hold users someone already typed in); the file there
    /// now is kept as <stem>.bak.xlsx.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = output::check(&args.output, "-o", &["xlsx"], "input.xlsx", &[], args.force)?;
    let backup = out
        .keep_previous()
        .with_context(|| format!("keeping a backup of {}", args.output.display()))?;
    hardmatch::workbook::write_template(&args.output)
        .with_context(|| "writing the input template".to_string())?;
    if let Some(b) = backup {
        eprintln!("The previous file is kept as {}.", b.keep().display());
    }
    println!("{}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
