//! Graph's directory resources: `/users`, `/directory/deletedItems`,
//! `/directory/onPremisesSynchronization` and `/roleManagement/directory/*`, with the rules of
//! graph-behaviour.md §1–§4.

use super::filter::{self, Support};
use super::payload;
use super::query::{self, ListQuery, Order};
use super::routes::{graph_error, Headers, Ids, Query, Reply};
use super::state::{self, key, mangle_deleted_upn, unmangle_deleted_upn, Tenant};
use super::{lock, Sim};
use crate::wire::{ErrorDetail, User};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::ops::Bound;

/// `GET /users` without `$select` returns this set (v1.0 default properties).
const DEFAULT_USER_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties `$select` accepts (a subset of microsoft.graph.user; unknown names are a 400).
const USER_PROPERTIES: &[&str] = &[
    "id",
    "accountEnabled",
    "businessPhones",
    "city",
    "companyName",
    "country",
    "createdDateTime",
    "deletedDateTime",
    "department",
    "displayName",
    "employeeId",
    "givenName",
    "jobTitle",
    "mail",
    "mailNickname",
    "mobilePhone",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesObjectIdentifier",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "preferredLanguage",
    "proxyAddresses",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
    "employeeType",
    "postalCode",
    "state",
    "streetAddress",
    "passwordPolicies",
];

/// Settable but never returned.
const WRITE_ONLY: &[&str] = &["passwordProfile"];

/// Graph rejects properties the type does not have.
fn unknown_property(body: &Map<String, Value>, ids: &Ids) -> Option<Reply> {
    body.keys()
        .find(|n| {
            property_name(n).is_none() && !WRITE_ONLY.iter().any(|w| w.eq_ignore_ascii_case(n))
        })
        .map(|n| bad_request(ids, &format!("Invalid property '{n}'.")))
}

/// Never settable by PATCH/POST.
const READ_ONLY: &[&str] = &[
    "id",
    "onPremisesSyncEnabled",
    "deletedDateTime",
    "createdDateTime",
    "onPremisesLastSyncDateTime",
    "onPremisesSecurityIdentifier",
    "onPremisesDomainName",
    "onPremisesObjectIdentifier",
    "proxyAddresses",
];

/// What may still change on a synced user (everything else is mastered on-premises).
const CLOUD_MASTERED: &[&str] = &[
    "usageLocation",
    "preferredLanguage",
    "passwordPolicies",
    "passwordProfile",
];

pub(crate) fn route(
    sim: &Sim,
    method: &str,
    segs: &[String],
    query: &Query,
    headers: &Headers,
    body: Option<Value>,
    ids: &Ids,
) -> Reply {
    // A trailing slash (`/users/`) names the same resource.
    let mut s: Vec<&str> = segs.iter().map(String::as_str).collect();
    if s.len() > 1 && s.last() == Some(&"") {
        s.pop();
    }
    let not_allowed = || {
        graph_error(
            ids,
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
            vec![],
        )
    };
    match s.as_slice() {
        [u] if u.eq_ignore_ascii_case("users") => match method {
            "GET" => list(sim, Collection::Users, query, headers, ids),
            "POST" => create_user(sim, body, ids),
            _ => not_allowed(),
        },
        [u] if u.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("users(")) && u.len() > 7 && u.ends_with(')') => {
            let inner = &u[6..u.len() - 1];
            let k = inner
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .map(|x| x.replace("''", "'"))
                .unwrap_or_else(|| inner.to_string());
            one_user(sim, method, &k, query, body, ids)
        }
        [u, k] if u.eq_ignore_ascii_case("users") => {
            if k.eq_ignore_ascii_case("$count") {
                return count_users(sim, method, headers, ids);
            }
            if k.starts_with('$') {
                // Graph reads a leading `$` as a system segment; the doc says to use /users('$…').
                return segment_not_found(ids, k);
            }
            one_user(sim, method, k, query, body, ids)
        }
        [d, di] if d.eq_ignore_ascii_case("directory") && di.eq_ignore_ascii_case("deletedItems") => graph_error(
            ids,
            400,
            "Request_BadRequest",
            "The OData cast type is a required part of the URI and calling GET /directory/deleteditems without a type is not supported.",
            vec![],
        ),
        [d, di, cast] if d.eq_ignore_ascii_case("directory")
            && di.eq_ignore_ascii_case("deletedItems")
            && cast_to(cast).is_some() =>
        {
            match (method, cast_to(cast)) {
                ("GET", Some("user")) => list(sim, Collection::Deleted, query, headers, ids),
                // The recycle bin holds only users here: other types list as empty.
                ("GET", Some(other)) => Reply::json(
                    200,
                    json!({
                        "@odata.context": format!("{}/v1.0/$metadata#directoryObjects/microsoft.graph.{other}", sim.base_url),
                        "value": []
                    }),
                ),
                _ => not_allowed(),
            }
        }
        [d, di, id, cast] if d.eq_ignore_ascii_case("directory")
            && di.eq_ignore_ascii_case("deletedItems")
            && cast_to(cast).is_some() =>
        {
            match (method, cast_to(cast)) {
                ("GET", Some("user")) => deleted_item(sim, id, query, true, ids),
                ("GET", _) => not_found(ids, id),
                _ => not_allowed(),
            }
        }
        [d, di, id] if d.eq_ignore_ascii_case("directory") && di.eq_ignore_ascii_case("deletedItems") => match method {
            "GET" => deleted_item(sim, id, query, false, ids),
            "DELETE" => {
                let removed = lock(&sim.tenant).remove_deleted(id);
                match removed {
                    Some(_) => {
                        sim.changed();
                        Reply::empty(204)
                    }
                    None => not_found(ids, id),
                }
            }
            _ => not_allowed(),
        },
        [d, di, id, r] if d.eq_ignore_ascii_case("directory")
            && di.eq_ignore_ascii_case("deletedItems")
            && r.eq_ignore_ascii_case("restore") =>
        {
            if method != "POST" {
                return not_allowed();
            }
            restore(sim, id, body, ids)
        }
        [d, o] if d.eq_ignore_ascii_case("directory") && o.eq_ignore_ascii_case("onPremisesSynchronization") => {
            if method != "GET" {
                return not_allowed();
            }
            let t = lock(&sim.tenant);
            Reply::json(
                200,
                json!({
                    "@odata.context": format!("{}/v1.0/$metadata#directory/onPremisesSynchronization", sim.base_url),
                    "value": [sync_object(sim, &t)]
                }),
            )
        }
        [d, o, id] if d.eq_ignore_ascii_case("directory") && o.eq_ignore_ascii_case("onPremisesSynchronization") => {
            if method != "GET" {
                return not_allowed();
            }
            if !id.eq_ignore_ascii_case(&sim.cfg.tenant_id) {
                return not_found(ids, id);
            }
            let t = lock(&sim.tenant);
            let mut v = sync_object(sim, &t);
            v["@odata.context"] = json!(format!(
                "{}/v1.0/$metadata#directory/onPremisesSynchronization/$entity",
                sim.base_url
            ));
            Reply::json(200, v)
        }
        [rm, d, kind] if rm.eq_ignore_ascii_case("roleManagement") && d.eq_ignore_ascii_case("directory") => {
            if method != "GET" {
                return not_allowed();
            }
            roles(sim, kind, query, ids)
        }
        _ => {
            // Graph names the first segment it could not resolve: `v1.0` in `/v1.0/v1.0/users`
            // (a batch URL that kept its version), else the innermost one.
            const ROOTS: &[&str] = &["users", "directory", "roleManagement"];
            let first = s.first().copied().unwrap_or_default();
            let bad = if ROOTS.iter().any(|r| first.eq_ignore_ascii_case(r) || first.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("users("))) {
                s.iter().rev().find(|x| !x.is_empty()).copied().unwrap_or_default()
            } else {
                first
            };
            segment_not_found(ids, bad)
        }
    }
}

/// `GET /users/$count`: needs `ConsistencyLevel: eventual` (an advanced query) and answers the
/// number as `text/plain`.
fn count_users(sim: &Sim, method: &str, headers: &Headers, ids: &Ids) -> Reply {
    if method != "GET" {
        return graph_error(
            ids,
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
            vec![],
        );
    }
    let eventual = headers
        .get("consistencylevel")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"));
    if !eventual {
        return bad_request(ids, "$count is not currently supported.");
    }
    let n = lock(&sim.tenant).users.len();
    Reply::json_bytes(200, n.to_string().into_bytes()).header("Content-Type", "text/plain")
}

/// Graph's answer to a UPN outside Entra's username policy.
fn invalid_upn(ids: &Ids) -> Reply {
    graph_error(
        ids,
        400,
        "Request_BadRequest",
        "Property userPrincipalName is invalid.",
        vec![ErrorDetail {
            code: "InvalidValue".into(),
            target: Some("userPrincipalName".into()),
            ..Default::default()
        }],
    )
}

/// The type a cast segment names: `microsoft.graph.user` and `graph.user` (the namespace alias
/// the SDKs' URL templates use) both give `user`. Only directory-object types are casts here.
fn cast_to(seg: &str) -> Option<&'static str> {
    const TYPES: &[&str] = &[
        "user",
        "group",
        "application",
        "servicePrincipal",
        "device",
        "administrativeUnit",
    ];
    let lower = seg.to_ascii_lowercase();
    let name = lower
        .strip_prefix("microsoft.graph.")
        .or_else(|| lower.strip_prefix("graph."))?;
    TYPES.iter().find(|t| t.eq_ignore_ascii_case(name)).copied()
}

/// `GET /directory/deletedItems/{id}`, or `…/{id}/graph.user` (`cast`), which Graph answers
/// with the cast in its context.
fn deleted_item(sim: &Sim, id: &str, query: &Query, cast: bool, ids: &Ids) -> Reply {
    let t = lock(&sim.tenant);
    let Some(u) = t.deleted.get(&key(id)) else {
        return not_found(ids, id);
    };
    let mut m = match render(u, query.get("$select"), true) {
        Ok(m) => m,
        Err(bad) => return unknown_select(ids, &bad),
    };
    m.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    let ctx = if cast {
        "directoryObjects/microsoft.graph.user/$entity"
    } else {
        "directoryObjects/$entity"
    };
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#{ctx}", sim.base_url)),
    );
    out.extend(m);
    Reply::json(200, Value::Object(out))
}

fn unknown_select(ids: &Ids, bad: &str) -> Reply {
    graph_error(
        ids,
        400,
        "Request_BadRequest",
        &format!("Could not find a property named '{bad}' on type 'microsoft.graph.user'."),
        vec![],
    )
}

fn segment_not_found(ids: &Ids, seg: &str) -> Reply {
    graph_error(
        ids,
        400,
        "BadRequest",
        &format!("Resource not found for the segment '{seg}'."),
        vec![],
    )
}

fn not_found(ids: &Ids, what: &str) -> Reply {
    graph_error(
        ids,
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{what}' does not exist or one of its queried reference-property objects are not present."),
        vec![],
    )
}

fn sync_object(sim: &Sim, t: &Tenant) -> Value {
    json!({
        "id": sim.cfg.tenant_id,
        "configuration": {
            "accidentalDeletionPrevention": {"synchronizationPreventionType": "disabled", "alertThreshold": 500},
            "synchronizationInterval": "PT30M",
            "customerRequestedSynchronizationInterval": null
        },
        "features": t.sync,
    })
}

fn property_name(name: &str) -> Option<&'static str> {
    USER_PROPERTIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(name))
        .copied()
}

/// A user as Graph returns it: the `$select`ed properties (null when unset) or the default set.
/// Unknown `$select` names give `Err(name)`.
fn render(u: &User, select: Option<&str>, deleted: bool) -> Result<Map<String, Value>, String> {
    let full = match serde_json::to_value(u) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut names: Vec<&str> = Vec::new();
    match select {
        Some(sel) if !sel.trim().is_empty() => {
            for n in sel.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                names.push(property_name(n).ok_or_else(|| n.to_string())?);
            }
        }
        _ => {
            names.extend(DEFAULT_USER_PROPERTIES);
            if deleted {
                names.push("deletedDateTime");
            }
        }
    }
    let mut out = Map::new();
    for n in names {
        let v = full.get(n).cloned().unwrap_or_else(|| match n {
            "businessPhones" | "otherMails" | "proxyAddresses" => json!([]),
            _ => Value::Null,
        });
        out.insert(n.to_string(), v);
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Collection {
    Users,
    Deleted,
}

/// Where a page ended: the last id served (pages in id order), or the last (lower-cased UPN,
/// id) served (a `startsWith(userPrincipalName,…)` listing, read in UPN order from the index).
/// Either way paging is stable while users change. With `$orderby`: the last (sort value,
/// id) served, in the order asked for.
#[derive(Clone, Debug, PartialEq)]
enum Resume {
    Id(String),
    Upn(String, String),
    Sorted(Option<String>, String),
}

fn encode_skiptoken(at: &Resume) -> String {
    // Opaque to clients.
    let raw = match at {
        Resume::Id(k) => format!("hm1:{k}"),
        Resume::Upn(upn, k) => format!("hm2:{}:{k}{upn}", k.len()),
        Resume::Sorted(None, k) => format!("hm3:n{k}"),
        Resume::Sorted(Some(v), k) => format!("hm3:v{}:{k}{v}", k.len()),
    };
    format!(
        "RFNwdAI{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn decode_skiptoken(t: &str) -> Option<Resume> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t.strip_prefix("RFNwdAI")?)
        .ok()?;
    let s = String::from_utf8(b).ok()?;
    if let Some(k) = s.strip_prefix("hm1:") {
        return Some(Resume::Id(k.to_string()));
    }
    if let Some(rest) = s.strip_prefix("hm3:") {
        if let Some(k) = rest.strip_prefix('n') {
            return Some(Resume::Sorted(None, k.to_string()));
        }
        let (len, rest) = rest.strip_prefix('v')?.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let (k, v) = (rest.get(..len)?, rest.get(len..)?);
        return Some(Resume::Sorted(Some(v.to_string()), k.to_string()));
    }
    let (len, rest) = s.strip_prefix("hm2:")?.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let (k, upn) = (rest.get(..len)?, rest.get(len..)?);
    Some(Resume::Upn(upn.to_string(), k.to_string()))
}

/// The `$select`ed names (canonical spelling), or the default set; `Err(name)` for the first
/// unknown name. Sorted and deduplicated, the order `serde_json::Map` gives them.
fn selected_names(select: Option<&str>, deleted: bool) -> Result<Vec<&'static str>, String> {
    let mut names: Vec<&'static str> = Vec::new();
    match select {
        Some(sel) if !sel.trim().is_empty() => {
            for n in sel.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                names.push(property_name(n).ok_or_else(|| n.to_string())?);
            }
        }
        _ => {
            names.extend(DEFAULT_USER_PROPERTIES);
            if deleted {
                names.push("deletedDateTime");
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// One listed user, written straight from [`User`]: the same JSON as [`render`] (an `other`
/// entry first, then the typed field, then `[]`/null), without building a `Value` per user.
struct Listed<'a> {
    user: &'a User,
    names: &'a [&'static str],
}

impl serde::Serialize for Listed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        enum V<'a> {
            Str(&'a Option<String>),
            Bool(Option<bool>),
            List(&'a Option<Vec<String>>),
            Json(&'a Value),
            Null,
        }
        let u = self.user;
        let mut m = s.serialize_map(Some(self.names.len()))?;
        for &n in self.names {
            let v = match u.other.get(n) {
                Some(v) => V::Json(v),
                None => match n {
                    "id" => V::Str(&u.id),
                    "userPrincipalName" => V::Str(&u.user_principal_name),
                    "mail" => V::Str(&u.mail),
                    "displayName" => V::Str(&u.display_name),
                    "onPremisesImmutableId" => V::Str(&u.on_premises_immutable_id),
                    "onPremisesObjectIdentifier" => V::Str(&u.on_premises_object_identifier),
                    "deletedDateTime" => V::Str(&u.deleted_date_time),
                    "onPremisesSyncEnabled" => V::Bool(u.on_premises_sync_enabled),
                    "proxyAddresses" => V::List(&u.proxy_addresses),
                    "businessPhones" | "otherMails" => V::List(&None),
                    _ => V::Null,
                },
            };
            match v {
                V::Str(Some(x)) => m.serialize_entry(n, x)?,
                V::Bool(Some(b)) => m.serialize_entry(n, &b)?,
                V::List(Some(l)) => m.serialize_entry(n, l)?,
                V::List(None) => m.serialize_entry(n, &[] as &[String])?,
                V::Json(v) => m.serialize_entry(n, v)?,
                _ => m.serialize_entry(n, &())?,
            }
        }
        m.end()
    }
}

/// A listing page: `@odata.context`, `@odata.count`, `@odata.nextLink`, `value` (the key order
/// of a `serde_json::Map`, so the bytes are what the tenant sent when it built `Value`s).
struct PageOut<'a> {
    context: String,
    count: Option<usize>,
    next_link: Option<String>,
    users: &'a [&'a User],
    names: &'a [&'static str],
}

impl serde::Serialize for PageOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Users<'a>(&'a [&'a User], &'a [&'static str]);
        impl serde::Serialize for Users<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for u in self.0 {
                    seq.serialize_element(&Listed {
                        user: u,
                        names: self.1,
                    })?;
                }
                seq.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("@odata.context", &self.context)?;
        if let Some(n) = self.count {
            m.serialize_entry("@odata.count", &n)?;
        }
        if let Some(l) = &self.next_link {
            m.serialize_entry("@odata.nextLink", l)?;
        }
        m.serialize_entry("value", &Users(self.users, self.names))?;
        m.end()
    }
}

fn list(sim: &Sim, which: Collection, q: &Query, headers: &Headers, ids: &Ids) -> Reply {
    let lq = match ListQuery::parse(q, headers, &filter::USER, ids) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let invalid_token = || {
        graph_error(
            ids,
            400,
            "Request_BadRequest",
            "Invalid skip token.",
            vec![],
        )
    };
    let after = match q.get("$skiptoken").map(decode_skiptoken) {
        None => None,
        Some(Some(k)) => Some(k),
        Some(None) => return invalid_token(),
    };
    let names = match selected_names(q.get("$select"), which == Collection::Deleted) {
        Ok(n) => n,
        Err(bad) => return unknown_select(ids, &bad),
    };
    let flt = lq.filter.as_ref();
    // A `startsWith(userPrincipalName,…)` listing of active users reads its range of the UPN
    // index (in UPN order) instead of testing every user in id order; a token minted by
    // either order resumes in that order. `$orderby` sorts the matches.
    let upn_prefix = match (&after, which) {
        (_, _) if lq.order.is_some() => None,
        (Some(Resume::Id(_)), _) | (None, Collection::Deleted) => None,
        (_, Collection::Users) => flt.and_then(|f| f.upn_prefix()),
        (Some(_), Collection::Deleted) => None,
    };
    let token_fits = match &after {
        None => true,
        Some(Resume::Sorted(..)) => lq.order.is_some(),
        Some(Resume::Upn(..)) => upn_prefix.is_some(),
        Some(Resume::Id(_)) => lq.order.is_none(),
    };
    if !token_fits {
        return invalid_token();
    }
    let t = lock(&sim.tenant);
    let map: &BTreeMap<String, User> = if which == Collection::Users {
        &t.users
    } else {
        &t.deleted
    };
    let matches = |u: &User| flt.is_none_or(|f| f.matches(u, &filter::USER));
    let (page, more, last) = match (lq.order, upn_prefix) {
        (Some(order), _) => sorted_page(map, &matches, order, after.as_ref(), lq.top),
        (None, Some(prefix)) => upn_page(&t, map, &matches, prefix, after.as_ref(), lq.top),
        (None, None) => id_page(map, &matches, after.as_ref(), lq.top),
    };
    let count = lq.count;
    let count = count.then(|| map.values().filter(|u| matches(u)).count());
    let ctx = match (which, q.get("$select")) {
        (Collection::Users, Some(s)) => format!("users({s})"),
        (Collection::Users, None) => "users".to_string(),
        (Collection::Deleted, Some(s)) => format!("directoryObjects/microsoft.graph.user({s})"),
        (Collection::Deleted, None) => "directoryObjects/microsoft.graph.user".to_string(),
    };
    let next_link = match (more, last) {
        (true, Some(at)) => {
            let path = if which == Collection::Users {
                "users"
            } else {
                "directory/deletedItems/microsoft.graph.user"
            };
            let rest = q.raw_without_skiptoken();
            let sep = if rest.is_empty() {
                String::new()
            } else {
                format!("{rest}&")
            };
            Some(format!(
                "{}/v1.0/{path}?{sep}$skiptoken={}",
                sim.base_url,
                encode_skiptoken(&at)
            ))
        }
        _ => None,
    };
    // Written straight from the users while the lock is held: cheaper than cloning them out
    // and building `Value`s, and the lock is no longer held for a scan of the whole tenant.
    let out = PageOut {
        context: format!("{}/v1.0/$metadata#{ctx}", sim.base_url),
        count,
        next_link,
        users: &page,
        names: &names,
    };
    let bytes = serde_json::to_vec(&out);
    drop(t);
    match bytes {
        Ok(b) => Reply::json_bytes(200, b),
        Err(e) => graph_error(
            ids,
            500,
            "generalException",
            &format!("cannot write the page: {e}"),
            vec![],
        ),
    }
}

type Page<'a> = (Vec<&'a User>, bool, Option<Resume>);

/// Users in id order, after the last id served.
fn id_page<'a>(
    map: &'a BTreeMap<String, User>,
    matches: &dyn Fn(&User) -> bool,
    after: Option<&Resume>,
    top: usize,
) -> Page<'a> {
    let range = match after {
        Some(Resume::Id(k)) => {
            map.range::<String, _>((Bound::Excluded(k.clone()), Bound::Unbounded))
        }
        _ => map.range::<String, _>(..),
    };
    let mut page = Vec::with_capacity(top.min(1000));
    let mut last = None;
    for (k, u) in range.filter(|(_, u)| matches(u)) {
        if page.len() == top {
            return (page, true, last);
        }
        page.push(u);
        last = Some(Resume::Id(k.clone()));
    }
    (page, false, last)
}

/// Users whose UPN starts with `prefix`, read in UPN order from the index.
fn upn_page<'a>(
    t: &Tenant,
    map: &'a BTreeMap<String, User>,
    matches: &dyn Fn(&User) -> bool,
    prefix: &str,
    after: Option<&Resume>,
    top: usize,
) -> Page<'a> {
    let prefix = prefix.to_lowercase();
    let from = match after {
        Some(Resume::Upn(upn, k)) => Bound::Excluded((upn.clone(), k.clone())),
        _ => Bound::Included((prefix.clone(), String::new())),
    };
    let candidates = t
        .upn_order
        .range((from, Bound::Unbounded))
        .take_while(|(upn, _)| upn.starts_with(&prefix));
    let mut page = Vec::with_capacity(top.min(1000));
    let mut last = None;
    for (upn, k) in candidates {
        let Some(u) = map.get(k).filter(|u| matches(u)) else {
            continue;
        };
        if page.len() == top {
            return (page, true, last);
        }
        page.push(u);
        last = Some(Resume::Upn(upn.clone(), k.clone()));
    }
    (page, false, last)
}

/// `$orderby`: the matches sorted by the property (case-insensitively, then by id so the order
/// is total), nulls first when ascending and last when descending as OData specifies.
fn sorted_page<'a>(
    map: &'a BTreeMap<String, User>,
    matches: &dyn Fn(&User) -> bool,
    order: Order,
    after: Option<&Resume>,
    top: usize,
) -> Page<'a> {
    use super::filter::{Filterable, PropValue};
    let sort_key = |u: &User| match u.prop(order.prop) {
        PropValue::Str(s) => Some(s.to_lowercase()),
        _ => None,
    };
    let cmp = |a: &(Option<String>, &String), b: &(Option<String>, &String)| {
        let o = a.cmp(b);
        if order.desc {
            o.reverse()
        } else {
            o
        }
    };
    let mut all: Vec<(Option<String>, &String, &User)> = map
        .iter()
        .filter(|(_, u)| matches(u))
        .map(|(k, u)| (sort_key(u), k, u))
        .collect();
    all.sort_by(|a, b| cmp(&(a.0.clone(), a.1), &(b.0.clone(), b.1)));
    let start = match after {
        Some(Resume::Sorted(v, k)) => all.partition_point(|x| {
            cmp(&(x.0.clone(), x.1), &(v.clone(), k)) != std::cmp::Ordering::Greater
        }),
        _ => 0,
    };
    let rest = &all[start..];
    let taken = &rest[..rest.len().min(top)];
    let last = taken
        .last()
        .map(|(v, k, _)| Resume::Sorted(v.clone(), (*k).clone()));
    (
        taken.iter().map(|(_, _, u)| *u).collect(),
        rest.len() > top,
        last,
    )
}

fn one_user(sim: &Sim, method: &str, k: &str, q: &Query, body: Option<Value>, ids: &Ids) -> Reply {
    match method {
        "GET" => {
            let t = lock(&sim.tenant);
            let Some(u) = t.find_active(k) else {
                return not_found(ids, k);
            };
            match render(u, q.get("$select"), false) {
                Ok(m) => {
                    let mut out = Map::new();
                    let ctx = match q.get("$select") {
                        Some(s) => format!("users({s})/$entity"),
                        None => "users/$entity".into(),
                    };
                    out.insert(
                        "@odata.context".into(),
                        json!(format!("{}/v1.0/$metadata#{ctx}", sim.base_url)),
                    );
                    out.extend(m);
                    Reply::json(200, Value::Object(out))
                }
                Err(bad) => graph_error(
                    ids,
                    400,
                    "Request_BadRequest",
                    &format!(
                        "Could not find a property named '{bad}' on type 'microsoft.graph.user'."
                    ),
                    vec![],
                ),
            }
        }
        "PATCH" => patch_user(sim, k, body, ids),
        "DELETE" => {
            let mut t = lock(&sim.tenant);
            let Some(id) = t.active_id(k) else {
                return not_found(ids, k);
            };
            if t.find_active(&id)
                .is_some_and(|u| u.on_premises_sync_enabled == Some(true))
            {
                return bad_request(
                    ids,
                    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
                );
            }
            if let Some(mut u) = t.remove_active(&id) {
                u.deleted_date_time = Some(state::now_iso());
                if let Some(upn) = &u.user_principal_name {
                    u.user_principal_name = Some(mangle_deleted_upn(&id, upn));
                }
                t.insert_deleted(u);
            }
            t.role_assignments
                .retain(|a| !a.principal_id.eq_ignore_ascii_case(&id));
            drop(t);
            sim.changed();
            Reply::empty(204)
        }
        _ => graph_error(
            ids,
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
            vec![],
        ),
    }
}

fn bad_request(ids: &Ids, message: &str) -> Reply {
    graph_error(ids, 400, "Request_BadRequest", message, vec![])
}

fn conflict(ids: &Ids, property: &str, holder: Option<&str>) -> Reply {
    let message =
        format!("Another object with the same value for property {property} already exists.");
    let mut details = vec![ErrorDetail {
        code: "ObjectConflict".into(),
        message: Some(message.clone()),
        target: Some(property.into()),
    }];
    if let Some(h) = holder {
        details.push(ErrorDetail {
            code: "ConflictingObjects".into(),
            message: Some(message.clone()),
            target: Some(format!("User_{h}")),
        });
    }
    graph_error(ids, 400, "Request_BadRequest", &message, details)
}

fn invalid_value(ids: &Ids, property: &str) -> Reply {
    // Wording for rejected values is unverified (graph-behaviour.md open item 4); this is
    // Graph's generic invalid-value message.
    bad_request(
        ids,
        &format!("Invalid value specified for property '{property}' of resource 'User'."),
    )
}

/// Validate a new `onPremisesImmutableId`: `Ok(None)` clears it, `Ok(Some)` sets it.
fn check_immutable_id(
    t: &Tenant,
    self_id: Option<&str>,
    v: &Value,
    ids: &Ids,
) -> Result<Option<String>, Reply> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            // "" is refused rather than treated as clear: Graph's behaviour for "" is unverified
            // (msgraph-sdk-powershell #2514/#2819), and the client must send null.
            if s.is_empty() || s.contains('$') || s.contains('_') {
                return Err(invalid_value(ids, "onPremisesImmutableId"));
            }
            if let Some(holder) = t.immutable_holder(s) {
                if self_id.is_none_or(|me| !holder.eq_ignore_ascii_case(me)) {
                    return Err(conflict(ids, "onPremisesImmutableId", Some(holder)));
                }
            }
            Ok(Some(s.clone()))
        }
        _ => Err(invalid_value(ids, "onPremisesImmutableId")),
    }
}

fn body_object(body: Option<Value>, ids: &Ids) -> Result<Map<String, Value>, Reply> {
    match body {
        Some(Value::Object(m)) => Ok(m),
        None => Err(bad_request(ids, "Empty Payload. JSON content expected.")),
        Some(_) => Err(bad_request(
            ids,
            "Invalid request payload: a JSON object is expected.",
        )),
    }
}

/// The body's properties (annotations dropped, `null`s kept), after the checks every write
/// shares: a JSON object, of the user type, only properties the type has.
fn user_payload(body: Option<Value>, ids: &Ids) -> Result<Map<String, Value>, Reply> {
    let body = payload::entity_properties(body_object(body, ids)?, "user", ids)?;
    match unknown_property(&body, ids) {
        Some(r) => Err(r),
        None => Ok(body),
    }
}

/// Properties Graph requires on every user: `null` cannot clear them.
const NOT_NULLABLE: &[&str] = &[
    "accountEnabled",
    "displayName",
    "mailNickname",
    "userPrincipalName",
    "passwordProfile",
];

/// Sets one property of `u` from a body (PATCH or POST); `null` clears where Graph allows it.
/// `self_id` is the user being patched (`None` when creating).
fn set_property(
    t: &Tenant,
    u: &mut User,
    self_id: Option<&str>,
    name: &str,
    v: &Value,
    ids: &Ids,
) -> Result<(), Reply> {
    let name = property_name(name).unwrap_or(name);
    if v.is_null() && NOT_NULLABLE.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Err(invalid_value(ids, name));
    }
    let text = |v: &Value| -> Result<Option<String>, Reply> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(invalid_value(ids, name)),
        }
    };
    match name {
        "onPremisesImmutableId" => {
            u.on_premises_immutable_id = check_immutable_id(t, self_id, v, ids)?;
        }
        "userPrincipalName" => {
            let Some(upn) = v.as_str() else {
                return Err(invalid_value(ids, name));
            };
            if state::upn_problem(upn).is_some() {
                return Err(invalid_upn(ids));
            }
            if let Some(other) = t.upn_index.get(&upn.to_lowercase()) {
                if self_id.is_none_or(|me| !other.eq_ignore_ascii_case(me)) {
                    return Err(conflict(ids, name, None));
                }
            }
            u.user_principal_name = Some(upn.to_string());
        }
        "displayName" => {
            u.display_name = text(v)?.filter(|s| !s.is_empty());
            if u.display_name.is_none() {
                return Err(invalid_value(ids, name));
            }
        }
        "mail" => u.mail = text(v)?,
        "accountEnabled" if !v.is_boolean() => return Err(invalid_value(ids, name)),
        "id" | "passwordProfile" => {} // id: ignored on create; passwords are never stored
        other => {
            if v.is_null() {
                u.other.remove(other);
            } else {
                u.other.insert(other.to_string(), v.clone());
            }
        }
    }
    Ok(())
}

fn patch_user(sim: &Sim, k: &str, body: Option<Value>, ids: &Ids) -> Reply {
    let body = match user_payload(body, ids) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut t = lock(&sim.tenant);
    let Some(id) = t.active_id(k) else {
        return not_found(ids, k);
    };
    let Some(current) = t.users.get(&key(&id)).cloned() else {
        return not_found(ids, k);
    };
    for name in body.keys() {
        if let Some(ro) = READ_ONLY.iter().find(|r| r.eq_ignore_ascii_case(name)) {
            return bad_request(
                ids,
                &format!("Property '{ro}' is read-only and cannot be set."),
            );
        }
    }
    if current.on_premises_sync_enabled == Some(true)
        && body
            .keys()
            .any(|n| !CLOUD_MASTERED.iter().any(|c| c.eq_ignore_ascii_case(n)))
    {
        return bad_request(
            ids,
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        );
    }
    // Only the properties present change: absent means "leave as is", null means "clear".
    let mut updated = current.clone();
    for (name, v) in &body {
        if let Err(r) = set_property(&t, &mut updated, Some(&id), name, v, ids) {
            return r;
        }
    }
    if updated != current {
        t.remove_active(&id);
        t.insert_active(updated);
        drop(t);
        sim.changed();
    }
    Reply::empty(204)
}

fn create_user(sim: &Sim, body: Option<Value>, ids: &Ids) -> Reply {
    let body = match user_payload(body, ids) {
        Ok(b) => b,
        Err(r) => return r,
    };
    for name in body.keys() {
        if let Some(ro) = READ_ONLY.iter().find(|r| r.eq_ignore_ascii_case(name)) {
            if *ro != "id" {
                return bad_request(
                    ids,
                    &format!("Property '{ro}' is read-only and cannot be set."),
                );
            }
        }
    }
    for required in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "userPrincipalName",
    ] {
        if body
            .get(required)
            .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        {
            return invalid_value(ids, required);
        }
    }
    if !body
        .get("passwordProfile")
        .is_some_and(|p| p.get("password").is_some_and(|x| x.is_string()))
    {
        return bad_request(ids, "A password must be specified to create a new user.");
    }
    let mut t = lock(&sim.tenant);
    let id = state::new_id();
    let mut u = User {
        id: Some(id.clone()),
        on_premises_sync_enabled: None,
        ..Default::default()
    };
    // The UPN first: a taken UPN is the conflict a duplicate create reports.
    let upn_first = body
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("userPrincipalName"))
        .chain(
            body.iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("userPrincipalName")),
        );
    for (name, v) in upn_first {
        if let Err(r) = set_property(&t, &mut u, None, name, v, ids) {
            return r;
        }
    }
    u.other
        .insert("createdDateTime".into(), json!(state::now_iso()));
    let rendered = render(&u, None, false).unwrap_or_default();
    t.insert_active(u);
    drop(t);
    sim.changed();
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/v1.0/$metadata#users/$entity", sim.base_url)),
    );
    out.extend(rendered);
    Reply::json(201, Value::Object(out))
        .header("Location", format!("{}/v1.0/users/{id}", sim.base_url))
}

fn restore(sim: &Sim, id: &str, body: Option<Value>, ids: &Ids) -> Reply {
    let mut t = lock(&sim.tenant);
    let Some(u) = t.deleted.get(&key(id)).cloned() else {
        return not_found(ids, id);
    };
    let real_id = u.id.clone().unwrap_or_else(|| id.to_string());
    let wanted = body
        .as_ref()
        .and_then(|b| b.get("newUserPrincipalName"))
        .and_then(|v| v.as_str())
        .map(String::from)
        .unwrap_or_else(|| {
            unmangle_deleted_upn(
                &real_id,
                u.user_principal_name.as_deref().unwrap_or_default(),
            )
        });
    if state::upn_problem(&wanted).is_some() {
        return invalid_upn(ids);
    }
    if t.upn_index.contains_key(&wanted.to_lowercase()) {
        return conflict(ids, "userPrincipalName", None);
    }
    let mut restored = t.remove_deleted(&real_id).unwrap_or(u);
    restored.deleted_date_time = None;
    restored.user_principal_name = Some(wanted);
    let rendered = render(&restored, None, false).unwrap_or_default();
    t.insert_active(restored);
    drop(t);
    sim.changed();
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#directoryObjects/$entity",
            sim.base_url
        )),
    );
    out.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    out.extend(rendered);
    Reply::json(200, Value::Object(out))
}

fn roles(sim: &Sim, kind: &str, q: &Query, ids: &Ids) -> Reply {
    let t = lock(&sim.tenant);
    let (items, support, ctx): (Vec<Value>, &Support, &str) =
        if kind.eq_ignore_ascii_case("roleDefinitions") {
            (
                t.role_definitions
                    .iter()
                    .map(|d| {
                        let mut v = serde_json::to_value(d).unwrap_or_default();
                        v["isBuiltIn"] = json!(true);
                        v["isEnabled"] = json!(true);
                        v
                    })
                    .collect(),
                &filter::ROLE_DEFINITION,
                "roleManagement/directory/roleDefinitions",
            )
        } else if kind.eq_ignore_ascii_case("roleAssignments") {
            (
                t.role_assignments
                    .iter()
                    .map(|a| serde_json::to_value(a).unwrap_or_default())
                    .collect(),
                &filter::ROLE_ASSIGNMENT,
                "roleManagement/directory/roleAssignments",
            )
        } else if kind.eq_ignore_ascii_case("roleEligibilitySchedules") {
            (
                t.role_eligibility_schedules
                    .iter()
                    .map(|a| {
                        let mut v = serde_json::to_value(a).unwrap_or_default();
                        v["memberType"] = json!("Direct");
                        v["status"] = json!("Provisioned");
                        v
                    })
                    .collect(),
                &filter::ROLE_ASSIGNMENT,
                "roleManagement/directory/roleEligibilitySchedules",
            )
        } else {
            return segment_not_found(ids, kind);
        };
    let flt = match query::plain_filter(q, support, ids) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let select: Option<Vec<&str>> = q.get("$select").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect()
    });
    let value: Vec<Value> = items
        .into_iter()
        .filter(|v| match (&flt, v.as_object()) {
            (Some(f), Some(m)) => f.matches(m, support),
            (None, _) => true,
            _ => false,
        })
        .map(|v| match (&select, v) {
            (Some(names), Value::Object(m)) => Value::Object(
                names
                    .iter()
                    .map(|n| (n.to_string(), m.get(*n).cloned().unwrap_or(Value::Null)))
                    .collect(),
            ),
            (_, v) => v,
        })
        .collect();
    Reply::json(
        200,
        json!({"@odata.context": format!("{}/v1.0/$metadata#{ctx}", sim.base_url), "value": value}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<User> {
        let mut odd = User {
            id: Some("B-2".into()),
            user_principal_name: Some("Ünï@contoso.com".into()),
            display_name: Some("quote \" and \\ and \u{1}".into()),
            on_premises_sync_enabled: Some(true),
            deleted_date_time: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        odd.other.insert("accountEnabled".into(), json!(false));
        odd.other.insert("businessPhones".into(), json!(["+1 555"]));
        odd.other.insert("givenName".into(), Value::Null);
        vec![
            User::default(),
            User {
                id: Some("a-1".into()),
                user_principal_name: Some("a@contoso.com".into()),
                mail: Some("a@contoso.com".into()),
                proxy_addresses: Some(vec!["SMTP:a@contoso.com".into(), "smtp:b@x".into()]),
                on_premises_immutable_id: Some("2/9JCtHr0EmH+hL07o11vA==".into()),
                on_premises_object_identifier: Some("x".into()),
                on_premises_sync_enabled: Some(false),
                ..Default::default()
            },
            odd,
        ]
    }

    /// The page as the tenant built it before it wrote pages directly: `Value` maps.
    fn page_via_values(
        users: &[&User],
        select: Option<&str>,
        deleted: bool,
        count: Option<usize>,
        next: Option<&str>,
    ) -> Vec<u8> {
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!("ctx"));
        if let Some(n) = count {
            out.insert("@odata.count".into(), json!(n));
        }
        if let Some(l) = next {
            out.insert("@odata.nextLink".into(), json!(l));
        }
        let value = users
            .iter()
            .map(|u| Value::Object(render(u, select, deleted).unwrap()))
            .collect();
        out.insert("value".into(), Value::Array(value));
        serde_json::to_vec(&Value::Object(out)).unwrap()
    }

    #[test]
    fn pages_written_directly_are_byte_for_byte_the_value_rendering() {
        let all = users();
        let refs: Vec<&User> = all.iter().collect();
        let hardmatch = crate::wire::USER_SELECT.join(",");
        for select in [
            None,
            Some(""),
            Some(hardmatch.as_str()),
            Some("id, DisplayName,id,mail,accountEnabled,businessPhones,otherMails,givenName"),
            Some("deletedDateTime,proxyAddresses,onPremisesSyncEnabled"),
        ] {
            for deleted in [false, true] {
                for (count, next) in [(None, None), (Some(3), Some("https://x/?$skiptoken=y"))] {
                    let names = selected_names(select, deleted).unwrap();
                    let direct = serde_json::to_vec(&PageOut {
                        context: "ctx".into(),
                        count,
                        next_link: next.map(String::from),
                        users: &refs,
                        names: &names,
                    })
                    .unwrap();
                    let old = page_via_values(&refs, select, deleted, count, next);
                    assert_eq!(
                        String::from_utf8(direct).unwrap(),
                        String::from_utf8(old).unwrap(),
                        "{select:?} deleted={deleted}"
                    );
                }
            }
        }
        assert_eq!(
            selected_names(Some("id,nonsense,alsobad"), false),
            Err("nonsense".into())
        );
    }

    #[test]
    fn skiptokens_round_trip_and_reject_tampering() {
        for at in [
            Resume::Id("00000000-0000-4000-8000-000000000001".into()),
            Resume::Upn("a:b@contoso.com".into(), "k:1".into()),
            Resume::Upn("ünï@x".into(), String::new()),
        ] {
            let t = encode_skiptoken(&at);
            assert!(t.starts_with("RFNwdAI"));
            assert_eq!(decode_skiptoken(&t), Some(at));
        }
        let forged = |raw: &str| {
            format!(
                "RFNwdAI{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
            )
        };
        assert_eq!(decode_skiptoken(&forged("hm2:99:short")), None);
        assert_eq!(decode_skiptoken(&forged("hm2:x:y")), None);
        assert_eq!(decode_skiptoken(&forged("hm3:y")), None);
        assert_eq!(decode_skiptoken("nope"), None);
    }
}
