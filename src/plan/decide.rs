//! Matching and the one-Action-per-row decision.

use super::index::{smtp_address, Folded, Index, UserKeyIndex};
use super::{Action, MatchKeys, MatchedBy, Plan, PlanOptions, PlanRow};
use crate::anchor::SourceAnchor;
use crate::cloud::{CloudState, CloudUser};
use crate::sources::AdUser;
use std::fmt::Write as _;

/// How many other rows or candidates a reason names before it says "and N more".
const NAME_AT_MOST: usize = 5;

/// What matching found for one AD row, before any decision.
#[derive(Default)]
enum Found {
    #[default]
    None,
    /// One active cloud user, how it matched, and the other active users holding this AD user's
    /// UPN, mail or SMTP addresses (almost always none: boxed, so the common case costs nothing).
    One(u32, MatchedBy, Option<Box<[u32]>>),
    /// Several active cloud users; the key kind and the value that matched them all.
    Many(Vec<u32>, MatchedBy),
}

/// Per-AD-row facts gathered in the first pass, so the second pass can see every row's match.
#[derive(Default)]
struct Prepared {
    anchor: Option<SourceAnchor>,
    /// The row's own problems make it `InvalidInput` (problems, or no anchor at all).
    invalid: bool,
    found: Found,
}

/// Match every AD user to an active cloud user and decide exactly one [`Action`] per AD row.
///
/// # Matching
/// 1. An active cloud user already holding the row's ImmutableId is the match
///    ([`MatchedBy::ImmutableId`]), in every mode and whatever UPN or mail say: Entra Connect
///    hard-matches on the sourceAnchor before it tries any soft match.
/// 2. Case-insensitive, trimmed userPrincipalName.
/// 3. With [`MatchKeys::UpnMail`] and no UPN hit: the AD mail against cloud mail; then, still
///    without a hit, every AD address (mail and `smtp:` proxyAddresses, prefix stripped) against
///    every cloud address (mail and `smtp:` proxyAddresses). Only SMTP proxies count, as in Entra
///    Connect's soft match.
///
/// So `build` never gives `ConflictActive`: an active holder of the ImmutableId is the match.
/// [`decide_target`] gives it when a re-check finds a holder other than the planned target.
///
/// Several candidates at the first step that finds any make the row `Ambiguous`: we report, never
/// guess. Soft-deleted users are never matched; they only matter as holders of an ImmutableId.
///
/// # Priority (the first that applies wins)
/// 1. `InvalidInput`: the row has problems, or neither objectGUID nor mS-DS-ConsistencyGuid. Such
///    rows take no part in duplicate detection: they cannot be applied anyway, and a valid row
///    should not be blocked by a broken one.
/// 2. `DuplicateSource`: another valid AD row has the same anchor, or matched the same cloud user.
///    Every row involved gets it, naming the others, because the tool cannot know which is right.
/// 3. `NoCloudUser`, then `Ambiguous`: there is no single cloud user to judge.
/// 4. `AlreadyMatched`: the cloud user already holds exactly (case-sensitively) this ImmutableId.
///    It comes *before* `BlockedSynced` on purpose: nothing has to be written, so the sync flag
///    cannot block anything; a still-synced user gets a Check instead (stop the old sync first).
/// 5. `BlockedSynced`: `onPremisesSyncEnabled` is true; Graph refuses every anchor write, so any
///    conflict below is moot until the user is out of sync scope.
/// 6. `ConflictActive`: another active cloud user holds the ImmutableId. Before `ConflictDeleted`,
///    because purging the recycle bin would not help while an active holder remains.
/// 7. `ConflictDeleted`: a soft-deleted user holds it; purging that user resolves it.
/// 8. `Replace`: cloud-only with a different anchor (separate approval).
/// 9. `Set`: cloud-only with no anchor.
///
/// Steps 1 and 4–9 for a row with one matched cloud user are [`decide_target`], which `apply`
/// calls on its own to re-decide a row against a fresh read of the tenant.
///
/// A cloud user with `onPremisesObjectIdentifier` set or a privileged role gets a Check, not a
/// different Action: the 2026 protection is enforced on Entra Connect's hard match, not on the
/// ImmutableId write, the role rule's start date is uncertain (field notes §1), and the fix (clear
/// the identifier, drop the roles) is outside this tool. The Check says what to clear first; rows
/// with Checks are never pre-approved, so a reviewer has to read it.
pub fn build(ad: &[AdUser], cloud: &CloudState, opts: &PlanOptions) -> Plan {
    let d = decide(ad, cloud, opts);
    // Render every row, on every core.
    let mut rows = Vec::with_capacity(ad.len());
    rows.resize_with(ad.len(), PlanRow::default);
    par_fill(&mut rows, |i, row| *row = d.row(i));
    Plan {
        rows,
        unmatched_cloud: d.unmatched_cloud,
        warnings: d.warnings,
    }
}

/// Every row's decision, taken but not yet rendered: [`Decisions::row`] builds row `i`'s
/// [`PlanRow`] (the same one [`build`] returns) on demand. A million rendered rows with their
/// reasons and copied identifiers take about as much memory again as the inputs; rendering them
/// one at a time while the workbook is written keeps only the inputs in memory.
pub struct Decisions<'a> {
    ad: &'a [AdUser],
    cloud: &'a CloudState,
    idx: CloudIndex<'a>,
    prepared: Vec<Prepared>,
    duplicated: Vec<bool>,
    by_anchor: Index<SourceAnchor>,
    extra_claims: Index<u32>,
    /// Active cloud users no AD row matched (indices into `CloudState::users`).
    pub unmatched_cloud: Vec<usize>,
    /// Tenant-level warnings (hard-match takeover blocked, …).
    pub warnings: Vec<String>,
}

impl Decisions<'_> {
    /// How many rows: one per AD user.
    pub fn len(&self) -> usize {
        self.ad.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ad.is_empty()
    }

    /// Row `i` (0-based; its Row id is `i + 1`), as [`build`] would have it.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> PlanRow {
        let p = &self.prepared[i];
        let mut row = decide_row(&self.ad[i], p, self.cloud, &self.idx);
        row.row_id = i as u64 + 1;
        if self.duplicated[i] {
            mark_duplicates(
                &mut row,
                i as u32,
                p,
                self.ad,
                &self.cloud.users,
                &self.by_anchor,
                &self.extra_claims,
            );
        }
        row
    }
}

/// Where the cloud user already has a GUID-based anchor that differs from the AD user's, there
/// is a second fix: the AD user adopts it as mS-DS-ConsistencyGuid (the usual one after a
/// domain migration, where cloud users still carry the old domain's anchors). The Reason offers
/// it on the rows `hardmatch script --format ldif` can write: Replace, and ConflictDeleted
/// (whose recycle-bin holder then no longer matters).
/// Not where the cloud anchor is this AD user's own GUID in a wrong notation: Replace is the fix.
fn offer_keeping_cloud_anchor(row: &mut PlanRow) {
    if !matches!(row.action, Some(Action::Replace | Action::ConflictDeleted))
        || row.cloud_immutable_id == row.new_immutable_id
        || crate::anchor::guid_based(&row.cloud_immutable_id).is_none()
        || crate::anchor::guid_based(&row.new_immutable_id).is_some_and(|a| {
            crate::anchor::same_guid_in_wrong_notation(&row.cloud_immutable_id, a).is_some()
        })
    {
        return;
    }
    let _ = write!(
        row.reason,
        " Or keep the cloud anchor (as after a domain migration): `hardmatch script --format ldif --ad-export AD-EXPORT` sets this AD user's mS-DS-ConsistencyGuid to {} instead.",
        row.cloud_immutable_id
    );
}

/// The matching and duplicate passes of [`build`], without rendering the rows.
pub fn decide<'a>(ad: &'a [AdUser], cloud: &'a CloudState, opts: &PlanOptions) -> Decisions<'a> {
    decide_indexed(ad, CloudIndex::new(cloud, opts.match_keys), opts)
}

/// [`decide`] with the cloud side indexed beforehand ([`CloudIndex::new`]), so that a caller
/// can build the index while it is still reading the AD export.
pub fn decide_indexed<'a>(
    ad: &'a [AdUser],
    mut idx: CloudIndex<'a>,
    opts: &PlanOptions,
) -> Decisions<'a> {
    let cloud = idx.cloud;
    debug_assert_eq!(idx.keys, opts.match_keys);
    let active = &cloud.users;

    // Pass 1: anchors and matches (read-only on the indexes, so it runs on every core).
    let mut prepared: Vec<Prepared> = Vec::with_capacity(ad.len());
    prepared.resize_with(ad.len(), Prepared::default);
    par_fill(&mut prepared, |i, p| {
        let u = &ad[i];
        let anchor = u.source_anchor();
        *p = Prepared {
            anchor,
            invalid: !u.problems.is_empty() || anchor.is_none(),
            found: idx.find(u, anchor),
        };
    });

    // Rendering looks users up by ImmutableId only; the key tables (a million entries each)
    // would otherwise stay in memory while the whole workbook is written.
    idx.upn = UserKeyIndex::empty(&cloud.users, upn_key);
    idx.mail = UserKeyIndex::empty(&cloud.users, mail_key);
    idx.address = Index::with_capacity(0);
    idx.upn_shared = Vec::new();
    idx.address_shared = Vec::new();

    // Duplicate anchors and cloud users claimed by more than one valid row. Anchors are found
    // twice by sorting (anchor, row) pairs rather than hashing a million anchors: 20 bytes a row
    // instead of about 70 at the moment this run's memory peaks.
    let mut anchors: Vec<(SourceAnchor, u32)> = Vec::with_capacity(ad.len());
    const NOBODY: u32 = u32::MAX;
    let mut first_claim = vec![NOBODY; active.len()];
    let mut extra_claims: Index<u32> = Index::with_capacity(0);
    let mut matched = vec![false; active.len()];
    for (row, p) in prepared.iter().enumerate() {
        let row = row as u32;
        if let Found::One(c, _, _) = p.found {
            matched[c as usize] = true;
        }
        if p.invalid {
            continue;
        }
        if let Some(a) = p.anchor {
            anchors.push((a, row));
        }
        if let Found::One(c, _, _) = p.found {
            let first = &mut first_claim[c as usize];
            if *first == NOBODY {
                *first = row;
            } else {
                extra_claims.insert(c, *first);
                extra_claims.insert(c, row);
            }
        }
    }
    drop(first_claim);
    // Rows look only at anchors filed more than once (`mark_duplicates`): keep just those, each
    // with its rows in row order (the pairs sort by anchor, then row).
    anchors.sort_unstable();
    let mut by_anchor: Index<SourceAnchor> = Index::with_capacity(0);
    for run in anchors
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        for &(a, row) in run {
            by_anchor.insert(a, row);
        }
    }
    drop(anchors);
    // Only the few rows involved in a duplicate look the duplicates up again.
    let mut duplicated = vec![false; ad.len()];
    for rows in by_anchor.shared().chain(extra_claims.shared()) {
        for &r in rows {
            duplicated[r as usize] = true;
        }
    }

    let unmatched_cloud = matched
        .iter()
        .enumerate()
        .filter(|(_, m)| !**m)
        .map(|(i, _)| i)
        .collect();

    let mut warnings = Vec::new();
    if let Some(f) = &cloud.features {
        if f.block_cloud_object_takeover_through_hard_match {
            warnings.push(
                "The tenant has BlockCloudObjectTakeoverThroughHardMatchEnabled turned on: even with the right ImmutableId, \
                 Entra Connect will refuse to take over cloud users (sync error InvalidHardMatch). Turn it off for the matching \
                 period (Update-MgDirectoryOnPremiseSynchronization, Features) and back on once matching is done."
                    .to_string(),
            );
        }
    }

    Decisions {
        ad,
        cloud,
        idx,
        prepared,
        duplicated,
        by_anchor,
        extra_claims,
        unmatched_cloud,
        warnings,
    }
}

/// Below this many rows a second thread costs more than it saves.
const PARALLEL_FROM: usize = 20_000;

/// `out[i] = f(i)` for every element, on up to all available cores, in place (no second copy of
/// a million rows to concatenate).
fn par_fill<T: Send, F: Fn(usize, &mut T) + Sync>(out: &mut [T], f: F) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || out.len() < PARALLEL_FROM {
        out.iter_mut().enumerate().for_each(|(i, x)| f(i, x));
        return;
    }
    let chunk = out.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (c, part) in out.chunks_mut(chunk).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (j, x) in part.iter_mut().enumerate() {
                    f(c * chunk + j, x);
                }
            });
        }
    });
}

fn upn_key(u: &CloudUser) -> Option<&str> {
    Some(&u.upn)
}

fn mail_key(u: &CloudUser) -> Option<&str> {
    u.mail.as_deref()
}

/// The cloud users' lookup tables (UPN, mail and addresses, ImmutableIds of active and deleted
/// users) that matching needs.
pub struct CloudIndex<'a> {
    cloud: &'a CloudState,
    keys: MatchKeys,
    upn: UserKeyIndex<'a>,
    /// Active users by `onPremisesImmutableId`, exact (anchors are case-sensitive).
    immutable_id: Index<&'a str>,
    deleted_immutable_id: Index<&'a str>,
    mail: UserKeyIndex<'a>,
    /// Mail and SMTP proxy addresses together; only built for `--match upn-mail`, to save
    /// memory otherwise.
    address: Index<Folded<'a>>,
    /// Per active user: another user has its UPN, or one of the addresses looked up for the
    /// address Check (mail, and with `--match upn-mail` its SMTP proxy addresses). Most users
    /// share nothing, so most rows need no look-up at all for that Check.
    upn_shared: Vec<bool>,
    address_shared: Vec<bool>,
}

impl<'a> CloudIndex<'a> {
    pub fn new(cloud: &'a CloudState, keys: MatchKeys) -> Self {
        let users = &cloud.users;
        let by_mail = keys == MatchKeys::UpnMail;
        let upn = || UserKeyIndex::new(users, upn_key);
        let immutable_ids = |list: &'a [CloudUser]| {
            let n = list
                .iter()
                .filter(|u| non_empty(&u.immutable_id).is_some())
                .count();
            let mut ix = Index::with_capacity(n);
            for (i, u) in list.iter().enumerate() {
                if let Some(id) = non_empty(&u.immutable_id) {
                    ix.insert(id, i as u32);
                }
            }
            ix
        };
        let addresses = || {
            // Mail in every mode: matching uses it with --match upn-mail, the Check for another
            // user holding the AD mail in both.
            let mail = UserKeyIndex::new(users, mail_key);
            let mut address = Index::with_capacity(if by_mail { users.len() * 2 } else { 0 });
            if by_mail {
                for (i, u) in users.iter().enumerate() {
                    let i = i as u32;
                    if let Some(k) = u.mail.as_deref().and_then(Folded::new) {
                        address.insert(k, i);
                    }
                    for k in u
                        .proxy_addresses
                        .iter()
                        .filter_map(|p| smtp_address(p))
                        .filter_map(Folded::new)
                    {
                        address.insert(k, i);
                    }
                }
            }
            (mail, address)
        };
        // The tables are independent: build them side by side on big inputs, the UPN table
        // on one thread, the (smaller) ImmutableId tables and the address tables on the other.
        let both_ids = || (immutable_ids(users), immutable_ids(&cloud.deleted));
        let (upn, ((immutable_id, deleted_immutable_id), (mail, address))) =
            if users.len() >= PARALLEL_FROM {
                std::thread::scope(|s| {
                    let others = s.spawn(|| (both_ids(), addresses()));
                    let upn = upn();
                    let others = others
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p));
                    (upn, others)
                })
            } else {
                (upn(), (both_ids(), addresses()))
            };
        let upn_shared = upn.shared_flags();
        let address_shared = if by_mail {
            let mut flags = vec![false; users.len()];
            for &i in address.shared().flatten() {
                flags[i as usize] = true;
            }
            flags
        } else {
            mail.shared_flags()
        };
        CloudIndex {
            cloud,
            keys,
            upn,
            immutable_id,
            deleted_immutable_id,
            mail,
            address,
            upn_shared,
            address_shared,
        }
    }

    /// `k` is one of the addresses `address_holders` looks up that `u` has itself.
    fn owns_address(&self, u: &CloudUser, k: &Folded<'_>) -> bool {
        let mine = |a: &str| Folded::new(a).as_ref() == Some(k);
        u.mail.as_deref().is_some_and(mine)
            || (self.keys == MatchKeys::UpnMail
                && u.proxy_addresses
                    .iter()
                    .filter_map(|p| smtp_address(p))
                    .any(mine))
    }

    fn find(&self, u: &AdUser, anchor: Option<SourceAnchor>) -> Found {
        match self.find_match(u, anchor) {
            Found::One(c, by, _) => Found::One(c, by, self.address_holders(u, c, by)),
            other => other,
        }
    }

    /// Active users other than `target` that hold this AD user's UPN (unless that is how it
    /// matched), mail or SMTP addresses: after the match, Entra Connect cannot give them to
    /// `target`. Only the addresses planning kept are compared (SMTP proxies only with
    /// `--match upn-mail`).
    fn address_holders(&self, u: &AdUser, target: u32, by: MatchedBy) -> Option<Box<[u32]>> {
        // Almost every row's addresses are its target's own, and nobody else's: then there is
        // nothing to look up, and nothing is allocated.
        let t = self.user(target);
        let mut hits: Vec<u32> = Vec::new();
        let mut add = |found: &[u32]| hits.extend(found.iter().filter(|&&h| h != target));
        if by != MatchedBy::Upn {
            if let Some(k) = Folded::new(&u.upn) {
                let only_target =
                    Folded::new(&t.upn) == Some(k) && !self.upn_shared[target as usize];
                if !only_target {
                    add(self.upn.get(&k));
                }
            }
        }
        let addresses = u
            .mail
            .as_deref()
            .into_iter()
            .chain(u.proxy_addresses.iter().filter_map(|p| smtp_address(p)))
            .filter_map(Folded::new);
        for k in addresses {
            if !self.address_shared[target as usize] && self.owns_address(t, &k) {
                continue;
            }
            match self.keys {
                MatchKeys::UpnMail => add(self.address.get(&k)),
                MatchKeys::Upn => add(self.mail.get(&k)),
            }
        }
        if hits.is_empty() {
            return None;
        }
        hits.sort_unstable();
        hits.dedup();
        Some(hits.into_boxed_slice())
    }

    fn find_match(&self, u: &AdUser, anchor: Option<SourceAnchor>) -> Found {
        // The anchor first, in every mode: Entra Connect hard-matches before any soft match.
        if let Some(a) = anchor {
            let mut buf = [0; 24];
            if let Some(f) = found(
                self.immutable_id.get(&a.immutable_id_in(&mut buf)),
                MatchedBy::ImmutableId,
            ) {
                return f;
            }
        }
        if let Some(k) = Folded::new(&u.upn) {
            if let Some(f) = found(self.upn.get(&k), MatchedBy::Upn) {
                return f;
            }
        }
        if self.keys == MatchKeys::UpnMail {
            if let Some(k) = u.mail.as_deref().and_then(Folded::new) {
                if let Some(f) = found(self.mail.get(&k), MatchedBy::Mail) {
                    return f;
                }
            }
            let mut hits: Vec<u32> = u
                .mail
                .as_deref()
                .into_iter()
                .chain(u.proxy_addresses.iter().filter_map(|p| smtp_address(p)))
                .filter_map(Folded::new)
                .flat_map(|k| self.address.get(&k).iter().copied())
                .collect();
            hits.sort_unstable();
            hits.dedup();
            if let Some(f) = found(&hits, MatchedBy::ProxyAddress) {
                return f;
            }
        }
        Found::None
    }

    fn user(&self, i: u32) -> &'a CloudUser {
        &self.cloud.users[i as usize]
    }
}

fn found(hits: &[u32], by: MatchedBy) -> Option<Found> {
    match hits {
        [] => None,
        [one] => Some(Found::One(*one, by, None)),
        many => Some(Found::Many(many.to_vec(), by)),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `a@x.com (id 1234…)`: how reasons name a cloud user.
fn name(u: &CloudUser) -> String {
    if u.upn.is_empty() {
        format!("(no UPN, id {})", u.id)
    } else {
        format!("{} (id {})", u.upn, u.id)
    }
}

/// "a, b, c and 2 more".
fn list(items: impl ExactSizeIterator<Item = String>) -> String {
    let n = items.len();
    let mut out = String::new();
    for (i, s) in items.take(NAME_AT_MOST).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&s);
    }
    if n > NAME_AT_MOST {
        let _ = write!(out, " and {} more", n - NAME_AT_MOST);
    }
    out
}

fn differs(a: Option<&str>, b: Option<&str>) -> Option<(String, String)> {
    let a = a.map(str::trim).filter(|s| !s.is_empty())?;
    let b = b.map(str::trim).filter(|s| !s.is_empty())?;
    (Folded::new(a) != Folded::new(b)).then(|| (a.to_string(), b.to_string()))
}

/// What the tenant holds, besides one matched cloud user, that bears on its decision
/// ([`decide_target`]). The target itself is ignored wherever it appears, so a caller may pass
/// every user a query returned.
///
/// Build it with [`Holders::new`]: kinds of holders added later then default to "none".
#[derive(Clone, Copy, Debug, Default)]
pub struct Holders<'c> {
    /// Active cloud users holding the ImmutableId this AD user would get (exact, case-sensitive).
    pub active: &'c [&'c CloudUser],
    /// Soft-deleted users (recycle bin) holding it.
    pub deleted: &'c [&'c CloudUser],
    /// Active cloud users whose UPN, mail or SMTP proxy address is this AD user's UPN, mail or
    /// an SMTP proxy address: Entra Connect cannot give those to the target after the match.
    pub addresses: &'c [&'c CloudUser],
}

impl<'c> Holders<'c> {
    /// The active and the soft-deleted users holding the row's ImmutableId.
    pub fn new(active: &'c [&'c CloudUser], deleted: &'c [&'c CloudUser]) -> Self {
        Holders {
            active,
            deleted,
            addresses: &[],
        }
    }

    /// With the users holding the AD user's UPN, mail or SMTP addresses ([`Holders::addresses`]).
    pub fn with_addresses(self, addresses: &'c [&'c CloudUser]) -> Self {
        Holders { addresses, ..self }
    }
}

/// The two are one user: the same object, or the same non-empty object id (the same user read
/// twice, e.g. by a query for holders and one for the target).
fn same_user(a: &CloudUser, b: &CloudUser) -> bool {
    std::ptr::eq(a, b) || (!a.id.is_empty() && a.id == b.id)
}

/// Decide one AD row against a cloud user already known to be its match: steps 1 and 4–9 of
/// [`build`]'s priority list, with every Check. `plan` calls it for each row that matched exactly
/// one cloud user, so for such a row it returns exactly what [`build`] returns, apart from
/// `row_id` (0 here; the caller numbers rows) and step 2 (`DuplicateSource`, which needs every
/// AD row).
///
/// **This is the entry point for re-deciding one row**, e.g. in `apply`, against a fresh read of
/// the tenant just before writing. It needs no whole-tenant index: only `target` (with its
/// `privileged_roles` if known), how it was matched, and the [`Holders`]: the active and deleted
/// users holding the row's ImmutableId and, for the address Checks, those holding its UPN, mail
/// or SMTP addresses. Tenant-wide flags (`blockCloudObjectTakeoverThroughHardMatchEnabled`) are
/// not a row's decision; check them once per run.
/// A row rebuilt from the workbook carries only the anchor, not both objectGUID and
/// mS-DS-ConsistencyGuid, so the Check comparing the two is not repeated then.
pub fn decide_target(
    ad: &AdUser,
    target: &CloudUser,
    matched_by: MatchedBy,
    holders: Holders<'_>,
) -> PlanRow {
    let anchor = ad.source_anchor();
    let mut row = ad_row(ad, anchor);
    row.matched_by = Some(matched_by);
    row.cloud_object_id = target.id.clone();
    row.cloud_upn = target.upn.clone();
    row.cloud_immutable_id = target.immutable_id.clone().unwrap_or_default();
    row.mail_cloud = target.mail.clone().unwrap_or_default();
    row.display_name_cloud = target.display_name.clone().unwrap_or_default();
    cloud_checks(&mut row, ad, target, matched_by);
    for other in holders
        .addresses
        .iter()
        .filter(|h| !same_user(h, target))
        .take(NAME_AT_MOST)
    {
        address_check(&mut row, ad, target, matched_by, other);
    }
    if is_invalid(ad, anchor) {
        return invalid_row(row, ad);
    }
    let active: Vec<&CloudUser> = holders
        .active
        .iter()
        .copied()
        .filter(|h| !same_user(h, target))
        .collect();
    let deleted: Vec<&CloudUser> = holders
        .deleted
        .iter()
        .copied()
        .filter(|h| !same_user(h, target))
        .collect();
    let mut row = decide_matched(row, target, &active, &deleted);
    offer_keeping_cloud_anchor(&mut row);
    row
}

/// A row's own problems make it `InvalidInput`, as does having no anchor at all.
fn is_invalid(u: &AdUser, anchor: Option<SourceAnchor>) -> bool {
    !u.problems.is_empty() || anchor.is_none()
}

/// The AD side of a row, and the Check that needs only the AD side.
fn ad_row(u: &AdUser, anchor: Option<SourceAnchor>) -> PlanRow {
    let mut row = PlanRow {
        upn: u.upn.trim().to_string(),
        onprem_guid: anchor.map(|a| a.to_string()).unwrap_or_default(),
        new_immutable_id: anchor.map(|a| a.immutable_id()).unwrap_or_default(),
        mail_onprem: u.mail.clone().unwrap_or_default(),
        display_name_onprem: u.display_name.clone().unwrap_or_default(),
        source: u.location.clone(),
        matched_by: Some(MatchedBy::None),
        ..PlanRow::default()
    };
    if let (Some(cg), Some(og)) = (u.consistency_guid, u.object_guid) {
        if cg != og {
            row.checks.push(format!(
                "mS-DS-ConsistencyGuid differs from objectGUID: Entra Connect will use mS-DS-ConsistencyGuid ({cg}, \
                 ImmutableId {}), not objectGUID ({og}, ImmutableId {}); planned with mS-DS-ConsistencyGuid",
                cg.immutable_id(),
                og.immutable_id()
            ));
        }
    }
    row
}

/// Step 1: the AD row cannot be used, whatever was matched.
fn invalid_row(mut row: PlanRow, u: &AdUser) -> PlanRow {
    row.action = Some(Action::InvalidInput);
    row.reason = if !u.problems.is_empty() {
        format!(
            "The AD row cannot be used: {}. Fix the export and plan again.",
            u.problems.join("; ")
        )
    } else {
        "The AD row has neither objectGUID nor mS-DS-ConsistencyGuid, so there is no anchor to write. Export objectGUID \
         (e.g. Get-ADUser -Properties ObjectGUID) and plan again."
            .to_string()
    };
    row
}

/// Everything except the duplicate rule, which needs every row's match.
fn decide_row(u: &AdUser, p: &Prepared, cloud: &CloudState, idx: &CloudIndex<'_>) -> PlanRow {
    let mut buf = [0; 24];
    let new_id = p.anchor.map_or("", |a| a.immutable_id_in(&mut buf));
    let deleted_holders = || -> Vec<&CloudUser> {
        idx.deleted_immutable_id
            .get(&new_id)
            .iter()
            .map(|&i| &cloud.deleted[i as usize])
            .collect()
    };
    if let Found::One(c, by, others) = &p.found {
        let active: Vec<&CloudUser> = idx
            .immutable_id
            .get(&new_id)
            .iter()
            .map(|&i| idx.user(i))
            .collect();
        let deleted = deleted_holders();
        let addresses: Vec<&CloudUser> = others.iter().flatten().map(|&i| idx.user(i)).collect();
        let holders = Holders::new(&active, &deleted).with_addresses(&addresses);
        return decide_target(u, idx.user(*c), *by, holders);
    }

    let row = ad_row(u, p.anchor);
    if p.invalid {
        return invalid_row(row, u);
    }
    match &p.found {
        Found::Many(cands, by) => ambiguous_row(row, cands, *by, idx),
        _ => no_cloud_user_row(row, idx.keys, &deleted_holders()),
    }
}

/// Step 3b: several cloud users could be this AD user.
fn ambiguous_row(mut row: PlanRow, cands: &[u32], by: MatchedBy, idx: &CloudIndex<'_>) -> PlanRow {
    let key = match by {
        MatchedBy::Upn => format!("UPN {}", row.upn),
        MatchedBy::Mail => format!("mail {}", row.mail_onprem),
        MatchedBy::ProxyAddress => "mail or SMTP proxyAddresses".to_string(),
        MatchedBy::ImmutableId => format!("ImmutableId {}", row.new_immutable_id),
        MatchedBy::None => String::new(),
    };
    row.action = Some(Action::Ambiguous);
    row.matched_by = Some(by);
    row.reason = format!(
        "{} active cloud users match by {key}: {}. Fix the data so only one matches; hardmatch does not guess.",
        cands.len(),
        list(cands.iter().map(|&c| name(idx.user(c))))
    );
    row
}

/// Step 3a: no cloud user to judge; Entra Connect will create one.
fn no_cloud_user_row(mut row: PlanRow, keys: MatchKeys, deleted: &[&CloudUser]) -> PlanRow {
    row.action = Some(Action::NoCloudUser);
    let keys = match keys {
        MatchKeys::UpnMail => "UPN, mail or SMTP proxyAddresses",
        MatchKeys::Upn => "UPN",
    };
    row.reason = format!(
        "No active cloud user has this {keys} ({}), and none holds ImmutableId {}. Entra Connect will create a new cloud user for it.",
        row.upn, row.new_immutable_id
    );
    if let Some(d) = deleted.first() {
        row.checks.push(format!(
            "soft-deleted user {} in the recycle bin holds ImmutableId {}: Entra Connect will clash with it; \
             restore it if it is this person, otherwise purge it",
            name(d),
            row.new_immutable_id
        ));
    }
    row
}

/// Steps 4–9 for a valid row matched to `cu`; `active` and `deleted` hold the row's ImmutableId
/// and do not include `cu`.
fn decide_matched(
    mut row: PlanRow,
    cu: &CloudUser,
    active_holders: &[&CloudUser],
    deleted_holders: &[&CloudUser],
) -> PlanRow {
    if cu.immutable_id.as_deref() == Some(row.new_immutable_id.as_str()) {
        row.action = Some(Action::AlreadyMatched);
        row.reason = if Folded::new(&row.upn) != Folded::new(&cu.upn) {
            format!(
                "Cloud user {} already holds ImmutableId {}: Entra Connect hard-matches on it before any UPN or mail \
                 match, so it will join this AD user ({}) to that cloud user. Nothing to write.",
                name(cu),
                row.new_immutable_id,
                row.upn
            )
        } else {
            format!(
                "The cloud user already holds ImmutableId {}. Nothing to write.",
                row.new_immutable_id
            )
        };
        if cu.sync_enabled == Some(true) {
            row.checks.push(
                "cloud user is still synced (onPremisesSyncEnabled = true): stop the old directory's sync of this user before \
                 the new Entra Connect takes it over"
                    .to_string(),
            );
        }
        return row;
    }

    if cu.sync_enabled == Some(true) {
        row.action = Some(Action::BlockedSynced);
        let current = match non_empty(&cu.immutable_id) {
            Some(c) => format!("its ImmutableId is {c}"),
            None => "it has no ImmutableId".to_string(),
        };
        row.reason = format!(
            "The cloud user is still synced from a directory (onPremisesSyncEnabled = true; {current}); Graph refuses \
             to change its ImmutableId to {}. Take it out of sync scope (it is then soft-deleted; restore it as \
             cloud-only) and plan again.",
            row.new_immutable_id
        );
        return row;
    }

    if let Some(h) = active_holders.first() {
        row.action = Some(Action::ConflictActive);
        row.holder_object_id = h.id.clone();
        row.reason = format!(
            "Matched cloud user {} should get ImmutableId {}, but another active cloud user {} already holds it. \
             ImmutableIds are unique: resolve that user first (clear its ImmutableId, or it is the right match for this AD user).",
            name(cu),
            row.new_immutable_id,
            name(h)
        );
        if active_holders.len() > 1 {
            row.reason.push_str(&format!(
                " Other holders: {}.",
                list(active_holders[1..].iter().map(|h| name(h)))
            ));
        }
        return row;
    }

    if let Some(d) = deleted_holders.first() {
        row.action = Some(Action::ConflictDeleted);
        row.holder_object_id = d.id.clone();
        let when = match non_empty(&d.deleted_date_time) {
            Some(t) => format!("deleted {t}"),
            None => "deletion date unknown".to_string(),
        };
        let holder = format!("{} (id {}, {when})", d.upn, d.id);
        if let Some(same) = same_person(&row, d) {
            row.checks.push(format!(
                "soft-deleted user {} looks like the same person ({same} as this AD user): purging cannot be undone \
                 and its mailbox goes with it; restore it instead of purging? (with a new UPN if {} keeps this one)",
                name(d),
                cu.upn
            ));
        }
        let then = match non_empty(&cu.immutable_id) {
            Some(old) => format!(
                "then cloud user {}'s ImmutableId can be replaced ({old} → {})",
                name(cu),
                row.new_immutable_id
            ),
            None => format!(
                "then cloud user {} can get ImmutableId {}",
                name(cu),
                row.new_immutable_id
            ),
        };
        row.reason = format!(
            "Soft-deleted user {holder} in the recycle bin still holds ImmutableId {}. Purging it from the recycle bin \
             (permanent delete) resolves it; {then}.",
            row.new_immutable_id
        );
        return row;
    }

    match non_empty(&cu.immutable_id) {
        Some(old) => {
            row.action = Some(Action::Replace);
            row.reason = match wrong_notation(cu, &row.new_immutable_id) {
                Some((w, _)) => format!(
                    "Cloud-only and holds this AD user's own objectGUID in the wrong notation ({}): {old} → {}. \
                     Replace is safe (no AD object has {old} as its anchor), but needs its own explicit approval.",
                    w.describe(),
                    row.new_immutable_id
                ),
                None => format!(
                    "Cloud-only but holds a different ImmutableId: {old} → {}. Needs its own explicit approval: \
                     approve only if {old} is known to be wrong.",
                    row.new_immutable_id
                ),
            };
        }
        None => {
            row.action = Some(Action::Set);
            // The value is in the New ImmutableId cell beside it; at a million rows repeating
            // it here was 3% of the sheet.
            row.reason = "Cloud-only with no ImmutableId: set it.".to_string();
        }
    }
    row
}

/// Checks about the matched cloud user that do not change the action.
fn cloud_checks(row: &mut PlanRow, u: &AdUser, cu: &CloudUser, by: MatchedBy) {
    let new_id = row.new_immutable_id.as_str();
    if by != MatchedBy::Upn {
        if let Some((a, b)) = differs(Some(&u.upn), Some(&cu.upn)) {
            row.checks
                .push(format!("UPN differs: on-prem {a}, cloud {b}"));
        }
    }
    if let Some((a, b)) = differs(u.mail.as_deref(), cu.mail.as_deref()) {
        row.checks
            .push(format!("mail differs: on-prem {a}, cloud {b}"));
    }
    if let Some((a, b)) = differs(u.display_name.as_deref(), cu.display_name.as_deref()) {
        row.checks
            .push(format!("display name differs: on-prem {a}, cloud {b}"));
    }
    if let Some((w, a)) = wrong_notation(cu, new_id) {
        row.checks.push(format!(
            "same objectGUID {a}, written by an earlier tool in the wrong notation ({}): no AD object has the \
             current value as its anchor, so Replace is safe",
            w.describe()
        ));
    } else if let Some(raw) = non_empty(&cu.immutable_id) {
        if cu.anchor().is_none() && raw != new_id {
            row.checks.push(format!(
                "cloud anchor is not GUID-based: current ImmutableId {raw:?} is not base64 of 16 bytes (an e-mail address or \
                 employee ID from another sync or federation tool?)"
            ));
        }
    }
    if let Some(oid) = non_empty(&cu.on_prem_object_identifier) {
        row.checks.push(format!(
            "hard match will be blocked since 2026: the cloud user has onPremisesObjectIdentifier {oid}; clear it first \
             (PATCH onPremisesObjectIdentifier null on the beta endpoint, or Clear-ADSyncToolsOnPremisesAttribute)"
        ));
    }
    if let Some(roles) = cu.privileged_roles.as_ref().filter(|r| !r.is_empty()) {
        row.checks.push(format!(
            "hard match will be blocked since 2026: the cloud user has or is eligible for privileged role(s) {}; remove the \
             roles (and PIM eligibility), let Entra Connect match, then re-add them",
            roles.join(", ")
        ));
    }
}

/// Whether soft-deleted `d` is plainly this AD user's own earlier account: every attribute both
/// have (UPN without the deleted-user prefix, mail, display name) is equal, and at least two are
/// there to compare. Says which were equal.
fn same_person(row: &PlanRow, d: &CloudUser) -> Option<String> {
    let pairs = [
        ("UPN", row.upn.as_str(), d.original_upn()),
        (
            "mail",
            &row.mail_onprem,
            d.mail.as_deref().unwrap_or_default(),
        ),
        (
            "display name",
            &row.display_name_onprem,
            d.display_name.as_deref().unwrap_or_default(),
        ),
    ];
    let mut same = Vec::new();
    for (what, a, b) in pairs {
        match (Folded::new(a), Folded::new(b)) {
            (Some(x), Some(y)) if x == y => same.push(what),
            (Some(_), Some(_)) => return None,
            _ => {}
        }
    }
    (same.len() >= 2).then(|| format!("same {}", same.join(", ")))
}

/// `cu`'s ImmutableId names the object `new_id` names, in a notation Entra Connect never matches.
fn wrong_notation(
    cu: &CloudUser,
    new_id: &str,
) -> Option<(crate::anchor::WrongNotation, SourceAnchor)> {
    // Most cloud users have no ImmutableId or exactly this one: nothing to decode then.
    let current = non_empty(&cu.immutable_id).filter(|c| *c != new_id)?;
    let anchor = crate::anchor::guid_based(new_id)?;
    crate::anchor::same_guid_in_wrong_notation(current, anchor).map(|w| (w, anchor))
}

/// The Check for another active user holding this AD user's UPN, mail or an SMTP address; none
/// if it holds none of them.
fn address_check(
    row: &mut PlanRow,
    u: &AdUser,
    target: &CloudUser,
    by: MatchedBy,
    other: &CloudUser,
) {
    let upn = Folded::new(&u.upn);
    if upn.is_some() && upn == Folded::new(&other.upn) {
        let why = if by == MatchedBy::ImmutableId {
            format!(
                " Entra Connect joins {} because it holds the ImmutableId; if {} is this person's account, clear \
                 the ImmutableId of {} first and plan again",
                target.upn, other.upn, target.upn
            )
        } else {
            String::new()
        };
        row.checks.push(format!(
            "another cloud user {} has this AD user's UPN {}: after the match Entra Connect cannot give that UPN to {} \
             while {} has it (AttributeValueMustBeUnique).{why}",
            name(other),
            u.upn.trim(),
            target.upn,
            other.upn
        ));
        return;
    }
    let theirs: Vec<Folded<'_>> = other
        .mail
        .as_deref()
        .into_iter()
        .chain(other.proxy_addresses.iter().filter_map(|p| smtp_address(p)))
        .filter_map(Folded::new)
        .collect();
    let shared = u
        .mail
        .as_deref()
        .into_iter()
        .chain(u.proxy_addresses.iter().filter_map(|p| smtp_address(p)))
        .find(|a| Folded::new(a).is_some_and(|k| theirs.contains(&k)));
    if let Some(address) = shared {
        row.checks.push(format!(
            "another cloud user {} holds this AD user's address {} (as its mail or an SMTP proxy address): after the \
             match Entra Connect cannot give it to {} (AttributeValueMustBeUnique: the value is quarantined) and the \
             mailbox stays with {}; make sure {} is this person's account",
            name(other),
            address.trim(),
            target.upn,
            other.upn,
            target.upn
        ));
    }
}

/// Rule 2: overrides any later decision with `DuplicateSource`, naming the other rows.
fn mark_duplicates(
    row: &mut PlanRow,
    me: u32,
    p: &Prepared,
    ad: &[AdUser],
    active: &[CloudUser],
    by_anchor: &Index<SourceAnchor>,
    extra_claims: &Index<u32>,
) {
    let others = |rows: &[u32]| {
        let v: Vec<String> = rows
            .iter()
            .filter(|&&r| r != me)
            .map(|&r| ad[r as usize].location.clone())
            .collect();
        list(v.into_iter())
    };
    let mut reasons = Vec::new();
    if let Some(a) = p.anchor {
        let same = by_anchor.get(&a);
        if same.len() > 1 {
            reasons.push(format!(
                "AD row(s) {} carry the same anchor {a} (ImmutableId {}); only one AD user can own it",
                others(same),
                a.immutable_id()
            ));
        }
    }
    if let Found::One(c, _, _) = p.found {
        let claims = extra_claims.get(&c);
        if claims.len() > 1 {
            reasons.push(format!(
                "AD row(s) {} match the same cloud user {}; one cloud user can be hard-matched to only one AD user",
                others(claims),
                name(&active[c as usize])
            ));
        }
    }
    if !reasons.is_empty() {
        row.action = Some(Action::DuplicateSource);
        row.reason = format!(
            "This row ({}) and {}. Remove or fix the wrong row and plan again.",
            ad[me as usize].location,
            reasons.join("; and ")
        );
        row.holder_object_id.clear();
    }
}
