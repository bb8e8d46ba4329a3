//! `hardmatch script`: write the approved rows of a review workbook as a Microsoft Graph
//! PowerShell script, or as an `ldifde -i` file that sets mS-DS-ConsistencyGuid on the AD users
//! instead, for organisations that run every change through their own runbooks. Rows are chosen
//! by the same rule as `apply`; approved rows left out are listed in the file and on stderr.

use crate::cmd::cloud::UsageError;
use crate::cmd::output;
use crate::cmd::plan::{HexAsArg, KeyArgs};
use anyhow::Context;
use hardmatch::anchor::HexAs;
use hardmatch::fsutil::{AtomicFile, CheckedOutput};
use hardmatch::review::{PlanKey, SelectOptions};
use hardmatch::script::quote::comment_text;
use hardmatch::script::{self, AdDirectory, Format, Header, Script};
use hardmatch::sources::{self, ReadOptions, Unread};
use hardmatch::workbook;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hardmatch script plan.xlsx --format graph-powershell -o hardmatch.ps1\n  \
    hardmatch script plan.xlsx --format ldif --ad-export ad-users.csv -o hardmatch.ldf\n\n\
    Exit codes: 0 every approved row is in the file (or has nothing to write); 1 some approved rows \
    were left out (listed on stderr and in the file); 2 bad input or flags (nothing written).")]
pub struct Args {
    /// The review workbook written by `plan`, with Approve = Yes on the rows to change.
    pub workbook: PathBuf,
    /// Which side changes: the cloud users, or the AD users.
    #[arg(long, value_enum)]
    pub format: ScriptFormat,
    /// Where to write it [default: beside the workbook, its name with .ps1 or .ldf].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format ldif: the AD export (the one the plan was made from, or a newer one) that
    /// gives each user's distinguished name. Users are found by the planned anchor and UPN.
    #[arg(long, value_name = "FILE")]
    pub ad_export: Option<PathBuf>,
    /// Read --ad-export as this format instead of detecting it.
    #[arg(long, value_enum, requires = "ad_export")]
    pub ad_format: Option<sources::Format>,
    /// XLSX sheet of --ad-export holding the AD users (default: the first).
    #[arg(long, value_name = "NAME", requires = "ad_export")]
    pub ad_sheet: Option<String>,
    /// How to read 32 plain hex digits in --ad-export's GUID columns (as given to plan).
    #[arg(long, value_enum, requires = "ad_export")]
    pub hex_as: Option<HexAsArg>,
    /// graph-powershell: include approved Replace rows (overwrite an existing, different
    /// ImmutableId).
    #[arg(long)]
    pub allow_replace: bool,
    /// graph-powershell: include approved ConflictDeleted rows, permanently deleting the
    /// soft-deleted user that holds the ImmutableId first (this cannot be undone).
    #[arg(long)]
    pub purge_deleted_conflicts: bool,
    /// Replace the output if it exists; the file there now is kept as <stem>.bak.ps1 (or .ldf).
    #[arg(long)]
    pub force: bool,
    /// Include rows planned elsewhere or by hardmatch 0.1 (not signed with this plan key) as long
    /// as they are consistent. Only if you trust everyone who handled the workbook.
    #[arg(long)]
    pub trust_workbook: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScriptFormat {
    /// A Microsoft Graph PowerShell script: each cloud user's onPremisesImmutableId is set to
    /// its AD user's anchor (Update-MgUser), as apply would.
    GraphPowershell,
    /// An ldifde -i file: each AD user's mS-DS-ConsistencyGuid is set to the ImmutableId its
    /// cloud user already has (Replace and ConflictDeleted rows, after a domain migration).
    Ldif,
}

impl From<ScriptFormat> for Format {
    fn from(f: ScriptFormat) -> Format {
        match f {
            ScriptFormat::GraphPowershell => Format::GraphPowershell,
            ScriptFormat::Ldif => Format::Ldif,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format = Format::from(args.format);
    check_flags(&args, format)?;
    let output = check_output(&args, format)?;
    let key = PlanKey::load(&args.key.path()?)?;

    let review = workbook::read_review(&args.workbook)?;
    for w in &review.warnings {
        eprintln!("warning: {w}");
    }
    let ad = match &args.ad_export {
        Some(path) => Some(read_ad(&args, path)?),
        None => None,
    };
    let directory = ad.as_ref().map(|ad| {
        let name = ad.path.file_name().map_or_else(
            || ad.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        AdDirectory::new(&ad.users, name)
    });
    let opts = SelectOptions {
        allow_replace: args.allow_replace,
        purge_deleted_conflicts: args.purge_deleted_conflicts,
        trust_workbook: args.trust_workbook,
    };
    let built = script::build(&review.rows, format, &key, &opts, directory.as_ref());

    report_left_out(&built);
    let left_out = built.left_out().count();
    if built.entries.is_empty() {
        return nothing_to_write(&built, left_out, &review.rows);
    }
    let header = header(&args, &output.path, ad.as_ref(), &key)?;
    let backup = write(&built, &header, &output)?;
    report(&built, &output.path, left_out);
    if let Some(b) = backup {
        println!(
            "The previous {} is kept as {}.",
            output.path.display(),
            b.display()
        );
    }
    Ok(if left_out > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The script's provenance: which workbook (and AD export), key, options and version.
fn header(
    args: &Args,
    output: &Path,
    ad: Option<&sources::AdExport>,
    key: &PlanKey,
) -> anyhow::Result<Header> {
    Ok(Header {
        workbook: args.workbook.display().to_string(),
        output: output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        workbook_sha256: sha256_of(&args.workbook)?,
        ad_export: ad.map(|ad| (ad.path.display().to_string(), ad.sha256.clone())),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        key_id: key.id().to_string(),
        options: given_options(args),
    })
}

/// Flags that make no sense for the chosen format are refused rather than ignored: an admin who
/// passes --allow-replace with ldif believes something is being allowed.
fn check_flags(args: &Args, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Ldif if args.ad_export.is_none() => Err(UsageError(
            "--format ldif needs --ad-export FILE: the AD export the plan was made from, for each user's distinguished name".into(),
        )
        .into()),
        Format::Ldif if args.allow_replace || args.purge_deleted_conflicts => Err(UsageError(
            "--allow-replace and --purge-deleted-conflicts are for --format graph-powershell: the ldif direction overwrites no cloud ImmutableId and purges nothing, so they have nothing to allow; leave them out".into(),
        )
        .into()),
        Format::GraphPowershell if args.ad_export.is_some() => Err(UsageError(
            "--ad-export is only for --format ldif (the PowerShell script changes cloud users by object id); leave it out".into(),
        )
        .into()),
        _ => Ok(()),
    }
}

/// `-o`, or the workbook's name with the format's extension beside it, checked like every
/// output (see [`crate::cmd::output::check`]) before anything is read: the right extension
/// (PowerShell runs only `.ps1` files as scripts), an existing folder, never the workbook or the
/// AD export, and an existing file replaced only with --force (kept as `<stem>.bak.<ext>`).
fn check_output(args: &Args, format: Format) -> Result<CheckedOutput, hardmatch::InputError> {
    let (extensions, example): (&[&str], &str) = match format {
        Format::GraphPowershell => (&["ps1"], "hardmatch.ps1"),
        Format::Ldif => (&["ldf", "ldif"], "hardmatch.ldf"),
    };
    let out = match &args.output {
        Some(o) => o.clone(),
        None => args.workbook.with_extension(extensions[0]),
    };
    let mut inputs: Vec<&Path> = vec![&args.workbook];
    inputs.extend(args.ad_export.as_deref());
    output::check(&out, "-o", extensions, example, &inputs, args.force)
}

fn read_ad(args: &Args, path: &Path) -> anyhow::Result<sources::AdExport> {
    let ad = sources::read_ad_export(
        path,
        &ReadOptions {
            format: args.ad_format,
            sheet: args.ad_sheet.clone(),
            hex_as: args.hex_as.map(HexAs::from),
            unread: Unread {
                dn: false,
                sam_account_name: true,
                proxy_addresses: true,
            },
        },
    )?;
    for w in &ad.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ad)
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let fail = || format!("reading {}", path.display());
    let mut f = std::fs::File::open(path).with_context(fail)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).with_context(fail)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn given_options(args: &Args) -> Vec<String> {
    [
        (args.allow_replace, "--allow-replace"),
        (args.purge_deleted_conflicts, "--purge-deleted-conflicts"),
        (args.trust_workbook, "--trust-workbook"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, s)| s.to_string())
    .collect()
}

/// Rendered into a temporary file beside the target and renamed only when complete; a failure
/// (a full disk, a file locked by another program: exit 1, the path was checked already) names
/// the output, not the temporary file, and leaves nothing behind. A file replaced with --force
/// is kept first; returns where.
fn write(
    built: &Script<'_>,
    header: &Header,
    output: &CheckedOutput,
) -> anyhow::Result<Option<PathBuf>> {
    let path = &output.path;
    let backup = output
        .keep_previous()
        .with_context(|| format!("keeping a backup of {}", path.display()))?;
    let written = AtomicFile::create(path).and_then(|mut file| {
        built.render(header, &mut file)?;
        file.commit()
    });
    written.with_context(|| format!("writing {}", path.display()))?;
    Ok(backup.map(|b| b.keep()))
}

fn report(built: &Script<'_>, output: &Path, left_out: usize) {
    let n = built.entries.len();
    let nothing = built.notes.len() - left_out;
    match built.format {
        Format::GraphPowershell => {
            println!("Wrote {}: {n} cloud user(s) to change.", output.display());
            println!(
                "Run it with -WhatIf first: pwsh -File {} -WhatIf",
                output.display()
            );
            if n > 10_000 {
                println!(
                    "Note: the script changes one user at a time (a read and a write each); `hardmatch apply` batches and paces large runs."
                );
            }
        }
        Format::Ldif => {
            println!(
                "Wrote {}: {n} AD user(s) get mS-DS-ConsistencyGuid.",
                output.display()
            );
            println!(
                "Import it with: ldifde -i -f {} -j LOG-FOLDER",
                output.display()
            );
        }
    }
    if nothing > 0 {
        println!("{nothing} approved row(s) have nothing to write (listed in the file).");
    }
    if left_out > 0 {
        println!(
            "{left_out} approved row(s) were left out: see stderr or the file's opening comment."
        );
    }
}

/// Rows listed one by one on stderr before the rest are only counted by reason: when a whole
/// workbook is refused for one cause (another operator's key), 100,000 identical lines help
/// nobody. The file lists every row.
const LIST_AT_MOST: usize = 20;

/// The approved rows left out, on stderr: the first [`LIST_AT_MOST`] by row, then the most
/// common reasons with how many rows each covers. Workbook text on a terminal: control
/// characters (escape sequences) are shown, never sent.
fn report_left_out(built: &Script<'_>) {
    let left: Vec<&script::Note> = built.left_out().collect();
    for n in left.iter().take(LIST_AT_MOST) {
        eprintln!(
            "{}",
            comment_text(&format!("Row {} {}: {}", n.row_id, n.upn, n.reason))
        );
    }
    if left.len() <= LIST_AT_MOST {
        return;
    }
    let mut by_reason: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &left {
        *by_reason.entry(n.reason.as_str()).or_default() += 1;
    }
    let mut by_reason: Vec<(&str, usize)> = by_reason.into_iter().collect();
    by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    eprintln!(
        "… {} approved rows left out in all (each is listed in the file, when one is written). Most common reasons:",
        left.len()
    );
    for (reason, count) in by_reason.iter().take(LIST_AT_MOST) {
        eprintln!("{}", comment_text(&format!("  {count} × {reason}")));
    }
    if by_reason.len() > LIST_AT_MOST {
        eprintln!("  … and {} other reasons", by_reason.len() - LIST_AT_MOST);
    }
}

/// No entry: write no file, and say why. Exit 1 if approved rows were left out (the operator has
/// something to fix), 0 if every approved row needs nothing, 2 if no row is approved at all.
fn nothing_to_write(
    built: &Script<'_>,
    left_out: usize,
    rows: &[hardmatch::review::ReviewRow],
) -> anyhow::Result<ExitCode> {
    if built.notes.is_empty() {
        let approved = rows
            .iter()
            .filter(|r| r.approve != hardmatch::review::Approval::Empty)
            .count();
        return Err(UsageError(format!(
            "no row to script: {approved} of {} rows have an Approve value and none is Yes; set Approve = Yes on the rows to change",
            rows.len()
        ))
        .into());
    }
    let nothing: Vec<&script::Note> = built
        .notes
        .iter()
        .filter(|n| n.kind == script::NoteKind::NothingToWrite)
        .collect();
    for n in nothing.iter().take(LIST_AT_MOST) {
        println!(
            "{}",
            comment_text(&format!("Row {} {}: {}", n.row_id, n.upn, n.reason))
        );
    }
    if nothing.len() > LIST_AT_MOST {
        println!(
            "… and {} more approved rows with nothing to write",
            nothing.len() - LIST_AT_MOST
        );
    }
    if left_out > 0 {
        println!("No file written: none of the approved rows can be scripted as they stand ({left_out} left out, listed on stderr).");
        Ok(ExitCode::from(1))
    } else {
        println!("No file written: every approved row has nothing to write.");
        Ok(ExitCode::SUCCESS)
    }
}
