//! Listing through the client against the simulated tenant: paging across many pages, and the
//! partitioned listing returning exactly the sequential listing, awkward UPNs included.

mod e2e_support;

use e2e_support::*;
use hardmatch::wire::User;
use std::collections::{BTreeSet, HashMap};

fn ids(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.id.clone().unwrap()).collect()
}

/// Every id once: returns the set, failing on duplicates.
fn exactly_once(users: &[User]) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in ids(users) {
        *seen.entry(id).or_default() += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "listed more than once: {dup:?}");
    seen.into_keys().collect()
}

#[tokio::test]
async fn paging_across_three_pages_returns_every_user_once() {
    let sim = start(sim_config(), state(many_users(2_500))).await;
    let client = client(&sim);
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let p = progress.clone();
    let users = client
        .list_users(move |n| p.lock().unwrap().push(n))
        .await
        .unwrap();
    let want: BTreeSet<String> = (0..2_500).map(id_of).collect();
    assert_eq!(exactly_once(&users), want);
    let pages: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v1.0/users"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages[0].path.contains("$top=999"), "{}", pages[0].path);
    assert!(pages[1..].iter().all(|r| r.path.contains("skiptoken")));
    assert_eq!(*progress.lock().unwrap(), [999, 1998, 2500]);
}

#[tokio::test]
async fn paging_small_pages_through_opaque_next_links() {
    // The client's own listing always asks for 999; `send` follows nextLinks of any size.
    let sim = start(sim_config(), state(many_users(230))).await;
    let client = client(&sim);
    let mut next = Some("/users?$select=id&$top=7".to_string());
    let mut users: Vec<User> = Vec::new();
    let mut pages = 0;
    while let Some(url) = next {
        let page: hardmatch::wire::Page<User> = client
            .send(reqwest::Method::GET, &url, None)
            .await
            .unwrap()
            .json()
            .unwrap();
        pages += 1;
        users.extend(page.value);
        next = page.next_link;
    }
    assert_eq!(pages, 33);
    assert_eq!(exactly_once(&users), (0..230).map(id_of).collect());
}

/// Every kind of first character Entra accepts. (Non-ASCII UPNs are refused by Entra and by
/// the simulated tenant; e2e_write_path.rs shows the `$count` cross-check catching one.)
fn awkward_users() -> Vec<User> {
    let upns = [
        "$dollar@contoso.com",
        "$o'x@contoso.com",
        "#hash@contoso.com",
        "o'neil@contoso.com",
        "'quote@contoso.com",
        "UPPER.Case@contoso.com",
        "MiXeD@Contoso.com",
        "007bond@contoso.com",
        "9lives@contoso.com",
        "_under@contoso.com",
        "~tilde@contoso.com",
        "!bang@contoso.com",
        "^caret@contoso.com",
        "-dash@contoso.com",
        "a_b#EXT#@contoso.onmicrosoft.com",
        "USER999999@contoso.com",
    ];
    upns.iter()
        .enumerate()
        .map(|(i, upn)| user(&id_of(900_000 + i), upn, None))
        .collect()
}

#[tokio::test]
async fn partitioned_listing_equals_sequential_listing() {
    // 4,000 `user…` UPNs make the `u` partition larger than the 3 probe pages, so it is split
    // one character deeper (while fewer large partitions remain than workers).
    let mut users = many_users(4_000);
    users.extend(awkward_users());
    let sim = start(sim_config(), state(users)).await;
    let client = client(&sim);
    let sequential = client.list_users(|_| {}).await.unwrap();
    assert_eq!(sequential.len(), 4_000 + awkward_users().len());
    let last = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let l = last.clone();
    let partitioned = client
        .list_users_partitioned(move |n| l.store(n, std::sync::atomic::Ordering::SeqCst))
        .await
        .unwrap();
    let want = exactly_once(&sequential);
    let got = exactly_once(&partitioned);
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(missing.is_empty(), "partitioned listing missed {missing:?}");
    assert_eq!(got, want);
    assert_eq!(partitioned.len(), sequential.len());
    // The split happened: some query went one character deeper than `u`.
    let deeper = sim
        .requests()
        .iter()
        .any(|r| r.path.contains("startsWith") && r.path.contains("%27us"));
    assert!(deeper, "the large partition was split");
    // Users come back whole, not just their ids.
    let by_id: HashMap<_, _> = partitioned
        .iter()
        .map(|u| (u.id.clone().unwrap(), u))
        .collect();
    for u in awkward_users() {
        assert_eq!(
            by_id[u.id.as_ref().unwrap()].user_principal_name,
            u.user_principal_name
        );
    }
}

#[tokio::test]
async fn a_filtered_partitioned_listing_keeps_what_it_is_asked_to_and_still_cross_checks_the_count()
{
    let mut users = many_users(4_000);
    users.extend(awkward_users());
    let sim = start(sim_config(), state(users)).await;
    let client = client(&sim);
    let sequential = client.list_users(|_| {}).await.unwrap();
    let keep = |u: &User| {
        u.user_principal_name
            .as_deref()
            .is_some_and(|n| n.ends_with("7@contoso.com") || !n.starts_with("user"))
    };
    let want: Vec<User> = sequential.iter().filter(|u| keep(u)).cloned().collect();
    assert!(want.len() > 400 && want.len() < sequential.len() / 2);
    sim.clear_requests();
    let got = client
        .list_users_partitioned_where(|_| {}, keep)
        .await
        .unwrap();
    assert_eq!(exactly_once(&got), exactly_once(&want));
    assert_eq!(got.len(), want.len());
    // Every user listed counts against /users/$count, kept or not: no needless re-read.
    let log = sim.requests();
    assert!(log.iter().any(|r| r.path.starts_with("/v1.0/users/$count")));
    assert!(
        !log.iter()
            .any(|r| r.path.starts_with("/v1.0/users?") && !r.path.contains("startsWith")),
        "the count matched: no sequential re-read"
    );
}
