//! The row a change board approves and `apply` records: the planned decision ([`PlanRow`]), the
//! reviewer's input ([`Approval`], comment, revert mark), apply's results ([`Status`], result,
//! previous ImmutableId) and the keyed fingerprint that proves the planned values are the ones
//! `plan` wrote ([`PlanKey`]).
//!
//! It sits below both [`crate::plan`] (which produces these rows) and [`crate::workbook`] (which
//! renders and reads them), so neither imports the other; `apply` and its journal use it too.

mod key;
pub mod select;

pub use key::{PlanKey, Verdict};
pub use select::{select_revert, select_row, SelectOptions, Selected};

use crate::fold::Folded;
use std::fmt;

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

impl PlanRow {
    /// The cloud UPN as the sheet shows it, and as the fingerprint covers it: empty when it is
    /// the AD UPN up to case (as Entra compares UPNs), or when there is no cloud user.
    pub fn shown_cloud_upn(&self) -> &str {
        if Folded::new(&self.upn) == Folded::new(&self.cloud_upn) {
            ""
        } else {
            &self.cloud_upn
        }
    }
}

/// A reviewer's Yes/No cell (Approve, Revert).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Approval {
    #[default]
    Empty,
    Yes,
    No,
    /// Anything else a reviewer typed; apply treats it as not approved and says so.
    Other(String),
}

impl Approval {
    pub fn parse(s: &str) -> Approval {
        match s.trim().to_ascii_lowercase().as_str() {
            "" => Approval::Empty,
            "yes" | "y" => Approval::Yes,
            "no" | "n" => Approval::No,
            _ => Approval::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Approval::Empty => "",
            Approval::Yes => "Yes",
            Approval::No => "No",
            Approval::Other(s) => s,
        }
    }
}

/// What apply made of a row (the Status column). Empty until apply touches the row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Empty,
    /// The change is in the tenant (or was already there).
    Done,
    /// Graph refused it, or it could not be sent; the Result says why. A rerun tries again.
    Failed,
    /// Not sent: the tenant changed since planning, a flag is missing, or the Action needs nothing.
    Skipped,
    /// Not sent, and never will be as it stands: the row was edited after planning, or was not
    /// planned with this operator's key.
    Refused,
    /// The request may or may not have reached Graph (a crash or a lost answer); the next run
    /// reads the user back before anything else.
    InDoubt,
    /// Set back to its Previous ImmutableId by `revert`. apply does not run it again: plan again
    /// to apply it anew.
    Reverted,
    /// Anything else found in the cell (a reviewer's typing); treated as not done.
    Other(String),
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s.trim().to_ascii_lowercase().replace(' ', "").as_str() {
            "" => Status::Empty,
            "done" => Status::Done,
            "failed" => Status::Failed,
            "skipped" => Status::Skipped,
            "refused" => Status::Refused,
            "indoubt" => Status::InDoubt,
            "reverted" => Status::Reverted,
            _ => Status::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Empty => "",
            Status::Done => "Done",
            Status::Failed => "Failed",
            Status::Skipped => "Skipped",
            Status::Refused => "Refused",
            Status::InDoubt => "In doubt",
            Status::Reverted => "Reverted",
            Status::Other(s) => s,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Plan-sheet row: the planned decision plus what review and apply add to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReviewRow {
    pub plan: PlanRow,
    pub approve: Approval,
    pub status: Status,
    /// What was done, or Graph's error code, message and request-id on failure.
    pub result: String,
    pub applied_at: String,
    pub attempts: u32,
    /// The cloud user's ImmutableId before apply wrote it, for revert: `None` until apply
    /// records it, `Some("")` when the user had none (shown as "(none)").
    pub previous_immutable_id: Option<String>,
    /// A reviewer's mark: revert this Done row to its previous ImmutableId.
    pub revert: Approval,
    pub comment: String,
    /// [`PlanKey::sign`] of the planned values as written; apply checks it to detect edits.
    pub fingerprint: String,
    /// [`PlanKey::sign_result`] of what apply recorded (Status, Previous ImmutableId): revert
    /// writes the Previous ImmutableId to the tenant, so it must be the one apply read.
    pub result_fingerprint: String,
}
