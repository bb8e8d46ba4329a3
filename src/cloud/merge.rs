//! Several cloud reads taken together (`plan --cloud a.csv --cloud a-deleted.csv`): one state,
//! each user once.
//!
//! The same file given twice, or two exports that overlap, would otherwise make every user in
//! both Ambiguous with itself. A user is the same user by object id; two copies that agree
//! (where both know a value) are one user, and copies that disagree are an error naming both
//! places, because there is no telling which is current.

use super::{CloudState, CloudUser, Unchecked};
use crate::error::InputError;
use crate::fold::Folded;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::path::PathBuf;

/// Merge `states` into one: users deduplicated by object id, sources and warnings kept in order
/// (identical warnings once), what was left unchecked combined ([`Unchecked::and`]). Warns when
/// no recycle bin was read at all.
pub fn merge(states: Vec<CloudState>) -> Result<CloudState, InputError> {
    let mut merged: Option<CloudState> = None;
    for state in states {
        let Some(m) = merged.as_mut() else {
            merged = Some(state);
            continue;
        };
        if let Some((again, first)) = same_file_again(m, &state) {
            m.warnings.push(if again == first {
                format!("{again} was given twice; it is read once")
            } else {
                format!("{again} has the same content (SHA-256) as {first}; it is read once")
            });
            continue;
        }
        m.users.extend(state.users);
        m.deleted.extend(state.deleted);
        m.features = m.features.take().or(state.features);
        m.sources.extend(state.sources);
        m.warnings.extend(state.warnings);
        m.unchecked = m.unchecked.and(state.unchecked);
    }
    let mut m = merged.unwrap_or_else(|| CloudState {
        unchecked: Unchecked {
            deleted_users: true,
            ..Unchecked::default()
        },
        ..CloudState::default()
    });
    let dropped = dedup_by_id(&mut m)?;
    if dropped > 0 {
        m.warnings.push(format!(
            "{dropped} cloud user(s) appear in more than one place with the same object id and agreeing values; \
             each is counted once"
        ));
    }
    let mut seen = std::collections::HashSet::new();
    m.warnings.retain(|w| seen.insert(w.clone()));
    if m.unchecked.deleted_users {
        m.warnings.push(
            "no soft-deleted users were read (no recycle-bin file such as cloud-deleted.csv, no \"Deleted users\" \
             sheet, no DeletedDateTime values): an ImmutableId a user in the recycle bin still holds would go \
             unnoticed. Pass the recycle bin too: `hardmatch cloud export` writes it, or \
             Get-MgDirectoryDeletedItemAsUser -All | Export-Csv cloud-deleted.csv"
                .to_string(),
        );
    }
    Ok(m)
}

/// When `state` read again what `m` already holds (every source's SHA-256 seen before): its
/// description, and that of the earlier source with the same content.
fn same_file_again(m: &CloudState, state: &CloudState) -> Option<(String, String)> {
    let mut earlier = None;
    for source in &state.sources {
        let hash = source.sha256.as_deref()?;
        let seen = m
            .sources
            .iter()
            .find(|s| s.sha256.as_deref() == Some(hash))?;
        earlier.get_or_insert_with(|| seen.description.clone());
    }
    Some((state.sources.first()?.description.clone(), earlier?))
}

/// Drops the second and later copies of each object id (active and deleted users together),
/// first filling in what only a later copy knew. Returns how many were dropped.
fn dedup_by_id(state: &mut CloudState) -> Result<usize, InputError> {
    let n_active = state.users.len();
    let total = n_active + state.deleted.len();
    let dups = {
        let get = |g: u32| -> &CloudUser {
            let g = g as usize;
            if g < n_active {
                &state.users[g]
            } else {
                &state.deleted[g - n_active]
            }
        };
        // A table of user numbers, not of ids: 4 bytes a user, whatever the id's length.
        let hasher = foldhash::fast::RandomState::default();
        let mut table: HashTable<u32> = HashTable::with_capacity(total);
        let mut dups: Vec<(u32, u32)> = Vec::new();
        for g in 0..total as u32 {
            let id = get(g).id.trim();
            if id.is_empty() {
                continue;
            }
            let hash = hasher.hash_one(id);
            match table.find(hash, |&j| get(j).id.trim() == id) {
                Some(&first) => dups.push((first, g)),
                None => {
                    table.insert_unique(hash, g, |&j| hasher.hash_one(get(j).id.trim()));
                }
            }
        }
        for &(first, dup) in &dups {
            if let Some(field) = conflict(get(first), get(dup)) {
                return Err(conflict_error(get(first), get(dup), &field));
            }
        }
        dups
    };
    if dups.is_empty() {
        return Ok(0);
    }
    let mut keep = vec![true; total];
    for &(first, dup) in &dups {
        let (first, dup) = (first as usize, dup as usize);
        let copy = if dup < n_active {
            state.users[dup].clone()
        } else {
            state.deleted[dup - n_active].clone()
        };
        let target = if first < n_active {
            &mut state.users[first]
        } else {
            &mut state.deleted[first - n_active]
        };
        fill_unknown(target, copy);
        keep[dup] = false;
    }
    let mut g = 0;
    state.users.retain(|_| {
        g += 1;
        keep[g - 1]
    });
    state.deleted.retain(|_| {
        g += 1;
        keep[g - 1]
    });
    Ok(dups.len())
}

/// The first attribute two copies of one user disagree on, where both know a value.
fn conflict(a: &CloudUser, b: &CloudUser) -> Option<String> {
    fn both<'v, T: PartialEq + ?Sized>(x: Option<&'v T>, y: Option<&'v T>) -> bool {
        matches!((x, y), (Some(x), Some(y)) if x != y)
    }
    let shown = |v: Option<&str>| v.unwrap_or("(none)").to_string();
    if a.is_deleted() != b.is_deleted() {
        return Some("state (active in one place, soft-deleted in the other)".into());
    }
    if Folded::new(&a.upn) != Folded::new(&b.upn) {
        return Some(format!("UserPrincipalName ({} and {})", a.upn, b.upn));
    }
    if a.immutable_id != b.immutable_id {
        return Some(format!(
            "OnPremisesImmutableId ({} and {})",
            shown(a.immutable_id.as_deref()),
            shown(b.immutable_id.as_deref())
        ));
    }
    if both(a.sync_enabled.as_ref(), b.sync_enabled.as_ref()) {
        return Some("OnPremisesSyncEnabled".into());
    }
    let (mail_a, mail_b) = (
        a.mail.as_deref().and_then(Folded::new),
        b.mail.as_deref().and_then(Folded::new),
    );
    if both(mail_a.as_ref(), mail_b.as_ref()) {
        return Some(format!(
            "Mail ({} and {})",
            shown(a.mail.as_deref()),
            shown(b.mail.as_deref())
        ));
    }
    if both(a.display_name.as_deref(), b.display_name.as_deref()) {
        return Some(format!(
            "DisplayName ({} and {})",
            shown(a.display_name.as_deref()),
            shown(b.display_name.as_deref())
        ));
    }
    if both(
        a.on_prem_object_identifier.as_deref(),
        b.on_prem_object_identifier.as_deref(),
    ) {
        return Some("OnPremisesObjectIdentifier".into());
    }
    let sorted = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.trim().to_lowercase()).collect();
        v.sort();
        v
    };
    let roles = |u: &CloudUser| u.privileged_roles.as_deref().map(sorted);
    if both(roles(a).as_ref(), roles(b).as_ref()) {
        return Some("PrivilegedRoles".into());
    }
    let proxies =
        |u: &CloudUser| (!u.proxy_addresses.is_empty()).then(|| sorted(&u.proxy_addresses));
    if both(proxies(a).as_ref(), proxies(b).as_ref()) {
        return Some("ProxyAddresses".into());
    }
    fn dated(u: &CloudUser) -> Option<&str> {
        u.deleted_date_time.as_deref().filter(|d| !d.is_empty())
    }
    if both(dated(a), dated(b)) {
        return Some("DeletedDateTime".into());
    }
    None
}

/// Values only `copy` knows go to `u` (a column one export has and the other lacks).
fn fill_unknown(u: &mut CloudUser, copy: CloudUser) {
    u.sync_enabled = u.sync_enabled.or(copy.sync_enabled);
    u.mail = u.mail.take().or(copy.mail);
    u.display_name = u.display_name.take().or(copy.display_name);
    u.on_prem_object_identifier = u
        .on_prem_object_identifier
        .take()
        .or(copy.on_prem_object_identifier);
    u.privileged_roles = u.privileged_roles.take().or(copy.privileged_roles);
    if u.proxy_addresses.is_empty() {
        u.proxy_addresses = copy.proxy_addresses;
    }
    if u.deleted_date_time.as_deref() == Some("") {
        u.deleted_date_time = copy.deleted_date_time;
    }
}

fn conflict_error(first: &CloudUser, dup: &CloudUser, field: &str) -> InputError {
    // Locations read `cloud.csv:12` or `cloud.xlsx:Users!A7`: the file, then the place in it.
    let (file, place) = match dup.location.rsplit_once(':') {
        Some((file, place)) if place.bytes().all(|b| b.is_ascii_digit()) => {
            (file.to_string(), format!("line {place}"))
        }
        Some((file, place)) => (file.to_string(), place.to_string()),
        None => (dup.location.clone(), String::new()),
    };
    InputError::new(
        PathBuf::from(file),
        place,
        format!(
            "cloud user {} (object id {}) is also at {}, with a different {field}; there is no telling which is current",
            dup.upn, dup.id, first.location
        ),
        "give each cloud user once: pass exports taken at the same time (the users and their recycle bin), \
         not an older and a newer one",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, upn: &str, loc: &str) -> CloudUser {
        CloudUser {
            id: id.into(),
            upn: upn.into(),
            location: loc.into(),
            ..CloudUser::default()
        }
    }

    fn state(users: Vec<CloudUser>, deleted: Vec<CloudUser>, sha: &str) -> CloudState {
        CloudState {
            users,
            deleted,
            sources: vec![super::super::CloudSource {
                description: format!("{sha}.csv"),
                sha256: Some(sha.into()),
                rows: 0,
            }],
            ..CloudState::default()
        }
    }

    #[test]
    fn agreeing_copies_count_once_and_fill_in_what_one_lacks() {
        let mut a = user("1", "a@x.com", "a.csv:2");
        a.sync_enabled = Some(false);
        let mut a2 = user("1", "A@x.com", "b.csv:5");
        a2.privileged_roles = Some(vec![]);
        a2.mail = Some("a@x.com".into());
        let m = merge(vec![
            state(vec![a, user("2", "b@x.com", "a.csv:3")], vec![], "h1"),
            state(vec![a2], vec![], "h2"),
        ])
        .expect("agreeing copies");
        assert_eq!(m.users.len(), 2);
        assert_eq!(m.users[0].location, "a.csv:2");
        assert_eq!(m.users[0].sync_enabled, Some(false));
        assert_eq!(m.users[0].privileged_roles, Some(vec![]));
        assert_eq!(m.users[0].mail.as_deref(), Some("a@x.com"));
        assert!(
            m.warnings.iter().any(|w| w.contains("counted once")),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn the_same_file_twice_is_read_once() {
        let s = state(vec![user("1", "a@x.com", "c.csv:2")], vec![], "same");
        let m = merge(vec![s.clone(), s]).unwrap();
        assert_eq!(m.users.len(), 1);
        assert_eq!(m.sources.len(), 1);
        assert!(
            m.warnings.iter().any(|w| w.contains("given twice")),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn disagreeing_copies_are_an_error_naming_both_places() {
        let mut a = user("1", "a@x.com", "old.csv:2");
        a.immutable_id = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
        let b = user("1", "a@x.com", "new.csv:7");
        let err = merge(vec![
            state(vec![a], vec![], "h1"),
            state(vec![b], vec![], "h2"),
        ])
        .expect_err("conflict");
        assert_eq!(err.file, PathBuf::from("new.csv"));
        assert_eq!(err.location, "line 7");
        assert!(err.message.contains("old.csv:2"), "{err}");
        assert!(err.message.contains("OnPremisesImmutableId"), "{err}");

        // Active in one export, soft-deleted in the other.
        let mut gone = user("1", "a@x.com", "bin.csv:2");
        gone.deleted_date_time = Some(String::new());
        let err = merge(vec![
            state(vec![user("1", "a@x.com", "u.csv:2")], vec![], "h1"),
            state(vec![], vec![gone], "h2"),
        ])
        .expect_err("conflict");
        assert!(err.message.contains("soft-deleted"), "{err}");
    }

    #[test]
    fn a_missing_recycle_bin_is_a_warning_and_stays_unchecked() {
        let mut users_only = state(vec![user("1", "a@x.com", "u.csv:2")], vec![], "h1");
        users_only.unchecked.deleted_users = true;
        let m = merge(vec![users_only.clone()]).unwrap();
        assert!(m.unchecked.deleted_users);
        assert!(m
            .warnings
            .iter()
            .any(|w| w.contains("no soft-deleted users were read")));

        let bin = state(vec![], vec![], "h2");
        let m = merge(vec![users_only, bin]).unwrap();
        assert!(!m.unchecked.deleted_users);
        assert!(!m
            .warnings
            .iter()
            .any(|w| w.contains("no soft-deleted users were read")));
    }
}
