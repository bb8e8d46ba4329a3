//! Synthetic AD and cloud users for benchmarks and scale tests: deterministic, realistic in shape
//! (mixed-case UPNs, two SMTP proxies, a DN), and spread over the actions a real migration shows.
//!
//! Not part of the stable API.

use crate::anchor::SourceAnchor;
use crate::cloud::{CloudState, CloudUser};
use crate::sources::AdUser;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use uuid::Uuid;

/// What user `i` is meant to exercise; the share of each is roughly what a tenant shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Set,
    AlreadyMatched,
    Replace,
    BlockedSynced,
    NoCloudUser,
    ConflictDeleted,
    /// Cloud user `i` holds the ImmutableId of AD user `i - 1`: AD user `i - 1` hard-matches it
    /// and AD user `i` matches it by UPN, so both rows are `DuplicateSource`.
    HoldsPrevious,
    /// `Set`, with a different display name and mail in the cloud (two Checks).
    SetWithChecks,
}

pub fn kind(i: usize) -> Kind {
    match i % 100 {
        0..=69 => Kind::Set,
        70..=79 => Kind::AlreadyMatched,
        80..=84 => Kind::Replace,
        85..=87 => Kind::BlockedSynced,
        88..=90 => Kind::NoCloudUser,
        91..=92 => Kind::ConflictDeleted,
        93 => Kind::HoldsPrevious,
        _ => Kind::SetWithChecks,
    }
}

/// A random-looking but reproducible v4 GUID for user `i` (`salt` tells the AD and other anchors apart).
pub fn guid(i: usize, salt: u64) -> Uuid {
    let mut rng = fastrand::Rng::with_seed((i as u64) ^ (salt << 40) ^ 0x9e37_79b9_7f4a_7c15);
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

fn anchor(i: usize) -> SourceAnchor {
    SourceAnchor::from_guid(guid(i, 0))
}

fn upn(i: usize) -> String {
    format!("Given{i}.Surname{}@Fabrikam.example", i % 997)
}

fn display_name(i: usize) -> String {
    format!("Given{i} Surname{}", i % 997)
}

/// AD user `i` as a reader would return it.
pub fn ad_user(i: usize) -> AdUser {
    let upn = upn(i);
    AdUser {
        mail: Some(upn.clone()),
        proxy_addresses: vec![
            format!("SMTP:{upn}"),
            format!("smtp:g{i}@fabrikam.mail.example"),
        ],
        display_name: Some(display_name(i)),
        dn: Some(format!(
            "CN=Given{i} Surname{},OU=Users,OU=Site{},DC=fabrikam,DC=example",
            i % 997,
            i % 13
        )),
        sam_account_name: Some(format!("g{i}")),
        object_guid: Some(anchor(i)),
        consistency_guid: None,
        location: format!("synthetic-ad.csv:{}", i + 3),
        problems: Vec::new(),
        upn,
    }
}

/// The active cloud user paired with AD user `i`, and the soft-deleted one if its kind has one.
pub fn cloud_user(i: usize) -> (CloudUser, Option<CloudUser>) {
    let k = kind(i);
    let own = anchor(i).immutable_id();
    let other = SourceAnchor::from_guid(guid(i, 1)).immutable_id();
    let upn = match k {
        Kind::NoCloudUser => format!("cloudonly{i}@fabrikam.onmicrosoft.com"),
        _ => upn(i).to_lowercase(),
    };
    let mut u = CloudUser {
        id: guid(i, 2).hyphenated().to_string(),
        mail: Some(upn.clone()),
        proxy_addresses: vec![format!("SMTP:{upn}")],
        display_name: Some(display_name(i)),
        sync_enabled: None,
        location: format!("synthetic-cloud.csv:{}", i + 2),
        upn,
        ..CloudUser::default()
    };
    let mut deleted = None;
    match k {
        Kind::AlreadyMatched => u.immutable_id = Some(own),
        Kind::Replace => u.immutable_id = Some(other),
        Kind::BlockedSynced => {
            u.immutable_id = Some(other);
            u.sync_enabled = Some(true);
        }
        Kind::ConflictDeleted => {
            deleted = Some(CloudUser {
                id: guid(i, 3).hyphenated().to_string(),
                upn: format!("{}old{i}@fabrikam.onmicrosoft.com", guid(i, 3).simple()),
                immutable_id: Some(own),
                deleted_date_time: Some("2026-10-01T08:00:00Z".into()),
                location: format!("synthetic-cloud.csv:deleted {i}"),
                ..CloudUser::default()
            })
        }
        Kind::HoldsPrevious if i > 0 => u.immutable_id = Some(anchor(i - 1).immutable_id()),
        Kind::SetWithChecks => {
            u.display_name = Some(format!("Surname{}, Given{i}", i % 997));
            u.mail = Some(format!("g{i}@fabrikam.mail.example"));
        }
        _ => {}
    }
    (u, deleted)
}

pub fn ad_users(n: usize) -> Vec<AdUser> {
    (0..n).map(ad_user).collect()
}

pub fn cloud_state(n: usize) -> CloudState {
    let mut s = CloudState {
        users: Vec::with_capacity(n),
        ..CloudState::default()
    };
    for i in 0..n {
        let (u, d) = cloud_user(i);
        s.users.push(u);
        s.deleted.extend(d);
    }
    s
}

fn quoted<W: Write>(w: &mut W, fields: &[&str]) -> io::Result<()> {
    for (j, f) in fields.iter().enumerate() {
        if j > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\"")?;
        w.write_all(f.replace('"', "\"\"").as_bytes())?;
        w.write_all(b"\"")?;
    }
    w.write_all(b"\r\n")
}

/// `n` AD users as PowerShell 7 `Export-Csv -IncludeTypeInformation` would write them (UTF-8, CRLF,
/// every field quoted, proxyAddresses joined with `;`).
pub fn write_ad_csv(path: &Path, n: usize) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(b"#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser\r\n")?;
    quoted(
        &mut w,
        &[
            "UserPrincipalName",
            "ObjectGUID",
            "mail",
            "proxyAddresses",
            "DisplayName",
            "DistinguishedName",
            "SamAccountName",
        ],
    )?;
    for i in 0..n {
        let u = ad_user(i);
        let guid = u.object_guid.map(|a| a.to_string()).unwrap_or_default();
        quoted(
            &mut w,
            &[
                &u.upn,
                &guid,
                u.mail.as_deref().unwrap_or(""),
                &u.proxy_addresses.join(";"),
                u.display_name.as_deref().unwrap_or(""),
                u.dn.as_deref().unwrap_or(""),
                u.sam_account_name.as_deref().unwrap_or(""),
            ],
        )?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// The matching cloud users (active, then soft-deleted) as a `Get-MgUser` export with
/// `DeletedDateTime` set for the deleted ones.
pub fn write_cloud_csv(path: &Path, n: usize) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    quoted(
        &mut w,
        &[
            "Id",
            "UserPrincipalName",
            "OnPremisesImmutableId",
            "OnPremisesSyncEnabled",
            "Mail",
            "ProxyAddresses",
            "DisplayName",
            "DeletedDateTime",
            "OnPremisesObjectIdentifier",
        ],
    )?;
    let mut deleted = Vec::new();
    let row = |w: &mut BufWriter<std::fs::File>, u: &CloudUser| {
        let sync = match u.sync_enabled {
            Some(true) => "True",
            Some(false) => "False",
            None => "",
        };
        quoted(
            w,
            &[
                &u.id,
                &u.upn,
                u.immutable_id.as_deref().unwrap_or(""),
                sync,
                u.mail.as_deref().unwrap_or(""),
                &u.proxy_addresses.join(";"),
                u.display_name.as_deref().unwrap_or(""),
                u.deleted_date_time.as_deref().unwrap_or(""),
                u.on_prem_object_identifier.as_deref().unwrap_or(""),
            ],
        )
    };
    for i in 0..n {
        let (u, d) = cloud_user(i);
        row(&mut w, &u)?;
        deleted.extend(d);
    }
    for d in &deleted {
        row(&mut w, d)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{build, Action, PlanOptions};

    #[test]
    fn synthetic_users_produce_the_intended_actions() {
        // Above the threshold where build splits the rows over threads, so the stitched result
        // is checked row by row too.
        let n = 25_000;
        let plan = build(&ad_users(n), &cloud_state(n), &PlanOptions::default());
        assert_eq!(plan.rows.len(), n);
        for (i, r) in plan.rows.iter().enumerate() {
            let want = match kind(i) {
                _ if kind(i + 1) == Kind::HoldsPrevious => Action::DuplicateSource,
                Kind::HoldsPrevious if i > 0 => Action::DuplicateSource,
                Kind::Set | Kind::SetWithChecks | Kind::HoldsPrevious => Action::Set,
                Kind::AlreadyMatched => Action::AlreadyMatched,
                Kind::Replace => Action::Replace,
                Kind::BlockedSynced => Action::BlockedSynced,
                Kind::NoCloudUser => Action::NoCloudUser,
                Kind::ConflictDeleted => Action::ConflictDeleted,
            };
            assert_eq!(r.action, Some(want), "row {i}: {}", r.reason);
            if kind(i) == Kind::SetWithChecks {
                assert_eq!(r.checks.len(), 2, "{:?}", r.checks);
            }
        }
        // Each NoCloudUser row leaves its cloud-only counterpart unmatched, and so does the AD
        // user before a HoldsPrevious one (it hard-matches the next cloud user).
        let holds_previous = (1..n).filter(|&i| kind(i) == Kind::HoldsPrevious).count();
        assert_eq!(
            plan.unmatched_cloud.len(),
            plan.count(Action::NoCloudUser) + holds_previous
        );
    }
}
