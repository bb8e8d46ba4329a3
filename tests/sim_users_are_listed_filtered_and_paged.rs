//! `/v1.0/users` on the simulated tenant: $select, $top, $filter, paging, GET by id/UPN.

mod sim_support;

use hardmatch::sim::{SimConfig, TenantState};
use sim_support::*;
use std::collections::HashSet;

fn state() -> TenantState {
    let mut users = many_users(5);
    users.push(user(
        "aaaaaaaa-0000-4000-8000-000000000001",
        "$dollar@contoso.com",
        Some("2/9JCtHr0EmH+hL07o11vA=="),
    ));
    users.push(user(
        "aaaaaaaa-0000-4000-8000-000000000002",
        "ann_contoso.com#EXT#@contoso.onmicrosoft.com",
        None,
    ));
    TenantState {
        users,
        ..Default::default()
    }
}

fn no_throttle() -> SimConfig {
    let mut c = SimConfig::default();
    c.throttle.enabled = false;
    c
}

#[tokio::test]
async fn select_returns_only_selected_properties_and_immutable_id_only_on_select() {
    let env = Env::start(no_throttle(), state()).await;
    let (s, h, v) = env.get("/users").await;
    assert_eq!(s, 200);
    assert!(
        h.contains_key("request-id")
            && h.contains_key("x-ms-ags-diagnostic")
            && h.contains_key("date")
    );
    let first = &v["value"][0];
    assert!(
        first.get("onPremisesImmutableId").is_none(),
        "not in the default set: {first}"
    );
    assert!(first.get("businessPhones").is_some() && first.get("userPrincipalName").is_some());
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/v1.0/$metadata#users"));

    let (s, _, v) = env.get("/users?$select=id,onPremisesImmutableId&$filter=startsWith(userPrincipalName,'$dollar')").await;
    assert_eq!(s, 200);
    let u = &v["value"][0];
    assert_eq!(u.as_object().unwrap().len(), 2, "{u}");
    assert_eq!(u["onPremisesImmutableId"], "2/9JCtHr0EmH+hL07o11vA==");

    let (s, _, v) = env.get("/users?$select=id,nonsense").await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn top_bounds_are_enforced() {
    let env = Env::start(no_throttle(), state()).await;
    let (s, _, v) = env.get("/users?$top=2").await;
    assert_eq!(s, 200);
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    assert!(v["@odata.nextLink"].is_string());
    assert_eq!(env.get("/users?$top=1000").await.0, 400);
    assert_eq!(env.get("/users?$top=0").await.0, 400);
    assert_eq!(env.get("/users?$top=999").await.0, 200);
}

#[tokio::test]
async fn filter_supports_eq_in_startswith_any_and_decodes_plus_correctly() {
    let env = Env::start(no_throttle(), state()).await;
    // %2B is a plus; the client percent-encodes the whole filter.
    let (s, _, v) = env
        .get("/users?$filter=onPremisesImmutableId%20eq%20'2%2F9JCtHr0EmH%2BhL07o11vA%3D%3D'&$select=id")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"][0]["id"], "aaaaaaaa-0000-4000-8000-000000000001");
    // A literal + in a query string is a space, so this must not match.
    let (_, _, v) = env
        .get("/users?$filter=onPremisesImmutableId eq '2/9JCtHr0EmH+hL07o11vA=='")
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 0);

    let (_, _, v) = env
        .get("/users?$filter=onPremisesImmutableId in ('x', '2%2F9JCtHr0EmH%2BhL07o11vA%3D%3D')&$select=id")
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let (_, _, v) = env
        .get("/users?$filter=userPrincipalName eq 'USER3@contoso.com'")
        .await;
    assert_eq!(v["value"][0]["userPrincipalName"], "user3@contoso.com");
    let (_, _, v) = env
        .get("/users?$filter=proxyAddresses/any(p:p eq 'smtp:user2@contoso.com')")
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let (_, _, v) = env.get("/users?$filter=startsWith(userPrincipalName,'user') and (id eq 'x' or displayName eq 'user4')").await;
    assert_eq!(v["value"][0]["displayName"], "user4");
}

#[tokio::test]
async fn unsupported_filters_get_request_unsupported_query() {
    let env = Env::start(no_throttle(), state()).await;
    for (f, prop) in [
        ("onPremisesImmutableId eq null", "onPremisesImmutableId"),
        (
            "startsWith(onPremisesImmutableId,'x')",
            "onPremisesImmutableId",
        ),
    ] {
        let (s, _, v) = env.get(&format!("/users?$filter={f}")).await;
        assert_eq!(s, 400, "{f}");
        assert_eq!(error_code(&v), "Request_UnsupportedQuery");
        assert_eq!(
            error_message(&v),
            format!("Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'.")
        );
        assert!(v["error"]["innerError"]["request-id"].is_string());
    }
    // Advanced-only operators name the operator (aad-advanced-queries.md).
    for (f, op) in [
        ("userPrincipalName ne 'x'", "ne"),
        ("endsWith(mail,'@contoso.com')", "endsWith"),
        ("not(displayName eq 'x')", "not"),
    ] {
        let (s, _, v) = env.get(&format!("/users?$filter={f}")).await;
        assert_eq!(
            (s, error_code(&v)),
            (400, "Request_UnsupportedQuery"),
            "{f}"
        );
        assert!(
            error_message(&v).starts_with(&format!("Operator '{op}' is not supported because the required parameters might be missing.")),
            "{v}"
        );
    }
    let values = |n: usize| {
        (0..n)
            .map(|i| format!("'v{i}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (s, _, _) = env
        .get(&format!(
            "/users?$filter=onPremisesImmutableId in ({})",
            values(15)
        ))
        .await;
    assert_eq!(s, 200, "15 expressions are allowed");
    let (s, _, v) = env
        .get(&format!(
            "/users?$filter=onPremisesImmutableId in ({})",
            values(16)
        ))
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (400, "Request_UnsupportedQuery"),
        "documented limit of 15 expressions"
    );
    // Without ConsistencyLevel, $count=true is ignored silently (aad-advanced-queries.md).
    let (s, _, v) = env.get("/users?$count=true").await;
    assert_eq!(s, 200, "{v}");
    assert!(v.get("@odata.count").is_none(), "{v}");
}

#[tokio::test]
async fn paging_returns_every_user_exactly_once_even_while_users_change() {
    let mut config = no_throttle();
    config.request_log_capacity = 10;
    let env = Env::start(
        config,
        TenantState {
            users: many_users(2_345),
            ..Default::default()
        },
    )
    .await;
    let mut seen = HashSet::new();
    let mut url = env.url("/users?$select=id,userPrincipalName&$top=999");
    let mut pages = 0;
    loop {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        for u in v["value"].as_array().unwrap() {
            assert_eq!(u.as_object().unwrap().len(), 2);
            assert!(
                seen.insert(u["id"].as_str().unwrap().to_string()),
                "duplicate {u}"
            );
        }
        if pages == 1 {
            // A user created mid-listing must not shift the pages already served.
            let (s, _, _) = env
                .send(
                    "POST",
                    "/users",
                    Some(serde_json::json!({"accountEnabled": true, "displayName": "late", "mailNickname": "late",
                        "userPrincipalName": "late@contoso.com", "passwordProfile": {"password": "x-Y-z-123456"}})),
                )
                .await;
            assert_eq!(s, 201);
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.contains("$skiptoken="), "{next}");
                assert!(next.starts_with(&env.sim.base_url()));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    for i in 0..2_345 {
        assert!(
            seen.contains(&format!("00000000-0000-4000-8000-{i:012}")),
            "user {i} missing"
        );
    }
}

#[tokio::test]
async fn users_are_found_by_id_upn_and_the_dollar_form() {
    let env = Env::start(no_throttle(), state()).await;
    let id = "00000000-0000-4000-8000-000000000001";
    let (s, _, v) = env.get(&format!("/users/{id}")).await;
    assert_eq!((s, v["id"].as_str()), (200, Some(id)));
    let (s, _, v) = env
        .get("/users/USER1@Contoso.com?$select=id,onPremisesImmutableId")
        .await;
    assert_eq!((s, v["id"].as_str()), (200, Some(id)));
    assert!(v["onPremisesImmutableId"].is_null());
    let (s, _, v) = env.get("/users('$dollar@contoso.com')").await;
    assert_eq!(
        (s, v["userPrincipalName"].as_str()),
        (200, Some("$dollar@contoso.com"))
    );
    let (s, _, _) = env.get("/users/$dollar@contoso.com").await;
    assert_eq!(s, 400, "a leading $ needs the ('…') form");
    let (s, _, v) = env
        .get("/users/ann_contoso.com%23EXT%23@contoso.onmicrosoft.com")
        .await;
    assert_eq!(
        (s, v["id"].as_str()),
        (200, Some("aaaaaaaa-0000-4000-8000-000000000002"))
    );
    assert_eq!(
        env.get("/users%C3%A9x").await.0,
        400,
        "odd segments are a 400, not a crash"
    );
    assert_eq!(env.get("/users/j%C3%B6@contoso.com").await.0, 404);
    let (s, _, v) = env.get("/users/68be84bf-a585-4776-80b3-30aa5207aa22").await;
    assert_eq!(s, 404);
    assert_eq!(error_code(&v), "Request_ResourceNotFound");
    assert_eq!(
        error_message(&v),
        "Resource '68be84bf-a585-4776-80b3-30aa5207aa22' does not exist or one of its queried reference-property objects are not present."
    );
}

#[tokio::test]
async fn client_request_id_is_echoed_or_generated() {
    let env = Env::start(no_throttle(), state()).await;
    let sent = "9b2f3c1e-0000-4000-8000-00000000c0de";
    let r = env
        .http
        .get(env.url("/users/nobody"))
        .bearer_auth(&env.token)
        .header("client-request-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["client-request-id"], sent);
    let request_id = r.headers()["request-id"].to_str().unwrap().to_string();
    let (_, _, v) = split(r).await;
    assert_eq!(v["error"]["innerError"]["client-request-id"], sent);
    assert_eq!(v["error"]["innerError"]["request-id"], request_id.as_str());
    let (_, h, _) = env.get("/users").await;
    let generated = h["client-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok());
    let logged = env.sim.requests();
    assert!(logged
        .iter()
        .any(|r| r.client_request_id.as_deref() == Some(sent)
            && r.status == 404
            && r.request_id == request_id));
}

#[tokio::test]
async fn starts_with_upn_pages_cover_the_prefix_exactly_once_while_users_change() {
    // UPNs whose case and id order disagree with their UPN order.
    let mut users = many_users(30);
    for (i, u) in users.iter_mut().enumerate() {
        let upn = format!("{}{i:02}@contoso.com", if i % 2 == 0 { "Ab" } else { "aB" });
        u.user_principal_name = Some(upn);
    }
    users.push(user("zz-1", "abz@contoso.com", None));
    users.push(user("zz-2", "b@contoso.com", None));
    let env = Env::start(
        no_throttle(),
        TenantState {
            users,
            ..Default::default()
        },
    )
    .await;
    let mut seen = Vec::new();
    let mut url = env.url(
        "/users?$select=id,userPrincipalName&$top=4&$filter=startsWith(userPrincipalName,'AB')",
    );
    let mut pages = 0;
    loop {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        for u in v["value"].as_array().unwrap() {
            seen.push(u["userPrincipalName"].as_str().unwrap().to_string());
        }
        if pages == 2 {
            // Created behind and ahead of the position reached: paging neither repeats nor skips.
            for upn in ["ab00a@contoso.com", "abzz@contoso.com"] {
                let (s, _, _) = env
                    .send(
                        "POST",
                        "/users",
                        Some(serde_json::json!({"accountEnabled": true, "displayName": "n", "mailNickname": "n",
                            "userPrincipalName": upn, "passwordProfile": {"password": "x-Y-z-123456"}})),
                    )
                    .await;
                assert_eq!(s, 201);
            }
        }
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice: {seen:?}");
    for i in 0..30 {
        let upn = format!("{}{i:02}@contoso.com", if i % 2 == 0 { "Ab" } else { "aB" });
        assert!(seen.contains(&upn), "{upn} missing from {seen:?}");
    }
    assert!(seen.contains(&"abz@contoso.com".to_string()));
    assert!(
        seen.contains(&"abzz@contoso.com".to_string()),
        "created ahead"
    );
    assert!(!seen.contains(&"b@contoso.com".to_string()));
    assert!(pages >= 8, "{pages}");

    // A token from a startsWith listing does not resume another query.
    let (_, v) = env
        .get_abs(&env.url("/users?$top=1&$filter=startsWith(userPrincipalName,'ab')"))
        .await;
    let next = v["@odata.nextLink"].as_str().unwrap();
    let token = next.split("$skiptoken=").nth(1).unwrap();
    let (s, _, v) = env.get(&format!("/users?$skiptoken={token}")).await;
    assert_eq!((s, error_message(&v)), (400, "Invalid skip token."));
}
