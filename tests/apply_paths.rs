//! apply's other paths against the simulated tenant: the tenant-wide block flag (exit 3, nothing
//! sent), a workbook re-saved by another application (its own styles, shared strings, sorted
//! rows, a reviewer's column and sheet), a workbook that cannot be replaced (journal, then
//! `--resume`), and every row finishing under injected faults and 60-second tokens.

mod apply_support;

use apply_support::*;
use hardmatch::graph::Clock;
use hardmatch::review::{Approval, ReviewRow, Status};
use hardmatch::sim::{Faults, SimConfig, TenantState, ThrottleQuotas};
use hardmatch::workbook::schema::{CellValue, PLAN_COLUMNS};

fn small(n: u32) -> (TenantState, Vec<hardmatch::sources::AdUser>) {
    let users = (1..=n)
        .map(|i| cloud_user(i, &format!("u{i:04}@contoso.com"), None))
        .collect();
    let ad = (1..=n)
        .map(|i| ad_user(i, &format!("u{i:04}@contoso.com")))
        .collect();
    (
        TenantState {
            users,
            ..TenantState::default()
        },
        ad,
    )
}

#[test]
fn the_hard_match_block_flag_stops_apply_before_any_write_with_exit_3() {
    let (mut state, ad) = small(3);
    state
        .on_premises_synchronization
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let w = World::new(state);
    w.plan(&ad, |_| Approval::Yes);
    let before = sha256(&w.workbook);
    w.sim.clear_requests();
    let r = w.apply(|_| {});
    assert_eq!(r.exit_code(), 3);
    let hardmatch::apply::Outcome::TenantRefused(why) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(
        why.contains("BlockCloudObjectTakeoverThroughHardMatchEnabled") && why.contains("back on"),
        "{why}"
    );
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(sha256(&w.workbook), before, "the workbook is untouched");

    // The same through the command line: exit code 3 and the explanation on stderr.
    let out = w.cli("apply", &w.workbook).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("BlockCloudObjectTakeoverThroughHardMatchEnabled"),
        "{stderr}"
    );
    assert!(w.writes().is_empty());
}

/// Writes `rows` the way another spreadsheet program saves them: shared strings, its own fonts
/// and fills, no text formats, the columns in another order, rows sorted by UPN descending, a
/// reviewer's "Ticket" column and "CAB notes" sheet.
fn resave_elsewhere(path: &std::path::Path, rows: &[ReviewRow]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new()
        .set_bold()
        .set_font_name("Liberation Sans")
        .set_background_color(rust_xlsxwriter::Color::RGB(0xDDEEFF));
    let plain = rust_xlsxwriter::Format::new().set_font_name("Liberation Sans");
    wb.add_worksheet()
        .set_name("CAB notes")
        .unwrap()
        .write_string(0, 0, "approved in CAB 2026-12-01")
        .unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("Plan").unwrap();
    let mut order: Vec<usize> = (0..PLAN_COLUMNS.len()).collect();
    order.reverse();
    for (c, &i) in order.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, PLAN_COLUMNS[i].header, &bold)
            .unwrap();
    }
    let ticket = order.len() as u16;
    ws.write_string_with_format(0, ticket, "Ticket", &bold)
        .unwrap();
    let mut sorted: Vec<&ReviewRow> = rows.iter().collect();
    sorted.sort_by(|a, b| b.plan.upn.cmp(&a.plan.upn));
    for (r, row) in sorted.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, &i) in order.iter().enumerate() {
            match PLAN_COLUMNS[i].field.value(row) {
                CellValue::Text(t) => ws
                    .write_string_with_format(r, c as u16, t.as_ref(), &plain)
                    .map(|_| ()),
                CellValue::Number(n) => ws
                    .write_number_with_format(r, c as u16, n, &plain)
                    .map(|_| ()),
                CellValue::Empty => Ok(()),
            }
            .unwrap();
        }
        ws.write_string(r, ticket, format!("CHG{r:04}")).unwrap();
    }
    wb.save(path).unwrap();
}

#[test]
fn a_workbook_resaved_by_another_application_is_applied_row_by_row_id() {
    let (state, ad) = small(6);
    let w = World::new(state);
    let rows = w.plan(&ad, |r| {
        if r.plan.row_id % 2 == 1 {
            Approval::Yes
        } else {
            Approval::No
        }
    });
    resave_elsewhere(&w.workbook, &rows);
    let r = w.apply(|_| {});
    assert_eq!(r.exit_code(), 0, "{:#?}", r.rows);
    for n in 1..=6u32 {
        let expected = (n % 2 == 1).then(|| iid(n));
        assert_eq!(w.immutable_id_of(n), expected, "user {n}");
    }
    let back = w.read();
    for n in 1..=6u32 {
        let row = row_by_upn(&back, &format!("u{n:04}@contoso.com"));
        let want = if n % 2 == 1 {
            Status::Done
        } else {
            Status::Empty
        };
        assert_eq!(row.status, want, "row {n}");
    }
    // What the reviewer added is named, and kept in the backup.
    assert!(
        r.not_carried.iter().any(|x| x.contains("CAB notes"))
            && r.not_carried.iter().any(|x| x.contains("Ticket")),
        "{:?}",
        r.not_carried
    );
    let bak = w.dir.path().join("plan.bak.xlsx");
    let kept = hardmatch::workbook::read_review(&bak).unwrap();
    assert!(kept.foreign.iter().any(|x| x.contains("Ticket")));
}

#[test]
fn a_workbook_that_cannot_be_replaced_keeps_every_result_in_the_journal_until_resume() {
    let (state, ad) = small(4);
    let w = World::new(state);
    w.plan(&ad, |_| Approval::Yes);
    // Something in the way of the new workbook beside the old one (as a file Excel holds open
    // is in the way on Windows; tests run as root here, so permissions would not stop it).
    let bak = w.dir.path().join(".plan.xlsx.new.xlsx");
    std::fs::create_dir(&bak).unwrap();
    std::fs::write(bak.join("x"), "x").unwrap();
    let r = w.apply(|_| {});
    assert_eq!(r.exit_code(), 1);
    let why = r.write_back_error.clone().expect("write-back failed");
    assert!(why.contains("cannot write the new workbook"), "{why}");
    assert!(
        w.read().iter().all(|x| x.status == Status::Empty),
        "not rewritten"
    );
    assert_eq!(
        w.immutable_id_of(1),
        Some(iid(1)),
        "but the tenant was changed"
    );
    assert!(
        !w.dir.path().join("plan.bak.xlsx").exists(),
        "no backup of a workbook that was not replaced"
    );

    // Once the obstacle is gone, --resume writes the journal's results in; nothing is sent.
    std::fs::remove_dir_all(&bak).unwrap();
    w.sim.clear_requests();
    let resumed = hardmatch::apply::run(
        &hardmatch::apply::Options {
            resume: true,
            ..w.options(hardmatch::apply::Command::Apply)
        },
        &w.key,
        None,
    )
    .unwrap();
    assert_eq!(resumed.exit_code(), 0, "{:#?}", resumed.rows);
    assert!(w.sim.requests().is_empty());
    let back = w.read();
    assert!(back.iter().all(|x| x.status == Status::Done), "{back:#?}");
    assert!(back
        .iter()
        .all(|x| x.previous_immutable_id.as_deref() == Some("")));
    let review = hardmatch::workbook::read_review(&w.workbook).unwrap();
    assert_eq!(review.meta.runs.len(), 1);
    assert!(review.meta.runs[0].command.contains("resumed"));
    // A rerun now has nothing to do and sends nothing.
    let again = w.apply(|_| {});
    assert_eq!(again.exit_code(), 0);
    assert!(w.writes().is_empty());
    // A second --resume finds nothing the workbook lacks, and says so (not "no row approved").
    let twice = hardmatch::apply::run(
        &hardmatch::apply::Options {
            resume: true,
            ..w.options(hardmatch::apply::Command::Apply)
        },
        &w.key,
        None,
    )
    .unwrap();
    assert!(twice.resumed && twice.rows.is_empty(), "{:#?}", twice.rows);
    assert_eq!(twice.exit_code(), 0);
}

#[test]
fn every_row_finishes_under_429s_503s_resets_and_60_second_tokens() {
    const N: u32 = 1_000;
    let (state, ad) = small(N);
    let config = SimConfig {
        faults: Faults {
            p429: 0.10,
            p503: 0.02,
            // The 1 %, tripled: a run makes a few hundred connections, and at 1 % some
            // runs would see none.
            reset: 0.03,
            ..Faults::default()
        },
        token_lifetime_secs: 60,
        // Simulated time runs 1,000 times faster: Retry-After and token lifetimes shrink with it.
        time_scale: 1000.0,
        throttle: ThrottleQuotas {
            enabled: false,
            ..ThrottleQuotas::default()
        },
        ..sim_config()
    };
    let w = World::with_config(config.clone(), state);
    // Plan without faults, so the test is about apply.
    w.sim.set_faults(Faults::default());
    w.plan(&ad, |_| Approval::Yes);
    w.sim.set_faults(config.faults.clone());
    let mut graph = w.graph();
    graph.clock = Clock::scaled(0.001);
    graph.retry.max_attempts = 8;
    let mut o = w.options(hardmatch::apply::Command::Apply);
    o.verify = true;
    let r = hardmatch::apply::run(&o, &w.key, Some(graph)).unwrap();
    let stats = w.sim.stats();
    assert!(
        stats.faults_429 > 0 && stats.faults_503 > 0 && stats.resets > 0,
        "{stats:?}"
    );
    assert!(stats.token_requests > 1, "tokens were refreshed: {stats:?}");
    // Rows whose answer was lost are settled by a rerun, which reads them back first.
    let r = if r.exit_code() == 0 {
        r
    } else {
        assert!(
            r.rows
                .iter()
                .all(|x| x.status == "Done" || x.status == "In doubt"),
            "{:#?}",
            r.rows
                .iter()
                .filter(|x| x.status != "Done")
                .collect::<Vec<_>>()
        );
        let graph = {
            let mut g = w.graph();
            g.clock = Clock::scaled(0.001);
            g.retry.max_attempts = 8;
            g
        };
        hardmatch::apply::run(
            &w.options(hardmatch::apply::Command::Apply),
            &w.key,
            Some(graph),
        )
        .unwrap()
    };
    assert_eq!(
        r.exit_code(),
        0,
        "{:#?}",
        r.rows
            .iter()
            .filter(|x| x.status != "Done")
            .collect::<Vec<_>>()
    );
    for n in 1..=N {
        assert_eq!(w.immutable_id_of(n), Some(iid(n)), "user {n}");
    }
}
