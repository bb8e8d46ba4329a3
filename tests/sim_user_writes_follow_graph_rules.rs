//! PATCH/POST/DELETE on the simulated tenant follow Graph's rules for onPremisesImmutableId,
//! synced users and the recycle bin.

mod sim_support;

use hardmatch::sim::{SimConfig, TenantState, GLOBAL_ADMINISTRATOR, REPORTS_READER};
use hardmatch::wire::{ErrorResponse, RoleAssignment, User};
use serde_json::json;
use sim_support::*;

const ACTIVE: &str = "11111111-0000-4000-8000-000000000001";
const HOLDER: &str = "11111111-0000-4000-8000-000000000002";
const SYNCED: &str = "11111111-0000-4000-8000-000000000003";
const DELETED: &str = "11111111-0000-4000-8000-000000000004";
const IMM_ACTIVE: &str = "2/9JCtHr0EmH+hL07o11vA==";
const IMM_DELETED: &str = "qUbmzjxXZ0eJjWwFmXzz2Q==";

fn state() -> TenantState {
    let mut synced = user(
        SYNCED,
        "synced@contoso.com",
        Some("AAAAAAAAAAAAAAAAAAAAAA=="),
    );
    synced.on_premises_sync_enabled = Some(true);
    TenantState {
        users: vec![
            user(ACTIVE, "target@contoso.com", None),
            user(HOLDER, "holder@contoso.com", Some(IMM_ACTIVE)),
            synced,
        ],
        deleted_users: vec![user(DELETED, "gone@contoso.com", Some(IMM_DELETED))],
        role_assignments: vec![RoleAssignment {
            id: "ra1".into(),
            principal_id: ACTIVE.into(),
            role_definition_id: GLOBAL_ADMINISTRATOR.into(),
            directory_scope_id: Some("/".into()),
        }],
        role_eligibility_schedules: vec![RoleAssignment {
            id: "re1".into(),
            principal_id: HOLDER.into(),
            role_definition_id: REPORTS_READER.into(),
            directory_scope_id: Some("/".into()),
        }],
        ..Default::default()
    }
}

fn config() -> SimConfig {
    let mut c = SimConfig::default();
    c.throttle.enabled = false;
    c
}

fn stored<'a>(s: &'a TenantState, id: &str) -> &'a User {
    s.users
        .iter()
        .chain(&s.deleted_users)
        .find(|u| u.id.as_deref() == Some(id))
        .expect("user")
}

#[tokio::test]
async fn patch_sets_and_null_clears_the_immutable_id() {
    let env = Env::start(config(), state()).await;
    let (s, _, v) = env
        .send(
            "PATCH",
            &format!("/users/{ACTIVE}"),
            Some(json!({"onPremisesImmutableId": "SGVsbG8gV29ybGQhISEhIQ=="})),
        )
        .await;
    assert_eq!((s, v), (204, serde_json::Value::Null));
    assert_eq!(
        stored(&env.sim.state(), ACTIVE)
            .on_premises_immutable_id
            .as_deref(),
        Some("SGVsbG8gV29ybGQhISEhIQ==")
    );
    // By UPN too, and null clears.
    let (s, _, _) = env
        .send(
            "PATCH",
            "/users/TARGET@contoso.com",
            Some(json!({"onPremisesImmutableId": null})),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        stored(&env.sim.state(), ACTIVE).on_premises_immutable_id,
        None
    );
    // Other properties just set.
    let (s, _, _) = env
        .send(
            "PATCH",
            &format!("/users/{ACTIVE}"),
            Some(json!({"displayName": "T", "jobTitle": "Admin"})),
        )
        .await;
    assert_eq!(s, 204);
    let (_, _, v) = env
        .get(&format!("/users/{ACTIVE}?$select=displayName,jobTitle"))
        .await;
    assert_eq!(
        (v["displayName"].as_str(), v["jobTitle"].as_str()),
        (Some("T"), Some("Admin"))
    );
}

#[tokio::test]
async fn conflicts_name_the_active_or_deleted_holder_exactly() {
    let env = Env::start(config(), state()).await;
    for (value, holder) in [(IMM_ACTIVE, HOLDER), (IMM_DELETED, DELETED)] {
        let (s, _, v) = env
            .send(
                "PATCH",
                &format!("/users/{ACTIVE}"),
                Some(json!({"onPremisesImmutableId": value})),
            )
            .await;
        assert_eq!(s, 400);
        let e: ErrorResponse = serde_json::from_value(v.clone()).expect("Graph error shape");
        assert_eq!(e.error.code, "Request_BadRequest");
        let msg =
            "Another object with the same value for property onPremisesImmutableId already exists.";
        assert_eq!(e.error.message, msg);
        assert_eq!(
            v["error"]["details"],
            json!([
                {"code": "ObjectConflict", "message": msg, "target": "onPremisesImmutableId"},
                {"code": "ConflictingObjects", "message": msg, "target": format!("User_{holder}")}
            ])
        );
        let inner = e.error.inner_error.expect("innerError");
        assert!(
            inner.request_id.is_some() && inner.date.is_some() && inner.client_request_id.is_some()
        );
    }
    // Setting the value a user already holds is not a conflict with itself.
    let (s, _, _) = env
        .send(
            "PATCH",
            &format!("/users/{HOLDER}"),
            Some(json!({"onPremisesImmutableId": IMM_ACTIVE})),
        )
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn synced_users_read_only_properties_and_bad_values_are_refused() {
    let env = Env::start(config(), state()).await;
    let (s, _, v) = env
        .send(
            "PATCH",
            &format!("/users/{SYNCED}"),
            Some(json!({"onPremisesImmutableId": "SGVsbG8gV29ybGQhISEhIQ=="})),
        )
        .await;
    assert_eq!((s, error_code(&v)), (400, "Request_BadRequest"));
    assert_eq!(
        error_message(&v),
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
    );
    let (s, _, v) = env
        .send(
            "PATCH",
            &format!("/users/{ACTIVE}"),
            Some(json!({"onPremisesSyncEnabled": false})),
        )
        .await;
    assert_eq!(
        (s, error_message(&v)),
        (
            400,
            "Property 'onPremisesSyncEnabled' is read-only and cannot be set."
        )
    );
    for bad in ["abc$def", "abc_def", ""] {
        let (s, _, v) = env
            .send(
                "PATCH",
                &format!("/users/{ACTIVE}"),
                Some(json!({"onPremisesImmutableId": bad})),
            )
            .await;
        assert_eq!((s, error_code(&v)), (400, "Request_BadRequest"), "{bad:?}");
    }
    assert_eq!(
        stored(&env.sim.state(), ACTIVE).on_premises_immutable_id,
        None,
        "nothing was written"
    );
    let (s, _, v) = env
        .send(
            "PATCH",
            &format!("/users/{DELETED}"),
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (404, "Request_ResourceNotFound"),
        "deleted users cannot be patched"
    );
}

#[tokio::test]
async fn deleted_items_list_purge_frees_the_id_and_restore_unmangles_the_upn() {
    let env = Env::start(config(), state()).await;
    let (s, _, v) = env.get("/directory/deletedItems").await;
    assert_eq!(s, 400, "{v}");
    let (s, _, v) = env
        .get("/directory/deletedItems/microsoft.graph.user?$select=id,userPrincipalName,onPremisesImmutableId,deletedDateTime&$top=999")
        .await;
    assert_eq!(s, 200);
    let d = &v["value"][0];
    assert_eq!(
        d["userPrincipalName"],
        "11111111000040008000000000000004gone@contoso.com"
    );
    assert_eq!(d["onPremisesImmutableId"], IMM_DELETED);
    assert!(d["deletedDateTime"].is_string());

    // Soft-delete an active user, then restore it under its original UPN.
    assert_eq!(
        env.send("DELETE", &format!("/users/{HOLDER}"), None)
            .await
            .0,
        204
    );
    assert_eq!(env.get(&format!("/users/{HOLDER}")).await.0, 404);
    let (s, _, v) = env
        .send(
            "POST",
            &format!("/directory/deletedItems/{HOLDER}/restore"),
            None,
        )
        .await;
    assert_eq!(
        (s, v["userPrincipalName"].as_str()),
        (200, Some("holder@contoso.com"))
    );

    // Purge the deleted holder: its ImmutableId becomes free.
    assert_eq!(
        env.send(
            "DELETE",
            &format!("/directory/deletedItems/{DELETED}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.send(
            "DELETE",
            &format!("/directory/deletedItems/{DELETED}"),
            None
        )
        .await
        .0,
        404
    );
    let (s, _, _) = env
        .send(
            "PATCH",
            &format!("/users/{ACTIVE}"),
            Some(json!({"onPremisesImmutableId": IMM_DELETED})),
        )
        .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn restore_refuses_a_taken_upn() {
    let env = Env::start(config(), state()).await;
    let (s, _, _) = env
        .send("POST", "/users", Some(json!({"accountEnabled": true, "displayName": "g", "mailNickname": "g",
            "userPrincipalName": "gone@contoso.com", "passwordProfile": {"password": "Pa55-word-long"}})))
        .await;
    assert_eq!(s, 201);
    let (s, _, v) = env
        .send(
            "POST",
            &format!("/directory/deletedItems/{DELETED}/restore"),
            None,
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["details"][0]["target"], "userPrincipalName");
}

#[tokio::test]
async fn create_requires_graphs_properties_and_unique_upn() {
    let env = Env::start(config(), state()).await;
    let full = json!({"accountEnabled": true, "displayName": "New", "mailNickname": "new",
        "userPrincipalName": "new@contoso.com", "passwordProfile": {"password": "Pa55-word-long"},
        "onPremisesImmutableId": "bmV3IHVzZXIgYW5jaG9yIQ=="});
    for missing in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
        "passwordProfile",
    ] {
        let mut b = full.clone();
        b.as_object_mut().unwrap().remove(missing);
        let (s, _, v) = env.send("POST", "/users", Some(b)).await;
        assert_eq!(
            (s, error_code(&v)),
            (400, "Request_BadRequest"),
            "{missing}"
        );
    }
    let (s, h, v) = env.send("POST", "/users", Some(full.clone())).await;
    assert_eq!(s, 201, "{v}");
    assert!(h.contains_key("location"));
    let id = v["id"].as_str().unwrap().to_string();
    let st = env.sim.state();
    let u = stored(&st, &id);
    assert_eq!(
        u.on_premises_immutable_id.as_deref(),
        Some("bmV3IHVzZXIgYW5jaG9yIQ==")
    );
    assert!(
        !serde_json::to_string(&st)
            .unwrap()
            .contains("Pa55-word-long"),
        "passwords are not stored"
    );
    let (s, _, v) = env.send("POST", "/users", Some(full)).await;
    assert_eq!(s, 400);
    assert_eq!(
        error_message(&v),
        "Another object with the same value for property userPrincipalName already exists."
    );
    assert_eq!(
        v["error"]["details"],
        json!([{"code": "ObjectConflict", "message": error_message(&v), "target": "userPrincipalName"}])
    );
}

#[tokio::test]
async fn roles_and_sync_features_are_readable() {
    let env = Env::start(config(), state()).await;
    let (s, _, v) = env.get("/roleManagement/directory/roleDefinitions").await;
    assert_eq!(s, 200);
    let ga = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == GLOBAL_ADMINISTRATOR)
        .unwrap();
    assert_eq!(
        (ga["displayName"].as_str(), ga["isPrivileged"].as_bool()),
        (Some("Global Administrator"), Some(true))
    );
    let (_, _, v) = env
        .get(&format!(
            "/roleManagement/directory/roleAssignments?$filter=principalId eq '{ACTIVE}'"
        ))
        .await;
    let a: Vec<RoleAssignment> = serde_json::from_value(v["value"].clone()).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].role_definition_id, GLOBAL_ADMINISTRATOR);
    let (_, _, v) = env
        .get(&format!(
            "/roleManagement/directory/roleAssignments?$filter=principalId eq '{HOLDER}'"
        ))
        .await;
    assert_eq!(v["value"].as_array().unwrap().len(), 0);
    let (_, _, v) = env
        .get(&format!(
            "/roleManagement/directory/roleEligibilitySchedules?$filter=principalId eq '{HOLDER}'"
        ))
        .await;
    assert_eq!(v["value"][0]["roleDefinitionId"], REPORTS_READER);

    env.sim.update_state(|s| {
        s.on_premises_synchronization
            .block_cloud_object_takeover_through_hard_match_enabled = true
    });
    let (s, _, v) = env.get("/directory/onPremisesSynchronization").await;
    assert_eq!(s, 200);
    let f = &v["value"][0]["features"];
    assert_eq!(f["blockCloudObjectTakeoverThroughHardMatchEnabled"], true);
    assert_eq!(f["blockSoftMatchEnabled"], false);
}
