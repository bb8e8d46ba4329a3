//! Crash safety, with `hardmatch apply` as a real child process killed by SIGKILL at named points
//! (the test-only `HARDMATCH_TEST_CRASH_AT` hook): before and after a window of PATCHes is sent,
//! between Graph's answer and its journal line, halfway through a journal line, around the
//! purge, and at every step of the write-back. After each kill the workbook still opens; a rerun
//! replays the journal, reads in-doubt rows back, and ends with every approved row Done, each
//! PATCHed exactly once in the tenant, its result and Previous ImmutableId in the workbook.
#![cfg(unix)]

mod apply_support;

use apply_support::*;
use hardmatch::review::{Approval, Status};
use hardmatch::sim::TenantState;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

/// Rows 1…ROWS are Set rows; row 0 is a ConflictDeleted row (its holder in the recycle bin).
const ROWS: u32 = 90;

fn world() -> World {
    let mut users: Vec<_> = (0..=ROWS)
        .map(|n| cloud_user(n, &format!("user{n:03}@contoso.com"), None))
        .collect();
    users.push(cloud_user(500, "unapproved@contoso.com", None));
    let w = World::new(TenantState {
        users,
        deleted_users: vec![deleted_user(900, "old0@contoso.com", &iid(0))],
        ..TenantState::default()
    });
    let mut ad: Vec<_> = (0..=ROWS)
        .map(|n| ad_user(n, &format!("user{n:03}@contoso.com")))
        .collect();
    ad.push(ad_user(500, "unapproved@contoso.com"));
    w.plan(&ad, |r| {
        if r.plan.upn == "unapproved@contoso.com" {
            Approval::Empty
        } else {
            Approval::Yes
        }
    });
    w
}

/// Runs the binary against the world's tenant; `crash` arms the hook.
fn apply_cli(w: &World, crash: Option<&str>) -> Output {
    let mut cmd = w.cli("apply", &w.workbook);
    cmd.args(["--purge-deleted-conflicts", "--quiet", "--no-pacing"])
        // One $batch envelope (20 rows) in flight at a time: the 91 rows take five, so the
        // crash points' counts land in the middle of the run.
        .args(["--concurrency", "1"])
        .env_remove("HARDMATCH_TEST_CRASH_AT");
    if let Some(point) = crash {
        cmd.env("HARDMATCH_TEST_CRASH_AT", point);
    }
    cmd.output().expect("runs")
}

/// PATCHes of users' ImmutableIds the tenant accepted, per user id.
fn patches(w: &World) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in w.sim.requests() {
        if r.method == "PATCH" && (200..300).contains(&r.status) {
            *out.entry(r.path.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// Returns the rerun's stderr.
fn crash_then_rerun(point: &str) -> String {
    let w = world();
    let out = apply_cli(&w, Some(point));
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point}: killed by SIGKILL, not {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Whatever instant it died at, the workbook opens.
    let after_crash = hardmatch::workbook::read_review(&w.workbook)
        .unwrap_or_else(|e| panic!("{point}: the workbook does not open after the crash: {e}"));
    assert_eq!(after_crash.rows.len(), ROWS as usize + 2);

    let out = apply_cli(&w, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{point}: rerun exit; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("took over the lock"),
        "{point}: the killed run's lock is taken over with a warning: {stderr}"
    );

    let rows = w.read();
    for n in 0..=ROWS {
        let upn = format!("user{n:03}@contoso.com");
        let row = row_by_upn(&rows, &upn);
        assert_eq!(row.status, Status::Done, "{point}: {upn}: {}", row.result);
        assert_eq!(
            w.immutable_id_of(n).as_deref(),
            Some(iid(n).as_str()),
            "{point}: {upn} in the tenant"
        );
        assert_eq!(
            row.previous_immutable_id.as_deref(),
            Some(""),
            "{point}: {upn}: the previous value survives the crash"
        );
        assert_eq!(
            w.key.verify_result(row),
            hardmatch::review::Verdict::Valid,
            "{point}: {upn}: result signed"
        );
    }
    assert_eq!(
        row_by_upn(&rows, "unapproved@contoso.com").status,
        Status::Empty
    );
    assert!(
        w.sim.state().deleted_users.is_empty(),
        "{point}: holder purged"
    );
    let patched = patches(&w);
    assert_eq!(patched.len(), ROWS as usize + 1, "{point}: {patched:?}");
    assert!(
        patched.values().all(|n| *n == 1),
        "{point}: a row was PATCHed twice: {patched:?}"
    );
    // A third run sends nothing at all.
    w.sim.clear_requests();
    let out = apply_cli(&w, None);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        patches(&w).is_empty(),
        "{point}: resent after everything was Done"
    );
    // Nor does the killed run's journal come back later: --resume (which reads nothing from
    // the tenant) finds nothing in doubt and leaves every row Done.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(["apply", "--resume", "--quiet"])
        .arg(&w.workbook)
        .arg("--key-file")
        .arg(&w.key_file)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{point}: --resume after the rerun: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let rows = w.read();
    for n in 0..=ROWS {
        let row = row_by_upn(&rows, &format!("user{n:03}@contoso.com"));
        assert_eq!(
            row.status,
            Status::Done,
            "{point}: after --resume: {}",
            row.result
        );
    }
    stderr.into_owned()
}

#[test]
fn killed_right_after_the_run_started() {
    crash_then_rerun("after-run-start");
}

#[test]
fn killed_after_journaling_an_envelope_as_started_before_sending_it() {
    crash_then_rerun("after-started:2");
}

#[test]
fn killed_between_graphs_answer_and_its_journal_lines() {
    // The first envelope's PATCHes are in the tenant; the journal has one result, and says the
    // others started.
    crash_then_rerun("after-send:2");
}

#[test]
fn killed_between_an_answer_in_the_third_envelope_and_its_journal_line() {
    crash_then_rerun("after-send:50");
}

#[test]
fn killed_halfway_through_a_result_line() {
    let stderr = crash_then_rerun("mid-result-line:45");
    assert!(
        stderr.contains("incomplete (a run was interrupted while writing it); it is ignored"),
        "the torn line is reported: {stderr}"
    );
}

#[test]
fn killed_after_a_few_results_were_journaled() {
    crash_then_rerun("after-results:23");
}

#[test]
fn killed_after_the_purge_was_journaled_as_started() {
    crash_then_rerun("after-purge-started");
}

#[test]
fn killed_between_the_purge_and_its_journal_line() {
    crash_then_rerun("after-purge-send");
}

#[test]
fn killed_before_the_write_back() {
    crash_then_rerun("before-write-back");
}

#[test]
fn killed_with_the_new_workbook_written_beside_the_old() {
    crash_then_rerun("after-temp-written");
}

#[test]
fn killed_after_the_backup_before_the_rename() {
    crash_then_rerun("after-backup");
}

#[test]
fn killed_after_the_rename() {
    crash_then_rerun("after-rename");
}

#[test]
fn a_second_apply_on_the_same_workbook_refuses_naming_the_first() {
    let w = world();
    let (held, _) =
        hardmatch::apply::lock::WorkbookLock::acquire(&w.workbook, "pid 4242 on host-x, run r1")
            .unwrap();
    let out = apply_cli(&w, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another hardmatch run is using this workbook")
            && stderr.contains("pid 4242 on host-x"),
        "{stderr}"
    );
    assert!(patches(&w).is_empty(), "nothing sent");
    drop(held);
    let out = apply_cli(&w, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
