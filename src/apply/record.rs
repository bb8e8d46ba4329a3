//! Recording: the journal replayed over the rows read from the workbook, and the workbook
//! rebuilt from its rows plus the journal (written beside it, the previous version kept as
//! `<stem>.bak.xlsx`, then renamed over it).

use super::crash;
use super::journal::{Op, Replay};
use crate::cloud::CloudUser;
use crate::error::InputError;
use crate::review::{PlanKey, ReviewRow, Status};
use crate::workbook::{self, Review, WriteOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Puts the journal's latest state of each row onto the rows read from the workbook (same Row id
/// and plan fingerprint only). Returns the rows whose request was started but never settled, by
/// index, with what was being done, and marks every replayed row in `touched`.
pub fn merge_replay(
    rows: &mut [ReviewRow],
    replay: &Replay,
    touched: &mut [bool],
) -> HashMap<usize, Op> {
    let mut pending = HashMap::new();
    for (row_id, state) in &replay.rows {
        let Ok(i) = rows.binary_search_by_key(row_id, |r| r.plan.row_id) else {
            continue;
        };
        let row = &mut rows[i];
        if row.fingerprint.trim() != state.fp.trim() {
            // Re-planned since: the line is about another decision.
            continue;
        }
        row.attempts = state.attempts;
        row.previous_immutable_id = state.previous.clone();
        if !state.applied_at.is_empty() {
            row.applied_at = state.applied_at.clone();
        }
        match state.pending {
            Some(Op::Revert) => {
                // apply's change stands until a revert is confirmed: the row stays Done, and
                // revert settles it next time.
                row.result = format!(
                    "a revert (run {}) was interrupted after its request was sent: run revert again to settle it",
                    state.run
                );
            }
            Some(op) => {
                row.status = Status::InDoubt;
                row.result = format!(
                    "run {} was interrupted after sending this row's {} request: the next run reads the user back before anything else",
                    state.run,
                    if op == Op::Purge { "purge" } else { "ImmutableId" }
                );
                pending.insert(i, op);
            }
            None => {
                row.status = state.status.clone();
                row.result = state.result.clone();
            }
        }
        touched[i] = true;
    }
    pending
}

/// `<stem>.bak.xlsx` beside the workbook: the version before this run's write-back.
pub fn backup_path(workbook: &Path) -> PathBuf {
    crate::fsutil::backup_path(workbook)
}

/// Why the workbook could not be replaced; the journal still holds everything.
#[derive(Debug)]
pub struct WriteBackError {
    pub message: String,
}

/// Rebuilds the workbook from `rows` (re-signing the results of `touched` rows with `key`) and
/// `review`'s other sheets, into a file beside it; keeps the current one as `<stem>.bak.xlsx`;
/// renames the new one over it. On failure nothing at `path` has changed.
pub fn write_back(
    path: &Path,
    rows: &mut [ReviewRow],
    touched: &[bool],
    key: &PlanKey,
    review: &Review,
) -> Result<PathBuf, WriteBackError> {
    for (row, t) in rows.iter_mut().zip(touched) {
        if *t {
            row.result_fingerprint = key.sign_result(row);
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "workbook.xlsx".into());
    let fresh = path.with_file_name(format!(".{name}.new.xlsx"));
    let unmatched: Vec<&CloudUser> = review.unmatched.iter().collect();
    let fail = |what: String| WriteBackError { message: what };
    workbook::write_review(
        &fresh,
        rows,
        &unmatched,
        &review.meta,
        &WriteOptions::default(),
    )
    .map_err(|e: InputError| fail(format!("cannot write the new workbook beside it: {e}")))?;
    crash::at("after-temp-written");
    // The current version stays as <stem>.bak.xlsx (an older backup there is renamed after its
    // time, never overwritten); the workbook itself is never moved out of the way.
    let backup = match crate::fsutil::keep_backup(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&fresh);
            return Err(fail(format!(
                "cannot keep the previous version as {}: {e}",
                backup_path(path).display()
            )));
        }
    };
    crash::at("after-backup");
    if let Err(e) = std::fs::rename(&fresh, path) {
        let _ = std::fs::remove_file(&fresh);
        // Dropped unkept, the backup goes again: the workbook was not replaced.
        drop(backup);
        return Err(fail(format!("cannot replace {}: {e}", path.display())));
    }
    crash::at("after-rename");
    Ok(backup.keep())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_sits_beside_the_workbook() {
        assert_eq!(
            backup_path(Path::new("/x/plan.xlsx")),
            PathBuf::from("/x/plan.bak.xlsx")
        );
    }
}
