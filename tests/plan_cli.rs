//! `hardmatch plan AD_EXPORT --cloud CLOUD_EXPORT -o plan.xlsx` end to end on the bundled samples:
//! every AD format gives the same decisions, the workbook reads back, bad input exits 2 and
//! leaves no file behind.

use assert_cmd::Command;
use calamine::{open_workbook_auto, Data, Reader};
use hardmatch::plan::{Action, MatchedBy};
use hardmatch::review::{Approval, PlanKey, ReviewRow, Verdict};
use hardmatch::workbook::{self, Review};
use predicates::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// Every run signs with the same test key, kept out of the folders the tests inspect.
const KEY_FILE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/plan-cli-test.key");

fn hardmatch() -> Command {
    let mut cmd = Command::cargo_bin("hardmatch").unwrap();
    cmd.env("HARDMATCH_KEY_FILE", KEY_FILE);
    cmd
}

/// Runs `plan` on a sample AD export and reads the workbook back.
fn plan(ad: &str, extra: &[&str]) -> (Review, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.xlsx");
    let assert = hardmatch()
        .arg("plan")
        .arg(sample(ad))
        .arg("--cloud")
        .arg(sample("cloud-users.csv"))
        .arg("-o")
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let review = workbook::read_review(&out).expect("the written workbook reads back");
    (review, stdout, dir)
}

fn actions(r: &Review) -> BTreeMap<String, Action> {
    r.rows
        .iter()
        .map(|row| (row.plan.upn.clone(), row.plan.action.expect("an action")))
        .collect()
}

fn row<'a>(r: &'a Review, upn: &str) -> &'a ReviewRow {
    r.rows
        .iter()
        .find(|x| x.plan.upn == upn)
        .unwrap_or_else(|| panic!("{upn} missing"))
}

const EXPECTED: [(&str, Action); 22] = [
    ("adele.vance@fabrikam.com", Action::Set),
    ("alex.wilber@fabrikam.com", Action::Set),
    ("megan.bowen@fabrikam.com", Action::Set),
    ("lee.gu@fabrikam.com", Action::Set),
    ("lidia.holloway@fabrikam.com", Action::AlreadyMatched),
    ("lynne.robbins@fabrikam.com", Action::AlreadyMatched),
    ("miriam.graham@fabrikam.com", Action::Replace),
    ("nestor.wilke@fabrikam.com", Action::Replace),
    ("patti.fernandez@fabrikam.com", Action::BlockedSynced),
    ("pradeep.gupta@fabrikam.com", Action::NoCloudUser),
    ("isaiah.langer@fabrikam.com", Action::AlreadyMatched),
    ("johanna.lorenz@fabrikam.com", Action::ConflictDeleted),
    ("joni.sherman@fabrikam.com", Action::Ambiguous),
    ("diego.siciliani@fabrikam.com", Action::DuplicateSource),
    ("dsiciliani@fabrikam.com", Action::DuplicateSource),
    ("grady.archie@fabrikam.com", Action::InvalidInput),
    ("henrietta.mueller@fabrikam.com", Action::AlreadyMatched),
    ("irvin.sayers@fabrikam.com", Action::Set),
    ("christie.cline@fabrikam.com", Action::Set),
    ("enrico.cattaneo@fabrikam.com", Action::AlreadyMatched),
    ("Debra.Berger@Fabrikam.com", Action::Set),
    ("allan.deyoung@fabrikam.local", Action::NoCloudUser),
];

#[test]
fn plan_on_the_powershell_csv_sample_writes_every_action_and_says_where() {
    let (review, stdout, dir) = plan("ad-users.csv", &[]);
    let want: BTreeMap<String, Action> =
        EXPECTED.iter().map(|(u, a)| (u.to_string(), *a)).collect();
    assert_eq!(actions(&review), want);
    // Row ids follow the input order, whatever order the sheet is in.
    let mut ids: Vec<(u64, &str)> = review
        .rows
        .iter()
        .map(|r| (r.plan.row_id, r.plan.upn.as_str()))
        .collect();
    ids.sort();
    assert_eq!(
        ids.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (1..=22).collect::<Vec<u64>>()
    );
    assert_eq!(ids[0].1, "adele.vance@fabrikam.com");
    assert_eq!(ids[21].1, "allan.deyoung@fabrikam.local");

    assert!(
        stdout.contains(&dir.path().join("plan.xlsx").display().to_string()),
        "{stdout}"
    );
    for (label, n) in [
        ("Set", 7),
        ("AlreadyMatched", 5),
        ("DuplicateSource", 2),
        ("InvalidInput", 1),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .unwrap_or_else(|| panic!("no {label} count in {stdout}"));
        assert!(
            line.split_whitespace().any(|w| w == n.to_string()),
            "{line}"
        );
    }
}

#[test]
fn identifiers_come_back_exactly_as_planned() {
    let (review, _, _dir) = plan("ad-users.csv", &[]);
    let adele = row(&review, "adele.vance@fabrikam.com");
    assert_eq!(adele.plan.new_immutable_id, "+t70YlDiw0KGTlnM/75MUw==");
    assert_eq!(
        adele.plan.onprem_guid,
        "62f4defa-e250-42c3-864e-59ccffbe4c53"
    );
    assert_eq!(adele.plan.matched_by, Some(MatchedBy::Upn));
    assert_eq!(
        row(&review, "lee.gu@fabrikam.com").plan.new_immutable_id,
        "/nPSVXdoy0W3EIIKHOXA5w=="
    );

    let johanna = row(&review, "johanna.lorenz@fabrikam.com");
    assert!(!johanna.plan.holder_object_id.is_empty());
    assert!(johanna
        .plan
        .reason
        .contains("johannal4821@fabrikam.onmicrosoft.com"));

    let henrietta = row(&review, "henrietta.mueller@fabrikam.com");
    assert_eq!(henrietta.plan.display_name_onprem, "Henrietta Müller");
    assert_eq!(
        henrietta.plan.onprem_guid,
        "0b4c19be-ad55-4ac0-a9b0-55d6543149d9"
    );
    assert!(henrietta
        .plan
        .checks
        .iter()
        .any(|c| c.contains("mS-DS-ConsistencyGuid")));

    let key = PlanKey::load(Path::new(KEY_FILE)).expect("plan created the key");
    for r in &review.rows {
        assert_eq!(
            key.verify(&r.plan, &r.fingerprint),
            Verdict::Valid,
            "row {}",
            r.plan.row_id
        );
        assert_eq!(r.approve, Approval::Empty, "nothing is approved by default");
        assert!(r.status.as_str().is_empty() && r.result.is_empty() && r.applied_at.is_empty());
    }
}

#[test]
fn ldif_and_xlsx_samples_decide_exactly_like_the_csv() {
    let (csv, _, _d1) = plan("ad-users.csv", &[]);
    let (ldif, _, _d2) = plan("ad-users.ldf", &[]);
    let (xlsx, _, _d3) = plan("ad-users.xlsx", &[]);
    assert_eq!(actions(&ldif), actions(&csv));
    assert_eq!(actions(&xlsx), actions(&csv));
    for upn in [
        "adele.vance@fabrikam.com",
        "henrietta.mueller@fabrikam.com",
        "miriam.graham@fabrikam.com",
    ] {
        assert_eq!(
            row(&ldif, upn).plan.new_immutable_id,
            row(&csv, upn).plan.new_immutable_id
        );
        assert_eq!(
            row(&xlsx, upn).plan.new_immutable_id,
            row(&csv, upn).plan.new_immutable_id
        );
    }
    // Each row says where it came from, in its own file's terms.
    assert!(row(&csv, "alex.wilber@fabrikam.com")
        .plan
        .source
        .contains("ad-users.csv"));
    assert!(row(&ldif, "alex.wilber@fabrikam.com")
        .plan
        .source
        .contains("ad-users.ldf"));
    assert!(row(&xlsx, "alex.wilber@fabrikam.com")
        .plan
        .source
        .contains("ad-users.xlsx"));
}

#[test]
fn format_flag_overrides_detection() {
    let (review, _, _dir) = plan("ad-users.ldf", &["--format", "ldif"]);
    assert_eq!(review.rows.len(), 22);
}

#[test]
fn pre_approve_set_approves_only_clean_set_rows() {
    // The sample is a Get-MgUser export, which cannot hold privileged roles: without
    // --unchecked-ok nothing would be pre-approved (tests/plan_cloud_inputs_as_tenants_produce_them.rs).
    let (review, stdout, _dir) = plan("ad-users.csv", &["--pre-approve", "set", "--unchecked-ok"]);
    let mut approved: Vec<&str> = review
        .rows
        .iter()
        .filter(|r| r.approve == Approval::Yes)
        .map(|r| r.plan.upn.as_str())
        .collect();
    approved.sort();
    assert_eq!(
        approved,
        [
            "Debra.Berger@Fabrikam.com",
            "adele.vance@fabrikam.com",
            "alex.wilber@fabrikam.com",
            "lee.gu@fabrikam.com",
        ]
    );
    assert!(review
        .rows
        .iter()
        .filter(|r| r.approve != Approval::Yes)
        .all(|r| r.approve == Approval::Empty));
    assert!(stdout.contains("Pre-approved 4"), "{stdout}");
}

#[test]
fn match_upn_mail_finds_the_non_routable_upn_by_mail() {
    let (review, _, _dir) = plan("ad-users.csv", &["--match", "upn-mail"]);
    let allan = row(&review, "allan.deyoung@fabrikam.local");
    assert_eq!(allan.plan.action, Some(Action::Set));
    assert_eq!(allan.plan.matched_by, Some(MatchedBy::Mail));
    assert_eq!(allan.plan.cloud_upn, "allan.deyoung@fabrikam.com");
    assert!(allan
        .plan
        .checks
        .iter()
        .any(|c| c.starts_with("UPN differs")));
}

#[test]
fn summary_names_inputs_with_sha256_and_lists_unmatched_cloud_users() {
    let (_, _, dir) = plan("ad-users.csv", &[]);
    let sha: String = Sha256::digest(std::fs::read(sample("ad-users.csv")).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut wb = open_workbook_auto(dir.path().join("plan.xlsx")).unwrap();
    let names = wb.sheet_names();
    let summary = names
        .iter()
        .find(|n| n.as_str() == "Summary")
        .expect("Summary sheet")
        .clone();
    let unmatched = names
        .iter()
        .find(|n| n.to_lowercase().starts_with("unmatched"))
        .expect("Unmatched cloud users sheet")
        .clone();
    let text = |range: calamine::Range<Data>| -> String {
        range
            .rows()
            .flatten()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let s = text(wb.worksheet_range(&summary).unwrap());
    assert!(
        s.to_lowercase().contains(&sha),
        "AD export SHA-256 {sha} not on the Summary sheet"
    );
    assert!(s.contains(env!("CARGO_PKG_VERSION")));
    let u = text(wb.worksheet_range(&unmatched).unwrap());
    for upn in [
        "isaiah.langer@fabrikam.com",
        "admin@fabrikam.onmicrosoft.com",
        "reception@fabrikam.com",
    ] {
        assert!(u.contains(upn), "{upn} not listed as unmatched");
    }
    assert!(!u.contains("adele.vance@fabrikam.com"));
}

#[test]
fn default_output_is_plan_xlsx_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    hardmatch()
        .current_dir(dir.path())
        .arg("plan")
        .arg(sample("ad-users.csv"))
        .arg("--cloud")
        .arg(sample("cloud-users.csv"))
        .assert()
        .success()
        .stdout(predicate::str::contains("plan.xlsx"));
    assert!(dir.path().join("plan.xlsx").is_file());
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn missing_ad_export_is_bad_input_exit_2_and_no_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.xlsx");
    hardmatch()
        .arg("plan")
        .arg(dir.path().join("no-such-export.csv"))
        .arg("--cloud")
        .arg(sample("cloud-users.csv"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-export.csv"));
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn cloud_export_without_a_upn_column_is_bad_input_exit_2_and_no_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = dir.path().join("cloud.csv");
    std::fs::write(&cloud, "\"Name\",\"Colour\"\r\n\"x\",\"blue\"\r\n").unwrap();
    let out = dir.path().join("plan.xlsx");
    hardmatch()
        .arg("plan")
        .arg(sample("ad-users.csv"))
        .arg("--cloud")
        .arg(&cloud)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cloud.csv"));
    assert!(!out.exists());
    assert_eq!(leftovers(dir.path()), ["cloud.csv"]);
}

#[test]
fn when_both_inputs_are_bad_the_ad_export_is_reported_first() {
    // The two files are read side by side; the error is still the one a reader going in order
    // would meet first.
    let dir = tempfile::tempdir().unwrap();
    let cloud = dir.path().join("cloud.csv");
    std::fs::write(&cloud, "\"Name\",\"Colour\"\r\n\"x\",\"blue\"\r\n").unwrap();
    let out = dir.path().join("plan.xlsx");
    let assert = hardmatch()
        .arg("plan")
        .arg(dir.path().join("no-such-export.csv"))
        .arg("--cloud")
        .arg(&cloud)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("no-such-export.csv"), "{stderr}");
    assert!(!stderr.contains("cloud.csv"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn an_existing_workbook_is_not_touched_when_planning_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.xlsx");
    std::fs::write(&out, b"previous plan").unwrap();
    hardmatch()
        .arg("plan")
        .arg(dir.path().join("missing.ldf"))
        .arg("--cloud")
        .arg(sample("cloud-users.csv"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous plan");
}
