//! `hardmatch plan` on cloud exports as real tenants and scripts produce them (issue 7): a recycle
//! bin without deletion dates, a CSV that went through Excel, the same export given twice, and
//! exports that lack the columns hard-match blocks are read from. None may lead to a wrong Action
//! or to a pre-approved row whose decision rests on something unread.

use assert_cmd::Command;
use hardmatch::plan::Action;
use hardmatch::review::{Approval, ReviewRow};
use hardmatch::workbook::{self, Review};
use std::path::{Path, PathBuf};

const KEY_FILE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/plan-cloud-inputs-test.key");

/// ImmutableId of AD user pat (GUID 3ab39606-c642-489b-84b6-58c038d3ef39).
const PAT_ID: &str = "BpazOkLGm0iEtljAONPvOQ==";
/// An ImmutableId starting with `+`, which Excel evaluates as a formula: `#NAME?`.
const KIM_ID: &str = "+7Byu5JQuU2TfrLSegT8VQ==";
const KIM_GUID: &str = "bb72b0fb-5092-4db9-937e-b2d27a04fc55";

/// Every column `hardmatch cloud export` writes, so that nothing is left unchecked.
const FULL_HEADER: &str =
    "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled,Mail,ProxyAddresses,\
                           DisplayName,OnPremisesObjectIdentifier,DeletedDateTime,PrivilegedRoles";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ad_csv(dir: &Path) -> PathBuf {
    write(
        dir,
        "ad.csv",
        &format!(
            // With mS-DS-ConsistencyGuid (empty), so that the anchors are certain.
            "UserPrincipalName,ObjectGUID,mS-DS-ConsistencyGuid,mail\n\
             pat@contoso.com,3ab39606-c642-489b-84b6-58c038d3ef39,,pat@contoso.com\n\
             kim@contoso.com,{KIM_GUID},,kim@contoso.com\n\
             lee@contoso.com,7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f,,lee@contoso.com\n"
        ),
    )
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    review: Option<Review>,
}

fn plan(dir: &Path, clouds: &[&Path], extra: &[&str]) -> Run {
    let out = dir.join("plan.xlsx");
    // A failed run must leave none; an earlier run's must not be mistaken for this one's.
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::cargo_bin("hardmatch").unwrap();
    cmd.env("HARDMATCH_KEY_FILE", KEY_FILE)
        .arg("plan")
        .arg(ad_csv(dir))
        .arg("-o")
        .arg(&out)
        .args(extra);
    for c in clouds {
        cmd.arg("--cloud").arg(c);
    }
    let o = cmd.output().unwrap();
    Run {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        review: out.is_file().then(|| workbook::read_review(&out).unwrap()),
    }
}

fn row<'a>(r: &'a Run, upn: &str) -> &'a ReviewRow {
    r.review
        .as_ref()
        .expect("a workbook")
        .rows
        .iter()
        .find(|x| x.plan.upn == upn)
        .unwrap_or_else(|| panic!("{upn} missing"))
}

fn approved(r: &Run) -> Vec<String> {
    let mut v: Vec<String> = r
        .review
        .as_ref()
        .expect("a workbook")
        .rows
        .iter()
        .filter(|x| x.approve == Approval::Yes)
        .map(|x| x.plan.upn.clone())
        .collect();
    v.sort();
    v
}

/// Active users pat, kim and lee, cloud-only, none with an ImmutableId, every column present.
fn active_csv(dir: &Path) -> PathBuf {
    write(
        dir,
        "cloud.csv",
        &format!(
            "{FULL_HEADER}\n\
             c-pat,pat@contoso.com,,False,pat@contoso.com,SMTP:pat@contoso.com,Pat,,,\n\
             c-kim,kim@contoso.com,,False,kim@contoso.com,SMTP:kim@contoso.com,Kim,,,\n\
             c-lee,lee@contoso.com,,False,lee@contoso.com,SMTP:lee@contoso.com,Lee,,,\n"
        ),
    )
}

#[test]
fn a_recycle_bin_export_without_deletion_dates_is_the_recycle_bin() {
    // Issue 7 §2: Get-MgDirectoryDeletedItemAsUser without -Property DeletedDateTime leaves the
    // column empty. Its users were counted as active, so pat's old account, which still holds
    // pat's ImmutableId, made pat's row AlreadyMatched ("nothing to write") or ConflictActive.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let active = active_csv(d);
    let deleted = write(
        d,
        "cloud-deleted.csv",
        &format!(
            "Id,UserPrincipalName,OnPremisesImmutableId,Mail,DisplayName,DeletedDateTime\n\
             d-1,pat.old@contoso.com,{PAT_ID},,Pat (old),\n\
             d-2,gone@contoso.com,AAECAwQFBgcICQoLDA0ODw==,,Gone,\n"
        ),
    );
    let r = plan(d, &[&active, &deleted], &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.contains("against 3 active and 2 soft-deleted"),
        "{}",
        r.stdout
    );
    let pat = row(&r, "pat@contoso.com");
    assert_eq!(
        pat.plan.action,
        Some(Action::ConflictDeleted),
        "{}",
        pat.plan.reason
    );
    assert_eq!(pat.plan.holder_object_id, "d-1");
    assert!(
        pat.plan.reason.contains("deletion date unknown"),
        "{}",
        pat.plan.reason
    );
    assert!(
        r.stderr.contains("deletion date is unknown"),
        "{}",
        r.stderr
    );
}

#[test]
fn deleted_users_are_recognised_by_their_upn_prefix_in_any_file() {
    // The same recycle-bin rows, under a name that says nothing: the 32-hex object-id prefix
    // Entra gives a deleted user's UPN still tells them apart.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let active = active_csv(d);
    let id = "5b1f0b3a-0000-4000-8000-00000000d001";
    let bin = write(
        d,
        "export2.csv",
        &format!(
            "Id,UserPrincipalName,OnPremisesImmutableId,DeletedDateTime\n\
             {id},{}pat.old@contoso.com,{PAT_ID},\n",
            id.replace('-', "")
        ),
    );
    let r = plan(d, &[&active, &bin], &[]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout.contains("against 3 active and 1 soft-deleted"),
        "{}",
        r.stdout
    );
    assert_eq!(
        row(&r, "pat@contoso.com").plan.action,
        Some(Action::ConflictDeleted)
    );
}

#[test]
fn an_excel_error_where_an_immutable_id_was_refuses_the_cloud_file() {
    // Issue 7 §5: the CSV went through Excel, which turned kim's holder's +7Byu5JQ…== into
    // #NAME?. kim's row came out a clean Set and was pre-approved; the holder was unknowable.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cloud = write(
        d,
        "cloud.csv",
        &format!(
            "{FULL_HEADER}\n\
             c-pat,pat@contoso.com,,False,,,Pat,,,\n\
             c-kim,kim@contoso.com,,False,,,Kim,,,\n\
             c-old,kim.old@contoso.com,#NAME?,False,,,Kim (old),,,\n"
        ),
    );
    let r = plan(d, &[&cloud], &["--pre-approve", "set"]);
    assert!(!r.ok, "{}", r.stdout);
    assert!(r.review.is_none(), "no workbook on bad input");
    assert!(
        r.stderr
            .contains("cloud.csv, line 4, column OnPremisesImmutableId"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("#NAME?") && r.stderr.contains("Excel"),
        "{}",
        r.stderr
    );
    // KIM_ID is what Excel destroyed: it starts with a formula character.
    assert!(KIM_ID.starts_with('+'));
}

#[test]
fn the_same_cloud_file_twice_counts_each_user_once() {
    // Issue 7 §8: every row was Ambiguous between a user and itself.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let active = active_csv(d);
    let bin = write(
        d,
        "cloud-deleted.csv",
        &format!("{FULL_HEADER}\nd-1,gone@contoso.com,AAECAwQFBgcICQoLDA0ODw==,,,,Gone,,2026-10-01T08:00:00Z,\n"),
    );
    let once = plan(d, &[&active, &bin], &[]);
    let twice = plan(d, &[&active, &active, &bin], &[]);
    assert!(twice.ok, "{}", twice.stderr);
    for upn in ["pat@contoso.com", "kim@contoso.com", "lee@contoso.com"] {
        assert_eq!(row(&twice, upn).plan.action, Some(Action::Set), "{upn}");
        assert_eq!(row(&twice, upn).plan, row(&once, upn).plan, "{upn}");
    }
    assert!(twice.stderr.contains("given twice"), "{}", twice.stderr);

    // A copy that disagrees (an older export) is an error naming both places.
    let older = write(
        d,
        "older.csv",
        &format!("{FULL_HEADER}\nc-kim,kim@contoso.com,{KIM_ID},False,,,Kim,,,\n"),
    );
    let r = plan(d, &[&active, &older, &bin], &[]);
    assert!(!r.ok, "{}", r.stdout);
    assert!(r.stderr.contains("older.csv, line 2"), "{}", r.stderr);
    assert!(r.stderr.contains("cloud.csv:3"), "{}", r.stderr);
    assert!(r.review.is_none());
}

#[test]
fn pre_approve_set_approves_nothing_that_rests_on_unread_columns() {
    // Issue 7 §10: a Get-MgUser export has no PrivilegedRoles column and no recycle bin, yet
    // its Set rows were called clean and pre-approved.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mg = write(
        d,
        "mg.csv",
        "Id,UserPrincipalName,OnPremisesImmutableId,OnPremisesSyncEnabled,Mail,DisplayName\n\
         c-pat,pat@contoso.com,,False,pat@contoso.com,Pat\n\
         c-kim,kim@contoso.com,,False,kim@contoso.com,Kim\n",
    );
    let r = plan(d, &[&mg], &["--pre-approve", "set"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(row(&r, "pat@contoso.com").plan.action, Some(Action::Set));
    assert!(approved(&r).is_empty(), "{:?}", approved(&r));
    for what in [
        "no PrivilegedRoles column",
        "no OnPremisesObjectIdentifier column",
        "no soft-deleted users were read",
        "approved nothing",
        "--unchecked-ok",
    ] {
        assert!(r.stderr.contains(what), "{what} not in: {}", r.stderr);
    }
    let summary = &r.review.as_ref().unwrap().meta.warnings;
    assert!(
        summary
            .iter()
            .any(|w| w.contains("no PrivilegedRoles column")),
        "{summary:?}"
    );
    assert!(
        summary.iter().any(|w| w.contains("approved nothing")),
        "{summary:?}"
    );

    // The operator accepts it explicitly.
    let r = plan(d, &[&mg], &["--pre-approve", "set", "--unchecked-ok"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(approved(&r), ["kim@contoso.com", "pat@contoso.com"]);

    // With every column and the recycle bin read, nothing is withheld.
    let bin = write(d, "cloud-deleted.csv", &format!("{FULL_HEADER}\n"));
    let r = plan(d, &[&active_csv(d), &bin], &["--pre-approve", "set"]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        approved(&r),
        ["kim@contoso.com", "lee@contoso.com", "pat@contoso.com"]
    );
    assert!(!r.stderr.contains("approved nothing"), "{}", r.stderr);
}
