//! `plan` on the hand-filled template keeps the template's promises: a GUID typed as 32 hex
//! digits is a GUID, and what the reviewer typed (Approve, Comment) reaches the plan.

use hardmatch::plan::Action;
use hardmatch::workbook;
use rust_xlsxwriter::Workbook;
use std::path::{Path, PathBuf};
use std::process::Output;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A template filled in as an admin would: (UPN, objectGUID, Approve, Comment) per row.
fn filled_template(dir: &Path, rows: &[(&str, &str, &str, &str)]) -> PathBuf {
    let path = dir.join("input.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").unwrap();
    for (c, h) in ["UserPrincipalName", "objectGUID", "Approve", "Comment"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in [row.0, row.1, row.2, row.3].iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r, c as u16, *v).unwrap();
            }
        }
    }
    wb.add_worksheet().set_name("Instructions").unwrap();
    wb.save(&path).unwrap();
    path
}

fn plan(dir: &Path, ad: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .arg("plan")
        .arg(ad)
        .arg("--cloud")
        .arg(samples().join("cloud-users.csv"))
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// alex.wilber's objectGUID in the samples, as 32 hex digits (GUID text without dashes).
const ALEX_HEX: &str = "4ea5f725d76f415792162b5363e5aca8";

#[test]
fn thirty_two_hex_digits_in_the_template_are_a_guid_as_it_promises() {
    let dir = tempfile::tempdir().unwrap();
    let ad = filled_template(
        dir.path(),
        &[("alex.wilber@fabrikam.com", ALEX_HEX, "", "")],
    );
    let out = plan(dir.path(), &ad, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review = workbook::read_review(&dir.path().join("plan.xlsx")).unwrap();
    let row = &review.rows[0];
    assert_ne!(
        row.plan.action,
        Some(Action::InvalidInput),
        "{}",
        row.plan.reason
    );
    let guid = uuid::Uuid::parse_str(ALEX_HEX)
        .unwrap()
        .hyphenated()
        .to_string();
    assert_eq!(row.plan.onprem_guid, guid, "read as GUID text, not octets");

    // --hex-as octets still decides when given.
    let out = plan(
        dir.path(),
        &ad,
        &["--hex-as", "octets", "-o", "octets.xlsx"],
    );
    assert!(out.status.success());
    let review = workbook::read_review(&dir.path().join("octets.xlsx")).unwrap();
    assert_ne!(review.rows[0].plan.onprem_guid, guid);
}
