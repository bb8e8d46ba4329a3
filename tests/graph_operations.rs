//! The operations against a small fake tenant: paging with opaque nextLinks, partitioned listing
//! equal to sequential listing, UPN URL forms, ImmutableId set/clear, the `in` filter's encoding,
//! deleted users, tenant sync features and privileged roles.

mod graph_stub;

use graph_stub::*;
use hardmatch::graph::{partition_prefixes, GraphClient};
use hardmatch::wire::{User, USER_SELECT};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Parses OData string literals from `…('a','b''c')…`.
fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        v.push('\'');
                    }
                    Some('\'') | None => break,
                    Some(c) => v.push(c),
                }
            }
            out.push(v);
        }
    }
    out
}

fn upns() -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for (i, first) in "abcdefghijklmnopqrstuvwxyzABCZ0123456789_'-!#^~$"
        .chars()
        .enumerate()
    {
        for k in 0..(1 + i % 4) {
            v.push(format!("{first}user{i}.{k}@contoso.com"));
        }
    }
    v.push("aaa#EXT#@contoso.onmicrosoft.com".into());
    v
}

struct Tenant {
    users: Vec<Value>,
    cursors: Mutex<HashMap<String, (Vec<Value>, usize)>>,
    next_cursor: AtomicUsize,
}

const PAGE: usize = 7;

impl Tenant {
    fn page(&self, all: Vec<Value>, from: usize, base: &str) -> Value {
        let end = (from + PAGE).min(all.len());
        let slice = all[from..end].to_vec();
        let next = (end < all.len()).then(|| {
            let token = format!(
                "tok{}x{}",
                self.next_cursor.fetch_add(1, Ordering::SeqCst),
                end * 31
            );
            self.cursors
                .lock()
                .unwrap()
                .insert(token.clone(), (all, end));
            format!("{base}/v1.0/users?$skiptoken={token}")
        });
        page(&slice, next)
    }
}

async fn tenant() -> (Stub, Arc<Tenant>) {
    tenant_with(upns()).await
}

async fn tenant_with(upns: Vec<String>) -> (Stub, Arc<Tenant>) {
    let users: Vec<Value> = upns
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"id": format!("id-{i:04}"), "userPrincipalName": u, "onPremisesImmutableId": format!("imm{i}+/=")}))
        .collect();
    let t = Arc::new(Tenant {
        users,
        cursors: Mutex::default(),
        next_cursor: AtomicUsize::new(0),
    });
    let t2 = t.clone();
    let base: Arc<Mutex<String>> = Arc::default();
    let b2 = base.clone();
    let stub = serve(move |r| {
        if r.is_login() {
            return None;
        }
        let base = b2.lock().unwrap().clone();
        if r.path() == "/v1.0/users" && r.method == "GET" {
            if let Some(tok) = r.query("$skiptoken") {
                let (all, from) = t2.cursors.lock().unwrap().get(&tok).cloned().unwrap();
                return Some(Reply::json(200, t2.page(all, from, &base)));
            }
            assert_eq!(r.query("$select").unwrap(), USER_SELECT.join(","));
            assert_eq!(r.query("$top").as_deref(), Some("999"));
            let all: Vec<Value> = match r.query("$filter") {
                None => t2.users.clone(),
                Some(f) if f.starts_with("startsWith(userPrincipalName,") => {
                    let p = literals(&f)[0].to_lowercase();
                    t2.users
                        .iter()
                        .filter(|u| {
                            u["userPrincipalName"]
                                .as_str()
                                .unwrap()
                                .to_lowercase()
                                .starts_with(&p)
                        })
                        .cloned()
                        .collect()
                }
                Some(f) => panic!("unexpected filter {f}"),
            };
            return Some(Reply::json(200, t2.page(all, 0, &base)));
        }
        None
    })
    .await;
    *base.lock().unwrap() = stub.url.clone();
    (stub, t)
}

fn ids(users: &[User]) -> BTreeSet<String> {
    users.iter().map(|u| u.id.clone().unwrap()).collect()
}

#[tokio::test]
async fn listing_follows_opaque_next_links_across_many_pages() {
    let (stub, t) = tenant().await;
    let (client, _) = stub.client();
    let progress = Arc::new(Mutex::new(Vec::new()));
    let p2 = progress.clone();
    let users = client
        .list_users(move |n| p2.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(users.len(), t.users.len());
    assert_eq!(ids(&users).len(), t.users.len());
    let pages = t.users.len().div_ceil(PAGE);
    assert!(pages > 10);
    assert_eq!(stub.graph_requests().len(), pages);
    let progress = progress.lock().unwrap();
    assert_eq!(progress.len(), pages);
    assert_eq!(*progress.last().unwrap(), t.users.len());
    // The nextLink was used verbatim.
    assert!(stub.graph_requests()[1]
        .uri
        .starts_with("/v1.0/users?$skiptoken=tok0x"));
}

#[tokio::test]
async fn partitioned_listing_equals_sequential_listing() {
    let (stub, _) = tenant().await;
    let (mut cfg, _) = stub.config(secret_auth());
    cfg.list_concurrency = 8;
    let client = GraphClient::connect(cfg).unwrap();
    let sequential = client.list_users(|_| {}).await.unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    let partitioned = client
        .list_users_partitioned(move |n| {
            c2.fetch_max(n, Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!(
        partitioned.len(),
        sequential.len(),
        "no duplicates, nothing missing"
    );
    assert_eq!(ids(&partitioned), ids(&sequential));
    assert_eq!(count.load(Ordering::SeqCst), sequential.len());
    // Every prefix was asked once, with quotes doubled and the filter percent-encoded.
    let filters: BTreeSet<String> = stub
        .graph_requests()
        .iter()
        .filter_map(|r| r.query("$filter"))
        .collect();
    assert_eq!(filters.len(), partition_prefixes().len());
    assert!(filters.contains("startsWith(userPrincipalName,'''')"));
    assert!(
        stub.graph_requests()
            .iter()
            .any(|r| r.uri.contains("%27%23%27")),
        "# encoded in the query"
    );
}

#[tokio::test]
async fn partitions_with_a_shared_long_prefix_are_split_and_still_complete() {
    let mut upns: Vec<String> = (0..300)
        .map(|i| format!("user{i:05}@contoso.com"))
        .collect();
    upns.extend(
        [
            "u@contoso.com",
            "us@x.com",
            "user@x.com",
            "USER9@x.com",
            "user00001.b@x.com",
        ]
        .map(String::from),
    );
    let (stub, t) = tenant_with(upns).await;
    let (mut cfg, _) = stub.config(secret_auth());
    cfg.list_concurrency = 8;
    let client = GraphClient::connect(cfg).unwrap();
    let sequential = client.list_users(|_| {}).await.unwrap();
    let partitioned = client.list_users_partitioned(|_| {}).await.unwrap();
    assert_eq!(sequential.len(), t.users.len());
    assert_eq!(partitioned.len(), t.users.len());
    assert_eq!(ids(&partitioned), ids(&sequential));
    let filters: BTreeSet<String> = stub
        .graph_requests()
        .iter()
        .filter_map(|r| r.query("$filter"))
        .collect();
    assert!(
        filters.contains("startsWith(userPrincipalName,'user000')"),
        "split down the shared prefix"
    );
    assert!(
        filters.contains("startsWith(userPrincipalName,'u@')"),
        "a prefix can end the local part"
    );
}

#[tokio::test]
async fn get_user_uses_the_documented_url_forms() {
    let stub = serve(|r| (!r.is_login()).then(|| Reply::json(200, json!({"id": "x"})))).await;
    let (client, _) = stub.client();
    client.get_user("$adele@contoso.com").await.unwrap();
    client
        .get_user("guest_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        .await
        .unwrap();
    client
        .get_user("0f1e2d3c-aaaa-bbbb-cccc-111122223333")
        .await
        .unwrap();
    let uris: Vec<String> = stub
        .graph_requests()
        .iter()
        .map(|r| r.uri.split('?').next().unwrap().to_string())
        .collect();
    assert_eq!(
        uris,
        [
            "/v1.0/users('$adele@contoso.com')",
            "/v1.0/users/guest_fabrikam.com%23EXT%23@contoso.onmicrosoft.com",
            "/v1.0/users/0f1e2d3c-aaaa-bbbb-cccc-111122223333",
        ]
    );
    assert!(stub.graph_requests()[0]
        .query("$select")
        .unwrap()
        .contains("onPremisesImmutableId"));
}

#[tokio::test]
async fn set_and_clear_immutable_id_send_the_value_or_a_literal_null() {
    let stub = serve(|r| (!r.is_login()).then(|| Reply::empty(204))).await;
    let (client, _) = stub.client();
    client
        .set_immutable_id("u1", Some("2/9JCtHr0EmH+hL07o11vA=="))
        .await
        .unwrap();
    client.set_immutable_id("u1", None).await.unwrap();
    let reqs = stub.graph_requests();
    assert_eq!(reqs[0].method, "PATCH");
    assert_eq!(reqs[0].path(), "/v1.0/users/u1");
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(
        reqs[0].json(),
        json!({"onPremisesImmutableId": "2/9JCtHr0EmH+hL07o11vA=="})
    );
    assert_eq!(reqs[1].body, r#"{"onPremisesImmutableId":null}"#);
}

#[tokio::test]
async fn holders_of_immutable_ids_are_found_with_an_encoded_in_filter() {
    let stub = serve(|r| {
        if r.is_login() {
            return None;
        }
        let responses: Vec<Value> = r.json()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|it| {
                let url = it["url"].as_str().unwrap();
                let req = Req {
                    method: "GET".into(),
                    uri: url.to_string(),
                    headers: HashMap::new(),
                    body: String::new(),
                };
                let f = req.query("$filter").unwrap();
                let vals = literals(&f);
                let users: Vec<Value> = vals
                    .iter()
                    .filter(|v| v.ends_with("7+/="))
                    .map(|v| json!({"id": format!("holder-{v}"), "onPremisesImmutableId": v}))
                    .collect();
                json!({"id": it["id"], "status": 200, "body": {"value": users}})
            })
            .collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (client, _) = stub.client();
    let wanted: Vec<String> = (0..40)
        .map(|i| format!("v{i}+/="))
        .chain(["o'brien".to_string()])
        .collect();
    let found = client.find_users_by_immutable_ids(&wanted).await.unwrap();
    let got: BTreeSet<String> = found
        .iter()
        .map(|u| u.on_premises_immutable_id.clone().unwrap())
        .collect();
    assert_eq!(
        got,
        ["v7+/=", "v17+/=", "v27+/=", "v37+/="]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let items: Vec<Value> = stub.graph_requests()[0].json()["requests"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 3, "41 values in chunks of 15");
    let url = items[0]["url"].as_str().unwrap();
    assert!(url.starts_with("/users?"));
    assert!(url.contains("v0%2B%2F%3D") && !url.contains("v0+"), "{url}");
    let last = Req {
        method: "GET".into(),
        uri: items[2]["url"].as_str().unwrap().into(),
        headers: HashMap::new(),
        body: String::new(),
    };
    assert!(last
        .query("$filter")
        .unwrap()
        .ends_with("'v39+/=','o''brien')"));

    client
        .find_deleted_users_by_immutable_ids(&wanted[..2])
        .await
        .unwrap();
    let items = stub.graph_requests()[1].json()["requests"].clone();
    assert!(items[0]["url"]
        .as_str()
        .unwrap()
        .starts_with("/directory/deletedItems/microsoft.graph.user?"));
}

#[tokio::test]
async fn deleted_users_are_listed_purged_and_restored() {
    let stub = serve(|r| {
        if r.is_login() {
            return None;
        }
        Some(match (r.method.as_str(), r.path()) {
            ("GET", "/v1.0/directory/deletedItems/microsoft.graph.user") if r.query("$skiptoken").is_none() => {
                assert!(r.query("$select").unwrap().contains("deletedDateTime"));
                Reply::json(200, page(&[json!({"id": "d1", "deletedDateTime": "2026-11-01T00:00:00Z"})], Some(format!("http://{}/v1.0/directory/deletedItems/microsoft.graph.user?$skiptoken=2", r.header("host").unwrap()))))
            }
            ("GET", _) => Reply::json(200, page(&[json!({"id": "d2"})], None)),
            ("DELETE", "/v1.0/directory/deletedItems/d1") => Reply::empty(204),
            ("POST", "/v1.0/directory/deletedItems/d2/restore") => Reply::json(200, json!({"id": "d2", "userPrincipalName": "x@contoso.com"})),
            ("POST", "/v1.0/users") => Reply::json(201, json!({"id": "new1", "userPrincipalName": r.json()["userPrincipalName"]})),
            _ => Reply::error(400, "Request_BadRequest", "unexpected"),
        })
    })
    .await;
    let (client, _) = stub.client();
    let deleted = client.list_deleted_users(|_| {}).await.unwrap();
    assert_eq!(
        ids(&deleted),
        ["d1", "d2"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(
        deleted[0].deleted_date_time.as_deref(),
        Some("2026-11-01T00:00:00Z")
    );
    client.purge_deleted_user("d1").await.unwrap();
    assert_eq!(
        client
            .restore_deleted_user("d2")
            .await
            .unwrap()
            .id
            .as_deref(),
        Some("d2")
    );
    let new = User {
        user_principal_name: Some("n@contoso.com".into()),
        ..User::default()
    };
    assert_eq!(
        client.create_user(&new).await.unwrap().id.as_deref(),
        Some("new1")
    );
}

#[tokio::test]
async fn tenant_sync_features_are_read() {
    let stub = serve(|r| {
        (!r.is_login()).then(|| {
            assert_eq!(r.path(), "/v1.0/directory/onPremisesSynchronization");
            Reply::json(200, json!({"value": [{"id": "sync1", "features": {
                "blockCloudObjectTakeoverThroughHardMatchEnabled": true, "blockSoftMatchEnabled": false, "passwordSyncEnabled": true}}]}))
        })
    })
    .await;
    let (client, _) = stub.client();
    let f = client.sync_features().await.unwrap().unwrap();
    assert!(f.block_cloud_object_takeover_through_hard_match_enabled);
    assert!(!f.block_soft_match_enabled);
}

#[tokio::test]
async fn privileged_roles_assigned_or_eligible_are_reported_per_user() {
    let stub = serve(|r| {
        if r.is_login() {
            return None;
        }
        if r.path() == "/v1.0/roleManagement/directory/roleDefinitions" {
            assert_eq!(r.query("$select").as_deref(), Some("id,displayName,isPrivileged,templateId"));
            return Some(Reply::json(200, json!({"value": [
                {"id": "r-ga", "displayName": "Global Administrator", "isPrivileged": true, "templateId": "t-ga"},
                {"id": "r-ua", "displayName": "User Administrator", "isPrivileged": true, "templateId": "t-ua"},
                {"id": "r-rd", "displayName": "Directory Readers", "isPrivileged": false, "templateId": "t-rd"}]})));
        }
        let responses: Vec<Value> = r.json()["requests"].as_array().unwrap().iter().map(|it| {
            let url = it["url"].as_str().unwrap();
            let req = Req { method: "GET".into(), uri: url.to_string(), headers: HashMap::new(), body: String::new() };
            let principal = literals(&req.query("$filter").unwrap())[0].clone();
            let eligible = url.contains("roleEligibilitySchedules");
            let assignments: Vec<Value> = match (principal.as_str(), eligible) {
                ("alice", false) => vec![json!({"id": "a1", "principalId": "alice", "roleDefinitionId": "r-ga"}), json!({"id": "a2", "principalId": "alice", "roleDefinitionId": "r-rd"})],
                ("bob", true) => vec![json!({"id": "e1", "principalId": "bob", "roleDefinitionId": "t-ua"})],
                ("carol", _) => vec![json!({"id": "a3", "principalId": "carol", "roleDefinitionId": "r-rd"})],
                _ => vec![],
            };
            json!({"id": it["id"], "status": 200, "body": {"value": assignments}})
        }).collect();
        Some(Reply::json(200, json!({"responses": responses})))
    })
    .await;
    let (client, _) = stub.client();
    let users: Vec<String> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let roles = client.privileged_roles(&users).await.unwrap();
    assert_eq!(roles["alice"], ["Global Administrator"]);
    assert_eq!(roles["bob"], ["User Administrator"]);
    assert!(roles["carol"].is_empty() && roles["dave"].is_empty());
    assert_eq!(
        stub.graph_requests().len(),
        2,
        "definitions once, then one batch of 8"
    );
}
