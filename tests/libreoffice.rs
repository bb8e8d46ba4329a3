//! The review workbook in a real spreadsheet application, LibreOffice Calc:
//! - every workbook the tool writes (plan, template, cloud export, a plan with apply's results)
//!   opens without a repair offer or an import warning;
//! - a plan reviewed there (unprotected, Approve/Revert/Comment typed in, sorted, protected
//!   again, saved as xlsx) reads back with `read_review` to the same rows, approvals and
//!   fingerprints, which is what `apply` meets in practice;
//! - the sample plan exported to PDF takes at most 8 pages, and each Plan page carries the board
//!   columns, and only those;
//! - every sheet is set to print one page wide, and the Summary's charts show LibreOffice the
//!   counts the tables hold;
//! - a template filled in there, typed as at the keyboard (digits-only GUIDs included), plans
//!   to the ImmutableIds those GUIDs give, with the typed Approve and Comment carried.
//!
//! One soffice process does all of it: the inputs are made first, then soffice runs
//! tests/libreoffice/driver.py as a macro from a throw-away profile, and the tests share its
//! results. Without soffice (or its Python script provider) the tests are skipped with the
//! reason printed; in CI (`CI` set) that is a failure instead. `.ci/run` installs what they need.

use hardmatch::review::{Approval, PlanKey, ReviewRow, Status, Verdict};
use hardmatch::workbook::schema::{board_columns, PLAN_COLUMNS};
use hardmatch::workbook::{read_review, write_review, Review, WriteOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long the one soffice run may take before it is killed (it takes about 5 s here).
const SOFFICE_TIMEOUT: Duration = Duration::from_secs(300);
/// The bound for the printed sample plan (it was 50 pages).
const MAX_PAGES: usize = 8;

/// The files of one session, all in its temporary directory.
struct Session {
    dir: tempfile::TempDir,
    key: PlanKey,
    /// The `inspect` / `review` / `pdf` answer per job id.
    results: Value,
    /// What was written into `applied.xlsx` before LibreOffice saw it.
    applied: Review,
    /// What the reviewer typed in LibreOffice, per column, Row id → value.
    edits: BTreeMap<&'static str, BTreeMap<u64, &'static str>>,
}

impl Session {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn result(&self, id: &str) -> &Value {
        let r = &self.results[id];
        assert_eq!(r["ok"], json!(true), "LibreOffice job {id}: {r:#}");
        r
    }
}

enum Unavailable {
    /// soffice (or a part it needs) is not installed: skip, or fail in CI.
    Missing(String),
    /// It is installed but the run failed: always a failure.
    Failed(String),
}

static SESSION: OnceLock<Result<Session, Unavailable>> = OnceLock::new();

/// The shared LibreOffice session, or `None` (with the reason printed) when the tests must skip.
fn session() -> Option<&'static Session> {
    match SESSION.get_or_init(start) {
        Ok(s) => Some(s),
        Err(Unavailable::Failed(why)) => panic!("{why}"),
        Err(Unavailable::Missing(why)) => {
            let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            assert!(
                !in_ci,
                "CI is set, so the LibreOffice tests must run, but {why}"
            );
            say_once_skipped(&format!("the LibreOffice tests are skipped: {why}"));
            None
        }
    }
}

/// Written straight to stderr, which the test harness does not capture, so a skip is seen in a
/// plain `cargo test` run; once, not once per test.
fn say_once_skipped(why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    });
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `soffice` on PATH (or `HARDMATCH_SOFFICE`), with the Python script provider beside it.
fn find_soffice() -> Result<PathBuf, Unavailable> {
    let soffice = match std::env::var_os("HARDMATCH_SOFFICE") {
        Some(p) if Path::new(&p).is_file() => PathBuf::from(p),
        Some(p) => {
            return Err(Unavailable::Missing(format!(
                "HARDMATCH_SOFFICE names {}, which is not a file",
                Path::new(&p).display()
            )))
        }
        None => std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("soffice"))
                    .find(|p| p.is_file())
            })
            .ok_or_else(|| {
                Unavailable::Missing(
                    "soffice is not on PATH (Debian: apt-get install libreoffice-calc-nogui \
                     libreoffice-script-provider-python poppler-utils)"
                        .into(),
                )
            })?,
    };
    let program = std::fs::canonicalize(&soffice)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    if !program.is_some_and(|d| d.join("pythonscript.py").is_file()) {
        return Err(Unavailable::Missing(format!(
            "{} has no Python script provider next to it (Debian: apt-get install \
             libreoffice-script-provider-python)",
            soffice.display()
        )));
    }
    Ok(soffice)
}

fn hardmatch(dir: &Path, args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hardmatch"))
        .args(args)
        .env("HARDMATCH_KEY_FILE", dir.join("plan.key"))
        .output()
        .expect("run hardmatch");
    assert!(
        out.status.success(),
        "hardmatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sample plan with results as apply would record them: every Status, a Previous
/// ImmutableId with and without a value, a long Graph error, a comment over two lines.
fn with_results(mut review: Review) -> Review {
    for row in &mut review.rows {
        let id = row.plan.row_id;
        let (status, result) = match id {
            1 | 2 => (Status::Done, "Set onPremisesImmutableId."),
            5 => (
                Status::Failed,
                "Request_BadRequest: Another object with the same value for property \
                 onPremisesImmutableId already exists. request-id 7d0c3c9e-1d2b-4c39-9a4c-\
                 2f4e9b1a0c55, client-request-id 0b5c9f57-6b3e-4d83-9d0b-6f7a1e2c3d4e",
            ),
            9 => (Status::Skipped, "The cloud user is synced now."),
            11 => (Status::Refused, "Edited after planning."),
            12 => (Status::InDoubt, "No answer from Graph; read back first."),
            13 => (Status::Other("maybe".into()), ""),
            _ => continue,
        };
        row.status = status;
        row.result = result.into();
        row.applied_at = "2026-12-06T18:00:00Z".into();
        row.attempts = 1 + (id % 3) as u32;
        row.previous_immutable_id = match id {
            1 => Some(String::new()),
            2 => Some("+/old/ImmutableId==".into()),
            _ => None,
        };
    }
    review.rows[3].comment = "checked by the service desk\nsecond line".into();
    review
}

fn start() -> Result<Session, Unavailable> {
    let soffice = find_soffice()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let os = |s: &str| std::ffi::OsString::from(s);

    // The workbooks the tool writes.
    let plan = d.join("plan.xlsx");
    hardmatch(
        d,
        &[
            &os("plan"),
            repo("samples/ad-users.csv").as_os_str(),
            &os("--cloud"),
            repo("samples/cloud-users.csv").as_os_str(),
            &os("-o"),
            plan.as_os_str(),
        ],
    );
    hardmatch(
        d,
        &[
            &os("template"),
            &os("-o"),
            d.join("template.xlsx").as_os_str(),
        ],
    );
    let cloud = hardmatch::cloud::read_cloud_export(&repo("samples/cloud-users.csv"))
        .expect("read the sample cloud export");
    let snapshot = hardmatch::cloud::export::SnapshotInfo {
        tenant: "contoso.onmicrosoft.com".into(),
        graph: "https://graph.microsoft.com/v1.0".into(),
        read_at: "2026-01-01T00:00:00Z".into(),
        roles_read: true,
        tool_version: "test".into(),
        ..Default::default()
    };
    hardmatch::cloud::export::write_export(&d.join("cloud.xlsx"), &cloud, &snapshot)
        .expect("write a cloud snapshot");
    let applied = with_results(read_review(&plan).expect("read the sample plan"));
    let unmatched: Vec<_> = applied.unmatched.iter().collect();
    write_review(
        &d.join("applied.xlsx"),
        &applied.rows,
        &unmatched,
        &applied.meta,
        &WriteOptions::default(),
    )
    .expect("write the applied plan");

    let edits: BTreeMap<&str, BTreeMap<u64, &str>> = BTreeMap::from([
        (
            "Approve",
            BTreeMap::from([(3, "Yes"), (4, "Yes"), (7, "Yes"), (8, "No")]),
        ),
        ("Revert", BTreeMap::from([(2, "Yes")])),
        (
            "Comment",
            BTreeMap::from([(6, "CAB 2026-12-06: ok & \"go\"; <b>")]),
        ),
    ]);
    // A damaged copy, which LibreOffice offers to repair: proof that its questions are seen.
    let bytes = std::fs::read(&plan).expect("plan");
    std::fs::write(d.join("damaged.xlsx"), &bytes[..bytes.len() - 200]).expect("damaged");

    let file = |n: &str| d.join(n).to_string_lossy().into_owned();
    let inspected = ["plan", "template", "cloud", "applied", "damaged"];
    let mut jobs: Vec<Value> = inspected
        .iter()
        .map(|n| json!({"id": n, "op": "inspect", "input": file(&format!("{n}.xlsx"))}))
        .collect();
    jobs.push(json!({
        "id": "review", "op": "review", "sheet": "Plan",
        "input": file("applied.xlsx"), "output": file("reviewed.xlsx"),
        "set": edits, "sort_by": "UPN", "descending": true,
    }));
    jobs.push(json!({
        "id": "fill", "op": "fill", "sheet": "Users",
        "input": file("template.xlsx"), "output": file("filled.xlsx"),
        "rows": TYPED_INTO_TEMPLATE
            .iter()
            .map(|(upn, guid, approve, comment)| json!({
                "UserPrincipalName": upn, "objectGUID": guid, "Approve": approve, "Comment": comment,
            }))
            .collect::<Vec<_>>(),
    }));
    jobs.push(
        json!({"id": "pdf", "op": "pdf", "input": file("plan.xlsx"), "output": file("plan.pdf")}),
    );

    let results = run_soffice(&soffice, d, &jobs)?;
    let key = PlanKey::load(&d.join("plan.key")).expect("the plan key");
    Ok(Session {
        dir,
        key,
        results,
        applied,
        edits,
    })
}

/// One soffice start in a fresh profile, with the driver installed as a user macro.
fn run_soffice(soffice: &Path, d: &Path, jobs: &[Value]) -> Result<Value, Unavailable> {
    let scripts = d.join("profile/user/Scripts/python");
    std::fs::create_dir_all(&scripts).expect("profile");
    std::fs::write(
        scripts.join("hardmatch_driver.py"),
        include_str!("libreoffice/driver.py"),
    )
    .expect("driver");
    let jobs_file = d.join("jobs.json");
    let results_file = d.join("results.json");
    std::fs::write(&jobs_file, serde_json::to_vec_pretty(jobs).expect("json")).expect("jobs");
    let profile = format!("file://{}", d.join("profile").display());

    let mut cmd = Command::new(soffice);
    cmd.args([
        "--headless",
        "--invisible",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        &format!("-env:UserInstallation={profile}"),
        "vnd.sun.star.script:hardmatch_driver.py$run?language=Python&location=user",
    ])
    .env("HARDMATCH_LO_JOBS", &jobs_file)
    .env("HARDMATCH_LO_RESULTS", &results_file)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // soffice starts soffice.bin as a child: a group of its own lets a hung run be killed whole.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .spawn()
        .map_err(|e| Unavailable::Missing(format!("cannot start {}: {e}", soffice.display())))?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(SOFFICE_TIMEOUT) {
        Ok(out) => out.expect("wait for soffice"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            return Err(Unavailable::Failed(format!(
                "soffice did not finish within {SOFFICE_TIMEOUT:?} and was killed"
            )));
        }
    };
    let text = std::fs::read_to_string(&results_file).map_err(|e| {
        Unavailable::Failed(format!(
            "the LibreOffice driver wrote no results ({e}); soffice exited with {}.\n\
             stdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    let results: Value = serde_json::from_str(&text).expect("results are JSON");
    if let Some(e) = results.get("(driver)") {
        return Err(Unavailable::Failed(format!(
            "the LibreOffice driver failed: {e:#}"
        )));
    }
    Ok(results)
}

#[test]
fn libreoffice_opens_every_workbook_the_tool_writes_without_repair_or_warning() {
    let Some(s) = session() else { return };
    // The check can fail: a damaged file is offered for repair, and that is recorded.
    let damaged = s.result("damaged");
    assert_ne!(damaged["interactions"], json!([]), "{damaged:#}");
    for id in ["plan", "template", "cloud", "applied"] {
        let r = s.result(id);
        assert_eq!(r["loaded"], json!(true), "{id}.xlsx: {r:#}");
        assert_eq!(
            r["interactions"],
            json!([]),
            "{id}.xlsx: LibreOffice asked or warned: {:#}",
            r["interactions"]
        );
    }
    // What a reviewer does and saves is also opened without a question.
    assert_eq!(s.result("review")["interactions"], json!([]));
    assert_eq!(s.result("pdf")["interactions"], json!([]));
    let sheets = |id: &str| -> Vec<String> {
        s.result(id)["sheets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sh| sh["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        sheets("plan"),
        ["Instructions", "Summary", "Plan", "Unmatched cloud users"]
    );
    assert_eq!(sheets("template"), ["Users", "Instructions"]);
    assert_eq!(sheets("cloud"), ["Users", "Deleted users", "Tenant"]);
}

#[test]
fn a_plan_reviewed_and_resaved_in_libreoffice_reads_back_to_the_same_rows() {
    let Some(s) = session() else { return };
    s.result("review");
    let back = read_review(&s.path("reviewed.xlsx")).expect("LibreOffice's xlsx reads back");
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);

    let mut expected: Vec<ReviewRow> = s.applied.rows.clone();
    for row in &mut expected {
        let id = row.plan.row_id;
        if let Some(v) = s.edits["Approve"].get(&id) {
            row.approve = Approval::parse(v);
        }
        if let Some(v) = s.edits["Revert"].get(&id) {
            row.revert = Approval::parse(v);
        }
        if let Some(v) = s.edits["Comment"].get(&id) {
            row.comment = v.to_string();
        }
    }
    assert_eq!(back.rows.len(), expected.len());
    for (got, want) in back.rows.iter().zip(&expected) {
        assert_eq!(got, want, "row {}", want.plan.row_id);
        // apply's check: every planned value is exactly what plan signed.
        assert_eq!(
            s.key.verify(&got.plan, &got.fingerprint),
            Verdict::Valid,
            "row {}",
            got.plan.row_id
        );
    }
    let yes: Vec<u64> = back
        .rows
        .iter()
        .filter(|r| r.approve == Approval::Yes)
        .map(|r| r.plan.row_id)
        .collect();
    assert_eq!(yes, [3, 4, 7], "exactly the approvals typed in LibreOffice");
    assert_eq!(back.meta.inputs, s.applied.meta.inputs);
    assert_eq!(back.meta.generated_at, s.applied.meta.generated_at);
    assert_eq!(back.unmatched, s.applied.unmatched);

    // The sort really happened: the sheet's rows are no longer in Row id order.
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(s.path("reviewed.xlsx")).unwrap();
    use calamine::Reader;
    let range = wb.worksheet_range("Plan").unwrap();
    let ids: Vec<String> = range.rows().skip(1).map(|r| r[0].to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| id.parse::<u64>().unwrap_or(0));
    assert_ne!(ids, sorted, "LibreOffice sorted the rows by UPN");
}

/// What an admin types into the template in LibreOffice: UPN, objectGUID, Approve, Comment. The
/// GUIDs are the forms the template promises, two of them digits only, which Calc would turn
/// into numbers in a cell not formatted as text.
const TYPED_INTO_TEMPLATE: &[(&str, &str, &str, &str)] = &[
    (
        "adele.vance@fabrikam.com",
        "12345678123412341234123456789012",
        "Yes",
        "CAB-42",
    ),
    (
        "alex.wilber@fabrikam.com",
        "00112233-4455-6677-8899-aabbccddeeff",
        "yes",
        "",
    ),
    (
        "lee.gu@fabrikam.com",
        "11111111-2222-3333-4444-555555555555",
        "",
        "ask Lee first",
    ),
];

#[test]
fn a_template_filled_in_libreoffice_plans_to_the_guids_typed_with_their_approvals() {
    let Some(s) = session() else { return };
    let fill = s.result("fill");
    assert_eq!(
        fill["formats"]["objectGUID"],
        json!("@"),
        "LibreOffice sees the template's objectGUID column as Text: {fill:#}"
    );
    assert_eq!(fill["interactions"], json!([]), "{fill:#}");
    let d = s.dir.path();
    let os = std::ffi::OsStr::new;
    hardmatch(
        d,
        &[
            os("plan"),
            s.path("filled.xlsx").as_os_str(),
            os("--cloud"),
            repo("samples/cloud-users.csv").as_os_str(),
            // The sample cloud export has no PrivilegedRoles column.
            os("--unchecked-ok"),
            os("-o"),
            s.path("from-template.xlsx").as_os_str(),
        ],
    );
    let plan = read_review(&s.path("from-template.xlsx")).expect("the plan of the template");
    assert_eq!(plan.rows.len(), TYPED_INTO_TEMPLATE.len());
    for (upn, guid, approve, comment) in TYPED_INTO_TEMPLATE {
        let row = plan
            .rows
            .iter()
            .find(|r| r.plan.upn == *upn)
            .unwrap_or_else(|| panic!("{upn} planned"));
        let uuid = uuid::Uuid::parse_str(guid).expect("a GUID");
        let want = hardmatch::anchor::SourceAnchor::from_guid(uuid).immutable_id();
        assert_eq!(
            row.plan.new_immutable_id, want,
            "{upn}: the GUID typed as {guid}: {:?} {}",
            row.plan.action, row.plan.reason
        );
        assert_eq!(
            row.plan.action,
            Some(hardmatch::review::Action::Set),
            "{upn}"
        );
        let approved = if approve.is_empty() {
            Approval::Empty
        } else {
            Approval::Yes
        };
        assert_eq!(row.approve, approved, "{upn}");
        assert_eq!(row.comment, *comment, "{upn}");
    }
}

/// The PDF's pages as text, laid out, and the sheet each page belongs to (its header's centre).
fn pdf_pages(pdf: &Path) -> Option<Vec<(String, String)>> {
    let out = match Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            assert!(!in_ci, "CI is set but pdftotext cannot run: {e}");
            say_once_skipped(&format!(
                "the LibreOffice print test is skipped: pdftotext cannot run ({e}); Debian: \
                 apt-get install poppler-utils"
            ));
            return None;
        }
    };
    assert!(out.status.success(), "pdftotext failed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut pages: Vec<&str> = text.split('\u{c}').collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Some(
        pages
            .into_iter()
            .map(|p| {
                let header = p.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                let parts: Vec<&str> = header
                    .split("  ")
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .collect();
                let sheet = parts.get(1).copied().unwrap_or("").to_string();
                (sheet, p.to_string())
            })
            .collect(),
    )
}

#[test]
fn the_sample_plan_prints_on_a_few_pages_each_with_the_board_columns() {
    let Some(s) = session() else { return };
    s.result("pdf");
    let Some(pages) = pdf_pages(&s.path("plan.pdf")) else {
        return;
    };
    let n = pages.len();
    assert!(
        (4..=MAX_PAGES).contains(&n),
        "{n} pages (at most {MAX_PAGES}; at least one per sheet)"
    );
    let generated = &read_review(&s.path("plan.xlsx")).unwrap().meta.generated_at;
    for (i, (sheet, text)) in pages.iter().enumerate() {
        assert!(text.contains("plan.xlsx"), "page {}: the file name", i + 1);
        assert!(
            text.contains(&format!("Plan generated {generated}")),
            "page {}",
            i + 1
        );
        assert!(
            text.contains(&format!("Page {} of {n}", i + 1)),
            "page {}: {text}",
            i + 1
        );
        assert!(!sheet.is_empty(), "page {}: the sheet's name", i + 1);
    }
    let sheets: Vec<&str> = pages.iter().map(|(s, _)| s.as_str()).collect();
    for name in ["Instructions", "Summary", "Plan", "Unmatched cloud users"] {
        assert!(sheets.contains(&name), "{name} printed: {sheets:?}");
    }
    assert_eq!(
        sheets.iter().filter(|s| **s == "Instructions").count(),
        1,
        "the Instructions fit one page"
    );

    let plan_pages: Vec<&str> = pages
        .iter()
        .filter(|(sheet, _)| sheet == "Plan")
        .map(|(_, t)| t.as_str())
        .collect();
    for (i, text) in plan_pages.iter().enumerate() {
        // The repeated header row: the board's headers, left to right, and nothing else.
        let header = text
            .lines()
            .find(|l| l.trim_start().starts_with("Row id"))
            .unwrap_or_else(|| panic!("Plan page {}: no header row in {text}", i + 1));
        // In order, left to right; the detail columns' headers are not there.
        let mut at = 0;
        for c in &PLAN_COLUMNS[..board_columns()] {
            let found = header[at..].find(c.header).unwrap_or_else(|| {
                panic!(
                    "Plan page {}: no {} after column {at} in {header}",
                    i + 1,
                    c.header
                )
            });
            at += found + c.header.len();
        }
        assert!(
            header[at..].trim().is_empty(),
            "Plan page {}: more after Comment: {header}",
            i + 1
        );
        // Detail headers (whose words may also occur in the rows' text) are not on paper.
        for c in &PLAN_COLUMNS[board_columns()..] {
            if c.header.contains(' ') {
                assert!(
                    !text.contains(c.header),
                    "Plan page {}: {} printed",
                    i + 1,
                    c.header
                );
            }
        }
    }
    // Every row made it onto paper, whole: its UPN and its new ImmutableId.
    let all: String = plan_pages.concat();
    for row in &read_review(&s.path("plan.xlsx")).unwrap().rows {
        assert!(all.contains(&row.plan.upn), "{}", row.plan.upn);
        assert!(
            all.contains(&row.plan.new_immutable_id),
            "row {}: {}",
            row.plan.row_id,
            row.plan.new_immutable_id
        );
    }
}

#[test]
fn libreoffice_sees_every_sheet_one_page_wide_and_the_summary_charts() {
    let Some(s) = session() else { return };
    for id in ["plan", "applied"] {
        for sheet in s.result(id)["sheets"].as_array().unwrap() {
            let page = &sheet["page"];
            let name = sheet["name"].as_str().unwrap();
            assert_eq!(page["scale_to_pages_x"], json!(1), "{id} {name}");
            assert_eq!(page["scale_to_pages_y"], json!(0), "{id} {name}");
            assert!(
                page["footer"].as_str().unwrap().contains("Page 1 of"),
                "{id} {name}: {page}"
            );
        }
    }
    let plan = &s.result("plan")["sheets"][2];
    assert_eq!(plan["name"], json!("Plan"));
    assert_eq!(plan["page"]["landscape"], json!(true));
    assert_eq!(plan["page"]["repeat_header_rows"], json!(true));
    assert_eq!(plan["protected"], json!(true));
    let rows = read_review(&s.path("plan.xlsx")).unwrap().rows;
    assert_eq!(
        plan["page"]["print_areas"],
        json!([[0, 0, board_columns() - 1, rows.len()]]),
        "the board block, header and rows"
    );

    let charts = |id: &str| s.result(id)["sheets"][1]["charts"].clone();
    let action = &charts("plan")[0];
    assert_eq!(charts("plan").as_array().unwrap().len(), 1);
    assert_eq!(action["title"], json!("Rows per Action"));
    let names: Vec<&str> = hardmatch::plan::Action::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(action["categories"], json!(names));
    let counts: Vec<Value> = hardmatch::plan::Action::ALL
        .iter()
        .map(|a| json!([rows.iter().filter(|r| r.plan.action == Some(*a)).count() as f64]))
        .collect();
    assert_eq!(action["values"], json!(counts));

    let applied = charts("applied");
    assert_eq!(applied.as_array().unwrap().len(), 2, "{applied:#}");
    let status = &applied[1];
    assert_eq!(status["title"], json!("Rows per Status"));
    assert_eq!(
        status["categories"],
        json!([
            "Done",
            "Failed",
            "Refused",
            "In doubt",
            "Skipped",
            "Reverted",
            "Other",
            "(no Status)"
        ])
    );
    let statuses = &s.applied.rows;
    let count = |f: &dyn Fn(&Status) -> bool| statuses.iter().filter(|r| f(&r.status)).count();
    assert_eq!(
        status["values"],
        json!([
            [count(&|s| *s == Status::Done) as f64],
            [count(&|s| *s == Status::Failed) as f64],
            [count(&|s| *s == Status::Refused) as f64],
            [count(&|s| *s == Status::InDoubt) as f64],
            [count(&|s| *s == Status::Skipped) as f64],
            [count(&|s| *s == Status::Reverted) as f64],
            [count(&|s| matches!(s, Status::Other(_))) as f64],
            [count(&|s| *s == Status::Empty) as f64],
        ])
    );
}
