//! How the review workbook prints and what its Summary shows, checked in the XML the writer
//! produces (tests/libreoffice.rs checks the same through a real spreadsheet application):
//! every sheet one page wide with a header and footer, the Plan sheet's board block as its print
//! area, and native charts of rows per Action and, once apply has recorded any, per Status.

use hardmatch::cloud::CloudUser;
use hardmatch::plan::{Action, PlanRow};
use hardmatch::review::{Approval, ReviewRow, Status};
use hardmatch::workbook::schema::{board_columns, column_letters, Field, PLAN_COLUMNS};
use hardmatch::workbook::{read_review, write_review, ReviewMeta, WriteOptions};
use std::io::Read;
use std::path::Path;

fn rows(n: u64) -> Vec<ReviewRow> {
    (1..=n)
        .map(|id| ReviewRow {
            plan: PlanRow {
                row_id: id,
                action: Some(Action::ALL[(id as usize) % 3]),
                upn: format!("user{id}@contoso.com"),
                reason: "Cloud-only with no ImmutableId: set it.".into(),
                ..PlanRow::default()
            },
            approve: if id % 2 == 0 {
                Approval::Yes
            } else {
                Approval::Empty
            },
            fingerprint: format!("fp{id}"),
            ..ReviewRow::default()
        })
        .collect()
}

fn meta() -> ReviewMeta {
    ReviewMeta {
        generated_at: "2026-11-26T09:00:00Z".into(),
        tool_version: "0.1.0".into(),
        ..ReviewMeta::default()
    }
}

fn write(path: &Path, rows: &[ReviewRow]) {
    let u = CloudUser {
        id: "11111111-2222-3333-4444-555555555555".into(),
        upn: "orphan@contoso.com".into(),
        ..CloudUser::default()
    };
    write_review(path, rows, &[&u], &meta(), &WriteOptions::default()).expect("write");
}

fn zip_entry(path: &Path, name: &str) -> Option<String> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name(name).ok()?.read_to_string(&mut s).unwrap();
    Some(s)
}

fn entries(path: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    z.file_names()
        .map(|n| n.expect("entry name").to_string())
        .collect()
}

/// Sheet XML in workbook order: Instructions, Summary, Plan, Unmatched cloud users.
fn sheet_xml(path: &Path, n: usize) -> String {
    zip_entry(path, &format!("xl/worksheets/sheet{n}.xml")).expect("sheet")
}

#[test]
fn every_sheet_prints_one_page_wide_with_file_sheet_pages_and_plan_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    // Once apply has run, the workbook has a fifth sheet, Runs.
    let u = CloudUser::default();
    let mut meta = meta();
    meta.runs = vec![hardmatch::workbook::RunRecord {
        run_id: "582d16c7-02ae-4dbe-94d2-9665a76247d0".into(),
        command: "apply".into(),
        flags: "--purge-deleted-conflicts".into(),
        ..Default::default()
    }];
    write_review(&path, &rows(5), &[&u], &meta, &WriteOptions::default()).expect("write");
    for (n, orientation) in [
        (1, "portrait"),
        (2, "landscape"),
        (3, "landscape"),
        (4, "landscape"),
        (5, "landscape"),
    ] {
        let xml = sheet_xml(&path, n);
        assert!(xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "sheet{n}");
        // fitToWidth defaults to 1; fitToHeight 0 is "as many pages tall as needed".
        assert!(xml.contains(r#"fitToHeight="0""#), "sheet{n}");
        assert!(!xml.contains("fitToWidth="), "sheet{n}");
        assert!(
            xml.contains(&format!(r#"orientation="{orientation}""#)),
            "sheet{n}"
        );
        assert!(
            xml.contains(
                "<oddHeader>&amp;L&amp;F&amp;C&amp;A&amp;RPlan generated 2026-11-26T09:00:00Z</oddHeader>"
            ),
            "sheet{n}: file name, sheet name and the plan's time"
        );
        assert!(
            xml.contains("<oddFooter>&amp;Lhardmatch 0.1.0&amp;CPage &amp;P of &amp;N</oddFooter>"),
            "sheet{n}"
        );
    }
}

#[test]
fn the_plan_prints_its_board_block_with_the_header_row_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    write(&path, &rows(5));
    let workbook = zip_entry(&path, "xl/workbook.xml").unwrap();
    let last = column_letters(board_columns() as u32 - 1);
    assert_eq!(PLAN_COLUMNS[board_columns() - 1].field, Field::Comment);
    assert!(
        workbook.contains(&format!(
            r#"<definedName name="_xlnm.Print_Area" localSheetId="2">Plan!$A$1:${last}$6</definedName>"#
        )),
        "{workbook}"
    );
    assert!(workbook.contains(
        r#"<definedName name="_xlnm.Print_Titles" localSheetId="2">Plan!$1:$1</definedName>"#
    ));
    assert!(workbook.contains(
        r#"<definedName name="_xlnm.Print_Titles" localSheetId="3">'Unmatched cloud users'!$1:$1</definedName>"#
    ));
    // Nothing on paper depends on hidden columns: the only hidden one is outside the block.
    for c in &PLAN_COLUMNS[..board_columns()] {
        assert!(!c.hidden, "{}", c.header);
    }
}

#[test]
fn a_tall_last_row_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let mut rows = rows(3);
    rows[2].plan.checks = vec!["one".into(), "two".into(), "three".into()];
    // apply's Result wraps too: a Graph error with its request-id takes a few lines.
    rows[0].result = "Request_BadRequest: Another object with the same value for property \
                      onPremisesImmutableId already exists. request-id 7d0c3c9e"
        .into();
    write(&path, &rows);
    let xml = sheet_xml(&path, 3);
    let numbers: Vec<u32> = xml
        .match_indices("<row r=\"")
        .map(|(i, m)| {
            let rest = &xml[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect();
    // Excel repairs a sheet whose rows repeat or go backwards.
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert!(xml.contains(r#"<row r="4" ht="45" customHeight="1">"#));
    assert!(xml.contains(r#"<row r="2" ht="60" customHeight="1">"#));
    let back = read_review(&path).unwrap();
    assert_eq!(back.rows, rows);
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
}

/// The charts' XML, in drawing order.
fn charts(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = entries(path)
        .into_iter()
        .filter(|n| n.starts_with("xl/charts/chart"))
        .collect();
    names.sort();
    names.iter().map(|n| zip_entry(path, n).unwrap()).collect()
}

/// The cells a chart series draws from: (categories, values) references.
fn series_refs(chart: &str) -> (String, String) {
    let f = |section: &str| {
        let s = &chart[chart.find(section).unwrap()..];
        let s = &s[s.find("<c:f>").unwrap() + 5..];
        s[..s.find("</c:f>").unwrap()].to_string()
    };
    (f("<c:cat>"), f("<c:val>"))
}

#[test]
fn the_summary_charts_rows_per_action_and_per_status_only_once_apply_ran() {
    let dir = tempfile::tempdir().unwrap();
    let planned = dir.path().join("planned.xlsx");
    write(&planned, &rows(6));
    let summary = sheet_xml(&planned, 2);
    assert!(
        summary.contains("<drawing r:id="),
        "the Summary holds a drawing"
    );
    let only = charts(&planned);
    assert_eq!(only.len(), 1, "no Status chart before apply");
    assert!(only[0].contains("<c:barChart>"));
    assert!(only[0].contains("Rows per Action"));
    let (cats, vals) = series_refs(&only[0]);
    // Ten Actions, names in column A and counts in column B, on the same rows.
    let rows_of = |r: &str| r.rsplit('!').next().unwrap().replace(['$', 'A', 'B'], "");
    assert!(cats.starts_with("Summary!$A$"), "{cats}");
    assert!(vals.starts_with("Summary!$B$"), "{vals}");
    assert_eq!(rows_of(&cats), rows_of(&vals));
    let (first, last) = rows_of(&cats)
        .split_once(':')
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .unwrap();
    assert_eq!(last - first + 1, Action::ALL.len() as u32);
    // The cached values a reader shows without recalculating are the counts.
    assert!(only[0].contains("<c:v>Set</c:v>"));
    assert!(only[0].contains("<c:v>2</c:v>"), "two rows per Action here");

    let mut applied = rows(6);
    applied[0].status = Status::Done;
    applied[1].status = Status::Failed;
    applied[2].status = Status::Other("typed by hand".into());
    let path = dir.path().join("applied.xlsx");
    write(&path, &applied);
    let both = charts(&path);
    assert_eq!(both.len(), 2);
    let status = both
        .iter()
        .find(|c| c.contains("Rows per Status"))
        .expect("a Status chart");
    for label in [
        "Done",
        "Failed",
        "Refused",
        "In doubt",
        "Skipped",
        "Other",
        "(no Status)",
    ] {
        assert!(status.contains(&format!("<c:v>{label}</c:v>")), "{label}");
    }
    // And the Summary's Status rows the chart draws from say the same.
    let back = read_review(&path).unwrap();
    assert_eq!(
        back.rows, applied,
        "the Summary's extra table is not read as anything"
    );
}
