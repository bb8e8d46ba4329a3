//! A hand-filled `hardmatch template` given to `apply`: its users are planned against the live
//! tenant first, with this machine's key, into `<stem>.plan.xlsx` beside it, and the template's
//! Approve is carried only onto rows that are exactly what it asked, by the same rule `plan`
//! applies to a template (a clean Set of the user it names). That plan workbook is then applied;
//! the template itself is never changed.

use crate::anchor::HexAs;
use crate::cloud::CloudState;
use crate::error::InputError;
use crate::plan::{self, PlanOptions};
use crate::review::{Approval, PlanKey, ReviewRow};
use crate::sources::template::{read_typed_reviews, sheet_row};
use crate::sources::{self, ReadOptions};
use crate::workbook::schema::TEMPLATE_COLUMNS;
use crate::workbook::{InputSummary, ReviewMeta};
use calamine::{open_workbook, Reader, Xlsx};
use std::path::{Path, PathBuf};

/// The template's sheet of users.
const USERS_SHEET: &str = "Users";

/// Whether `path` is a filled-in template rather than a plan workbook: no "Plan" sheet, and a
/// "Users" sheet whose header has the template's UserPrincipalName and objectGUID columns.
pub fn is_template(path: &Path) -> bool {
    let Ok(mut xlsx) = open_workbook::<Xlsx<_>, _>(path) else {
        return false;
    };
    let names = xlsx.sheet_names();
    if names.iter().any(|n| n == "Plan") || !names.iter().any(|n| n == USERS_SHEET) {
        return false;
    }
    match xlsx.worksheet_range(USERS_SHEET) {
        Ok(range) => {
            let header: Vec<String> = range
                .rows()
                .next()
                .map(|r| r.iter().map(|c| c.to_string().trim().to_string()).collect())
                .unwrap_or_default();
            TEMPLATE_COLUMNS[..2]
                .iter()
                .all(|(h, _)| header.iter().any(|x| x.eq_ignore_ascii_case(h)))
        }
        Err(_) => false,
    }
}

/// `<stem>.plan.xlsx` beside the template.
pub fn plan_path(template: &Path) -> PathBuf {
    let stem = template
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    template.with_file_name(format!("{stem}.plan.xlsx"))
}

/// What planning the template gave.
pub struct Planned {
    pub rows: Vec<ReviewRow>,
    pub meta: ReviewMeta,
    pub unmatched: Vec<crate::cloud::CloudUser>,
    /// Template rows approved there but not carried (the plan decided something else).
    pub not_carried: Vec<String>,
}

/// Plans the template's users against `cloud` with `key`, carrying its Approve and Comment by
/// the rule `plan` applies to templates ([`plan::carry_typed_review`]: a Yes stands only on a
/// clean Set of the user the template names).
pub fn plan_template(
    template: &Path,
    cloud: &CloudState,
    key: &PlanKey,
) -> Result<Planned, InputError> {
    let ad = sources::read_ad_export(
        template,
        &ReadOptions {
            hex_as: Some(HexAs::Guid),
            ..ReadOptions::default()
        },
    )?;
    let typed = read_typed_reviews(template, Some(USERS_SHEET))?;
    let decided = plan::build(&ad.users, cloud, &PlanOptions::default());
    let pre = plan::PreApproval::default();
    let mut rows = plan::review_rows(decided.rows, pre, key);
    let mut not_carried = Vec::new();
    for row in &mut rows {
        let Some(t) = sheet_row(&row.plan.source).and_then(|r| typed.get(&r)) else {
            continue;
        };
        // The tenant is read live here (recycle bin, roles, sync flags all read), so nothing is
        // left unchecked that a typed Yes would rest on, unless the read said otherwise.
        plan::carry_typed_review(row, t, cloud.unchecked);
        if Approval::parse(&t.approve) == Approval::Yes && row.approve != Approval::Yes {
            not_carried.push(format!(
                "{} (Row id {}): {}",
                row.plan.upn, row.plan.row_id, row.plan.reason
            ));
        }
    }
    let inputs = InputSummary::for_plan("Template", &ad, cloud);
    let meta = ReviewMeta {
        inputs,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        warnings: ad
            .warnings
            .iter()
            .chain(&cloud.warnings)
            .chain(&decided.warnings)
            .cloned()
            .collect(),
        ..ReviewMeta::default()
    };
    let unmatched = decided
        .unmatched_cloud
        .iter()
        .filter_map(|&i| cloud.users.get(i).cloned())
        .collect();
    Ok(Planned {
        rows,
        meta,
        unmatched,
        not_carried,
    })
}

/// Refuses to replace a plan workbook someone may have approved rows in, unless `force`.
pub fn check_plan_path(plan: &Path, force: bool) -> Result<(), InputError> {
    if force || !plan.exists() {
        return Ok(());
    }
    let approved = crate::workbook::read_review(plan)
        .map(|r| {
            r.rows
                .iter()
                .any(|r| r.approve == Approval::Yes || !r.status.as_str().is_empty())
        })
        .unwrap_or(true);
    if approved {
        return Err(InputError::new(
            plan,
            "",
            "this plan of the template already exists and holds approvals or results",
            "apply that plan workbook itself (hardmatch apply PLAN.xlsx), or add --force to plan the template again over it",
        ));
    }
    Ok(())
}
