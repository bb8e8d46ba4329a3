//! The cloud state read live from Microsoft Graph: active users, the recycle bin, the tenant's
//! sync features and who holds a privileged role — the same [`CloudState`] an export file gives.

use super::{CloudSource, CloudState, CloudUser, TenantFeatures};
use crate::graph::{GraphClient, GraphError};
use std::sync::Arc;

/// What to read and how.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Read active users as parallel `startsWith(userPrincipalName,…)` partitions (fast for big
    /// tenants) instead of one sequential listing.
    pub partitioned: bool,
    /// Read privileged role assignments and eligibilities (tenant-wide, once).
    pub roles: bool,
    /// Names the tenant in [`CloudState::sources`] (the id or domain signed in to).
    pub tenant: String,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            partitioned: true,
            roles: true,
            tenant: String::new(),
        }
    }
}

/// The stage a live read is in, for progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Active users; the count is the users read so far.
    ActiveUsers,
    /// Soft-deleted users; the count is the users read so far.
    DeletedUsers,
    /// Tenant features and privileged roles; the count is 0.
    TenantSettings,
}

/// Progress callback: the stage and the users read so far in it.
pub type Progress = Arc<dyn Fn(Stage, usize) + Send + Sync>;

/// Reads the whole cloud state. Privileged roles (unless `roles` is off) are set on every
/// active user: `Some(empty)` means "checked, none". Sync features need
/// `OnPremDirectorySynchronization.Read.All`; without it (403) the flags are left unknown with a
/// warning rather than failing the read.
pub async fn read_live(
    client: &GraphClient,
    options: &LiveOptions,
    progress: Progress,
) -> Result<CloudState, GraphError> {
    let p = progress.clone();
    let active = if options.partitioned {
        client
            .list_users_partitioned(move |n| p(Stage::ActiveUsers, n))
            .await?
    } else {
        client.list_users(move |n| p(Stage::ActiveUsers, n)).await?
    };
    let p = progress.clone();
    let deleted = client
        .list_deleted_users(move |n| p(Stage::DeletedUsers, n))
        .await?;
    progress(Stage::TenantSettings, 0);

    let mut warnings = Vec::new();
    let features = match client.sync_features().await {
        Ok(f) => f.map(|f| TenantFeatures {
            block_cloud_object_takeover_through_hard_match: f
                .block_cloud_object_takeover_through_hard_match_enabled,
            block_soft_match: f.block_soft_match_enabled,
        }),
        Err(e) if e.status() == Some(403) => {
            warnings.push(format!(
                "cannot read the tenant's onPremisesSynchronization features ({e}); \
                 grant OnPremDirectorySynchronization.Read.All to check BlockCloudObjectTakeoverThroughHardMatchEnabled"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(f) = &features {
        if f.block_soft_match {
            warnings.push(
                "The tenant has BlockSoftMatchEnabled turned on: Entra Connect will not match by SMTP address, \
                 only by ImmutableId (hard match)."
                    .to_string(),
            );
        }
    }

    let holders = if options.roles {
        Some(client.privileged_role_holders().await?)
    } else {
        None
    };

    let users: Vec<CloudUser> = active
        .into_iter()
        .map(|u| {
            let mut c = CloudUser::from(u);
            if let Some(h) = &holders {
                c.privileged_roles = Some(h.get(&c.id).cloned().unwrap_or_default());
            }
            c
        })
        .collect();
    let deleted: Vec<CloudUser> = deleted
        .into_iter()
        .map(|u| {
            let mut c = CloudUser::from(u);
            // Graph returns deletedDateTime for recycle-bin users; keep them marked even if not.
            if c.deleted_date_time.is_none() {
                c.deleted_date_time = Some(String::new());
            }
            c
        })
        .collect();

    let root = client.root().to_string();
    let tenant = if options.tenant.is_empty() {
        String::new()
    } else {
        format!(", tenant {}", options.tenant)
    };
    let sources = vec![
        CloudSource {
            description: format!("{root}/users (live{tenant})"),
            sha256: None,
            rows: users.len(),
        },
        CloudSource {
            description: format!(
                "{root}/directory/deletedItems/microsoft.graph.user (live{tenant})"
            ),
            sha256: None,
            rows: deleted.len(),
        },
    ];
    Ok(CloudState {
        users,
        deleted,
        features,
        sources,
        warnings,
        unchecked: super::Unchecked {
            privileged_roles: !options.roles,
            ..Default::default()
        },
    })
}
