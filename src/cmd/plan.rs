//! `hardmatch plan`: read the AD export and the cloud state, decide per AD user what must change and
//! what blocks it, and write the review workbook a change board approves.

use crate::cmd::cloud::UsageError;
use crate::cmd::graph_args::GraphArgs;
use crate::cmd::output;
use anyhow::Context;
use hardmatch::anchor::HexAs;
use hardmatch::cloud::export::{self, apply_snapshots, SnapshotInfo};
use hardmatch::cloud::live::LiveOptions;
use hardmatch::cloud::{self, CloudState};
use hardmatch::fsutil::CheckedOutput;
use hardmatch::plan::{self, Action, MatchKeys, PlanOptions};
use hardmatch::review::{Approval, PlanKey, ReviewRow};
use hardmatch::sources::template::{read_typed_reviews, sheet_row, TypedReviews};
use hardmatch::sources::{self, Format, ReadOptions};
use hardmatch::workbook::{self, InputSummary, ReviewMeta, WriteOptions};
use hardmatch::InputError;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hardmatch plan samples/ad-users.csv --cloud samples/cloud-users.csv -o plan.xlsx\n  \
        hardmatch plan ad.csv --cloud cloud.csv --cloud cloud-deleted.csv\n  \
        AZURE_CLIENT_SECRET=… hardmatch plan ad.csv --cloud graph --tenant contoso.onmicrosoft.com --client-id APP_ID",
    // The shared Graph flags call the national cloud `--cloud`; here `--cloud` names the cloud
    // input, so the national cloud is `--national-cloud`.
    mut_arg("cloud", |a| a.long("national-cloud").visible_alias(None)),
    // plan only reads: the write pacing is apply's.
    mut_arg("write_quota", |a| a.hide(true)),
    mut_arg("write_window", |a| a.hide(true))
)]
pub struct Args {
    /// AD export: PowerShell Export-Csv, csvde, XLSX or ldifde/ldapsearch LDIF (detected from the content).
    pub ad_export: PathBuf,
    /// Cloud state: a cloud-user export (CSV or XLSX, Get-MgUser column names; repeat for
    /// cloud.csv + cloud-deleted.csv), or `graph` to read the tenant live (Graph flags below).
    #[arg(
        long = "cloud",
        id = "cloud_input",
        value_name = "CLOUD_EXPORT|graph",
        required = true
    )]
    pub cloud: Vec<String>,
    /// With --cloud graph: page through users sequentially instead of in parallel UPN partitions.
    #[arg(long)]
    pub sequential: bool,
    /// With --cloud graph: do not read privileged role assignments and eligibilities.
    #[arg(long)]
    pub no_roles: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Where to write the review workbook (.xlsx).
    #[arg(short, long, default_value = "plan.xlsx")]
    pub output: PathBuf,
    /// Replace the output if it exists; the file there now is kept as <stem>.bak.xlsx.
    #[arg(long)]
    pub force: bool,
    /// Which keys may match an AD user to a cloud user.
    #[arg(long = "match", value_enum, default_value_t = MatchKeys::Upn)]
    pub match_keys: MatchKeys,
    /// Pre-fill Approve = Yes for clean rows of this kind (Set rows without Checks only).
    #[arg(long, value_enum)]
    pub pre_approve: Option<PreApprove>,
    /// Approve (--pre-approve, or Yes typed into a hand-filled template) even though the cloud
    /// input left hard-match blocks unchecked (no PrivilegedRoles, OnPremisesObjectIdentifier or
    /// OnPremisesSyncEnabled column, no recycle bin); without it such a plan approves nothing.
    #[arg(long)]
    pub unchecked_ok: bool,
    /// Read the AD export as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// XLSX sheet holding the AD users (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// How to read 32 plain hex digits in a GUID column: .NET "N" GUID text or raw octets.
    #[arg(long, value_enum)]
    pub hex_as: Option<HexAsArg>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The operator's plan key (shared by plan, apply and revert).
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// The key that signs every planned row, so apply can tell a planned value from an edited
    /// one [default: plan.key in your config folder, created at the first plan]. Keep it private;
    /// apply must run with the same key.
    #[arg(long, value_name = "FILE", env = "HARDMATCH_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The key file's path: `--key-file`, or the default in the user's config folder.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.key_file {
            Some(p) => Ok(p.clone()),
            None => PlanKey::default_path().ok_or_else(|| {
                UsageError(
                    "no config folder for the plan key (neither HOME nor XDG_CONFIG_HOME is set); pass --key-file".into(),
                )
                .into()
            }),
        }
    }

    /// The key for `plan`: created at the first run, with a note on stderr saying where.
    pub fn load_or_create(&self) -> anyhow::Result<PlanKey> {
        let path = self.path()?;
        let (key, created) = PlanKey::load_or_create(&path)?;
        if created {
            eprintln!(
                "Created the plan key {} (id {}): it signs every planned row. Keep it private, and run apply with the same key.",
                path.display(),
                key.id()
            );
        }
        Ok(key)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PreApprove {
    /// Set rows whose Checks column is empty.
    Set,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HexAsArg {
    Guid,
    Octets,
}

impl From<HexAsArg> for HexAs {
    fn from(h: HexAsArg) -> HexAs {
        match h {
            HexAsArg::Guid => HexAs::Guid,
            HexAsArg::Octets => HexAs::Octets,
        }
    }
}

/// Where the cloud state comes from: an export file, or Graph live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudInput {
    File(PathBuf),
    /// `--cloud graph`: read live from Microsoft Graph.
    Graph,
}

impl CloudInput {
    pub fn parse(arg: &str) -> CloudInput {
        if arg.eq_ignore_ascii_case("graph") && !Path::new(arg).exists() {
            CloudInput::Graph
        } else {
            CloudInput::File(PathBuf::from(arg))
        }
    }

    fn load(&self, args: &Args) -> anyhow::Result<CloudState> {
        match self {
            CloudInput::File(path) => Ok(cloud::read_cloud_export_unread(
                path,
                plan::unread_cloud(args.match_keys),
            )?),
            CloudInput::Graph => crate::cmd::cloud::read_tenant(
                &args.graph,
                LiveOptions {
                    partitioned: !args.sequential,
                    roles: !args.no_roles,
                    ..LiveOptions::default()
                },
            )
            .map(|(state, _)| state),
        }
    }
}

/// A tenant description read from a snapshot (the file it came from, and what it says).
type Snapshot = (PathBuf, SnapshotInfo);

/// The cloud state from every `--cloud`: several export files are merged (active users, deleted
/// users, sources and warnings concatenated); `graph` must stand alone. A snapshot's tenant
/// description (the Tenant sheet, or `<stem>-tenant.csv` beside a CSV, found without being
/// named) brings the sync features and the live read's warnings, as `--cloud graph` would.
fn load_cloud(args: &Args) -> anyhow::Result<(CloudState, Vec<Snapshot>)> {
    let inputs: Vec<CloudInput> = args.cloud.iter().map(|c| CloudInput::parse(c)).collect();
    if inputs.len() > 1 && inputs.contains(&CloudInput::Graph) {
        return Err(UsageError(
            "--cloud graph reads the whole tenant live; do not combine it with export files".into(),
        )
        .into());
    }
    let mut states: Vec<CloudState> = Vec::new();
    let mut snapshots: Vec<Snapshot> = Vec::new();
    for input in &inputs {
        if let CloudInput::File(path) = input {
            if let Some(found) = export::read_snapshot_info(path)? {
                if !snapshots.iter().any(|(p, _)| p == &found.0) {
                    snapshots.push(found);
                }
            }
            if export::is_tenant_csv(path) {
                continue;
            }
        }
        states.push(input.load(args)?);
    }
    if states.is_empty() {
        return Err(UsageError(
            "--cloud names no file of users, only a tenant description: give the snapshot's users file too".into(),
        )
        .into());
    }
    // Each user once (the same file twice, overlapping exports), and what was left unchecked.
    let mut merged = cloud::merge(states)?;
    if inputs.contains(&CloudInput::Graph) {
        return Ok((merged, snapshots));
    }
    let mut ignored = args.graph.given();
    ignored.extend(
        [
            (args.sequential, "--sequential"),
            (args.no_roles, "--no-roles"),
        ]
        .into_iter()
        .filter_map(|(given, name)| given.then_some(name)),
    );
    if !ignored.is_empty() {
        merged.warnings.push(format!(
            "{} only apply to --cloud graph; the cloud state was read from the export file(s), so they were ignored",
            ignored.join(", ")
        ));
    }
    // `cloud export -o x.csv` writes the recycle bin to x-deleted.csv; forgetting it would hide
    // every ConflictDeleted.
    for input in &inputs {
        if let CloudInput::File(path) = input {
            let deleted = export::deleted_csv_path(path);
            let given = inputs.contains(&CloudInput::File(deleted.clone()));
            let is_csv = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if is_csv && !given && deleted.is_file() && !export::is_tenant_csv(path) {
                merged.warnings.push(format!(
                    "{} lies next to {} but was not given: soft-deleted users in it are not checked; add --cloud {}",
                    deleted.display(),
                    path.display(),
                    deleted.display()
                ));
            }
        }
    }
    apply_snapshots(&mut merged, &snapshots, chrono::Utc::now());
    Ok((merged, snapshots))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // A bad -o must cost nothing: checked before any input is read, a key is made or Graph is
    // called.
    let output = check_output(&args)?;
    check_inputs(&args)?;
    let key = args.key.load_or_create()?;
    let template = sources::sniff::sniff(&args.ad_export).is_some_and(|s| s.looks_like_template());
    // What a reviewer typed into a template goes into the plan (small: a template is hand-filled).
    let typed = if template {
        read_typed_reviews(&args.ad_export, args.sheet.as_deref())?
    } else {
        TypedReviews::new()
    };
    let read_opts = ReadOptions {
        format: args.format,
        sheet: args.sheet.clone(),
        hex_as: args
            .hex_as
            .map(HexAs::from)
            // The template's objectGUID column is GUID text: it says so to whoever fills it.
            .or(template.then_some(HexAs::Guid)),
        unread: plan::unread_ad(args.match_keys),
    };
    let read_ad = || -> anyhow::Result<_> {
        let mut ad = sources::read_ad_export(&args.ad_export, &read_opts)
            .map_err(|e| explain_ad_error(e, &args))?;
        // CSV and XLSX readers already leave out what planning never reads (`unread`); this
        // sheds it from LDIF users too.
        plan::shed_unused_ad(&mut ad.users, args.match_keys);
        Ok(ad)
    };
    let read_cloud = || -> anyhow::Result<_> {
        let (mut cloud, snapshots) = load_cloud(&args)?;
        plan::shed_unused_cloud(&mut cloud, args.match_keys);
        Ok((cloud, snapshots))
    };
    let live = args
        .cloud
        .iter()
        .any(|c| CloudInput::parse(c) == CloudInput::Graph);
    if live {
        // A bad AD export should stop the run before it signs in and lists the tenant.
        let ad = read_ad()?;
        let (cloud, snapshots) = read_cloud()?;
        let idx = plan::CloudIndex::new(&cloud, args.match_keys);
        return write_plan(
            &args,
            &output,
            &key,
            (ad, &typed),
            (&cloud, &snapshots),
            idx,
        );
    }
    // Two files: the AD export (usually the bigger one) on a second core while this one reads
    // the cloud file and indexes it. An AD error is reported first, as it would be if they were
    // read in turn.
    std::thread::scope(|scope| {
        let ad = scope.spawn(read_ad);
        let join_ad = || ad.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let (cloud, snapshots) = match read_cloud() {
            Ok(cloud) => cloud,
            Err(e) => {
                join_ad()?;
                return Err(e);
            }
        };
        let idx = plan::CloudIndex::new(&cloud, args.match_keys);
        let ad = join_ad()?;
        write_plan(
            &args,
            &output,
            &key,
            (ad, &typed),
            (&cloud, &snapshots),
            idx,
        )
    })
}

/// The file of cloud users given with `--cloud` (not `graph`, not a snapshot's tenant file).
fn cloud_files(args: &Args) -> Vec<&Path> {
    args.cloud
        .iter()
        .filter(|c| CloudInput::parse(c) != CloudInput::Graph)
        .map(Path::new)
        .filter(|p| !export::is_tenant_csv(p))
        .collect()
}

/// Mistakes with the two inputs that a reader would only report as a missing column: the same
/// file twice, a cloud export given as the AD export, an AD export given with `--cloud`, or
/// both swapped. Found from the files' first lines, before either is read.
fn check_inputs(args: &Args) -> Result<(), InputError> {
    let ad = &args.ad_export;
    let clouds = cloud_files(args);
    if let Some(c) = clouds.iter().find(|c| hardmatch::fsutil::same_file(ad, c)) {
        return Err(InputError::new(
            ad,
            "",
            format!(
                "the same file is given as the AD export and with --cloud ({})",
                c.display()
            ),
            SWAP_FIX,
        ));
    }
    let ad_looks = sources::sniff::sniff(ad).unwrap_or_default();
    let cloud_looks: Vec<(&Path, sources::sniff::Sniffed)> = clouds
        .iter()
        .map(|c| (*c, sources::sniff::sniff(c).unwrap_or_default()))
        .collect();
    let ad_given_with_cloud = cloud_looks.iter().find(|(_, s)| s.looks_like_ad_export());
    if ad_looks.looks_like_cloud_export() {
        let message = match ad_given_with_cloud {
            Some((c, _)) => format!(
                "this is a cloud-user export, and {} given with --cloud is an AD export: did you swap them?",
                c.display()
            ),
            None => format!(
                "this looks like a cloud-user export ({}), not an AD export",
                ad_looks.describe()
            ),
        };
        return Err(InputError::new(ad, "", message, SWAP_FIX));
    }
    if let Some((c, looks)) = ad_given_with_cloud {
        return Err(InputError::new(
            c,
            "",
            format!(
                "given with --cloud, but this looks like an AD export ({}), not a cloud-user export: did you swap the two files?",
                looks.describe()
            ),
            SWAP_FIX,
        ));
    }
    Ok(())
}

const SWAP_FIX: &str = "the AD export comes first and the cloud-user export after --cloud: \
    hardmatch plan AD_EXPORT --cloud CLOUD_EXPORT (or --cloud graph to read the tenant live)";

/// An AD export that cannot be read, with what the file really looks like: the format it is
/// when `--format` says otherwise, and a workbook's sheets when the first is not the data.
fn explain_ad_error(err: InputError, args: &Args) -> InputError {
    let mut err = err;
    let Some(looks) = sources::sniff::sniff(&args.ad_export) else {
        return err;
    };
    if let (Some(given), Some(actual)) = (args.format, looks.format) {
        // csvde is a kind of CSV; anything else is a different file.
        let compatible = matches!(
            (given, actual),
            (Format::Csv | Format::Csvde, Format::Csv | Format::Csvde)
        );
        if given != actual && !compatible {
            err.message = format!("{}; the file looks like {}", err.message, looks.describe());
            err.fix = format!(
                "leave out --format (the format is found from the content), or use --format {}",
                format_name(actual)
            );
            return err;
        }
    }
    // Columns the first sheet lacks suggest another sheet holds the users.
    let missing_columns = err.message.starts_with("no ") && err.message.contains("column");
    if looks.format == Some(Format::Xlsx)
        && args.sheet.is_none()
        && looks.sheets.len() > 1
        && missing_columns
    {
        err.fix = format!(
            "the users were read from the first sheet, \"{}\"; the workbook's sheets are {}: name the one with the users with --sheet NAME",
            looks.sheets[0],
            looks
                .sheets
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    err
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Csv => "csv",
        Format::Csvde => "csvde",
        Format::Xlsx => "xlsx",
        Format::Ldif => "ldif",
    }
}

/// `-o` checked against every input of this run (see [`crate::cmd::output::check`]).
fn check_output(args: &Args) -> Result<CheckedOutput, hardmatch::InputError> {
    let mut inputs: Vec<&Path> = vec![&args.ad_export];
    inputs.extend(
        args.cloud
            .iter()
            .filter(|c| CloudInput::parse(c) != CloudInput::Graph)
            .map(Path::new),
    );
    output::check(
        &args.output,
        "-o",
        &["xlsx"],
        "plan.xlsx",
        &inputs,
        args.force,
    )
}

/// The warning for an AD export that does not carry mS-DS-ConsistencyGuid.
fn consistency_guid_unread(ad: &sources::AdExport) -> String {
    let what = if ad.format == Format::Ldif {
        format!(
            "no entry in {} has mS-DS-ConsistencyGuid (ldifde and ldapsearch leave out empty attributes, so \
             either no user has one or the export did not ask for it)",
            ad.path.display()
        )
    } else {
        format!("{} has no mS-DS-ConsistencyGuid column", ad.path.display())
    };
    format!(
        "{what}: Entra Connect anchors a user on mS-DS-ConsistencyGuid when it is set, as it is for users moved \
         from another forest, so an ImmutableId planned here from objectGUID may be wrong for them. Export it too \
         (see the README's export commands) or add the column; until then --pre-approve approves nothing."
    )
}

/// What [`plan::carry_typed_review`] did, for the summary.
#[derive(Default)]
struct Carried {
    approvals: usize,
    comments: usize,
    refused: usize,
}

impl Carried {
    fn carry(
        &mut self,
        mut row: ReviewRow,
        typed: &TypedReviews,
        unchecked: hardmatch::cloud::Unchecked,
    ) -> ReviewRow {
        if typed.is_empty() {
            return row;
        }
        let Some(t) = sheet_row(&row.plan.source).and_then(|r| typed.get(&r)) else {
            return row;
        };
        plan::carry_typed_review(&mut row, t, unchecked);
        self.comments += usize::from(!t.comment.trim().is_empty());
        if Approval::parse(&t.approve) == Approval::Yes {
            if row.approve == Approval::Yes {
                self.approvals += 1;
            } else {
                self.refused += 1;
            }
        }
        row
    }
}

/// Decide every row and write the review workbook.
fn write_plan(
    args: &Args,
    output: &CheckedOutput,
    key: &PlanKey,
    (ad, typed): (sources::AdExport, &TypedReviews),
    (cloud, snapshots): (&CloudState, &[Snapshot]),
    idx: plan::CloudIndex<'_>,
) -> anyhow::Result<ExitCode> {
    // Decide every row now, but render each one (reason, copied identifiers, fingerprint) only
    // as the workbook is written: a million rendered rows would cost as much memory as the inputs.
    let plan = plan::decide_indexed(
        &ad.users,
        idx,
        &PlanOptions {
            match_keys: args.match_keys,
        },
    );
    // Without mS-DS-ConsistencyGuid no anchor is certain: nothing is approved unseen. What the
    // cloud read left unchecked withholds it too, unless --unchecked-ok accepts it.
    let pre = match args.pre_approve {
        Some(PreApprove::Set) if ad.consistency_guid_read => {
            plan::PreApproval::clean_set(cloud, args.unchecked_ok)
        }
        _ => plan::PreApproval::default(),
    };
    let mut plan_warnings = plan.warnings.clone();
    if !pre.unchecked.is_empty() {
        plan_warnings.push(format!(
            "--pre-approve set approved nothing: not checked: {}. Read them (see the warnings above), or pass \
             --unchecked-ok to pre-approve anyway",
            pre.unchecked.describe().join(", ")
        ));
    }
    let meta = review_meta(&ad, cloud, snapshots, &plan_warnings);
    let unmatched: Vec<&cloud::CloudUser> = plan
        .unmatched_cloud
        .iter()
        .filter_map(|&i| cloud.users.get(i))
        .collect();

    // A template's typed approvals stand on the cloud read as --pre-approve's do.
    let unchecked = if args.unchecked_ok {
        hardmatch::cloud::Unchecked::default()
    } else {
        cloud.unchecked
    };
    let backup = output
        .keep_previous()
        .with_context(|| format!("keeping a backup of {}", output.path.display()))?;
    let mut tally = Tally {
        counts: Action::ALL.iter().map(|&a| (a, 0)).collect(),
        ..Tally::default()
    };
    plan::with_review_rows(&plan, pre, key, |rows| {
        let rows = rows.map(|r| {
            let r = tally.carried.carry(r, typed, unchecked);
            tally.count(&r);
            r
        });
        workbook::write_review_rows(
            &args.output,
            plan.len(),
            rows,
            &unmatched,
            &meta,
            &WriteOptions::default(),
        )
    })
    .with_context(|| format!("writing {}", args.output.display()))?;
    let backup = backup.map(|b| b.keep());

    for w in &meta.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "Planned {} AD users against {} active and {} soft-deleted cloud users:",
        ad.users.len(),
        cloud.users.len(),
        cloud.deleted.len()
    );
    tally.print(
        args,
        unmatched.len(),
        ad.consistency_guid_read,
        !typed.is_empty(),
    );
    if let Some(b) = backup {
        println!(
            "The previous {} is kept as {}.",
            args.output.display(),
            b.display()
        );
    }
    println!("Review workbook: {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

/// The Summary sheet's inputs (with each snapshot's read, also noted on stderr) and warnings.
fn review_meta(
    ad: &sources::AdExport,
    cloud: &CloudState,
    snapshots: &[Snapshot],
    plan_warnings: &[String],
) -> ReviewMeta {
    let mut inputs = InputSummary::for_plan("AD export", ad, cloud);
    let now = chrono::Utc::now();
    for (path, info) in snapshots {
        let read = InputSummary::for_snapshot(path, info, now);
        eprintln!("note: {}", read.path);
        inputs.push(read);
    }
    let mut warnings: Vec<String> = ad
        .warnings
        .iter()
        .chain(&cloud.warnings)
        .chain(plan_warnings)
        .cloned()
        .collect();
    if cloud.users.is_empty() {
        let read: Vec<&str> = cloud
            .sources
            .iter()
            .map(|s| s.description.as_str())
            .collect();
        warnings.insert(
            0,
            format!(
                "NO ACTIVE CLOUD USERS were read ({}): every AD user is planned as NoCloudUser. Is this the right \
                 tenant or export (--tenant, --graph-url, --cloud)? A simulated tenant is empty unless it was \
                 started with --seed CLOUD_EXPORT or --synthetic N.",
                read.join("; ")
            ),
        );
    }
    if !ad.consistency_guid_read {
        warnings.insert(0, consistency_guid_unread(ad));
    }
    ReviewMeta {
        inputs,
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        warnings,
        ..ReviewMeta::default()
    }
}

/// What the written rows came to, for the summary on stdout.
#[derive(Default)]
struct Tally {
    counts: Vec<(Action, usize)>,
    approved: usize,
    carried: Carried,
}

impl Tally {
    fn count(&mut self, r: &ReviewRow) {
        if let Some(c) = self
            .counts
            .iter_mut()
            .find(|(a, _)| Some(*a) == r.plan.action)
        {
            c.1 += 1;
        }
        self.approved += usize::from(r.approve == Approval::Yes);
    }

    fn print(&self, args: &Args, unmatched: usize, anchors_certain: bool, from_template: bool) {
        for (a, n) in self.counts.iter().filter(|(_, n)| *n > 0) {
            println!("  {:<16}{n:>9}", a.as_str());
        }
        println!("  {:<16}{:>9}", "Unmatched cloud", unmatched);
        if args.pre_approve.is_some() && !anchors_certain {
            println!(
                "Pre-approved nothing: without mS-DS-ConsistencyGuid no planned ImmutableId is certain (see the warning)."
            );
        } else if args.pre_approve.is_some() {
            println!(
                "Pre-approved {} clean Set rows.",
                self.approved - self.carried.approvals
            );
        }
        if from_template {
            println!(
                "From the template: {} Approve = Yes and {} comments carried over; {} Yes not carried (their Reason says why).",
                self.carried.approvals, self.carried.comments, self.carried.refused
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_argument_is_a_file_unless_it_says_graph() {
        assert_eq!(CloudInput::parse("graph"), CloudInput::Graph);
        assert_eq!(CloudInput::parse("Graph"), CloudInput::Graph);
        assert_eq!(
            CloudInput::parse("cloud.csv"),
            CloudInput::File(PathBuf::from("cloud.csv"))
        );
    }

    #[test]
    fn flags_parse_as_documented() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let cli = Cli::try_parse_from([
            "plan",
            "ad.csv",
            "--cloud",
            "c.csv",
            "--match",
            "upn-mail",
            "--pre-approve",
            "set",
            "--format",
            "csvde",
            "--sheet",
            "Users",
            "--hex-as",
            "octets",
        ])
        .unwrap();
        assert_eq!(cli.args.output, PathBuf::from("plan.xlsx"));
        assert_eq!(cli.args.match_keys, MatchKeys::UpnMail);
        assert_eq!(cli.args.pre_approve, Some(PreApprove::Set));
        assert_eq!(cli.args.format, Some(Format::Csvde));
        assert_eq!(cli.args.sheet.as_deref(), Some("Users"));
        assert_eq!(cli.args.hex_as, Some(HexAsArg::Octets));
        assert!(
            Cli::try_parse_from(["plan", "ad.csv"]).is_err(),
            "--cloud is required"
        );
        let live = Cli::try_parse_from([
            "plan",
            "ad.csv",
            "--cloud",
            "graph",
            "--national-cloud",
            "china",
            "--tenant",
            "t",
            "--sequential",
        ])
        .unwrap();
        assert_eq!(live.args.cloud, ["graph"]);
        assert_eq!(live.args.graph.cloud, hardmatch::graph::CloudEnv::China);
        assert!(live.args.sequential && !live.args.no_roles);
        let files = Cli::try_parse_from([
            "plan",
            "ad.csv",
            "--cloud",
            "a.csv",
            "--cloud",
            "a-deleted.csv",
        ])
        .unwrap();
        assert_eq!(files.args.cloud, ["a.csv", "a-deleted.csv"]);
        assert!(Cli::try_parse_from([
            "plan",
            "ad.csv",
            "--cloud",
            "c",
            "--pre-approve",
            "replace"
        ])
        .is_err());
    }
}
