//! Shared rows for the `script` tests: one of every case a script must handle, hostile values
//! included, signed with a fixed test key as `plan` would sign them.
#![allow(dead_code)]

use hardmatch::anchor::SourceAnchor;
use hardmatch::review::{Action, Approval, PlanKey, PlanRow, ReviewRow, Status};
use hardmatch::script::Header;
use hardmatch::sources::AdUser;
use uuid::Uuid;

pub fn key() -> PlanKey {
    PlanKey::from_bytes([5; 32])
}

pub fn anchor(guid: &str) -> SourceAnchor {
    SourceAnchor::from_guid(Uuid::parse_str(guid).expect("test GUID"))
}

pub fn iid(guid: &str) -> String {
    anchor(guid).immutable_id()
}

/// Every character that could end a PowerShell string or comment, or start code.
pub const HOSTILE: &str =
    "o'brien’‘‚‛\"“”„`$(Remove-Item C:\\ -Recurse)#><#;\r\nWrite-Host pwned\u{85}\u{2028}\0é😀";

/// The same in plain ASCII, which takes the other quoting path (one single-quoted literal).
pub const HOSTILE_ASCII: &str = "'; Remove-MgUser -UserId (Get-MgUser -All).Id; '$(x)`\"#";

/// The fixed header of the golden files.
pub fn header(output: &str) -> Header {
    Header {
        workbook: "plan.xlsx".into(),
        output: output.into(),
        workbook_sha256: "0".repeat(64),
        ad_export: None,
        generated_at: "2026-01-02T03:04:05Z".into(),
        tool_version: "0.0.0-test".into(),
        key_id: key().id().to_string(),
        options: Vec::new(),
    }
}

/// A planned row for Row id `id`, cloud user `000000NN-…`, AD anchor `AD_GUIDS[id]`.
fn planned(id: u64, action: Action, upn: &str) -> PlanRow {
    PlanRow {
        row_id: id,
        action: Some(action),
        reason: format!("{action}: planned"),
        upn: upn.into(),
        onprem_guid: ad_guid(id),
        new_immutable_id: iid(&ad_guid(id)),
        cloud_object_id: format!("{id:08x}-1111-4111-8111-111111111111"),
        cloud_upn: upn.into(),
        matched_by: Some(hardmatch::review::MatchedBy::Upn),
        source: format!("ad.csv:{}", id + 1),
        ..PlanRow::default()
    }
}

pub fn ad_guid(id: u64) -> String {
    format!("{id:08x}-a0a0-4a0a-8a0a-0a0a0a0a0a0a")
}

/// The old domain's anchor a cloud user still carries.
pub fn old_guid(id: u64) -> String {
    format!("{id:08x}-0bd0-4bd0-8bd0-0bd00bd00bd0")
}

fn signed(plan: PlanRow, approve: Approval) -> ReviewRow {
    ReviewRow {
        fingerprint: key().sign(&plan),
        plan,
        approve,
        ..ReviewRow::default()
    }
}

/// One row of each case, in a deliberately shuffled order (scripts go by Row id).
pub fn rows() -> Vec<ReviewRow> {
    let yes = Approval::Yes;
    let mut out = Vec::new();

    out.push(signed(
        planned(1, Action::Set, "alice@contoso.com"),
        yes.clone(),
    ));

    let mut replace = planned(2, Action::Replace, "bob@contoso.com");
    replace.cloud_immutable_id = iid(&old_guid(2));
    replace.checks = vec!["display name differs: on-prem Bob, cloud Robert".into()];
    out.push(signed(replace, yes.clone()));

    let mut purge = planned(3, Action::ConflictDeleted, "carol@contoso.com");
    purge.cloud_immutable_id = iid(&old_guid(3));
    purge.holder_object_id = "deadbeef-0000-4000-8000-000000000003".into();
    out.push(signed(purge, yes.clone()));

    let mut matched = planned(4, Action::AlreadyMatched, "dave@contoso.com");
    matched.cloud_immutable_id = iid(&ad_guid(4));
    out.push(signed(matched, yes.clone()));

    out.push(signed(
        planned(5, Action::BlockedSynced, "erin@contoso.com"),
        yes.clone(),
    ));

    // Edited after planning: the New ImmutableId is not what was signed.
    let mut edited = signed(planned(6, Action::Set, "frank@contoso.com"), yes.clone());
    edited.plan.new_immutable_id = iid("66666666-6666-4666-8666-666666666666");
    out.push(edited);

    out.push(signed(
        planned(7, Action::Set, "grace@contoso.com"),
        Approval::Other("Ja".into()),
    ));
    out.push(signed(
        planned(8, Action::Set, "heidi@contoso.com"),
        Approval::Empty,
    ));
    let mut done = signed(planned(9, Action::Set, "ivan@contoso.com"), yes.clone());
    done.status = Status::Done;
    out.push(done);

    // A Replace whose cloud anchor is not a GUID (another identity provider's) and whose UPN
    // and anchor carry every character that could break out of a string or comment.
    let mut hostile = planned(10, Action::Replace, &format!("judy{HOSTILE}@contoso.com"));
    hostile.cloud_immutable_id = format!("judy{HOSTILE}");
    hostile.checks = vec![format!("check with {HOSTILE}")];
    out.push(signed(hostile, yes.clone()));

    let mut hostile_set = planned(
        11,
        Action::Set,
        &format!("mallory’; Remove-MgUser{HOSTILE}"),
    );
    hostile_set.checks = vec![format!("UPN differs: {HOSTILE}")];
    out.push(signed(hostile_set, yes.clone()));

    let mut ascii = planned(
        14,
        Action::Replace,
        &format!("peggy{HOSTILE_ASCII}@contoso.com"),
    );
    ascii.cloud_immutable_id = format!("peggy{HOSTILE_ASCII}");
    out.push(signed(ascii, yes.clone()));

    // ConflictDeleted on a cloud user without an anchor: the LDIF direction has nothing to keep.
    let mut purge_only = planned(12, Action::ConflictDeleted, "niaj@contoso.com");
    purge_only.holder_object_id = "deadbeef-0000-4000-8000-000000000012".into();
    out.push(signed(purge_only, yes.clone()));

    // Not approved, and a Replace: must appear nowhere.
    let mut unapproved = planned(13, Action::Replace, "olivia@contoso.com");
    unapproved.cloud_immutable_id = iid(&old_guid(13));
    out.push(signed(unapproved, Approval::No));

    out.reverse();
    out
}

/// The AD export the LDIF direction takes distinguished names from, for rows 2, 3 and 10–12.
pub fn ad_users() -> Vec<AdUser> {
    let user = |id: u64, upn: &str, dn: Option<&str>| AdUser {
        upn: upn.into(),
        object_guid: Some(anchor(&ad_guid(id))),
        dn: dn.map(String::from),
        location: format!("ad.csv:{}", id + 1),
        ..AdUser::default()
    };
    vec![
        // Non-ASCII and long: `dn::` base64, folded.
        user(
            2,
            "bob@contoso.com",
            Some("CN=Bøb Ünïcode-Lastname With A Rather Long Name,OU=Migrated Users,OU=Department of Things,DC=fabrikam,DC=example"),
        ),
        user(3, "carol@contoso.com", Some("CN=Carol,OU=Users,DC=fabrikam,DC=example")),
        user(10, &format!("judy{HOSTILE}@contoso.com"), Some("CN=Judy,OU=Users,DC=fabrikam,DC=example")),
        user(12, "niaj@contoso.com", Some("CN=Niaj,OU=Users,DC=fabrikam,DC=example")),
        // Someone else with carol's UPN in another forest: found by anchor, not taken.
        AdUser {
            upn: "carol@contoso.com".into(),
            object_guid: Some(anchor("99999999-9999-4999-8999-999999999999")),
            dn: Some("CN=Carol,OU=Other,DC=old,DC=example".into()),
            ..AdUser::default()
        },
    ]
}
