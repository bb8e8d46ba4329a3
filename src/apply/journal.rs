//! The journal: every result, appended beside the workbook before it is reported anywhere.
//!
//! JSON Lines, one object per line, never rewritten and never deleted by the tool (it is the audit
//! trail). A row's `started` line is written and flushed to the OS *before* its request leaves,
//! so a crash at any instant leaves the row in doubt rather than lost: the next run reads the user
//! back before sending anything. `fsync` runs at least once per batch of requests. Lines carry the
//! row's plan fingerprint, so a line never applies to a re-planned row that reuses its Row id.
//!
//! A process killed while writing leaves a torn last line; it is skipped with a warning, and the
//! next run starts on a fresh line.

use crate::review::Status;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What a row line is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// PATCH the planned ImmutableId.
    #[default]
    Set,
    /// Permanently delete the soft-deleted user holding the ImmutableId.
    Purge,
    /// PATCH the previous ImmutableId back (or JSON null).
    Revert,
    /// Decided without a request (refused, skipped, already held).
    Check,
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Line {
    RunStart {
        run: String,
        at: String,
        /// `apply` or `revert`.
        command: String,
        operator: String,
        tenant: String,
        client_id: String,
        national_cloud: String,
        flags: Vec<String>,
        version: String,
        workbook: String,
        /// SHA-256 of the workbook as the run found it.
        workbook_sha256: String,
    },
    /// The request for this row is about to leave.
    Started {
        run: String,
        row: u64,
        fp: String,
        op: Op,
        /// The cloud user (or, for a purge, the soft-deleted holder).
        user: String,
        /// The value sent (`null` clears it).
        value: Option<String>,
        /// The ImmutableId the user had before, as read in pre-flight (`""` = none, `null` =
        /// not known).
        previous: Option<String>,
        /// Requests sent for this row so far, this one included.
        attempts: u32,
        at: String,
    },
    /// What became of the row.
    Result {
        run: String,
        row: u64,
        fp: String,
        op: Op,
        status: String,
        result: String,
        attempts: u32,
        previous: Option<String>,
        /// When the change was made (Done/Reverted), RFC 3339.
        applied_at: String,
        at: String,
    },
    RunEnd {
        run: String,
        at: String,
        counts: BTreeMap<String, u64>,
        /// `complete`, `tenant refused`, …
        outcome: String,
    },
}

/// The journal file, open for appending. Lines go to the OS in one `write` per call, so a line
/// the OS has accepted survives the process being killed; [`Journal::sync`] makes them survive
/// the machine too.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating) the journal at `path`. If a killed run left a torn last line, a newline
    /// ends it so the next line starts clean.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines` in one `write` (not yet durable: see [`Journal::sync`]).
    pub fn write(&mut self, lines: &[Line]) -> io::Result<()> {
        // Pre-flight can settle a million rows at once: write in pieces, not one buffer of all.
        const PIECE: usize = 1 << 20;
        let mut buf = Vec::with_capacity(lines.len().min(PIECE / 256) * 256);
        for line in lines {
            if buf.len() >= PIECE {
                self.file.write_all(&buf)?;
                buf.clear();
            }
            let start = buf.len();
            serde_json::to_writer(&mut buf, line).map_err(io::Error::other)?;
            buf.push(b'\n');
            if matches!(line, Line::Result { .. }) && super::crash::point("mid-result-line") {
                // Test hook: what a SIGKILL inside the write leaves behind.
                let half = start + (buf.len() - start) / 2;
                self.file.write_all(&buf[..half])?;
                super::crash::die();
            }
        }
        self.file.write_all(&buf)
    }

    /// [`Journal::write`], then [`Journal::sync`].
    pub fn write_synced(&mut self, lines: &[Line]) -> io::Result<()> {
        self.write(lines)?;
        self.sync()
    }

    /// Makes every line written so far durable (`fsync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The default journal of a workbook: `<workbook>.journal.jsonl` beside it.
pub fn default_path(workbook: &Path) -> PathBuf {
    let mut name = workbook
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".journal.jsonl");
    workbook.with_file_name(name)
}

/// What the journal says about one row (the latest of its lines that counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowState {
    pub fp: String,
    pub run: String,
    /// `Some(op)` when the last line is a `started` without its `result`: the row is in doubt.
    pub pending: Option<Op>,
    pub status: Status,
    pub result: String,
    pub attempts: u32,
    /// `None` = not known; `Some("")` = the user had none.
    pub previous: Option<String>,
    pub applied_at: String,
}

/// The journal read back.
#[derive(Debug, Default)]
pub struct Replay {
    /// Latest state per Row id (with the fingerprint the lines carried).
    pub rows: HashMap<u64, RowState>,
    /// Runs that started, in order: (run id, command).
    pub runs: Vec<(String, String)>,
    /// Runs that wrote their run-end line.
    pub ended: HashSet<String>,
    /// Lines that could not be read (a torn last line after a crash), described.
    pub warnings: Vec<String>,
}

/// Reads the journal at `path` (none yet is an empty replay), skipping what the workbook already
/// holds: the lines of runs in `skip_runs` (its Runs sheet lists them), and every line before the
/// start of such a run, because that run replayed those lines itself and wrote their results
/// into the workbook. Replaying an interrupted run again after a later run finished would put
/// its stale "in doubt" rows back over that run's results.
pub fn replay(path: &Path, skip_runs: &HashSet<String>) -> io::Result<Replay> {
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Replay::default()),
        Err(e) => return Err(e),
    };
    let mut out = Replay::default();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    for (n, raw) in lines.iter().enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Line = match serde_json::from_slice(raw) {
            Ok(l) => l,
            Err(e) => {
                let what = if n == last {
                    "its last line is incomplete (a run was interrupted while writing it)"
                } else {
                    "a line is incomplete or damaged (a run was interrupted while writing it)"
                };
                out.warnings.push(format!(
                    "{}, line {}: {what}; it is ignored ({e})",
                    path.display(),
                    n + 1
                ));
                continue;
            }
        };
        apply_line(&mut out, line, skip_runs);
    }
    Ok(out)
}

fn apply_line(out: &mut Replay, line: Line, skip_runs: &HashSet<String>) {
    match line {
        Line::RunStart { run, command, .. } => {
            if skip_runs.contains(&run) {
                // A checkpoint: everything before it is in the workbook.
                out.rows.clear();
            }
            out.runs.push((run, command))
        }
        Line::RunEnd { run, .. } => {
            out.ended.insert(run);
        }
        Line::Started { run, .. } | Line::Result { run, .. } if skip_runs.contains(&run) => {}
        Line::Started {
            run,
            row,
            fp,
            op,
            previous,
            attempts,
            ..
        } => {
            let prior = out.rows.get(&row).filter(|s| s.fp == fp);
            let status = prior.map(|s| s.status.clone()).unwrap_or_default();
            let result = prior.map(|s| s.result.clone()).unwrap_or_default();
            out.rows.insert(
                row,
                RowState {
                    fp,
                    run,
                    pending: Some(op),
                    status,
                    result,
                    attempts,
                    previous,
                    applied_at: String::new(),
                },
            );
        }
        Line::Result {
            run,
            row,
            fp,
            status,
            result,
            attempts,
            previous,
            applied_at,
            ..
        } => {
            out.rows.insert(
                row,
                RowState {
                    fp,
                    run,
                    pending: None,
                    status: Status::parse(&status),
                    result,
                    attempts,
                    previous,
                    applied_at,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(run: &str, row: u64, op: Op, previous: Option<&str>) -> Line {
        Line::Started {
            run: run.into(),
            row,
            fp: "fp".into(),
            op,
            user: "u".into(),
            value: Some("v".into()),
            previous: previous.map(String::from),
            attempts: 1,
            at: "t".into(),
        }
    }

    fn result(run: &str, row: u64, status: &str) -> Line {
        Line::Result {
            run: run.into(),
            row,
            fp: "fp".into(),
            op: Op::Set,
            status: status.into(),
            result: format!("{status} words"),
            attempts: 1,
            previous: None,
            applied_at: String::new(),
            at: "t".into(),
        }
    }

    #[test]
    fn started_without_result_is_in_doubt_and_the_latest_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.write_synced(&[
            started("r1", 1, Op::Set, Some("")),
            result("r1", 1, "Done"),
            started("r1", 2, Op::Set, Some("old")),
            started("r1", 3, Op::Purge, None),
            result("r1", 4, "Skipped"),
        ])
        .unwrap();
        let r = replay(&path, &HashSet::new()).unwrap();
        assert!(r.warnings.is_empty());
        assert_eq!(r.rows[&1].status, Status::Done);
        assert_eq!(r.rows[&1].previous, None, "as the result line says");
        assert_eq!(r.rows[&1].pending, None);
        assert_eq!(r.rows[&2].pending, Some(Op::Set));
        assert_eq!(r.rows[&2].previous.as_deref(), Some("old"));
        assert_eq!(r.rows[&3].pending, Some(Op::Purge));
        assert_eq!(r.rows[&4].status, Status::Skipped);
        // Runs the workbook already holds are not replayed.
        let skip: HashSet<String> = ["r1".to_string()].into();
        assert!(replay(&path, &skip).unwrap().rows.is_empty());
    }

    fn run_start(run: &str) -> Line {
        Line::RunStart {
            run: run.into(),
            at: "t".into(),
            command: "apply".into(),
            operator: "op@host".into(),
            tenant: "t".into(),
            client_id: "c".into(),
            national_cloud: "global".into(),
            flags: Vec::new(),
            version: "0".into(),
            workbook: "plan.xlsx".into(),
            workbook_sha256: String::new(),
        }
    }

    #[test]
    fn an_interrupted_run_a_recorded_run_replayed_is_not_replayed_again() {
        // r1 was killed with row 1 in doubt; r2 replayed it, sent row 1 and wrote the workbook
        // (so the Runs sheet lists r2); r3 was killed after that. Replaying now must give r3's
        // rows only: r1's stale "in doubt" would undo r2's Done.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.write_synced(&[
            run_start("r1"),
            started("r1", 1, Op::Set, Some("")),
            started("r1", 2, Op::Set, Some("")),
            run_start("r2"),
            result("r2", 1, "Done"),
            result("r2", 2, "Done"),
            run_start("r3"),
            started("r3", 5, Op::Set, Some("")),
        ])
        .unwrap();
        let recorded: HashSet<String> = ["r2".to_string()].into();
        let r = replay(&path, &recorded).unwrap();
        assert_eq!(r.rows.keys().copied().collect::<Vec<_>>(), vec![5]);
        assert_eq!(r.rows[&5].pending, Some(Op::Set));
        // Without any recorded run, everything counts, the latest line per row winning.
        let all = replay(&path, &HashSet::new()).unwrap();
        assert_eq!(all.rows[&1].status, Status::Done);
        assert_eq!(all.rows[&1].pending, None);
    }

    #[test]
    fn a_torn_last_line_is_skipped_with_a_warning_and_the_next_run_starts_clean() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::open(&path).unwrap();
        j.write_synced(&[started("r1", 1, Op::Set, Some(""))])
            .unwrap();
        let whole = serde_json::to_string(&result("r1", 1, "Done")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&whole.as_bytes()[..whole.len() / 2])
            .unwrap();
        drop(j);
        let r = replay(&path, &HashSet::new()).unwrap();
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("last line is incomplete"));
        assert_eq!(r.rows[&1].pending, Some(Op::Set), "still in doubt");

        let mut j = Journal::open(&path).unwrap();
        j.write_synced(&[result("r2", 1, "Done")]).unwrap();
        let r = replay(&path, &HashSet::new()).unwrap();
        assert_eq!(r.rows[&1].status, Status::Done);
        assert_eq!(r.warnings.len(), 1, "the torn line is now in the middle");
    }

    #[test]
    fn a_later_line_replaces_one_for_another_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut j = Journal::open(&path).unwrap();
        let mut other = started("r1", 1, Op::Set, Some("old"));
        if let Line::Started { fp, .. } = &mut other {
            *fp = "another plan".into();
        }
        j.write_synced(&[other, result("r2", 1, "Failed")]).unwrap();
        let r = replay(&path, &HashSet::new()).unwrap();
        assert_eq!(r.rows[&1].fp, "fp");
        assert_eq!(r.rows[&1].previous, None);
    }

    #[test]
    fn the_default_journal_sits_beside_the_workbook() {
        assert_eq!(
            default_path(Path::new("/x/plan.xlsx")),
            PathBuf::from("/x/plan.xlsx.journal.jsonl")
        );
    }
}
