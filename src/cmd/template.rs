//! `hardmatch template`: TODO.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let _ = args;
    todo!("template")
}
