//! Plan sheets are read on every core; a sheet the parallel reader does not understand is read
//! by calamine instead, with the same result.

use hardmatch::plan::{Action, PlanRow};
use hardmatch::review::{Approval, PlanKey, ReviewRow};
use hardmatch::workbook::{read_review, write_review, ReviewMeta, WriteOptions};

/// The fingerprint `plan` would write, under a fixed test key.
fn fingerprint(plan: &PlanRow) -> String {
    PlanKey::from_bytes([7; 32]).sign(plan)
}
use std::io::{Read, Write};
use std::path::Path;

fn rows(n: u64) -> Vec<ReviewRow> {
    (1..=n)
        .map(|id| {
            let plan = PlanRow {
                row_id: id,
                action: Some(Action::ALL[id as usize % Action::ALL.len()]),
                reason: format!("reason {id} & <more>"),
                upn: format!("user{id}@contoso.com"),
                onprem_guid: format!("0b7a1c2e-3d4f-4a5b-8c9d-{id:012}"),
                new_immutable_id: if id % 5 == 0 {
                    "=1+1".into()
                } else {
                    format!("id{id}==")
                },
                cloud_object_id: format!("{id:08}-0000-0000-0000-000000000000"),
                cloud_upn: format!("User{id}@contoso.onmicrosoft.com"),
                display_name_onprem: " Zoë _x000D_ 😀 ".into(),
                ..PlanRow::default()
            };
            ReviewRow {
                fingerprint: fingerprint(&plan),
                plan,
                approve: if id % 2 == 0 {
                    Approval::Yes
                } else {
                    Approval::Empty
                },
                comment: if id % 7 == 0 {
                    "looked at".into()
                } else {
                    String::new()
                },
                ..ReviewRow::default()
            }
        })
        .collect()
}

/// A copy of the workbook at `from` with `edit` applied to every Plan sheet's XML.
fn rewrite(from: &Path, to: &Path, edit: impl Fn(&str) -> String) {
    let mut zin = zip::ZipArchive::new(std::fs::File::open(from).expect("open")).expect("zip");
    let mut zout = zip::ZipWriter::new(std::fs::File::create(to).expect("create"));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut edited = 0;
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").to_string();
        let mut text = Vec::new();
        entry.read_to_end(&mut text).expect("read");
        if name.starts_with("xl/worksheets/") {
            let xml = String::from_utf8(text).expect("utf-8");
            let new = edit(&xml);
            if new != xml {
                edited += 1;
            }
            text = new.into_bytes();
        }
        zout.start_file(name, opts).expect("start");
        zout.write_all(&text).expect("write");
    }
    zout.finish().expect("finish");
    assert!(edited > 0, "the edit changed nothing");
}

#[test]
fn a_cell_without_a_reference_is_read_through_calamine_with_the_same_result() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = dir.path().join("plan.xlsx");
    let rows = rows(450);
    write_review(
        &original,
        &rows,
        &[],
        &ReviewMeta::default(),
        &WriteOptions {
            max_rows_per_sheet: 200,
        },
    )
    .expect("write");
    let expected = read_review(&original).expect("read the original");
    assert_eq!(expected.rows, rows);

    // A first cell without `r` is where calamine carries on from the row's own number.
    for row in ["3", "150"] {
        let odd = dir.path().join(format!("odd-{row}.xlsx"));
        rewrite(&original, &odd, |xml| {
            xml.replace(&format!("<c r=\"A{row}\""), "<c")
        });
        let got = read_review(&odd).expect("read the edited copy");
        assert_eq!(got.rows, expected.rows, "row {row}");
        assert_eq!(got.warnings, expected.warnings, "row {row}");
    }
}

#[test]
fn stray_cells_far_right_are_counted_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = dir.path().join("plan.xlsx");
    write_review(
        &original,
        &rows(30),
        &[],
        &ReviewMeta::default(),
        &WriteOptions::default(),
    )
    .expect("write");
    let edited = dir.path().join("edited.xlsx");
    // A stray number far right of the header.
    rewrite(&original, &edited, |xml| {
        xml.replacen("</row>", "<c r=\"ZZ1\"><v>1</v></c></row>", 1)
    });
    let got = read_review(&edited).expect("read");
    assert_eq!(got.rows.len(), 30);
    assert!(
        got.warnings.iter().any(|w| w.contains(
            "ignored 1 cell(s) right of the expected columns (first at Plan!ZZ1, last at Plan!ZZ1)"
        )),
        "{:?}",
        got.warnings
    );
}
