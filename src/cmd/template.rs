//! `hardmatch template`: write the blank input workbook an admin fills in by hand (a "Users" sheet
//! with UserPrincipalName, objectGUID in any notation, Approve and Comment, plus Instructions).

use anyhow::Context;
use hardmatch::InputError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the template.
    #[arg(short, long, value_name = "FILE", default_value = "input.xlsx")]
    pub output: PathBuf,
    /// Overwrite FILE if it exists (it may hold users someone already typed in).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.output.exists() && !args.force {
        return Err(InputError::new(
            &args.output,
            "",
            "the file already exists",
            "choose another -o path, or add --force to overwrite it",
        )
        .into());
    }
    hardmatch::workbook::write_template(&args.output)
        .with_context(|| "writing the input template".to_string())?;
    println!("{}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
