//! The review workbook: the one document a change board reads, filters and approves, and the one
//! `apply` reads back and records results into. Its columns are defined once ([`schema`]) and used
//! by both the writer and the streaming reader.

mod reader;
mod runs;
pub mod schema;
mod sheet_stream;
mod summary;
mod writer;

use crate::cloud::CloudUser;
use crate::error::InputError;
use crate::review::ReviewRow;
use std::path::Path;

pub use runs::{RunRecord, STATUS_COLUMNS as RUN_STATUS_COLUMNS};

/// One input file as reported on the Summary sheet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSummary {
    pub role: String,
    pub path: String,
    pub sha256: String,
    pub rows: usize,
}

impl InputSummary {
    /// The Summary sheet's line for a snapshot's tenant description.
    pub fn for_snapshot(
        path: &std::path::Path,
        info: &crate::cloud::export::SnapshotInfo,
        now: chrono::DateTime<chrono::Utc>,
    ) -> InputSummary {
        let tenant = if info.tenant.is_empty() {
            "the tenant".to_string()
        } else {
            format!("tenant {}", info.tenant)
        };
        let age = crate::cloud::export::snapshot_age(info, now)
            .map(|a| format!(" ({})", crate::cloud::export::describe_age(a)))
            .unwrap_or_default();
        let read_at = if info.read_at.is_empty() {
            "at an unknown time".to_string()
        } else {
            format!("at {}{age}", info.read_at)
        };
        InputSummary {
            role: "Tenant read".into(),
            path: format!(
                "{}: {tenant} read from {} {read_at}",
                path.display(),
                info.graph
            ),
            sha256: String::new(),
            rows: 0,
        }
    }

    /// The Summary's lines for an AD export (`role`: "AD export", "Template") and then every
    /// source of the cloud state it was planned against.
    pub fn for_plan(
        role: &str,
        ad: &crate::sources::AdExport,
        cloud: &crate::cloud::CloudState,
    ) -> Vec<InputSummary> {
        let mut inputs = vec![InputSummary {
            role: role.into(),
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
        inputs
    }
}

/// Everything that goes into a review workbook besides the rows.
#[derive(Clone, Debug, Default)]
pub struct ReviewMeta {
    pub inputs: Vec<InputSummary>,
    /// RFC 3339.
    pub generated_at: String,
    pub tool_version: String,
    /// File- and tenant-level warnings, shown on the Summary sheet.
    pub warnings: Vec<String>,
    /// The apply and revert runs recorded in this workbook (the Runs sheet), oldest first.
    pub runs: Vec<RunRecord>,
}

#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Rows per Plan sheet before continuing on "Plan (2)". Excel's limit minus the header; lower in tests.
    pub max_rows_per_sheet: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            max_rows_per_sheet: 1_048_575,
        }
    }
}

/// What [`read_review`] gives back.
#[derive(Clone, Debug, Default)]
pub struct Review {
    pub rows: Vec<ReviewRow>,
    /// Non-fatal oddities found while reading (stray cells outside the table, unknown Approve values…).
    pub warnings: Vec<String>,
    /// The "Unmatched cloud users" sheet(s), so a rewrite (apply recording results) keeps them.
    pub unmatched: Vec<CloudUser>,
    /// The Summary sheet's inputs, generation time, version and warnings, for the same reason.
    pub meta: ReviewMeta,
    /// What someone added that hardmatch does not know (a sheet, a Plan column), described for
    /// the admin: a rewrite does not carry it over.
    pub foreign: Vec<String>,
}

/// Write the review workbook atomically (temp file, then rename): Instructions, Summary,
/// "Plan" (continued on "Plan (2)"… past `opts.max_rows_per_sheet`) and "Unmatched cloud users".
/// Rows are written in the order given; every identifier is a text cell. On any error nothing
/// is left at `path` and the error names `path` and what to do.
pub fn write_review(
    path: &Path,
    rows: &[ReviewRow],
    unmatched: &[&CloudUser],
    meta: &ReviewMeta,
    opts: &WriteOptions,
) -> Result<(), InputError> {
    writer::write_review(path, rows.len(), rows.iter(), unmatched, meta, opts)
}

/// [`write_review`] for rows made on the fly (a million-row plan need not be held): `rows` is
/// written as it is consumed, and `total_rows` (how many it will yield) sizes the Plan sheets'
/// validation and filter ranges up front; a different count is an error and leaves no file. The
/// Summary's counts are taken from the rows as they pass.
pub fn write_review_rows<R: std::borrow::Borrow<ReviewRow>>(
    path: &Path,
    total_rows: usize,
    rows: impl Iterator<Item = R>,
    unmatched: &[&CloudUser],
    meta: &ReviewMeta,
    opts: &WriteOptions,
) -> Result<(), InputError> {
    writer::write_review(path, total_rows, rows, unmatched, meta, opts)
}

/// Read the Plan sheet(s) back, keyed by Row id, with the streaming cell reader; rows come back
/// sorted by Row id whatever order the reviewer left them in. Also reads the Summary and
/// Unmatched sheets, so `write_review(path, &review.rows, &unmatched_refs, &review.meta, ..)`
/// rewrites the workbook without losing them. Duplicate or missing Row ids, a missing Plan
/// sheet and unreadable files are errors; odd values are warnings in [`Review::warnings`].
pub fn read_review(path: &Path) -> Result<Review, InputError> {
    reader::read_review(path)
}

/// Whether `path` can be a workbook at all: it exists and is not a folder or a text export (an AD
/// or cloud export passed where the plan belongs). Cheap, for checking a path before anything
/// else; [`read_review`] makes the same checks and says the same things.
pub fn check_is_workbook(path: &Path) -> Result<(), InputError> {
    if !path.exists() {
        return Err(InputError::new(
            path,
            "",
            "file not found",
            "check the path; the plan workbook is the file hardmatch plan wrote with -o",
        ));
    }
    match reader::not_a_workbook(path) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Write the blank hand-fill input template.
pub fn write_template(path: &Path) -> Result<(), InputError> {
    writer::write_template(path)
}
