//! The rows of a run and their journal: every change to a row's result goes through here, so it
//! is in the journal (and `fsync`ed) before anything else sees it.

use super::journal::{Journal, Line, Op};
use crate::review::{ReviewRow, Status};
use std::io;

/// How a row ends (or stands) after a step of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Index into [`Ledger::rows`].
    pub row: usize,
    pub op: Op,
    pub status: Status,
    pub result: String,
    pub attempts: u32,
    /// The row's Previous ImmutableId from now on (`Some("")`: the user had none; `None`: not
    /// known). Always written: only values apply read itself, or verified, ever get signed.
    pub previous: Option<String>,
    /// Whether the tenant was changed by this step (sets Applied at).
    pub applied: bool,
}

/// A request about to leave for a row.
#[derive(Clone, Debug)]
pub struct Starting {
    pub row: usize,
    pub op: Op,
    pub user: String,
    pub value: Option<String>,
    pub previous: Option<String>,
    pub attempts: u32,
}

pub struct Ledger {
    /// `None` for `--what-if`: nothing is recorded.
    pub journal: Option<Journal>,
    /// A revert that does not happen leaves the row Done (apply's change stands), with the
    /// reason in the Result; what happened is reported from `shown`.
    pub revert_mode: bool,
    /// For revert: the outcome to report where the row's Status stays Done.
    pub shown: std::collections::HashMap<usize, Status>,
    pub run: String,
    pub rows: Vec<ReviewRow>,
    /// Rows whose result this run (or the replayed journal) set: they are re-signed on write-back.
    pub touched: Vec<bool>,
}

/// A revert that did not happen leaves the row Done (apply's change stands) with the reason in
/// its Result; returns that, and the outcome to report instead.
pub fn as_revert_outcome(mut s: Settled) -> (Settled, Option<Status>) {
    if s.status == Status::Reverted {
        return (s, None);
    }
    let shown = std::mem::replace(&mut s.status, Status::Done);
    if !s.result.starts_with("Not reverted") {
        s.result = format!("Not reverted: {}", s.result);
    }
    (s, Some(shown))
}

/// The journal line of a row's result; `row` is its Row id and plan fingerprint.
pub fn result_line(run: &str, (row, fp): (u64, &str), s: &Settled, at: &str) -> Line {
    Line::Result {
        run: run.to_string(),
        row,
        fp: fp.to_string(),
        op: s.op,
        status: s.status.as_str().to_string(),
        result: s.result.clone(),
        attempts: s.attempts,
        previous: s.previous.clone(),
        applied_at: if s.applied {
            at.to_string()
        } else {
            String::new()
        },
        at: at.to_string(),
    }
}

/// Journal lines serialised per write when many rows are settled at once.
const LINES_PER_WRITE: usize = 4096;

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Ledger {
    pub fn new(journal: Option<Journal>, run: String, rows: Vec<ReviewRow>) -> Ledger {
        let n = rows.len();
        Ledger {
            journal,
            revert_mode: false,
            shown: Default::default(),
            run,
            rows,
            touched: vec![false; n],
        }
    }

    /// Journals that these requests are about to be sent, durably, before they are.
    pub fn starting(&mut self, items: &[Starting]) -> io::Result<()> {
        let Some(j) = self.journal.as_mut() else {
            return Ok(());
        };
        let at = now();
        let lines: Vec<Line> = items
            .iter()
            .map(|s| Line::Started {
                run: self.run.clone(),
                row: self.rows[s.row].plan.row_id,
                fp: self.rows[s.row].fingerprint.clone(),
                op: s.op,
                user: s.user.clone(),
                value: s.value.clone(),
                previous: s.previous.clone(),
                attempts: s.attempts,
                at: at.clone(),
            })
            .collect();
        j.write_synced(&lines)
    }

    /// Journals these results durably, then records them on the rows.
    pub fn settle(&mut self, items: Vec<Settled>) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let items: Vec<Settled> = items.into_iter().map(|s| self.as_recorded(s)).collect();
        let at = now();
        if let Some(j) = self.journal.as_mut() {
            // In chunks, so a million rows settled at once do not need a million lines in memory;
            // one sync at the end makes them all durable before any is recorded on its row.
            for chunk in items.chunks(LINES_PER_WRITE) {
                let lines: Vec<Line> = chunk
                    .iter()
                    .map(|s| {
                        let r = &self.rows[s.row];
                        result_line(&self.run, (r.plan.row_id, &r.fingerprint), s, &at)
                    })
                    .collect();
                j.write(&lines)?;
            }
            j.sync()?;
        }
        for s in items {
            self.put(s, &at);
        }
        Ok(())
    }

    /// Records results on the rows that were journaled already (by the execution's observer).
    pub fn record(&mut self, items: Vec<Settled>) {
        let at = now();
        for s in items {
            let s = self.as_recorded(s);
            self.put(s, &at);
        }
    }

    /// In revert mode, a result as the row records it (see [`as_revert_outcome`]), remembering
    /// the Status the report shows.
    fn as_recorded(&mut self, s: Settled) -> Settled {
        if !self.revert_mode {
            return s;
        }
        let (view, shown) = as_revert_outcome(s);
        if let Some(shown) = shown {
            self.shown.insert(view.row, shown);
        }
        view
    }

    fn put(&mut self, s: Settled, at: &str) {
        let row = &mut self.rows[s.row];
        row.status = s.status;
        row.result = s.result;
        row.attempts = s.attempts;
        row.previous_immutable_id = s.previous;
        if s.applied {
            row.applied_at = at.to_string();
        }
        self.touched[s.row] = true;
    }

    /// Journals a line that is not about one row (run start, run end).
    pub fn note(&mut self, line: &Line) -> io::Result<()> {
        match self.journal.as_mut() {
            Some(j) => j.write_synced(std::slice::from_ref(line)),
            None => Ok(()),
        }
    }
}
