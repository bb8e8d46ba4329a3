//! Request bodies as Graph's OData reader takes them: instance and control annotations
//! (`"@odata.type"`, `"@odata.context"`, `"prop@odata.type"`, `"@contoso.note"`) are accepted and
//! dropped, at any depth, so a body written by a Kiota model (which always carries
//! `"@odata.type": "#microsoft.graph.user"`) is read like the bare JSON an admin writes. An
//! `@odata.type` naming another type is refused, as OData refuses a resource that is not
//! assignable to the expected type.
//!
//! What is left is the entity's properties exactly as sent: an absent property stays absent
//! ("leave unchanged") and an explicit `null` stays `null` ("clear"), so the PATCH path can keep
//! the two apart.

use super::routes::{graph_error, Ids, Reply};
use serde_json::{Map, Value};

/// Directory types a body may name, by their names after the namespace (the sim serves only
/// `user` bodies; the others are named so a wrong type gets the "not assignable" answer rather
/// than "unknown type").
const DIRECTORY_TYPES: &[&str] = &[
    "user",
    "group",
    "device",
    "application",
    "servicePrincipal",
    "orgContact",
    "administrativeUnit",
    "directoryObject",
    "passwordProfile",
];

/// The entity's own properties, annotations removed; `expected` is the type name without its
/// namespace (`"user"`). A wrong `@odata.type` gives Graph's 400.
pub(crate) fn entity_properties(
    body: Map<String, Value>,
    expected: &str,
    ids: &Ids,
) -> Result<Map<String, Value>, Reply> {
    if let Some(t) = body.get("@odata.type") {
        check_type(t, expected, ids)?;
    }
    Ok(body
        .into_iter()
        .filter(|(k, _)| !is_annotation(k))
        .map(|(k, mut v)| {
            strip_annotations(&mut v);
            (k, v)
        })
        .collect())
}

/// `@odata.type`, `@odata.context`, `@any.custom.term`, or a property annotation `name@term`.
pub(crate) fn is_annotation(key: &str) -> bool {
    key.contains('@')
}

/// Drops annotations inside complex values (`passwordProfile`, `employeeOrgData`, …), which the
/// Kiota serialisers write as well.
fn strip_annotations(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !is_annotation(k));
            m.values_mut().for_each(strip_annotations);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

/// `#microsoft.graph.user`, `microsoft.graph.user`, `#graph.user` (the namespace alias) all name
/// `user`. Type names are compared case-sensitively, as OData does.
fn type_name(annotation: &str) -> Option<&str> {
    let t = annotation.strip_prefix('#').unwrap_or(annotation);
    t.strip_prefix("microsoft.graph.")
        .or_else(|| t.strip_prefix("graph."))
}

fn check_type(t: &Value, expected: &str, ids: &Ids) -> Result<(), Reply> {
    let Some(s) = t.as_str() else {
        return Err(graph_error(
            ids,
            400,
            "BadRequest",
            "The value of the '@odata.type' annotation must be a string.",
            vec![],
        ));
    };
    match type_name(s) {
        Some(name) if name == expected => Ok(()),
        Some(name) if DIRECTORY_TYPES.contains(&name) => Err(graph_error(
            ids,
            400,
            "BadRequest",
            &format!(
                "A resource with type 'microsoft.graph.{name}' was found, but it is not assignable to the expected type 'microsoft.graph.{expected}'. The type specified in the resource must be equal to either the expected type or a derived type."
            ),
            vec![],
        )),
        _ => Err(graph_error(
            ids,
            400,
            "BadRequest",
            &format!(
                "A type named '{}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type.",
                s.trim_start_matches('#')
            ),
            vec![],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> Ids {
        Ids {
            request_id: "r".into(),
            client_request_id: "c".into(),
        }
    }

    fn props(v: Value) -> Result<Value, String> {
        let Value::Object(m) = v else { panic!() };
        entity_properties(m, "user", &ids())
            .map(Value::Object)
            .map_err(|r| {
                r.body.unwrap()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
    }

    #[test]
    fn own_type_and_annotations_are_dropped_nulls_kept() {
        for t in [
            "#microsoft.graph.user",
            "microsoft.graph.user",
            "#graph.user",
        ] {
            assert_eq!(
                props(json!({"@odata.type": t, "onPremisesImmutableId": null,
                    "displayName@odata.type": "#String", "@contoso.note": 1,
                    "passwordProfile": {"@odata.type": "#microsoft.graph.passwordProfile", "password": "p"}})),
                Ok(json!({"onPremisesImmutableId": null, "passwordProfile": {"password": "p"}})),
                "{t}"
            );
        }
        assert_eq!(props(json!({})), Ok(json!({})), "absent stays absent");
    }

    #[test]
    fn another_type_is_refused() {
        let e = props(json!({"@odata.type": "#microsoft.graph.group"})).unwrap_err();
        assert!(
            e.contains("not assignable to the expected type 'microsoft.graph.user'"),
            "{e}"
        );
        let e = props(json!({"@odata.type": "#microsoft.graph.User"})).unwrap_err();
        assert!(
            e.contains("could not be resolved"),
            "type names are case-sensitive: {e}"
        );
        let e = props(json!({"@odata.type": "#contoso.user"})).unwrap_err();
        assert!(e.contains("could not be resolved"), "{e}");
        let e = props(json!({"@odata.type": 3})).unwrap_err();
        assert!(e.contains("must be a string"), "{e}");
    }
}
