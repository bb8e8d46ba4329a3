//! The `ldifde -i` file: the AD user adopts the anchor its cloud user already has.
//!
//! After a domain migration the cloud users still carry the old domain's anchors, and each new
//! AD user has a new objectGUID. Instead of rewriting every cloud ImmutableId, the new AD user's
//! `mS-DS-ConsistencyGuid` is set to the bytes of the cloud ImmutableId (already in
//! `Guid.ToByteArray()` order, so base64 of them is that ImmutableId), and Entra Connect, which
//! prefers mS-DS-ConsistencyGuid as the sourceAnchor, hard-matches the existing cloud user.

use super::quote::{ldif_binary_line, ldif_text_line};
use super::text::{notes, provenance, Lines};
use super::{Change, Decided, Entry, Header, Script};
use crate::anchor::{self, SourceAnchor};
use crate::fold::Folded;
use crate::review::{Action, ReviewRow};
use crate::sources::AdUser;
use std::collections::HashMap;
use std::io::{self, Write};

/// The AD users of an export, found by anchor, for their distinguished names.
///
/// A DN is where the LDIF write lands, and the workbook does not carry it: keeping every DN
/// through `plan` would cost about 75 MB at a million users, which that plan's 1 GiB budget does
/// not have (BENCHMARKS.md), and the column would be empty for most rows. It is looked up here
/// by the row's On-prem GUID and UPN, both signed with the plan key, in an export on the
/// operator's machine; so editing the workbook cannot aim the write at another AD user. A newer
/// export is fine, even better: a user moved to another OU since planning is written where it is.
pub struct AdDirectory<'a> {
    users: &'a [AdUser],
    /// Users by the anchor Entra Connect takes (mS-DS-ConsistencyGuid, else objectGUID).
    by_anchor: HashMap<SourceAnchor, Vec<usize>>,
    /// The export's name, for messages.
    name: String,
}

impl<'a> AdDirectory<'a> {
    pub fn new(users: &'a [AdUser], name: impl Into<String>) -> Self {
        let mut by_anchor: HashMap<SourceAnchor, Vec<usize>> = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            if let Some(a) = u.source_anchor() {
                by_anchor.entry(a).or_default().push(i);
            }
        }
        AdDirectory {
            users,
            by_anchor,
            name: name.into(),
        }
    }

    /// The users whose anchor is `a` and whose UPN is `upn` (trimmed, without case).
    fn with(&self, a: SourceAnchor, upn: &str) -> Vec<&'a AdUser> {
        let want = Folded::new(upn);
        self.by_anchor
            .get(&a)
            .into_iter()
            .flatten()
            .map(|&i| &self.users[i])
            .filter(|u| want.is_some() && Folded::new(&u.upn) == want)
            .collect()
    }
}

/// A selected row as an LDIF change, or why not.
pub(super) fn change(row: &ReviewRow, ad: Option<&AdDirectory<'_>>) -> Decided {
    let p = &row.plan;
    match p.action {
        Some(Action::AlreadyMatched) => {
            return Decided::Nothing(format!(
                "AlreadyMatched: the cloud user already holds ImmutableId {}",
                p.new_immutable_id
            ))
        }
        Some(Action::Replace | Action::ConflictDeleted) if !p.cloud_immutable_id.is_empty() => {}
        Some(Action::Set | Action::Replace | Action::ConflictDeleted) => {
            return Decided::Skipped(
                "the cloud user has no ImmutableId for the AD user to adopt; set it with --format graph-powershell, or apply".into(),
            )
        }
        other => {
            return Decided::Refused(format!(
                "{} is not a change a script can make",
                other.map_or("(no Action)", |a| a.as_str())
            ))
        }
    }
    let Some(cloud_anchor) = anchor::guid_based(&p.cloud_immutable_id) else {
        return Decided::Skipped(format!(
            "the cloud user's ImmutableId '{}' is not base64 of a 16-byte GUID, so mS-DS-ConsistencyGuid cannot carry it; use --format graph-powershell",
            p.cloud_immutable_id
        ));
    };
    let Ok(planned) = uuid::Uuid::parse_str(p.onprem_guid.trim()) else {
        return Decided::Refused(format!(
            "the On-prem GUID '{}' is not a GUID; plan again",
            super::quote::comment_text(&p.onprem_guid)
        ));
    };
    let planned = SourceAnchor::from_guid(planned);
    let Some(ad) = ad else {
        return Decided::Skipped(
            "no AD export was given to find the user's distinguished name: pass --ad-export".into(),
        );
    };
    // Imported already (the export was taken after this file's first run): nothing to do.
    if !ad.with(cloud_anchor, &p.upn).is_empty() {
        return Decided::Nothing(format!(
            "the AD user in {} already has mS-DS-ConsistencyGuid {} ({})",
            ad.name,
            p.cloud_immutable_id,
            cloud_anchor.guid()
        ));
    }
    let found = ad.with(planned, &p.upn);
    let user = match found.as_slice() {
        [one] => *one,
        [] => {
            return Decided::Skipped(format!(
                "no AD user in {} has UPN {} and anchor {}: export the AD users again (moved or renamed?), or give the export the plan was made from",
                ad.name, p.upn, p.onprem_guid
            ))
        }
        many => {
            return Decided::Skipped(format!(
                "{} AD users in {} have UPN {} and anchor {}; remove the duplicates",
                many.len(),
                ad.name,
                p.upn,
                p.onprem_guid
            ))
        }
    };
    match user.dn.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(dn) => Decided::Change(Change::Ldif {
            dn: dn.to_string(),
            cloud_anchor,
            previous: user.consistency_guid,
        }),
        None => Decided::Skipped(format!(
            "{} has no distinguished name for {} ({}): export DistinguishedName too (ldifde and csvde always include it)",
            ad.name, p.upn, user.location
        )),
    }
}

/// Writes the LDIF file: ASCII except in comments, CRLF line ends, one `changetype: modify`
/// record per entry.
pub(super) fn render(script: &Script<'_>, header: &Header, out: &mut dyn Write) -> io::Result<()> {
    let mut w = Lines::new(out);
    w.comment(&format!(
        "hardmatch script --format ldif: sets mS-DS-ConsistencyGuid on {} AD user(s) to the ImmutableId their cloud user already has.",
        script.entries.len()
    ))?;
    w.comment("")?;
    provenance(&mut w, header)?;
    w.comment("")?;
    let file = if header.output.is_empty() {
        "THIS-FILE.ldf"
    } else {
        &header.output
    };
    for text in [
        "Import it as an account that may write these users (on a domain controller, or add -s DC-NAME):",
        &format!("  ldifde -i -f {file} -j LOG-FOLDER"),
        "ldifde stops at the first error; importing again is harmless (replace writes the same value).",
        "Entra Connect uses mS-DS-ConsistencyGuid only where it is the sourceAnchor (the default since",
        "version 1.1.524), and only for users it has not synchronised yet: import this before their",
        "first sync; once synchronised, a user's sourceAnchor cannot change. The cloud users keep their",
        "ImmutableId: nothing is written to Microsoft Graph. To undo, each entry's comment shows the",
        "value the AD export had.",
    ] {
        w.comment(text)?;
    }
    notes(&mut w, script, "file")?;
    for e in &script.entries {
        entry(&mut w, e)?;
    }
    // RFC 2849 readers differ on a last record without a separator after it.
    if !script.entries.is_empty() {
        w.blank()?;
    }
    w.finish()
}

fn entry(w: &mut Lines<'_>, e: &Entry<'_>) -> io::Result<()> {
    let Change::Ldif {
        dn,
        cloud_anchor,
        previous,
    } = &e.change
    else {
        return Ok(());
    };
    let p = &e.row.plan;
    w.blank()?;
    w.comment(&format!(
        "Row {} {} ({})",
        p.row_id,
        p.upn,
        p.action.map_or("", |a| a.as_str())
    ))?;
    let was = previous.map_or("(none)".to_string(), |a| {
        format!("{} ({})", a.immutable_id(), a.guid())
    });
    w.comment(&format!(
        "  mS-DS-ConsistencyGuid {was} -> {} ({}), the ImmutableId of cloud user {}",
        cloud_anchor.immutable_id(),
        cloud_anchor.guid(),
        p.cloud_object_id
    ))?;
    w.comment(&format!(
        "  instead of setting that cloud user's ImmutableId to {} (AD anchor {})",
        p.new_immutable_id, p.onprem_guid
    ))?;
    for c in &p.checks {
        w.comment(&format!("  Check (approved anyway): {c}"))?;
    }
    if e.unsigned {
        w.comment("  accepted with --trust-workbook: not signed with this operator's plan key")?;
    }
    w.raw(&ldif_text_line("dn", dn))?;
    w.line("changetype: modify")?;
    w.line("replace: mS-DS-ConsistencyGuid")?;
    w.raw(&ldif_binary_line(
        "mS-DS-ConsistencyGuid",
        cloud_anchor.as_bytes(),
    ))?;
    w.line("-")
}
