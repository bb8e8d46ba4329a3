//! apply end to end against the simulated tenant: the whole workflow (what-if, a run that fails,
//! a rerun, a rerun that sends nothing), every kind of drift, tamper refusal, the purge and the
//! active-holder paths, and what lands in the workbook and the tenant.

mod apply_support;

use apply_support::*;
use hardmatch::apply::WOULD_RUN;
use hardmatch::review::{Action, Approval, Status};
use hardmatch::sim::{TenantState, ThrottleQuotas};

const OTHER_IID: &str = "qUbmzjxXZ0eJjWwFmXzz3Q==";

/// Cloud users 1…12 with their AD twins; the comments say what each row shows.
fn tenant() -> TenantState {
    let mut s = TenantState {
        users: vec![
            cloud_user(1, "set@contoso.com", None),    // Set → Done
            cloud_user(2, "synced@contoso.com", None), // Set, synced after planning → Skipped
            cloud_user(3, "purge@contoso.com", None),  // ConflictDeleted → purged, Done
            cloud_user(4, "replace@contoso.com", Some(OTHER_IID)), // Replace
            cloud_user(5, "already@contoso.com", Some(&iid(5))), // AlreadyMatched → Done
            cloud_user(6, "unclear@contoso.com", None), // Approve "Ja" → Skipped
            cloud_user(7, "tampered@contoso.com", None), // edited New ImmutableId → Refused
            cloud_user(8, "taken@contoso.com", None),  // another user takes the anchor → Skipped
            cloud_user(9, "gone@contoso.com", None),   // deleted after planning → Skipped
            cloud_user(10, "renamed@contoso.com", None), // UPN changed → Skipped
            cloud_user(11, "changed@contoso.com", None), // anchor set meanwhile → Skipped
            cloud_user(12, "notapproved@contoso.com", None), // never touched
            cloud_user(13, "binned@contoso.com", None), // a deleted user now holds the anchor → Skipped
            cloud_user(40, "other@contoso.com", None),  // takes row 8's anchor
        ],
        deleted_users: vec![deleted_user(33, "old.purge@contoso.com", &iid(3))],
        ..TenantState::default()
    };
    s.users.sort_by(|a, b| a.id.cmp(&b.id));
    s
}

fn ad() -> Vec<hardmatch::sources::AdUser> {
    [
        (1, "set"),
        (2, "synced"),
        (3, "purge"),
        (4, "replace"),
        (5, "already"),
        (6, "unclear"),
        (7, "tampered"),
        (8, "taken"),
        (9, "gone"),
        (10, "renamed"),
        (11, "changed"),
        (12, "notapproved"),
        (13, "binned"),
    ]
    .into_iter()
    .map(|(n, name)| ad_user(n, &format!("{name}@contoso.com")))
    .collect()
}

/// Plans, approves, tampers and drifts the tenant the way the module comment says.
fn planned_world() -> World {
    planned_world_with(0)
}

/// [`planned_world`] with `fillers` more approved users that nothing happens to: enough of them
/// and pre-flight lists the tenant instead of reading each user.
fn planned_world_with(fillers: u32) -> World {
    let mut state = tenant();
    let mut ad = ad();
    for n in 10_000..10_000 + fillers {
        let upn = format!("filler{n}@contoso.com");
        state.users.push(cloud_user(n, &upn, None));
        ad.push(ad_user(n, &upn));
    }
    let w = World::new(state);
    let mut rows = w.plan(&ad, |r| match r.plan.upn.as_str() {
        "notapproved@contoso.com" => Approval::Empty,
        "unclear@contoso.com" => Approval::parse("Ja"),
        _ => Approval::Yes,
    });
    let action = |upn: &str| row_by_upn(&rows, upn).plan.action;
    assert_eq!(action("set@contoso.com"), Some(Action::Set));
    assert_eq!(action("purge@contoso.com"), Some(Action::ConflictDeleted));
    assert_eq!(action("replace@contoso.com"), Some(Action::Replace));
    assert_eq!(action("already@contoso.com"), Some(Action::AlreadyMatched));
    // A reviewer who unprotects the sheet and types another anchor.
    let t = rows
        .iter_mut()
        .find(|r| r.plan.upn == "tampered@contoso.com")
        .unwrap();
    t.plan.new_immutable_id = iid(99);
    w.write(&rows);
    // The tenant moves on between planning and apply.
    w.sim.update_state(|s| {
        for u in &mut s.users {
            match u.user_principal_name.as_deref() {
                Some("synced@contoso.com") => u.on_premises_sync_enabled = Some(true),
                Some("other@contoso.com") => u.on_premises_immutable_id = Some(iid(8)),
                Some("renamed@contoso.com") => {
                    u.user_principal_name = Some("renamed2@contoso.com".into())
                }
                Some("changed@contoso.com") => {
                    u.on_premises_immutable_id = Some("Y2hhbmdlZGNoYW5nZWQxMg==".into())
                }
                _ => {}
            }
        }
        s.users
            .retain(|u| u.user_principal_name.as_deref() != Some("gone@contoso.com"));
        s.deleted_users
            .push(deleted_user(34, "old.binned@contoso.com", &iid(13)));
    });
    w
}

#[test]
fn what_if_reports_every_row_and_sends_writes_nothing() {
    let w = planned_world();
    let before = sha256(&w.workbook);
    w.sim.clear_requests();
    let r = w.apply(|o| {
        o.what_if = true;
        o.select.purge_deleted_conflicts = true;
    });
    assert!(w.writes().is_empty(), "what-if wrote: {:?}", w.writes());
    assert!(
        w.sim
            .requests()
            .iter()
            .any(|x| x.method == "GET" || x.path.contains("$batch")),
        "pre-flight read the tenant"
    );
    assert_eq!(sha256(&w.workbook), before, "the workbook is untouched");
    assert!(!w.dir.path().join("plan.xlsx.journal.jsonl").exists());
    assert!(!w.dir.path().join("plan.bak.xlsx").exists());
    assert_eq!(report_row(&r, "set@contoso.com").status, WOULD_RUN);
    let purge = report_row(&r, "purge@contoso.com");
    assert_eq!(purge.status, WOULD_RUN);
    assert!(
        purge.result.contains("permanently delete"),
        "{}",
        purge.result
    );
    assert_eq!(report_row(&r, "already@contoso.com").status, "Done");
    assert_eq!(report_row(&r, "synced@contoso.com").status, "Skipped");
    assert_eq!(report_row(&r, "tampered@contoso.com").status, "Refused");
    assert_eq!(r.exit_code(), 1, "some rows would not be Done");
}

#[test]
fn pre_flight_decides_alike_whether_it_reads_each_user_or_lists_the_tenant() {
    let what_if = |w: &World| {
        w.apply(|o| {
            o.what_if = true;
            o.select.purge_deleted_conflicts = true;
            o.select.allow_replace = true;
        })
    };
    let few = what_if(&planned_world());
    let fillers = hardmatch::apply::LIST_FROM_ROWS as u32;
    let many_world = planned_world_with(fillers);
    many_world.sim.clear_requests();
    let many = what_if(&many_world);
    assert!(
        many_world
            .sim
            .requests()
            .iter()
            .any(|r| r.path.contains("startsWith")),
        "with {fillers} more rows pre-flight lists the tenant"
    );
    for row in &few.rows {
        let listed = report_row(&many, &row.upn);
        assert_eq!(
            (&listed.status, &listed.result),
            (&row.status, &row.result),
            "{}",
            row.upn
        );
    }
    assert_eq!(many.rows.len(), few.rows.len() + fillers as usize);
    assert!(many
        .rows
        .iter()
        .filter(|r| r.upn.starts_with("filler"))
        .all(|r| r.status == WOULD_RUN));
}

#[test]
fn the_whole_workflow_with_a_failing_run_a_rerun_and_a_rerun_that_sends_nothing() {
    let w = planned_world();

    // Run 1: the tenant refuses every write (throttled; one attempt): rows fail, nothing is lost.
    w.sim.set_throttle(ThrottleQuotas {
        writes: 0.001,
        write_window_secs: 1e9,
        ..ThrottleQuotas::default()
    });
    let mut graph = w.graph();
    // No waiting out the 429s: the first one is the row's answer.
    graph.retry.max_attempts = 1;
    graph.retry.throttle_budget = std::time::Duration::ZERO;
    graph.retry.max_wait = std::time::Duration::from_millis(1);
    let mut o = w.options(hardmatch::apply::Command::Apply);
    o.select.purge_deleted_conflicts = true;
    let r = hardmatch::apply::run(&o, &w.key, Some(graph)).unwrap();
    assert_eq!(r.exit_code(), 1);
    let set = report_row(&r, "set@contoso.com");
    assert_eq!(set.status, "Failed", "{set:?}");
    assert!(
        set.result.contains("429") || set.result.contains("TooManyRequests"),
        "{}",
        set.result
    );
    assert!(
        set.result.contains("request-id"),
        "Graph's request-id: {}",
        set.result
    );
    let purge = report_row(&r, "purge@contoso.com");
    assert_eq!(purge.status, "Failed");
    assert!(
        purge.result.contains("could not permanently delete"),
        "{}",
        purge.result
    );
    assert_eq!(w.immutable_id_of(1), None);
    let rows = w.read();
    assert_eq!(row_by_upn(&rows, "set@contoso.com").status, Status::Failed);
    assert_eq!(row_by_upn(&rows, "set@contoso.com").attempts, 1);
    assert!(w.dir.path().join("plan.bak.xlsx").exists());

    // Run 2: the tenant accepts writes again.
    w.sim.set_throttle(ThrottleQuotas::default());
    w.sim.clear_requests();
    let r = w.apply(|o| o.select.purge_deleted_conflicts = true);
    assert_eq!(r.exit_code(), 1, "drifted rows are not Done");
    let status = |upn: &str| report_row(&r, upn).status.clone();
    let result = |upn: &str| report_row(&r, upn).result.clone();
    assert_eq!(status("set@contoso.com"), "Done");
    assert_eq!(w.immutable_id_of(1), Some(iid(1)));
    assert_eq!(status("purge@contoso.com"), "Done");
    assert!(
        result("purge@contoso.com").contains("Permanently deleted soft-deleted holder")
            && result("purge@contoso.com").contains(&oid(33)),
        "{}",
        result("purge@contoso.com")
    );
    let bin: Vec<String> = w
        .sim
        .state()
        .deleted_users
        .iter()
        .filter_map(|u| u.id.clone())
        .collect();
    assert_eq!(
        bin,
        vec![oid(34)],
        "the approved holder was purged, the other kept"
    );
    assert_eq!(w.immutable_id_of(3), Some(iid(3)));
    assert_eq!(status("replace@contoso.com"), "Skipped");
    assert!(result("replace@contoso.com").contains("--allow-replace"));
    assert_eq!(status("already@contoso.com"), "Done");
    assert!(result("already@contoso.com").contains("already holds"));
    assert_eq!(status("unclear@contoso.com"), "Skipped");
    assert!(result("unclear@contoso.com").contains("\"Ja\""));
    assert_eq!(status("tampered@contoso.com"), "Refused");
    assert!(result("tampered@contoso.com").contains("changed after planning"));
    assert_eq!(
        w.immutable_id_of(7),
        None,
        "nothing sent for a tampered row"
    );
    for (upn, words) in [
        ("synced@contoso.com", "BlockedSynced"),
        ("taken@contoso.com", "ConflictActive"),
        ("gone@contoso.com", "no longer exists"),
        ("renamed@contoso.com", "UPN changed"),
        ("changed@contoso.com", "ImmutableId changed"),
        ("binned@contoso.com", "ConflictDeleted"),
    ] {
        assert_eq!(status(upn), "Skipped", "{upn}");
        assert!(
            result(upn).contains("changed since planning"),
            "{upn}: {}",
            result(upn)
        );
        assert!(result(upn).contains(words), "{upn}: {}", result(upn));
    }
    assert!(r.rows.iter().all(|x| x.upn != "notapproved@contoso.com"));
    // Writes went to exactly the rows that run: one purge and two PATCHes.
    let writes = w.writes();
    assert_eq!(writes.len(), 3, "{writes:?}");

    // The workbook holds the results, the previous value, the runs.
    let review = hardmatch::workbook::read_review(&w.workbook).unwrap();
    let set = row_by_upn(&review.rows, "set@contoso.com");
    assert_eq!(set.status, Status::Done);
    assert_eq!(set.previous_immutable_id.as_deref(), Some(""));
    assert_eq!(set.attempts, 2, "one failed, one accepted");
    assert!(!set.applied_at.is_empty());
    assert_eq!(w.key.verify_result(set), hardmatch::review::Verdict::Valid);
    assert_eq!(review.meta.runs.len(), 2);
    assert_eq!(
        review.meta.runs[1].counts[0], 3,
        "Done count on the Runs sheet"
    );
    assert_eq!(review.meta.runs[1].operator, "tester@test-host");

    // Run 3: with --allow-replace the Replace row runs; nothing Done is sent again.
    w.sim.clear_requests();
    let r = w.apply(|o| o.select.allow_replace = true);
    assert_eq!(report_row(&r, "replace@contoso.com").status, "Done");
    assert_eq!(w.immutable_id_of(4), Some(iid(4)));
    assert_eq!(w.writes().len(), 1, "{:?}", w.writes());
    assert_eq!(r.writes_sent, 1, "the report counts this run's writes only");
    let rows = w.read();
    let replaced = row_by_upn(&rows, "replace@contoso.com");
    assert_eq!(replaced.previous_immutable_id.as_deref(), Some(OTHER_IID));
    assert!(replaced.result.contains(OTHER_IID), "{}", replaced.result);

    // Run 4: nothing left that can run: no write at all.
    w.sim.clear_requests();
    let r = w.apply(|o| o.select.allow_replace = true);
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(report_row(&r, "set@contoso.com").status, "Done");
    assert_eq!(r.writes_sent, 0);
}

#[test]
fn a_rerun_with_every_approved_row_done_needs_no_sign_in_and_exits_0() {
    let w = World::new(TenantState {
        users: vec![
            cloud_user(1, "a@contoso.com", None),
            cloud_user(2, "b@contoso.com", None),
        ],
        ..TenantState::default()
    });
    w.plan(
        &[ad_user(1, "a@contoso.com"), ad_user(2, "b@contoso.com")],
        |_| Approval::Yes,
    );
    let r = w.apply(|_| {});
    assert_eq!(r.exit_code(), 0, "{:#?}", r.rows);
    let mut o = w.options(hardmatch::apply::Command::Apply);
    o.verify = true;
    w.sim.clear_requests();
    let again = hardmatch::apply::run(&o, &w.key, None).expect("no Graph needed");
    assert_eq!(again.exit_code(), 0);
    assert!(w.sim.requests().is_empty(), "nothing was requested");
}

#[test]
fn verify_reads_the_written_users_back() {
    let w = World::new(TenantState {
        users: vec![cloud_user(1, "a@contoso.com", None)],
        ..TenantState::default()
    });
    w.plan(&[ad_user(1, "a@contoso.com")], |_| Approval::Yes);
    let r = w.apply(|o| o.verify = true);
    let row = report_row(&r, "a@contoso.com");
    assert_eq!(row.status, "Done");
    assert!(row.result.contains("verified"), "{}", row.result);
}

#[test]
fn without_the_purge_flag_a_conflict_deleted_row_is_skipped_and_the_holder_kept() {
    let w = planned_world();
    let r = w.apply(|_| {});
    let row = report_row(&r, "purge@contoso.com");
    assert_eq!(row.status, "Skipped");
    assert!(
        row.result.contains("--purge-deleted-conflicts"),
        "{}",
        row.result
    );
    assert_eq!(w.sim.state().deleted_users.len(), 2, "nothing purged");
}
