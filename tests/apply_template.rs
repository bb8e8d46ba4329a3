//! `hardmatch apply input.xlsx` with a hand-filled template: its users are planned against the
//! live tenant into `input.plan.xlsx`, only approvals that match the plan are carried, that plan
//! is applied, and the template itself is left alone.

mod apply_support;

use apply_support::*;
use hardmatch::review::{Approval, Status};
use hardmatch::sim::TenantState;

fn write_template(path: &std::path::Path, rows: &[(&str, String, &str)]) {
    hardmatch::workbook::write_template(path).unwrap();
    // Fill it in as an admin would (same sheet and headers; calamine reads any writer's file).
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Users").unwrap();
    for (c, h) in ["UserPrincipalName", "objectGUID", "Approve", "Comment"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (upn, guid, approve)) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        ws.write_string(r, 0, *upn).unwrap();
        ws.write_string(r, 1, guid).unwrap();
        ws.write_string(r, 2, *approve).unwrap();
        ws.write_string(r, 3, format!("ticket {r}")).unwrap();
    }
    wb.save(path).unwrap();
}

#[test]
fn a_filled_template_is_planned_live_then_its_approved_set_rows_applied() {
    let mut synced = cloud_user(3, "synced@contoso.com", None);
    synced.on_premises_sync_enabled = Some(true);
    let w = World::new(TenantState {
        users: vec![
            cloud_user(1, "a@contoso.com", None),
            cloud_user(2, "b@contoso.com", None),
            synced,
        ],
        ..TenantState::default()
    });
    let template = w.dir.path().join("input.xlsx");
    write_template(
        &template,
        &[
            ("a@contoso.com", guid(1).to_string(), "Yes"),
            ("b@contoso.com", guid(2).braced().to_string(), ""),
            ("synced@contoso.com", guid(3).to_string(), "Yes"),
        ],
    );
    let before = sha256(&template);
    let out = w
        .cli("apply", &template)
        .args(["--quiet", "--no-pacing"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(sha256(&template), before, "the template is not changed");
    assert!(stderr.contains("input.plan.xlsx"), "{stderr}");
    assert!(
        stderr.contains("approval not carried") && stderr.contains("BlockedSynced"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(w.immutable_id_of(1), Some(iid(1)));
    assert_eq!(w.immutable_id_of(2), None, "not approved in the template");
    assert_eq!(w.immutable_id_of(3), None);

    let plan = hardmatch::workbook::read_review(&w.dir.path().join("input.plan.xlsx")).unwrap();
    let a = row_by_upn(&plan.rows, "a@contoso.com");
    assert_eq!(a.status, Status::Done);
    assert_eq!(a.comment, "ticket 1");
    let b = row_by_upn(&plan.rows, "b@contoso.com");
    assert_eq!(b.approve, Approval::Empty);
    assert_eq!(
        row_by_upn(&plan.rows, "synced@contoso.com").approve,
        Approval::Empty
    );

    // Run again: the plan holds results, so planning the template over it is refused.
    let again = w.cli("apply", &template).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--force") && stderr.contains("input.plan.xlsx"),
        "{stderr}"
    );
}
