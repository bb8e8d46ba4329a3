//! Shared set-up for the live-read tests (cloud export, plan --cloud graph): a simulated tenant
//! with users, a recycle bin and privileged roles; a Graph client for it; the CLI's Graph flags.
#![allow(dead_code)]

use hardmatch::cloud::live::{self, LiveOptions};
use hardmatch::cloud::{CloudState, CloudUser};
use hardmatch::graph::{Auth, GraphClient, GraphConfig, Secret};
use hardmatch::sim::{self, SimConfig, SimHandle, TenantState};
use hardmatch::wire::{RoleAssignment, User};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

pub const ADELE: &str = "00000000-0000-4000-8000-00000000000a";
pub const BOB: &str = "00000000-0000-4000-8000-00000000000b";
pub const CAROL: &str = "00000000-0000-4000-8000-00000000000c";
pub const DOLLAR: &str = "00000000-0000-4000-8000-00000000000d";
pub const GONE: &str = "00000000-0000-4000-8000-0000000000ee";

/// A canonical GUID-based ImmutableId that starts with `+` (Excel would read `+…` as a formula).
pub const PLUS_ID: &str = "+/8AAAAAAAAAAAAAAAAAAA==";
/// A non-GUID ImmutableId that looks like a formula.
pub const FORMULA_ID: &str = "=HYPERLINK(\"http://x\")";

fn user(id: &str, upn: &str, immutable: Option<&str>) -> User {
    User {
        id: Some(id.into()),
        user_principal_name: Some(upn.into()),
        display_name: Some(upn.split('@').next().unwrap_or(upn).into()),
        mail: Some(upn.into()),
        on_premises_immutable_id: immutable.map(String::from),
        proxy_addresses: Some(vec![format!("SMTP:{upn}")]),
        ..Default::default()
    }
}

fn role(principal: &str, def: &str) -> RoleAssignment {
    RoleAssignment {
        id: format!("{principal}-{def}"),
        principal_id: principal.into(),
        role_definition_id: def.into(),
        directory_scope_id: Some("/".into()),
    }
}

/// Adele: ImmutableId starting with `+`, Global Administrator assigned. Bob: formula-like
/// ImmutableId, User Administrator eligible, Reports Reader (not privileged) assigned. Carol:
/// still synced, two proxy addresses. `$dollar`: a UPN starting with `$`. One deleted user.
pub fn tenant() -> TenantState {
    let mut carol = user(CAROL, "carol@contoso.com", Some("qUbmzjxXZ0eJjWwFmXzz3Q=="));
    carol.on_premises_sync_enabled = Some(true);
    carol.proxy_addresses = Some(vec![
        "SMTP:carol@contoso.com".into(),
        "smtp:carol@contoso.mail.onmicrosoft.com".into(),
    ]);
    let mut gone = user(GONE, "gone@contoso.com", Some("qUbmzjxXZ0eJjWwFmXzz2Q=="));
    gone.deleted_date_time = Some("2026-11-01T08:00:00Z".into());
    TenantState {
        users: vec![
            user(ADELE, "adele@contoso.com", Some(PLUS_ID)),
            user(BOB, "bob@contoso.com", Some(FORMULA_ID)),
            carol,
            user(DOLLAR, "$dollar@contoso.com", None),
        ],
        deleted_users: vec![gone],
        role_assignments: vec![
            role(ADELE, sim::GLOBAL_ADMINISTRATOR),
            role(BOB, sim::REPORTS_READER),
        ],
        role_eligibility_schedules: vec![role(BOB, sim::USER_ADMINISTRATOR)],
        ..TenantState::default()
    }
}

pub async fn start(state: TenantState) -> SimHandle {
    sim::start(SimConfig::default(), state)
        .await
        .expect("sim starts")
}

pub fn client(sim: &SimHandle) -> GraphClient {
    let mut config = GraphConfig::new(
        sim.tenant_id(),
        Auth::ClientSecret {
            client_id: sim.client_id().into(),
            secret: Secret::new(sim::DEFAULT_CLIENT_SECRET),
        },
    );
    config.graph_url = Some(sim.base_url());
    config.login_url = Some(sim.base_url());
    GraphClient::connect(config).expect("client")
}

pub async fn read(sim: &SimHandle, options: LiveOptions) -> CloudState {
    live::read_live(&client(sim), &options, Arc::new(|_, _| {}))
        .await
        .expect("live read")
}

pub fn by_id(users: &[CloudUser], id: &str) -> CloudUser {
    users
        .iter()
        .find(|u| u.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no user {id}"))
}

/// Users without their file location, sorted by id: comparable across sources.
pub fn comparable(users: &[CloudUser]) -> Vec<CloudUser> {
    let mut v: Vec<CloudUser> = users
        .iter()
        .cloned()
        .map(|mut u| {
            u.location.clear();
            u
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// `--graph-url … --login-url … --tenant … --client-id …` for the simulated tenant.
pub fn graph_flags(sim: &SimHandle) -> Vec<String> {
    vec![
        "--graph-url".into(),
        sim.base_url(),
        "--login-url".into(),
        sim.base_url(),
        "--tenant".into(),
        sim.tenant_id().into(),
        "--client-id".into(),
        sim.client_id().into(),
    ]
}

/// Runs the `hardmatch` binary off the async runtime (the sim keeps serving meanwhile), with the
/// secret in the environment and no AZURE_* variables inherited.
pub async fn hardmatch(args: Vec<String>, secret: Option<&str>, dir: &Path) -> Output {
    let secret = secret.map(String::from);
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"));
        cmd.args(&args).current_dir(dir);
        // Signed with a test key, not one in the developer's config folder.
        cmd.env(
            "HARDMATCH_KEY_FILE",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/live-test.key"),
        );
        for k in [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            "HARDMATCH_ACCESS_TOKEN",
        ] {
            cmd.env_remove(k);
        }
        if let Some(s) = secret {
            cmd.env("AZURE_CLIENT_SECRET", s);
        }
        cmd.output().expect("run hardmatch")
    })
    .await
    .expect("join")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}
