//! `plan::build`: which Action each AD row gets, why, and which Checks come with it.

use hardmatch::anchor::SourceAnchor;
use hardmatch::cloud::{CloudState, CloudUser, TenantFeatures, Unchecked};
use hardmatch::plan::{build, Action, MatchKeys, MatchedBy, Plan, PlanOptions, PlanRow};
use hardmatch::sources::AdUser;
use uuid::Uuid;

const G1: &str = "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";
const G2: &str = "0d4f5e6a-7b8c-4d9e-a0b1-c2d3e4f5a6b7";
const G3: &str = "c9a8b7e6-d5c4-4b3a-9281-706f5e4d3c2b";

fn anchor(g: &str) -> SourceAnchor {
    SourceAnchor::from_guid(Uuid::parse_str(g).unwrap())
}

fn iid(g: &str) -> String {
    anchor(g).immutable_id()
}

fn ad(upn: &str, guid: &str) -> AdUser {
    AdUser {
        upn: upn.into(),
        object_guid: Some(anchor(guid)),
        location: format!("ad.csv:{upn}"),
        ..AdUser::default()
    }
}

fn cu(id: &str, upn: &str) -> CloudUser {
    CloudUser {
        id: id.into(),
        upn: upn.into(),
        sync_enabled: Some(false),
        ..CloudUser::default()
    }
}

fn with_id(mut u: CloudUser, immutable_id: &str) -> CloudUser {
    u.immutable_id = Some(immutable_id.into());
    u
}

fn deleted(id: &str, upn: &str, immutable_id: &str) -> CloudUser {
    CloudUser {
        deleted_date_time: Some("2026-09-30T10:00:00Z".into()),
        ..with_id(cu(id, upn), immutable_id)
    }
}

fn state(users: Vec<CloudUser>, deleted: Vec<CloudUser>) -> CloudState {
    CloudState {
        users,
        deleted,
        ..CloudState::default()
    }
}

fn plan(ad: &[AdUser], cloud: &CloudState) -> Plan {
    build(ad, cloud, &PlanOptions::default())
}

fn plan_mail(ad: &[AdUser], cloud: &CloudState) -> Plan {
    build(
        ad,
        cloud,
        &PlanOptions {
            match_keys: MatchKeys::UpnMail,
        },
    )
}

fn one(ad: AdUser, cloud: &CloudState) -> PlanRow {
    let p = plan(&[ad], cloud);
    assert_eq!(p.rows.len(), 1);
    p.rows.into_iter().next().unwrap()
}

#[test]
fn cloud_only_user_without_anchor_is_set_and_every_field_is_filled() {
    let mut a = ad(" Ann.Lee@Fabrikam.com ", G1);
    a.mail = Some("ann.lee@fabrikam.com".into());
    a.display_name = Some("Ann Lee".into());
    let mut c = cu("id-ann", "ann.lee@fabrikam.com");
    c.mail = Some("Ann.Lee@fabrikam.com".into());
    c.display_name = Some("ann lee ".into());
    let r = one(a, &state(vec![c], vec![]));
    assert_eq!(r.action, Some(Action::Set));
    assert_eq!(r.row_id, 1);
    assert_eq!(r.upn, "Ann.Lee@Fabrikam.com");
    assert_eq!(r.onprem_guid, G1);
    assert_eq!(r.new_immutable_id, iid(G1));
    assert_eq!(r.cloud_object_id, "id-ann");
    assert_eq!(r.cloud_upn, "ann.lee@fabrikam.com");
    assert_eq!(r.cloud_immutable_id, "");
    assert_eq!(r.mail_cloud, "Ann.Lee@fabrikam.com");
    assert_eq!(r.display_name_onprem, "Ann Lee");
    assert_eq!(r.display_name_cloud, "ann lee ");
    assert_eq!(r.matched_by, Some(MatchedBy::Upn));
    assert_eq!(r.source, "ad.csv: Ann.Lee@Fabrikam.com ");
    assert!(r.reason.contains("set it"), "{}", r.reason);
    assert_eq!(r.new_immutable_id, iid(G1));
    // Case and surrounding blanks are not differences.
    assert!(r.checks.is_empty(), "{:?}", r.checks);
}

#[test]
fn immutable_id_is_base64_of_dotnet_byte_order() {
    // Published pair (easy365manager): f7cc07d7-7c15-447d-876d-c01b0e5a9e38 ⇔ 1wfM9xV8fUSHbcAbDlqeOA==
    let r = one(
        ad("tycho@x.com", "f7cc07d7-7c15-447d-876d-c01b0e5a9e38"),
        &state(vec![cu("1", "tycho@x.com")], vec![]),
    );
    assert_eq!(r.new_immutable_id, "1wfM9xV8fUSHbcAbDlqeOA==");
}

#[test]
fn different_anchor_on_cloud_only_user_is_replace_showing_old_and_new() {
    let r = one(
        ad("bo@x.com", G1),
        &state(vec![with_id(cu("1", "bo@x.com"), &iid(G2))], vec![]),
    );
    assert_eq!(r.action, Some(Action::Replace));
    assert_eq!(r.cloud_immutable_id, iid(G2));
    assert!(
        r.reason.contains(&format!("{} → {}", iid(G2), iid(G1))),
        "{}",
        r.reason
    );
}

#[test]
fn immutable_id_comparison_is_case_sensitive() {
    let lower = iid(G1).to_lowercase();
    assert_ne!(lower, iid(G1));
    let r = one(
        ad("bo@x.com", G1),
        &state(vec![with_id(cu("1", "bo@x.com"), &lower)], vec![]),
    );
    assert_eq!(r.action, Some(Action::Replace), "{}", r.reason);
}

#[test]
fn same_anchor_already_in_the_cloud_is_already_matched() {
    let r = one(
        ad("cy@x.com", G1),
        &state(vec![with_id(cu("1", "CY@x.com"), &iid(G1))], vec![]),
    );
    assert_eq!(r.action, Some(Action::AlreadyMatched));
    assert!(r.checks.is_empty(), "{:?}", r.checks);
}

#[test]
fn synced_user_is_blocked_unless_it_already_holds_the_anchor() {
    let mut c = with_id(cu("1", "di@x.com"), &iid(G2));
    c.sync_enabled = Some(true);
    let r = one(ad("di@x.com", G1), &state(vec![c.clone()], vec![]));
    assert_eq!(r.action, Some(Action::BlockedSynced));
    assert!(
        r.reason.contains("onPremisesSyncEnabled = true"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains(&iid(G2)), "{}", r.reason);

    // Nothing to write: already matched, with a Check about the old sync.
    c.immutable_id = Some(iid(G1));
    let r = one(ad("di@x.com", G1), &state(vec![c], vec![]));
    assert_eq!(r.action, Some(Action::AlreadyMatched));
    assert!(
        r.checks.iter().any(|c| c.contains("still synced")),
        "{:?}",
        r.checks
    );
}

#[test]
fn blocked_synced_wins_over_conflicts() {
    let mut c = cu("1", "di@x.com");
    c.sync_enabled = Some(true);
    let r = one(
        ad("di@x.com", G1),
        &state(vec![c], vec![deleted("d2", "other@x.com", &iid(G1))]),
    );
    assert_eq!(r.action, Some(Action::BlockedSynced));
}

#[test]
fn no_cloud_user_says_entra_connect_will_create_one() {
    let r = one(
        ad("ed@x.com", G1),
        &state(vec![cu("1", "someone@x.com")], vec![]),
    );
    assert_eq!(r.action, Some(Action::NoCloudUser));
    assert_eq!(r.matched_by, Some(MatchedBy::None));
    assert!(r.reason.contains("ed@x.com"), "{}", r.reason);
    assert!(r.reason.contains("create a new cloud user"), "{}", r.reason);
    assert_eq!(r.cloud_object_id, "");
}

#[test]
fn soft_deleted_users_are_never_matched() {
    let r = one(
        ad("ed@x.com", G1),
        &state(vec![], vec![deleted("d1", "ed@x.com", &iid(G2))]),
    );
    assert_eq!(r.action, Some(Action::NoCloudUser));
}

#[test]
fn the_active_holder_of_the_anchor_is_the_match_even_when_another_user_has_the_upn() {
    // Entra Connect hard-matches on the sourceAnchor before any soft match: fay's AD user joins
    // the cloud user holding her ImmutableId, not the one with her UPN.
    let p = plan(
        &[ad("fay@x.com", G1)],
        &state(
            vec![
                cu("c-fay", "fay@x.com"),
                with_id(cu("c-old", "fay.old@x.com"), &iid(G1)),
            ],
            vec![],
        ),
    );
    let r = &p.rows[0];
    assert_eq!(r.action, Some(Action::AlreadyMatched), "{}", r.reason);
    assert_eq!(r.matched_by, Some(MatchedBy::ImmutableId));
    assert_eq!(r.cloud_object_id, "c-old");
    assert!(r.reason.contains("fay.old@x.com"), "{}", r.reason);
    assert_eq!(p.unmatched_cloud, vec![0]);
}

#[test]
fn with_upn_mail_a_mail_tie_does_not_override_the_anchor() {
    // Issue 7 §3: pat's anchor is held by pat@contoso.com; pat.old@contoso.com shares the mail.
    let mut a = ad("pat@corp.local", G1);
    a.mail = Some("pat@contoso.com".into());
    let mut holder = with_id(cu("c-pat", "pat@contoso.com"), &iid(G1));
    holder.mail = Some("pat@contoso.com".into());
    let mut old = cu("c-old", "pat.old@contoso.com");
    old.mail = Some("pat@contoso.com".into());
    let s = state(vec![holder, old], vec![]);
    for p in [plan(&[a.clone()], &s), plan_mail(&[a.clone()], &s)] {
        let r = &p.rows[0];
        assert_eq!(r.action, Some(Action::AlreadyMatched), "{}", r.reason);
        assert_eq!(r.matched_by, Some(MatchedBy::ImmutableId));
        assert_eq!(r.cloud_object_id, "c-pat");
        // The real match is not listed as unmatched; the other user is.
        assert_eq!(p.unmatched_cloud, vec![1]);
    }
}

#[test]
fn deleted_holder_is_conflict_deleted_resolved_by_purging() {
    let r = one(
        ad("gus@x.com", G1),
        &state(
            vec![cu("c-gus", "gus@x.com")],
            vec![deleted("d-gus", "gus.2019@x.com", &iid(G1))],
        ),
    );
    assert_eq!(r.action, Some(Action::ConflictDeleted));
    assert_eq!(r.holder_object_id, "d-gus");
    assert!(r.reason.contains("gus.2019@x.com"), "{}", r.reason);
    assert!(r.reason.to_lowercase().contains("purg"), "{}", r.reason);
    assert!(r.reason.contains("recycle bin"), "{}", r.reason);
}

#[test]
fn unmatched_ad_user_whose_anchor_a_cloud_user_holds_is_already_hard_matched() {
    let r = one(
        ad("new.name@x.com", G1),
        &state(vec![with_id(cu("c1", "old.name@x.com"), &iid(G1))], vec![]),
    );
    assert_eq!(r.action, Some(Action::AlreadyMatched), "{}", r.reason);
    assert_eq!(r.matched_by, Some(MatchedBy::ImmutableId));
    assert_eq!(r.cloud_object_id, "c1");
    assert!(
        r.checks
            .iter()
            .any(|c| c == "UPN differs: on-prem new.name@x.com, cloud old.name@x.com"),
        "{:?}",
        r.checks
    );
}

#[test]
fn two_cloud_users_with_one_upn_are_ambiguous_and_listed() {
    let r = one(
        ad("hal@x.com", G1),
        &state(vec![cu("c1", "hal@x.com"), cu("c2", "HAL@x.com ")], vec![]),
    );
    assert_eq!(r.action, Some(Action::Ambiguous));
    assert!(
        r.reason.contains("c1") && r.reason.contains("c2"),
        "{}",
        r.reason
    );
    assert_eq!(r.cloud_object_id, "");
}

#[test]
fn mail_matching_only_with_upn_mail() {
    let mut a = ad("ivy@corp.local", G1);
    a.mail = Some("Ivy@Fabrikam.com".into());
    let mut c = cu("c1", "ivy@fabrikam.com");
    c.mail = Some("ivy@fabrikam.com".into());
    let s = state(vec![c], vec![]);

    assert_eq!(
        plan(&[a.clone()], &s).rows[0].action,
        Some(Action::NoCloudUser)
    );

    let p = plan_mail(&[a], &s);
    let r = &p.rows[0];
    assert_eq!(r.action, Some(Action::Set));
    assert_eq!(r.matched_by, Some(MatchedBy::Mail));
    assert!(
        r.checks
            .contains(&"UPN differs: on-prem ivy@corp.local, cloud ivy@fabrikam.com".to_string()),
        "{:?}",
        r.checks
    );
    assert!(p.unmatched_cloud.is_empty());
}

#[test]
fn proxy_matching_uses_only_smtp_addresses() {
    let mut a = ad("jo@corp.local", G1);
    a.proxy_addresses = vec![
        "X500:/o=Fabrikam/cn=jo".into(),
        "smtp:Jo.Alias@Fabrikam.com".into(),
    ];
    let mut c = cu("c1", "jo.k@fabrikam.com");
    c.proxy_addresses = vec![
        "SMTP:jo.k@fabrikam.com".into(),
        "smtp:jo.alias@fabrikam.com".into(),
    ];
    let mut x500 = cu("c2", "x500@fabrikam.com");
    x500.proxy_addresses = vec!["X500:/o=Fabrikam/cn=jo".into()];
    let p = plan_mail(&[a], &state(vec![c, x500], vec![]));
    let r = &p.rows[0];
    assert_eq!(r.action, Some(Action::Set), "{}", r.reason);
    assert_eq!(r.matched_by, Some(MatchedBy::ProxyAddress));
    assert_eq!(r.cloud_object_id, "c1");
    assert_eq!(p.unmatched_cloud, vec![1]);
}

#[test]
fn several_cloud_users_sharing_an_address_are_ambiguous() {
    let mut a = ad("kay@corp.local", G1);
    a.mail = Some("kay@fabrikam.com".into());
    let mut c1 = cu("c1", "kay1@fabrikam.com");
    c1.mail = Some("kay@fabrikam.com".into());
    let mut c2 = cu("c2", "kay2@fabrikam.com");
    c2.mail = Some("KAY@fabrikam.com".into());
    let r = &plan_mail(&[a], &state(vec![c1, c2], vec![])).rows[0];
    assert_eq!(r.action, Some(Action::Ambiguous));
    assert_eq!(r.matched_by, Some(MatchedBy::Mail));
    assert!(r.reason.contains("kay1@fabrikam.com") && r.reason.contains("kay2@fabrikam.com"));
}

#[test]
fn upn_match_wins_over_mail_candidates() {
    let mut a = ad("lea@fabrikam.com", G1);
    a.mail = Some("shared@fabrikam.com".into());
    let mut other = cu("c2", "other@fabrikam.com");
    other.mail = Some("shared@fabrikam.com".into());
    let p = plan_mail(
        &[a],
        &state(vec![cu("c1", "lea@fabrikam.com"), other], vec![]),
    );
    assert_eq!(p.rows[0].action, Some(Action::Set));
    assert_eq!(p.rows[0].cloud_object_id, "c1");
}

#[test]
fn two_ad_rows_with_one_anchor_are_both_duplicate_source_naming_each_other() {
    let a = ad("max@x.com", G1);
    let b = ad("max2@x.com", G1);
    let p = plan(
        &[a, b, ad("ok@x.com", G2)],
        &state(
            vec![
                cu("1", "max@x.com"),
                cu("2", "max2@x.com"),
                cu("3", "ok@x.com"),
            ],
            vec![],
        ),
    );
    assert_eq!(p.rows[0].action, Some(Action::DuplicateSource));
    assert_eq!(p.rows[1].action, Some(Action::DuplicateSource));
    assert!(
        p.rows[0].reason.contains("ad.csv:max2@x.com"),
        "{}",
        p.rows[0].reason
    );
    assert!(
        p.rows[1].reason.contains("ad.csv:max@x.com"),
        "{}",
        p.rows[1].reason
    );
    assert_eq!(p.rows[2].action, Some(Action::Set));
    assert_eq!(
        p.rows.iter().map(|r| r.row_id).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
}

#[test]
fn two_ad_rows_matching_one_cloud_user_are_duplicate_source() {
    let mut a = ad("nia@corp.local", G1);
    a.mail = Some("nia@fabrikam.com".into());
    let b = ad("nia@fabrikam.com", G2);
    let mut c = cu("c1", "nia@fabrikam.com");
    c.mail = Some("nia@fabrikam.com".into());
    let r = plan_mail(&[a, b], &state(vec![c], vec![]));
    for (row, other) in r
        .rows
        .iter()
        .zip(["ad.csv:nia@fabrikam.com", "ad.csv:nia@corp.local"])
    {
        assert_eq!(row.action, Some(Action::DuplicateSource), "{}", row.reason);
        assert!(row.reason.contains(other), "{}", row.reason);
        assert!(
            row.reason.contains("nia@fabrikam.com (id c1)"),
            "{}",
            row.reason
        );
    }
}

#[test]
fn duplicate_source_wins_even_without_a_cloud_user() {
    let p = plan(
        &[ad("a@x.com", G1), ad("b@x.com", G1)],
        &state(vec![], vec![]),
    );
    assert!(p
        .rows
        .iter()
        .all(|r| r.action == Some(Action::DuplicateSource)));
}

#[test]
fn invalid_rows_are_invalid_input_and_do_not_make_duplicates() {
    let mut broken = ad("ola@x.com", G1);
    broken.problems = vec!["objectGUID \"xyz\" is not a GUID".into()];
    let mut no_anchor = ad("pia@x.com", G2);
    no_anchor.object_guid = None;
    let good = ad("ola@x.com", G3);
    let p = plan(
        &[broken, no_anchor, good],
        &state(vec![cu("1", "ola@x.com"), cu("2", "pia@x.com")], vec![]),
    );
    assert_eq!(p.rows[0].action, Some(Action::InvalidInput));
    assert!(p.rows[0]
        .reason
        .contains("objectGUID \"xyz\" is not a GUID"));
    assert_eq!(p.rows[1].action, Some(Action::InvalidInput));
    assert!(
        p.rows[1].reason.contains("objectGUID"),
        "{}",
        p.rows[1].reason
    );
    assert_eq!(p.rows[1].new_immutable_id, "");
    assert_eq!(p.rows[2].action, Some(Action::Set), "{}", p.rows[2].reason);
    // Matched users of invalid rows still count as matched.
    assert!(p.unmatched_cloud.is_empty());
}

#[test]
fn consistency_guid_is_the_anchor_and_a_difference_is_a_check() {
    let mut a = ad("quin@x.com", G1);
    a.consistency_guid = Some(anchor(G2));
    let r = one(a, &state(vec![cu("1", "quin@x.com")], vec![]));
    assert_eq!(r.action, Some(Action::Set));
    assert_eq!(r.onprem_guid, G2);
    assert_eq!(r.new_immutable_id, iid(G2));
    let check = r
        .checks
        .iter()
        .find(|c| c.contains("mS-DS-ConsistencyGuid"))
        .expect("ConsistencyGuid check");
    assert!(check.contains(G1) && check.contains(G2), "{check}");

    let mut same = ad("quin@x.com", G1);
    same.consistency_guid = Some(anchor(G1));
    assert!(one(same, &state(vec![cu("1", "quin@x.com")], vec![]))
        .checks
        .is_empty());
}

#[test]
fn mail_and_display_name_differences_are_checks() {
    let mut a = ad("rae@x.com", G1);
    a.mail = Some("rae@x.com".into());
    a.display_name = Some("Rae Smith".into());
    let mut c = cu("1", "rae@x.com");
    c.mail = Some("rae.smith@x.com".into());
    c.display_name = Some("Rae Jones".into());
    let r = one(a, &state(vec![c], vec![]));
    assert_eq!(r.action, Some(Action::Set));
    assert_eq!(
        r.checks,
        vec![
            "mail differs: on-prem rae@x.com, cloud rae.smith@x.com".to_string(),
            "display name differs: on-prem Rae Smith, cloud Rae Jones".to_string(),
        ]
    );

    // Only when both sides have a value.
    let mut a = ad("rae@x.com", G1);
    a.display_name = Some("Rae".into());
    let r = one(a, &state(vec![cu("1", "rae@x.com")], vec![]));
    assert!(r.checks.is_empty(), "{:?}", r.checks);
}

#[test]
fn non_guid_cloud_anchor_is_flagged_with_its_raw_value() {
    let r = one(
        ad("sam@x.com", G1),
        &state(
            vec![with_id(cu("1", "sam@x.com"), "sam@federated.example.edu")],
            vec![],
        ),
    );
    assert_eq!(r.action, Some(Action::Replace));
    assert!(
        r.checks
            .iter()
            .any(|c| c.contains("not GUID-based") && c.contains("sam@federated.example.edu")),
        "{:?}",
        r.checks
    );
}

#[test]
fn on_prem_object_identifier_and_privileged_roles_warn_that_hard_match_is_blocked() {
    let mut c = cu("1", "tia@x.com");
    c.on_prem_object_identifier = Some("5b1f0b3a-0000-4000-8000-000000000001".into());
    c.privileged_roles = Some(vec!["Global Administrator".into()]);
    let r = one(ad("tia@x.com", G1), &state(vec![c], vec![]));
    assert_eq!(r.action, Some(Action::Set));
    let blocked: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.contains("hard match will be blocked"))
        .collect();
    assert_eq!(blocked.len(), 2, "{:?}", r.checks);
    assert!(blocked[0].contains("onPremisesObjectIdentifier"));
    assert!(blocked[1].contains("Global Administrator"));

    // Unknown roles (None) and no roles say nothing.
    let mut c = cu("1", "tia@x.com");
    c.privileged_roles = Some(vec![]);
    assert!(one(ad("tia@x.com", G1), &state(vec![c], vec![]))
        .checks
        .is_empty());
}

#[test]
fn takeover_block_is_a_tenant_warning() {
    let mut s = state(vec![], vec![]);
    assert!(plan(&[], &s).warnings.is_empty());
    s.features = Some(TenantFeatures {
        block_cloud_object_takeover_through_hard_match: true,
        block_soft_match: false,
    });
    let p = plan(&[], &s);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("BlockCloudObjectTakeoverThroughHardMatch"));
}

#[test]
fn cloud_users_no_ad_row_matched_are_listed() {
    let p = plan(
        &[ad("u1@x.com", G1)],
        &state(
            vec![
                cu("a", "lonely@x.com"),
                cu("b", "u1@x.com"),
                cu("c", "also@x.com"),
            ],
            vec![],
        ),
    );
    assert_eq!(p.unmatched_cloud, vec![0, 2]);
}

#[test]
fn every_row_gets_exactly_one_action_and_a_reason() {
    let n = 2000;
    let ad = hardmatch::plan::synthetic::ad_users(n);
    let cloud = hardmatch::plan::synthetic::cloud_state(n);
    let p = plan(&ad, &cloud);
    assert_eq!(p.rows.len(), n);
    for (i, r) in p.rows.iter().enumerate() {
        assert_eq!(r.row_id, i as u64 + 1);
        assert!(r.action.is_some());
        assert!(!r.reason.is_empty());
    }
    for a in [
        Action::Set,
        Action::Replace,
        Action::AlreadyMatched,
        Action::BlockedSynced,
        Action::NoCloudUser,
        Action::ConflictDeleted,
        Action::DuplicateSource,
    ] {
        assert!(p.count(a) > 0, "{a} missing");
    }
    // An active holder of the anchor is the match, as in Entra Connect.
    assert_eq!(p.count(Action::ConflictActive), 0);
}

#[test]
fn only_set_rows_without_checks_can_be_pre_approved() {
    let mut megan = ad("megan@x.com", G1);
    megan.display_name = Some("Megan Bowen".into());
    let mut cm = cu("1", "megan@x.com");
    cm.display_name = Some("Bowen, Megan".into());
    let p = plan(
        &[ad("adele@x.com", G2), megan, ad("bo@x.com", G3)],
        &state(
            vec![
                cu("2", "adele@x.com"),
                cm,
                with_id(cu("3", "bo@x.com"), "legacy-anchor"),
            ],
            vec![],
        ),
    );
    let clean: Vec<bool> = p
        .rows
        .iter()
        .map(|r| hardmatch::plan::is_clean_set(r, Unchecked::default()))
        .collect();
    assert_eq!(p.rows[1].action, Some(Action::Set));
    assert_eq!(p.rows[2].action, Some(Action::Replace));
    assert_eq!(clean, [true, false, false]);
}

#[test]
fn an_ad_row_found_through_its_immutable_id_and_another_through_upn_are_duplicates() {
    // bo@x.com's cloud user already carries ann's anchor: two AD users point at one cloud user.
    let p = plan(
        &[ad("ann@x.com", G1), ad("bo@x.com", G2)],
        &state(vec![with_id(cu("c-bo", "bo@x.com"), &iid(G1))], vec![]),
    );
    assert_eq!(p.rows[0].matched_by, Some(MatchedBy::ImmutableId));
    assert_eq!(p.rows[1].matched_by, Some(MatchedBy::Upn));
    for r in &p.rows {
        assert_eq!(r.action, Some(Action::DuplicateSource), "{}", r.reason);
        assert!(r.reason.contains("bo@x.com (id c-bo)"), "{}", r.reason);
    }
}

#[test]
fn another_cloud_user_holding_the_ad_mail_is_a_check_in_every_mode() {
    // Issue 7 §4: pat's mail and SMTP address belong to another cloud user, pat.kim. After the
    // write Entra Connect joins pat@, and the address clashes with pat.kim's (quarantined).
    let mut a = ad("pat@contoso.com", G1);
    a.mail = Some("pat.kim@contoso.com".into());
    a.proxy_addresses = vec!["SMTP:pat.kim@contoso.com".into()];
    let mut kim = cu("c-kim", "pat.kim@contoso.com");
    kim.mail = Some("pat.kim@contoso.com".into());
    kim.proxy_addresses = vec!["SMTP:pat.kim@contoso.com".into()];
    let s = state(vec![cu("c-pat", "pat@contoso.com"), kim], vec![]);
    for p in [plan(&[a.clone()], &s), plan_mail(&[a.clone()], &s)] {
        let r = &p.rows[0];
        assert_eq!(r.action, Some(Action::Set), "{}", r.reason);
        assert_eq!(r.cloud_object_id, "c-pat");
        let check = r
            .checks
            .iter()
            .find(|c| c.contains("pat.kim@contoso.com (id c-kim)"))
            .unwrap_or_else(|| panic!("no Check names the other holder: {:?}", r.checks));
        assert!(check.contains("AttributeValueMustBeUnique"), "{check}");
        assert!(!hardmatch::plan::is_clean_set(r, Unchecked::default()));
    }
}

#[test]
fn another_cloud_user_with_the_upn_of_an_anchor_matched_row_is_a_check() {
    let p = plan(
        &[ad("fay@x.com", G1)],
        &state(
            vec![
                cu("c-fay", "fay@x.com"),
                with_id(cu("c-old", "fay.old@x.com"), &iid(G1)),
            ],
            vec![],
        ),
    );
    let r = &p.rows[0];
    assert_eq!(r.cloud_object_id, "c-old");
    assert!(
        r.checks
            .iter()
            .any(|c| c.contains("fay@x.com (id c-fay)") && c.contains("UPN")),
        "{:?}",
        r.checks
    );
}

#[test]
fn the_right_guid_in_a_wrong_notation_is_a_replace_that_says_so() {
    // Issue 7 §6: BpazOkLGm0iEtljAONPvOQ== written big-endian, unpadded, or as base64 of the text.
    const G: &str = "3ab39606-c642-489b-84b6-58c038d3ef39";
    assert_eq!(iid(G), "BpazOkLGm0iEtljAONPvOQ==");
    for stored in [
        "OrOWBsZCSJuEtljAONPvOQ==",
        "BpazOkLGm0iEtljAONPvOQ",
        "M2FiMzk2MDYtYzY0Mi00ODliLTg0YjYtNThjMDM4ZDNlZjM5",
    ] {
        let r = one(
            ad("pat@x.com", G),
            &state(vec![with_id(cu("1", "pat@x.com"), stored)], vec![]),
        );
        assert_eq!(r.action, Some(Action::Replace), "{stored}: {}", r.reason);
        assert!(
            r.checks.iter().any(|c| c.contains("wrong notation")
                && c.contains(G)
                && c.contains("Replace is safe")),
            "{stored}: {:?}",
            r.checks
        );
        assert!(
            !r.checks.iter().any(|c| c.contains("not GUID-based")),
            "{stored}: {:?}",
            r.checks
        );
        assert!(
            r.reason.contains("wrong notation"),
            "{stored}: {}",
            r.reason
        );
        // Adopting a wrongly written value as mS-DS-ConsistencyGuid is no fix to offer.
        assert!(
            !r.reason.contains("keep the cloud anchor"),
            "{stored}: {}",
            r.reason
        );
    }
}

#[test]
fn a_deleted_holder_that_looks_like_this_person_asks_to_restore_rather_than_purge() {
    // Issue 7 §7: the recycle bin holds pat's original account: its UPN without the deleted
    // prefix, its mail and display name are pat's. A purge cannot be undone.
    let mut a = ad("pat@x.com", G1);
    a.mail = Some("pat@x.com".into());
    a.display_name = Some("Pat Kim".into());
    let id = "5b1f0b3a-0000-4000-8000-00000000d001";
    let mangled = format!("{}pat@x.com", id.replace('-', ""));
    let mut orig = deleted(id, &mangled, &iid(G1));
    orig.mail = Some("Pat@x.com".into());
    orig.display_name = Some("Pat Kim".into());
    let r = one(
        a.clone(),
        &state(vec![cu("c-pat", "pat@x.com")], vec![orig.clone()]),
    );
    assert_eq!(r.action, Some(Action::ConflictDeleted), "{}", r.reason);
    let check = r
        .checks
        .iter()
        .find(|c| c.contains("same person"))
        .unwrap_or_else(|| panic!("no Check: {:?}", r.checks));
    assert!(check.contains("restore it instead of purging"), "{check}");

    // Another person's deleted account (different display name) gets the plain purge advice.
    orig.display_name = Some("Someone Else".into());
    let r = one(a, &state(vec![cu("c-pat", "pat@x.com")], vec![orig]));
    assert_eq!(r.action, Some(Action::ConflictDeleted));
    assert!(r.checks.is_empty(), "{:?}", r.checks);
}

#[test]
fn a_deleted_holder_without_a_deletion_date_says_it_is_unknown() {
    // Issue 7 §13: "(id id-dc, deleted )".
    let mut d = deleted("id-dc", "gone@x.com", &iid(G1));
    d.deleted_date_time = Some(String::new());
    let r = one(
        ad("gus@x.com", G1),
        &state(vec![cu("c-gus", "gus@x.com")], vec![d]),
    );
    assert_eq!(r.action, Some(Action::ConflictDeleted));
    assert!(r.reason.contains("deletion date unknown"), "{}", r.reason);
    assert!(!r.reason.contains("deleted )"), "{}", r.reason);
}

#[test]
fn a_mail_the_matched_user_shares_with_another_user_is_still_named() {
    // The look-up is skipped only when the address is the target's and nobody else's.
    let mut a = ad("pat@contoso.com", G1);
    a.mail = Some("team@contoso.com".into());
    let mut pat = cu("c-pat", "pat@contoso.com");
    pat.mail = Some("team@contoso.com".into());
    let mut other = cu("c-team", "team.box@contoso.com");
    other.mail = Some("Team@contoso.com".into());
    for p in [
        plan(
            &[a.clone()],
            &state(vec![pat.clone(), other.clone()], vec![]),
        ),
        plan_mail(
            &[a.clone()],
            &state(vec![pat.clone(), other.clone()], vec![]),
        ),
    ] {
        let r = &p.rows[0];
        assert_eq!(r.cloud_object_id, "c-pat");
        assert!(
            r.checks
                .iter()
                .any(|c| c.contains("team.box@contoso.com (id c-team)")),
            "{:?}",
            r.checks
        );
    }
}
