//! Executing a reviewed workbook against the tenant: `apply` (the approved rows) and `revert`
//! (Done rows back to their previous ImmutableId), with every result journaled before it is
//! reported and written back into the same workbook.
//!
//! A run, in order:
//! 1. **Lock** the workbook (`<workbook>.lock`), **read** it, and **replay** the journal of runs
//!    whose results the workbook does not hold yet (a crash, a workbook that could not be
//!    replaced).
//! 2. **Select** rows with [`crate::review::select`], the one rule `script` shares.
//! 3. **Pre-flight** ([`preflight`]): read the targets and holders, re-decide every row with the
//!    planning engine, refuse to start if the tenant blocks hard matches. Nothing is written
//!    before this is finished. `--what-if` stops here.
//! 4. **Execute** ([`execute`]): purge approved soft-deleted holders, PATCH, resolve conflicts,
//!    `--verify`.
//! 5. **Record** ([`record`]): the Runs sheet line, and the workbook rebuilt from its rows plus
//!    the journal.
//!
//! The Graph client knows nothing of this: apply hands it operations and gets results back.

pub mod crash;
mod execute;
pub mod journal;
mod ledger;
pub mod lock;
mod preflight;
pub mod progress;
pub mod record;
pub mod template;

pub use preflight::LIST_FROM_ROWS;

use crate::error::InputError;
use crate::graph::{GraphClient, GraphConfig, GraphError};
use crate::review::{
    select_revert, select_row, Approval, PlanKey, ReviewRow, SelectOptions, Selected, Status,
};
use crate::workbook::{self, RunRecord, RUN_STATUS_COLUMNS};
use journal::{Journal, Line, Op};
use ledger::{Ledger, Settled};
use preflight::Verdict;
use progress::Bars;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Which command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Apply,
    /// `all`: every Done row, not only those marked in the Revert column.
    Revert {
        all: bool,
    },
}

impl Command {
    fn name(self) -> &'static str {
        match self {
            Command::Apply => "apply",
            Command::Revert { .. } => "revert",
        }
    }
}

/// Who runs it and against what, for the journal and the Runs sheet.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    /// `user@host`.
    pub operator: String,
    pub tenant: String,
    pub client_id: String,
    pub national_cloud: String,
    /// The flags that change what runs, as typed.
    pub flags: Vec<String>,
    pub tool_version: String,
}

/// Everything a run needs besides the tenant.
#[derive(Clone, Debug)]
pub struct Options {
    pub workbook: PathBuf,
    /// `--journal`; default `<workbook>.journal.jsonl`.
    pub journal: Option<PathBuf>,
    pub command: Command,
    pub select: SelectOptions,
    /// Steps 1–3 only; nothing is sent, journaled or written.
    pub what_if: bool,
    /// Read every written user back.
    pub verify: bool,
    /// Only replay the journal into the workbook (no sign-in, nothing sent).
    pub resume: bool,
    pub context: RunContext,
    pub bars: Bars,
}

/// How the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Rows were settled (or there was nothing to do).
    Finished,
    /// The tenant blocks what apply would do; nothing was sent. The text says what and how to fix it.
    TenantRefused(String),
}

/// One row in the report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RowReport {
    pub row_id: u64,
    pub upn: String,
    pub status: String,
    pub result: String,
}

/// What a run did, for the summary on stdout (and `--json`).
#[derive(Clone, Debug)]
pub struct Report {
    pub run_id: String,
    pub command: Command,
    pub outcome: Outcome,
    pub what_if: bool,
    /// Every row the run considered (approved, or marked for revert), in Row-id order.
    pub rows: Vec<RowReport>,
    /// Rows per Status among `rows`.
    pub counts: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    pub workbook: PathBuf,
    pub journal: PathBuf,
    /// Where the previous version was kept, when the workbook was rewritten.
    pub backup: Option<PathBuf>,
    /// Why the workbook could not be rewritten (the journal has everything).
    pub write_back_error: Option<String>,
    /// What a reviewer added that the rewrite does not carry (kept in the backup).
    pub not_carried: Vec<String>,
    /// How long each step took, in real time (for the benchmark and `-v`).
    pub timings: Timings,
    /// ImmutableIds this run wrote (set, or set back by revert): 0 when a rerun found every
    /// approved row already settled.
    pub writes_sent: usize,
    /// `--resume`: only the journal's results were written into the workbook.
    pub resumed: bool,
}

/// Real time spent per step of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Lock, read the workbook, replay the journal, select.
    pub read: std::time::Duration,
    /// Sign-in, the tenant read and the re-decisions.
    pub preflight: std::time::Duration,
    /// Purges, PATCHes, conflicts and `--verify`.
    pub execute: std::time::Duration,
    /// The workbook rebuilt and renamed into place.
    pub write_back: std::time::Duration,
}

impl Report {
    /// 0: every considered row is Done (or Reverted, for revert); 1: some are not, or the
    /// workbook could not be rewritten; 3: the tenant refused.
    pub fn exit_code(&self) -> u8 {
        if matches!(self.outcome, Outcome::TenantRefused(_)) {
            return 3;
        }
        if self.write_back_error.is_some() {
            return 1;
        }
        let done = |status: &str| match self.command {
            // A reverted row has nothing left to do for apply either.
            Command::Apply => status == "Done" || status == "Reverted",
            Command::Revert { .. } => status == "Reverted",
        };
        let all = self
            .rows
            .iter()
            .all(|r| done(&r.status) || (self.what_if && r.status == WOULD_RUN));
        if all {
            0
        } else {
            1
        }
    }
}

/// The status `--what-if` reports for a row that would be sent.
pub const WOULD_RUN: &str = "Would run";

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
}

fn journal_error(path: &Path) -> impl Fn(std::io::Error) -> ApplyError + '_ {
    move |error| ApplyError::Io {
        what: "cannot write the journal",
        path: path.to_path_buf(),
        error,
    }
}

/// One row to send, built by selection and completed by pre-flight.
#[derive(Clone, Debug, Default)]
pub(crate) struct Job {
    /// Index into the run's rows.
    pub row: usize,
    pub op: Op,
    /// The request a killed run left without an answer, if any.
    pub in_doubt: Option<Op>,
    /// The cloud user's object id.
    pub user: String,
    /// What to write (`None` sends JSON null).
    pub value: Option<String>,
    /// The user's ImmutableId as pre-flight read it.
    pub current: Option<String>,
    /// The ImmutableId before this change, recorded for revert.
    pub previous: Option<String>,
    /// Said again in the Result: approved Checks, `--trust-workbook`, a purge.
    pub note: String,
    pub attempts: u32,
}

/// The OS account and machine running this, as `user@host`. On Unix the account comes from the
/// password database, not the environment: the Runs sheet is an audit record, and `USER` is often
/// unset (cron, containers, `sudo -i`) or simply set to anything.
pub fn operator() -> String {
    let user = account_name()
        .or_else(|| {
            ["USER", "USERNAME", "LOGNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", host())
}

#[cfg(unix)]
fn account_name() -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; on success `pw_name` points into `buf`, which
    // outlives its use below.
    let r = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if r != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty())
}

#[cfg(not(unix))]
fn account_name() -> Option<String> {
    None
}

fn host() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
        let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if r == 0 {
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            let h = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !h.is_empty() {
                return h;
            }
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Runs `apply` or `revert` on `opts.workbook`. `graph` is needed only when rows must be sent
/// (a rerun with nothing left to do, and `--resume`, never sign in).
pub fn run(
    opts: &Options,
    key: &PlanKey,
    graph: Option<GraphConfig>,
) -> Result<Report, ApplyError> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let started = ledger::now();
    // Step 1: lock, read, replay.
    let _lock = take_lock(opts, &run_id, &started)?;
    let (mut run, replay, pending) = Run::open(opts, key, run_id, started)?;
    if opts.resume {
        return finish_resume(opts, key, run.ledger, run.review, run.report, &replay);
    }
    run.note_start()?;

    // Step 2: selection.
    let (mut jobs, early, considered) =
        select(opts, key, &run.ledger.rows, &run.ledger.touched, &pending);
    run.report.timings.read = run.clock.elapsed();

    // Steps 3 and 4, only when something must be sent.
    let mut verdicts = Vec::new();
    if !jobs.is_empty() {
        if let Some(why) = run.send(graph, &mut jobs, &early, &mut verdicts)? {
            return run.refused(why);
        }
    } else if !opts.what_if {
        run.ledger
            .settle(early.clone())
            .map_err(journal_error(&run.journal_path))?;
    }
    if opts.what_if {
        let mut report = run.report;
        report.rows = what_if_rows(&run.ledger.rows, &considered, &early, &jobs, &verdicts);
        report.counts = count(&report.rows);
        return Ok(report);
    }

    // Step 5: record.
    run.record(&considered)
}

/// The lock beside the workbook (none for `--what-if`, which writes nothing). A stale lock is
/// taken over with a warning.
fn take_lock(
    opts: &Options,
    run_id: &str,
    started: &str,
) -> Result<Option<lock::WorkbookLock>, ApplyError> {
    if opts.what_if {
        return Ok(None);
    }
    let me = format!(
        "pid {} on {}, {} started {started}, run {run_id}",
        std::process::id(),
        host(),
        opts.context.operator
    );
    let (lock, stale) = lock::acquire(&opts.workbook, opts.journal.as_deref(), &me)?;
    if let Some(w) = stale {
        eprintln!("warning: {w}");
    }
    Ok(Some(lock))
}

/// What one run carries from step to step.
struct Run<'a> {
    opts: &'a Options,
    key: &'a PlanKey,
    run_id: String,
    started: String,
    clock: std::time::Instant,
    journal_path: PathBuf,
    ledger: Ledger,
    review: workbook::Review,
    report: Report,
}

impl<'a> Run<'a> {
    /// Reads the workbook and replays the journal into its rows. Also returns the replay and the
    /// rows a crashed run left in doubt, with the operation they were in.
    fn open(
        opts: &'a Options,
        key: &'a PlanKey,
        run_id: String,
        started: String,
    ) -> Result<(Self, journal::Replay, HashMap<usize, Op>), ApplyError> {
        let clock = std::time::Instant::now();
        let mut review = workbook::read_review(&opts.workbook)?;
        let journal_path = opts
            .journal
            .clone()
            .unwrap_or_else(|| journal::default_path(&opts.workbook));
        let recorded: HashSet<String> = review.meta.runs.iter().map(|r| r.run_id.clone()).collect();
        let replay = journal::replay(&journal_path, &recorded).map_err(|error| ApplyError::Io {
            what: "cannot read the journal",
            path: journal_path.clone(),
            error,
        })?;
        let rows = std::mem::take(&mut review.rows);
        let mut warnings = std::mem::take(&mut review.warnings);
        warnings.extend(replay.warnings.iter().cloned());
        let journal = if opts.what_if {
            None
        } else {
            Some(Journal::open(&journal_path).map_err(journal_error(&journal_path))?)
        };
        let mut ledger = Ledger::new(journal, run_id.clone(), rows);
        ledger.revert_mode = matches!(opts.command, Command::Revert { .. });
        let pending = record::merge_replay(&mut ledger.rows, &replay, &mut ledger.touched);
        let report = Report {
            run_id: run_id.clone(),
            command: opts.command,
            outcome: Outcome::Finished,
            what_if: opts.what_if,
            rows: Vec::new(),
            counts: BTreeMap::new(),
            warnings,
            workbook: opts.workbook.clone(),
            journal: journal_path.clone(),
            backup: None,
            write_back_error: None,
            not_carried: std::mem::take(&mut review.foreign),
            timings: Timings::default(),
            writes_sent: 0,
            resumed: opts.resume,
        };
        let run = Run {
            opts,
            key,
            run_id,
            started,
            clock,
            journal_path,
            ledger,
            review,
            report,
        };
        Ok((run, replay, pending))
    }

    /// The run's first journal line: who, where, with what, on which workbook.
    fn note_start(&mut self) -> Result<(), ApplyError> {
        let opts = self.opts;
        let line = Line::RunStart {
            run: self.run_id.clone(),
            at: self.started.clone(),
            command: opts.command.name().into(),
            operator: opts.context.operator.clone(),
            tenant: opts.context.tenant.clone(),
            client_id: opts.context.client_id.clone(),
            national_cloud: opts.context.national_cloud.clone(),
            flags: opts.context.flags.clone(),
            version: opts.context.tool_version.clone(),
            workbook: opts.workbook.display().to_string(),
            workbook_sha256: sha256_of(&opts.workbook),
        };
        self.ledger
            .note(&line)
            .map_err(journal_error(&self.journal_path))?;
        crash::at("after-run-start");
        Ok(())
    }

    /// Steps 3 and 4: pre-flight, then (unless `--what-if`) the writes and `--verify`. Returns why
    /// the tenant refuses the whole run, if it does; nothing is sent then.
    fn send(
        &mut self,
        graph: Option<GraphConfig>,
        jobs: &mut [Job],
        early: &[Settled],
        verdicts: &mut Vec<Verdict>,
    ) -> Result<Option<String>, ApplyError> {
        let graph = graph.ok_or_else(|| {
            GraphError::Config("rows need sending but no Graph connection was given".into())
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|error| ApplyError::Io {
                what: "cannot start the async runtime for",
                path: self.opts.workbook.clone(),
                error,
            })?;
        runtime.block_on(async {
            let client = GraphClient::connect(graph)?;
            let view = preflight::read_view(
                &client,
                &jobs.iter().map(|j| j.user.clone()).collect::<Vec<_>>(),
                &preflight::values_of(jobs, &self.ledger.rows),
                &self.opts.bars,
            )
            .await?;
            self.report.warnings.extend(view.warnings.iter().cloned());
            if let (Command::Apply, Some(f)) = (self.opts.command, &view.features) {
                if f.block_cloud_object_takeover_through_hard_match {
                    return Ok(Some(BLOCK_FLAG.to_string()));
                }
            }
            *verdicts = match self.opts.command {
                Command::Apply => preflight::judge_apply(jobs, &self.ledger.rows, &view),
                Command::Revert { .. } => preflight::judge_revert(jobs, &self.ledger.rows, &view),
            };
            if self.opts.what_if {
                return Ok(None);
            }
            self.ledger
                .settle(early.to_vec())
                .map_err(journal_error(&self.journal_path))?;
            let go = settle_verdicts(&mut self.ledger, jobs, verdicts, &view)
                .map_err(journal_error(&self.journal_path))?;
            drop(view);
            self.report.timings.preflight = self.clock.elapsed() - self.report.timings.read;
            self.execute(&client, go).await?;
            Ok(None)
        })
    }

    /// The writes, paced by the client; then `--verify` reads them back.
    async fn execute(
        &mut self,
        client: &GraphClient,
        go: Vec<execute::Go>,
    ) -> Result<(), ApplyError> {
        let bar = self.opts.bars.execute(go.len() as u64);
        let exec = execute::ExecOptions {
            purge_conflicts: self.opts.select.purge_deleted_conflicts,
        };
        let written = execute::run(client, &mut self.ledger, go, exec, &bar)
            .await
            .map_err(journal_error(&self.journal_path))?;
        bar.finish_and_clear();
        self.report.writes_sent = written.len();
        if self.opts.verify && !written.is_empty() {
            execute::verify(client, &mut self.ledger, &written)
                .await
                .map_err(journal_error(&self.journal_path))?;
        }
        Ok(())
    }

    /// The tenant refuses the run: journal that, and report why.
    fn refused(mut self, why: String) -> Result<Report, ApplyError> {
        self.ledger
            .note(&run_end(&self.run_id, &BTreeMap::new(), "tenant refused"))
            .map_err(journal_error(&self.journal_path))?;
        self.report.outcome = Outcome::TenantRefused(why);
        Ok(self.report)
    }

    /// Step 5: the run's end into the journal, then the results into the workbook (left alone when
    /// nothing changed, as it may be open in Excel).
    fn record(mut self, considered: &[usize]) -> Result<Report, ApplyError> {
        let ledger = &self.ledger;
        self.report.rows = considered
            .iter()
            .map(|&i| {
                let mut r = row_report(&ledger.rows[i]);
                if let Some(s) = ledger.shown.get(&i) {
                    r.status = s.as_str().to_string();
                }
                r
            })
            .collect();
        self.report.counts = count(&self.report.rows);
        self.ledger
            .note(&run_end(&self.run_id, &self.report.counts, "complete"))
            .map_err(journal_error(&self.journal_path))?;
        let t = &mut self.report.timings;
        if t.preflight > std::time::Duration::ZERO {
            t.execute = self.clock.elapsed() - t.read - t.preflight;
        }
        crash::at("before-write-back");
        if !self.ledger.touched.iter().any(|t| *t) {
            return Ok(self.report);
        }
        let record = run_record(
            self.opts,
            &self.run_id,
            &self.started,
            &self.report.counts,
            &self.journal_path,
        );
        self.review.meta.runs.push(record);
        let writing = std::time::Instant::now();
        match record::write_back(
            &self.opts.workbook,
            &mut self.ledger.rows,
            &self.ledger.touched,
            self.key,
            &self.review,
        ) {
            Ok(bak) => self.report.backup = Some(bak),
            Err(e) => self.report.write_back_error = Some(e.message),
        }
        self.report.timings.write_back = writing.elapsed();
        Ok(self.report)
    }
}

const BLOCK_FLAG: &str = "The tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled turned on: Entra Connect \
refuses every hard match while it is on (sync error InvalidHardMatch), so setting ImmutableIds now would change \
nothing it could use. Nothing was sent. Turn it off for the matching period \
(Update-MgDirectoryOnPremiseSynchronization -OnPremisesDirectorySynchronizationId <id> -Features @{BlockCloudObjectTakeoverThroughHardMatchEnabled=$false}, \
needs OnPremDirectorySynchronization.ReadWrite.All), run apply and let Entra Connect sync, then turn it back on.";

/// `--resume`: the journal's results into the workbook, nothing sent.
fn finish_resume(
    opts: &Options,
    key: &PlanKey,
    mut ledger: Ledger,
    mut review: workbook::Review,
    mut report: Report,
    replay: &journal::Replay,
) -> Result<Report, ApplyError> {
    let considered: Vec<usize> = (0..ledger.rows.len())
        .filter(|&i| ledger.touched[i])
        .collect();
    report.rows = considered
        .iter()
        .map(|&i| row_report(&ledger.rows[i]))
        .collect();
    report.counts = count(&report.rows);
    if considered.is_empty() {
        return Ok(report);
    }
    // The interrupted runs' lines go on the Runs sheet, so they are not replayed again.
    let recorded: HashSet<&str> = review.meta.runs.iter().map(|r| r.run_id.as_str()).collect();
    let mut new_runs = Vec::new();
    for (run, command) in &replay.runs {
        if !recorded.contains(run.as_str()) {
            let mut r = run_record(opts, run, "", &report.counts, &report.journal);
            r.command = format!("{command} (resumed)");
            new_runs.push(r);
        }
    }
    review.meta.runs.extend(new_runs);
    match record::write_back(
        &opts.workbook,
        &mut ledger.rows,
        &ledger.touched,
        key,
        &review,
    ) {
        Ok(bak) => report.backup = Some(bak),
        Err(e) => report.write_back_error = Some(e.message),
    }
    Ok(report)
}

/// Step 2: which rows run, and how the others end. Returns the jobs, the settled outcomes of the
/// rows that do not run, and every row the report covers.
fn select(
    opts: &Options,
    key: &PlanKey,
    rows: &[ReviewRow],
    replayed: &[bool],
    pending: &HashMap<usize, Op>,
) -> (Vec<Job>, Vec<Settled>, Vec<usize>) {
    let mut jobs = Vec::new();
    let mut early = Vec::new();
    let mut considered = Vec::new();
    let op = match opts.command {
        Command::Apply => Op::Set,
        Command::Revert { .. } => Op::Revert,
    };
    for (i, row) in rows.iter().enumerate() {
        let chosen = match opts.command {
            Command::Apply => select_row(row, key, &opts.select),
            Command::Revert { all } => select_revert(row, key, all, &opts.select),
        };
        if chosen == Selected::NotApproved {
            continue;
        }
        considered.push(i);
        let previous = match (&chosen, opts.command) {
            // select_revert verified the signature (or --trust-workbook accepted it).
            (Selected::Run { .. }, Command::Revert { .. }) => row.previous_immutable_id.clone(),
            _ => trusted_previous(row, key, replayed[i]),
        };
        let settle = |status: Status, result: String| Settled {
            row: i,
            op: Op::Check,
            status,
            result,
            attempts: row.attempts,
            previous: previous.clone(),
            applied: false,
        };
        match chosen {
            Selected::NotApproved | Selected::AlreadyDone | Selected::Reverted => {}
            Selected::UnclearApproval(why) => early.push(settle(Status::Skipped, why)),
            Selected::Refused(why) => early.push(settle(Status::Refused, why)),
            Selected::Skipped(why) => early.push(settle(Status::Skipped, why)),
            Selected::Run { unsigned } => {
                let in_doubt = pending
                    .get(&i)
                    .copied()
                    .or_else(|| (row.status == Status::InDoubt).then_some(op));
                jobs.push(Job {
                    row: i,
                    op,
                    in_doubt,
                    user: row.plan.cloud_object_id.clone(),
                    value: Some(row.plan.new_immutable_id.clone()),
                    attempts: row.attempts,
                    previous,
                    note: if unsigned {
                        "run under --trust-workbook (planned with another key or by hardmatch 0.1)"
                            .into()
                    } else {
                        String::new()
                    },
                    current: None,
                });
            }
        }
    }
    (jobs, early, considered)
}

/// A row's Previous ImmutableId, when it can be trusted: it came from the journal (replayed this
/// run), or the row's Result fingerprint proves apply recorded it. A value someone typed into
/// the sheet is never re-signed and never reaches revert.
fn trusted_previous(row: &ReviewRow, key: &PlanKey, replayed: bool) -> Option<String> {
    if replayed || key.verify_result(row) == crate::review::Verdict::Valid {
        row.previous_immutable_id.clone()
    } else {
        None
    }
}

/// Records the rows pre-flight settled; returns the ones to send.
fn settle_verdicts(
    ledger: &mut Ledger,
    jobs: &mut [Job],
    verdicts: &[Verdict],
    view: &preflight::TenantView,
) -> std::io::Result<Vec<execute::Go>> {
    let mut settled = Vec::new();
    let mut go = Vec::new();
    for (job, v) in jobs.iter_mut().zip(verdicts) {
        match v {
            Verdict::Settle(status, result) => settled.push(Settled {
                row: job.row,
                op: Op::Check,
                status: status.clone(),
                result: result.clone(),
                attempts: job.attempts,
                // Done without a write: the value before is known only from an interrupted
                // run's journal; otherwise apply changed nothing there is to revert.
                previous: match (status, job.op) {
                    (Status::Done, Op::Set) if job.in_doubt.is_none() => None,
                    _ => job.previous.clone(),
                },
                applied: false,
            }),
            Verdict::Go { purge } => {
                let purge = purge.as_ref().map(|h| {
                    let iid = &ledger.rows[job.row].plan.new_immutable_id;
                    Box::new(
                        view.deleted_holder(iid, &h.id)
                            .unwrap_or_else(|| (**h).clone()),
                    )
                });
                // Taken, not cloned: past pre-flight only `go` is used (what-if never gets here).
                go.push(execute::Go {
                    job: std::mem::take(job),
                    purge,
                });
            }
        }
    }
    ledger.settle(settled)?;
    Ok(go)
}

fn what_if_rows(
    rows: &[ReviewRow],
    considered: &[usize],
    early: &[Settled],
    jobs: &[Job],
    verdicts: &[Verdict],
) -> Vec<RowReport> {
    let mut by_row: HashMap<usize, (String, String)> = HashMap::new();
    for s in early {
        by_row.insert(s.row, (s.status.as_str().to_string(), s.result.clone()));
    }
    for (job, v) in jobs.iter().zip(verdicts) {
        let entry = match v {
            Verdict::Settle(status, result) => (status.as_str().to_string(), result.clone()),
            Verdict::Go { purge } => {
                let write = match (&job.op, &job.value) {
                    (Op::Revert, None) => "would clear the ImmutableId (JSON null)".to_string(),
                    (Op::Revert, Some(v)) => format!("would set the ImmutableId back to {v}"),
                    (_, v) => {
                        let v = v.clone().unwrap_or_default();
                        match job.current.as_deref() {
                            Some("") | None => format!("would set ImmutableId {v}"),
                            Some(c) => format!("would replace ImmutableId {c} with {v}"),
                        }
                    }
                };
                let write = match purge {
                    Some(h) => format!(
                        "would permanently delete soft-deleted holder (id {}), then {write}",
                        h.id
                    ),
                    None => write,
                };
                let note = if job.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", job.note)
                };
                (WOULD_RUN.to_string(), format!("{write}{note}"))
            }
        };
        by_row.insert(job.row, entry);
    }
    considered
        .iter()
        .map(|&i| {
            let r = &rows[i];
            let (status, result) = by_row
                .remove(&i)
                .unwrap_or_else(|| (r.status.as_str().to_string(), r.result.clone()));
            RowReport {
                row_id: r.plan.row_id,
                upn: r.plan.upn.clone(),
                status,
                result,
            }
        })
        .collect()
}

fn row_report(r: &ReviewRow) -> RowReport {
    RowReport {
        row_id: r.plan.row_id,
        upn: r.plan.upn.clone(),
        status: r.status.as_str().to_string(),
        result: r.result.clone(),
    }
}

fn count(rows: &[RowReport]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r.status.clone()).or_insert(0) += 1;
    }
    out
}

fn run_end(run: &str, counts: &BTreeMap<String, u64>, outcome: &str) -> Line {
    Line::RunEnd {
        run: run.to_string(),
        at: ledger::now(),
        counts: counts.clone(),
        outcome: outcome.to_string(),
    }
}

fn run_record(
    opts: &Options,
    run_id: &str,
    started: &str,
    counts: &BTreeMap<String, u64>,
    journal: &Path,
) -> RunRecord {
    let c = &opts.context;
    RunRecord {
        run_id: run_id.to_string(),
        command: opts.command.name().to_string(),
        started: started.to_string(),
        ended: ledger::now(),
        operator: c.operator.clone(),
        tenant: c.tenant.clone(),
        client_id: c.client_id.clone(),
        national_cloud: c.national_cloud.clone(),
        flags: c.flags.join(" "),
        counts: RUN_STATUS_COLUMNS.map(|s| counts.get(s).copied().unwrap_or(0)),
        tool_version: c.tool_version.clone(),
        journal: journal.display().to_string(),
    }
}

fn sha256_of(path: &Path) -> String {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(_) => return String::new(),
        }
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// Whether the reviewer approved the row (Approve = Yes).
pub fn is_approved(row: &ReviewRow) -> bool {
    row.approve == Approval::Yes
}

#[cfg(all(test, unix))]
mod operator_tests {
    #[test]
    fn the_operator_is_the_os_account_from_the_password_database() {
        // The account of this process, as the system knows it (root here and in CI).
        let uid = unsafe { libc::geteuid() };
        let name = super::account_name().expect("an account name");
        assert!(!name.is_empty());
        if uid == 0 {
            assert_eq!(name, "root");
        }
        assert!(super::operator().starts_with(&format!("{name}@")));
    }
}
