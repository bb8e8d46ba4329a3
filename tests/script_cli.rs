//! `hardmatch script` end to end: plan the bundled samples, approve rows as a change board
//! would, write the script, and check that its rows are exactly the rows `review::select_row`
//! runs, that every other approved row is reported, and that bad input writes nothing. Also
//! the other half of the LDIF direction: `plan` offering it in the Reason.

mod script_support;

use assert_cmd::Command;
use hardmatch::anchor::{self, SourceAnchor};
use hardmatch::cloud::{CloudState, CloudUser};
use hardmatch::plan::{build, PlanOptions};
use hardmatch::review::{
    select_row, Action, Approval, PlanKey, ReviewRow, SelectOptions, Selected,
};
use hardmatch::script::Format;
use hardmatch::sources::{self, AdUser, ReadOptions};
use hardmatch::workbook::{self, Review, WriteOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

const KEY_FILE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/script-cli-test.key");

fn hardmatch() -> Command {
    let mut cmd = Command::cargo_bin("hardmatch").unwrap();
    cmd.env("HARDMATCH_KEY_FILE", KEY_FILE);
    cmd
}

fn key() -> PlanKey {
    PlanKey::load_or_create(Path::new(KEY_FILE)).unwrap().0
}

/// The samples planned, with Approve = Yes on every row except those `keep` says no to.
fn approved_plan(dir: &Path, keep: impl Fn(&ReviewRow) -> bool) -> (PathBuf, Review) {
    let path = dir.join("plan.xlsx");
    hardmatch()
        .arg("plan")
        .arg(sample("ad-users.csv"))
        .arg("--cloud")
        .arg(sample("cloud-users.csv"))
        .arg("-o")
        .arg(&path)
        .assert()
        .success();
    let mut review = workbook::read_review(&path).unwrap();
    for r in &mut review.rows {
        if keep(r) {
            r.approve = Approval::Yes;
        }
    }
    let unmatched: Vec<&CloudUser> = review.unmatched.iter().collect();
    workbook::write_review(
        &path,
        &review.rows,
        &unmatched,
        &review.meta,
        &WriteOptions::default(),
    )
    .unwrap();
    let review = workbook::read_review(&path).unwrap();
    (path, review)
}

/// Row ids of the rows the script changes, read from the script itself.
fn scripted_rows(text: &str, format: Format) -> BTreeSet<u64> {
    match format {
        Format::GraphPowershell => text
            .lines()
            .filter_map(|l| l.strip_prefix("Invoke-Row -Row "))
            .map(|l| l.split(' ').next().unwrap().parse().unwrap())
            .collect(),
        // The last `# Row N` comment before each `dn` line.
        Format::Ldif => {
            let mut row = None;
            let mut out = BTreeSet::new();
            for l in text.lines() {
                if let Some(rest) = l.strip_prefix("# Row ") {
                    row = Some(rest.split(' ').next().unwrap().parse().unwrap());
                } else if l.starts_with("dn") {
                    out.insert(row.take().expect("a # Row comment before each record"));
                }
            }
            out
        }
    }
}

fn runs(review: &Review, format: Format, opts: &SelectOptions) -> BTreeSet<u64> {
    let opts = format.select_options(opts);
    review
        .rows
        .iter()
        .filter(|r| matches!(select_row(r, &key(), &opts), Selected::Run { .. }))
        .map(|r| r.plan.row_id)
        .collect()
}

#[test]
fn graph_powershell_script_holds_exactly_the_rows_apply_would_run_and_lists_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, review) = approved_plan(dir.path(), |_| true);
    for (n, (flags, opts)) in [
        (vec![], SelectOptions::default()),
        (
            vec!["--allow-replace", "--purge-deleted-conflicts"],
            SelectOptions {
                allow_replace: true,
                purge_deleted_conflicts: true,
                trust_workbook: false,
            },
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.path().join(format!("fix{n}.ps1"));
        let assert = hardmatch()
            .arg("script")
            .arg(&wb)
            .args(["--format", "graph-powershell", "-o"])
            .arg(&out)
            .args(&flags)
            .assert()
            .code(1); // approved rows were left out
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        let text = std::fs::read_to_string(&out).unwrap();
        let scripted = scripted_rows(&text, Format::GraphPowershell);

        // Exactly the rows select_row runs, less AlreadyMatched (nothing to write).
        let expected: BTreeSet<u64> = runs(&review, Format::GraphPowershell, &opts)
            .into_iter()
            .filter(|id| review.rows[*id as usize - 1].plan.action != Some(Action::AlreadyMatched))
            .collect();
        assert_eq!(scripted, expected, "flags {flags:?}");
        assert!(!scripted.is_empty());

        // Every other approved row is named, with its reason, in the file; those needing a
        // decision also on stderr.
        for r in &review.rows {
            let id = r.plan.row_id;
            if scripted.contains(&id) {
                continue;
            }
            let line = format!("#   Row {id} {}: ", r.plan.upn);
            assert!(text.contains(&line), "row {id} not listed ({flags:?})");
            if r.plan.action != Some(Action::AlreadyMatched) {
                assert!(
                    stderr.contains(&format!("Row {id} {}: ", r.plan.upn)),
                    "{stderr}"
                );
            }
        }
        let replace_skipped = stderr.contains("--allow-replace");
        assert_eq!(replace_skipped, flags.is_empty(), "{stderr}");
    }
}

#[test]
fn ldif_file_sets_the_cloud_anchor_on_the_ad_user_found_in_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, review) = approved_plan(dir.path(), |_| true);
    let out = dir.path().join("fix.ldf");
    let assert = hardmatch()
        .arg("script")
        .arg(&wb)
        .args(["--format", "ldif", "--ad-export"])
        .arg(sample("ad-users.csv"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("ldifde -i -f"), "{stdout}");
    let text = std::fs::read_to_string(&out).unwrap();
    let scripted = scripted_rows(&text, Format::Ldif);

    // The select_row rows whose cloud user has a GUID-based anchor of its own to keep.
    let expected: BTreeSet<u64> = runs(&review, Format::Ldif, &SelectOptions::default())
        .into_iter()
        .filter(|id| {
            let p = &review.rows[*id as usize - 1].plan;
            matches!(p.action, Some(Action::Replace | Action::ConflictDeleted))
                && anchor::guid_based(&p.cloud_immutable_id).is_some()
        })
        .collect();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(scripted, expected, "{stderr}");
    assert_eq!(
        scripted.len(),
        1,
        "the samples' one Replace with a GUID anchor"
    );

    // The DN is the AD export's, and the value the cloud ImmutableId's bytes.
    let ad = sources::read_ad_export(&sample("ad-users.csv"), &ReadOptions::default()).unwrap();
    for id in scripted {
        let p = &review.rows[id as usize - 1].plan;
        let user = ad.users.iter().find(|u| u.upn == p.upn).unwrap();
        assert!(text.contains(&format!("\r\ndn: {}\r\n", user.dn.as_deref().unwrap())));
        assert!(text.contains(&format!(
            "\r\nmS-DS-ConsistencyGuid:: {}\r\n-\r\n",
            p.cloud_immutable_id
        )));
    }
}

#[test]
fn an_edited_row_is_refused_and_reported_not_scripted() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, mut review) = approved_plan(dir.path(), |r| r.plan.action == Some(Action::Set));
    // Someone points row 1 at another AD user's anchor after planning.
    review.rows[0].plan.new_immutable_id = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    let unmatched: Vec<&CloudUser> = review.unmatched.iter().collect();
    workbook::write_review(
        &wb,
        &review.rows,
        &unmatched,
        &review.meta,
        &WriteOptions::default(),
    )
    .unwrap();
    let assert = hardmatch()
        .arg("script")
        .arg(&wb)
        .args(["--format", "graph-powershell"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("Row 1 adele.vance@fabrikam.com: Refused: a planned value"),
        "{stderr}"
    );
    // Default output: beside the workbook, as .ps1.
    let text = std::fs::read_to_string(wb.with_extension("ps1")).unwrap();
    assert!(!text.contains("AAAAAAAAAAAAAAAAAAAAAA=="));
    assert!(!scripted_rows(&text, Format::GraphPowershell).contains(&1));
    assert!(scripted_rows(&text, Format::GraphPowershell).contains(&2));
}

#[test]
fn only_rows_with_nothing_to_write_approved_writes_no_file_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, _) = approved_plan(dir.path(), |r| {
        r.plan.action == Some(Action::AlreadyMatched)
    });
    let assert = hardmatch()
        .arg("script")
        .arg(&wb)
        .args(["--format", "graph-powershell"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("No file written"), "{stdout}");
    assert!(!wb.with_extension("ps1").exists());
}

#[test]
fn bad_flags_and_input_exit_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, _) = approved_plan(dir.path(), |_| false);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--format".into(), "ldif".into()], "needs --ad-export"),
        (
            vec![
                "--format".into(),
                "ldif".into(),
                "--ad-export".into(),
                sample("ad-users.csv").display().to_string(),
                "--allow-replace".into(),
            ],
            "nothing to allow",
        ),
        (
            vec![
                "--format".into(),
                "graph-powershell".into(),
                "--ad-export".into(),
                "x.csv".into(),
            ],
            "only for --format ldif",
        ),
        (
            vec![
                "--format".into(),
                "graph-powershell".into(),
                "-o".into(),
                dir.path().join("fix.txt").display().to_string(),
            ],
            ".ps1",
        ),
        (
            vec![
                "--format".into(),
                "graph-powershell".into(),
                "-o".into(),
                dir.path()
                    .join("no-such-folder/fix.ps1")
                    .display()
                    .to_string(),
            ],
            "does not exist",
        ),
        (
            vec!["--format".into(), "graph-powershell".into()],
            "Approve = Yes",
        ),
    ];
    for (args, message) in cases {
        let assert = hardmatch()
            .arg("script")
            .arg(&wb)
            .args(&args)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // A workbook that is not one, and a missing key: named, with what to do.
    let junk = dir.path().join("junk.xlsx");
    std::fs::write(&junk, b"not a workbook").unwrap();
    hardmatch()
        .arg("script")
        .arg(&junk)
        .args(["--format", "graph-powershell"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("junk.xlsx"));
    hardmatch()
        .env("HARDMATCH_KEY_FILE", dir.path().join("no.key"))
        .arg("script")
        .arg(&wb)
        .args(["--format", "graph-powershell"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--key-file"));
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".xlsx"))
        .collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

fn cloud(id: &str, upn: &str, immutable_id: Option<String>) -> CloudUser {
    CloudUser {
        id: id.into(),
        upn: upn.into(),
        immutable_id,
        sync_enabled: Some(false),
        ..CloudUser::default()
    }
}

fn ad_user(upn: &str, guid: &str) -> AdUser {
    AdUser {
        upn: upn.into(),
        object_guid: Some(SourceAnchor::from_guid(guid.parse().unwrap())),
        location: format!("ad.csv:{upn}"),
        ..AdUser::default()
    }
}

#[test]
fn plan_offers_keeping_the_cloud_anchor_only_where_the_ldif_file_can_do_it() {
    let new = "11111111-1111-4111-8111-111111111111";
    let old = SourceAnchor::from_guid("22222222-2222-4222-8222-222222222222".parse().unwrap())
        .immutable_id();
    let held = SourceAnchor::from_guid(new.parse().unwrap()).immutable_id();
    let offer = "hardmatch script --format ldif";
    let case = |cloud_id: Option<String>, deleted_holder: bool| {
        let mut state = CloudState {
            users: vec![cloud("c1", "a@x.com", cloud_id)],
            ..CloudState::default()
        };
        if deleted_holder {
            let mut d = cloud("d1", "gone@x.com", Some(held.clone()));
            d.deleted_date_time = Some("2026-10-01T00:00:00Z".into());
            state.deleted.push(d);
        }
        let plan = build(&[ad_user("a@x.com", new)], &state, &PlanOptions::default());
        plan.rows.into_iter().next().unwrap()
    };

    let replace = case(Some(old.clone()), false);
    assert_eq!(replace.action, Some(Action::Replace));
    assert!(replace.reason.contains(offer), "{}", replace.reason);
    assert!(replace.reason.contains(&old));

    let purge = case(Some(old.clone()), true);
    assert_eq!(purge.action, Some(Action::ConflictDeleted));
    assert!(purge.reason.contains(offer), "{}", purge.reason);

    // A non-GUID anchor cannot become mS-DS-ConsistencyGuid; no anchor, nothing to keep.
    for (r, action) in [
        (case(Some("a@sso.example".into()), false), Action::Replace),
        (case(None, false), Action::Set),
        (case(None, true), Action::ConflictDeleted),
        (case(Some(held.clone()), false), Action::AlreadyMatched),
    ] {
        assert_eq!(r.action, Some(action));
        assert!(!r.reason.contains(offer), "{action}: {}", r.reason);
    }
}

#[test]
fn a_workbook_planned_with_another_key_is_refused_whole_and_stderr_stays_short() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, review) = approved_plan(dir.path(), |_| true);
    assert!(review.rows.len() > 20);
    let other = dir.path().join("other.key");
    PlanKey::load_or_create(&other).unwrap();
    let assert = hardmatch()
        .env("HARDMATCH_KEY_FILE", &other)
        .arg("script")
        .arg(&wb)
        .args(["--format", "graph-powershell"])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("No file written"), "{stdout}");
    assert!(!wb.with_extension("ps1").exists());
    // Twenty rows by name, then the rest counted by reason.
    assert_eq!(stderr.lines().filter(|l| l.starts_with("Row ")).count(), 20);
    let all = review.rows.len();
    assert!(
        stderr.contains(&format!(
            "{all} × Refused: planned with another operator's key"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--trust-workbook"), "{stderr}");
}

#[test]
fn an_existing_script_is_replaced_only_with_force_and_kept_as_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (wb, _) = approved_plan(dir.path(), |r| r.plan.action == Some(Action::Set));
    let out = dir.path().join("change-42.ps1");
    std::fs::write(&out, "# the script the change board signed off\r\n").unwrap();
    let run = |force: bool| {
        let mut cmd = hardmatch();
        cmd.arg("script")
            .arg(&wb)
            .args(["--format", "graph-powershell", "-o"])
            .arg(&out);
        if force {
            cmd.arg("--force");
        }
        cmd.assert()
    };
    run(false)
        .code(2)
        .stderr(predicates::str::contains("already exists"))
        .stderr(predicates::str::contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "# the script the change board signed off\r\n"
    );
    run(true)
        .success()
        .stdout(predicates::str::contains("change-42.bak.ps1"));
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("Invoke-Row -Row 1 "));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("change-42.bak.ps1")).unwrap(),
        "# the script the change board signed off\r\n"
    );
    // Never an input, however it is spelled, even with --force.
    let ad = dir.path().join("ad.ldf");
    std::fs::copy(sample("ad-users.ldf"), &ad).unwrap();
    hardmatch()
        .arg("script")
        .arg(&wb)
        .args(["--format", "ldif", "--force", "--ad-export"])
        .arg(&ad)
        .arg("-o")
        .arg(dir.path().join(".").join("ad.ldf"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("this run reads"));
    assert_eq!(
        std::fs::read(&ad).unwrap(),
        std::fs::read(sample("ad-users.ldf")).unwrap()
    );
}
