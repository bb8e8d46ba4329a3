//! An AD export without mS-DS-ConsistencyGuid cannot tell a moved user's real anchor: the plan
//! says so on stderr and on the Summary sheet, and `--pre-approve` approves nothing.

use hardmatch::plan::Action;
use hardmatch::review::Approval;
use hardmatch::sources::{read_ad_export, ReadOptions};
use hardmatch::workbook;
use std::path::{Path, PathBuf};
use std::process::Output;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn plan(dir: &Path, ad: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .arg("plan")
        .arg(ad)
        .arg("--cloud")
        .arg(samples().join("cloud-users.csv"))
        // The sample cloud export (Get-MgUser) has no PrivilegedRoles column; accepting that
        // leaves the ConsistencyGuid rule alone to decide.
        .args(["--pre-approve", "set", "--unchecked-ok", "-o", "plan.xlsx"])
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The bundled AD users with only UserPrincipalName and ObjectGUID, as the old csvde line gave.
fn without_the_column(dir: &Path) -> PathBuf {
    let ad = read_ad_export(&samples().join("ad-users.csv"), &ReadOptions::default()).unwrap();
    let mut csv = String::from("UserPrincipalName,ObjectGUID\r\n");
    for u in &ad.users {
        let guid = u
            .object_guid
            .map(|g| g.guid().hyphenated().to_string())
            .unwrap_or_default();
        csv.push_str(&format!("{},{guid}\r\n", u.upn));
    }
    let path = dir.join("ad-no-consistency.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn without_the_column_the_moved_user_is_a_replace_nothing_is_pre_approved_and_it_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let ad = without_the_column(dir.path());
    let out = plan(dir.path(), &ad);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ad-no-consistency.csv has no mS-DS-ConsistencyGuid column"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Pre-approved nothing"), "{stdout}");
    let review = workbook::read_review(&dir.path().join("plan.xlsx")).unwrap();
    assert!(
        review
            .meta
            .warnings
            .iter()
            .any(|w| w.contains("no mS-DS-ConsistencyGuid column")),
        "on the Summary sheet: {:?}",
        review.meta.warnings
    );
    assert!(review.rows.iter().all(|r| r.approve == Approval::Empty));
    // Henrietta was moved with ADMT: her cloud user holds her ConsistencyGuid's anchor, which
    // this export cannot show, so she looks like a Replace — exactly the row nobody may approve unseen.
    let henrietta = review
        .rows
        .iter()
        .find(|r| r.plan.upn == "henrietta.mueller@fabrikam.com")
        .unwrap();
    assert_eq!(henrietta.plan.action, Some(Action::Replace));
}

#[test]
fn with_the_column_there_is_no_such_warning_and_clean_rows_are_pre_approved() {
    let dir = tempfile::tempdir().unwrap();
    for sample in ["ad-users.csv", "ad-users.ldf", "ad-users.xlsx"] {
        let out = plan(dir.path(), &samples().join(sample));
        let _ = std::fs::remove_file(dir.path().join("plan.xlsx"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("mS-DS-ConsistencyGuid"),
            "{sample}: {stderr}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Pre-approved 4 clean Set rows."),
            "{sample}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
