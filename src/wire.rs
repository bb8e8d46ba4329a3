//! Microsoft Graph's JSON, and nothing else: the one thing the client ([`crate::graph`]) and the
//! simulated tenant ([`crate::sim`]) share. Shapes follow `../shared/docs/graph-behaviour.md`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The properties hardmatch selects on `/users` and `/directory/deletedItems/microsoft.graph.user`.
pub const USER_SELECT: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "displayName",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
    "onPremisesObjectIdentifier",
];

/// A `microsoft.graph.user`, as far as hardmatch cares. Unknown properties are kept so the
/// simulated tenant can store what `POST /users` sends.
///
/// `Deserialize` is written by hand (see [`user_de`]): derived with `#[serde(flatten)]`, serde
/// buffers every property of every user into an intermediate tree before sorting it out,
/// which doubled the client's cost of reading a 999-user page. The JSON accepted is the same.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_object_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date_time: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

mod user_de {
    use super::User;
    use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
    use std::fmt;

    /// A property name: one of `User`'s typed fields, or anything else (kept in `other`).
    enum Key {
        Id,
        UserPrincipalName,
        Mail,
        ProxyAddresses,
        DisplayName,
        OnPremisesImmutableId,
        OnPremisesSyncEnabled,
        OnPremisesObjectIdentifier,
        DeletedDateTime,
        Other(String),
    }

    impl Key {
        fn of(name: &str) -> Key {
            match name {
                "id" => Key::Id,
                "userPrincipalName" => Key::UserPrincipalName,
                "mail" => Key::Mail,
                "proxyAddresses" => Key::ProxyAddresses,
                "displayName" => Key::DisplayName,
                "onPremisesImmutableId" => Key::OnPremisesImmutableId,
                "onPremisesSyncEnabled" => Key::OnPremisesSyncEnabled,
                "onPremisesObjectIdentifier" => Key::OnPremisesObjectIdentifier,
                "deletedDateTime" => Key::DeletedDateTime,
                other => Key::Other(other.to_string()),
            }
        }
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a property name")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                    Ok(Key::of(v))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<Key, E> {
                    Ok(match Key::of(&v) {
                        Key::Other(_) => Key::Other(v),
                        k => k,
                    })
                }
            }
            d.deserialize_str(V)
        }
    }

    impl<'de> Deserialize<'de> for User {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<User, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = User;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a microsoft.graph.user object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<User, A::Error> {
                    fn once<T, E: de::Error>(
                        slot: &mut Option<Option<T>>,
                        v: Option<T>,
                        name: &'static str,
                    ) -> Result<(), E> {
                        if slot.is_some() {
                            return Err(E::duplicate_field(name));
                        }
                        *slot = Some(v);
                        Ok(())
                    }
                    let mut id = None;
                    let mut upn = None;
                    let mut mail = None;
                    let mut proxy = None;
                    let mut display = None;
                    let mut immutable = None;
                    let mut sync = None;
                    let mut object_identifier = None;
                    let mut deleted = None;
                    let mut other = std::collections::BTreeMap::new();
                    while let Some(k) = m.next_key::<Key>()? {
                        match k {
                            Key::Id => once(&mut id, m.next_value()?, "id")?,
                            Key::UserPrincipalName => {
                                once(&mut upn, m.next_value()?, "userPrincipalName")?
                            }
                            Key::Mail => once(&mut mail, m.next_value()?, "mail")?,
                            Key::ProxyAddresses => {
                                once(&mut proxy, m.next_value()?, "proxyAddresses")?
                            }
                            Key::DisplayName => once(&mut display, m.next_value()?, "displayName")?,
                            Key::OnPremisesImmutableId => {
                                once(&mut immutable, m.next_value()?, "onPremisesImmutableId")?
                            }
                            Key::OnPremisesSyncEnabled => {
                                once(&mut sync, m.next_value()?, "onPremisesSyncEnabled")?
                            }
                            Key::OnPremisesObjectIdentifier => once(
                                &mut object_identifier,
                                m.next_value()?,
                                "onPremisesObjectIdentifier",
                            )?,
                            Key::DeletedDateTime => {
                                once(&mut deleted, m.next_value()?, "deletedDateTime")?
                            }
                            Key::Other(name) => {
                                // Like serde's flatten: the last of repeated unknown names wins.
                                other.insert(name, m.next_value()?);
                            }
                        }
                    }
                    Ok(User {
                        id: id.flatten(),
                        user_principal_name: upn.flatten(),
                        mail: mail.flatten(),
                        proxy_addresses: proxy.flatten(),
                        display_name: display.flatten(),
                        on_premises_immutable_id: immutable.flatten(),
                        on_premises_sync_enabled: sync.flatten(),
                        on_premises_object_identifier: object_identifier.flatten(),
                        deleted_date_time: deleted.flatten(),
                        other,
                    })
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// A page of a collection: `value` plus an opaque `@odata.nextLink`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(
        rename = "@odata.context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
    pub value: Vec<T>,
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
}

/// `{"error": {...}}`, the body of every Graph error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(
        rename = "innerError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_error: Option<InnerError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InnerError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(
        rename = "request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
    #[serde(
        rename = "client-request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_request_id: Option<String>,
}

/// One entry of `error.details`; `target` may be `User_<object id>` for the holder of a conflicting value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// `POST /$batch` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub requests: Vec<BatchItem>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    pub id: String,
    pub method: String,
    /// Relative to the version root, e.g. `/users/{id}`.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// `POST /$batch` response: per-item status, possibly in another order than requested.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub responses: Vec<BatchItemResponse>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchItemResponse {
    pub id: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// Token endpoint success.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token_type: String,
    pub expires_in: u64,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Token endpoint / device code error (`authorization_pending`, `invalid_client`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode` response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceCodeResponse {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    pub interval: u64,
    pub message: String,
}

/// `GET /directory/onPremisesSynchronization` returns a collection of these.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesSynchronization {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub features: SyncFeatures,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncFeatures {
    #[serde(default)]
    pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    #[serde(default)]
    pub block_soft_match_enabled: bool,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `unifiedRoleAssignment` / `unifiedRoleEligibilitySchedule` (the fields hardmatch reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub principal_id: String,
    #[serde(default)]
    pub role_definition_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_scope_id: Option<String>,
}

/// `unifiedRoleDefinition` (for `isPrivileged` and the display name).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_privileged: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_read_typed_fields_and_keep_the_rest() {
        let v = json!({
            "id": "1", "userPrincipalName": "a@b", "mail": null, "proxyAddresses": ["SMTP:a@b"],
            "displayName": "A", "onPremisesImmutableId": "x/+=", "onPremisesSyncEnabled": true,
            "onPremisesObjectIdentifier": "o", "deletedDateTime": "2026-01-01T00:00:00Z",
            "accountEnabled": false, "@odata.type": "#microsoft.graph.user", "givenName": null,
            "passwordProfile": {"password": "p"}
        });
        let u: User = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(u.id.as_deref(), Some("1"));
        assert_eq!(u.mail, None);
        assert_eq!(u.on_premises_sync_enabled, Some(true));
        assert_eq!(u.proxy_addresses, Some(vec!["SMTP:a@b".to_string()]));
        assert_eq!(u.deleted_date_time.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(u.other.len(), 4, "{:?}", u.other);
        assert_eq!(u.other["givenName"], Value::Null);
        assert_eq!(u.other["passwordProfile"]["password"], "p");
        // The same from bytes (borrowed keys) and from a string with escaped keys.
        let from_bytes: User = serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(from_bytes, u);
        let escaped: User =
            serde_json::from_str(r#"{"\u0069d":"1","caf\u00e9":1,"x\"y":2}"#).unwrap();
        assert_eq!(escaped.id.as_deref(), Some("1"));
        assert_eq!(escaped.other["café"], 1);
        assert_eq!(escaped.other["x\"y"], 2);
        // Serializing and reading back gives the same user.
        let again: User = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(again, u);
        assert_eq!(serde_json::from_str::<User>("{}").unwrap(), User::default());
    }

    #[test]
    fn malformed_users_are_errors() {
        for bad in [
            r#"{"id": 5}"#,
            r#"{"id": "1", "id": "2"}"#,
            r#"{"onPremisesSyncEnabled": "yes"}"#,
            r#"{"proxyAddresses": "SMTP:a@b"}"#,
            r#"["1"]"#,
            r#""1""#,
        ] {
            assert!(serde_json::from_str::<User>(bad).is_err(), "{bad}");
        }
        let e = serde_json::from_str::<Page<User>>(r#"{"value":[{"id":"1"},{"mail":7}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
