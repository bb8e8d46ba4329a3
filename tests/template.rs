//! `hardmatch template -o input.xlsx`: the blank input workbook an admin fills in by hand, and the
//! copy committed under templates/.

use assert_cmd::Command;
use calamine::{open_workbook, Data, Reader, Xlsx};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/input-template.xlsx");

/// A sheet's non-empty cells by absolute (row, column).
type Cells = BTreeMap<(u32, u32), Data>;

/// Every sheet's non-empty cells: what a person would see, minus styling.
fn cell_contents(path: &Path) -> Vec<(String, Cells)> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names()
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).unwrap();
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let cells = range
                .used_cells()
                .map(|(r, c, d)| ((r as u32 + r0, c as u32 + c0), d.clone()))
                .collect();
            (name, cells)
        })
        .collect()
}

fn hardmatch() -> Command {
    Command::cargo_bin("hardmatch").unwrap()
}

#[test]
fn committed_template_matches_what_the_command_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("input.xlsx");
    hardmatch()
        .args(["template", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicates::str::contains("input.xlsx"));
    let fresh = cell_contents(&out);
    assert_eq!(
        fresh,
        cell_contents(Path::new(COMMITTED)),
        "templates/input-template.xlsx is stale: regenerate it with \
         `hardmatch template --force -o templates/input-template.xlsx`"
    );
    // Sanity: the comparison covers real content on both sheets.
    assert_eq!(fresh.len(), 2);
    assert!(fresh.iter().all(|(_, cells)| !cells.is_empty()));
}

#[test]
fn users_sheet_comes_first_with_the_headers_the_ad_reader_knows() {
    let contents = cell_contents(Path::new(COMMITTED));
    assert_eq!(
        contents[0].0, "Users",
        "AD-export readers take the first sheet"
    );
    let header: Vec<_> = (0..4)
        .map(|c| contents[0].1.get(&(0, c)).cloned())
        .collect();
    assert_eq!(
        header,
        ["UserPrincipalName", "objectGUID", "Approve", "Comment"]
            .map(|h| Some(Data::String(h.into())))
            .to_vec()
    );
    // Blank: nothing but the header row.
    assert!(contents[0].1.keys().all(|(r, _)| *r == 0));
    assert_eq!(contents[1].0, "Instructions");
    let instructions: String = contents[1]
        .1
        .values()
        .map(|d| d.to_string() + "\n")
        .collect();
    assert!(instructions.contains("any notation"), "{instructions}");
    assert!(instructions.contains("ImmutableId"));
}

#[test]
fn template_columns_are_text_and_approve_has_a_dropdown() {
    let mut z = zip::ZipArchive::new(std::fs::File::open(COMMITTED).unwrap()).unwrap();
    let mut sheet = String::new();
    z.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(sheet.contains(r#"<dataValidation type="list""#), "{sheet}");
    assert!(sheet.contains("C2:C1048576"), "{sheet}");
    // Every column's style is Excel's built-in text format "@" (numFmtId 49).
    let mut styles = String::new();
    z.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    let cell_xfs: Vec<&str> = styles
        .split("<cellXfs")
        .nth(1)
        .unwrap()
        .split("</cellXfs>")
        .next()
        .unwrap()
        .split("<xf ")
        .skip(1)
        .collect();
    let cols: Vec<&str> = sheet.split("<col ").skip(1).collect();
    assert_eq!(cols.len(), 4, "{sheet}");
    for c in cols {
        let style: usize = c
            .split("style=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .expect("column style");
        assert!(
            cell_xfs[style].contains(r#"numFmtId="49""#),
            "{}",
            cell_xfs[style]
        );
    }
    let mut notes = String::new();
    z.by_name("xl/comments1.xml")
        .unwrap()
        .read_to_string(&mut notes)
        .unwrap();
    assert!(notes.contains("any notation"), "{notes}");
}

#[test]
fn template_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("input.xlsx");
    std::fs::write(&out, b"someone's work").unwrap();
    hardmatch()
        .args(["template", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"someone's work");
    hardmatch()
        .args(["template", "--force", "-o"])
        .arg(&out)
        .assert()
        .success()
        .stderr(predicates::str::contains("input.bak.xlsx"));
    assert_eq!(cell_contents(&out), cell_contents(Path::new(COMMITTED)));
    assert_eq!(
        std::fs::read(dir.path().join("input.bak.xlsx")).unwrap(),
        b"someone's work",
        "what was there is kept"
    );
}

#[test]
fn template_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-dir").join("input.xlsx");
    hardmatch()
        .args(["template", "-o"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such-dir"));
    assert!(!out.exists());
}
