//! `plan` on the hand-filled template keeps the template's promises: a GUID typed as 32 hex
//! digits is a GUID, and what the reviewer typed (Approve, Comment) reaches the plan.

use hardmatch::plan::Action;
use hardmatch::review::Approval;
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
        .env(
            "HARDMATCH_KEY_FILE",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/template-test.key"),
        )
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

#[test]
fn approve_and_comment_typed_into_the_template_reach_the_plan_where_they_still_hold() {
    let dir = tempfile::tempdir().unwrap();
    let ad = filled_template(
        dir.path(),
        &[
            ("alex.wilber@fabrikam.com", ALEX_HEX, "Yes", "CHG-1"),
            // Set, but the cloud user has onPremisesObjectIdentifier: a Check nobody saw when
            // typing Yes.
            (
                "christie.cline@fabrikam.com",
                "d086632e-67f8-48dc-9584-e61678ad0791",
                "Yes",
                "",
            ),
            // Replace: the cloud user holds her old forest's anchor.
            (
                "miriam.graham@fabrikam.com",
                "fe4e9a71-2da9-437d-acb3-34a34b3d0e0e",
                "yes",
                "CHG-2",
            ),
            (
                "lidia.holloway@fabrikam.com",
                "80ae7e5e-5c2c-4ad9-ae42-61d474f9065d",
                "No",
                "keep",
            ),
            (
                "adele.vance@fabrikam.com",
                "62f4defa-e250-42c3-864e-59ccffbe4c53",
                "",
                "ask Adele",
            ),
        ],
    );
    // The sample cloud export has no PrivilegedRoles column: as with --pre-approve, no typed
    // Yes stands on that until the operator accepts it.
    let out = plan(dir.path(), &ad, &["-o", "unchecked.xlsx"]);
    assert!(out.status.success());
    let unchecked = workbook::read_review(&dir.path().join("unchecked.xlsx")).unwrap();
    assert!(unchecked.rows.iter().all(|r| r.approve != Approval::Yes));
    let alex = unchecked
        .rows
        .iter()
        .find(|r| r.plan.upn == "alex.wilber@fabrikam.com")
        .unwrap();
    assert!(
        alex.plan.reason.contains("privileged roles")
            && alex.plan.reason.contains("--unchecked-ok"),
        "{}",
        alex.plan.reason
    );

    let out = plan(dir.path(), &ad, &["--unchecked-ok"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "From the template: 1 Approve = Yes and 4 comments carried over; 2 Yes not carried"
        ),
        "{stdout}"
    );
    let review = workbook::read_review(&dir.path().join("plan.xlsx")).unwrap();
    let row = |upn: &str| {
        review
            .rows
            .iter()
            .find(|r| r.plan.upn == upn)
            .unwrap_or_else(|| panic!("{upn}"))
            .clone()
    };
    let alex = row("alex.wilber@fabrikam.com");
    assert_eq!(
        (alex.approve, alex.comment.as_str()),
        (Approval::Yes, "CHG-1")
    );
    assert_eq!(alex.plan.action, Some(Action::Set));

    let christie = row("christie.cline@fabrikam.com");
    assert_eq!(christie.plan.action, Some(Action::Set));
    assert_eq!(christie.approve, Approval::Empty);
    assert!(
        christie
            .plan
            .reason
            .contains("The template's Approve = Yes is not carried over")
            && christie.plan.reason.contains("onPremisesObjectIdentifier"),
        "{}",
        christie.plan.reason
    );

    let miriam = row("miriam.graham@fabrikam.com");
    assert_eq!(miriam.plan.action, Some(Action::Replace));
    assert_eq!(
        (miriam.approve, miriam.comment.as_str()),
        (Approval::Empty, "CHG-2")
    );
    assert!(
        miriam.plan.reason.contains("would overwrite"),
        "{}",
        miriam.plan.reason
    );

    let lidia = row("lidia.holloway@fabrikam.com");
    assert_eq!(
        (lidia.approve, lidia.comment.as_str()),
        (Approval::No, "keep")
    );
    let adele = row("adele.vance@fabrikam.com");
    assert_eq!(
        (adele.approve, adele.comment.as_str()),
        (Approval::Empty, "ask Adele")
    );
}
