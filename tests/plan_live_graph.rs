//! `plan --cloud graph`: the tenant read live gives the same decisions as its exported snapshot,
//! and the bundled samples, loaded into a simulated tenant, still produce every Action.

mod live_support;

use hardmatch::cloud::export::write_export;
use hardmatch::cloud::live::LiveOptions;
use hardmatch::cloud::{read_cloud_export, CloudState};
use hardmatch::plan::{build, Action, MatchKeys, PlanOptions};
use hardmatch::sim::{self, DEFAULT_CLIENT_SECRET};
use hardmatch::sources::{read_ad_export, AdUser, ReadOptions};
use live_support::*;

fn ad_users() -> Vec<AdUser> {
    read_ad_export(&samples().join("ad-users.csv"), &ReadOptions::default())
        .unwrap()
        .users
}

fn sample_tenant() -> sim::TenantState {
    sim::from_cloud_state(read_cloud_export(&samples().join("cloud-users.csv")).unwrap())
}

/// Row id, action, reason, checks and the matched cloud user's id.
type Decision = (u64, Option<Action>, String, Vec<String>, String);

/// What a decision is made of, with cloud users named by id (indices differ between sources).
fn decisions(ad: &[AdUser], cloud: &CloudState) -> Vec<Decision> {
    let plan = build(
        ad,
        cloud,
        &PlanOptions {
            match_keys: MatchKeys::Upn,
        },
    );
    plan.rows
        .into_iter()
        .map(|r| (r.row_id, r.action, r.reason, r.checks, r.cloud_object_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_read_live_still_produce_every_action() {
    let sim = start(sample_tenant()).await;
    let cloud = read(&sim, LiveOptions::default()).await;
    let ad = ad_users();
    let plan = build(
        &ad,
        &cloud,
        &PlanOptions {
            match_keys: MatchKeys::Upn,
        },
    );
    // ConflictActive only comes from apply's re-check: plan matches an active anchor holder.
    for a in Action::ALL
        .into_iter()
        .filter(|&a| a != Action::ConflictActive)
    {
        assert!(plan.count(a) > 0, "{a:?} is missing from the live plan");
    }
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_snapshot_plans_exactly_like_the_live_read() {
    let mut tenant = sample_tenant();
    // A privileged role on a matched user, so roles take part in the decisions.
    let adele = tenant
        .users
        .iter()
        .find(|u| u.user_principal_name.as_deref() == Some("adele.vance@fabrikam.com"))
        .and_then(|u| u.id.clone())
        .unwrap();
    tenant
        .role_eligibility_schedules
        .push(hardmatch::wire::RoleAssignment {
            id: "e1".into(),
            principal_id: adele,
            role_definition_id: sim::GLOBAL_ADMINISTRATOR.into(),
            directory_scope_id: Some("/".into()),
        });
    let sim = start(tenant).await;
    let live = read(&sim, LiveOptions::default()).await;
    let ad = ad_users();
    let dir = tempfile::tempdir().unwrap();
    for name in ["cloud.xlsx", "cloud.csv"] {
        let path = dir.path().join(name);
        let files = write_export(&path, &live, &Default::default()).unwrap();
        let mut snapshot = read_cloud_export(&files[0]).unwrap();
        for more in files[1..]
            .iter()
            .filter(|f| !f.ends_with("cloud-tenant.csv"))
        {
            snapshot
                .deleted
                .extend(read_cloud_export(more).unwrap().deleted);
        }
        assert_eq!(
            decisions(&ad, &snapshot),
            decisions(&ad, &live),
            "{name} plans like the live read"
        );
    }
    let checks: Vec<String> = decisions(&ad, &live)
        .into_iter()
        .flat_map(|d| d.3)
        .collect();
    assert!(
        checks.iter().any(|c| c.contains("Global Administrator")),
        "the eligible role shows up in the plan: {checks:?}"
    );
    sim.shutdown().await.unwrap();
}

/// The summary `plan` prints, without the workbook's path.
fn summary(out: &std::process::Output) -> String {
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("Review workbook"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_cloud_graph_from_the_command_line_matches_plan_on_the_export() {
    let sim = start(sample_tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let ad = samples().join("ad-users.csv").display().to_string();

    let mut live_args: Vec<String> = ["plan", &ad, "--cloud", "graph", "-o", "live.xlsx"]
        .map(String::from)
        .to_vec();
    live_args.extend(graph_flags(&sim));
    let live = hardmatch(live_args, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert!(live.status.success(), "{}", text(&live.stderr));
    assert!(dir.path().join("live.xlsx").is_file());
    for a in Action::ALL
        .into_iter()
        .filter(|&a| a != Action::ConflictActive)
    {
        assert!(
            summary(&live).contains(a.as_str()),
            "{a:?} in {}",
            summary(&live)
        );
    }

    let mut export_args: Vec<String> = ["cloud", "export", "-o", "snap.csv"]
        .map(String::from)
        .to_vec();
    export_args.extend(graph_flags(&sim));
    let export = hardmatch(export_args, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert!(export.status.success(), "{}", text(&export.stderr));

    let from_files = hardmatch(
        [
            "plan",
            &ad,
            "--cloud",
            "snap.csv",
            "--cloud",
            "snap-deleted.csv",
            "-o",
            "files.xlsx",
        ]
        .map(String::from)
        .to_vec(),
        None,
        dir.path(),
    )
    .await;
    assert!(from_files.status.success(), "{}", text(&from_files.stderr));
    assert_eq!(summary(&from_files), summary(&live));

    let forgot = hardmatch(
        ["plan", &ad, "--cloud", "snap.csv", "-o", "forgot.xlsx"]
            .map(String::from)
            .to_vec(),
        None,
        dir.path(),
    )
    .await;
    assert!(forgot.status.success(), "{}", text(&forgot.stderr));
    assert!(
        text(&forgot.stderr).contains("add --cloud snap-deleted.csv"),
        "{}",
        text(&forgot.stderr)
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_flags_are_needed_only_with_cloud_graph() {
    let dir = tempfile::tempdir().unwrap();
    let ad = samples().join("ad-users.csv").display().to_string();
    let cloud = samples().join("cloud-users.csv").display().to_string();
    let file = hardmatch(
        ["plan", &ad, "--cloud", &cloud, "-o", "p.xlsx"]
            .map(String::from)
            .to_vec(),
        None,
        dir.path(),
    )
    .await;
    assert!(file.status.success(), "{}", text(&file.stderr));

    let graph = hardmatch(
        ["plan", &ad, "--cloud", "graph", "-o", "g.xlsx"]
            .map(String::from)
            .to_vec(),
        None,
        dir.path(),
    )
    .await;
    assert_eq!(graph.status.code(), Some(2), "{}", text(&graph.stderr));
    assert!(
        text(&graph.stderr).contains("sign-in"),
        "{}",
        text(&graph.stderr)
    );
    assert!(!dir.path().join("g.xlsx").exists());

    let mixed = hardmatch(
        ["plan", &ad, "--cloud", "graph", "--cloud", &cloud]
            .map(String::from)
            .to_vec(),
        None,
        dir.path(),
    )
    .await;
    assert_eq!(mixed.status.code(), Some(2), "{}", text(&mixed.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_exits_3_as_in_every_command() {
    let sim = start(sample_tenant()).await;
    let dir = tempfile::tempdir().unwrap();
    let ad = samples().join("ad-users.csv").display().to_string();
    let mut args: Vec<String> = ["plan", &ad, "--cloud", "graph", "-o", "p.xlsx"]
        .map(String::from)
        .to_vec();
    args.extend(graph_flags(&sim));
    let out = hardmatch(args, Some("not-the-secret"), dir.path()).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("invalid_client"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("p.xlsx").exists());
    sim.shutdown().await.unwrap();
}
