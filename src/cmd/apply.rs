//! `hardmatch apply`: execute the approved rows of a review workbook against the tenant —
//! pre-flight first, every result journaled, then written back into the same workbook — and
//! exit 0 only when every approved row is Done. Also holds what `revert` shares with it.

use crate::cmd::cloud::UsageError;
use crate::cmd::graph_args::GraphArgs;
use crate::cmd::plan::KeyArgs;
use hardmatch::apply::{
    self, progress::Bars, template, ApplyError, Command, Options, Outcome, Report, RunContext,
};
use hardmatch::cloud::live::LiveOptions;
use hardmatch::graph::GraphConfig;
use hardmatch::review::{PlanKey, SelectOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    hardmatch apply plan.xlsx --what-if --tenant contoso.onmicrosoft.com --client-id APP_ID\n  \
    AZURE_CLIENT_SECRET=… hardmatch apply plan.xlsx --tenant contoso.onmicrosoft.com --client-id APP_ID\n  \
    hardmatch apply plan.xlsx --purge-deleted-conflicts --verify …   (ConflictDeleted rows too)\n  \
    hardmatch apply plan.xlsx --resume   (results of an interrupted run into the workbook; sends nothing)\n\n\
    Exit codes: 0 every approved row is Done (or nothing was left to do); 1 some approved rows are not \
    Done (see their Result), or the workbook could not be rewritten; 2 bad input or flags; 3 the sign-in \
    or the tenant refused.")]
pub struct Args {
    /// The review workbook written by `hardmatch plan` (or a filled-in `hardmatch template`).
    pub workbook: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    /// Also run approved Replace rows (overwrite an existing, different ImmutableId).
    #[arg(long)]
    pub allow_replace: bool,
    /// Permanently delete a soft-deleted user holding the ImmutableId (approved ConflictDeleted
    /// rows, and conflicts found while applying). Cannot be undone.
    #[arg(long)]
    pub purge_deleted_conflicts: bool,
    /// Only write the results of an interrupted run (from the journal) into the workbook:
    /// no sign-in, nothing sent.
    #[arg(long, conflicts_with = "what_if")]
    pub resume: bool,
    /// With a template: replace an existing `<stem>.plan.xlsx` beside it even if it holds approvals.
    #[arg(long)]
    pub force: bool,
}

/// Flags `apply` and `revert` share.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run pre-flight and report per row what would happen; send, journal and write nothing.
    #[arg(long)]
    pub what_if: bool,
    /// Read every written user back and confirm its new ImmutableId.
    #[arg(long)]
    pub verify: bool,
    /// Run rows planned on another machine (or by hardmatch 0.1), if consistent. Only when you
    /// trust everyone who handled the workbook; the Runs sheet records it.
    #[arg(long)]
    pub trust_workbook: bool,
    /// The journal [default: <workbook>.journal.jsonl beside it]; for a workbook on a read-only share.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Print the run summary as JSON on stdout (counts per Status; per row the Row id, UPN, Status and Result).
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let select = SelectOptions {
        allow_replace: args.allow_replace,
        purge_deleted_conflicts: args.purge_deleted_conflicts,
        trust_workbook: args.run.trust_workbook,
    };
    let mut flags = Vec::new();
    let workbook = if template::is_template(&args.workbook) {
        flags.push(format!("(from template {})", args.workbook.display()));
        plan_template(&args)?
    } else {
        args.workbook.clone()
    };
    for (on, name) in [
        (args.allow_replace, "--allow-replace"),
        (args.purge_deleted_conflicts, "--purge-deleted-conflicts"),
        (args.resume, "--resume"),
    ] {
        if on {
            flags.push(name.to_string());
        }
    }
    execute(
        &workbook,
        &args.run,
        Command::Apply,
        select,
        args.resume,
        flags,
    )
}

/// A filled-in template: plan its users against the live tenant into `<stem>.plan.xlsx` beside
/// it (the template is not changed), carrying its approvals where the plan is what it asked.
fn plan_template(args: &Args) -> anyhow::Result<PathBuf> {
    let plan = template::plan_path(&args.workbook);
    template::check_plan_path(&plan, args.force)?;
    let key = args.run.key.load_or_create()?;
    let (cloud, _) = crate::cmd::cloud::read_tenant(&args.run.graph, LiveOptions::default())?;
    let planned = template::plan_template(&args.workbook, &cloud, &key)?;
    let unmatched: Vec<_> = planned.unmatched.iter().collect();
    // A plan replaced with --force is kept as <stem>.plan.bak.xlsx.
    let backup = if plan.is_file() {
        Some(hardmatch::fsutil::keep_backup(&plan)?)
    } else {
        None
    };
    hardmatch::workbook::write_review(
        &plan,
        &planned.rows,
        &unmatched,
        &planned.meta,
        &hardmatch::workbook::WriteOptions::default(),
    )?;
    if let Some(b) = backup {
        eprintln!(
            "The previous {} is kept as {}.",
            plan.display(),
            b.keep().display()
        );
    }
    let approved = planned
        .rows
        .iter()
        .filter(|r| r.approve == hardmatch::review::Approval::Yes)
        .count();
    eprintln!(
        "Planned the template's {} users against the tenant into {} ({approved} approved rows carried over); applying that workbook.",
        planned.rows.len(),
        plan.display()
    );
    for n in &planned.not_carried {
        eprintln!("note: approval not carried: {n}");
    }
    Ok(plan)
}

/// The part of `apply` and `revert` after their own flags: key, context, run, report.
pub fn execute(
    workbook: &std::path::Path,
    run: &RunArgs,
    command: Command,
    select: SelectOptions,
    resume: bool,
    mut flags: Vec<String>,
) -> anyhow::Result<ExitCode> {
    // A wrong path is the likelier mistake than a missing key: say that first.
    hardmatch::workbook::check_is_workbook(workbook)?;
    // apply never creates a key: a new one would only refuse every row.
    let key = PlanKey::load(&run.key.path()?)?;
    for (on, name) in [
        (run.what_if, "--what-if"),
        (run.verify, "--verify"),
        (run.trust_workbook, "--trust-workbook"),
    ] {
        if on {
            flags.push(name.to_string());
        }
    }
    let opts = Options {
        workbook: workbook.to_path_buf(),
        journal: run.journal.clone(),
        command,
        select,
        what_if: run.what_if,
        verify: run.verify,
        resume,
        context: context(&run.graph, flags),
        bars: Bars::new(!run.quiet && !run.json && std::io::stderr().is_terminal()),
    };
    let graph = if resume {
        None
    } else {
        // Built only now, so a rerun with nothing left to send needs no sign-in flags: the
        // error is kept until a row needs Graph.
        match run.graph.sign_in() {
            Ok((c, _)) => Some(c),
            Err(e) => {
                return finish(&opts, &key, Err(format!("{e:#}")), run.json);
            }
        }
    };
    finish(&opts, &key, Ok(graph), run.json)
}

fn finish(
    opts: &Options,
    key: &PlanKey,
    graph: Result<Option<GraphConfig>, String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = match graph {
        Ok(g) => apply::run(opts, key, g),
        Err(config_error) => match apply::run(opts, key, None) {
            Err(ApplyError::Graph(hardmatch::graph::GraphError::Config(_))) => {
                return Err(UsageError(config_error).into())
            }
            other => other,
        },
    };
    let report = report.map_err(into_anyhow)?;
    print_report(&report, json)?;
    Ok(ExitCode::from(report.exit_code()))
}

/// Keeps each error's own type at the top of the chain, so the exit code table applies.
fn into_anyhow(e: ApplyError) -> anyhow::Error {
    match e {
        ApplyError::Input(e) => e.into(),
        ApplyError::Graph(e) => e.into(),
        other => other.into(),
    }
}

/// Tenant, client id and cloud as the flags (or the environment) give them, for the journal and
/// the Runs sheet. Never a secret.
fn context(graph: &GraphArgs, flags: Vec<String>) -> RunContext {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    use clap::ValueEnum;
    RunContext {
        operator: apply::operator(),
        tenant: graph
            .tenant
            .clone()
            .or_else(|| env("AZURE_TENANT_ID"))
            .unwrap_or_default(),
        client_id: graph
            .client_id
            .clone()
            .or_else(|| env("AZURE_CLIENT_ID"))
            .unwrap_or_default(),
        national_cloud: graph
            .cloud
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        flags,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Rows listed by name on stdout before "and N more".
const LIST_AT_MOST: usize = 50;
/// Up to this many rows, every row is listed (Done ones too).
const ALL_ROWS_UP_TO: usize = 20;

/// Prints the report on stdout; a closed pipe (`| head`) is not an error.
fn print_report(r: &Report, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let text = render_report(r, json)?;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn render_report(r: &Report, json: bool) -> anyhow::Result<String> {
    print_notes(r);
    if json {
        return render_json(r);
    }
    let mut out = String::new();
    if matches!(r.outcome, Outcome::TenantRefused(_)) {
        out.push_str("Nothing was sent: the tenant refuses hard matches (see above).\n");
        return Ok(out);
    }
    if r.rows.is_empty() {
        render_nothing_to_do(&mut out, r)?;
    } else {
        render_rows(&mut out, r)?;
    }
    if !r.what_if {
        render_paths(&mut out, r)?;
    }
    Ok(out)
}

/// Warnings, the tenant's refusal, a failed write-back and what was not carried: on stderr.
fn print_notes(r: &Report) {
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if let Outcome::TenantRefused(why) = &r.outcome {
        eprintln!("error: {why}");
    }
    if let Some(e) = &r.write_back_error {
        eprintln!(
            "error: every result is safe in the journal {}, but the workbook was not updated: {e}.\n  \
             fix: close the workbook (Excel keeps it locked) or make it writable, then run \
             `hardmatch apply --resume {}` (sends nothing), or simply run apply again; on a \
             read-only share, copy the workbook somewhere writable and run \
             `hardmatch apply --resume --journal {} COPY.xlsx`",
            r.journal.display(),
            r.workbook.display(),
            r.journal.display()
        );
    }
    if let (false, Some(backup)) = (r.not_carried.is_empty(), &r.backup) {
        eprintln!(
            "note: not carried over into the rewritten workbook (still in {}): {}",
            backup.display(),
            r.not_carried.join(", ")
        );
    }
}

fn render_json(r: &Report) -> anyhow::Result<String> {
    let v = serde_json::json!({
        "run_id": r.run_id,
        "command": match r.command { Command::Apply => "apply", Command::Revert { .. } => "revert" },
        "what_if": r.what_if,
        "outcome": match &r.outcome { Outcome::Finished => "finished".to_string(), Outcome::TenantRefused(w) => format!("tenant refused: {w}") },
        "exit_code": r.exit_code(),
        "writes_sent": r.writes_sent,
        "resumed": r.resumed,
        "counts": r.counts,
        "rows": r.rows,
        "workbook": r.workbook,
        "backup": r.backup,
        "journal": r.journal,
        "write_back_error": r.write_back_error,
        "not_carried": r.not_carried,
        "warnings": r.warnings,
    });
    Ok(format!("{}\n", serde_json::to_string_pretty(&v)?))
}

fn verb(r: &Report) -> &'static str {
    match (r.command, r.what_if) {
        _ if r.resumed => "Resumed from the journal (nothing sent)",
        (_, true) => "What-if (nothing sent)",
        (Command::Apply, false) => "Applied",
        (Command::Revert { .. }, false) => "Reverted",
    }
}

/// No row was considered: say why, in the words of what was run.
fn render_nothing_to_do(out: &mut String, r: &Report) -> std::fmt::Result {
    use std::fmt::Write;
    let why = match r.command {
        _ if r.resumed => "the journal holds no result the workbook lacks; nothing to write",
        Command::Apply => "no row is approved (set Approve = Yes on the rows to apply); nothing to do",
        Command::Revert { all: false } => {
            "no Done row is marked for revert (mark Revert = Yes on Done rows, or pass --all); nothing to do"
        }
        Command::Revert { all: true } => {
            "no row is Done (rows Reverted earlier stay as they are); nothing to do"
        }
    };
    writeln!(out, "{}: {why}.", verb(r))
}

/// The counts per Status, then the rows: every row of a small run, only those that need a look
/// in a big one.
fn render_rows(out: &mut String, r: &Report) -> std::fmt::Result {
    use std::fmt::Write;
    writeln!(
        out,
        "{}: {} rows considered (run {})",
        verb(r),
        r.rows.len(),
        r.run_id
    )?;
    for (status, n) in &r.counts {
        writeln!(out, "  {status:<12}{n:>9}")?;
    }
    if !r.what_if && !r.resumed {
        // A rerun lists the rows Done earlier too: say what this run itself wrote.
        writeln!(
            out,
            "  ({} ImmutableIds written by this run)",
            r.writes_sent
        )?;
    }
    let all = r.rows.len() <= ALL_ROWS_UP_TO || r.what_if;
    let open: Vec<_> = r
        .rows
        .iter()
        .filter(|x| all || !matches!(x.status.as_str(), "Done" | "Reverted"))
        .collect();
    if !open.is_empty() && !all {
        let done = match r.command {
            Command::Apply => "Done",
            Command::Revert { .. } => "Reverted",
        };
        writeln!(out, "Rows that are not {done}:")?;
    }
    for x in open.iter().take(LIST_AT_MOST) {
        writeln!(
            out,
            "  Row {:<7} {:<36} {}: {}",
            x.row_id, x.upn, x.status, x.result
        )?;
    }
    if open.len() > LIST_AT_MOST {
        writeln!(
            out,
            "  … and {} more: see the Result column",
            open.len() - LIST_AT_MOST
        )?;
    }
    Ok(())
}

fn render_paths(out: &mut String, r: &Report) -> std::fmt::Result {
    use std::fmt::Write;
    match (&r.backup, &r.write_back_error) {
        (Some(b), None) => writeln!(
            out,
            "Workbook: {} (previous version: {})",
            r.workbook.display(),
            b.display()
        )?,
        _ => writeln!(out, "Workbook: {} (not updated)", r.workbook.display())?,
    }
    writeln!(out, "Journal: {}", r.journal.display())
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
    fn flags_parse_as_documented() {
        let cli = Cli::try_parse_from([
            "apply",
            "plan.xlsx",
            "--allow-replace",
            "--purge-deleted-conflicts",
            "--verify",
            "--json",
            "--journal",
            "/tmp/j.jsonl",
            "--trust-workbook",
            "--key-file",
            "k.key",
            "--tenant",
            "t",
        ])
        .unwrap();
        let a = cli.args;
        assert!(a.allow_replace && a.purge_deleted_conflicts && a.run.verify && a.run.json);
        assert!(a.run.trust_workbook && !a.run.what_if && !a.resume);
        assert_eq!(a.run.journal, Some(PathBuf::from("/tmp/j.jsonl")));
        assert!(Cli::try_parse_from(["apply", "p.xlsx", "--resume", "--what-if"]).is_err());
    }

    fn empty_report(resumed: bool) -> Report {
        Report {
            run_id: "r".into(),
            command: Command::Apply,
            outcome: hardmatch::apply::Outcome::Finished,
            what_if: false,
            rows: Vec::new(),
            counts: Default::default(),
            warnings: Vec::new(),
            workbook: "plan.xlsx".into(),
            journal: "plan.xlsx.journal.jsonl".into(),
            backup: None,
            write_back_error: None,
            not_carried: Vec::new(),
            timings: Default::default(),
            writes_sent: 0,
            resumed,
        }
    }

    #[test]
    fn a_big_run_lists_only_the_rows_that_need_a_look() {
        let mut r = empty_report(false);
        r.rows = (1..=ALL_ROWS_UP_TO as u64 + 1)
            .map(|i| hardmatch::apply::RowReport {
                row_id: i,
                upn: format!("u{i}@contoso.com"),
                status: if i == 7 { "Failed" } else { "Done" }.into(),
                result: if i == 7 { "Graph said no" } else { "Set" }.into(),
            })
            .collect();
        r.counts = [
            ("Done".to_string(), ALL_ROWS_UP_TO as u64),
            ("Failed".to_string(), 1),
        ]
        .into_iter()
        .collect();
        r.writes_sent = 3;
        let text = render_report(&r, false).unwrap();
        assert!(text.contains("Rows that are not Done:"), "{text}");
        assert!(text.contains("u7@contoso.com") && text.contains("Failed: Graph said no"));
        assert!(!text.contains("u8@contoso.com"), "{text}");
        assert!(
            text.contains("(3 ImmutableIds written by this run)"),
            "{text}"
        );
        assert!(text.contains("Journal: plan.xlsx.journal.jsonl"), "{text}");
    }

    #[test]
    fn a_resume_with_nothing_new_does_not_claim_that_no_row_is_approved() {
        let text = render_report(&empty_report(true), false).unwrap();
        assert!(text.contains("journal holds no result"), "{text}");
        assert!(!text.contains("no row is approved"), "{text}");
        let text = render_report(&empty_report(false), false).unwrap();
        assert!(text.contains("no row is approved"), "{text}");
        let mut revert_all = empty_report(false);
        revert_all.command = Command::Revert { all: true };
        let text = render_report(&revert_all, false).unwrap();
        assert!(text.contains("no row is Done"), "{text}");
    }
}
