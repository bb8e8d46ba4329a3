//! The README's first command (`hardmatch demo`) and the documented rehearsal path: `cloud export`
//! the tenant, `sim serve --seed` that snapshot, apply a copy of the workbook against the twin and
//! read the outcomes, conflicts included, while the real tenant receives no write.
#![cfg(unix)]

mod apply_support;

use apply_support::*;
use hardmatch::review::{Approval, Status};
use hardmatch::sim::TenantState;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn hardmatch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hardmatch"));
    c.env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("HARDMATCH_TEST_CRASH_AT");
    c
}

#[test]
fn the_demo_shows_every_outcome_and_a_second_apply_that_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch()
        .args(["demo", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for words in [
        "Done",
        "Permanently deleted soft-deleted holder johannal4821",
        "BlockedSynced has nothing apply can execute",
        "it is now ConflictActive",
        "Injected fault: the tenant answered 503",
        "got 200",
        "by the second",
    ] {
        assert!(stdout.contains(words), "{words:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains(", 0 by the second"), "{stdout}");
    let review = hardmatch::workbook::read_review(&dir.path().join("plan.xlsx")).unwrap();
    assert_eq!(review.meta.runs.len(), 2);
    let johanna = row_by_upn(&review.rows, "johanna.lorenz@fabrikam.com");
    assert_eq!(johanna.status, Status::Done);
}

/// Starts `hardmatch sim serve` as a child process and returns it with its URL.
fn serve(args: &[&std::ffi::OsStr]) -> (std::process::Child, String) {
    let mut child = hardmatch()
        .args(["sim", "serve"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

#[test]
fn rehearse_against_a_twin_seeded_from_a_cloud_export_before_touching_production() {
    // "Production": a tenant with a clean user, a recycle-bin conflict and an active conflict.
    let prod = World::new(TenantState {
        users: vec![
            cloud_user(1, "a@contoso.com", None),
            cloud_user(2, "b@contoso.com", None),
            cloud_user(3, "c@contoso.com", None),
            cloud_user(4, "holder@contoso.com", None),
        ],
        deleted_users: vec![deleted_user(9, "old.b@contoso.com", &iid(2))],
        ..TenantState::default()
    });
    prod.plan(
        &[
            ad_user(1, "a@contoso.com"),
            ad_user(2, "b@contoso.com"),
            ad_user(3, "c@contoso.com"),
        ],
        |_| Approval::Yes,
    );
    // Between planning and the rehearsal, someone takes c's anchor.
    prod.sim.update_state(|s| {
        for u in &mut s.users {
            if u.user_principal_name.as_deref() == Some("holder@contoso.com") {
                u.on_premises_immutable_id = Some(iid(3));
            }
        }
    });
    let url = prod.sim.base_url();
    let graph = |c: &mut Command, url: &str| {
        c.args(["--graph-url", url, "--login-url", url])
            .args([
                "--tenant",
                prod.sim.tenant_id(),
                "--client-id",
                prod.sim.client_id(),
            ])
            .env("AZURE_CLIENT_SECRET", hardmatch::sim::DEFAULT_CLIENT_SECRET);
    };

    // 1. cloud export the real tenant.
    let snapshot = prod.dir.path().join("snapshot.xlsx");
    let mut c = hardmatch();
    c.args(["cloud", "export", "-o"]).arg(&snapshot);
    graph(&mut c, &url);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 2. sim serve --seed that snapshot.
    let state = prod.dir.path().join("twin.json");
    let (mut twin, twin_url) = serve(&[
        "--seed".as_ref(),
        snapshot.as_os_str(),
        "--state".as_ref(),
        state.as_os_str(),
    ]);

    // 3. apply a copy of the workbook against the twin.
    let rehearsal = prod.dir.path().join("rehearsal.xlsx");
    std::fs::copy(&prod.workbook, &rehearsal).unwrap();
    prod.sim.clear_requests();
    let mut c = hardmatch();
    c.arg("apply")
        .arg(&rehearsal)
        .args(["--purge-deleted-conflicts", "--json", "--quiet"])
        .arg("--key-file")
        .arg(&prod.key_file);
    graph(&mut c, &twin_url);
    let out = c.output().unwrap();
    let _ = twin.kill();
    let _ = twin.wait();

    // 4. read the outcomes, conflicts included.
    assert_eq!(out.status.code(), Some(1), "c is not Done");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |upn: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["upn"] == upn)
            .map(|r| {
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["result"].as_str().unwrap().to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(status("a@contoso.com").0, "Done");
    let (b, b_result) = status("b@contoso.com");
    assert_eq!(b, "Done");
    assert!(b_result.contains("Permanently deleted"), "{b_result}");
    let (c_status, c_result) = status("c@contoso.com");
    assert_eq!(c_status, "Skipped");
    assert!(c_result.contains("holder@contoso.com"), "{c_result}");
    assert_eq!(report["counts"]["Done"], 2);

    // Production saw no write, and its workbook is untouched.
    assert!(prod.writes().is_empty(), "{:?}", prod.writes());
    assert_eq!(prod.immutable_id_of(1), None);
    assert!(prod.read().iter().all(|r| r.status == Status::Empty));
    assert_eq!(prod.sim.state().deleted_users.len(), 1);
}
