//! The output checks every command that writes a file shares: [`check`] runs
//! [`hardmatch::fsutil::check_output`] with what an existing review workbook or snapshot holds,
//! so a refusal says what replacing it would lose. Called first, before any input is read or Graph is called.

use hardmatch::fsutil::{self, CheckedOutput, OutputRules};
use hardmatch::review::{Approval, Status};
use hardmatch::workbook;
use std::path::Path;

/// Checks `path` as `flag`'s output (see [`fsutil::check_output`]).
pub fn check(
    path: &Path,
    flag: &str,
    extensions: &[&str],
    example: &str,
    inputs: &[&Path],
    force: bool,
) -> Result<CheckedOutput, hardmatch::InputError> {
    fsutil::check_output(
        path,
        &OutputRules {
            flag,
            extensions,
            inputs,
            example,
            force,
            describe: Some(&holds),
        },
    )
}

/// What an existing file holds, for the refusal to replace it: a review workbook's approvals
/// and results, or which tenant a snapshot describes and when it was read.
fn holds(path: &Path) -> Option<String> {
    review_holds(path).or_else(|| snapshot_holds(path))
}

/// "a snapshot of tenant X read at T" for a `cloud export` file.
fn snapshot_holds(path: &Path) -> Option<String> {
    let (_, info) = hardmatch::cloud::export::read_snapshot_info(path).ok()??;
    let tenant = if info.tenant.is_empty() {
        String::new()
    } else {
        format!(" of tenant {}", info.tenant)
    };
    Some(format!("a snapshot{tenant} read at {}", info.read_at))
}

/// "4 approvals and 0 results" (plus other Approve entries and comments when there are any)
/// for a review workbook; `None` for any other file.
fn review_holds(path: &Path) -> Option<String> {
    let review = workbook::read_review(path).ok()?;
    let (mut yes, mut other, mut results, mut comments) = (0, 0, 0, 0);
    for r in &review.rows {
        match r.approve {
            Approval::Yes => yes += 1,
            Approval::Empty => {}
            _ => other += 1,
        }
        results += usize::from(r.status != Status::Empty);
        comments += usize::from(!r.comment.trim().is_empty());
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![plural(yes, "approval", "approvals")];
    if other > 0 {
        parts.push(plural(
            other,
            "other Approve entry",
            "other Approve entries",
        ));
    }
    if comments > 0 {
        parts.push(plural(comments, "comment", "comments"));
    }
    parts.push(plural(results, "result", "results"));
    let last = parts.pop().unwrap_or_default();
    Some(if parts.is_empty() {
        last
    } else {
        format!("{} and {last}", parts.join(", "))
    })
}
