//! Pre-flight: before any write, read every target user (and whoever holds the values to be
//! written) from the live tenant, decide each row again with the planning engine, and settle the
//! rows that changed since planning. Nothing is sent to the tenant here.
//!
//! Reads cost the least quota that covers the rows: batched `GET /users/{id}` and
//! `onPremisesImmutableId in (…)` filters for up to [`LIST_FROM_ROWS`] rows; the partitioned
//! listing of all users (and the whole recycle bin) beyond that, where a page of 999 users costs
//! what one user's GET does.

use super::journal::Op;
use super::progress::Bars;
use super::Job;
use crate::anchor;
use crate::cloud::{CloudUser, TenantFeatures};
use crate::fold::Folded;
use crate::graph::{GraphClient, GraphError};
use crate::plan::{self, Action, Holders, MatchedBy, PlanRow};
use crate::review::{ReviewRow, Status};
use crate::sources::AdUser;
use crate::wire::{BatchItem, User, USER_SELECT};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// From this many rows on, pre-flight lists the tenant instead of reading users one by one.
pub const LIST_FROM_ROWS: usize = 2_000;

/// What pre-flight read from the tenant.
#[derive(Debug, Default)]
pub struct TenantView {
    /// Active users read, by lower-case object id.
    by_id: HashMap<String, CloudUser>,
    /// Active and soft-deleted holders by ImmutableId (exact: anchors are case-sensitive).
    active_by_iid: HashMap<String, Vec<CloudUser>>,
    deleted_by_iid: HashMap<String, Vec<CloudUser>>,
    pub features: Option<TenantFeatures>,
    /// Privileged role holders, when they could be read.
    roles: Option<BTreeMap<String, Vec<String>>>,
    pub warnings: Vec<String>,
}

impl TenantView {
    pub fn user(&self, id: &str) -> Option<&CloudUser> {
        self.by_id.get(&id.to_ascii_lowercase())
    }

    fn active_holders(&self, iid: &str) -> &[CloudUser] {
        self.active_by_iid.get(iid).map_or(&[], Vec::as_slice)
    }

    fn deleted_holders(&self, iid: &str) -> &[CloudUser] {
        self.deleted_by_iid.get(iid).map_or(&[], Vec::as_slice)
    }

    /// The soft-deleted user `id` holding `iid`, as read.
    pub fn deleted_holder(&self, iid: &str, id: &str) -> Option<CloudUser> {
        self.deleted_holders(iid)
            .iter()
            .find(|h| h.id.eq_ignore_ascii_case(id))
            .cloned()
    }

    fn add_active(&mut self, u: CloudUser) {
        if let Some(iid) = u.immutable_id.clone() {
            let list = self.active_by_iid.entry(iid).or_default();
            if !list.iter().any(|x| x.id.eq_ignore_ascii_case(&u.id)) {
                list.push(u.clone());
            }
        }
        self.by_id.insert(u.id.to_ascii_lowercase(), u);
    }

    fn add_deleted(&mut self, u: CloudUser) {
        if let Some(iid) = u.immutable_id.clone() {
            let list = self.deleted_by_iid.entry(iid).or_default();
            if !list.iter().any(|x| x.id.eq_ignore_ascii_case(&u.id)) {
                list.push(u);
            }
        }
    }
}

/// Reads what pre-flight needs: the `targets` (object ids), every user holding one of `values`,
/// the tenant's sync features and the privileged role holders.
pub async fn read_view(
    client: &GraphClient,
    targets: &[String],
    values: &[String],
    bars: &Bars,
) -> Result<TenantView, GraphError> {
    let mut view = TenantView::default();
    let bar = bars.preflight(targets.len() as u64);
    if targets.len() >= LIST_FROM_ROWS {
        // The listing brings every user of the tenant; keep, as the pages arrive, only the
        // targets and the holders of the values to be written, which is all the verdicts look
        // at (a million users held whole cost gigabytes).
        let wanted_ids: HashSet<String> = targets.iter().map(|t| t.to_ascii_lowercase()).collect();
        let holds: Arc<HashSet<String>> = Arc::new(values.iter().cloned().collect());
        let holds_value = move |u: &User| {
            u.on_premises_immutable_id
                .as_deref()
                .is_some_and(|v| holds.contains(v))
        };
        let keep = {
            let holds_value = holds_value.clone();
            move |u: &User| {
                holds_value(u)
                    || u.id
                        .as_deref()
                        .is_some_and(|id| wanted_ids.contains(&id.to_ascii_lowercase()))
            }
        };
        let shown = bar.clone();
        let listed = client
            .list_users_partitioned_where(
                move |n| shown.set_message(format!("{n} users listed")),
                keep,
            )
            .await?;
        for u in listed {
            view.add_active(CloudUser::from(u));
        }
        for u in client.list_deleted_users(|_| {}).await? {
            if holds_value(&u) {
                view.add_deleted(deleted(u));
            }
        }
        bar.set_position(targets.len() as u64);
    } else {
        read_targets(client, targets, &mut view, &bar).await?;
        for u in client.find_users_by_immutable_ids(values).await? {
            view.add_active(CloudUser::from(u));
        }
        let deleted_users = match client.find_deleted_users_by_immutable_ids(values).await {
            Ok(d) => d,
            // Filtering the recycle bin by onPremisesImmutableId is not documented either way;
            // if Graph refuses it, read the whole recycle bin (it is small) and match here.
            Err(e) if e.status() == Some(400) => {
                tracing::info!("recycle bin filter refused ({e}); listing the recycle bin");
                client.list_deleted_users(|_| {}).await?
            }
            Err(e) => return Err(e),
        };
        for u in deleted_users {
            view.add_deleted(deleted(u));
        }
    }
    view.features = match client.sync_features().await {
        Ok(f) => f.map(|f| TenantFeatures {
            block_cloud_object_takeover_through_hard_match: f
                .block_cloud_object_takeover_through_hard_match_enabled,
            block_soft_match: f.block_soft_match_enabled,
        }),
        Err(e) if e.status() == Some(403) => {
            view.warnings.push(format!(
                "cannot read the tenant's sync features ({e}): whether BlockCloudObjectTakeoverThroughHardMatchEnabled \
                 is on is not known; grant OnPremDirectorySynchronization.Read.All to check it"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    view.roles = match client.privileged_role_holders().await {
        Ok(r) => Some(r),
        Err(e) if e.status() == Some(403) => {
            view.warnings.push(format!(
                "cannot read privileged role assignments ({e}): the roles seen at planning are assumed; \
                 grant RoleManagement.Read.Directory to check them again"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    bar.finish_and_clear();
    Ok(view)
}

fn deleted(u: User) -> CloudUser {
    let mut c = CloudUser::from(u);
    if c.deleted_date_time.is_none() {
        c.deleted_date_time = Some(String::new());
    }
    c
}

/// `GET /users/{id}` for every target, through `$batch`. A 404 leaves the user out (gone).
async fn read_targets(
    client: &GraphClient,
    targets: &[String],
    view: &mut TenantView,
    bar: &indicatif::ProgressBar,
) -> Result<(), GraphError> {
    let select = USER_SELECT.join(",");
    // In slices, so the bar moves while a few thousand users are read.
    for slice in targets.chunks(200) {
        let items = slice
            .iter()
            .enumerate()
            .map(|(i, id)| BatchItem {
                id: (i + 1).to_string(),
                method: "GET".into(),
                url: format!("/users/{id}?$select={select}"),
                ..BatchItem::default()
            })
            .collect();
        for outcome in client.batch(items).await {
            match outcome {
                Ok(resp) => {
                    let user: User = serde_json::from_value(resp.body.unwrap_or_default())
                        .map_err(|e| GraphError::Decode {
                            message: format!("a user read in pre-flight: {e}"),
                            request_id: resp.headers.get("request-id").cloned().unwrap_or_default(),
                        })?;
                    view.add_active(CloudUser::from(user));
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        bar.inc(slice.len() as u64);
    }
    Ok(())
}

/// What pre-flight decided for a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it. `purge`: first permanently delete this soft-deleted holder.
    Go { purge: Option<Box<CloudUser>> },
    /// Nothing to send: the row ends with this status and result.
    Settle(Status, String),
}

/// Decides every apply job again against `view` with the planning engine, and fills in what the
/// execution needs (previous value, notes). Returns one verdict per job.
pub fn judge_apply(jobs: &mut [Job], rows: &[ReviewRow], view: &TenantView) -> Vec<Verdict> {
    let now = redecide(jobs, rows, view);
    jobs.iter_mut()
        .zip(now)
        .map(|(job, now)| {
            let row = &rows[job.row];
            let target = view.user(&row.plan.cloud_object_id);
            if let Some(t) = target {
                job.current = Some(t.immutable_id.clone().unwrap_or_default());
            }
            judge_one(job, &row.plan, target, now.as_ref())
        })
        .collect()
}

/// The planning engine's decision for each row again ([`plan::decide_target`]), against the
/// target as read now and the current holders of its ImmutableId. `None` where the row cannot
/// be decided (no target, or its anchor is not GUID-based).
fn redecide(jobs: &[Job], rows: &[ReviewRow], view: &TenantView) -> Vec<Option<PlanRow>> {
    jobs.iter()
        .map(|job| {
            let p = &rows[job.row].plan;
            let mut target = view.user(&p.cloud_object_id)?.clone();
            let anchor = anchor::guid_based(&p.new_immutable_id)?;
            if let Some(r) = &view.roles {
                target.privileged_roles = Some(r.get(&target.id).cloned().unwrap_or_default());
            }
            // The AD side as the workbook has it (only the anchor: the objectGUID and
            // ConsistencyGuid Check is not repeated).
            let ad = AdUser {
                upn: p.upn.clone(),
                object_guid: Some(anchor),
                mail: Some(p.mail_onprem.clone()).filter(|m| !m.is_empty()),
                display_name: Some(p.display_name_onprem.clone()).filter(|d| !d.is_empty()),
                location: p.source.clone(),
                ..AdUser::default()
            };
            let active: Vec<&CloudUser> = view.active_holders(&p.new_immutable_id).iter().collect();
            let deleted: Vec<&CloudUser> =
                view.deleted_holders(&p.new_immutable_id).iter().collect();
            Some(plan::decide_target(
                &ad,
                &target,
                p.matched_by.unwrap_or(MatchedBy::Upn),
                Holders::new(&active, &deleted),
            ))
        })
        .collect()
}

/// Checks that block a hard match (privileged role, onPremisesObjectIdentifier): one that was
/// not on the row when it was approved stops the row.
fn is_blocking_check(check: &str) -> bool {
    check.starts_with("hard match will be blocked")
}

fn name(u: &CloudUser) -> String {
    format!("{} (id {})", u.upn, u.id)
}

fn shown(v: &str) -> &str {
    if v.is_empty() {
        "(none)"
    } else {
        v
    }
}

fn changed(what: String) -> Verdict {
    // `what` may end with a whole Reason, full stop included.
    let what = what.trim_end().trim_end_matches('.');
    Verdict::Settle(
        Status::Skipped,
        format!(
            "the tenant changed since planning: {what}. Nothing was sent; plan again to review it"
        ),
    )
}

fn judge_one(
    job: &mut Job,
    p: &PlanRow,
    target: Option<&CloudUser>,
    now: Option<&PlanRow>,
) -> Verdict {
    let Some(t) = target else {
        return changed(format!(
            "the cloud user {} (id {}) no longer exists",
            p.cloud_upn, p.cloud_object_id
        ));
    };
    if Folded::new(&t.upn) != Folded::new(&p.cloud_upn) {
        return changed(format!(
            "the cloud user's UPN changed from {} to {}",
            p.cloud_upn, t.upn
        ));
    }
    let current = t.immutable_id.clone().unwrap_or_default();
    let Some(now) = now else {
        return Verdict::Settle(
            Status::Skipped,
            format!(
                "New ImmutableId {} is not base64 of a GUID; plan again",
                p.new_immutable_id
            ),
        );
    };
    if now.cloud_object_id != p.cloud_object_id {
        return changed(format!(
            "the row now matches another cloud user ({})",
            now.cloud_upn
        ));
    }
    let checks = repeat_checks(p, now);
    if now.action == Some(Action::AlreadyMatched) {
        let what = if job.in_doubt.is_some() {
            format!(
                "confirmed after an interrupted run: the user holds ImmutableId {}",
                p.new_immutable_id
            )
        } else {
            format!(
                "the user already holds ImmutableId {}; nothing written",
                p.new_immutable_id
            )
        };
        return Verdict::Settle(Status::Done, join(what, &checks));
    }
    if current != p.cloud_immutable_id {
        return changed(format!(
            "the user's ImmutableId changed from {} to {}",
            shown(&p.cloud_immutable_id),
            shown(&current)
        ));
    }
    if let Some(new_block) = now
        .checks
        .iter()
        .find(|c| is_blocking_check(c) && !p.checks.contains(c))
    {
        return changed(new_block.clone());
    }
    job.previous = Some(current);
    job.note = join_notes(&job.note, &checks);
    match now.action {
        Some(Action::Set) | Some(Action::Replace) => Verdict::Go { purge: None },
        Some(Action::ConflictDeleted)
            if p.action == Some(Action::ConflictDeleted)
                && now
                    .holder_object_id
                    .eq_ignore_ascii_case(&p.holder_object_id) =>
        {
            Verdict::Go {
                purge: Some(Box::new(CloudUser {
                    id: now.holder_object_id.clone(),
                    ..CloudUser::default()
                })),
            }
        }
        other => changed(format!(
            "it is now {}: {}",
            other.map_or("undecided", |a| a.as_str()),
            now.reason
        )),
    }
}

/// The Checks a human approved, said again in the Result, and any new ones that do not block.
fn repeat_checks(p: &PlanRow, now: &PlanRow) -> String {
    let mut out = String::new();
    if !p.checks.is_empty() {
        out.push_str("approved with Checks: ");
        out.push_str(&p.checks.join("; "));
    }
    let new: Vec<&String> = now
        .checks
        .iter()
        .filter(|c| !p.checks.contains(c) && !is_blocking_check(c))
        .collect();
    if !new.is_empty() {
        if !out.is_empty() {
            out.push_str(". ");
        }
        out.push_str("new since planning: ");
        out.push_str(
            &new.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    out
}

fn join_notes(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}; {b}"),
    }
}

fn join(what: String, note: &str) -> String {
    if note.is_empty() {
        what
    } else {
        format!("{what}. {note}")
    }
}

fn since_apply(what: String) -> Verdict {
    Verdict::Settle(
        Status::Skipped,
        format!(
            "the tenant changed since apply: {}; nothing was sent",
            what.trim_end_matches('.')
        ),
    )
}

/// Revert's pre-flight: the user must still hold what apply wrote, and the previous value must
/// be free to take back.
pub fn judge_revert(jobs: &mut [Job], rows: &[ReviewRow], view: &TenantView) -> Vec<Verdict> {
    jobs.iter_mut()
        .map(|job| {
            let row = &rows[job.row];
            let p = &row.plan;
            let previous = row.previous_immutable_id.clone().unwrap_or_default();
            let Some(t) = view.user(&p.cloud_object_id) else {
                return since_apply(format!(
                    "the cloud user {} (id {}) no longer exists",
                    p.cloud_upn, p.cloud_object_id
                ));
            };
            let current = t.immutable_id.clone().unwrap_or_default();
            job.current = Some(current.clone());
            if current == previous {
                return Verdict::Settle(
                    Status::Reverted,
                    format!(
                        "the user already holds its previous ImmutableId {}; nothing written",
                        shown(&previous)
                    ),
                );
            }
            if current != p.new_immutable_id {
                return since_apply(format!(
                    "the user's ImmutableId is now {}, not {} as apply left it; not reverted",
                    shown(&current),
                    p.new_immutable_id
                ));
            }
            if t.sync_enabled == Some(true) {
                return since_apply(
                    "the cloud user is now synced (onPremisesSyncEnabled = true); Graph refuses the change".into(),
                );
            }
            if !previous.is_empty() {
                if let Some(h) = view
                    .active_holders(&previous)
                    .iter()
                    .find(|h| !h.id.eq_ignore_ascii_case(&t.id))
                {
                    return since_apply(format!(
                        "another active user {} now holds the previous ImmutableId {previous}",
                        name(h)
                    ));
                }
                if let Some(h) = view.deleted_holders(&previous).first() {
                    return since_apply(format!(
                        "a soft-deleted user {} holds the previous ImmutableId {previous}; restore or purge it first",
                        name(h)
                    ));
                }
            }
            job.value = Some(previous).filter(|v| !v.is_empty());
            Verdict::Go { purge: None }
        })
        .collect()
}

/// The ImmutableIds whose holders pre-flight must know: what apply writes, or what revert
/// restores.
pub fn values_of(jobs: &[Job], rows: &[ReviewRow]) -> Vec<String> {
    let mut out: Vec<String> = jobs
        .iter()
        .filter_map(|j| {
            let r = &rows[j.row];
            match j.op {
                Op::Revert => r.previous_immutable_id.clone().filter(|v| !v.is_empty()),
                _ => Some(r.plan.new_immutable_id.clone()),
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
