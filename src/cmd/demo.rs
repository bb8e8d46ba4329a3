//! `hardmatch demo`: the whole workflow in a fresh folder against an in-process simulated tenant
//! seeded from the bundled samples — plan live, a change board's approvals, apply (a purge of a
//! recycle-bin holder, drift caught by pre-flight, one injected fault retried), then apply again
//! to show that nothing is redone. Nothing leaves this machine; the folder is kept so the
//! workbook can be opened afterwards.

use crate::cmd::{apply, plan};
use anyhow::Context;
use clap::Parser;
use hardmatch::review::{Action, Approval};
use hardmatch::sim::{self, Faults, SimConfig, SimHandle};
use hardmatch::workbook::{self, WriteOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Work in this folder (created if needed) instead of a new one under the system's temp folder.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The samples, built in, so the demo runs from any folder.
const AD_USERS: &[u8] = include_bytes!("../../samples/ad-users.csv");
const CLOUD_USERS: &[u8] = include_bytes!("../../samples/cloud-users.csv");

/// Who the change board approves besides the clean Set rows, and the tenant's drift.
const RECYCLE_BIN_ROW: &str = "johanna.lorenz@fabrikam.com";
const SYNCED_ROW: &str = "patti.fernandez@fabrikam.com";
const DRIFT_ROW: &str = "lee.gu@fabrikam.com";
const DRIFT_HOLDER: &str = "reception@fabrikam.com";

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The simulated tenant's public dummy secret, the way an admin passes a real one (set before
    // any thread starts).
    std::env::set_var("AZURE_CLIENT_SECRET", sim::DEFAULT_CLIENT_SECRET);
    let dir = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("hardmatch-demo-")
            .tempdir()
            .context("cannot create a folder for the demo")?
            .keep(),
    };
    let ad = dir.join("ad-users.csv");
    let cloud = dir.join("cloud-users.csv");
    std::fs::write(&ad, AD_USERS).context("writing the sample AD export")?;
    std::fs::write(&cloud, CLOUD_USERS).context("writing the sample cloud export")?;
    let workbook = dir.join("plan.xlsx");
    let key = dir.join("demo-plan.key");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let state = sim::from_cloud_state(hardmatch::cloud::read_cloud_export(&cloud)?);
    let sim = Arc::new(
        rt.block_on(sim::start(SimConfig::default(), state))
            .context("cannot start the simulated tenant")?,
    );
    let url = sim.base_url();
    println!("hardmatch demo in {}", dir.display());
    println!(
        "A simulated tenant (Fabrikam, from samples/) answers like Microsoft Graph at {url}.\n"
    );

    step("1. Plan the AD export against the tenant, read live");
    let graph_flags = graph_flags(&sim, &key);
    let plan_args = parse::<plan::Args>(
        [
            "plan",
            path(&ad),
            "--cloud",
            "graph",
            "-o",
            path(&workbook),
            "--pre-approve",
            "set",
        ]
        .into_iter()
        .map(String::from)
        .chain(graph_flags.iter().cloned()),
    )?;
    plan::run(plan_args)?;

    step("2. The change board approves");
    let approved = approve(&workbook)?;
    for a in &approved {
        println!("  {a}");
    }
    let drifted = drift(&sim, &workbook)?;
    println!("Meanwhile in the tenant: {drifted}.");

    step("3. Apply, with --purge-deleted-conflicts (one transient 503 injected)");
    let watcher = inject_one_fault(&rt, sim.clone());
    let before = writes(&sim);
    let first = apply_once(&workbook, &graph_flags)?;
    rt.block_on(watcher).ok();
    let fault = describe_fault(&sim);
    println!("\n{fault}");

    step("4. Apply again: every Done row is left alone");
    let after_first = writes(&sim);
    apply_once(&workbook, &graph_flags)?;
    let resent = writes(&sim) - after_first;
    println!(
        "\nChanges the tenant accepted (ImmutableIds set, and the purge): {} by the first apply, {resent} by the second.",
        after_first - before
    );

    println!(
        "\nOpen {} in Excel or LibreOffice: Status, Result, Applied at, Previous ImmutableId on the Plan \
         sheet, and the Runs sheet. The journal beside it holds every result; revert with \
         hardmatch revert --all (see the README).",
        workbook.display()
    );
    let purged = sim.state().deleted_users.iter().all(|u| {
        !u.user_principal_name
            .as_deref()
            .is_some_and(|n| n.contains("johannal4821"))
    });
    let ok = first == ExitCode::from(1) && resent == 0 && purged && fault.starts_with("Injected");
    drop(sim);
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: the demo did not show what it should (see above)");
        Ok(ExitCode::from(1))
    }
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn parse<A: clap::Args>(argv: impl IntoIterator<Item = String>) -> anyhow::Result<A> {
    #[derive(Parser)]
    struct Wrap<A: clap::Args> {
        #[command(flatten)]
        a: A,
    }
    Ok(Wrap::<A>::try_parse_from(argv)?.a)
}

fn graph_flags(sim: &SimHandle, key: &Path) -> Vec<String> {
    let url = sim.base_url();
    [
        "--graph-url",
        &url,
        "--login-url",
        &url,
        "--tenant",
        sim.tenant_id(),
        "--client-id",
        sim.client_id(),
        "--key-file",
        path(key),
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

fn apply_once(workbook: &Path, graph_flags: &[String]) -> anyhow::Result<ExitCode> {
    let args = parse::<apply::Args>(
        ["apply", path(workbook), "--purge-deleted-conflicts"]
            .into_iter()
            .map(String::from)
            .chain(graph_flags.iter().cloned()),
    )?;
    apply::run(args)
}

/// The clean Set rows are pre-approved by plan; the board adds the recycle-bin conflict and,
/// by mistake, the still-synced user.
fn approve(workbook: &Path) -> anyhow::Result<Vec<String>> {
    let mut review = workbook::read_review(workbook)?;
    let mut said = Vec::new();
    for r in &mut review.rows {
        let extra = matches!(r.plan.upn.as_str(), RECYCLE_BIN_ROW | SYNCED_ROW);
        if extra {
            r.approve = Approval::Yes;
        }
        if r.approve == Approval::Yes {
            said.push(format!(
                "Row {:<3} {:<32} {}",
                r.plan.row_id,
                r.plan.upn,
                r.plan.action.map_or("", |a| a.as_str())
            ));
        }
    }
    let unmatched: Vec<_> = review.unmatched.iter().collect();
    workbook::write_review(
        workbook,
        &review.rows,
        &unmatched,
        &review.meta,
        &WriteOptions::default(),
    )?;
    Ok(said)
}

/// Someone gives another active user the ImmutableId an approved row is about to get.
fn drift(sim: &SimHandle, workbook: &Path) -> anyhow::Result<String> {
    let review = workbook::read_review(workbook)?;
    let row = review
        .rows
        .iter()
        .find(|r| r.plan.upn == DRIFT_ROW && r.plan.action == Some(Action::Set))
        .context("the samples no longer have the Set row the demo changes")?;
    let value = row.plan.new_immutable_id.clone();
    sim.update_state(|s| {
        for u in &mut s.users {
            if u.user_principal_name.as_deref() == Some(DRIFT_HOLDER) {
                u.on_premises_immutable_id = Some(value.clone());
            }
        }
    });
    Ok(format!(
        "someone gave {DRIFT_HOLDER} the ImmutableId {value} that approved row {} ({DRIFT_ROW}) is about to get",
        row.plan.row_id
    ))
}

/// Answers the next request with a 503 and then behaves again.
fn inject_one_fault(
    rt: &tokio::runtime::Runtime,
    sim: Arc<SimHandle>,
) -> tokio::task::JoinHandle<()> {
    sim.set_faults(Faults {
        p503: 1.0,
        ..Faults::default()
    });
    rt.spawn(async move {
        // Graph's client backs off a second before retrying; this turns the fault off long before.
        while sim.stats().faults_503 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        sim.set_faults(Faults::default());
    })
}

fn describe_fault(sim: &SimHandle) -> String {
    let log = sim.requests();
    let Some(failed) = log.iter().find(|r| r.fault.is_some()) else {
        return "No fault was injected (the demo could not show a retry).".into();
    };
    // The same request answered later: by its client-request-id, or (an item of a $batch,
    // resent in a new batch) by its method and URL.
    let retried = log
        .iter()
        .skip_while(|r| !std::ptr::eq(*r, failed))
        .skip(1)
        .find(|r| {
            let same = match (&failed.batch_item, &failed.client_request_id) {
                (None, Some(id)) => r.client_request_id.as_ref() == Some(id),
                _ => r.method == failed.method && r.path == failed.path,
            };
            same && (200..300).contains(&r.status)
        });
    match retried {
        Some(ok) => format!(
            "Injected fault: the tenant answered {} to {} {}; hardmatch waited and sent it again, and got {}.",
            failed.status,
            failed.method,
            failed.path.split('?').next().unwrap_or_default(),
            ok.status
        ),
        None => format!(
            "Injected fault: the tenant answered {} to {} {}; the retry is not in the log.",
            failed.status,
            failed.method,
            failed.path.split('?').next().unwrap_or_default()
        ),
    }
}

/// Writes the tenant accepted so far (PATCH and DELETE, batched or not).
fn writes(sim: &SimHandle) -> u64 {
    sim.stats().writes_ok
}
