//! `hardmatch cloud export` as admins run it: the binary against a simulated tenant on a random
//! port, signing in with a client secret from AZURE_CLIENT_SECRET.

mod live_support;

use hardmatch::cloud::read_cloud_export;
use hardmatch::sim::DEFAULT_CLIENT_SECRET;
use live_support::*;

fn args(base: &[&str], sim: &hardmatch::sim::SimHandle) -> Vec<String> {
    let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    v.extend(graph_flags(sim));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_xlsx_prints_only_the_summary_on_stdout() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(&["cloud", "export", "-o", "cloud.xlsx"], &sim),
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The progress bar is on stderr and hidden when it is not a terminal: stdout stays clean
    // for scripts.
    assert_eq!(
        text(&out.stdout),
        "Exported 4 active and 1 soft-deleted users:\n  cloud.xlsx\n"
    );
    assert!(
        !text(&out.stderr).contains('\r') && !text(&out.stderr).contains('\u{1b}'),
        "no progress drawing when stderr is not a terminal: {:?}",
        text(&out.stderr)
    );
    let back = read_cloud_export(&dir.path().join("cloud.xlsx")).unwrap();
    assert_eq!(back.users.len(), 4);
    assert_eq!(back.deleted.len(), 1);
    assert_eq!(
        by_id(&back.users, ADELE).privileged_roles,
        Some(vec!["Global Administrator".to_string()])
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["cloud.xlsx"], "no temporary file left behind");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_blocks_hard_match_takeover_gets_a_warning() {
    let mut t = tenant();
    t.on_premises_synchronization
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let sim = start(t).await;
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(&["cloud", "export", "-o", "cloud.xlsx"], &sim),
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("BlockCloudObjectTakeoverThroughHardMatchEnabled"),
        "{stderr}"
    );
    assert!(
        !text(&out.stdout).contains("warning"),
        "warnings stay off stdout"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_csv_writes_and_prints_both_files() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(
            &[
                "cloud",
                "export",
                "-o",
                "snap.csv",
                "--sequential",
                "--no-roles",
            ],
            &sim,
        ),
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Exported 4 active and 1 soft-deleted users:\n  snap.csv\n  snap-deleted.csv\n  snap-tenant.csv\n\
         Plan with: hardmatch plan AD_EXPORT --cloud snap.csv --cloud snap-deleted.csv\n"
    );
    let deleted = read_cloud_export(&dir.path().join("snap-deleted.csv")).unwrap();
    assert_eq!(deleted.deleted.len(), 1);
    assert!(
        !std::fs::read_to_string(dir.path().join("snap.csv"))
            .unwrap()
            .contains("PrivilegedRoles"),
        "--no-roles"
    );
    assert!(
        !sim.requests().iter().any(|r| r.path.contains("startsWith")),
        "--sequential lists without partitions"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_exits_3_with_the_aadsts_error_and_never_the_secret() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = "Wr0ng-S3cret~value";
    let out = hardmatch(
        args(&["cloud", "export", "-o", "cloud.xlsx", "-vv"], &sim),
        Some(secret),
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("AADSTS"), "{stderr}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(!stderr.contains(secret) && !text(&out.stdout).contains(secret));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no output on failure"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_error_exits_3_with_code_message_and_request_id() {
    let sim = start(tenant()).await;
    sim.set_faults(hardmatch::sim::Faults {
        p503: 1.0,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(
            &["cloud", "export", "-o", "cloud.xlsx", "--max-attempts", "1"],
            &sim,
        ),
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("serviceNotAvailable"), "{stderr}");
    assert!(
        stderr.contains("The service is temporarily unavailable"),
        "{stderr}"
    );
    assert!(stderr.contains("request-id "), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no output on failure"
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_2_before_any_request() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(&["cloud", "export", "-o", "cloud.json"], &sim),
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(".xlsx or .csv"),
        "{}",
        text(&out.stderr)
    );

    let out = hardmatch(
        vec![
            "cloud".into(),
            "export".into(),
            "-o".into(),
            "cloud.xlsx".into(),
            "--client-id".into(),
            "app".into(),
        ],
        Some(DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--tenant"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sim.stats().requests + sim.stats().token_requests, 0);
    sim.shutdown().await.unwrap();
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args([
            "cloud",
            "export",
            "-o",
            "cloud.xlsx",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "app",
            "--graph-url",
            "http://graph.example.org",
        ])
        .env("AZURE_CLIENT_SECRET", "s3cret-for-http-test")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
    assert!(!stderr.contains("s3cret-for-http-test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_from_either_snapshot_warns_of_the_takeover_block_as_the_live_read_does() {
    let mut t = tenant();
    t.on_premises_synchronization
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let sim = start(t).await;
    let dir = tempfile::tempdir().unwrap();
    let ad = samples().join("ad-users.csv").display().to_string();
    for (snapshot, cloud) in [
        ("cloud.xlsx", vec!["cloud.xlsx"]),
        ("snap.csv", vec!["snap.csv", "snap-deleted.csv"]),
    ] {
        let out = hardmatch(
            args(&["cloud", "export", "-o", snapshot], &sim),
            Some(DEFAULT_CLIENT_SECRET),
            dir.path(),
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut plan: Vec<String> = vec!["plan".into(), ad.clone(), "-o".into()];
        let workbook = format!("plan-{snapshot}.xlsx");
        plan.push(workbook.clone());
        for c in cloud {
            plan.extend(["--cloud".to_string(), c.to_string()]);
        }
        let out = hardmatch(plan, None, dir.path()).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                "warning: The tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled"
            ),
            "{snapshot}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("tenant {}", sim.tenant_id()))
                && (stderr.contains("minutes ago") || stderr.contains("less than a minute ago")),
            "{snapshot}: the read's tenant and age: {stderr}"
        );
        let review = hardmatch::workbook::read_review(&dir.path().join(&workbook)).unwrap();
        assert!(
            review
                .meta
                .warnings
                .iter()
                .any(|w| w.contains("BlockCloudObjectTakeoverThroughHardMatchEnabled turned on")),
            "{snapshot}: on the Summary sheet: {:?}",
            review.meta.warnings
        );
        assert!(
            review
                .meta
                .inputs
                .iter()
                .any(|i| i.role == "Tenant read" && i.path.contains(sim.tenant_id())),
            "{:?}",
            review.meta.inputs
        );
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_snapshot_is_replaced_only_with_force_and_kept_as_a_backup() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["cloud.xlsx", "snap.csv"] {
        let first = hardmatch(
            args(&["cloud", "export", "-o", name], &sim),
            Some(DEFAULT_CLIENT_SECRET),
            dir.path(),
        )
        .await;
        assert!(first.status.success(), "{}", text(&first.stderr));
        let before = std::fs::read(dir.path().join(name)).unwrap();
        let requests = sim.stats().requests + sim.stats().token_requests;
        let again = hardmatch(
            args(&["cloud", "export", "-o", name], &sim),
            Some(DEFAULT_CLIENT_SECRET),
            dir.path(),
        )
        .await;
        assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
        assert!(
            text(&again.stderr).contains(&format!(
                "already exists and holds a snapshot of tenant {} read at",
                sim.tenant_id()
            )) && text(&again.stderr).contains("--force"),
            "{}",
            text(&again.stderr)
        );
        assert_eq!(
            sim.stats().requests + sim.stats().token_requests,
            requests,
            "refused before signing in"
        );
        let forced = hardmatch(
            args(&["cloud", "export", "-o", name, "--force"], &sim),
            Some(DEFAULT_CLIENT_SECRET),
            dir.path(),
        )
        .await;
        assert!(forced.status.success(), "{}", text(&forced.stderr));
        let backup = dir
            .path()
            .join(hardmatch::fsutil::backup_path(std::path::Path::new(name)));
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            before,
            "{name}: the previous snapshot"
        );
        assert!(
            text(&forced.stdout).contains("kept as"),
            "{}",
            text(&forced.stdout)
        );
    }
    // The CSV's three files were each kept.
    for kept in [
        "snap.bak.csv",
        "snap-deleted.bak.csv",
        "snap-tenant.bak.csv",
    ] {
        assert!(dir.path().join(kept).is_file(), "{kept}");
    }
    sim.shutdown().await.unwrap();
}
