//! The tenant: users (active and soft-deleted), directory roles and the sync feature flags.
//! [`TenantState`] is the serde form written to `--state`; [`Tenant`] is the indexed form the
//! handlers work on.
//!
//! State file (JSON, camelCase, Graph property names):
//! ```json
//! {"users": [{"id": "…", "userPrincipalName": "…", "onPremisesImmutableId": "…", …}],
//!  "deletedUsers": [{"id": "…", "userPrincipalName": "<id hex><upn>", "deletedDateTime": "…"}],
//!  "roleDefinitions": [{"id", "displayName", "isPrivileged", "templateId"}],
//!  "roleAssignments": [{"id", "principalId", "roleDefinitionId", "directoryScopeId"}],
//!  "roleEligibilitySchedules": [ same shape ],
//!  "onPremisesSynchronization": {"blockCloudObjectTakeoverThroughHardMatchEnabled": false, …}}
//! ```
//! Tokens and passwords are never part of it.

use crate::wire::{RoleAssignment, RoleDefinition, SyncFeatures, User};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantState {
    #[serde(default)]
    pub users: Vec<User>,
    /// Soft-deleted users (recycle bin); `deletedDateTime` set, UPN mangled as
    /// `<object id hex without dashes><original UPN>`.
    #[serde(default)]
    pub deleted_users: Vec<User>,
    #[serde(default = "builtin_role_definitions")]
    pub role_definitions: Vec<RoleDefinition>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    pub role_eligibility_schedules: Vec<RoleAssignment>,
    #[serde(default = "default_sync_features")]
    pub on_premises_synchronization: SyncFeatures,
}

impl Default for TenantState {
    fn default() -> Self {
        TenantState {
            users: Vec::new(),
            deleted_users: Vec::new(),
            role_definitions: builtin_role_definitions(),
            role_assignments: Vec::new(),
            role_eligibility_schedules: Vec::new(),
            on_premises_synchronization: default_sync_features(),
        }
    }
}

pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
pub const HYBRID_IDENTITY_ADMINISTRATOR: &str = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2";
pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";

/// A few built-in roles with their real template ids (role definition id = template id for
/// built-ins, as in Entra).
pub fn builtin_role_definitions() -> Vec<RoleDefinition> {
    [
        (GLOBAL_ADMINISTRATOR, "Global Administrator", true),
        (USER_ADMINISTRATOR, "User Administrator", true),
        (
            HYBRID_IDENTITY_ADMINISTRATOR,
            "Hybrid Identity Administrator",
            true,
        ),
        (HELPDESK_ADMINISTRATOR, "Helpdesk Administrator", true),
        (REPORTS_READER, "Reports Reader", false),
    ]
    .into_iter()
    .map(|(id, name, privileged)| RoleDefinition {
        id: id.into(),
        display_name: name.into(),
        is_privileged: Some(privileged),
        template_id: Some(id.into()),
    })
    .collect()
}

fn default_sync_features() -> SyncFeatures {
    // The two flags hardmatch reads are typed fields; the rest of Graph's feature set rides in
    // `other` so the collection looks like the real one.
    let mut other = BTreeMap::new();
    for f in [
        "bypassDirSyncOverridesEnabled",
        "cloudPasswordPolicyForPasswordSyncedUsersEnabled",
        "concurrentCredentialUpdateEnabled",
        "concurrentOrgIdProvisioningEnabled",
        "deviceWritebackEnabled",
        "directoryExtensionsEnabled",
        "fopeConflictResolutionEnabled",
        "groupWriteBackEnabled",
        "passwordSyncEnabled",
        "passwordWritebackEnabled",
        "quarantineUponProxyAddressesConflictEnabled",
        "quarantineUponUpnConflictEnabled",
        "softMatchOnUpnEnabled",
        "synchronizeUpnForManagedUsersEnabled",
        "unifiedGroupWritebackEnabled",
        "userForcePasswordChangeOnLogonEnabled",
        "userWritebackEnabled",
    ] {
        other.insert(f.to_string(), serde_json::Value::Bool(false));
    }
    SyncFeatures {
        block_cloud_object_takeover_through_hard_match_enabled: false,
        block_soft_match_enabled: false,
        other,
    }
}

impl TenantState {
    /// A made-up tenant for benchmarks and rehearsals: `users` active users whose UPNs start with
    /// every letter (so partitioned listing has work to split), about a third holding a
    /// GUID-based ImmutableId, 5 % still synced, plus `users / 100` soft-deleted users.
    /// The same seed gives the same tenant.
    pub fn synthetic(users: usize, seed: u64) -> TenantState {
        use base64::Engine as _;
        let mut rng = fastrand::Rng::with_seed(seed);
        let guid = |rng: &mut fastrand::Rng| {
            let mut b = [0u8; 16];
            rng.fill(&mut b);
            uuid::Builder::from_random_bytes(b).into_uuid()
        };
        let make = |i: usize, rng: &mut fastrand::Rng| {
            let first: String = (0..rng.usize(3..8)).map(|_| rng.lowercase()).collect();
            let upn = format!("{first}.{i}@contoso.com");
            let id = guid(rng);
            let immutable = rng.u8(..100) < 33;
            let mut anchor = [0u8; 16];
            rng.fill(&mut anchor);
            User {
                id: Some(id.to_string()),
                user_principal_name: Some(upn.clone()),
                mail: Some(upn.clone()),
                display_name: Some(format!("{first} {i}")),
                proxy_addresses: Some(vec![format!("SMTP:{upn}")]),
                on_premises_immutable_id: immutable
                    .then(|| base64::engine::general_purpose::STANDARD.encode(anchor)),
                on_premises_sync_enabled: (rng.u8(..100) < 5).then_some(true),
                ..Default::default()
            }
        };
        let users_v: Vec<User> = (0..users).map(|i| make(i, &mut rng)).collect();
        let deleted_users = (users..users + users / 100)
            .map(|i| {
                let mut u = make(i, &mut rng);
                u.on_premises_sync_enabled = None;
                u.deleted_date_time = Some("2026-01-01T00:00:00Z".into());
                u
            })
            .collect();
        TenantState {
            users: users_v,
            deleted_users,
            ..TenantState::default()
        }
    }
}

/// Why Entra would refuse `upn` as a user principal name, or `None`. Entra's username policy
/// (concept-sspr-policy): the part before `@` uses `A–Z a–z 0–9 ' . - _ ! # ^ ~` and does not
/// end with `.`; one `@`; at most 64 characters before it, 48 after it, 113 in all. The domain
/// is a DNS name (letters, digits, `-`, `.`). `$` is also accepted first, because Graph's
/// user-get page documents UPNs that begin with it (`/users('$…')`).
pub fn upn_problem(upn: &str) -> Option<String> {
    let Some((local, domain)) = upn.split_once('@') else {
        return Some("it has no '@'".into());
    };
    if domain.contains('@') {
        return Some("it has more than one '@'".into());
    }
    let local_ok = |(i, c): (usize, char)| {
        c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c) || (i == 0 && c == '$')
    };
    if let Some((_, c)) = local.chars().enumerate().find(|&ic| !local_ok(ic)) {
        return Some(format!(
            "'{c}' is not allowed before the '@' (only A-Z a-z 0-9 ' . - _ ! # ^ ~)"
        ));
    }
    if let Some(c) = domain
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Some(format!("'{c}' is not allowed in the domain"));
    }
    if local.is_empty() || domain.is_empty() {
        return Some("the part before or after the '@' is empty".into());
    }
    if local.ends_with('.') {
        return Some("a '.' right before the '@' is not allowed".into());
    }
    if local.len() > 64 || domain.len() > 48 || upn.len() > 113 {
        return Some(
            "it is too long (at most 64 characters before the '@', 48 after, 113 in all)".into(),
        );
    }
    None
}

impl TenantState {
    /// Every active user's UPN passes [`upn_problem`], and every deleted user's would once
    /// restored: a seed Entra could not hold is refused, naming the user.
    pub fn check_upns(&self) -> Result<(), String> {
        let users = self.users.iter().map(|u| (u, false));
        let deleted = self.deleted_users.iter().map(|u| (u, true));
        for (u, is_deleted) in users.chain(deleted) {
            let id = u.id.as_deref().unwrap_or("(no id)");
            let Some(upn) = &u.user_principal_name else {
                continue;
            };
            let upn = if is_deleted {
                unmangle_deleted_upn(id, upn)
            } else {
                upn.clone()
            };
            if let Some(why) = upn_problem(&upn) {
                return Err(format!(
                    "{} user {id} has the userPrincipalName '{upn}', which Entra refuses: {why}",
                    if is_deleted { "deleted" } else { "the" }
                ));
            }
        }
        Ok(())
    }
}

/// `<object id hex without dashes><upn>`: how Entra frees a soft-deleted user's UPN (FIELD, §3).
pub fn mangle_deleted_upn(id: &str, upn: &str) -> String {
    let hex: String = id
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_lowercase();
    if upn
        .get(..hex.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(&hex))
    {
        upn.to_string()
    } else {
        format!("{hex}{upn}")
    }
}

/// Undo [`mangle_deleted_upn`] for a restore.
pub fn unmangle_deleted_upn(id: &str, upn: &str) -> String {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    match upn.get(..hex.len()) {
        Some(p) if p.eq_ignore_ascii_case(&hex) => upn[hex.len()..].to_string(),
        _ => upn.to_string(),
    }
}

/// The indexed tenant. Users are ordered by id, which is what paging relies on.
#[derive(Debug, Default)]
pub struct Tenant {
    pub users: BTreeMap<String, User>,
    pub deleted: BTreeMap<String, User>,
    /// Lower-cased UPN → id, active users only.
    pub upn_index: HashMap<String, String>,
    /// (lower-cased UPN, id key) of every active user with a UPN, in order: a
    /// `startsWith(userPrincipalName,…)` page is a range of it rather than a scan of all users.
    pub upn_order: BTreeSet<(String, String)>,
    /// ImmutableId → holder id, active and deleted (uniqueness spans both).
    pub immutable_index: HashMap<String, String>,
    pub role_definitions: Vec<RoleDefinition>,
    pub role_assignments: Vec<RoleAssignment>,
    pub role_eligibility_schedules: Vec<RoleAssignment>,
    pub sync: SyncFeatures,
}

pub fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

impl Tenant {
    pub fn from_state(state: TenantState) -> Tenant {
        let mut t = Tenant {
            role_definitions: state.role_definitions,
            role_assignments: state.role_assignments,
            role_eligibility_schedules: state.role_eligibility_schedules,
            sync: state.on_premises_synchronization,
            ..Default::default()
        };
        for mut u in state.users {
            let id = u.id.clone().unwrap_or_else(new_id);
            u.id = Some(id.clone());
            u.deleted_date_time = None;
            t.insert_active(u);
        }
        for mut u in state.deleted_users {
            let id = u.id.clone().unwrap_or_else(new_id);
            u.id = Some(id.clone());
            if u.deleted_date_time.is_none() {
                u.deleted_date_time = Some(now_iso());
            }
            if let Some(upn) = &u.user_principal_name {
                u.user_principal_name = Some(mangle_deleted_upn(&id, upn));
            }
            t.insert_deleted(u);
        }
        t
    }

    pub fn to_state(&self) -> TenantState {
        TenantState {
            users: self.users.values().cloned().collect(),
            deleted_users: self.deleted.values().cloned().collect(),
            role_definitions: self.role_definitions.clone(),
            role_assignments: self.role_assignments.clone(),
            role_eligibility_schedules: self.role_eligibility_schedules.clone(),
            on_premises_synchronization: self.sync.clone(),
        }
    }

    pub fn insert_active(&mut self, u: User) {
        let id = u.id.clone().unwrap_or_default();
        if let Some(upn) = &u.user_principal_name {
            let lower = upn.to_lowercase();
            self.upn_order.insert((lower.clone(), key(&id)));
            self.upn_index.insert(lower, id.clone());
        }
        if let Some(imm) = u
            .on_premises_immutable_id
            .as_ref()
            .filter(|s| !s.is_empty())
        {
            self.immutable_index.insert(imm.clone(), id.clone());
        }
        self.users.insert(key(&id), u);
    }

    pub fn insert_deleted(&mut self, u: User) {
        let id = u.id.clone().unwrap_or_default();
        if let Some(imm) = u
            .on_premises_immutable_id
            .as_ref()
            .filter(|s| !s.is_empty())
        {
            self.immutable_index.insert(imm.clone(), id.clone());
        }
        self.deleted.insert(key(&id), u);
    }

    pub fn remove_active(&mut self, id: &str) -> Option<User> {
        let u = self.users.remove(&key(id))?;
        if let Some(upn) = &u.user_principal_name {
            let lower = upn.to_lowercase();
            self.upn_order
                .remove(&(lower.clone(), key(u.id.as_deref().unwrap_or(id))));
            self.upn_index.remove(&lower);
        }
        self.unindex_immutable(&u);
        Some(u)
    }

    pub fn remove_deleted(&mut self, id: &str) -> Option<User> {
        let u = self.deleted.remove(&key(id))?;
        self.unindex_immutable(&u);
        Some(u)
    }

    fn unindex_immutable(&mut self, u: &User) {
        if let Some(imm) = &u.on_premises_immutable_id {
            if self.immutable_index.get(imm).map(|h| key(h)) == u.id.as_deref().map(key) {
                self.immutable_index.remove(imm);
            }
        }
    }

    /// Active user by object id or (case-insensitive) UPN.
    pub fn find_active(&self, id_or_upn: &str) -> Option<&User> {
        self.users.get(&key(id_or_upn)).or_else(|| {
            self.upn_index
                .get(&id_or_upn.to_lowercase())
                .and_then(|id| self.users.get(&key(id)))
        })
    }

    pub fn active_id(&self, id_or_upn: &str) -> Option<String> {
        self.find_active(id_or_upn).and_then(|u| u.id.clone())
    }

    /// Who holds this ImmutableId (active or deleted), if anyone.
    pub fn immutable_holder(&self, value: &str) -> Option<&str> {
        self.immutable_index.get(value).map(|s| s.as_str())
    }

    pub fn role_definition(&self, id: &str) -> Option<&RoleDefinition> {
        self.role_definitions
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Users from a cloud export (`--seed`): deleted rows go to the recycle bin, rows without an id
/// get a new one, privileged role names become role assignments.
pub fn from_cloud_state(cloud: crate::cloud::CloudState) -> TenantState {
    let mut state = TenantState::default();
    let convert = |c: crate::cloud::CloudUser| -> (User, Option<Vec<String>>) {
        let id = if c.id.trim().is_empty() {
            new_id()
        } else {
            c.id.trim().to_string()
        };
        (
            User {
                id: Some(id),
                user_principal_name: Some(c.upn).filter(|s| !s.is_empty()),
                mail: c.mail,
                proxy_addresses: Some(c.proxy_addresses),
                display_name: c.display_name,
                on_premises_immutable_id: c.immutable_id,
                on_premises_sync_enabled: c.sync_enabled,
                on_premises_object_identifier: c.on_prem_object_identifier,
                deleted_date_time: c.deleted_date_time,
                other: BTreeMap::new(),
            },
            c.privileged_roles,
        )
    };
    for c in cloud.users {
        let (u, roles) = convert(c);
        for role in roles.unwrap_or_default() {
            let def_id = match state
                .role_definitions
                .iter()
                .find(|d| d.display_name.eq_ignore_ascii_case(&role))
            {
                Some(d) => d.id.clone(),
                None => {
                    let id = new_id();
                    state.role_definitions.push(RoleDefinition {
                        id: id.clone(),
                        display_name: role.clone(),
                        is_privileged: Some(true),
                        template_id: Some(id.clone()),
                    });
                    id
                }
            };
            state.role_assignments.push(RoleAssignment {
                id: new_id(),
                principal_id: u.id.clone().unwrap_or_default(),
                role_definition_id: def_id,
                directory_scope_id: Some("/".into()),
            });
        }
        state.users.push(u);
    }
    for c in cloud.deleted {
        let (mut u, _) = convert(c);
        if u.deleted_date_time.is_none() {
            u.deleted_date_time = Some(now_iso());
        }
        state.deleted_users.push(u);
    }
    if let Some(f) = cloud.features {
        state
            .on_premises_synchronization
            .block_cloud_object_takeover_through_hard_match_enabled =
            f.block_cloud_object_takeover_through_hard_match;
        state.on_premises_synchronization.block_soft_match_enabled = f.block_soft_match;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_tenants_are_reproducible_and_spread_over_the_alphabet() {
        let a = TenantState::synthetic(2_000, 7);
        assert_eq!(a, TenantState::synthetic(2_000, 7));
        assert_eq!((a.users.len(), a.deleted_users.len()), (2_000, 20));
        let firsts: std::collections::HashSet<char> = a
            .users
            .iter()
            .filter_map(|u| u.user_principal_name.as_ref()?.chars().next())
            .collect();
        assert_eq!(firsts.len(), 26);
        let t = Tenant::from_state(a);
        assert_eq!(t.users.len(), 2_000, "ids are unique");
        assert!(t.immutable_index.len() > 500);
    }

    #[test]
    fn upns_follow_entras_username_policy() {
        for ok in [
            "a@contoso.com",
            "o'neil.x-y_z!#^~@sub.contoso.com",
            "$adele@contoso.com",
            "ann_contoso.com#EXT#@contoso.onmicrosoft.com",
        ] {
            assert_eq!(upn_problem(ok), None, "{ok}");
        }
        let long = format!("{}@c.com", "a".repeat(65));
        for bad in [
            "Ünicode@contoso.com",
            "plus+tag@contoso.com",
            "a$b@contoso.com",
            "dot.@contoso.com",
            "a@b@contoso.com",
            "nodomain",
            "a@under_score.com",
            long.as_str(),
        ] {
            assert!(upn_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn deleted_upn_mangling_round_trips() {
        let id = "7e06b566-15f3-4013-8bf8-79874d52e68a";
        let m = mangle_deleted_upn(id, "jo@contoso.com");
        assert_eq!(m, "7e06b56615f340138bf879874d52e68ajo@contoso.com");
        assert_eq!(mangle_deleted_upn(id, &m), m, "already mangled stays as is");
        assert_eq!(unmangle_deleted_upn(id, &m), "jo@contoso.com");
        // Non-ASCII UPNs must not split a character.
        let upn = "jösé.müller.ßtraße.ñandú.øre@contoso.com";
        assert_eq!(unmangle_deleted_upn(id, &mangle_deleted_upn(id, upn)), upn);
    }

    #[test]
    fn a_cloud_state_seeds_users_roles_and_the_recycle_bin() {
        use crate::cloud::{CloudState, CloudUser};
        let cloud = CloudState {
            users: vec![
                CloudUser {
                    id: "00000000-0000-4000-8000-000000000001".into(),
                    upn: "admin@contoso.com".into(),
                    privileged_roles: Some(vec![
                        "Global Administrator".into(),
                        "Custom Role".into(),
                    ]),
                    ..Default::default()
                },
                CloudUser {
                    upn: "noid@contoso.com".into(),
                    immutable_id: Some("AQID".into()),
                    ..Default::default()
                },
            ],
            deleted: vec![CloudUser {
                id: "00000000-0000-4000-8000-000000000003".into(),
                upn: "gone@contoso.com".into(),
                immutable_id: Some("BAUG".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let state = from_cloud_state(cloud);
        assert_eq!(state.role_assignments.len(), 2);
        assert!(state
            .role_assignments
            .iter()
            .any(|a| a.role_definition_id == GLOBAL_ADMINISTRATOR));
        let custom = state
            .role_definitions
            .iter()
            .find(|d| d.display_name == "Custom Role")
            .unwrap();
        assert_eq!(custom.is_privileged, Some(true));
        let t = Tenant::from_state(state);
        assert!(t
            .find_active("NOID@contoso.com")
            .and_then(|u| u.id.clone())
            .is_some());
        assert_eq!(
            t.immutable_holder("BAUG"),
            Some("00000000-0000-4000-8000-000000000003")
        );
        let gone = t.deleted.values().next().unwrap();
        assert!(gone.deleted_date_time.is_some());
        assert_eq!(
            gone.user_principal_name.as_deref(),
            Some("00000000000040008000000000000003gone@contoso.com")
        );
    }
}
