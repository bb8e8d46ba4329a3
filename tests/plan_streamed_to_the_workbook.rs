//! `hardmatch plan` renders each row only while the workbook is written (a million rendered rows
//! would cost as much memory as the inputs). These tests pin that the streamed path gives exactly
//! what the all-in-memory one does.

use calamine::{open_workbook, Reader, Xlsx};
use hardmatch::cloud::CloudUser;
use hardmatch::plan::{self, synthetic, Action, MatchKeys, PlanOptions};
use hardmatch::review::{PlanKey, ReviewRow, Verdict};
use hardmatch::workbook::{read_review, write_review, write_review_rows, ReviewMeta, WriteOptions};

fn key() -> PlanKey {
    PlanKey::from_bytes([7; 32])
}

fn meta() -> ReviewMeta {
    ReviewMeta {
        generated_at: "2026-01-01T00:00:00Z".into(),
        tool_version: "test".into(),
        warnings: vec!["a warning".into()],
        ..ReviewMeta::default()
    }
}

/// Synthetic users plus a second AD row carrying user 3's GUID and one claiming user 5's cloud
/// user, so the duplicate rule (which needs every row's match) is exercised too.
fn inputs(
    n: usize,
) -> (
    Vec<hardmatch::sources::AdUser>,
    hardmatch::cloud::CloudState,
) {
    let mut ad = synthetic::ad_users(n);
    let mut twin = synthetic::ad_user(3);
    twin.upn = "twin@fabrikam.example".into();
    twin.location = "synthetic-ad.csv:twin".into();
    ad.push(twin);
    let mut claim = synthetic::ad_user(n + 7);
    claim.upn = ad[5].upn.clone();
    claim.location = "synthetic-ad.csv:claim".into();
    ad.push(claim);
    (ad, synthetic::cloud_state(n))
}

#[test]
fn decisions_render_exactly_the_rows_build_returns() {
    let (ad, cloud) = inputs(400);
    for keys in [MatchKeys::Upn, MatchKeys::UpnMail] {
        let opts = PlanOptions { match_keys: keys };
        let built = plan::build(&ad, &cloud, &opts);
        let d = plan::decide(&ad, &cloud, &opts);
        assert_eq!(d.len(), built.rows.len());
        let rendered: Vec<_> = (0..d.len()).map(|i| d.row(i)).collect();
        assert_eq!(rendered, built.rows);
        assert_eq!(d.unmatched_cloud, built.unmatched_cloud);
        assert_eq!(d.warnings, built.warnings);
        assert!(
            built.count(Action::DuplicateSource) >= 4,
            "duplicates exercised"
        );
    }
}

#[test]
fn streamed_rows_make_the_same_workbook_as_a_slice_across_plan_sheets() {
    let (ad, cloud) = inputs(250);
    let opts = PlanOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let small = WriteOptions {
        max_rows_per_sheet: 100,
    };
    let unmatched: Vec<&CloudUser> = plan::build(&ad, &cloud, &opts)
        .unmatched_cloud
        .iter()
        .map(|&i| &cloud.users[i])
        .collect();

    let sliced = dir.path().join("sliced.xlsx");
    let pre = plan::PreApproval::clean_set(&cloud, false);
    let rows = plan::review_rows(plan::build(&ad, &cloud, &opts).rows, pre, &key());
    write_review(&sliced, &rows, &unmatched, &meta(), &small).unwrap();

    let streamed = dir.path().join("streamed.xlsx");
    let d = plan::decide(&ad, &cloud, &opts);
    let mut seen = 0usize;
    plan::with_review_rows(&d, pre, &key(), |rows| {
        let rows = rows.inspect(|_| seen += 1);
        write_review_rows(&streamed, d.len(), rows, &unmatched, &meta(), &small)
    })
    .unwrap();
    assert_eq!(seen, ad.len());

    let a = read_review(&sliced).unwrap();
    let b = read_review(&streamed).unwrap();
    assert_eq!(b.rows.len(), rows.len());
    for (got, want) in b.rows.iter().zip(&rows) {
        // (A MatchedBy of "none" is written as an empty cell and reads back as no value, so
        // compare what apply compares: the fingerprint of the planned values, and the approval.)
        assert_eq!(got.plan.row_id, want.plan.row_id);
        assert_eq!(got.fingerprint, want.fingerprint);
        assert_eq!(key().verify(&got.plan, &want.fingerprint), Verdict::Valid);
        assert_eq!(got.approve, want.approve);
        assert_eq!(got.plan.reason, want.plan.reason);
    }
    assert_eq!(a.rows, b.rows);
    assert!(b.rows.iter().any(|r| r.approve.as_str() == "Yes"));
    assert_eq!(a.unmatched, b.unmatched);
    assert_eq!(b.meta.warnings, meta().warnings);

    // 252 rows at 100 per sheet: three Plan sheets, and the same Summary (counts, spans).
    let summary = |path: &std::path::Path| {
        let mut wb: Xlsx<_> = open_workbook(path).unwrap();
        assert_eq!(
            wb.sheet_names(),
            vec![
                "Instructions",
                "Summary",
                "Plan",
                "Plan (2)",
                "Plan (3)",
                "Unmatched cloud users"
            ]
        );
        let range = wb.worksheet_range("Summary").unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let s = summary(&streamed);
    assert_eq!(summary(&sliced), s);
    let text: Vec<String> = s.iter().map(|r| r.join("|")).collect();
    assert!(text.iter().any(|l| l.starts_with("Total|252")), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l.starts_with("Plan (3)|rows 201 to 252|")),
        "{text:?}"
    );
}

#[test]
fn fewer_rows_than_announced_leave_no_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.xlsx");
    let rows = vec![ReviewRow::default(); 3];
    let err = write_review_rows(
        &path,
        5,
        rows.iter(),
        &[],
        &meta(),
        &WriteOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("5 plan rows were announced but 3 arrived"),
        "{err}"
    );
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
}

#[test]
fn shedding_values_planning_never_reads_changes_no_decision() {
    for keys in [MatchKeys::Upn, MatchKeys::UpnMail] {
        let (ad, cloud) = inputs(300);
        let opts = PlanOptions { match_keys: keys };
        let before = plan::build(&ad, &cloud, &opts);
        let (mut ad_shed, mut cloud_shed) = (ad.clone(), cloud.clone());
        plan::shed_unused_ad(&mut ad_shed, keys);
        plan::shed_unused_cloud(&mut cloud_shed, keys);
        assert!(ad_shed.iter().all(|u| u.dn.is_none()));
        assert_eq!(
            ad_shed.iter().all(|u| u.proxy_addresses.is_empty()),
            keys == MatchKeys::Upn
        );
        let after = plan::build(&ad_shed, &cloud_shed, &opts);
        assert_eq!(after.rows, before.rows);
        assert_eq!(after.unmatched_cloud, before.unmatched_cloud);
    }
}
