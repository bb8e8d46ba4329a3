//! The simulated tenant's first run, as the README shows it: the banner names the dummy secret,
//! an empty tenant says how to seed it, and a plan against no users says so loudly.

mod live_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Starts `sim serve` with `args`, waits for its URL, stops it, and returns (URL, stderr).
fn serve_and_stop(args: &[&str], dir: &std::path::Path) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(["sim", "serve"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    // The banner is complete with its last line; only then is the tenant stopped.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut stderr = String::new();
    while !stderr.contains("Ctrl-C to stop") {
        if err.read_line(&mut stderr).unwrap() == 0 {
            break;
        }
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    child.wait().unwrap();
    err.read_to_string(&mut stderr).unwrap();
    (url.trim().to_string(), stderr)
}

#[test]
fn the_banner_shows_the_public_dummy_secret_and_how_to_seed_an_empty_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stderr) = serve_and_stop(&[], dir.path());
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        stderr.contains("client secret sim-secret (public dummy)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the tenant has no users: give --seed"),
        "{stderr}"
    );

    let seed = live_support::samples().join("cloud-users.csv");
    let (_, stderr) = serve_and_stop(
        &[
            "--seed",
            seed.to_str().unwrap(),
            "--client-secret",
            "my-own-s3cret",
        ],
        dir.path(),
    );
    assert!(!stderr.contains("my-own-s3cret"), "{stderr}");
    assert!(
        stderr.contains("client secret the one given with --client-secret"),
        "{stderr}"
    );
    assert!(!stderr.contains("has no users"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_against_a_tenant_without_users_says_so_loudly() {
    let sim = live_support::start(hardmatch::sim::TenantState::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "plan",
        &live_support::samples()
            .join("ad-users.csv")
            .display()
            .to_string(),
        "--cloud",
        "graph",
    ]
    .map(String::from)
    .to_vec();
    args.extend(live_support::graph_flags(&sim));
    let out = live_support::hardmatch(
        args,
        Some(hardmatch::sim::DEFAULT_CLIENT_SECRET),
        dir.path(),
    )
    .await;
    assert!(out.status.success(), "{}", live_support::text(&out.stderr));
    let stderr = live_support::text(&out.stderr);
    assert!(
        stderr.contains("warning: NO ACTIVE CLOUD USERS were read") && stderr.contains("--seed"),
        "{stderr}"
    );
    let review = hardmatch::workbook::read_review(&dir.path().join("plan.xlsx")).unwrap();
    assert!(review.meta.warnings[0].starts_with("NO ACTIVE CLOUD USERS"));
    sim.shutdown().await.unwrap();
}

#[test]
fn a_seed_with_a_upn_entra_refuses_is_bad_input_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.csv");
    std::fs::write(
        &seed,
        "\"Id\",\"UserPrincipalName\",\"OnPremisesImmutableId\"\n\
         \"fa82e93f-71c6-462f-9504-9ac8b9648dd2\",\"bad user@fabrikam.com\",\"\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(["sim", "serve", "--seed"])
        .arg(&seed)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("seed.csv") && stderr.contains("bad user@fabrikam.com"),
        "{stderr}"
    );
}
