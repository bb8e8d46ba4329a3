//! Decide, per AD user, what must change in the cloud and what blocks it. Pure: values in,
//! decisions out, no I/O.

mod decide;
pub(crate) mod index;
#[doc(hidden)]
pub mod synthetic;

use crate::cloud::{CloudState, Unchecked};
pub use crate::review::{Action, MatchedBy, PlanRow};
use crate::review::{Approval, PlanKey, ReviewRow};
pub use decide::{build, decide, decide_indexed, decide_target, CloudIndex, Decisions, Holders};

/// Which keys may match an AD user to a cloud user (`--match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MatchKeys {
    /// userPrincipalName only.
    #[default]
    Upn,
    /// UPN, then mail, then SMTP proxyAddresses.
    UpnMail,
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub match_keys: MatchKeys,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub rows: Vec<PlanRow>,
    /// Active cloud users no AD row matched (indices into `CloudState::users`).
    pub unmatched_cloud: Vec<usize>,
    /// Tenant-level warnings (hard-match takeover blocked, …).
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn count(&self, action: Action) -> usize {
        self.rows
            .iter()
            .filter(|r| r.action == Some(action))
            .count()
    }
}

/// What [`shed_unused_ad`] sheds, for [`crate::sources::ReadOptions::unread`]: dropped while
/// reading, the memory is reused row after row instead of freed in scattered holes at the end.
pub fn unread_ad(keys: MatchKeys) -> crate::sources::Unread {
    crate::sources::Unread {
        dn: true,
        sam_account_name: true,
        proxy_addresses: keys == MatchKeys::Upn,
    }
}

/// What [`shed_unused_cloud`] sheds, for [`crate::cloud::read_cloud_export_unread`].
pub fn unread_cloud(keys: MatchKeys) -> crate::sources::Unread {
    crate::sources::Unread {
        proxy_addresses: keys == MatchKeys::Upn,
        ..Default::default()
    }
}

/// Free the AD values planning never reads: distinguished names, sAMAccountNames and, unless
/// `keys` matches on them, proxyAddresses. At a million users that is about a third of what the
/// AD export takes in memory; [`build`] and [`decide`] decide exactly as before.
pub fn shed_unused_ad(ad: &mut [crate::sources::AdUser], keys: MatchKeys) {
    for u in ad {
        u.dn = None;
        u.sam_account_name = None;
        if keys == MatchKeys::Upn {
            u.proxy_addresses = Vec::new();
        }
    }
}

/// [`shed_unused_ad`] for the cloud side: proxyAddresses, unless `keys` matches on them.
pub fn shed_unused_cloud(cloud: &mut crate::cloud::CloudState, keys: MatchKeys) {
    if keys == MatchKeys::Upn {
        for u in cloud.users.iter_mut().chain(cloud.deleted.iter_mut()) {
            u.proxy_addresses = Vec::new();
        }
    }
}

/// Which rows `plan` pre-fills with Approve = Yes (`--pre-approve`). The default approves none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreApproval {
    /// `--pre-approve set`: clean `Set` rows ([`is_clean_set`]).
    pub clean_set: bool,
    /// What the cloud read left unchecked and the operator did not accept: while anything is
    /// left, no row is clean, because every `Set` rests on it.
    pub unchecked: Unchecked,
}

impl PreApproval {
    /// `--pre-approve set` for a plan against `cloud`; `unchecked_ok` (`--unchecked-ok`) accepts
    /// what the cloud read left unchecked.
    pub fn clean_set(cloud: &CloudState, unchecked_ok: bool) -> Self {
        PreApproval {
            clean_set: true,
            unchecked: if unchecked_ok {
                Unchecked::default()
            } else {
                cloud.unchecked
            },
        }
    }
}

/// Turn decisions into Plan-sheet rows: signed with `key`, Approve empty except for the rows
/// `pre` approves. Pure, like the rest of this module; consumes the rows so a million-row plan
/// is not held twice.
pub fn review_rows(rows: Vec<PlanRow>, pre: PreApproval, key: &PlanKey) -> Vec<ReviewRow> {
    rows.into_iter()
        .map(|plan| review_row(plan, pre, key))
        .collect()
}

/// One decision as a Plan-sheet row (see [`review_rows`]).
pub fn review_row(plan: PlanRow, pre: PreApproval, key: &PlanKey) -> ReviewRow {
    let approve = if pre.clean_set && is_clean_set(&plan, pre.unchecked) {
        Approval::Yes
    } else {
        Approval::Empty
    };
    ReviewRow {
        fingerprint: key.sign(&plan),
        approve,
        plan,
        ..Default::default()
    }
}

pub use crate::sources::template::TypedReview;

/// Carries a template's Approve and Comment into its planned row. The Comment always goes with
/// the row. An Approve = Yes was typed before anyone saw the plan, so it stands only where the
/// plan does exactly what the template asked for and nothing more: a `Set` of the cloud user with
/// the template's UPN, without Checks, the row [`is_clean_set`] would pre-approve. Anywhere else
/// it is left out and the Reason says why (a Replace overwrites a value, a purge cannot be undone,
/// a Check was not known when it was typed…), and, as for `--pre-approve`, nowhere while the cloud
/// read left something `unchecked` that the operator did not accept. No and anything else are
/// carried as typed.
pub fn carry_typed_review(row: &mut ReviewRow, typed: &TypedReview, unchecked: Unchecked) {
    if !typed.comment.trim().is_empty() {
        row.comment = typed.comment.clone();
    }
    match Approval::parse(&typed.approve) {
        Approval::Empty => {}
        Approval::Yes => match unchecked_reason(unchecked).or_else(|| not_as_asked(&row.plan)) {
            None => row.approve = Approval::Yes,
            Some(why) => {
                row.approve = Approval::Empty;
                row.plan.reason = format!(
                    "{} The template's Approve = Yes is not carried over: {why}. Approve this row here if it is still wanted.",
                    row.plan.reason
                );
            }
        },
        other => row.approve = other,
    }
}

/// Why no approval typed before the plan can stand on this cloud read; `None` when it was whole.
fn unchecked_reason(unchecked: Unchecked) -> Option<String> {
    (!unchecked.is_empty()).then(|| {
        format!(
            "the cloud read did not check {} (pass --unchecked-ok to accept that)",
            unchecked.describe().join(", ")
        )
    })
}

/// Why a planned row is not what a template's row asked for ("set this user's ImmutableId from
/// this GUID"); `None` when it is.
fn not_as_asked(p: &PlanRow) -> Option<String> {
    match (p.action, p.matched_by) {
        (Some(Action::Set), Some(MatchedBy::Upn)) if p.checks.is_empty() => None,
        (Some(Action::Set), Some(MatchedBy::Upn)) => Some(format!(
            "the plan found what the template could not show ({})",
            p.checks.join("; ")
        )),
        (Some(Action::Set), by) => Some(format!(
            "the cloud user was found by {}, not by the UPN the template gives",
            by.map_or("another key", |b| b.as_str())
        )),
        (Some(Action::Replace), _) => Some(format!(
            "the cloud user already holds a different ImmutableId ({}), which this would overwrite",
            p.cloud_immutable_id
        )),
        (Some(Action::ConflictDeleted), _) => Some(
            "a soft-deleted user holds this ImmutableId and would have to be purged first, which cannot be undone"
                .to_string(),
        ),
        (Some(a), _) => Some(format!("there is nothing to apply ({a})")),
        (None, _) => Some("there is nothing to apply".to_string()),
    }
}

/// Rows handed from the rendering thread to the writing one at a time: big enough that the
/// channel costs nothing, small enough that the batches in flight stay a few MB.
const RENDER_BATCH: usize = 1024;

/// Render every decision as a Plan-sheet row ([`Decisions::row`] + [`review_row`]) on a second
/// thread and hand them, in Row-id order, to `consume` (typically
/// [`crate::workbook::write_review_rows`]) on this one. Rendering (reasons, fingerprints) and
/// writing the workbook then overlap, and at most a few batches of rows exist at any time.
/// If `consume` stops early, the rendering thread stops too.
pub fn with_review_rows<T>(
    decisions: &Decisions<'_>,
    pre: PreApproval,
    key: &PlanKey,
    consume: impl FnOnce(&mut dyn Iterator<Item = ReviewRow>) -> T,
) -> T {
    let n = decisions.len();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<ReviewRow>>(4);
        let render = move || {
            for start in (0..n).step_by(RENDER_BATCH) {
                let batch = (start..n.min(start + RENDER_BATCH))
                    .map(|i| review_row(decisions.row(i), pre, key))
                    .collect();
                if tx.send(batch).is_err() {
                    // The writer gave up (an error of its own); nothing more is wanted.
                    return;
                }
            }
        };
        let renderer = std::thread::Builder::new()
            .name("render rows".into())
            .spawn_scoped(scope, render)
            .expect("spawning a thread");
        let out = consume(&mut rx.into_iter().flatten());
        renderer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        out
    })
}

/// A `Set` row nobody needs to read twice: no Checks (no name/mail difference, no ConsistencyGuid
/// question, no hard-match block), decided on a cloud read that left nothing `unchecked` (pass
/// `Unchecked::default()` when the operator accepted what it left). Only these may be
/// pre-approved.
pub fn is_clean_set(row: &PlanRow, unchecked: Unchecked) -> bool {
    row.action == Some(Action::Set) && row.checks.is_empty() && unchecked.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(action: Action, matched_by: MatchedBy, checks: &[&str]) -> ReviewRow {
        ReviewRow {
            plan: PlanRow {
                action: Some(action),
                matched_by: Some(matched_by),
                checks: checks.iter().map(|c| c.to_string()).collect(),
                reason: "Planned.".into(),
                cloud_immutable_id: "old==".into(),
                ..PlanRow::default()
            },
            ..ReviewRow::default()
        }
    }

    fn typed(approve: &str, comment: &str) -> TypedReview {
        TypedReview {
            approve: approve.into(),
            comment: comment.into(),
        }
    }

    #[test]
    fn a_typed_yes_stands_only_where_the_plan_is_what_the_template_asked() {
        let mut clean = row(Action::Set, MatchedBy::Upn, &[]);
        carry_typed_review(&mut clean, &typed("yes", "CHG-1"), Unchecked::default());
        assert_eq!(clean.approve, Approval::Yes);
        assert_eq!(clean.comment, "CHG-1");
        assert_eq!(clean.plan.reason, "Planned.");

        for (mut r, why) in [
            (row(Action::Replace, MatchedBy::Upn, &[]), "would overwrite"),
            (
                row(Action::ConflictDeleted, MatchedBy::Upn, &[]),
                "cannot be undone",
            ),
            (row(Action::Set, MatchedBy::Mail, &[]), "found by mail"),
            (
                row(Action::Set, MatchedBy::Upn, &["holds Global Administrator"]),
                "Global Administrator",
            ),
            (
                row(Action::AlreadyMatched, MatchedBy::Upn, &[]),
                "nothing to apply (AlreadyMatched)",
            ),
        ] {
            carry_typed_review(&mut r, &typed("Yes", "CHG-2"), Unchecked::default());
            assert_eq!(r.approve, Approval::Empty, "{why}");
            assert_eq!(r.comment, "CHG-2", "the comment goes with the row anyway");
            assert!(
                r.plan
                    .reason
                    .starts_with("Planned. The template's Approve = Yes is not carried over: ")
                    && r.plan.reason.contains(why),
                "{}",
                r.plan.reason
            );
        }

        let mut no = row(Action::Replace, MatchedBy::Upn, &[]);
        carry_typed_review(&mut no, &typed("No", ""), Unchecked::default());
        assert_eq!(
            (no.approve, no.plan.reason.as_str()),
            (Approval::No, "Planned.")
        );
        let mut odd = row(Action::Set, MatchedBy::Upn, &[]);
        carry_typed_review(&mut odd, &typed("ok by Sam", ""), Unchecked::default());
        assert_eq!(odd.approve, Approval::Other("ok by Sam".into()));
    }

    #[test]
    fn a_typed_yes_does_not_stand_on_a_cloud_read_that_left_blocks_unchecked() {
        let unread_bin = Unchecked {
            deleted_users: true,
            ..Unchecked::default()
        };
        let mut clean = row(Action::Set, MatchedBy::Upn, &[]);
        carry_typed_review(&mut clean, &typed("Yes", "CHG-3"), unread_bin);
        assert_eq!(clean.approve, Approval::Empty);
        assert_eq!(clean.comment, "CHG-3");
        assert!(
            clean.plan.reason.contains("recycle bin")
                && clean.plan.reason.contains("--unchecked-ok"),
            "{}",
            clean.plan.reason
        );
    }
}
