//! Decide, per AD user, what must change in the cloud and what blocks it. Pure: values in,
//! decisions out, no I/O.

mod decide;
pub(crate) mod index;
#[doc(hidden)]
pub mod synthetic;

use std::fmt;

pub use decide::{build, decide, decide_indexed, CloudIndex, Decisions};

/// Exactly one per AD row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Cloud-only user with an empty anchor: set it.
    Set,
    /// Cloud-only user with a different anchor: overwrite it (needs its own explicit approval).
    Replace,
    /// The cloud user already carries this ImmutableId.
    AlreadyMatched,
    /// The cloud user is still synced (`onPremisesSyncEnabled` true); Graph refuses the write.
    BlockedSynced,
    /// No cloud user matched; Entra Connect will create a new one.
    NoCloudUser,
    /// Another active cloud user holds this ImmutableId.
    ConflictActive,
    /// A soft-deleted user holds this ImmutableId; purging it from the recycle bin resolves it.
    ConflictDeleted,
    /// More than one cloud user could be this AD user.
    Ambiguous,
    /// Two AD rows for one cloud user or one GUID.
    DuplicateSource,
    /// The AD row itself is unusable.
    InvalidInput,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Action::Set,
        Action::Replace,
        Action::AlreadyMatched,
        Action::BlockedSynced,
        Action::NoCloudUser,
        Action::ConflictActive,
        Action::ConflictDeleted,
        Action::Ambiguous,
        Action::DuplicateSource,
        Action::InvalidInput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Set => "Set",
            Action::Replace => "Replace",
            Action::AlreadyMatched => "AlreadyMatched",
            Action::BlockedSynced => "BlockedSynced",
            Action::NoCloudUser => "NoCloudUser",
            Action::ConflictActive => "ConflictActive",
            Action::ConflictDeleted => "ConflictDeleted",
            Action::Ambiguous => "Ambiguous",
            Action::DuplicateSource => "DuplicateSource",
            Action::InvalidInput => "InvalidInput",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// What the action means, for the Instructions sheet and `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Action::Set => "The cloud user is cloud-only and has no ImmutableId. apply sets it to the AD user's anchor.",
            Action::Replace => "The cloud user is cloud-only but holds a different ImmutableId. apply overwrites it; approve only if the old value is known to be wrong.",
            Action::AlreadyMatched => "The cloud user already holds this ImmutableId. Nothing to do.",
            Action::BlockedSynced => "The cloud user is still synced from a directory (onPremisesSyncEnabled = true). Graph refuses the change; take it out of sync scope first.",
            Action::NoCloudUser => "No cloud user matched. Entra Connect will create a new cloud user for this AD user.",
            Action::ConflictActive => "Another active cloud user already holds this ImmutableId. Resolve that user first.",
            Action::ConflictDeleted => "A soft-deleted user in the recycle bin holds this ImmutableId. Purge it (permanently delete) first; apply can do that when approved.",
            Action::Ambiguous => "More than one cloud user could be this AD user. Fix the data so only one matches.",
            Action::DuplicateSource => "Two AD rows point at the same cloud user or carry the same GUID. Remove the wrong row.",
            Action::InvalidInput => "The AD row cannot be used (see Reason). Fix the export and plan again.",
        }
    }

    /// Whether apply has anything to execute for this action once approved.
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            Action::Set | Action::Replace | Action::ConflictDeleted
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the AD row found its cloud user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchedBy {
    Upn,
    Mail,
    ProxyAddress,
    /// Found through the ImmutableId only (the holder already carries it).
    ImmutableId,
    None,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Upn => "UPN",
            MatchedBy::Mail => "mail",
            MatchedBy::ProxyAddress => "proxyAddresses",
            MatchedBy::ImmutableId => "ImmutableId",
            MatchedBy::None => "",
        }
    }

    pub fn parse(s: &str) -> MatchedBy {
        match s.trim().to_ascii_lowercase().as_str() {
            "upn" => MatchedBy::Upn,
            "mail" => MatchedBy::Mail,
            "proxyaddresses" => MatchedBy::ProxyAddress,
            "immutableid" => MatchedBy::ImmutableId,
            _ => MatchedBy::None,
        }
    }
}

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

/// One decision. Identifiers are kept as text exactly as they will be written to Graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanRow {
    /// Stable key for this row across sorting and filtering (1-based, in input order).
    pub row_id: u64,
    pub action: Option<Action>,
    /// Plain-language reason for the action.
    pub reason: String,
    /// Warnings that do not change the action (UPN differs when matched by mail, …).
    pub checks: Vec<String>,
    pub upn: String,
    /// The on-prem GUID used as anchor (dashed text).
    pub onprem_guid: String,
    /// Base64 ImmutableId to write.
    pub new_immutable_id: String,
    pub cloud_object_id: String,
    pub cloud_upn: String,
    pub cloud_immutable_id: String,
    /// Object id of the user holding this ImmutableId, for the Conflict* actions.
    pub holder_object_id: String,
    pub mail_onprem: String,
    pub mail_cloud: String,
    pub display_name_onprem: String,
    pub display_name_cloud: String,
    pub matched_by: Option<MatchedBy>,
    /// Where the AD row came from.
    pub source: String,
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

/// Turn decisions into Plan-sheet rows: fingerprinted, Approve empty except, with
/// `pre_approve_set`, clean `Set` rows. Pure, like the rest of this module; consumes the rows so a
/// million-row plan is not held twice.
pub fn review_rows(rows: Vec<PlanRow>, pre_approve_set: bool) -> Vec<crate::workbook::ReviewRow> {
    rows.into_iter()
        .map(|plan| review_row(plan, pre_approve_set))
        .collect()
}

/// One decision as a Plan-sheet row (see [`review_rows`]).
pub fn review_row(plan: PlanRow, pre_approve_set: bool) -> crate::workbook::ReviewRow {
    let approve = if pre_approve_set && is_clean_set(&plan) {
        crate::workbook::Approval::Yes
    } else {
        crate::workbook::Approval::Empty
    };
    crate::workbook::ReviewRow {
        fingerprint: crate::workbook::fingerprint(&plan),
        approve,
        plan,
        ..Default::default()
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
    pre_approve_set: bool,
    consume: impl FnOnce(&mut dyn Iterator<Item = crate::workbook::ReviewRow>) -> T,
) -> T {
    let n = decisions.len();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<crate::workbook::ReviewRow>>(4);
        let render = move || {
            for start in (0..n).step_by(RENDER_BATCH) {
                let batch = (start..n.min(start + RENDER_BATCH))
                    .map(|i| review_row(decisions.row(i), pre_approve_set))
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
/// question, no hard-match block). Only these may be pre-approved.
pub fn is_clean_set(row: &PlanRow) -> bool {
    row.action == Some(Action::Set) && row.checks.is_empty()
}
