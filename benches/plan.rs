//! `hardmatch plan` at scale: N synthetic AD users × N cloud users through the library, phase by
//! phase, with peak RSS.
//!
//! ```text
//! cargo bench --bench plan                                   # 1,000,000 × 1,000,000, whole pipeline
//! HARDMATCH_BENCH_ROWS=200000 cargo bench --bench plan       # smaller
//! HARDMATCH_BENCH_PHASES=build cargo bench --bench plan      # plan::build alone, on in-memory values
//! HARDMATCH_BENCH_KEEP=/tmp/plan.xlsx cargo bench --bench plan # keep the workbook to inspect it
//! HARDMATCH_BENCH_WRITE_INPUTS=/tmp/in cargo bench --bench plan # only write the two CSVs, to time
//!                                                             # `hardmatch plan` itself on them
//! HARDMATCH_BENCH_NO_FLOORS=1 cargo bench --bench plan         # skip the floor measurements
//! ```
//!
//! Targets (issue 2, 2 cores): 1M × 1M → workbook in ≤ 12 s wall and ≤ 1 GiB peak RSS; reading the
//! workbook back in ≤ 5 s.

use hardmatch::plan::{self, synthetic, Action, PlanOptions};
use hardmatch::sources::{self, ReadOptions};
use hardmatch::workbook::{self, InputSummary, ReviewMeta, WriteOptions};
use std::time::{Duration, Instant};

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak RSS so far, in MiB (Linux only).
fn peak_mib() -> f64 {
    status_kib("VmHWM:").map_or(f64::NAN, |k| k as f64 / 1024.0)
}

/// Restart peak-RSS accounting, so the generator's memory is not counted (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU seconds (user + system) used by the process so far: steadier than wall time on a shared
/// machine, and with several threads it shows how much work there was.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the ")" closing the command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        + f.get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
    ticks / 100.0
}

struct Timer {
    start: Instant,
    start_cpu: f64,
    last: Instant,
    last_cpu: f64,
}

impl Timer {
    fn new() -> Self {
        let now = Instant::now();
        let cpu = cpu_secs();
        Timer {
            start: now,
            start_cpu: cpu,
            last: now,
            last_cpu: cpu,
        }
    }

    fn phase(&mut self, name: &str) -> Duration {
        let now = Instant::now();
        let d = now - self.last;
        self.last = now;
        let cpu = cpu_secs();
        println!(
            "  {name:<24}{:>7.2} s wall {:>6.2} s CPU   RSS {:>5.0} MiB, peak {:>5.0} MiB",
            d.as_secs_f64(),
            cpu - self.last_cpu,
            status_kib("VmRSS:").map_or(f64::NAN, |k| k as f64 / 1024.0),
            peak_mib()
        );
        self.last_cpu = cpu;
        d
    }

    fn total(&self) -> Duration {
        self.last - self.start
    }
}

fn rows() -> usize {
    std::env::var("HARDMATCH_BENCH_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

fn counts(p: &plan::Plan) -> String {
    Action::ALL
        .iter()
        .map(|&a| (a, p.count(a)))
        .filter(|(_, n)| *n > 0)
        .map(|(a, n)| format!("{a} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build_only(n: usize) {
    println!("plan::build alone: {n} AD × {n} cloud users (in memory)");
    let ad = synthetic::ad_users(n);
    let cloud = synthetic::cloud_state(n);
    println!("  generated; peak RSS {:.0} MiB", peak_mib());
    let mut t = Timer::new();
    let p = plan::build(&ad, &cloud, &PlanOptions::default());
    t.phase("build (match upn)");
    println!("  {}", counts(&p));
    drop(p);
    let p = plan::build(
        &ad,
        &cloud,
        &PlanOptions {
            match_keys: plan::MatchKeys::UpnMail,
        },
    );
    t.phase("build (match upn-mail)");
    println!("  {}", counts(&p));
}

fn pipeline(n: usize) -> anyhow::Result<()> {
    println!("hardmatch plan pipeline: {n} AD × {n} cloud users");
    let dir = tempfile::tempdir()?;
    let ad_path = dir.path().join("synthetic-ad.csv");
    let cloud_path = dir.path().join("synthetic-cloud.csv");
    let out = dir.path().join("plan.xlsx");
    let g = Instant::now();
    synthetic::write_ad_csv(&ad_path, n)?;
    synthetic::write_cloud_csv(&cloud_path, n)?;
    println!(
        "  generated inputs in {:.1} s ({} + {} MB)",
        g.elapsed().as_secs_f64(),
        std::fs::metadata(&ad_path)?.len() / 1_000_000,
        std::fs::metadata(&cloud_path)?.len() / 1_000_000
    );

    // The same flow as `hardmatch plan` (src/cmd/plan.rs): read, decide, then render and write
    // the rows together.
    reset_peak();
    let mut t = Timer::new();
    // As `hardmatch plan` does (src/cmd/plan.rs): the AD file on a second thread while this one
    // reads the cloud file and indexes it; each sheds what planning never reads.
    let keys = PlanOptions::default().match_keys;
    let read_opts = ReadOptions {
        unread: plan::unread_ad(keys),
        ..ReadOptions::default()
    };
    let ad = {
        let (path, opts) = (ad_path.clone(), read_opts.clone());
        std::thread::spawn(move || -> anyhow::Result<_> {
            let mut ad = sources::read_ad_export(&path, &opts)?;
            plan::shed_unused_ad(&mut ad.users, keys);
            Ok(ad)
        })
    };
    let cloud = hardmatch::cloud::read_cloud_export_unread(&cloud_path, plan::unread_cloud(keys))?;
    // As `plan` does with every --cloud: each user once, by object id.
    let mut cloud = hardmatch::cloud::merge(vec![cloud])?;
    plan::shed_unused_cloud(&mut cloud, keys);
    let idx = plan::CloudIndex::new(&cloud, keys);
    let ad = ad.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    t.phase("read AD + cloud CSVs, index cloud");
    let d = plan::decide_indexed(&ad.users, idx, &PlanOptions::default());
    t.phase("decide");
    let meta = ReviewMeta {
        inputs: vec![InputSummary {
            role: "AD export".into(),
            path: ad.path.display().to_string(),
            sha256: ad.sha256.clone(),
            rows: ad.users.len(),
        }],
        generated_at: "2026-01-01T00:00:00Z".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        warnings: d.warnings.clone(),
        ..ReviewMeta::default()
    };
    let unmatched: Vec<_> = d
        .unmatched_cloud
        .iter()
        .filter_map(|&i| cloud.users.get(i))
        .collect();
    let mut counts = [0usize; Action::ALL.len()];
    plan::with_review_rows(
        &d,
        plan::PreApproval::default(),
        &hardmatch::review::PlanKey::from_bytes([7; 32]),
        |rows| {
            let rows = rows.inspect(|r| {
                if let Some(i) = r
                    .plan
                    .action
                    .and_then(|a| Action::ALL.iter().position(|x| *x == a))
                {
                    counts[i] += 1;
                }
            });
            workbook::write_review_rows(
                &out,
                d.len(),
                rows,
                &unmatched,
                &meta,
                &WriteOptions::default(),
            )
        },
    )?;
    t.phase("render + write workbook");
    let total = t.total();
    let peak = peak_mib();
    let cpu = cpu_secs() - t.start_cpu;
    println!(
        "  {}",
        Action::ALL
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  TOTAL {:.2} s wall, {cpu:.2} s CPU, peak RSS {peak:.0} MiB  (targets at 1M: ≤ 12 s, ≤ 1024 MiB); workbook {} MB",
        total.as_secs_f64(),
        std::fs::metadata(&out)?.len() / 1_000_000
    );
    if let Some(keep) = std::env::var_os("HARDMATCH_BENCH_KEEP") {
        std::fs::copy(&out, &keep)?;
    }
    drop(unmatched);
    drop(d);
    drop(cloud);
    drop(ad);

    reset_peak();
    let r = Timer::new();
    let review = workbook::read_review(&out)?;
    println!(
        "  read back {} rows in {:.2} s wall, {:.2} s CPU, peak RSS {:.0} MiB (target at 1M: ≤ 5 s)",
        review.rows.len(),
        r.start.elapsed().as_secs_f64(),
        cpu_secs() - r.start_cpu,
        peak_mib()
    );
    drop(review);
    if std::env::var_os("HARDMATCH_BENCH_NO_FLOORS").is_none() {
        floors(&out)?;
    }
    Ok(())
}

/// What the workbook's size alone costs, whatever our code does: inflating the Plan sheet's XML,
/// deflating it again, tokenizing it, and calamine's streaming parse of its cells with nothing
/// done to them. These bound what write and read-back can reach with these crates.
fn floors(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    // Sheet 3 is the first Plan sheet (after Instructions and Summary).
    let name = "xl/worksheets/sheet3.xml";
    let t = Timer::new();
    let mut xml = Vec::new();
    zip.by_name(name)?.read_to_end(&mut xml)?;
    println!(
        "  floor: inflate the Plan sheet XML ({} MB, {:.0} bytes/row)  {:.2} s wall",
        xml.len() / 1_000_000,
        xml.len() as f64 / rows() as f64,
        t.start.elapsed().as_secs_f64()
    );
    // Level 1 is the writer's; 2 and 3 show what a smaller file would cost.
    for level in [1, 2, 3] {
        let t = Timer::new();
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .compression_level(Some(level)),
        )?;
        w.write_all(&xml)?;
        let deflated = w.finish()?.into_inner().len();
        println!(
            "  floor: deflate it again at level {level} ({} MB)  {:.2} s wall",
            deflated / 1_000_000,
            t.start.elapsed().as_secs_f64()
        );
    }
    {
        // The XML tokenizer under calamine, with nothing done per event: what one thread
        // parsing the whole sheet costs at the least.
        let t = Timer::new();
        let mut r = quick_xml::Reader::from_reader(&xml[..]);
        let mut starts = 0u64;
        loop {
            match r.read_event()? {
                quick_xml::events::Event::Start(_) => starts += 1,
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        println!(
            "  floor: quick-xml tokenizes it on one thread ({starts} start tags)  {:.2} s wall",
            t.start.elapsed().as_secs_f64()
        );
    }
    drop(xml);
    let t = Timer::new();
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path)?;
    let mut cells = 0u64;
    {
        let mut reader = wb.worksheet_cells_reader("Plan")?;
        while let Some(c) = reader.next_cell()? {
            cells += u64::from(!matches!(c.get_value(), calamine::DataRef::Empty));
        }
    }
    println!(
        "  floor: calamine streams the Plan sheet's {cells} non-empty cells  {:.2} s wall, {:.2} s CPU",
        t.start.elapsed().as_secs_f64(),
        cpu_secs() - t.start_cpu
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and must stay fast.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = if benching { rows() } else { 1000 };
    if let Some(dir) = std::env::var_os("HARDMATCH_BENCH_WRITE_INPUTS") {
        // Only write the inputs, to time the CLI itself on them.
        let dir = std::path::PathBuf::from(dir);
        synthetic::write_ad_csv(&dir.join("synthetic-ad.csv"), n)?;
        synthetic::write_cloud_csv(&dir.join("synthetic-cloud.csv"), n)?;
        println!("wrote {n} AD and {n} cloud users to {}", dir.display());
        return Ok(());
    }
    match std::env::var("HARDMATCH_BENCH_PHASES").as_deref() {
        Ok("build") => build_only(n),
        _ => pipeline(n)?,
    }
    Ok(())
}
