//! A review workbook written by an earlier hardmatch (columns in the old order, no Previous
//! ImmutableId or Revert column, an unkeyed fingerprint) still reads back: a change board may be
//! reviewing a plan made before an upgrade. See tests/fixtures/README-workbook.md.

use calamine::{open_workbook, Data, Reader, Xlsx};
use hardmatch::review::{Approval, PlanKey, Status, Verdict};
use hardmatch::workbook::schema::PLAN_COLUMNS;
use hardmatch::workbook::{read_review, write_review, WriteOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workbook/plan-0.1.0-942565b.xlsx")
}

/// The Plan sheet as calamine sees it, independent of our reader: header → cell text per row.
fn plan_cells(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut wb: Xlsx<_> = open_workbook(path).expect("open");
    let range = wb.worksheet_range("Plan").expect("Plan sheet");
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .expect("header")
        .iter()
        .map(|d| d.to_string())
        .collect();
    let body = rows
        .map(|r| {
            header
                .iter()
                .zip(r)
                .filter(|(_, d)| !matches!(d, Data::Empty))
                .map(|(h, d)| (h.clone(), d.to_string()))
                .collect()
        })
        .collect();
    (header, body)
}

#[test]
fn the_fixture_really_is_in_the_old_layout() {
    let (header, rows) = plan_cells(&fixture());
    assert_eq!(
        header[..6],
        ["Row id", "Approve", "Action", "Reason", "Checks", "UPN"]
    );
    assert!(!header.iter().any(|h| h == "Revert"));
    assert!(!header.iter().any(|h| h == "Previous ImmutableId"));
    assert_eq!(rows.len(), 22);
    // The current layout differs, or this test would prove nothing.
    let now: Vec<&str> = PLAN_COLUMNS.iter().map(|c| c.header).collect();
    assert_ne!(header, now);
}

#[test]
fn a_workbook_from_before_this_release_reads_back_whole_and_quietly() {
    let review = read_review(&fixture()).expect("an old workbook reads back");
    assert!(review.warnings.is_empty(), "{:?}", review.warnings);
    assert_eq!(review.rows.len(), 22);

    let (_, cells) = plan_cells(&fixture());
    let key = PlanKey::from_bytes([1; 32]);
    for (row, sheet) in review.rows.iter().zip(&cells) {
        let cell = |h: &str| sheet.get(h).cloned().unwrap_or_default();
        assert_eq!(row.plan.row_id.to_string(), cell("Row id"));
        assert_eq!(row.plan.upn, cell("UPN"));
        assert_eq!(row.plan.new_immutable_id, cell("New ImmutableId"));
        assert_eq!(row.plan.onprem_guid, cell("On-prem GUID"));
        assert_eq!(row.fingerprint, cell("Fingerprint"));
        assert_eq!(row.approve, Approval::parse(&cell("Approve")));
        assert_eq!(row.status, Status::Empty);
        // The columns it never had read as "nothing recorded" and "not marked".
        assert_eq!(row.previous_immutable_id, None);
        assert_eq!(row.revert, Approval::Empty);
        // Every planned value came back exactly: the old unkeyed hash over them still matches.
        assert_eq!(
            key.verify(&row.plan, &row.fingerprint),
            Verdict::Unkeyed { consistent: true },
            "row {}",
            row.plan.row_id
        );
    }
    let approved = review
        .rows
        .iter()
        .filter(|r| r.approve == Approval::Yes)
        .count();
    assert_eq!(approved, 4, "--pre-approve set approved the clean Set rows");
    assert_eq!(review.meta.inputs.len(), 2, "{:?}", review.meta);
    assert!(review.meta.inputs.iter().all(|i| i.sha256.len() == 64));
    assert_eq!(review.meta.inputs[0].rows, 22);
    assert_eq!(review.unmatched.len(), 6);
}

#[test]
fn rewriting_an_old_workbook_moves_it_to_the_new_layout_without_losing_anything() {
    let old = read_review(&fixture()).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.xlsx");
    let unmatched: Vec<_> = old.unmatched.iter().collect();
    write_review(
        &path,
        &old.rows,
        &unmatched,
        &old.meta,
        &WriteOptions::default(),
    )
    .expect("rewrite");
    let (header, _) = plan_cells(&path);
    let now: Vec<&str> = PLAN_COLUMNS.iter().map(|c| c.header).collect();
    assert_eq!(header, now);
    let new = read_review(&path).expect("read again");
    assert_eq!(new.rows, old.rows);
    assert_eq!(new.meta.inputs, old.meta.inputs);
    assert_eq!(new.meta.generated_at, old.meta.generated_at);
    assert_eq!(new.meta.warnings, old.meta.warnings);
    assert_eq!(new.unmatched, old.unmatched);
    assert_eq!(new.warnings, Vec::<String>::new());
}
