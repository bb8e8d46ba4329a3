//! The review workbook: what `hardmatch plan` writes, what survives a change board's review, and
//! what `apply` reads back.

use calamine::{open_workbook, Reader, Xlsx};
use hardmatch::cloud::CloudUser;
use hardmatch::plan::{Action, MatchedBy, PlanRow};
use hardmatch::review::{Approval, PlanKey, ReviewRow, Status};
use hardmatch::workbook::schema::{Field, PLAN_COLUMNS};
use hardmatch::workbook::{read_review, write_review, InputSummary, ReviewMeta, WriteOptions};

/// The fingerprint `plan` would write, under a fixed test key.
fn fingerprint(plan: &PlanRow) -> String {
    PlanKey::from_bytes([7; 32]).sign(plan)
}
use std::io::Read;
use std::path::Path;

/// Identifiers Excel would turn into formulas, numbers or booleans if they were not written as text.
const TRICKY: &[&str] = &[
    "=1+1",
    "+7Byu5JQuU2TfrLSegT8VQ==",
    "/Ygcqvawn0Kyyp2QImboCA==",
    "-x",
    "@x",
    "00123",
    "1e5",
    "TRUE",
    "_x0041_",
    "0b7a1c2e-3d4f-4a5b-8c9d-0e1f2a3b4c5d",
];

fn rows() -> Vec<ReviewRow> {
    let mut out = Vec::new();
    for (i, action) in Action::ALL.iter().enumerate() {
        let id = i as u64 + 1;
        let tricky = TRICKY[i % TRICKY.len()];
        let mut plan = PlanRow {
            row_id: id,
            action: Some(*action),
            reason: format!("{action}: {}", action.meaning()),
            checks: if i % 3 == 0 {
                vec![
                    "UPN differs: matched by mail; a; b".to_string(),
                    "display name differs".to_string(),
                ]
            } else {
                Vec::new()
            },
            upn: format!("user{id}@contoso.com"),
            onprem_guid: format!("0b7a1c2e-3d4f-4a5b-8c9d-0e1f2a3b4c{id:02}"),
            new_immutable_id: tricky.to_string(),
            cloud_object_id: format!("{id:08}-0000-0000-0000-000000000000"),
            cloud_upn: format!("User{id}@contoso.onmicrosoft.com"),
            cloud_immutable_id: TRICKY[(i + 1) % TRICKY.len()].to_string(),
            holder_object_id: if *action == Action::ConflictDeleted {
                "deadbeef-0000-0000-0000-000000000001".into()
            } else {
                String::new()
            },
            mail_onprem: format!("u{id}@contoso.com"),
            mail_cloud: String::new(),
            display_name_onprem: "Jöhn Müller-Łukasiewicz 李雷 😀".into(),
            display_name_cloud: " leading and trailing spaces ".into(),
            matched_by: [Some(MatchedBy::Upn), Some(MatchedBy::Mail), None][i % 3],
            source: format!("ad.csv:{}", id + 1),
        };
        if i == 2 {
            // Long free text and a control character survive the trip.
            plan.reason = "long reason ".repeat(1_000) + "\u{1}end";
        }
        let fingerprint = fingerprint(&plan);
        let approve = match i % 4 {
            0 => Approval::Yes,
            1 => Approval::No,
            _ => Approval::Empty,
        };
        let applied = i == 1;
        out.push(ReviewRow {
            plan,
            approve,
            status: if applied { Status::Done } else { Status::Empty },
            result: if applied {
                "Request_BadRequest: x; request-id 1234".into()
            } else {
                String::new()
            },
            applied_at: if applied {
                "2026-11-26T10:00:00Z".into()
            } else {
                String::new()
            },
            attempts: if applied { 3 } else { 0 },
            previous_immutable_id: applied.then(String::new),
            revert: if i == 3 {
                Approval::Yes
            } else {
                Approval::Empty
            },
            comment: if i == 5 {
                "ok by CAB\nsecond line".into()
            } else {
                String::new()
            },
            result_fingerprint: if applied {
                format!("k1-0000000a-{}", "b".repeat(32))
            } else {
                String::new()
            },
            fingerprint,
        });
    }
    out
}

fn meta() -> ReviewMeta {
    ReviewMeta {
        inputs: vec![InputSummary {
            role: "AD export".into(),
            path: "ad.csv".into(),
            sha256: "ab".repeat(32),
            rows: 10,
        }],
        generated_at: "2026-11-26T09:00:00Z".into(),
        tool_version: "hardmatch 0.1.0".into(),
        warnings: vec!["1 cloud user has a non-GUID anchor".into()],
        ..ReviewMeta::default()
    }
}

fn unmatched_user() -> CloudUser {
    CloudUser {
        id: "11111111-2222-3333-4444-555555555555".into(),
        upn: "orphan@contoso.com".into(),
        immutable_id: Some("=HYPERLINK(\"x\")".into()),
        sync_enabled: Some(false),
        mail: Some("orphan@contoso.com".into()),
        display_name: Some("Orphan".into()),
        location: "cloud.csv:7".into(),
        ..CloudUser::default()
    }
}

fn write(path: &Path, rows: &[ReviewRow], max: u32) {
    let u = unmatched_user();
    write_review(
        path,
        rows,
        &[&u],
        &meta(),
        &WriteOptions {
            max_rows_per_sheet: max,
        },
    )
    .expect("write_review");
}

fn zip_entry(path: &Path, name: &str) -> String {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut s = String::new();
    z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

fn col(field: Field) -> u32 {
    field.index() as u32
}

#[test]
fn round_trip_keeps_every_action_and_identifier_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let rows = rows();
    write(&path, &rows, 1_048_575);
    let review = read_review(&path).unwrap();
    assert_eq!(review.rows.len(), rows.len());
    for (got, want) in review.rows.iter().zip(&rows) {
        assert_eq!(got, want, "row {}", want.plan.row_id);
        assert_eq!(fingerprint(&got.plan), got.fingerprint);
    }
    assert!(review.warnings.is_empty(), "{:?}", review.warnings);
    let actions: Vec<_> = review.rows.iter().filter_map(|r| r.plan.action).collect();
    assert_eq!(actions, Action::ALL.to_vec());
}

#[test]
fn summary_and_unmatched_users_read_back_so_a_rewrite_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    write(&path, &rows(), 1_048_575);
    let first = read_review(&path).unwrap();
    let want = meta();
    assert_eq!(first.meta.inputs, want.inputs);
    assert_eq!(first.meta.generated_at, want.generated_at);
    assert_eq!(first.meta.tool_version, want.tool_version);
    assert_eq!(first.meta.warnings, want.warnings);
    assert_eq!(first.unmatched, vec![unmatched_user()]);

    // What apply does to record results: read, change, write the whole workbook again.
    let mut rows = first.rows.clone();
    rows[0].status = Status::Done;
    rows[0].attempts = 1;
    let unmatched: Vec<&CloudUser> = first.unmatched.iter().collect();
    write_review(
        &path,
        &rows,
        &unmatched,
        &first.meta,
        &WriteOptions::default(),
    )
    .unwrap();
    let second = read_review(&path).unwrap();
    assert_eq!(second.rows, rows);
    assert_eq!(second.unmatched, first.unmatched);
    assert_eq!(second.meta.inputs, first.meta.inputs);
    assert_eq!(second.meta.warnings, first.meta.warnings);

    // No warnings on the Summary reads back as none, not as a warning saying "none".
    write_review(
        &path,
        &rows,
        &[],
        &ReviewMeta::default(),
        &WriteOptions::default(),
    )
    .unwrap();
    let third = read_review(&path).unwrap();
    assert!(third.meta.warnings.is_empty(), "{:?}", third.meta.warnings);
    assert!(third.meta.inputs.is_empty());
    assert!(third.unmatched.is_empty());
}

#[test]
fn identifiers_are_text_cells_never_formulas_or_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    write(&path, &rows(), 1_048_575);
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let range = wb.worksheet_range("Plan").unwrap();
    for r in 1..=Action::ALL.len() as u32 {
        for c in PLAN_COLUMNS
            .iter()
            .filter(|c| c.kind == hardmatch::workbook::schema::Kind::Identifier)
        {
            let v = range.get_value((r, c.field.index() as u32));
            assert!(
                matches!(
                    v,
                    None | Some(calamine::Data::String(_)) | Some(calamine::Data::Empty)
                ),
                "{} row {r}: {v:?}",
                c.header
            );
        }
    }
    for name in ["xl/worksheets/sheet3.xml", "xl/worksheets/sheet4.xml"] {
        assert!(
            !zip_entry(&path, name).contains("<f>"),
            "{name} has a formula"
        );
    }
    let unmatched = wb.worksheet_range("Unmatched cloud users").unwrap();
    assert_eq!(
        unmatched.get_value((1, 4)),
        Some(&calamine::Data::String("=HYPERLINK(\"x\")".into()))
    );
}

#[test]
fn plan_sheet_is_protected_with_only_approve_and_comment_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let rows = rows();
    write(&path, &rows, 1_048_575);

    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec!["Instructions", "Summary", "Plan", "Unmatched cloud users"]
    );
    let xml = zip_entry(&path, "xl/worksheets/sheet3.xml");
    // A cell with no record of its own (an empty Approve or Comment) takes its column's style
    // (ECMA-376 §18.3.1.13), so that is what must be unlocked for the editable columns.
    let styles_xml = zip_entry(&path, "xl/styles.xml");
    let cell_xfs = styles_xml
        .split("<cellXfs")
        .nth(1)
        .and_then(|s| s.split("</cellXfs>").next())
        .expect("cellXfs");
    let xfs: Vec<&str> = cell_xfs.split("<xf ").skip(1).collect();
    let unlocked_xf = |i: usize| {
        xfs[i]
            .split("</xf>")
            .next()
            .unwrap()
            .contains(r#"locked="0""#)
    };
    for c in PLAN_COLUMNS {
        let n = c.field.index() + 1;
        let col_el = xml
            .split("<col ")
            .skip(1)
            .find(|e| {
                let attr = |a: &str| -> u32 {
                    e.split(&format!(r#"{a}=""#))
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                attr("min") as usize <= n && n <= attr("max") as usize
            })
            .unwrap_or_else(|| panic!("no <col> for {}", c.header));
        let style: usize = col_el
            .split(r#"style=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map_or(0, |s| s.parse().unwrap());
        assert_eq!(unlocked_xf(style), c.editable, "column {}", c.header);
    }
    // And every cell that has a record: the same rule.
    let styles = wb.worksheet_style("Plan").unwrap();
    let values = wb.worksheet_range("Plan").unwrap();
    let mut checked = 0;
    for r in 1..=rows.len() as u32 {
        for c in PLAN_COLUMNS {
            let at = (r as usize, c.field.index());
            let has_record = values
                .get(at)
                .is_some_and(|v| !matches!(v, calamine::Data::Empty));
            if let Some(s) = styles
                .get((at.0 as u32, at.1 as u32))
                .filter(|_| has_record)
            {
                checked += 1;
                let locked = s.protection.as_ref().is_none_or(|p| p.locked);
                assert_eq!(!locked, c.editable, "{} row {r}", c.header);
            }
        }
    }
    assert!(
        checked > rows.len() * 5,
        "only {checked} cells had a style to check"
    );

    let protection = xml
        .split("<sheetProtection")
        .nth(1)
        .and_then(|s| s.split("/>").next())
        .expect("sheet protection");
    assert!(!protection.contains("password"), "{protection}");
    assert!(protection.contains(r#"autoFilter="0""#), "{protection}");
    assert!(protection.contains(r#"sort="0""#), "{protection}");
    assert!(protection.contains(r#"formatColumns="0""#), "{protection}");
    assert!(xml.contains(r#"<dataValidation type="list""#));
    assert!(xml.contains("&quot;Yes,No&quot;") || xml.contains("\"Yes,No\""));
    assert_eq!(xml.matches("<cfRule").count(), Action::ALL.len());
    assert!(xml.contains(r#"ySplit="1""#), "frozen header");
    assert!(xml.contains("<autoFilter"));
    let fp = col(Field::Fingerprint) + 1;
    assert!(
        xml.contains(&format!(r#"<col min="{fp}" max="{fp}""#))
            && xml
                .split(&format!(r#"<col min="{fp}" max="{fp}""#))
                .nth(1)
                .unwrap()
                .split("/>")
                .next()
                .unwrap()
                .contains(r#"hidden="1""#),
        "fingerprint column hidden"
    );

    // The hidden column still carries the fingerprint.
    let range = wb.worksheet_range("Plan").unwrap();
    assert_eq!(
        range.get_value((1, col(Field::Fingerprint))),
        Some(&calamine::Data::String(rows[0].fingerprint.clone()))
    );
    assert_eq!(
        range.get_value((0, 0)),
        Some(&calamine::Data::String("Row id".into()))
    );
}

#[test]
fn summary_counts_are_plain_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let mut rows = rows();
    rows.push(ReviewRow {
        plan: PlanRow {
            row_id: 11,
            action: Some(Action::Set),
            ..PlanRow::default()
        },
        ..ReviewRow::default()
    });
    write(&path, &rows, 1_048_575);
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let summary = wb.worksheet_range("Summary").unwrap();
    let mut counts = std::collections::HashMap::new();
    for r in summary.rows() {
        if let (Some(calamine::Data::String(k)), Some(calamine::Data::Float(n))) =
            (r.first(), r.get(1))
        {
            counts.insert(k.clone(), *n);
        }
    }
    assert_eq!(counts.get("Set"), Some(&2.0));
    assert_eq!(counts.get("Replace"), Some(&1.0));
    assert_eq!(counts.get("Total"), Some(&11.0));
    assert_eq!(counts.get("Approve = Yes"), Some(&3.0));
    assert_eq!(counts.get("Unmatched cloud users"), Some(&1.0));
    let text: Vec<String> = summary
        .used_cells()
        .filter_map(|(_, _, d)| match d {
            calamine::Data::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert!(text.contains(&"ab".repeat(32)), "input SHA-256 listed");
    assert!(text.contains(&"2026-11-26T09:00:00Z".to_string()));
    assert!(text.contains(&"1 cloud user has a non-GUID anchor".to_string()));
    let instructions = wb.worksheet_range("Instructions").unwrap();
    let all: String = instructions
        .used_cells()
        .map(|(_, _, d)| d.to_string() + "\n")
        .collect();
    for a in Action::ALL {
        assert!(all.contains(a.meaning()), "{a} explained");
    }
    assert!(all.contains("hardmatch apply plan.xlsx"));
}

#[test]
fn rows_beyond_the_sheet_limit_continue_on_numbered_plan_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let base = rows();
    let mut many = Vec::new();
    for id in 1..=12u64 {
        let mut r = base[(id as usize - 1) % base.len()].clone();
        r.plan.row_id = id;
        r.fingerprint = fingerprint(&r.plan);
        many.push(r);
    }
    write(&path, &many, 5);
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec![
            "Instructions",
            "Summary",
            "Plan",
            "Plan (2)",
            "Plan (3)",
            "Unmatched cloud users"
        ]
    );
    for (sheet, xml, first, n) in [
        ("Plan", "sheet3", 1.0, 5),
        ("Plan (2)", "sheet4", 6.0, 5),
        ("Plan (3)", "sheet5", 11.0, 2),
    ] {
        let range = wb.worksheet_range(sheet).unwrap();
        assert_eq!(
            range.get_value((0, 0)),
            Some(&calamine::Data::String("Row id".into()))
        );
        assert_eq!(range.get_value((1, 0)), Some(&calamine::Data::Float(first)));
        assert_eq!(range.height(), n + 1, "{sheet}");
        let xml = zip_entry(&path, &format!("xl/worksheets/{xml}.xml"));
        assert!(xml.contains("<sheetProtection"), "{sheet} protected");
        assert!(xml.contains("<dataValidation"), "{sheet} dropdown");
        assert!(xml.contains("<autoFilter"), "{sheet} filter");
    }
    let review = read_review(&path).unwrap();
    assert_eq!(review.rows, many);
}

#[test]
fn failed_write_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("plan.xlsx");
    let u = unmatched_user();
    let err = write_review(&path, &rows(), &[&u], &meta(), &WriteOptions::default()).unwrap_err();
    assert_eq!(err.file, path);
    assert!(err.message.contains("does not exist"), "{err}");
    assert!(
        !err.message.contains(".plan.xlsx."),
        "names the hidden temp file: {err}"
    );
    assert!(!err.fix.is_empty());
    assert!(!path.exists());
    assert!(!dir.path().join("missing-dir").exists());

    // A successful write replaces the old file and leaves no temporary file beside it.
    let path = dir.path().join("plan.xlsx");
    std::fs::write(&path, b"old").unwrap();
    write(&path, &rows(), 1_048_575);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["plan.xlsx"]);
    assert_eq!(read_review(&path).unwrap().rows.len(), Action::ALL.len());
}

#[test]
fn empty_plan_still_has_a_readable_plan_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    write_review(&path, &[], &[], &meta(), &WriteOptions::default()).unwrap();
    let review = read_review(&path).unwrap();
    assert!(review.rows.is_empty());
}

#[test]
fn a_row_with_several_checks_is_tall_enough_to_show_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let mut rows = rows();
    rows.truncate(2);
    rows[0].plan.reason = "short".into();
    rows[0].plan.checks = vec!["one".into(), "two".into(), "three".into()];
    rows[1].plan.reason = "short".into();
    rows[1].plan.checks.clear();
    rows[1].result = "short".into();
    write(&path, &rows, 1_048_575);
    let xml = zip_entry(&path, "xl/worksheets/sheet3.xml");
    let row_tag = |r: usize| {
        let start = xml.find(&format!("<row r=\"{r}\"")).unwrap();
        xml[start..start + xml[start..].find('>').unwrap()].to_string()
    };
    // Excel does not grow a row for wrapped text it did not lay out itself: three lines of
    // Checks need three lines of height (15 points each, in points: ht="45").
    assert!(row_tag(2).contains(r#"ht="45""#), "{}", row_tag(2));
    assert!(!row_tag(3).contains("ht="), "{}", row_tag(3));
}
