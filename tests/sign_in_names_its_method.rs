//! Which sign-in method a run uses, and where its credential came from, is never a surprise: a
//! refusal names both and says what to do; a method set in the environment but not used is
//! mentioned; `-v` always says which one was chosen; secrets on the command line are warned of.

mod live_support;

use hardmatch::sim::DEFAULT_CLIENT_SECRET;
use live_support::{graph_flags, start, tenant, text};
use std::process::Output;

/// Runs `cloud export` against the sim with exactly these environment variables.
async fn export(sim: &hardmatch::sim::SimHandle, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = ["cloud", "export", "-o", "cloud.xlsx"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    args.extend(graph_flags(sim));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"));
        cmd.args(&args).current_dir(dir.path());
        for k in [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            "HARDMATCH_ACCESS_TOKEN",
            "HARDMATCH_LOG",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(env);
        cmd.output().expect("run hardmatch")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_token_variable_is_named_with_the_way_out() {
    let sim = start(tenant()).await;
    let out = export(
        &sim,
        &[],
        &[
            ("HARDMATCH_ACCESS_TOKEN", "stale.token.value"),
            ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "note: signing in with the access token from HARDMATCH_ACCESS_TOKEN; also set but not used: \
             the client secret from AZURE_CLIENT_SECRET"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("signed in with the access token from HARDMATCH_ACCESS_TOKEN: InvalidAuthenticationToken"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "fix: an access token cannot be refreshed and expires within 60-90 minutes: get a new one, \
             or unset HARDMATCH_ACCESS_TOKEN to sign in with the client secret from AZURE_CLIENT_SECRET"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("stale.token.value") && !stderr.contains(DEFAULT_CLIENT_SECRET));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_secret_names_where_it_came_from_and_v_names_the_choice() {
    let sim = start(tenant()).await;
    let out = export(&sim, &[], &[("AZURE_CLIENT_SECRET", "wrong")]).await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("signed in with the client secret from AZURE_CLIENT_SECRET: sign-in failed: invalid_client"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("note:"),
        "one method configured: nothing to note: {stderr}"
    );

    // A flag chosen over a variable is the documented order: said at -v, not by default.
    let flags = ["--client-secret", DEFAULT_CLIENT_SECRET];
    let env = [("HARDMATCH_ACCESS_TOKEN", "tok")];
    let quiet = export(&sim, &flags, &env).await;
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    let stderr = text(&quiet.stderr);
    assert!(!stderr.contains("note:"), "{stderr}");
    assert!(
        stderr.contains(
            "warning: --client-secret on the command line can be read by other local users"
        ),
        "{stderr}"
    );
    let mut verbose_flags = flags.to_vec();
    verbose_flags.push("-v");
    let verbose = export(&sim, &verbose_flags, &env).await;
    let stderr = text(&verbose.stderr);
    assert!(
        stderr.contains("signing in with the client secret from --client-secret")
            && stderr.contains("the access token from HARDMATCH_ACCESS_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains(DEFAULT_CLIENT_SECRET), "{stderr}");
    sim.shutdown().await.unwrap();
}
