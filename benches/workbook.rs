//! Write N synthetic review rows, read them back, and print seconds and peak RSS.
//!
//! `HARDMATCH_BENCH_ROWS=200000 cargo bench --bench workbook` (default 1,000,000 rows).
//! `HARDMATCH_BENCH_SHEET_ROWS` sets rows per Plan sheet (default Excel's limit).
//! Target: reading a 1M-row plan back in ≤ 5 s. `HARDMATCH_BENCH_OUT=plan.xlsx` keeps the file.

use hardmatch::plan::{Action, MatchedBy, PlanRow};
use hardmatch::review::{PlanKey, ReviewRow};
use hardmatch::workbook::{read_review, write_review, ReviewMeta, WriteOptions};

/// The fingerprint `plan` would write, under a fixed test key.
fn fingerprint(plan: &PlanRow) -> String {
    PlanKey::from_bytes([7; 32]).sign(plan)
}
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// This process's user+system CPU seconds, so a busy shared machine does not hide the cost.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn row(i: u64) -> ReviewRow {
    let action = Action::ALL[(i % 10) as usize];
    let plan = PlanRow {
        row_id: i,
        action: Some(action),
        reason: "The cloud user is cloud-only and has no ImmutableId.".into(),
        checks: if i.is_multiple_of(7) {
            vec!["display name differs".into()]
        } else {
            Vec::new()
        },
        upn: format!("user{i}@contoso.com"),
        onprem_guid: format!("0b7a1c2e-3d4f-4a5b-8c9d-{i:012x}"),
        new_immutable_id: format!("LhxaC089W0qMnQ4f{:08}", i % 100_000_000),
        cloud_object_id: format!("{:08x}-1111-2222-3333-444455556666", i),
        cloud_upn: format!("user{i}@contoso.com"),
        cloud_immutable_id: String::new(),
        holder_object_id: String::new(),
        mail_onprem: format!("user{i}@contoso.com"),
        mail_cloud: format!("user{i}@contoso.com"),
        display_name_onprem: format!("User {i}"),
        display_name_cloud: format!("User {i}"),
        matched_by: Some(MatchedBy::Upn),
        source: format!("ad.csv:{}", i + 1),
    };
    ReviewRow {
        fingerprint: fingerprint(&plan),
        plan,
        ..ReviewRow::default()
    }
}

fn main() {
    let n: u64 = std::env::var("HARDMATCH_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Rows per Plan sheet; more than one sheet is read back in parallel.
    let sheet_rows: u32 = std::env::var("HARDMATCH_BENCH_SHEET_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WriteOptions::default().max_rows_per_sheet);
    let dir = tempfile::tempdir().expect("temp dir");
    // HARDMATCH_BENCH_OUT keeps the workbook for a look in Excel.
    let path = std::env::var_os("HARDMATCH_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("plan.xlsx"));

    let t = Instant::now();
    let rows: Vec<ReviewRow> = (1..=n).map(row).collect();
    let gen = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let c = cpu_seconds();
    write_review(
        &path,
        &rows,
        &[],
        &ReviewMeta::default(),
        &WriteOptions {
            max_rows_per_sheet: sheet_rows,
        },
    )
    .expect("write");
    let write = t.elapsed().as_secs_f64();
    let write_cpu = cpu_seconds() - c;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let rss_after_write = peak_rss_mib();
    drop(rows);

    let t = Instant::now();
    let c = cpu_seconds();
    let review = read_review(&path).expect("read");
    let read = t.elapsed().as_secs_f64();
    let read_cpu = cpu_seconds() - c;
    assert_eq!(review.rows.len() as u64, n);
    drop(review);

    // The floor: calamine's streaming reader alone, touching every cell of the Plan sheet.
    let t = Instant::now();
    let c = cpu_seconds();
    let mut xlsx: calamine::Xlsx<_> = calamine::open_workbook(&path).expect("open");
    let mut cells = 0u64;
    let mut reader = xlsx.worksheet_cells_reader("Plan").expect("Plan");
    while let Some(cell) = reader.next_cell().expect("cell") {
        cells += u64::from(!matches!(cell.get_value(), calamine::DataRef::Empty));
    }
    let floor = t.elapsed().as_secs_f64();
    let floor_cpu = cpu_seconds() - c;

    println!("rows                 {n} ({sheet_rows} per Plan sheet)");
    println!("generate rows        {gen:.2} s");
    println!(
        "write_review         {write:.2} s wall, {write_cpu:.2} s CPU  ({:.1} MB file)",
        size as f64 / 1e6
    );
    println!("peak RSS after write {rss_after_write:.0} MiB (includes the rows in memory)");
    println!("read_review          {read:.2} s wall, {read_cpu:.2} s CPU");
    println!(
        "calamine stream only {floor:.2} s wall, {floor_cpu:.2} s CPU  ({cells} non-empty cells)"
    );
    println!("peak RSS overall     {:.0} MiB", peak_rss_mib());
}
