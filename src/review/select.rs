//! Which reviewed rows may be executed, and why the others may not: the one rule set that
//! `apply`, `revert` and `script` share, so a row a script would run is exactly a row apply
//! would run.

use super::{Action, Approval, PlanKey, ReviewRow, Status, Verdict};

/// The operator's flags that widen what runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SelectOptions {
    /// `--allow-replace`: overwrite an existing, different ImmutableId (`Replace` rows).
    pub allow_replace: bool,
    /// `--purge-deleted-conflicts`: permanently delete a soft-deleted holder first
    /// (`ConflictDeleted` rows).
    pub purge_deleted_conflicts: bool,
    /// `--trust-workbook`: run rows not signed with this machine's key (planned elsewhere, or by
    /// hardmatch 0.1) as long as they are consistent. Recorded on the Runs sheet.
    pub trust_workbook: bool,
}

/// What becomes of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected {
    /// Approve is empty or No: not touched, not reported.
    NotApproved,
    /// Approve holds something other than Yes or No: reported, never guessed.
    UnclearApproval(String),
    /// Done in an earlier run: nothing is sent again.
    AlreadyDone,
    /// Reverted by `revert`: apply does not undo the revert; plan again to apply it anew.
    Reverted,
    /// Never sent as it stands (Status `Refused`): the reason says what is wrong and what to do.
    Refused(String),
    /// Not sent this time (Status `Skipped`): a flag is missing, or the Action has nothing to
    /// execute. The reason says which.
    Skipped(String),
    /// To be executed (after pre-flight). `unsigned`: accepted only through `--trust-workbook`.
    Run { unsigned: bool },
}

/// Decides whether `row` runs: approved, not yet done, its planned values as signed by `key`,
/// and an Action apply executes (with the flag it needs).
pub fn select_row(row: &ReviewRow, key: &PlanKey, opts: &SelectOptions) -> Selected {
    match &row.approve {
        Approval::Yes => {}
        Approval::Empty | Approval::No => return Selected::NotApproved,
        Approval::Other(v) => {
            return Selected::UnclearApproval(format!(
                "Approve is \"{v}\", not Yes or No: not applied; set Yes to apply it"
            ))
        }
    }
    match row.status {
        Status::Done => return Selected::AlreadyDone,
        Status::Reverted => return Selected::Reverted,
        _ => {}
    }
    let unsigned = match verified(row, key, opts) {
        Ok(unsigned) => unsigned,
        Err(reason) => return Selected::Refused(reason),
    };
    match action_gate(row.plan.action, opts) {
        Ok(()) => Selected::Run { unsigned },
        Err(reason) => Selected::Skipped(reason),
    }
}

/// Decides whether a row is reverted: Done, marked in the Revert column (or every Done row with
/// `all`), with a recorded previous ImmutableId, planned values signed by `key`, and a Result
/// fingerprint proving that Status and Previous ImmutableId are the ones apply recorded.
pub fn select_revert(row: &ReviewRow, key: &PlanKey, all: bool, opts: &SelectOptions) -> Selected {
    let marked = match &row.revert {
        Approval::Yes => true,
        Approval::Other(v) if !all => {
            return Selected::UnclearApproval(format!(
                "Revert is \"{v}\", not Yes or No: not reverted; set Yes to revert it"
            ))
        }
        _ => all,
    };
    if !marked || row.status != Status::Done {
        return Selected::NotApproved;
    }
    if row.previous_immutable_id.is_none() {
        return Selected::Skipped(
            "no Previous ImmutableId was recorded for this row, so there is nothing known to revert to".into(),
        );
    }
    let unsigned = match verified(row, key, opts) {
        Ok(unsigned) => unsigned,
        Err(reason) => return Selected::Refused(reason),
    };
    match key.verify_result(row) {
        Verdict::Valid => Selected::Run { unsigned },
        Verdict::OtherKey { .. } if opts.trust_workbook => Selected::Run { unsigned: true },
        Verdict::OtherKey { key_id } => Selected::Refused(format!(
            "applied with another operator's key ({key_id}; this machine's key is {}): revert where apply ran, pass that key with --key-file, or, if you trust everyone who handled this workbook, pass --trust-workbook",
            key.id()
        )),
        _ => Selected::Refused(
            "the Status or Previous ImmutableId was changed after apply recorded it (their Result fingerprint does not match): not reverted; set the user's ImmutableId by hand if you know the right value".into(),
        ),
    }
}

/// `Ok(unsigned)` when the row may run: signed by `key`, or (with `--trust-workbook`) signed
/// elsewhere but consistent. `Err` names the refusal.
fn verified(row: &ReviewRow, key: &PlanKey, opts: &SelectOptions) -> Result<bool, String> {
    let verdict = key.verify(&row.plan, &row.fingerprint);
    match verdict {
        Verdict::Valid => Ok(false),
        Verdict::OtherKey { .. } | Verdict::Unkeyed { consistent: true } if opts.trust_workbook => {
            Ok(true)
        }
        v => {
            let mut reason = v.refusal(key.id()).unwrap_or_default();
            if matches!(
                v,
                Verdict::OtherKey { .. } | Verdict::Unkeyed { consistent: true }
            ) {
                reason.push_str(
                    "; or, if you trust everyone who handled this workbook, pass --trust-workbook",
                );
            }
            Err(reason)
        }
    }
}

/// Which Actions apply executes, and the flag some of them need.
fn action_gate(action: Option<Action>, opts: &SelectOptions) -> Result<(), String> {
    match action {
        // AlreadyMatched runs only through pre-flight, which confirms it and records it Done.
        Some(Action::Set) | Some(Action::AlreadyMatched) => Ok(()),
        Some(Action::Replace) if opts.allow_replace => Ok(()),
        Some(Action::Replace) => Err(
            "Replace overwrites the user's existing ImmutableId: run apply (or script) with --allow-replace to execute approved Replace rows".into(),
        ),
        Some(Action::ConflictDeleted) if opts.purge_deleted_conflicts => Ok(()),
        Some(Action::ConflictDeleted) => Err(
            "a soft-deleted user holds this ImmutableId: run apply (or script) with --purge-deleted-conflicts to permanently delete it first (this cannot be undone)".into(),
        ),
        Some(other) => Err(format!(
            "{other} has nothing apply can execute: {}",
            other.meaning()
        )),
        None => Err("the row has no Action: plan again".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::PlanRow;

    fn key() -> PlanKey {
        PlanKey::from_bytes([1; 32])
    }

    fn row(action: Action, approve: Approval) -> ReviewRow {
        let plan = PlanRow {
            row_id: 3,
            action: Some(action),
            upn: "a@contoso.com".into(),
            new_immutable_id: "BpazOkLGm0iEtljAONPvOQ==".into(),
            cloud_object_id: "11111111-2222-3333-4444-555555555555".into(),
            ..PlanRow::default()
        };
        ReviewRow {
            fingerprint: key().sign(&plan),
            plan,
            approve,
            ..ReviewRow::default()
        }
    }

    #[test]
    fn only_approved_signed_executable_rows_run() {
        let o = SelectOptions::default();
        let k = key();
        assert_eq!(
            select_row(&row(Action::Set, Approval::Yes), &k, &o),
            Selected::Run { unsigned: false }
        );
        for a in [Approval::Empty, Approval::No] {
            assert_eq!(
                select_row(&row(Action::Set, a), &k, &o),
                Selected::NotApproved
            );
        }
        assert!(matches!(
            select_row(&row(Action::Set, Approval::Other("Ja".into())), &k, &o),
            Selected::UnclearApproval(r) if r.contains("\"Ja\"")
        ));
        let mut done = row(Action::Set, Approval::Yes);
        done.status = Status::Done;
        assert_eq!(select_row(&done, &k, &o), Selected::AlreadyDone);
        // Failed, Skipped and In doubt rows run again.
        for s in [Status::Failed, Status::Skipped, Status::InDoubt] {
            let mut r = row(Action::Set, Approval::Yes);
            r.status = s;
            assert_eq!(select_row(&r, &k, &o), Selected::Run { unsigned: false });
        }
    }

    #[test]
    fn replace_and_purge_need_their_flags_and_other_actions_never_run() {
        let k = key();
        let none = SelectOptions::default();
        assert!(matches!(
            select_row(&row(Action::Replace, Approval::Yes), &k, &none),
            Selected::Skipped(r) if r.contains("--allow-replace")
        ));
        assert!(matches!(
            select_row(&row(Action::ConflictDeleted, Approval::Yes), &k, &none),
            Selected::Skipped(r) if r.contains("--purge-deleted-conflicts")
        ));
        let both = SelectOptions {
            allow_replace: true,
            purge_deleted_conflicts: true,
            ..SelectOptions::default()
        };
        for a in [
            Action::Replace,
            Action::ConflictDeleted,
            Action::AlreadyMatched,
        ] {
            assert_eq!(
                select_row(&row(a, Approval::Yes), &k, &both),
                Selected::Run { unsigned: false },
                "{a}"
            );
        }
        for a in [
            Action::BlockedSynced,
            Action::NoCloudUser,
            Action::ConflictActive,
            Action::Ambiguous,
            Action::DuplicateSource,
            Action::InvalidInput,
        ] {
            assert!(
                matches!(select_row(&row(a, Approval::Yes), &k, &both), Selected::Skipped(r) if r.contains(a.as_str())),
                "{a}"
            );
        }
    }

    #[test]
    fn an_edited_or_foreign_row_is_refused_and_trust_accepts_only_consistent_foreign_rows() {
        let k = key();
        let o = SelectOptions::default();
        let mut edited = row(Action::Set, Approval::Yes);
        edited.plan.new_immutable_id = "AAAAAAAAAAAAAAAAAAAAAA==".into();
        assert!(matches!(
            select_row(&edited, &k, &o),
            Selected::Refused(r) if r.contains("changed after planning")
        ));
        let trust = SelectOptions {
            trust_workbook: true,
            ..o
        };
        // --trust-workbook never excuses an edit under this key.
        assert!(matches!(
            select_row(&edited, &k, &trust),
            Selected::Refused(_)
        ));

        let mut foreign = row(Action::Set, Approval::Yes);
        foreign.fingerprint = PlanKey::from_bytes([2; 32]).sign(&foreign.plan);
        assert!(matches!(
            select_row(&foreign, &k, &o),
            Selected::Refused(r) if r.contains("another operator's key") && r.contains("--trust-workbook")
        ));
        assert_eq!(
            select_row(&foreign, &k, &trust),
            Selected::Run { unsigned: true }
        );

        let mut old = row(Action::Set, Approval::Yes);
        old.fingerprint = crate::review::key::unkeyed_fingerprint(&old.plan);
        assert!(matches!(
            select_row(&old, &k, &o),
            Selected::Refused(r) if r.contains("hardmatch 0.1")
        ));
        assert_eq!(
            select_row(&old, &k, &trust),
            Selected::Run { unsigned: true }
        );
        old.plan.upn = "mallory@contoso.com".into();
        assert!(matches!(select_row(&old, &k, &trust), Selected::Refused(_)));
    }

    #[test]
    fn revert_takes_done_rows_marked_or_all_with_a_recorded_previous_value() {
        let k = key();
        let o = SelectOptions::default();
        let mut r = row(Action::Set, Approval::Yes);
        r.status = Status::Done;
        r.previous_immutable_id = Some(String::new());
        r.result_fingerprint = k.sign_result(&r);
        assert_eq!(select_revert(&r, &k, false, &o), Selected::NotApproved);
        assert_eq!(
            select_revert(&r, &k, true, &o),
            Selected::Run { unsigned: false }
        );
        r.revert = Approval::Yes;
        assert_eq!(
            select_revert(&r, &k, false, &o),
            Selected::Run { unsigned: false }
        );
        let mut unrecorded = r.clone();
        unrecorded.previous_immutable_id = None;
        assert!(matches!(
            select_revert(&unrecorded, &k, false, &o),
            Selected::Skipped(_)
        ));
        let mut failed = r.clone();
        failed.status = Status::Failed;
        assert_eq!(select_revert(&failed, &k, true, &o), Selected::NotApproved);
        // A Previous ImmutableId typed after apply recorded it is never written to the tenant.
        let mut typed = r.clone();
        typed.previous_immutable_id = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
        assert!(matches!(
            select_revert(&typed, &k, false, &o),
            Selected::Refused(why) if why.contains("Result fingerprint")
        ));
        let mut unsigned = r.clone();
        unsigned.result_fingerprint.clear();
        assert!(matches!(
            select_revert(&unsigned, &k, false, &o),
            Selected::Refused(_)
        ));
        // A reverted row is neither reverted again nor applied again.
        let mut reverted = r.clone();
        reverted.status = Status::Reverted;
        assert_eq!(
            select_revert(&reverted, &k, true, &o),
            Selected::NotApproved
        );
        assert_eq!(select_row(&reverted, &k, &o), Selected::Reverted);
    }
}
