//! The review workbook: the one document a change board reads, filters and approves, and the one
//! `apply` reads back and records results into. Its columns are defined once ([`schema`]) and used
//! by both the writer and the streaming reader.

mod reader;
pub mod schema;
mod sheet_stream;
mod writer;

use crate::cloud::CloudUser;
use crate::error::InputError;
use crate::plan::PlanRow;
use std::path::Path;

/// The reviewer's decision in the Approve column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Approval {
    #[default]
    Empty,
    Yes,
    No,
    /// Anything else a reviewer typed; apply treats it as not approved and says so.
    Other(String),
}

impl Approval {
    pub fn parse(s: &str) -> Approval {
        match s.trim().to_ascii_lowercase().as_str() {
            "" => Approval::Empty,
            "yes" | "y" => Approval::Yes,
            "no" | "n" => Approval::No,
            _ => Approval::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Approval::Empty => "",
            Approval::Yes => "Yes",
            Approval::No => "No",
            Approval::Other(s) => s,
        }
    }
}

/// A Plan-sheet row: the planned decision plus what review and apply add to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewRow {
    pub plan: PlanRow,
    pub approve: Approval,
    /// Empty until apply touches the row: `Done`, `Failed`, `Skipped`…
    pub status: String,
    /// Graph's error code, message and request-id on failure; what was done on success.
    pub result: String,
    pub applied_at: String,
    pub attempts: u32,
    pub comment: String,
    /// Hash of the planned values as written; apply compares it to detect edits to locked cells.
    pub fingerprint: String,
}

/// One input file as reported on the Summary sheet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSummary {
    pub role: String,
    pub path: String,
    pub sha256: String,
    pub rows: usize,
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
}

/// The fingerprint of a row's planned values: what apply would act on. Each value is
/// length-prefixed so no two different rows can hash the same text ("ab"+"c" vs "a"+"bc").
pub fn fingerprint(row: &PlanRow) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"hardmatch-fingerprint-v1");
    let row_id = row.row_id.to_string();
    let fields: [&str; 9] = [
        &row_id,
        row.action.map_or("", |a| a.as_str()),
        &row.upn,
        &row.onprem_guid,
        &row.new_immutable_id,
        &row.cloud_object_id,
        // As the sheet shows it: empty when it is the UPN up to case.
        schema::shown_cloud_upn(row),
        &row.cloud_immutable_id,
        &row.holder_object_id,
    ];
    for f in fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    let digest = h.finalize();
    // 128 bits is plenty to detect edits; the full 256 would only widen the hidden column.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in &digest[..16] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
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

/// Write the blank hand-fill input template.
pub fn write_template(path: &Path) -> Result<(), InputError> {
    writer::write_template(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn row() -> PlanRow {
        PlanRow {
            row_id: 7,
            action: Some(Action::Set),
            upn: "a@contoso.com".into(),
            onprem_guid: "0b7a1c2e-3d4f-4a5b-8c9d-0e1f2a3b4c5d".into(),
            new_immutable_id: "LhxaC089W0qMnQ4fKjtMXQ==".into(),
            cloud_object_id: "11111111-2222-3333-4444-555555555555".into(),
            cloud_upn: "a@contoso.com".into(),
            ..PlanRow::default()
        }
    }

    #[test]
    fn fingerprint_is_32_hex_and_stable() {
        let fp = fingerprint(&row());
        assert_eq!(fp.len(), 32);
        assert!(fp
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(fp, fingerprint(&row()));
        // Pinned (computed independently: SHA-256 over "hardmatch-fingerprint-v1" and each value
        // as u64-LE length + UTF-8, with the Cloud UPN as shown: empty, as it equals the UPN).
        // Changing the scheme makes apply refuse every existing plan.
        assert_eq!(fp, "113242f9d6e88f25c3f6361441437b82");
    }

    #[test]
    fn fingerprint_changes_with_every_planned_value() {
        let base = fingerprint(&row());
        let edits: [fn(&mut PlanRow); 9] = [
            |r| r.row_id = 8,
            |r| r.action = Some(Action::Replace),
            |r| r.upn = "b@contoso.com".into(),
            |r| r.onprem_guid.push('0'),
            |r| r.new_immutable_id = "x".into(),
            |r| r.cloud_object_id.clear(),
            |r| r.cloud_upn = "c@contoso.com".into(),
            |r| r.cloud_immutable_id = "y".into(),
            |r| r.holder_object_id = "z".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut r = row();
            edit(&mut r);
            assert_ne!(fingerprint(&r), base, "edit {i} not detected");
        }
        // Free text for people is not part of the plan apply executes.
        let mut r = row();
        r.reason = "other words".into();
        r.checks = vec!["x".into()];
        r.display_name_cloud = "Someone".into();
        assert_eq!(fingerprint(&r), base);
        // The Cloud UPN counts as the sheet shows it: blank when it is the UPN up to case.
        r.cloud_upn = "A@Contoso.COM".into();
        assert_eq!(fingerprint(&r), base);
    }

    #[test]
    fn fingerprint_separates_fields_unambiguously() {
        let mut a = row();
        a.upn = "ab".into();
        a.onprem_guid = "c".into();
        let mut b = row();
        b.upn = "a".into();
        b.onprem_guid = "bc".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
