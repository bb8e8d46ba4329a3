//! Every command that writes a file checks the path before it reads anything or calls Graph:
//! never one of its inputs, never an existing file without `--force` (and then the old one is
//! kept as a backup), only the file type it writes, only into an existing folder.

mod live_support;

use hardmatch::review::Approval;
use hardmatch::workbook;
use live_support::{graph_flags, hardmatch, samples, start, tenant, text};
use std::path::Path;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sample(name: &str) -> String {
    samples().join(name).display().to_string()
}

fn copy_samples(dir: &Path) {
    for name in ["ad-users.csv", "ad-users.xlsx", "cloud-users.csv"] {
        std::fs::copy(samples().join(name), dir.join(name)).unwrap();
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_never_writes_over_one_of_its_inputs_however_it_is_spelled() {
    let dir = tempfile::tempdir().unwrap();
    copy_samples(dir.path());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let before = std::fs::read(dir.path().join("ad-users.xlsx")).unwrap();
    for (ad, output) in [
        ("ad-users.xlsx", "ad-users.xlsx"),
        ("ad-users.xlsx", "./sub/../ad-users.xlsx"),
        ("./ad-users.xlsx", "ad-users.xlsx"),
    ] {
        let out = hardmatch(
            args(&[
                "plan",
                ad,
                "--cloud",
                "cloud-users.csv",
                "-o",
                output,
                "--force",
            ]),
            None,
            dir.path(),
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{ad} -o {output}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("writing it would destroy the input"),
            "{}",
            text(&out.stderr)
        );
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            dir.path().join("ad-users.xlsx"),
            dir.path().join("link.xlsx"),
        )
        .unwrap();
        let out = hardmatch(
            args(&[
                "plan",
                "ad-users.xlsx",
                "--cloud",
                "cloud-users.csv",
                "-o",
                "link.xlsx",
                "--force",
            ]),
            None,
            dir.path(),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        std::fs::remove_file(dir.path().join("link.xlsx")).unwrap();
    }
    // The CSV inputs are refused too, first as not .xlsx, and a cloud .xlsx as an input.
    for output in ["ad-users.csv", "cloud-users.csv"] {
        let out = hardmatch(
            args(&[
                "plan",
                "ad-users.csv",
                "--cloud",
                "cloud-users.csv",
                "-o",
                output,
            ]),
            None,
            dir.path(),
        )
        .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
    let out = hardmatch(
        args(&[
            "plan",
            "ad-users.csv",
            "--cloud",
            "ad-users.xlsx",
            "-o",
            "ad-users.xlsx",
            "--force",
        ]),
        None,
        dir.path(),
    )
    .await;
    assert!(
        text(&out.stderr).contains("destroy the input"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path().join("ad-users.xlsx")).unwrap(),
        before
    );
    assert_eq!(
        names(dir.path()),
        ["ad-users.csv", "ad-users.xlsx", "cloud-users.csv", "sub"],
        "nothing written, nothing backed up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_refuses_a_wrong_output_name_before_reading_or_signing_in() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("samples")).unwrap();
    let ad = sample("ad-users.csv");
    for (output, says) in [
        ("plan.csv", "must name a .xlsx file"),
        ("plan", "must name a .xlsx file"),
        ("samples", "names a folder"),
        (
            "/nonexistent/x.xlsx",
            "the folder /nonexistent does not exist",
        ),
    ] {
        let mut a = args(&["plan", &ad, "--cloud", "graph", "-o", output]);
        a.extend(graph_flags(&sim));
        let out = hardmatch(a, Some(hardmatch::sim::DEFAULT_CLIENT_SECRET), dir.path()).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{output}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{output}: {}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stderr).contains("Excel"),
            "not about a file open in Excel: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        sim.stats().requests + sim.stats().token_requests,
        0,
        "nothing requested from the tenant"
    );
    // With a file input the AD export is not even read: a missing one is not what is reported.
    let out = hardmatch(
        args(&[
            "plan",
            "no-such.csv",
            "--cloud",
            "no-such-cloud.csv",
            "-o",
            "plan.csv",
        ]),
        None,
        dir.path(),
    )
    .await;
    assert!(
        text(&out.stderr).contains("plan.csv"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("no-such"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(names(dir.path()), ["samples"]);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewed_workbook_is_named_in_the_refusal_and_kept_as_a_backup_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let plan = args(&[
        "plan",
        &sample("ad-users.csv"),
        "--cloud",
        &sample("cloud-users.csv"),
    ]);
    let first = hardmatch(plan.clone(), None, dir.path()).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    // The change board approves four rows and comments on one.
    let path = dir.path().join("plan.xlsx");
    let mut review = workbook::read_review(&path).unwrap();
    for row in review.rows.iter_mut().take(4) {
        row.approve = Approval::Yes;
    }
    review.rows[0].comment = "CAB-1234".into();
    let unmatched: Vec<_> = review.unmatched.iter().collect();
    workbook::write_review(
        &path,
        &review.rows,
        &unmatched,
        &review.meta,
        &Default::default(),
    )
    .unwrap();
    let reviewed = std::fs::read(&path).unwrap();

    let again = hardmatch(plan.clone(), None, dir.path()).await;
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains(
            "plan.xlsx: the file already exists and holds 4 approvals, 1 comment and 0 results"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("--force") && stderr.contains("plan.bak.xlsx"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), reviewed, "untouched");

    let mut forced = plan.clone();
    forced.push("--force".into());
    let out = hardmatch(forced, None, dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("The previous plan.xlsx is kept as plan.bak.xlsx."),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read(dir.path().join("plan.bak.xlsx")).unwrap(),
        reviewed
    );
    let fresh = workbook::read_review(&path).unwrap();
    assert!(fresh.rows.iter().all(|r| r.approve == Approval::Empty));
    assert_eq!(names(dir.path()), ["plan.bak.xlsx", "plan.xlsx"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_existing_file_is_refused_too_and_the_template_keeps_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.xlsx"), "not a workbook").unwrap();
    let out = hardmatch(
        args(&[
            "plan",
            &sample("ad-users.csv"),
            "--cloud",
            &sample("cloud-users.csv"),
            "-o",
            "notes.xlsx",
        ]),
        None,
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("notes.xlsx: the file already exists\n"),
        "{}",
        text(&out.stderr)
    );
    let out = hardmatch(args(&["template", "-o", "input.csv"]), None, dir.path()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(".xlsx"), "{}", text(&out.stderr));
}

#[test]
fn a_sim_state_file_in_a_missing_folder_is_refused_before_the_tenant_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(["sim", "serve", "--state", "no-such-folder/tenant.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the folder no-such-folder does not exist") && stderr.contains("--state"),
        "{stderr}"
    );
    assert!(!stderr.contains(".tmp"), "no temp path: {stderr}");
    assert!(out.stdout.is_empty(), "no URL: the tenant never started");
}
