//! The mistakes a hurried admin makes with `plan`'s inputs get a message about the mistake, not
//! about a missing column: swapped files, one file given twice, `--format` that contradicts the
//! content, a workbook whose first sheet is not the users, the wrong tenant.

mod live_support;

use live_support::{hardmatch, samples, start, tenant, text};
use std::path::Path;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sample(name: &str) -> String {
    samples().join(name).display().to_string()
}

async fn plan_fails(list: &[&str], dir: &Path) -> String {
    let out = hardmatch(args(list), None, dir).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.join("plan.xlsx").exists());
    text(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_or_doubled_inputs_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (ad, cloud) = (sample("ad-users.csv"), sample("cloud-users.csv"));
    let swapped = plan_fails(&["plan", &cloud, "--cloud", &ad], dir.path()).await;
    assert!(
        swapped.contains("cloud-users.csv: this is a cloud-user export, and")
            && swapped.contains("did you swap them?")
            && swapped.contains("hardmatch plan AD_EXPORT --cloud CLOUD_EXPORT"),
        "{swapped}"
    );
    let cloud_as_ad = plan_fails(&["plan", &cloud, "--cloud", &cloud], dir.path()).await;
    assert!(
        cloud_as_ad.contains("the same file is given as the AD export and with --cloud"),
        "{cloud_as_ad}"
    );
    let ad_twice = plan_fails(
        &["plan", &ad, "--cloud", &sample("ad-users.ldf")],
        dir.path(),
    )
    .await;
    assert!(
        ad_twice
            .contains("ad-users.ldf: given with --cloud, but this looks like an AD export (LDIF")
            && ad_twice.contains("did you swap the two files?"),
        "{ad_twice}"
    );
    let ad_xlsx_as_cloud = plan_fails(
        &["plan", &ad, "--cloud", &sample("ad-users.xlsx")],
        dir.path(),
    )
    .await;
    assert!(
        ad_xlsx_as_cloud.contains("looks like an AD export"),
        "{ad_xlsx_as_cloud}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_that_contradicts_the_file_says_what_the_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = plan_fails(
        &[
            "plan",
            &sample("ad-users.ldf"),
            "--format",
            "csv",
            "--cloud",
            &sample("cloud-users.csv"),
        ],
        dir.path(),
    )
    .await;
    assert!(stderr.contains("the file looks like LDIF"), "{stderr}");
    assert!(
        stderr.contains("leave out --format") && stderr.contains("--format ldif"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_whose_first_sheet_is_not_the_users_lists_its_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ad.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let notes = wb.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes
        .write_string(0, 0, "Exported by the AD team, March")
        .unwrap();
    let users = wb.add_worksheet();
    users.set_name("AD users").unwrap();
    users.write_string(0, 0, "UserPrincipalName").unwrap();
    users.write_string(0, 1, "ObjectGUID").unwrap();
    users.write_string(0, 2, "mS-DS-ConsistencyGuid").unwrap();
    users
        .write_string(1, 0, "alex.wilber@fabrikam.com")
        .unwrap();
    users
        .write_string(1, 1, "3ab39606-c642-489b-84b6-58c038d3ef39")
        .unwrap();
    wb.save(&path).unwrap();
    let cloud = sample("cloud-users.csv");
    let stderr = plan_fails(&["plan", "ad.xlsx", "--cloud", &cloud], dir.path()).await;
    assert!(
        stderr.contains("the workbook's sheets are \"Notes\", \"AD users\": name the one with the users with --sheet NAME"),
        "{stderr}"
    );
    let out = hardmatch(
        args(&["plan", "ad.xlsx", "--sheet", "AD users", "--cloud", &cloud]),
        None,
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tenant_in_plan_points_at_the_national_cloud_flag_plan_has() {
    let sim = start(tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = args(&["plan", &sample("ad-users.csv"), "--cloud", "graph"]);
    a.extend([
        "--graph-url".into(),
        sim.base_url(),
        "--login-url".into(),
        sim.base_url(),
        "--tenant".into(),
        "contoso-typo.onmicrosoft.com".into(),
        "--client-id".into(),
        sim.client_id().into(),
    ]);
    let out = hardmatch(a, Some(hardmatch::sim::DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("AADSTS90002"), "{stderr}");
    assert!(stderr.contains("--national-cloud in plan"), "{stderr}");
    assert!(!stderr.contains("check --tenant and --cloud"), "{stderr}");
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_graph_url_says_it_is_still_trying_before_it_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1. Simulated time runs 50 times faster (the hidden rehearsal
    // flag), so the six attempts' backoff takes well under a second.
    let out = hardmatch(
        args(&[
            "plan",
            &sample("ad-users.csv"),
            "--cloud",
            "graph",
            "--graph-url",
            "http://127.0.0.1:1",
            "--login-url",
            "http://127.0.0.1:1",
            "--tenant",
            "contoso.onmicrosoft.com",
            "--client-id",
            "app",
            "--time-scale",
            "50",
        ]),
        Some("s3cret"),
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let note = stderr
        .find("note: nothing read from the tenant")
        .expect(&stderr);
    let error = stderr.find("error: ").expect(&stderr);
    assert!(
        note < error,
        "said while retrying, before the error: {stderr}"
    );
    assert!(stderr.contains("up to 6 attempts per request"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_flags_given_with_export_files_are_named_as_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let out = hardmatch(
        args(&[
            "plan",
            &sample("ad-users.csv"),
            "--cloud",
            &sample("cloud-users.csv"),
            "--tenant",
            "contoso.onmicrosoft.com",
            "--read-quota",
            "8000",
            "--sequential",
        ]),
        None,
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("warning: --tenant, --read-quota, --sequential only apply to --cloud graph"),
        "{}",
        text(&out.stderr)
    );
    let quiet = hardmatch(
        args(&[
            "plan",
            &sample("ad-users.csv"),
            "--cloud",
            &sample("cloud-users.csv"),
            "-o",
            "q.xlsx",
        ]),
        None,
        dir.path(),
    )
    .await;
    assert!(!text(&quiet.stderr).contains("only apply to --cloud graph"));
}
