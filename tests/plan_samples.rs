//! The bundled Fabrikam samples produce every Action, each on the user samples/README.md names.
//!
//! This reads the sample CSVs with a minimal loader of its own (not `sources`/`cloud`) so that the
//! samples' promise is checked against `plan::build` alone; tests/plan_cli.rs checks the whole
//! command on the same files.

use hardmatch::anchor::SourceAnchor;
use hardmatch::cloud::{CloudState, CloudUser};
use hardmatch::plan::{build, Action, MatchKeys, MatchedBy, Plan, PlanOptions};
use hardmatch::sources::AdUser;
use std::collections::BTreeMap;
use std::path::Path;
use uuid::Uuid;

fn samples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/samples"))
}

fn records(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut rd = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = rd.headers().unwrap().clone();
    rd.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn load_ad() -> Vec<AdUser> {
    let bytes = std::fs::read(samples().join("ad-users.csv")).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "UTF-16LE BOM");
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    let (type_line, rest) = text.split_once("\r\n").unwrap();
    assert_eq!(
        type_line,
        "#TYPE Selected.Microsoft.ActiveDirectory.Management.ADUser"
    );
    records(rest)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut problems = Vec::new();
            let mut guid = |col: &str| -> Option<SourceAnchor> {
                let v = &r[col];
                if v.is_empty() {
                    return None;
                }
                match Uuid::parse_str(v) {
                    Ok(g) => Some(SourceAnchor::from_guid(g)),
                    Err(e) => {
                        problems.push(format!("{col} {v:?}: {e}"));
                        None
                    }
                }
            };
            let object_guid = guid("ObjectGUID");
            let consistency_guid = guid("mS-DS-ConsistencyGuid");
            AdUser {
                upn: r["UserPrincipalName"].clone(),
                object_guid,
                consistency_guid,
                mail: opt(&r["mail"]),
                proxy_addresses: r["proxyAddresses"].split(';').map(String::from).collect(),
                display_name: opt(&r["DisplayName"]),
                dn: opt(&r["DistinguishedName"]),
                sam_account_name: opt(&r["SamAccountName"]),
                location: format!("ad-users.csv:{}", i + 3),
                problems,
            }
        })
        .collect()
}

fn load_cloud() -> CloudState {
    let text = std::fs::read_to_string(samples().join("cloud-users.csv")).unwrap();
    let mut s = CloudState::default();
    for r in records(&text) {
        let u = CloudUser {
            id: r["Id"].clone(),
            upn: r["UserPrincipalName"].clone(),
            immutable_id: opt(&r["OnPremisesImmutableId"]),
            sync_enabled: match r["OnPremisesSyncEnabled"].as_str() {
                "True" => Some(true),
                "False" => Some(false),
                _ => None,
            },
            mail: opt(&r["Mail"]),
            proxy_addresses: r["ProxyAddresses"]
                .split(';')
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
            display_name: opt(&r["DisplayName"]),
            deleted_date_time: opt(&r["DeletedDateTime"]),
            on_prem_object_identifier: opt(&r["OnPremisesObjectIdentifier"]),
            ..CloudUser::default()
        };
        if u.is_deleted() {
            s.deleted.push(u)
        } else {
            s.users.push(u)
        }
    }
    s
}

fn action_of<'a>(p: &'a Plan, upn: &str) -> &'a hardmatch::plan::PlanRow {
    p.rows
        .iter()
        .find(|r| r.upn == upn)
        .unwrap_or_else(|| panic!("{upn} not in plan"))
}

#[test]
fn samples_show_every_action_with_the_default_match() {
    let ad = load_ad();
    let cloud = load_cloud();
    let p = build(&ad, &cloud, &PlanOptions::default());
    for a in Action::ALL {
        // An active holder of the anchor is the match (Entra Connect hard-matches first), so
        // only apply's re-check of a row can find ConflictActive.
        if a != Action::ConflictActive {
            assert!(p.count(a) > 0, "no {a} row in the samples");
        }
    }
    assert_eq!(p.count(Action::ConflictActive), 0);
    let expect = [
        ("adele.vance@fabrikam.com", Action::Set, 0),
        ("alex.wilber@fabrikam.com", Action::Set, 0),
        ("megan.bowen@fabrikam.com", Action::Set, 1),
        ("lee.gu@fabrikam.com", Action::Set, 0),
        ("lidia.holloway@fabrikam.com", Action::AlreadyMatched, 0),
        ("lynne.robbins@fabrikam.com", Action::AlreadyMatched, 0),
        ("miriam.graham@fabrikam.com", Action::Replace, 0),
        ("nestor.wilke@fabrikam.com", Action::Replace, 1),
        ("patti.fernandez@fabrikam.com", Action::BlockedSynced, 0),
        ("pradeep.gupta@fabrikam.com", Action::NoCloudUser, 0),
        ("isaiah.langer@fabrikam.com", Action::AlreadyMatched, 3),
        ("johanna.lorenz@fabrikam.com", Action::ConflictDeleted, 0),
        ("joni.sherman@fabrikam.com", Action::Ambiguous, 0),
        ("diego.siciliani@fabrikam.com", Action::DuplicateSource, 0),
        ("dsiciliani@fabrikam.com", Action::DuplicateSource, 0),
        ("grady.archie@fabrikam.com", Action::InvalidInput, 0),
        ("henrietta.mueller@fabrikam.com", Action::AlreadyMatched, 1),
        ("irvin.sayers@fabrikam.com", Action::Set, 1),
        ("christie.cline@fabrikam.com", Action::Set, 1),
        ("enrico.cattaneo@fabrikam.com", Action::AlreadyMatched, 2),
        ("Debra.Berger@Fabrikam.com", Action::Set, 0),
        ("allan.deyoung@fabrikam.local", Action::NoCloudUser, 0),
    ];
    assert_eq!(p.rows.len(), expect.len());
    for (upn, action, checks) in expect {
        let r = action_of(&p, upn);
        assert_eq!(r.action, Some(action), "{upn}: {}", r.reason);
        assert_eq!(r.checks.len(), checks, "{upn}: {:?}", r.checks);
    }
    for upn in ["enrico.cattaneo@fabrikam.com", "isaiah.langer@fabrikam.com"] {
        assert_eq!(action_of(&p, upn).matched_by, Some(MatchedBy::ImmutableId));
    }
    assert_eq!(
        action_of(&p, "isaiah.langer@fabrikam.com").cloud_upn,
        "isaiah.test@fabrikam.onmicrosoft.com"
    );
    // ImmutableIds starting with '+' and '/' are in the samples, for the workbook's text cells.
    assert!(action_of(&p, "adele.vance@fabrikam.com")
        .new_immutable_id
        .starts_with('+'));
    assert!(action_of(&p, "lee.gu@fabrikam.com")
        .new_immutable_id
        .starts_with('/'));
    let unmatched: Vec<&str> = p
        .unmatched_cloud
        .iter()
        .map(|&i| cloud.users[i].upn.as_str())
        .collect();
    assert_eq!(
        unmatched,
        [
            "isaiah.langer@fabrikam.com",
            "joni.sherman@fabrikam.com",
            "Joni.Sherman@fabrikam.com",
            "allan.deyoung@fabrikam.com",
            "admin@fabrikam.onmicrosoft.com",
            "reception@fabrikam.com",
        ]
    );
}

#[test]
fn samples_match_the_non_routable_upn_by_mail_with_upn_mail() {
    let p = build(
        &load_ad(),
        &load_cloud(),
        &PlanOptions {
            match_keys: MatchKeys::UpnMail,
        },
    );
    let r = action_of(&p, "allan.deyoung@fabrikam.local");
    assert_eq!(r.action, Some(Action::Set), "{}", r.reason);
    assert_eq!(r.matched_by, Some(MatchedBy::Mail));
    assert_eq!(
        r.checks,
        ["UPN differs: on-prem allan.deyoung@fabrikam.local, cloud allan.deyoung@fabrikam.com"]
    );
    // Everything else decides the same way as with the default.
    let default = build(&load_ad(), &load_cloud(), &PlanOptions::default());
    for (a, b) in p.rows.iter().zip(&default.rows) {
        if a.upn != "allan.deyoung@fabrikam.local" {
            assert_eq!(a.action, b.action, "{}", a.upn);
        }
    }
}
