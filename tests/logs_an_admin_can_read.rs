//! `-v` / `-vv` output of a Graph command, as an admin reads it from a file (issue 9, points
//! 9–11): no colour escapes when stderr is not a terminal, retries and throttling waits named
//! at `-v` (how long, which limit), and `-vv` not drowned by the HTTP library's pool lines.

mod live_support;

use hardmatch::sim::{self, Faults, SimConfig, DEFAULT_CLIENT_SECRET};
use live_support::*;

async fn export(sim: &sim::SimHandle, verbosity: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [verbosity, "cloud", "export", "-o", "cloud.csv"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(graph_flags(sim));
    let out = hardmatch(args, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    (out.status.success(), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_to_a_file_has_no_colour_codes_and_no_connection_pool_chatter() {
    let sim = start(tenant()).await;
    let (ok, stderr) = export(&sim, "-vv").await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("graph response"),
        "debug lines are there: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escapes in a file: {stderr:?}"
    );
    let noise: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("hyper") || l.contains("pool") || l.contains("reqwest::"))
        .collect();
    assert!(
        noise.is_empty(),
        "{} pool lines, e.g. {:?}",
        noise.len(),
        noise.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_output_names_each_retry_its_wait_and_its_limit() {
    let sim = sim::start(
        SimConfig {
            faults: Faults {
                p429: 0.3,
                retry_after_secs: 0.01,
                ..Faults::default()
            },
            fault_seed: 11,
            ..SimConfig::default()
        },
        tenant(),
    )
    .await
    .unwrap();
    let (ok, stderr) = export(&sim, "-v").await;
    assert!(ok, "{stderr}");
    assert!(sim.stats().faults_429 > 0);
    // "429 for", not "429": a timestamp's microseconds can read …642904Z.
    let retries: Vec<&str> = stderr.lines().filter(|l| l.contains("429 for")).collect();
    assert!(!retries.is_empty(), "no retry shown at -v: {stderr}");
    for l in &retries {
        assert!(l.contains("retrying") && l.contains(" in "), "{l}");
        assert!(l.contains("this request"), "the limit is named: {l}");
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("throttled") && l.contains("waited")),
        "a summary of the throttling: {stderr}"
    );
    assert!(
        !stderr.contains("graph response"),
        "-v is not -vv: {stderr}"
    );
}
