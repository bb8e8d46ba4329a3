//! What reviewers do to a plan workbook, and what the read-back makes of it: sorting, moved
//! columns, stray keystrokes far away, retyped identifiers, odd Approve values, broken files.

use hardmatch::plan::{Action, PlanRow};
use hardmatch::review::{Approval, PlanKey, ReviewRow};
use hardmatch::workbook::schema::{CellValue, Field, PLAN_COLUMNS};
use hardmatch::workbook::{read_review, write_review, write_template, ReviewMeta, WriteOptions};

/// The fingerprint `plan` would write, under a fixed test key.
fn fingerprint(plan: &PlanRow) -> String {
    PlanKey::from_bytes([7; 32]).sign(plan)
}
use rust_xlsxwriter::Workbook;
use std::path::Path;

fn rows(n: u64) -> Vec<ReviewRow> {
    (1..=n)
        .map(|id| {
            let plan = PlanRow {
                row_id: id,
                action: Some(Action::ALL[(id as usize) % Action::ALL.len()]),
                reason: format!("reason {id}"),
                upn: format!("user{id}@contoso.com"),
                onprem_guid: format!("0b7a1c2e-3d4f-4a5b-8c9d-0000000000{id:02}"),
                new_immutable_id: format!("+7Byu5JQuU2TfrLSegT8V{id:02}=="),
                cloud_object_id: format!("{id:08}-0000-0000-0000-000000000000"),
                // A matched cloud user always has a UPN; the same one is shown as a blank and
                // read back as the UPN.
                cloud_upn: format!("user{id}@contoso.com"),
                ..PlanRow::default()
            };
            ReviewRow {
                fingerprint: fingerprint(&plan),
                plan,
                ..ReviewRow::default()
            }
        })
        .collect()
}

/// A cell a reviewer's Excel would save: how to write one value.
enum Cell {
    Text(String),
    Number(f64),
}

/// Re-create `rows` the way Excel saves a reviewed copy: `order` of columns (schema indices),
/// rows in `row_order`, plus whatever `extra` adds.
fn write_reviewed(
    path: &Path,
    rows: &[ReviewRow],
    column_order: &[usize],
    row_order: &[usize],
    mut cell: impl FnMut(usize, Field, CellValue<'_>) -> Option<Cell>,
    extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet),
) {
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("Instructions").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("Plan").unwrap();
    for (out_col, &schema_idx) in column_order.iter().enumerate() {
        ws.write_string(0, out_col as u16, PLAN_COLUMNS[schema_idx].header)
            .unwrap();
    }
    for (out_row, &row_idx) in row_order.iter().enumerate() {
        let row = &rows[row_idx];
        for (out_col, &schema_idx) in column_order.iter().enumerate() {
            let field = PLAN_COLUMNS[schema_idx].field;
            match cell(row_idx, field, field.value(row)) {
                Some(Cell::Text(s)) => {
                    ws.write_string(out_row as u32 + 1, out_col as u16, s)
                        .unwrap();
                }
                Some(Cell::Number(n)) => {
                    ws.write_number(out_row as u32 + 1, out_col as u16, n)
                        .unwrap();
                }
                None => {}
            }
        }
    }
    extra(ws);
    wb.save(path).unwrap();
}

fn as_written(v: CellValue<'_>) -> Option<Cell> {
    match v {
        CellValue::Text(s) => Some(Cell::Text(s.into_owned())),
        CellValue::Number(n) => Some(Cell::Number(n)),
        CellValue::Empty => None,
    }
}

#[test]
fn sorted_reordered_and_stray_cells_still_read_back_by_row_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reviewed.xlsx");
    let original = rows(20);
    // Columns reversed, rows in a shuffled order, Approve filled in by the reviewer.
    let columns: Vec<usize> = (0..PLAN_COLUMNS.len()).rev().collect();
    let order: Vec<usize> = (0..20).map(|i| (i * 7) % 20).collect();
    write_reviewed(
        &path,
        &original,
        &columns,
        &order,
        |row_idx, field, v| match field {
            Field::Approve if row_idx % 2 == 0 => Some(Cell::Text("Yes".into())),
            Field::Approve if row_idx == 3 => Some(Cell::Text("maybe".into())),
            Field::Comment if row_idx == 4 => Some(Cell::Number(42.0)),
            // A retyped GUID cell that Excel turned into a number.
            Field::OnpremGuid if row_idx == 5 => Some(Cell::Number(12345.0)),
            // A Row id retyped as text.
            Field::RowId if row_idx == 6 => Some(Cell::Text("7".into())),
            _ => as_written(v),
        },
        |ws| {
            ws.write_string(1_048_575, 16_383, "oops").unwrap();
            ws.write_string(3, 60, "note far right").unwrap();
        },
    );

    let review = read_review(&path).unwrap();
    let mut expected = original.clone();
    for (i, r) in expected.iter_mut().enumerate() {
        if i % 2 == 0 {
            r.approve = Approval::Yes;
        }
    }
    expected[3].approve = Approval::Other("maybe".into());
    expected[4].comment = "42".into();
    expected[5].plan.onprem_guid = "12345".into();
    assert_eq!(review.rows, expected);

    let w = review.warnings.join("\n");
    assert!(w.contains("XFD1048576"), "{w}");
    assert!(w.contains("\"maybe\""), "{w}");
    assert!(w.contains("On-prem GUID"), "{w}");
    // The retyped row's fingerprint no longer matches: apply will refuse it.
    assert_ne!(
        fingerprint(&review.rows[5].plan),
        review.rows[5].fingerprint
    );
    assert_eq!(
        fingerprint(&review.rows[6].plan),
        review.rows[6].fingerprint
    );
}

#[test]
fn missing_optional_columns_and_added_columns_are_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reviewed.xlsx");
    let original = rows(3);
    let keep = [Field::RowId, Field::Approve, Field::Action, Field::Upn]
        .map(|f| f.index())
        .to_vec();
    write_reviewed(
        &path,
        &original,
        &keep,
        &[2, 0, 1],
        |_, _, v| as_written(v),
        |ws| {
            ws.write_string(0, 4, "Reviewer note").unwrap();
            ws.write_string(2, 4, "checked").unwrap();
        },
    );
    let review = read_review(&path).unwrap();
    assert_eq!(review.rows.len(), 3);
    for (got, want) in review.rows.iter().zip(&original) {
        assert_eq!(got.plan.row_id, want.plan.row_id);
        assert_eq!(got.plan.action, want.plan.action);
        assert_eq!(got.plan.upn, want.plan.upn);
        assert_eq!(got.plan.new_immutable_id, "");
    }
    assert!(review.warnings.iter().any(|w| w.contains("Fingerprint")));
}

fn read_err(path: &Path) -> hardmatch::InputError {
    read_review(path).expect_err("should be refused")
}

#[test]
fn duplicate_row_id_is_refused_naming_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.xlsx");
    let original = rows(3);
    let all: Vec<usize> = (0..PLAN_COLUMNS.len()).collect();
    write_reviewed(
        &path,
        &original,
        &all,
        &[0, 1, 2, 1],
        |_, _, v| as_written(v),
        |_| {},
    );
    let err = read_err(&path);
    assert_eq!(err.file, path);
    assert_eq!(err.location, "Plan!A5");
    assert!(err.message.contains("Row id 2 appears twice"), "{err}");
    assert!(err.message.contains("Plan!A3"), "{err}");
}

#[test]
fn duplicate_row_id_across_plan_sheets_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup2.xlsx");
    let mut twelve = rows(12);
    twelve[6] = twelve[2].clone(); // Plan (2) row 3 repeats Row id 3 (Plan row 4).
    write_review(
        &path,
        &twelve,
        &[],
        &ReviewMeta::default(),
        &WriteOptions {
            max_rows_per_sheet: 5,
        },
    )
    .unwrap();
    let err = read_err(&path);
    assert_eq!(err.location, "Plan (2)!A3");
    assert!(
        err.message
            .contains("Row id 3 appears twice (first at Plan!A4)"),
        "{err}"
    );
}

#[test]
fn row_without_row_id_is_refused_naming_the_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noid.xlsx");
    let original = rows(2);
    let all: Vec<usize> = (0..PLAN_COLUMNS.len()).collect();
    write_reviewed(
        &path,
        &original,
        &all,
        &[0, 1],
        |_, _, v| as_written(v),
        // "Yes" typed in the Approve column below the table.
        |ws| {
            ws.write_string(9, Field::Approve.index() as u16, "Yes")
                .unwrap();
        },
    );
    let err = read_err(&path);
    assert_eq!(err.location, "Plan!A10");
    assert!(err.message.contains("no Row id"), "{err}");
    assert!(!err.fix.is_empty());
}

#[test]
fn a_note_typed_in_the_comment_column_below_the_table_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("note.xlsx");
    let original = rows(2);
    let all: Vec<usize> = (0..PLAN_COLUMNS.len()).collect();
    write_reviewed(
        &path,
        &original,
        &all,
        &[0, 1],
        |_, _, v| as_written(v),
        |ws| {
            ws.write_string(6, Field::Comment.index() as u16, "approved by CAB 27/11")
                .unwrap();
        },
    );
    let review = read_review(&path).unwrap();
    assert_eq!(review.rows, original);
    let comment_col = hardmatch::workbook::schema::column_letters(Field::Comment.index() as u32);
    assert!(
        review
            .warnings
            .iter()
            .any(|w| w.contains(&format!("Plan!{comment_col}7"))),
        "{:?}",
        review.warnings
    );
}

#[test]
fn fractional_row_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frac.xlsx");
    let all: Vec<usize> = (0..PLAN_COLUMNS.len()).collect();
    write_reviewed(
        &path,
        &rows(1),
        &all,
        &[0],
        |_, f, v| {
            if f == Field::RowId {
                Some(Cell::Number(1.5))
            } else {
                as_written(v)
            }
        },
        |_| {},
    );
    let err = read_err(&path);
    assert_eq!(err.location, "Plan!A2");
}

#[test]
fn missing_required_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nohdr.xlsx");
    let cols = [Field::RowId, Field::Action].map(|f| f.index()).to_vec();
    write_reviewed(
        &path,
        &rows(2),
        &cols,
        &[0, 1],
        |_, _, v| as_written(v),
        |_| {},
    );
    let err = read_err(&path);
    assert!(err.message.contains("\"Approve\""), "{err}");
    assert_eq!(err.location, "Plan!1");
}

#[test]
fn files_that_are_not_plan_workbooks_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("nope.xlsx");
    let err = read_err(&missing);
    assert!(err.message.contains("not found"), "{err}");

    let text = dir.path().join("text.xlsx");
    std::fs::write(&text, "Row id,Approve\n1,Yes\n").unwrap();
    let err = read_err(&text);
    assert_eq!(err.file, text);
    assert!(
        err.message
            .contains("a CSV with the columns Row id, Approve, not a plan workbook"),
        "{err}"
    );
    assert!(err.fix.contains("hardmatch plan"), "{err}");

    let good = dir.path().join("good.xlsx");
    write_review(
        &good,
        &rows(50),
        &[],
        &ReviewMeta::default(),
        &WriteOptions::default(),
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.xlsx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_err(&truncated);
    assert_eq!(err.file, truncated);
    assert!(!err.fix.is_empty());

    let template = dir.path().join("template.xlsx");
    write_template(&template).unwrap();
    let err = read_err(&template);
    assert!(err.message.contains("no \"Plan\" sheet"), "{err}");
}
