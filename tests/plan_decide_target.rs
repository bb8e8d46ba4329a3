//! `plan::decide_target`, the entry point `apply` uses to re-decide one row against a fresh read
//! of the tenant, gives exactly what `plan::build` gives for every row that matched one cloud
//! user, when it is handed only that user and the holders of the row's ImmutableId (found here by
//! a plain scan, as a Graph query would find them, not through plan's index).

use hardmatch::cloud::{CloudState, CloudUser};
use hardmatch::plan::{self, Action, Holders, MatchKeys, PlanOptions, PlanRow};
use hardmatch::sources::{self, AdUser, ReadOptions};
use std::path::Path;

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// The addresses a user is known by, as Entra compares them: mail and SMTP proxy addresses.
fn addresses<'a>(mail: &'a Option<String>, proxies: &'a [String]) -> Vec<String> {
    mail.iter()
        .chain(proxies)
        .map(|a| {
            let a = a.trim();
            a.strip_prefix("smtp:")
                .or_else(|| a.strip_prefix("SMTP:"))
                .unwrap_or(a)
                .to_lowercase()
        })
        .filter(|a| !a.is_empty() && !a.contains(':'))
        .collect()
}

/// Re-decides every row of `plan::build` that matched a single cloud user; returns how many.
/// The inputs are shed as `plan` sheds them for `keys`, so both compare the same addresses.
fn agree_row_by_row(ad: &[AdUser], cloud: &CloudState, keys: MatchKeys) -> usize {
    let mut ad = ad.to_vec();
    let mut cloud = cloud.clone();
    plan::shed_unused_ad(&mut ad, keys);
    plan::shed_unused_cloud(&mut cloud, keys);
    let built = plan::build(&ad, &cloud, &PlanOptions { match_keys: keys });
    let known_by: Vec<Vec<String>> = cloud
        .users
        .iter()
        .map(|c| addresses(&c.mail, &c.proxy_addresses))
        .collect();
    let mut compared = 0;
    for (u, row) in ad.iter().zip(&built.rows) {
        // Ambiguous rows have no single target; DuplicateSource needs every AD row, which is
        // exactly what decide_target does not look at.
        if row.cloud_object_id.is_empty() || row.action == Some(Action::DuplicateSource) {
            continue;
        }
        let target = cloud
            .users
            .iter()
            .find(|c| c.id == row.cloud_object_id)
            .expect("the matched user is an active cloud user");
        let holding = |list: &[CloudUser]| -> Vec<CloudUser> {
            list.iter()
                .filter(|c| c.immutable_id.as_deref() == Some(row.new_immutable_id.as_str()))
                .cloned()
                .collect()
        };
        // Copies, as a fresh read would return them: the target among the holders is recognised
        // by its id, not by being the same object in memory.
        let (active, deleted) = (holding(&cloud.users), holding(&cloud.deleted));
        let active: Vec<&CloudUser> = active.iter().collect();
        let deleted: Vec<&CloudUser> = deleted.iter().collect();
        // Others holding the AD UPN (unless that is how it matched), mail or SMTP addresses.
        let mine = addresses(&u.mail, &u.proxy_addresses);
        let by_upn = row.matched_by == Some(hardmatch::plan::MatchedBy::Upn);
        let others: Vec<CloudUser> = cloud
            .users
            .iter()
            .zip(&known_by)
            .filter(|(c, _)| c.id != target.id)
            .filter(|(c, theirs)| {
                (!by_upn && c.upn.trim().eq_ignore_ascii_case(u.upn.trim()))
                    || theirs.iter().any(|a| mine.contains(a))
            })
            .map(|(c, _)| c.clone())
            .collect();
        let others: Vec<&CloudUser> = others.iter().collect();
        let mut again = plan::decide_target(
            u,
            &target.clone(),
            row.matched_by.expect("matched rows say how"),
            Holders::new(&active, &deleted).with_addresses(&others),
        );
        again.row_id = row.row_id;
        assert_eq!(&again, row, "row {} ({})", row.row_id, row.upn);
        compared += 1;
    }
    compared
}

fn samples() -> (Vec<AdUser>, CloudState) {
    let ad = sources::read_ad_export(&sample("ad-users.csv"), &ReadOptions::default())
        .expect("the sample AD export reads");
    let cloud = hardmatch::cloud::read_cloud_export(&sample("cloud-users.csv"))
        .expect("the sample cloud export reads");
    (ad.users, cloud)
}

#[test]
fn decide_target_agrees_with_build_on_every_matched_sample_row() {
    let (ad, cloud) = samples();
    for keys in [MatchKeys::Upn, MatchKeys::UpnMail] {
        let n = agree_row_by_row(&ad, &cloud, keys);
        // Every sample row except NoCloudUser, Ambiguous and DuplicateSource ones.
        assert!(n >= 15, "{keys:?}: only {n} rows compared");
    }
}

#[test]
fn decide_target_agrees_with_build_on_synthetic_users() {
    let n = 2000;
    let ad = plan::synthetic::ad_users(n);
    let cloud = plan::synthetic::cloud_state(n);
    for keys in [MatchKeys::Upn, MatchKeys::UpnMail] {
        let compared = agree_row_by_row(&ad, &cloud, keys);
        assert!(
            compared > n * 8 / 10,
            "{keys:?}: only {compared} of {n} rows compared"
        );
    }
}

#[test]
fn decide_target_sees_a_holder_that_appeared_after_planning() {
    // Planned as Set; just before apply writes, someone gave another user the same ImmutableId.
    let (ad, cloud) = samples();
    let built = plan::build(&ad, &cloud, &PlanOptions::default());
    let (i, row) = built
        .rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.action == Some(Action::Set) && r.checks.is_empty())
        .expect("a clean Set row");
    let target = cloud
        .users
        .iter()
        .find(|c| c.id == row.cloud_object_id)
        .unwrap();
    let intruder = CloudUser {
        id: "00000000-0000-4000-8000-00000000beef".into(),
        upn: "intruder@fabrikam.com".into(),
        immutable_id: Some(row.new_immutable_id.clone()),
        ..CloudUser::default()
    };
    let again: PlanRow = plan::decide_target(
        &ad[i],
        target,
        row.matched_by.unwrap(),
        Holders::new(&[&intruder, target], &[]),
    );
    assert_eq!(
        again.action,
        Some(Action::ConflictActive),
        "{}",
        again.reason
    );
    assert_eq!(again.holder_object_id, intruder.id);
    assert!(
        again.reason.contains("intruder@fabrikam.com"),
        "{}",
        again.reason
    );
}
