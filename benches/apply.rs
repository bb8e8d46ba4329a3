//! `apply` end to end against the in-process simulated tenant, time-scaled, and the write-back.
//!
//! ```text
//! cargo bench --bench apply                                     # everything below
//! HARDMATCH_BENCH_PARTS=apply cargo bench --bench apply          # only the 100k apply
//! HARDMATCH_BENCH_PARTS=single cargo bench --bench apply         # only one-request-in-flight
//! HARDMATCH_BENCH_PARTS=writeback HARDMATCH_BENCH_WRITEBACK_ROWS=100000,1000000 cargo bench --bench apply
//! HARDMATCH_BENCH_ROWS=100000 HARDMATCH_BENCH_TIME_SCALE=50 cargo bench --bench apply
//! ```
//!
//! - **apply**: N (default 100,000) approved Set rows, planned against a tenant of N cloud-only
//!   users; the tenant's documented quotas (3,000 writes per 150 s, 8,000 resource units per
//!   10 s) with simulated time running `TIME_SCALE` times faster (default 50), 150 simulated ms
//!   of latency per request, the client paced to the same quotas (windows compressed by the same
//!   scale). Reported: the write phase's writes as a share of what the quota allows in its
//!   simulated duration T (the bucket starts full: 3,000 + 20/s × T); the same for the whole run,
//!   where the local steps (reading the workbook, the write-back) count at their real duration
//!   (time scaling does not make a disk slower) and the Graph steps (pre-flight, writes) at their
//!   simulated duration; the share of requests throttled; rows lost.
//! - **single**: the rate of one request in flight at a time (how a PowerShell
//!   `foreach { Update-MgUser }` loop runs), same latency and quota.
//! - **writeback**: the write-back of N rows with results (re-signing, the workbook rebuilt,
//!   backup, rename), for 100,000 and 1,000,000 rows; targets ≤ 10 s and ≤ 25 s.

use hardmatch::anchor::SourceAnchor;
use hardmatch::apply::{self, progress::Bars, Command, Options, RunContext};
use hardmatch::cloud::{CloudState, CloudUser};
use hardmatch::graph::{Auth, Clock, GraphClient, GraphConfig, PacingConfig, Secret};
use hardmatch::plan::{self, PlanOptions};
use hardmatch::review::{Approval, PlanKey, SelectOptions, Status};
use hardmatch::sim::{self, Faults, SimConfig, ThrottleQuotas};
use hardmatch::sources::AdUser;
use hardmatch::wire::User;
use hardmatch::workbook::{self, ReviewMeta, WriteOptions};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn oid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn anchor(i: usize) -> SourceAnchor {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    b[8..].copy_from_slice(&0x5151_5151_5151_5151u64.to_le_bytes());
    SourceAnchor::from_guid(uuid::Builder::from_random_bytes(b).into_uuid())
}

fn upn(i: usize) -> String {
    // Spread over the alphabet, as real UPNs are, so the partitioned listing has work to share.
    let first = (b'a' + (i % 26) as u8) as char;
    format!("{first}user{i}@contoso.com")
}

/// A plan of `n` approved Set rows, and the tenant it was planned against.
fn plan_workbook(n: usize, path: &std::path::Path, key: &PlanKey) -> Vec<User> {
    let users: Vec<User> = (0..n)
        .map(|i| User {
            id: Some(oid(i)),
            user_principal_name: Some(upn(i)),
            display_name: Some(format!("User {i}")),
            ..User::default()
        })
        .collect();
    let cloud = CloudState {
        users: users.iter().cloned().map(CloudUser::from).collect(),
        ..CloudState::default()
    };
    let ad: Vec<AdUser> = (0..n)
        .map(|i| AdUser {
            upn: upn(i),
            object_guid: Some(anchor(i)),
            display_name: Some(format!("User {i}")),
            location: format!("ad.csv:{}", i + 2),
            ..AdUser::default()
        })
        .collect();
    let planned = plan::build(&ad, &cloud, &PlanOptions::default());
    let mut rows = plan::review_rows(planned.rows, plan::PreApproval::default(), key);
    for r in &mut rows {
        r.approve = Approval::Yes;
    }
    workbook::write_review(
        path,
        &rows,
        &[],
        &ReviewMeta::default(),
        &WriteOptions::default(),
    )
    .expect("plan workbook");
    users
}

struct Row {
    what: String,
    value: String,
    target: String,
    ok: bool,
}

const QUOTA: f64 = 3_000.0;
const WINDOW: f64 = 150.0;

fn sim_config(scale: f64, latency_sim_ms: f64) -> SimConfig {
    SimConfig {
        time_scale: scale,
        throttle: ThrottleQuotas::default(),
        faults: Faults {
            latency_ms: (latency_sim_ms / scale).round() as u64,
            ..Faults::default()
        },
        token_lifetime_secs: 86_400 * 365,
        request_log_capacity: 1_000,
        ..SimConfig::default()
    }
}

fn graph_config(sim: &sim::SimHandle, scale: f64) -> GraphConfig {
    let mut c = GraphConfig::new(
        sim.tenant_id(),
        Auth::ClientSecret {
            client_id: sim.client_id().into(),
            secret: Secret::new(sim::DEFAULT_CLIENT_SECRET),
        },
    );
    c.graph_url = Some(sim.base_url());
    c.login_url = Some(sim.base_url());
    c.clock = Clock::real();
    // The tenant sends durations in real seconds; the client's quotas are the tenant's, with
    // the windows compressed by the same scale.
    c.pacing = PacingConfig {
        write_window: Duration::from_secs_f64(WINDOW / scale),
        read_window: Duration::from_secs_f64(10.0 / scale),
        ..PacingConfig::default()
    };
    c
}

fn allowed(t_sim: f64) -> f64 {
    QUOTA + QUOTA / WINDOW * t_sim
}

fn apply_part(rows: &mut Vec<Row>, server: &tokio::runtime::Runtime) {
    let n = env_num("HARDMATCH_BENCH_ROWS", 100_000.0) as usize;
    let scale = env_num("HARDMATCH_BENCH_TIME_SCALE", 50.0);
    let latency = env_num("HARDMATCH_BENCH_LATENCY_MS", 150.0);
    let dir = tempfile::tempdir().expect("dir");
    let key = PlanKey::from_bytes([3; 32]);
    let wb = dir.path().join("plan.xlsx");
    let t = Instant::now();
    let users = plan_workbook(n, &wb, &key);
    eprintln!("apply: planned {n} rows in {:.1?}", t.elapsed());
    let sim = server
        .block_on(sim::start(
            sim_config(scale, latency),
            sim::TenantState {
                users,
                ..Default::default()
            },
        ))
        .expect("sim");
    let opts = Options {
        workbook: wb.clone(),
        journal: None,
        command: Command::Apply,
        select: SelectOptions::default(),
        what_if: false,
        verify: false,
        resume: false,
        context: RunContext {
            operator: "bench@localhost".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            ..RunContext::default()
        },
        bars: Bars::hidden(),
    };
    let t = Instant::now();
    let report = apply::run(&opts, &key, Some(graph_config(&sim, scale))).expect("apply");
    let real = t.elapsed();
    let tm = report.timings;
    let stats = sim.stats();
    let done = report.rows.iter().filter(|r| r.status == "Done").count();
    let back = workbook::read_review(&wb).expect("read back");
    let done_in_workbook = back
        .rows
        .iter()
        .filter(|r| r.status == Status::Done)
        .count();
    let in_tenant = sim
        .state()
        .users
        .iter()
        .filter(|u| u.on_premises_immutable_id.is_some())
        .count();
    let lost = n - done_in_workbook.min(in_tenant);

    let write_sim = tm.execute.as_secs_f64() * scale;
    let graph_sim = (tm.preflight + tm.execute).as_secs_f64() * scale;
    let local = (tm.read + tm.write_back).as_secs_f64();
    let total = graph_sim + local;
    let write_share = n as f64 / allowed(write_sim);
    let total_share = n as f64 / allowed(total);
    let requests = stats.requests + stats.batch_items;
    let throttled = stats.throttled as f64 / requests.max(1) as f64;
    eprintln!(
        "apply: {real:.1?} real; read {:.2?}, pre-flight {:.2?} (×{scale} = {:.0} s), writes {:.2?} (×{scale} = {write_sim:.0} s), write-back {:.2?}; {} throttled of {requests} requests",
        tm.read,
        tm.preflight,
        tm.preflight.as_secs_f64() * scale,
        tm.execute,
        tm.write_back,
        stats.throttled
    );
    rows.push(Row {
        what: format!("apply {n} approved rows (time ×{scale}, {latency} ms/request)"),
        value: format!(
            "{done} Done; read {:.1} s, pre-flight {:.0} s*, writes {write_sim:.0} s*, write-back {:.1} s (*simulated)",
            tm.read.as_secs_f64(),
            tm.preflight.as_secs_f64() * scale,
            tm.write_back.as_secs_f64()
        ),
        target: "all Done".into(),
        ok: done == n,
    });
    rows.push(Row {
        what: "write phase vs quota (3,000 + 20/s × T)".into(),
        value: format!(
            "{:.1} % ({:.2} writes/s)",
            write_share * 100.0,
            n as f64 / write_sim
        ),
        target: "≥ 95 %".into(),
        ok: write_share >= 0.95,
    });
    rows.push(Row {
        what: "whole run vs quota (local steps at real time)".into(),
        value: format!("{:.1} % ({total:.0} s)", total_share * 100.0),
        target: "≥ 90 %".into(),
        ok: total_share >= 0.90,
    });
    rows.push(Row {
        what: "requests throttled".into(),
        value: format!(
            "{:.3} % ({} of {requests})",
            throttled * 100.0,
            stats.throttled
        ),
        target: "≤ 0.5 %".into(),
        ok: throttled <= 0.005,
    });
    rows.push(Row {
        what: "rows lost (not Done in the workbook or not in the tenant)".into(),
        value: lost.to_string(),
        target: "0".into(),
        ok: lost == 0,
    });
    drop(sim);
}

fn single_part(rows: &mut Vec<Row>, server: &tokio::runtime::Runtime) {
    let m = env_num("HARDMATCH_BENCH_SINGLE", 1_000.0) as usize;
    let scale = env_num("HARDMATCH_BENCH_TIME_SCALE", 50.0);
    let latency = env_num("HARDMATCH_BENCH_LATENCY_MS", 150.0);
    let users: Vec<User> = (0..m)
        .map(|i| User {
            id: Some(oid(i)),
            user_principal_name: Some(upn(i)),
            ..User::default()
        })
        .collect();
    let sim = server
        .block_on(sim::start(
            sim_config(scale, latency),
            sim::TenantState {
                users,
                ..Default::default()
            },
        ))
        .expect("sim");
    let client = GraphClient::connect(graph_config(&sim, scale)).expect("client");
    let t = Instant::now();
    server.block_on(async {
        for i in 0..m {
            let value = anchor(i).immutable_id();
            client
                .set_immutable_id(&oid(i), Some(&value))
                .await
                .expect("PATCH");
        }
    });
    let t_sim = t.elapsed().as_secs_f64() * scale;
    let rate = m as f64 / t_sim;
    eprintln!(
        "single: {m} PATCHes one at a time in {:.1?} ({t_sim:.0} s simulated)",
        t.elapsed()
    );
    rows.push(Row {
        what: format!("one request in flight ({m} PATCHes, {latency} ms/request)"),
        value: format!(
            "{rate:.2} writes/s ({:.0} % of the 20/s quota)",
            rate / (QUOTA / WINDOW) * 100.0
        ),
        target: "for comparison".into(),
        ok: true,
    });
    drop(sim);
}

fn writeback_part(rows: &mut Vec<Row>) {
    let sizes: Vec<usize> = std::env::var("HARDMATCH_BENCH_WRITEBACK_ROWS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();
    for n in sizes {
        let dir = tempfile::tempdir().expect("dir");
        let key = PlanKey::from_bytes([4; 32]);
        let wb = dir.path().join("plan.xlsx");
        let t = Instant::now();
        plan_workbook(n, &wb, &key);
        let planned = t.elapsed();
        let t = Instant::now();
        let mut review = workbook::read_review(&wb).expect("read");
        let read = t.elapsed();
        // Every row applied, as after a run.
        for r in &mut review.rows {
            r.status = Status::Done;
            r.result = format!(
                "Set ImmutableId {} (the user had none)",
                r.plan.new_immutable_id
            );
            r.applied_at = "2026-12-06T12:00:00Z".into();
            r.attempts = 1;
            r.previous_immutable_id = Some(String::new());
        }
        let mut rows_in = std::mem::take(&mut review.rows);
        let touched = vec![true; rows_in.len()];
        let t = Instant::now();
        apply::record::write_back(&wb, &mut rows_in, &touched, &key, &review).expect("write-back");
        let wrote = t.elapsed();
        eprintln!(
            "writeback: {n} rows: plan {planned:.1?}, read {read:.1?}, write-back {wrote:.1?}"
        );
        let target = if n <= 100_000 { 10.0 } else { 25.0 };
        rows.push(Row {
            what: format!(
                "write-back of {n} rows (read {:.1} s before it)",
                read.as_secs_f64()
            ),
            value: format!("{:.1} s", wrote.as_secs_f64()),
            target: format!("≤ {target:.0} s"),
            ok: wrote.as_secs_f64() <= target,
        });
    }
}

fn main() {
    let parts =
        std::env::var("HARDMATCH_BENCH_PARTS").unwrap_or_else(|_| "apply,single,writeback".into());
    // The tenant runs on its own threads, as a remote service would.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    if parts.contains("apply") {
        apply_part(&mut rows, &server);
    }
    if parts.contains("single") {
        single_part(&mut rows, &server);
    }
    if parts.contains("writeback") {
        writeback_part(&mut rows);
    }
    println!("| measure | value | target | met |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.what,
            r.value,
            r.target,
            if r.ok { "yes" } else { "**no**" }
        );
    }
}
