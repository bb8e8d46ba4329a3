//! `sim serve --tls CERT_OUT.pem`: https with a fresh self-signed certificate, written before the
//! URL line; hardmatch's own Graph commands trust it with `--ca-file` and fail clearly without.

mod live_support;

use hardmatch::sim::{self, SimConfig, DEFAULT_CLIENT_SECRET};
use live_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn http_trusting(pem: Option<&[u8]>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder();
    if let Some(pem) = pem {
        b = b.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn serve_tls_writes_the_certificate_before_its_https_url() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("sim-cert.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(["sim", "serve", "--synthetic", "3", "--tls"])
        .arg(&cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hardmatch sim serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    // Read at once: the file must already be complete when the URL is printed.
    let pem = std::fs::read(&cert).expect("certificate written before the URL line");
    let check = async move {
        assert!(base.starts_with("https://127.0.0.1:"), "{base:?}");
        assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN CERTIFICATE-----"));
        let token_url = format!("{base}/{}/oauth2/v2.0/token", sim::DEFAULT_TENANT_ID);
        let form = [
            ("client_id", sim::DEFAULT_CLIENT_ID),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ];
        let untrusted = http_trusting(None)
            .post(&token_url)
            .form(&form)
            .send()
            .await;
        assert!(
            untrusted.is_err(),
            "a client that does not trust it is refused"
        );
        // Both names the certificate covers work.
        for host in ["127.0.0.1", "localhost"] {
            let at = base.replace("127.0.0.1", host);
            let http = http_trusting(Some(&pem));
            let token: serde_json::Value = http
                .post(format!("{at}/{}/oauth2/v2.0/token", sim::DEFAULT_TENANT_ID))
                .form(&form)
                .send()
                .await
                .expect("trusted https")
                .json()
                .await
                .unwrap();
            let r = http
                .get(format!("{at}/v1.0/users?$top=1"))
                .bearer_auth(token["access_token"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{host}");
            let page: serde_json::Value = r.json().await.unwrap();
            // Next links point back at the https root (the JavaScript client follows only those).
            let next = page["@odata.nextLink"].as_str().unwrap();
            assert!(next.starts_with(&format!("{base}/v1.0/users?")), "{next}");
        }
    };
    // The child is stopped whatever the assertions say.
    let outcome = tokio::spawn(check).await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_commands_trust_the_sim_with_ca_file_and_say_so_without() {
    let sim = sim::start(
        SimConfig {
            tls: true,
            ..SimConfig::default()
        },
        tenant(),
    )
    .await
    .unwrap();
    assert!(sim.base_url().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sim.pem"), sim.certificate_pem().unwrap()).unwrap();

    let mut trusted = vec![
        "cloud".to_string(),
        "export".into(),
        "-o".into(),
        "cloud.csv".into(),
    ];
    trusted.extend(graph_flags(&sim));
    trusted.extend(["--ca-file".into(), "sim.pem".into()]);
    let out = hardmatch(trusted, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("cloud.csv").exists());

    let mut plan = vec![
        "plan".to_string(),
        samples().join("ad-users.csv").display().to_string(),
        "--cloud".into(),
        "graph".into(),
        "-o".into(),
        "plan.xlsx".into(),
        "--ca-file".into(),
        "sim.pem".into(),
    ];
    plan.extend(graph_flags(&sim));
    let out = hardmatch(plan.clone(), Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Without --ca-file: exit 3 (Graph could not be reached) at the first request (no retries),
    // the fix named, nothing written.
    let before = sim.stats().token_requests;
    let without: Vec<String> = plan
        .iter()
        .filter(|a| *a != "--ca-file" && *a != "sim.pem")
        .map(|a| a.replace("plan.xlsx", "plan2.xlsx"))
        .collect();
    let out = hardmatch(without, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
    assert!(stderr.contains("--ca-file"), "{stderr}");
    assert_eq!(
        stderr.matches("not trusted").count(),
        1,
        "said once, not once per listing partition and retry round: {stderr}"
    );
    assert!(!dir.path().join("plan2.xlsx").exists());
    assert_eq!(
        sim.stats().token_requests,
        before,
        "the handshake failed, so nothing reached the tenant"
    );

    // A --ca-file that holds no certificate is bad input, named as such.
    std::fs::write(dir.path().join("empty.pem"), "not a certificate\n").unwrap();
    let mut bad = vec![
        "cloud".to_string(),
        "export".into(),
        "-o".into(),
        "c2.csv".into(),
    ];
    bad.extend(graph_flags(&sim));
    bad.extend(["--ca-file".into(), "empty.pem".into()]);
    let out = hardmatch(bad, Some(DEFAULT_CLIENT_SECRET), dir.path()).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("empty.pem"),
        "{}",
        text(&out.stderr)
    );
    sim.shutdown().await.unwrap();
}
