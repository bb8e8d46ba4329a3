//! Conformance of the simulated tenant with what Microsoft's own SDKs send, request by request.
//! Each request is written the way the SDK's source builds it (URL template, query encoding,
//! serialiser, headers; the file is cited above each one), and each answer is checked against
//! Graph's documented answer: status, error code, message, headers. CI has no Python or Node SDK,
//! so the requests are replayed here byte for byte instead; the README tells how to run the real
//! SDKs against `sim serve --tls` as well.
//!
//! Sources (read, not vendored):
//! - Python: microsoftgraph/msgraph-sdk-python (Kiota-generated request builders and models),
//!   microsoft/kiota-serialization-json-python, microsoftgraph/msgraph-sdk-python-core (batch).
//! - JavaScript: microsoftgraph/msgraph-sdk-javascript (`@microsoft/microsoft-graph-client` 3.x).

mod sim_support;

use hardmatch::sim::{Faults, SimConfig, TenantState};
use serde_json::{json, Value};
use sim_support::*;

const JO: &str = "c0ffee00-0000-4000-8000-000000000001";
const SYNCED: &str = "c0ffee00-0000-4000-8000-000000000002";
const HOLDER: &str = "c0ffee00-0000-4000-8000-000000000003";
const GONE: &str = "c0ffee00-0000-4000-8000-000000000004";
const HELD: &str = "aGVsZCBieSBob2xkZXI=";

fn tenant() -> TenantState {
    let mut synced = user(SYNCED, "synced@contoso.com", None);
    synced.on_premises_sync_enabled = Some(true);
    let mut users = vec![
        user(JO, "jo@contoso.com", None),
        synced,
        user(HOLDER, "holder@contoso.com", Some(HELD)),
    ];
    for (i, name) in ["Ann", "bob", "Cid", "dee", "Eve"].iter().enumerate() {
        let mut u = user(
            &format!("c0ffee00-0000-4000-8000-1000000000{i:02}"),
            &format!("{}@fabrikam.com", name.to_lowercase()),
            None,
        );
        u.display_name = Some(name.to_string());
        users.push(u);
    }
    TenantState {
        users,
        deleted_users: vec![user(GONE, "gone@contoso.com", Some("Z29uZQ=="))],
        ..Default::default()
    }
}

fn config() -> SimConfig {
    let mut c = SimConfig::default();
    c.throttle.enabled = false;
    c.shuffle_batch_responses = false;
    c
}

/// Sends `method` to `<base>/v1.0<path_and_query>` exactly as given (reqwest only
/// percent-encodes what a browser's `fetch` would), with the SDK's headers and body bytes.
async fn raw(
    env: &Env,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = env
        .http
        .request(m, format!("{}/v1.0{path_and_query}", env.sim.base_url()))
        .bearer_auth(&env.token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    split(req.send().await.unwrap()).await
}

/// Kiota's request headers: every generated builder adds `Accept: application/json`
/// (msgraph-sdk-python: msgraph/generated/users/users_request_builder.py,
/// `request_info.headers.try_add("Accept", "application/json")`); msgraph-core's telemetry
/// middleware adds `client-request-id` (msgraph-sdk-python-core:
/// src/msgraph_core/middleware/telemetry.py).
const KIOTA_GET: &[(&str, &str)] = &[
    ("Accept", "application/json"),
    ("client-request-id", "5a1c0de5-0000-4000-8000-00000000c11e"),
];
const KIOTA_WRITE: &[(&str, &str)] = &[
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
];

fn assert_graph_headers(h: &reqwest::header::HeaderMap) {
    for name in ["request-id", "client-request-id", "date"] {
        assert!(h.contains_key(name), "{name} missing: {h:?}");
    }
}

fn assert_graph_error(status: u16, v: &Value, want_status: u16, code: &str) {
    assert_eq!((status, error_code(v)), (want_status, code), "{v}");
    let inner = &v["error"]["innerError"];
    assert!(
        inner["request-id"].is_string()
            && inner["client-request-id"].is_string()
            && inner["date"].is_string(),
        "Graph's error shape: {v}"
    );
}

// ---------------------------------------------------------------------------------------------
// Listing users, with paging

#[tokio::test]
async fn kiota_lists_users_with_select_filter_top_and_follows_next_links() {
    let env = Env::start(config(), tenant()).await;
    // msgraph-sdk-python msgraph/generated/users/users_request_builder.py: template
    // "{+baseurl}/users{?%24count,%24expand,%24filter,%24orderby,%24search,%24select,%24top}";
    // std-uritemplate writes the names as `$select` or `%24select` and percent-encodes the
    // values (`(` `,` `'` → %28 %2C %27); `select` is a list joined with a bare comma.
    for (pq, n) in [
        ("/users?%24select=id,userPrincipalName&%24top=3", 8),
        (
            "/users?$filter=startsWith%28userPrincipalName%2C%27jo%27%29&$select=id,userPrincipalName,onPremisesImmutableId&$top=50",
            1,
        ),
        ("/users/?%24SELECT=id&%24Top=3", 8),
    ] {
        let (s, h, v) = raw(&env, "GET", pq, KIOTA_GET, None).await;
        assert_eq!(s, 200, "{pq}: {v}");
        assert_graph_headers(&h);
        assert_eq!(
            h["client-request-id"], "5a1c0de5-0000-4000-8000-00000000c11e",
            "echoed"
        );
        assert!(h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let mut seen = v["value"].as_array().unwrap().len();
        let mut next = v["@odata.nextLink"].as_str().map(String::from);
        // msgraph-sdk-python: `client.users.with_url(page.odata_next_link).get()` sends the link
        // back unchanged.
        while let Some(link) = next {
            let (s, v) = env.get_abs(&link).await;
            assert_eq!(s, 200, "{v}");
            seen += v["value"].as_array().unwrap().len();
            next = v["@odata.nextLink"].as_str().map(String::from);
        }
        assert_eq!(seen, n, "{pq}");
    }
    let (_, _, v) = raw(
        &env,
        "GET",
        "/users?$select=id,onPremisesImmutableId&$filter=onPremisesImmutableId%20eq%20%27aGVsZCBieSBob2xkZXI%3D%27",
        KIOTA_GET,
        None,
    )
    .await;
    assert_eq!(v["value"][0]["id"], HOLDER, "{v}");
    assert_eq!(
        v["value"][0].as_object().unwrap().len(),
        2,
        "only what $select names"
    );
}

#[tokio::test]
async fn the_javascript_client_lists_with_unencoded_query_values() {
    let env = Env::start(config(), tenant()).await;
    // msgraph-sdk-javascript src/GraphRequest.ts createQueryString(): `property + "=" + value`,
    // values as given to .select()/.filter()/.top() (fetch then encodes the spaces and quotes);
    // src/middleware/TelemetryHandler.ts adds client-request-id and SdkVersion.
    let (s, h, v) = raw(
        &env,
        "GET",
        "/users?$select=id,displayName&$filter=startsWith(userPrincipalName,'ann') or displayName eq 'Eve'&$top=100",
        &[
            ("SdkVersion", "graph-js/3.0.7"),
            ("client-request-id", "js-7"),
            ("Accept", "*/*"),
        ],
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["client-request-id"], "js-7");
    assert_eq!(v["value"].as_array().unwrap().len(), 2, "{v}");
}

// ---------------------------------------------------------------------------------------------
// Getting one user

#[tokio::test]
async fn kiota_gets_a_user_by_id_and_by_upn_in_every_key_form() {
    let env = Env::start(config(), tenant()).await;
    // msgraph-sdk-python msgraph/generated/users/item/user_item_request_builder.py: template
    // "{+baseurl}/users/{user%2Did}{?%24expand,%24select}"; the key is percent-encoded
    // (`@` → %40, `#` → %23).
    for pq in [
        format!("/users/{JO}"),
        "/users/jo%40contoso.com".to_string(),
        "/users/JO@Contoso.com/".to_string(),
        format!("/users('{JO}')"),
        "/users(%27jo%40contoso.com%27)".to_string(),
        format!("/users/{JO}?%24select=id,onPremisesImmutableId,userPrincipalName"),
    ] {
        for accept in [
            "application/json",
            "application/json;odata.metadata=minimal",
            "*/*",
        ] {
            let (s, h, v) = raw(
                &env,
                "GET",
                &pq,
                &[("Accept", accept), ("client-request-id", "k-1")],
                None,
            )
            .await;
            assert_eq!((s, v["id"].as_str()), (200, Some(JO)), "{pq} {accept}: {v}");
            assert_graph_headers(&h);
            assert!(v["@odata.context"]
                .as_str()
                .unwrap()
                .contains("$metadata#users"));
        }
    }
    // Graph's documented 404 for a user that does not exist.
    let (s, h, v) = raw(&env, "GET", "/users/nobody%40contoso.com", KIOTA_GET, None).await;
    assert_graph_error(s, &v, 404, "Request_ResourceNotFound");
    assert_graph_headers(&h);
    assert_eq!(
        error_message(&v),
        "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present."
    );
    // An unknown $select name.
    let (s, _, v) = raw(
        &env,
        "GET",
        &format!("/users/{JO}?$select=nonsense"),
        KIOTA_GET,
        None,
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_BadRequest");
}

// ---------------------------------------------------------------------------------------------
// PATCH, with and without annotations

/// The body msgraph-sdk-python sends for `User(on_premises_immutable_id=value)`:
/// msgraph/generated/models/user.py has `odata_type = "#microsoft.graph.user"` by default and
/// msgraph/generated/models/entity.py `serialize()` writes `"@odata.type"` before the
/// properties; kiota-serialization-json-python kiota_serialization_json/json_serialization_writer.py
/// skips `None` values and `json.dumps` the dict (", " and ": " separators).
fn kiota_user_body(property_json: &str) -> String {
    format!("{{\"@odata.type\": \"#microsoft.graph.user\", {property_json}}}")
}

#[tokio::test]
async fn kiota_patch_with_odata_type_sets_and_clears_the_immutable_id() {
    let env = Env::start(config(), tenant()).await;
    let path = "/users/jo%40contoso.com";
    // user_item_request_builder.py to_patch_request_information(): PATCH, Accept and
    // set_content_from_parsable(..., "application/json", body).
    let (s, h, v) = raw(
        &env,
        "PATCH",
        path,
        KIOTA_WRITE,
        Some(&kiota_user_body(
            "\"onPremisesImmutableId\": \"c2V0IGJ5IGtpb3Rh\"",
        )),
    )
    .await;
    assert_eq!((s, v), (204, Value::Null), "Graph's 204 No Content");
    assert_graph_headers(&h);
    let imm = |env: &Env| {
        env.sim
            .state()
            .users
            .into_iter()
            .find(|u| u.id.as_deref() == Some(JO))
            .unwrap()
            .on_premises_immutable_id
    };
    assert_eq!(imm(&env).as_deref(), Some("c2V0IGJ5IGtpb3Rh"));

    // A body that only carries the annotation changes nothing (absent = leave as is).
    let (s, _, _) = raw(
        &env,
        "PATCH",
        path,
        KIOTA_WRITE,
        Some(&kiota_user_body("\"displayName\": \"Jo\"")),
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        imm(&env).as_deref(),
        Some("c2V0IGJ5IGtpb3Rh"),
        "absent is not null"
    );

    // Clearing: the model drops None, so the SDK's way is additional_data={"onPremisesImmutableId":
    // None}, which json_serialization_writer.py write_any_value() writes as null.
    let (s, _, v) = raw(
        &env,
        "PATCH",
        path,
        KIOTA_WRITE,
        Some(&kiota_user_body("\"onPremisesImmutableId\": null")),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(imm(&env), None);

    // The JavaScript client sends the object as given (src/GraphRequest.ts patch():
    // serializeContent → JSON.stringify, Content-Type application/json), annotations or not.
    for body in [
        r##"{"onPremisesImmutableId":"anMgY2xpZW50"}"##,
        r##"{"@odata.type":"microsoft.graph.user","onPremisesImmutableId@odata.type":"#String","onPremisesImmutableId":"anMgY2xpZW50"}"##,
        r##"{"@odata.type":"#graph.user","@odata.context":"x","@contoso.note":{"a":1},"onPremisesImmutableId":"anMgY2xpZW50"}"##,
    ] {
        let (s, _, v) = raw(
            &env,
            "PATCH",
            &format!("/users/{JO}"),
            &[("Content-Type", "application/json")],
            Some(body),
        )
        .await;
        assert_eq!(s, 204, "{body}: {v}");
        assert_eq!(imm(&env).as_deref(), Some("anMgY2xpZW50"));
    }
}

#[tokio::test]
async fn kiota_patch_errors_are_graphs_real_ones() {
    let env = Env::start(config(), tenant()).await;
    // A synced user: Graph's field-reported 400 (graph-behaviour.md §1).
    let (s, _, v) = raw(
        &env,
        "PATCH",
        "/users/synced%40contoso.com",
        KIOTA_WRITE,
        Some(&kiota_user_body("\"onPremisesImmutableId\": \"c3luY2Vk\"")),
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_BadRequest");
    assert_eq!(
        error_message(&v),
        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."
    );
    // A value another user holds: ObjectConflict / ConflictingObjects → User_<holder>.
    let (s, _, v) = raw(
        &env,
        "PATCH",
        &format!("/users/{JO}"),
        KIOTA_WRITE,
        Some(&kiota_user_body(&format!(
            "\"onPremisesImmutableId\": \"{HELD}\""
        ))),
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_BadRequest");
    assert_eq!(v["error"]["details"][0]["code"], "ObjectConflict");
    assert_eq!(v["error"]["details"][1]["target"], format!("User_{HOLDER}"));
    // A body typed as another entity: OData refuses it, and nothing changes.
    let (s, _, v) = raw(
        &env,
        "PATCH",
        &format!("/users/{JO}"),
        KIOTA_WRITE,
        Some(r##"{"@odata.type": "#microsoft.graph.group", "onPremisesImmutableId": "Z3JvdXA="}"##),
    )
    .await;
    assert_graph_error(s, &v, 400, "BadRequest");
    assert!(
        error_message(&v).contains("not assignable to the expected type"),
        "{v}"
    );
    // A property the type does not have, and a required one cleared.
    for (body, message) in [
        (
            kiota_user_body("\"favouriteColour\": \"blue\""),
            "Invalid property 'favouriteColour'.",
        ),
        (
            kiota_user_body("\"displayName\": null"),
            "Invalid value specified for property 'displayName' of resource 'User'.",
        ),
    ] {
        let (s, _, v) = raw(
            &env,
            "PATCH",
            &format!("/users/{JO}"),
            KIOTA_WRITE,
            Some(&body),
        )
        .await;
        assert_graph_error(s, &v, 400, "Request_BadRequest");
        assert_eq!(error_message(&v), message);
    }
    let st = env.sim.state();
    let jo = st
        .users
        .iter()
        .find(|u| u.id.as_deref() == Some(JO))
        .unwrap();
    assert_eq!(
        (
            jo.on_premises_immutable_id.as_deref(),
            jo.display_name.as_deref()
        ),
        (None, Some("jo"))
    );
}

// ---------------------------------------------------------------------------------------------
// The recycle bin

#[tokio::test]
async fn kiota_lists_gets_restores_and_purges_deleted_users_through_graph_user_casts() {
    let env = Env::start(config(), tenant()).await;
    // msgraph-sdk-python msgraph/generated/directory/deleted_items/graph_user/graph_user_request_builder.py:
    // "{+baseurl}/directory/deletedItems/graph.user{?%24count,…,%24select,%24skip,%24top}".
    for cast in ["graph.user", "microsoft.graph.user", "Microsoft.Graph.User"] {
        let (s, h, v) = raw(
            &env,
            "GET",
            &format!("/directory/deletedItems/{cast}?%24select=id,userPrincipalName,onPremisesImmutableId,deletedDateTime"),
            KIOTA_GET,
            None,
        )
        .await;
        assert_eq!(s, 200, "{cast}: {v}");
        assert_graph_headers(&h);
        assert_eq!(v["value"][0]["id"], GONE);
        assert_eq!(v["value"][0]["onPremisesImmutableId"], "Z29uZQ==");
    }
    // Other casts answer an empty recycle bin (…/graph_group/graph_group_request_builder.py).
    let (s, _, v) = raw(
        &env,
        "GET",
        "/directory/deletedItems/graph.group",
        KIOTA_GET,
        None,
    )
    .await;
    assert_eq!((s, v["value"].as_array().map(Vec::len)), (200, Some(0)));
    // Without a cast Graph refuses (directory-deleteditems-list.md).
    let (s, _, v) = raw(&env, "GET", "/directory/deletedItems", KIOTA_GET, None).await;
    assert_graph_error(s, &v, 400, "Request_BadRequest");

    // …/deleted_items/item/graph_user/graph_user_request_builder.py:
    // "{+baseurl}/directory/deletedItems/{directoryObject%2Did}/graph.user{?%24expand,%24select}";
    // …/deleted_items/item/directory_object_item_request_builder.py: the same without the cast.
    for pq in [
        format!("/directory/deletedItems/{GONE}/graph.user"),
        format!("/directory/deletedItems/{GONE}/microsoft.graph.user?$select=id,deletedDateTime"),
        format!("/directory/deletedItems/{GONE}"),
    ] {
        let (s, _, v) = raw(&env, "GET", &pq, KIOTA_GET, None).await;
        assert_eq!((s, v["id"].as_str()), (200, Some(GONE)), "{pq}: {v}");
        assert_eq!(v["@odata.type"], "#microsoft.graph.user");
    }
    // …/deleted_items/item/restore/restore_request_builder.py: POST without a body.
    let (s, _, v) = raw(
        &env,
        "POST",
        &format!("/directory/deletedItems/{GONE}/restore"),
        &[("Accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(
        (s, v["userPrincipalName"].as_str()),
        (200, Some("gone@contoso.com")),
        "{v}"
    );
    // user_item_request_builder.py to_delete_request_information(), then
    // directory_object_item_request_builder.py DELETE: soft-delete, then purge.
    let (s, _, _) = raw(&env, "DELETE", &format!("/users/{GONE}"), KIOTA_GET, None).await;
    assert_eq!(s, 204);
    let (s, _, _) = raw(
        &env,
        "DELETE",
        &format!("/directory/deletedItems/{GONE}"),
        KIOTA_GET,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, v) = raw(
        &env,
        "GET",
        &format!("/directory/deletedItems/{GONE}/graph.user"),
        KIOTA_GET,
        None,
    )
    .await;
    assert_graph_error(s, &v, 404, "Request_ResourceNotFound");
    assert!(env.sim.state().deleted_users.is_empty());
}

// ---------------------------------------------------------------------------------------------
// $batch

async fn batch(env: &Env, body: Value) -> (u16, Value) {
    let (s, h, v) = raw(env, "POST", "/$batch", KIOTA_WRITE, Some(&body.to_string())).await;
    assert_graph_headers(&h);
    (s, v)
}

fn by_id(v: &Value, id: &str) -> Value {
    v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no response {id}: {v}"))
}

#[tokio::test]
async fn batches_as_the_javascript_client_writes_them_run_item_by_item() {
    let env = Env::start(config(), tenant()).await;
    // msgraph-sdk-javascript src/content/BatchRequestContent.ts getRequestData(): the URL with
    // scheme, host and version removed, header names as `Headers.forEach` gives them
    // (lower case), the body parsed back to JSON.
    let (s, v) = batch(
        &env,
        json!({"requests": [
            {"id": "1", "method": "PATCH", "url": format!("/users/{JO}"),
             "headers": {"content-type": "application/json"},
             "body": {"@odata.type": "#microsoft.graph.user", "onPremisesImmutableId": "YmF0Y2g="}},
            {"id": "2", "method": "GET", "url": format!("users/{JO}?$select=id,onPremisesImmutableId"),
             "dependsOn": ["1"]},
            {"id": "3", "method": "PATCH", "url": format!("/users/{SYNCED}"),
             "headers": {"Content-Type": "application/json"}, "body": {"onPremisesImmutableId": "eA=="},
             "dependsOn": ["2"]},
            {"id": "4", "method": "GET", "url": "/users/nobody@contoso.com", "dependsOn": ["3"]},
            {"id": "5", "method": "GET", "url": "/users/x", "dependsOn": ["4"]},
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(by_id(&v, "1")["status"], 204);
    let two = by_id(&v, "2");
    assert_eq!(two["status"], 200, "{two}");
    assert_eq!(
        two["body"]["onPremisesImmutableId"], "YmF0Y2g=",
        "ran after 1"
    );
    assert!(two["headers"]["Content-Type"].is_string(), "{two}");
    let three = by_id(&v, "3");
    assert_eq!(three["status"], 400);
    assert_eq!(three["body"]["error"]["code"], "Request_BadRequest");
    // "If an individual request fails, any request that depends on that request fails with
    // status code 424", down the chain (json-batching.md).
    assert_eq!(by_id(&v, "4")["status"], 424);
    assert_eq!(by_id(&v, "5")["status"], 424);

    // 3.0.7's regex keeps the version when it strips the host (msgraph-sdk-javascript#1178):
    // Graph answers that item "Resource not found for the segment 'v1.0'", and so does the sim.
    let (s, v) = batch(
        &env,
        json!({"requests": [{"id": "1", "method": "GET", "url": format!("/v1.0/users/{JO}")}]}),
    )
    .await;
    assert_eq!(s, 200);
    let one = by_id(&v, "1");
    assert_eq!(one["status"], 400);
    assert_eq!(
        one["body"]["error"]["message"],
        "Resource not found for the segment 'v1.0'."
    );
}

#[tokio::test]
async fn batches_graph_refuses_are_refused_whole() {
    let env = Env::start(config(), tenant()).await;
    let patch = |id: &str, url: &str| {
        json!({"id": id, "method": "PATCH", "url": url,
               "headers": {"Content-Type": "application/json"},
               "body": {"onPremisesImmutableId": "cmVmdXNlZA=="}})
    };
    let absolute = format!("{}/v1.0/users/{JO}", env.sim.base_url());
    let cases = [
        // msgraph-sdk-python-core src/msgraph_core/requests/batch_request_item.py __init__():
        // `self.url = request_information.url` — the absolute URL, which Graph refuses
        // (microsoft-graph-docs-contrib#8576, msgraph-sdk-python#1015).
        (
            json!({"requests": [patch("1", &absolute), {"id": "2", "method": "GET", "url": "/users"}]}),
            "Invalid batch payload format.",
        ),
        (
            json!({"requests": [patch("1", &format!("https://graph.microsoft.com/v1.0/users/{JO}"))]}),
            "Invalid batch payload format.",
        ),
        (
            json!({"requests": (0..21).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users"})).collect::<Vec<_>>()}),
            "Number of batch steps exceeds the maximum of 20.",
        ),
        (
            json!({"requests": [patch("1", &format!("/users/{JO}")), patch("1", &format!("/users/{SYNCED}"))]}),
            "Batch request contains a duplicate request id '1'.",
        ),
        (
            json!({"requests": [{"id": "1", "method": "PATCH", "url": format!("/users/{JO}"),
                                 "body": {"onPremisesImmutableId": "cmVmdXNlZA=="}}]}),
            "Write request with id '1' does not contain a Content-Type header.",
        ),
        (
            json!({"requests": [{"id": "7", "method": "POST", "url": format!("/directory/deletedItems/{GONE}/restore")}]}),
            "Write request id : 7 does not contain Content-Type header or body.",
        ),
        (json!({"requests": []}), "Invalid batch payload format."),
        (json!({"value": 1}), "Invalid batch payload format."),
    ];
    for (body, message) in cases {
        let (s, v) = batch(&env, body.clone()).await;
        assert_graph_error(s, &v, 400, "BadRequest");
        assert_eq!(error_message(&v), message, "{body}");
    }
    let st = env.sim.state();
    assert!(
        st.users
            .iter()
            .all(|u| u.on_premises_immutable_id.as_deref() != Some("cmVmdXNlZA==")),
        "nothing in a refused batch ran"
    );
    assert_eq!(st.deleted_users.len(), 1);
}

#[tokio::test]
async fn a_throttled_batch_item_carries_its_own_retry_after() {
    let env = Env::start(config(), tenant()).await;
    env.sim.set_faults(Faults {
        p429: 1.0,
        retry_after_secs: 3.0,
        // The items, not the envelope (which draws faults too by default).
        on_batch_envelope: false,
        ..Faults::default()
    });
    let (s, v) = batch(
        &env,
        json!({"requests": [{"id": "1", "method": "GET", "url": format!("/users/{JO}")}]}),
    )
    .await;
    // throttling.md: the batch succeeds with 200; the item is a 429 with retry-after in its
    // headers.
    assert_eq!(s, 200, "{v}");
    let one = by_id(&v, "1");
    assert_eq!(one["status"], 429);
    assert_eq!(one["headers"]["Retry-After"], "3");
    assert_eq!(one["body"]["error"]["code"], "TooManyRequests");
}

// ---------------------------------------------------------------------------------------------
// Advanced queries (Get-MgUser -ConsistencyLevel eventual -CountVariable c, Kiota `count=True`)

#[tokio::test]
async fn advanced_queries_are_answered_with_consistency_level_and_count_only() {
    let env = Env::start(config(), tenant()).await;
    let eventual = [
        ("Accept", "application/json"),
        ("ConsistencyLevel", "eventual"),
    ];
    // users_request_builder.py maps `count` to %24count and `orderby` to %24orderby; the header
    // is added by the caller (aad-advanced-queries.md's Python snippet).
    let pq = "/users?%24count=true&%24filter=endsWith%28userPrincipalName%2C%27%40fabrikam.com%27%29&%24select=id,displayName&%24top=2";
    let (s, _, v) = raw(&env, "GET", pq, &eventual, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["@odata.count"], 5);
    let (s, _, v) = raw(&env, "GET", pq, KIOTA_GET, None).await;
    assert_graph_error(s, &v, 400, "Request_UnsupportedQuery");
    assert_eq!(
        error_message(&v),
        "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    );
    // The header without $count=true is not enough for an advanced filter.
    let (s, _, v) = raw(
        &env,
        "GET",
        "/users?$filter=userPrincipalName ne 'jo@contoso.com'",
        &eventual,
        None,
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_UnsupportedQuery");
    let (s, _, v) = raw(
        &env,
        "GET",
        "/users?$filter=userPrincipalName ne 'jo@contoso.com'&$count=true",
        &eventual,
        None,
    )
    .await;
    assert_eq!((s, v["@odata.count"].as_u64()), (200, Some(7)), "{v}");
    // "$count=true" without the header is ignored silently (aad-advanced-queries.md).
    let (s, _, v) = raw(&env, "GET", "/users?$count=true&$top=1", KIOTA_GET, None).await;
    assert_eq!(s, 200);
    assert!(v.get("@odata.count").is_none(), "{v}");
    // $search needs the header (documented message).
    let (s, _, v) = raw(
        &env,
        "GET",
        "/users?$search=%22displayName:ann%22",
        KIOTA_GET,
        None,
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_UnsupportedQuery");
    assert!(
        error_message(&v).contains("'ConsistencyLevel: eventual'"),
        "{v}"
    );
    // A property Graph never filters on stays refused, advanced or not.
    let (s, _, v) = raw(
        &env,
        "GET",
        "/users?$filter=onPremisesImmutableId eq null&$count=true",
        &eventual,
        None,
    )
    .await;
    assert_graph_error(s, &v, 400, "Request_UnsupportedQuery");
}

#[tokio::test]
async fn orderby_sorts_pages_and_needs_advanced_parameters_with_a_filter() {
    let env = Env::start(config(), tenant()).await;
    let eventual = [("ConsistencyLevel", "eventual")];
    // Default support for displayName and userPrincipalName (aad-advanced-queries.md).
    let mut names = Vec::new();
    let mut next = Some(format!(
        "{}/v1.0/users?%24orderby=displayName%20desc&%24select=displayName&%24top=3",
        env.sim.base_url()
    ));
    while let Some(url) = next {
        let (s, v) = env.get_abs(&url).await;
        assert_eq!(s, 200, "{v}");
        names.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["displayName"].as_str().unwrap().to_string()),
        );
        next = v["@odata.nextLink"].as_str().map(String::from);
    }
    let mut want = names.clone();
    want.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, want, "case-insensitive, descending, across pages");
    assert_eq!(names.len(), 8);

    for (pq, headers) in [
        // $filter with $orderby needs the advanced parameters…
        (
            "/users?$orderby=displayName&$filter=startsWith(mail,'a')",
            &[][..],
        ),
        (
            "/users?$orderby=displayName&$filter=startsWith(mail,'a')",
            &eventual[..],
        ),
        // …as does createdDateTime, and other properties are not sortable.
        ("/users?$orderby=createdDateTime", &[][..]),
        ("/users?$orderby=mail&$count=true", &eventual[..]),
    ] {
        let (s, _, v) = raw(&env, "GET", pq, headers, None).await;
        assert_graph_error(s, &v, 400, "Request_UnsupportedQuery");
        assert_eq!(
            error_message(&v),
            "Sorting not supported for current query."
        );
    }
    let (s, _, v) = raw(
        &env,
        "GET",
        "/users?$orderby=userPrincipalName&$filter=endsWith(mail,'@fabrikam.com')&$count=true&$select=userPrincipalName",
        &eventual,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["value"][0]["userPrincipalName"], "ann@fabrikam.com");
    assert_eq!(v["@odata.count"], 5);
}

// ---------------------------------------------------------------------------------------------
// Headers on every answer

#[tokio::test]
async fn every_answer_carries_request_id_date_and_the_echoed_client_request_id() {
    let env = Env::start(config(), tenant()).await;
    for (method, pq, body) in [
        ("GET", "/users?$top=1", None),
        ("GET", "/users/nobody", None),
        ("GET", "/nonsense", None),
        ("PATCH", "/users/jo@contoso.com", Some("{not json")),
        ("DELETE", "/directory/deletedItems/nope", None),
        ("POST", "/$batch", Some("[]")),
    ] {
        let (_, h, _) = raw(
            &env,
            method,
            pq,
            &[
                ("client-request-id", "echo-me"),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await;
        assert_graph_headers(&h);
        assert_eq!(h["client-request-id"], "echo-me", "{method} {pq}");
    }
    // Without a token: 401 with the same headers and WWW-Authenticate.
    let r = env
        .http
        .get(format!("{}/v1.0/users", env.sim.base_url()))
        .send()
        .await
        .unwrap();
    let (s, h, v) = split(r).await;
    assert_graph_error(s, &v, 401, "InvalidAuthenticationToken");
    assert_graph_headers(&h);
    assert!(h.contains_key("www-authenticate"));
}
