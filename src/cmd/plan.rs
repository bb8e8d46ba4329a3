//! `hardmatch plan`: read the AD export and the cloud state, decide per AD user what must change and
//! what blocks it, and write the review workbook a change board approves.

use crate::cmd::cloud::UsageError;
use crate::cmd::graph_args::GraphArgs;
use anyhow::Context;
use hardmatch::anchor::HexAs;
use hardmatch::cloud::live::LiveOptions;
use hardmatch::cloud::{self, CloudState};
use hardmatch::plan::{self, Action, MatchKeys, PlanOptions};
use hardmatch::review::{Approval, PlanKey};
use hardmatch::sources::{self, Format, ReadOptions};
use hardmatch::workbook::{self, InputSummary, ReviewMeta, WriteOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  hardmatch plan samples/ad-users.csv --cloud samples/cloud-users.csv -o plan.xlsx\n  \
        hardmatch plan ad.csv --cloud cloud.csv --cloud cloud-deleted.csv\n  \
        AZURE_CLIENT_SECRET=… hardmatch plan ad.csv --cloud graph --tenant contoso.onmicrosoft.com --client-id APP_ID",
    // The shared Graph flags call the national cloud `--cloud`; here `--cloud` names the cloud
    // input, so the national cloud is `--national-cloud`.
    mut_arg("cloud", |a| a.long("national-cloud").visible_alias(None))
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
    /// Where to write the review workbook.
    #[arg(short, long, default_value = "plan.xlsx")]
    pub output: PathBuf,
    /// Which keys may match an AD user to a cloud user.
    #[arg(long = "match", value_enum, default_value_t = MatchKeys::Upn)]
    pub match_keys: MatchKeys,
    /// Pre-fill Approve = Yes for clean rows of this kind (Set rows without Checks only).
    #[arg(long, value_enum)]
    pub pre_approve: Option<PreApprove>,
    /// With --pre-approve: approve even though the cloud input left hard-match blocks unchecked
    /// (no PrivilegedRoles, OnPremisesObjectIdentifier or OnPremisesSyncEnabled column, no
    /// recycle bin); without it such a plan pre-approves nothing.
    #[arg(long, requires = "pre_approve")]
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
            ),
        }
    }
}

/// The cloud state from every `--cloud`: several export files are merged (active users, deleted
/// users, sources and warnings concatenated); `graph` must stand alone.
fn load_cloud(args: &Args) -> anyhow::Result<CloudState> {
    let inputs: Vec<CloudInput> = args.cloud.iter().map(|c| CloudInput::parse(c)).collect();
    if inputs.len() > 1 && inputs.contains(&CloudInput::Graph) {
        return Err(UsageError(
            "--cloud graph reads the whole tenant live; do not combine it with export files".into(),
        )
        .into());
    }
    if inputs.is_empty() {
        return Err(UsageError("--cloud is required".into()).into());
    }
    let states = inputs
        .iter()
        .map(|input| input.load(args))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut merged = cloud::merge(states)?;
    // `cloud export -o x.csv` writes the recycle bin to x-deleted.csv; forgetting it would hide
    // every ConflictDeleted.
    for input in &inputs {
        if let CloudInput::File(path) = input {
            let deleted = hardmatch::cloud::export::deleted_csv_path(path);
            let given = inputs.contains(&CloudInput::File(deleted.clone()));
            let is_csv = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if is_csv && !given && deleted.is_file() {
                merged.warnings.push(format!(
                    "{} lies next to {} but was not given: soft-deleted users in it are not checked; add --cloud {}",
                    deleted.display(),
                    path.display(),
                    deleted.display()
                ));
            }
        }
    }
    Ok(merged)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = args.key.load_or_create()?;
    let read_opts = ReadOptions {
        format: args.format,
        sheet: args.sheet.clone(),
        hex_as: args.hex_as.map(HexAs::from),
        unread: plan::unread_ad(args.match_keys),
    };
    let read_ad = || -> anyhow::Result<_> {
        let mut ad = sources::read_ad_export(&args.ad_export, &read_opts)?;
        // CSV and XLSX readers already leave out what planning never reads (`unread`); this
        // sheds it from LDIF users too.
        plan::shed_unused_ad(&mut ad.users, args.match_keys);
        Ok(ad)
    };
    let read_cloud = || -> anyhow::Result<_> {
        let mut cloud = load_cloud(&args)?;
        plan::shed_unused_cloud(&mut cloud, args.match_keys);
        Ok(cloud)
    };
    let live = args
        .cloud
        .iter()
        .any(|c| CloudInput::parse(c) == CloudInput::Graph);
    if live {
        // A bad AD export should stop the run before it signs in and lists the tenant.
        let ad = read_ad()?;
        let cloud = read_cloud()?;
        let idx = plan::CloudIndex::new(&cloud, args.match_keys);
        return write_plan(&args, &key, ad, &cloud, idx);
    }
    // Two files: the AD export (usually the bigger one) on a second core while this one reads
    // the cloud file and indexes it. An AD error is reported first, as it would be if they were
    // read in turn.
    std::thread::scope(|scope| {
        let ad = scope.spawn(read_ad);
        let join_ad = || ad.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let cloud = match read_cloud() {
            Ok(cloud) => cloud,
            Err(e) => {
                join_ad()?;
                return Err(e);
            }
        };
        let idx = plan::CloudIndex::new(&cloud, args.match_keys);
        let ad = join_ad()?;
        write_plan(&args, &key, ad, &cloud, idx)
    })
}

/// Decide every row and write the review workbook.
fn write_plan(
    args: &Args,
    key: &PlanKey,
    ad: sources::AdExport,
    cloud: &CloudState,
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

    let mut inputs = vec![InputSummary {
        role: "AD export".into(),
        path: ad.path.display().to_string(),
        sha256: ad.sha256.clone(),
        rows: ad.users.len(),
    }];
    inputs.extend(cloud.sources.iter().map(|s| InputSummary {
        role: "Cloud users".into(),
        path: s.description.clone(),
        sha256: s.sha256.clone().unwrap_or_default(),
        rows: s.rows,
    }));
    let pre = match args.pre_approve {
        Some(PreApprove::Set) => plan::PreApproval::clean_set(cloud, args.unchecked_ok),
        None => plan::PreApproval::default(),
    };
    let withheld = (!pre.unchecked.is_empty()).then(|| {
        format!(
            "--pre-approve set approved nothing: not checked: {}. Read them (see the warnings above), or pass \
             --unchecked-ok to pre-approve anyway",
            pre.unchecked.describe().join(", ")
        )
    });
    let warnings: Vec<String> = ad
        .warnings
        .iter()
        .chain(&cloud.warnings)
        .chain(&plan.warnings)
        .chain(&withheld)
        .cloned()
        .collect();
    let meta = ReviewMeta {
        inputs,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        warnings,
    };
    let ad_rows = ad.users.len();
    let (active, deleted) = (cloud.users.len(), cloud.deleted.len());
    let unmatched: Vec<&cloud::CloudUser> = plan
        .unmatched_cloud
        .iter()
        .filter_map(|&i| cloud.users.get(i))
        .collect();

    let mut counts: Vec<(Action, usize)> = Action::ALL.iter().map(|&a| (a, 0)).collect();
    let mut approved = 0usize;
    plan::with_review_rows(&plan, pre, key, |rows| {
        let rows = rows.inspect(|r| {
            if let Some(a) = r.plan.action {
                if let Some(c) = counts.iter_mut().find(|(x, _)| *x == a) {
                    c.1 += 1;
                }
            }
            if r.approve == Approval::Yes {
                approved += 1;
            }
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

    for w in &meta.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "Planned {ad_rows} AD users against {active} active and {deleted} soft-deleted cloud users:"
    );
    for (a, n) in counts.iter().filter(|(_, n)| *n > 0) {
        println!("  {:<16}{n:>9}", a.as_str());
    }
    println!("  {:<16}{:>9}", "Unmatched cloud", unmatched.len());
    if args.pre_approve.is_some() {
        println!("Pre-approved {approved} clean Set rows.");
    }
    println!("Review workbook: {}", args.output.display());
    Ok(ExitCode::SUCCESS)
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
