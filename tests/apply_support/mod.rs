//! Shared set-up for the apply/revert tests: a simulated tenant on its own runtime (so apply, which
//! runs its own, is called exactly as the command line calls it), a plan key, a workbook planned
//! live against the tenant, and helpers to look at the tenant and the workbook afterwards.
#![allow(dead_code)]

use hardmatch::anchor::SourceAnchor;
use hardmatch::apply::{self, progress::Bars, Command, Options, Report, RunContext};
use hardmatch::cloud::live::{self, LiveOptions};
use hardmatch::graph::{Auth, Clock, GraphClient, GraphConfig, PacingConfig, Secret};
use hardmatch::plan::{self, PlanOptions};
use hardmatch::review::{Approval, PlanKey, ReviewRow, SelectOptions};
use hardmatch::sim::{self, SimConfig, SimHandle, TenantState};
use hardmatch::sources::AdUser;
use hardmatch::wire::User;
use hardmatch::workbook::{self, ReviewMeta, WriteOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn guid(n: u32) -> uuid::Uuid {
    uuid::Uuid::parse_str(&format!("{n:08x}-1111-4222-8333-444455556666")).unwrap()
}

/// The ImmutableId of AD user `n`'s objectGUID.
pub fn iid(n: u32) -> String {
    SourceAnchor::from_guid(guid(n)).immutable_id()
}

pub fn oid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

pub fn cloud_user(n: u32, upn: &str, immutable: Option<&str>) -> User {
    User {
        id: Some(oid(n)),
        user_principal_name: Some(upn.into()),
        display_name: Some(upn.split('@').next().unwrap_or(upn).into()),
        mail: Some(upn.into()),
        on_premises_immutable_id: immutable.map(String::from),
        proxy_addresses: Some(vec![format!("SMTP:{upn}")]),
        ..Default::default()
    }
}

pub fn deleted_user(n: u32, upn: &str, immutable: &str) -> User {
    let mut u = cloud_user(n, upn, Some(immutable));
    u.deleted_date_time = Some("2026-11-01T08:00:00Z".into());
    u
}

pub fn ad_user(n: u32, upn: &str) -> AdUser {
    AdUser {
        upn: upn.into(),
        object_guid: Some(SourceAnchor::from_guid(guid(n))),
        mail: Some(upn.into()),
        display_name: Some(upn.split('@').next().unwrap_or(upn).into()),
        location: format!("ad.csv:{}", n + 1),
        ..AdUser::default()
    }
}

pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
    pub key: PlanKey,
    pub key_file: PathBuf,
    pub workbook: PathBuf,
}

pub fn sim_config() -> SimConfig {
    SimConfig {
        token_lifetime_secs: 10_000_000,
        ..SimConfig::default()
    }
}

impl World {
    /// `hardmatch <command> <workbook>` against this world's tenant, signed in with its secret
    /// and its plan key; add flags, then run it.
    pub fn cli(&self, command: &str, workbook: &Path) -> std::process::Command {
        let url = self.sim.base_url();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hardmatch"));
        cmd.arg(command)
            .arg(workbook)
            .args(["--graph-url", &url, "--login-url", &url])
            .args([
                "--tenant",
                self.sim.tenant_id(),
                "--client-id",
                self.sim.client_id(),
            ])
            .arg("--key-file")
            .arg(&self.key_file)
            .env("AZURE_CLIENT_SECRET", sim::DEFAULT_CLIENT_SECRET)
            .env_remove("AZURE_TENANT_ID")
            .env_remove("AZURE_CLIENT_ID");
        cmd
    }

    pub fn new(state: TenantState) -> World {
        World::with_config(sim_config(), state)
    }

    pub fn with_config(config: SimConfig, state: TenantState) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt.block_on(sim::start(config, state)).expect("sim starts");
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("plan.key");
        let (key, _) = PlanKey::load_or_create(&key_file).unwrap();
        let workbook = dir.path().join("plan.xlsx");
        World {
            rt,
            sim,
            dir,
            key,
            key_file,
            workbook,
        }
    }

    /// A client configuration for the tenant: real clock, pacing off, no prompt.
    pub fn graph(&self) -> GraphConfig {
        let mut c = GraphConfig::new(
            self.sim.tenant_id(),
            Auth::ClientSecret {
                client_id: self.sim.client_id().into(),
                secret: Secret::new(sim::DEFAULT_CLIENT_SECRET),
            },
        );
        c.graph_url = Some(self.sim.base_url());
        c.login_url = Some(self.sim.base_url());
        c.clock = Clock::real();
        c.pacing = PacingConfig {
            enabled: false,
            ..PacingConfig::default()
        };
        c.device_code_prompt = Arc::new(|_: &str| {});
        c
    }

    /// Plans `ad` against the live tenant into `self.workbook`, approving as `approve` says.
    pub fn plan(&self, ad: &[AdUser], approve: impl Fn(&ReviewRow) -> Approval) -> Vec<ReviewRow> {
        let client = GraphClient::connect(self.graph()).unwrap();
        let cloud = self
            .rt
            .block_on(live::read_live(
                &client,
                &LiveOptions::default(),
                Arc::new(|_, _| {}),
            ))
            .unwrap();
        let planned = plan::build(ad, &cloud, &PlanOptions::default());
        let mut rows = plan::review_rows(planned.rows, plan::PreApproval::default(), &self.key);
        for r in &mut rows {
            r.approve = approve(r);
        }
        self.write(&rows);
        rows
    }

    /// Writes `rows` as the workbook (as if a reviewer saved it).
    pub fn write(&self, rows: &[ReviewRow]) {
        workbook::write_review(
            &self.workbook,
            rows,
            &[],
            &ReviewMeta::default(),
            &WriteOptions::default(),
        )
        .unwrap();
    }

    /// Changes the workbook as a reviewer would (rows edited, everything else kept).
    pub fn edit(&self, change: impl FnOnce(&mut Vec<ReviewRow>)) {
        let mut review = workbook::read_review(&self.workbook).unwrap();
        change(&mut review.rows);
        let unmatched: Vec<_> = review.unmatched.iter().collect();
        workbook::write_review(
            &self.workbook,
            &review.rows,
            &unmatched,
            &review.meta,
            &WriteOptions::default(),
        )
        .unwrap();
    }

    pub fn read(&self) -> Vec<ReviewRow> {
        workbook::read_review(&self.workbook).unwrap().rows
    }

    pub fn options(&self, command: Command) -> Options {
        Options {
            workbook: self.workbook.clone(),
            journal: None,
            command,
            select: SelectOptions::default(),
            what_if: false,
            verify: false,
            resume: false,
            context: RunContext {
                operator: "tester@test-host".into(),
                tenant: self.sim.tenant_id().into(),
                client_id: self.sim.client_id().into(),
                national_cloud: "global".into(),
                flags: Vec::new(),
                tool_version: "test".into(),
            },
            bars: Bars::hidden(),
        }
    }

    pub fn apply(&self, change: impl FnOnce(&mut Options)) -> Report {
        let mut o = self.options(Command::Apply);
        change(&mut o);
        apply::run(&o, &self.key, Some(self.graph())).expect("apply runs")
    }

    pub fn revert(&self, all: bool, change: impl FnOnce(&mut Options)) -> Report {
        let mut o = self.options(Command::Revert { all });
        change(&mut o);
        apply::run(&o, &self.key, Some(self.graph())).expect("revert runs")
    }

    /// The tenant's user `n` (active), if any.
    pub fn user(&self, n: u32) -> Option<User> {
        self.sim
            .state()
            .users
            .into_iter()
            .find(|u| u.id.as_deref() == Some(oid(n).as_str()))
    }

    pub fn immutable_id_of(&self, n: u32) -> Option<String> {
        self.user(n).and_then(|u| u.on_premises_immutable_id)
    }

    /// Write requests (PATCH, DELETE, POST other than `$batch` envelopes) the tenant received.
    pub fn writes(&self) -> Vec<String> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| {
                r.method != "GET" && !r.path.contains("$batch") && !r.path.contains("oauth2")
            })
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

pub fn row_by_upn<'a>(rows: &'a [ReviewRow], upn: &str) -> &'a ReviewRow {
    rows.iter()
        .find(|r| r.plan.upn == upn)
        .unwrap_or_else(|| panic!("no row {upn}"))
}

pub fn report_row<'a>(report: &'a Report, upn: &str) -> &'a apply::RowReport {
    report
        .rows
        .iter()
        .find(|r| r.upn == upn)
        .unwrap_or_else(|| panic!("no row {upn} in the report: {:#?}", report.rows))
}

pub fn sha256(path: &Path) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).to_vec()
}
