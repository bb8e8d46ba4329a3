//! `hardmatch sim serve`: the first stdout line is the base URL; the state file survives SIGTERM.

mod sim_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn serve_prints_the_base_url_first_and_answers_graph() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tenant.json");
    std::fs::write(
        &state,
        r#"{"users":[{"id":"00000000-0000-4000-8000-000000000001","userPrincipalName":"jo@contoso.com"}]}"#,
    )
    .unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
        .args([
            "sim",
            "serve",
            "--port",
            "0",
            "--client-secret",
            "cli-secret-value",
            "--state",
        ])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hardmatch sim serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base:?}");

    let http = sim_support::client();
    let token: serde_json::Value = http
        .post(format!(
            "{base}/{}/oauth2/v2.0/token",
            hardmatch::sim::DEFAULT_TENANT_ID
        ))
        .form(&[
            ("client_id", hardmatch::sim::DEFAULT_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
            ("client_secret", "cli-secret-value"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("token").to_string();
    let r = http
        .patch(format!("{base}/v1.0/users/jo@contoso.com"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"onPremisesImmutableId": "Y2xp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    // SIGTERM: the server stops and writes its final state.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(exit.success(), "{exit:?}: {stderr}");
    assert!(
        !stderr.contains("cli-secret-value"),
        "the secret is never printed: {stderr}"
    );
    assert!(stderr.contains(hardmatch::sim::DEFAULT_TENANT_ID));
    let saved = hardmatch::sim::load_state(&state).unwrap().unwrap();
    assert_eq!(
        saved.users[0].on_premises_immutable_id.as_deref(),
        Some("Y2xp")
    );
}

#[test]
fn serve_rejects_a_bad_probability_with_exit_code_2() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("hardmatch"))
        .args(["sim", "serve", "--fault-429", "1.5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fault-429"));
    assert!(out.stdout.is_empty());
}
