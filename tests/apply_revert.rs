//! revert against the simulated tenant: marked rows or `--all`, JSON null where the user had no
//! ImmutableId, a Previous ImmutableId typed into the sheet refused, drift skipped, and apply
//! leaving reverted rows alone.

mod apply_support;

use apply_support::*;
use hardmatch::review::{Approval, Status};
use hardmatch::sim::TenantState;

const OLD: &str = "qUbmzjxXZ0eJjWwFmXzz3Q==";

/// Three rows applied: 1 and 3 had no ImmutableId, 2 had OLD (a Replace).
fn applied_world() -> World {
    let w = World::new(TenantState {
        users: vec![
            cloud_user(1, "a@contoso.com", None),
            cloud_user(2, "b@contoso.com", Some(OLD)),
            cloud_user(3, "c@contoso.com", None),
        ],
        ..TenantState::default()
    });
    w.plan(
        &[
            ad_user(1, "a@contoso.com"),
            ad_user(2, "b@contoso.com"),
            ad_user(3, "c@contoso.com"),
        ],
        |_| Approval::Yes,
    );
    let r = w.apply(|o| o.select.allow_replace = true);
    assert_eq!(r.exit_code(), 0, "{:#?}", r.rows);
    w
}

fn mark(w: &World, upns: &[&str]) {
    w.edit(|rows| {
        for r in rows.iter_mut() {
            if upns.contains(&r.plan.upn.as_str()) {
                r.revert = Approval::Yes;
            }
        }
    });
}

#[test]
fn marked_rows_go_back_to_their_previous_value_and_none_is_cleared_with_null() {
    let w = applied_world();
    mark(&w, &["a@contoso.com", "b@contoso.com"]);
    w.sim.clear_requests();
    let r = w.revert(false, |_| {});
    assert_eq!(r.exit_code(), 0, "{:#?}", r.rows);
    assert_eq!(r.rows.len(), 2, "only the marked rows");
    // The tenant refuses "" (see the sim): a cleared value proves JSON null was sent.
    assert_eq!(w.immutable_id_of(1), None);
    assert_eq!(w.immutable_id_of(2).as_deref(), Some(OLD));
    assert_eq!(w.immutable_id_of(3), Some(iid(3)), "not marked");
    // The Result says what was done; the Status column already says "Reverted".
    assert!(report_row(&r, "a@contoso.com")
        .result
        .starts_with("ImmutableId cleared (JSON null"));
    assert!(report_row(&r, "b@contoso.com")
        .result
        .starts_with(&format!("ImmutableId set back to {OLD}")));
    assert_eq!(w.writes().len(), 2, "{:?}", w.writes());
    let rows = w.read();
    assert_eq!(row_by_upn(&rows, "a@contoso.com").status, Status::Reverted);
    assert_eq!(row_by_upn(&rows, "b@contoso.com").status, Status::Reverted);
    assert_eq!(row_by_upn(&rows, "c@contoso.com").status, Status::Done);
    let review = hardmatch::workbook::read_review(&w.workbook).unwrap();
    assert_eq!(review.meta.runs.len(), 2);
    assert_eq!(review.meta.runs[1].command, "revert");
    assert_eq!(review.meta.runs[1].counts[5], 2, "Reverted count");

    // apply does not undo a revert.
    w.sim.clear_requests();
    let again = w.apply(|o| o.select.allow_replace = true);
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(again.exit_code(), 0);
    assert_eq!(report_row(&again, "a@contoso.com").status, "Reverted");

    // --all takes the remaining Done row.
    let all = w.revert(true, |_| {});
    assert_eq!(all.rows.len(), 1);
    assert_eq!(w.immutable_id_of(3), None);
}

#[test]
fn a_previous_value_typed_into_the_sheet_is_never_written() {
    let w = applied_world();
    w.edit(|rows| {
        for r in rows.iter_mut() {
            if r.plan.upn == "a@contoso.com" {
                // Someone unprotects the sheet and types the anchor of an account they control.
                r.previous_immutable_id = Some(iid(77));
            }
        }
    });
    w.sim.clear_requests();
    let r = w.revert(true, |_| {});
    let a = report_row(&r, "a@contoso.com");
    assert_eq!(a.status, "Refused", "{a:?}");
    assert!(a.result.contains("Result fingerprint"), "{}", a.result);
    assert_eq!(w.immutable_id_of(1), Some(iid(1)), "untouched");
    assert_eq!(r.exit_code(), 1);
    let rows = w.read();
    let a = row_by_upn(&rows, "a@contoso.com");
    assert_eq!(a.status, Status::Done, "apply's change still stands");
    assert_eq!(
        a.previous_immutable_id, None,
        "the typed value is dropped, not re-signed"
    );
    // The other rows were reverted.
    assert_eq!(w.immutable_id_of(2).as_deref(), Some(OLD));
}

#[test]
fn a_user_changed_since_apply_is_not_reverted() {
    let w = applied_world();
    w.sim.update_state(|s| {
        for u in &mut s.users {
            if u.user_principal_name.as_deref() == Some("a@contoso.com") {
                u.on_premises_immutable_id = Some(iid(55));
            }
        }
    });
    let r = w.revert(true, |_| {});
    let a = report_row(&r, "a@contoso.com");
    assert_eq!(a.status, "Skipped");
    assert!(
        a.result.contains("not") && a.result.contains(&iid(55)),
        "{}",
        a.result
    );
    assert_eq!(w.immutable_id_of(1), Some(iid(55)));
}

#[test]
fn revert_what_if_sends_nothing() {
    let w = applied_world();
    w.sim.clear_requests();
    let r = w.revert(true, |o| o.what_if = true);
    assert!(w.writes().is_empty());
    assert_eq!(r.rows.len(), 3);
    assert!(
        r.rows
            .iter()
            .all(|x| x.status == hardmatch::apply::WOULD_RUN),
        "{:#?}",
        r.rows
    );
    assert!(report_row(&r, "a@contoso.com").result.contains("JSON null"));
}
