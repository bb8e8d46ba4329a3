//! The cloud side: Entra ID users as a plan needs them, whether read from an export file
//! ([`read_cloud_export`]) or live from Graph ([`live::read_live`]); [`export::write_export`]
//! writes the snapshot file `plan` reads back.

pub mod export;
mod file;
pub mod live;
mod merge;

pub use merge::merge;

use crate::anchor::{self, SourceAnchor};
use crate::error::InputError;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudUser {
    /// Entra object id.
    pub id: String,
    pub upn: String,
    /// `onPremisesImmutableId` exactly as stored (may be non-GUID: an e-mail address, an employeeID).
    pub immutable_id: Option<String>,
    /// `onPremisesSyncEnabled`: `Some(true)` = still synced, cannot be written.
    pub sync_enabled: Option<bool>,
    pub mail: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub display_name: Option<String>,
    /// Set for soft-deleted users (recycle bin).
    pub deleted_date_time: Option<String>,
    /// `onPremisesObjectIdentifier`: when set, hard match is blocked since 2026.
    pub on_prem_object_identifier: Option<String>,
    /// Privileged directory roles assigned or eligible (display names); non-empty blocks hard match.
    /// `None` = not known (an export file without role data).
    pub privileged_roles: Option<Vec<String>>,
    /// `file:line` or `file:Sheet!A1` for file input, empty for live Graph.
    pub location: String,
}

impl CloudUser {
    /// The anchor if the stored ImmutableId is canonical base64 of 16 bytes.
    pub fn anchor(&self) -> Option<SourceAnchor> {
        self.immutable_id.as_deref().and_then(anchor::guid_based)
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_date_time.is_some()
    }

    /// The UPN without the `<object id, 32 hex digits>` prefix Entra puts in front of a
    /// soft-deleted user's UPN to free the name (a field observation, not documented); the UPN
    /// as it is otherwise.
    pub fn original_upn(&self) -> &str {
        strip_deleted_prefix(&self.upn, &self.id).unwrap_or(self.upn.trim())
    }
}

/// The rest of `upn` after the prefix Entra gives a soft-deleted user's UPN: 32 hex digits that
/// are the object id without dashes (any 32 hex digits when `id` is unknown), followed by a
/// whole UPN. `None` when `upn` has no such prefix.
pub(crate) fn strip_deleted_prefix<'u>(upn: &'u str, id: &str) -> Option<&'u str> {
    let upn = upn.trim();
    let (prefix, rest) = upn.split_at_checked(32)?;
    if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) || rest.find('@').is_none_or(|at| at == 0) {
        return None;
    }
    let id = id.trim();
    let lower = |b: u8| b.to_ascii_lowercase();
    let is_id = id
        .bytes()
        .filter(|&b| b != b'-')
        .map(lower)
        .eq(prefix.bytes().map(lower));
    (id.is_empty() || is_id).then_some(rest)
}

impl From<crate::wire::User> for CloudUser {
    fn from(u: crate::wire::User) -> Self {
        CloudUser {
            id: u.id.unwrap_or_default(),
            upn: u.user_principal_name.unwrap_or_default(),
            immutable_id: u.on_premises_immutable_id.filter(|s| !s.is_empty()),
            sync_enabled: u.on_premises_sync_enabled,
            mail: u.mail.filter(|s| !s.is_empty()),
            proxy_addresses: u.proxy_addresses.unwrap_or_default(),
            display_name: u.display_name,
            deleted_date_time: u.deleted_date_time,
            on_prem_object_identifier: u.on_premises_object_identifier,
            privileged_roles: None,
            location: String::new(),
        }
    }
}

/// Tenant-wide sync switches that change what a hard match does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantFeatures {
    pub block_cloud_object_takeover_through_hard_match: bool,
    pub block_soft_match: bool,
}

/// Everything the planner knows about the tenant.
#[derive(Clone, Debug, Default)]
pub struct CloudState {
    /// Active users.
    pub users: Vec<CloudUser>,
    /// Soft-deleted users (recycle bin); they still hold their ImmutableId.
    pub deleted: Vec<CloudUser>,
    pub features: Option<TenantFeatures>,
    /// Where it came from, for the Summary sheet: file paths (with SHA-256) or the Graph URL.
    pub sources: Vec<CloudSource>,
    pub warnings: Vec<String>,
    /// What this read could not check (columns missing from an export file, `--no-roles`).
    pub unchecked: Unchecked,
}

/// Hard-match blocks and conflicts a cloud read could not check. A `Set` row rests on all of
/// them having been read, so `plan --pre-approve set` approves nothing while any is left
/// (unless the operator accepts it). Empty by default: each reader says what it missed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unchecked {
    /// No recycle bin was read: an ImmutableId a soft-deleted user holds would go unnoticed.
    pub deleted_users: bool,
    /// Privileged roles are not known for some active users (no PrivilegedRoles column,
    /// `--no-roles`): since 2026 a role blocks the hard match.
    pub privileged_roles: bool,
    /// No OnPremisesObjectIdentifier column: since 2026 a set value blocks the hard match.
    pub object_identifier: bool,
    /// No OnPremisesSyncEnabled column: a user still synced from another directory cannot be
    /// written.
    pub sync_enabled: bool,
    /// Cloud rows were left out as unreadable: any of them could hold an ImmutableId.
    pub skipped_rows: bool,
}

impl Unchecked {
    pub fn is_empty(&self) -> bool {
        *self == Unchecked::default()
    }

    /// What is unchecked, in words ("privileged roles", …), for messages.
    pub fn describe(&self) -> Vec<&'static str> {
        [
            (self.deleted_users, "soft-deleted users (the recycle bin)"),
            (self.privileged_roles, "privileged roles"),
            (self.object_identifier, "onPremisesObjectIdentifier"),
            (self.sync_enabled, "onPremisesSyncEnabled"),
            (self.skipped_rows, "cloud rows that could not be read"),
        ]
        .into_iter()
        .filter_map(|(unchecked, what)| unchecked.then_some(what))
        .collect()
    }

    /// Two reads of parts of one tenant taken together: the recycle bin is unchecked only if
    /// neither read it; anything either left unchecked about its active users stays unchecked.
    pub fn and(self, other: Unchecked) -> Unchecked {
        Unchecked {
            deleted_users: self.deleted_users && other.deleted_users,
            privileged_roles: self.privileged_roles || other.privileged_roles,
            object_identifier: self.object_identifier || other.object_identifier,
            sync_enabled: self.sync_enabled || other.sync_enabled,
            skipped_rows: self.skipped_rows || other.skipped_rows,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudSource {
    pub description: String,
    pub sha256: Option<String>,
    pub rows: usize,
}

/// Read a cloud export (CSV or XLSX; `Get-MgUser`, `Get-MsolUser` or Graph column names).
/// Rows with `DeletedDateTime` set go to [`CloudState::deleted`]; an XLSX written by
/// `hardmatch cloud export` has a second sheet of deleted users, read too.
pub fn read_cloud_export(path: &Path) -> Result<CloudState, InputError> {
    file::read(path, crate::sources::Unread::default())
}

/// [`read_cloud_export`] leaving out attributes the caller never reads (only
/// [`crate::sources::Unread::proxy_addresses`] applies to cloud users): dropped as each row is
/// read, so a million users' copies never fragment the heap.
pub fn read_cloud_export_unread(
    path: &Path,
    unread: crate::sources::Unread,
) -> Result<CloudState, InputError> {
    file::read(path, unread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deleted_user_prefix_is_the_object_id_without_dashes() {
        let id = "7e06b566-15f3-4013-8bf8-79874d52e68a";
        let upn = "7e06b56615f340138bf879874d52e68ajo@contoso.com";
        assert_eq!(strip_deleted_prefix(upn, id), Some("jo@contoso.com"));
        assert_eq!(
            strip_deleted_prefix(&upn.to_uppercase(), id),
            Some("JO@CONTOSO.COM")
        );
        // Without an id, any 32 hex digits in front of a whole UPN.
        assert_eq!(strip_deleted_prefix(upn, ""), Some("jo@contoso.com"));
        // Another object's id, a UPN that is only hex, too short, not hex.
        assert_eq!(
            strip_deleted_prefix(upn, "00000000-0000-4000-8000-000000000001"),
            None
        );
        assert_eq!(
            strip_deleted_prefix("7e06b56615f340138bf879874d52e68a@contoso.com", ""),
            None
        );
        assert_eq!(strip_deleted_prefix("jo@contoso.com", id), None);
        assert_eq!(
            strip_deleted_prefix("zz06b56615f340138bf879874d52e68ajo@contoso.com", ""),
            None
        );
        let u = CloudUser {
            id: id.into(),
            upn: upn.into(),
            ..CloudUser::default()
        };
        assert_eq!(u.original_upn(), "jo@contoso.com");
    }
}
