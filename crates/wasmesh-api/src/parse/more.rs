//! Every schema error of a document, not only the first. serde stops at the first field
//! that does not fit; to find the next, the document is read again as a JSON value with
//! that field set aside — an unknown field removed, an unknown enum value replaced by an
//! allowed one, a value of the wrong type removed (or, when the field is required or an
//! item of a list, replaced by a stand-in of another type) — until it reads, or nothing
//! more can be set aside. Errors that only the stand-ins cause (a required field of a
//! removed mapping, the wrong type of a stand-in) are not reported. What lies inside a
//! value that was set aside is not looked at.
//!
//! When the document then reads, the API's rules ([`crate::validate`]) are checked on it
//! too, without what a set-aside value could have caused: [`Repaired::rule_errors`] keeps a
//! rule's error only when it is not about a list entry (or a field) that had something set
//! aside, nor a reference to a cluster when a cluster entry had.

use super::{clean_path, error_message, place_missing, split_missing, typed};
use crate::meta::Kind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// At most this many reads of one document: each finds one error (or sets a stand-in).
const MAX_READS: usize = 100;

/// Stand-ins for a required value whose own was set aside, tried in this order until one
/// has the type the field wants (a mapping last: its own required fields are then filled;
/// a duration and an address for the fields parsed from text).
fn stand_ins() -> [Value; 7] {
    [
        Value::String(String::new()),
        Value::String("1s".to_string()),
        Value::String("127.0.0.1:1".to_string()),
        Value::from(0),
        Value::Bool(false),
        Value::Array(Vec::new()),
        Value::Object(Map::new()),
    ]
}

/// The stand-in that serde's "invalid type: …, expected X" asks for, when it says.
fn stand_in_for(message: &str) -> Option<usize> {
    let expected = &message[message.rfind("expected ")?..];
    [
        (&["mapping", "struct", "a map"][..], 6),
        (&["sequence"][..], 5),
        (&["true or false", "boolean"][..], 4),
        (&["integer", "number", "i32", "i64", "u16", "u32", "u64"][..], 3),
    ]
    .into_iter()
    .find(|(words, _)| words.iter().any(|w| expected.contains(w)))
    .map(|(_, index)| index)
}

/// What reading a document again and again found.
pub(super) struct Repaired {
    /// The schema errors as `(path, message)`, in the order found, without the one at the
    /// first path (already reported from the document's text).
    pub errors: Vec<(String, String)>,
    /// The document with every bad value set aside, when it then reads.
    pub resource: Option<crate::resource::Resource>,
    /// Where values were set aside or made up.
    touched: Vec<Vec<Seg>>,
}

impl Repaired {
    /// The API's rules on the repaired document, without the errors a set-aside value could
    /// have caused (see the module's documentation).
    pub fn rule_errors(&self) -> Vec<crate::error::FieldError> {
        let Some(resource) = &self.resource else {
            return Vec::new();
        };
        // What a rule error must not be under: each touched path cut at its list entry.
        let scopes: Vec<String> = self
            .touched
            .iter()
            .map(|t| {
                let entry = t.iter().rposition(|s| matches!(s, Seg::Index(_)));
                print(&t[..entry.map_or(t.len(), |i| i + 1)])
            })
            .collect();
        let cluster_touched = scopes.iter().any(|s| s.starts_with("spec.clusters"));
        let under = |path: &str, scope: &str| {
            path == scope
                || path
                    .strip_prefix(scope)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        crate::validate::validate(resource)
            .into_iter()
            .filter(|e| !scopes.iter().any(|s| under(&e.path, s)))
            .filter(|e| !(cluster_touched && e.path.ends_with(".cluster")))
            .collect()
    }
}

/// A path as serde_path_to_error prints it.
fn print(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Reads `value` (a document of `kind` whose first error, at `first_path`, is already
/// reported) again and again, setting aside what does not fit.
pub(super) fn schema_errors(kind: Kind, mut value: Value, first_path: &str, redact: bool) -> Repaired {
    let mut out = Vec::new();
    let mut resource = None;
    let mut reported: HashSet<String> = HashSet::from([first_path.to_string()]);
    // Paths whose value was set aside or made up: errors at or under them are ours.
    let mut touched: Vec<Vec<Seg>> = Vec::new();
    // Made-up values, with the index of the stand-in in use.
    let mut standing: Vec<(Vec<Seg>, usize)> = Vec::new();
    for _ in 0..MAX_READS {
        let (path, message) = match typed(
            kind,
            ValueRef {
                value: &value,
                redact,
            },
        ) {
            Ok(read) => {
                resource = Some(read);
                break;
            }
            Err(e) => e,
        };
        let (mapping, missing) = match split_missing(&path, &message) {
            Some((mapping, field)) => (mapping, Some(field.to_string())),
            None => (path.as_str(), None),
        };
        let Some(at) = resolve(&value, mapping) else { break };
        let subject = match &missing {
            Some(field) => [at.clone(), vec![Seg::Key(field.clone())]].concat(),
            None => at.clone(),
        };
        let ours = touched.iter().any(|t| subject.starts_with(t));
        if !ours && reported.insert(path.clone()) {
            out.push((path.clone(), message.clone()));
        }
        let repaired = if let Some(field) = missing {
            // A required field: fill it with the first stand-in.
            let Some(Value::Object(map)) = get_mut(&mut value, &at) else {
                break;
            };
            map.insert(field, stand_ins()[0].clone());
            standing.push((subject.clone(), 0));
            true
        } else if let Some(allowed) = first_allowed_variant(&message) {
            set(&mut value, &at, Value::String(allowed))
        } else if let Some(entry) = standing.iter_mut().find(|(p, _)| *p == at) {
            // A stand-in of the wrong type: the one asked for, else the next one.
            entry.1 = stand_in_for(&message)
                .filter(|&i| i > entry.1)
                .unwrap_or(entry.1 + 1);
            match stand_ins().get(entry.1) {
                Some(next) => set(&mut value, &at, next.clone()),
                None => false,
            }
        } else {
            match at.last() {
                // A list item: a stand-in keeps the indices of the items after it.
                Some(Seg::Index(_)) => {
                    standing.push((at.clone(), 0));
                    set(&mut value, &at, stand_ins()[0].clone())
                }
                Some(Seg::Key(_)) => remove(&mut value, &at),
                None => false,
            }
        };
        if !repaired {
            break;
        }
        touched.push(subject);
    }
    Repaired {
        errors: out,
        resource,
        touched,
    }
}

/// A document (or a list's item) already read as a JSON value, decoded in place.
pub(super) struct ValueRef<'a> {
    pub(super) value: &'a Value,
    pub(super) redact: bool,
}

impl super::Source for ValueRef<'_> {
    type Error = (String, String);
    fn decode<T: DeserializeOwned>(self) -> Result<T, (String, String)> {
        serde_path_to_error::deserialize(self.value).map_err(|e| {
            let path = clean_path(&e.path().to_string());
            let message = error_message(&e.into_inner().to_string(), &path, self.redact);
            place_missing(path, message)
        })
    }
}

/// One step of a path into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// The steps of a printed path (`spec.match[0].ports`) in `value`. Keys may hold dots
/// (label keys): at each mapping the longest key that fits is taken.
fn resolve(value: &Value, path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    let mut node = value;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            let index: usize = inner[..close].parse().ok()?;
            node = node.as_array()?.get(index)?;
            out.push(Seg::Index(index));
            rest = &inner[close + 1..];
        } else {
            let body = rest.strip_prefix('.').unwrap_or(rest);
            let map = node.as_object()?;
            let key = map
                .keys()
                .filter(|k| {
                    body.strip_prefix(k.as_str())
                        .is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']))
                })
                .max_by_key(|k| k.len())?;
            node = &map[key];
            rest = &body[key.len()..];
            out.push(Seg::Key(key.clone()));
        }
    }
    Some(out)
}

fn get_mut<'a>(value: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, seg| match seg {
        Seg::Key(k) => node.as_object_mut()?.get_mut(k),
        Seg::Index(i) => node.as_array_mut()?.get_mut(*i),
    })
}

fn set(value: &mut Value, path: &[Seg], new: Value) -> bool {
    match get_mut(value, path) {
        Some(slot) if *slot != new => {
            *slot = new;
            true
        }
        _ => false,
    }
}

fn remove(value: &mut Value, path: &[Seg]) -> bool {
    let Some((Seg::Key(key), parent)) = path.split_last() else {
        return false;
    };
    get_mut(value, parent)
        .and_then(Value::as_object_mut)
        .and_then(|map| map.remove(key))
        .is_some()
}

/// serde's "unknown variant `X`, expected one of `A`, `B`" (or "expected `A`"): `A`.
fn first_allowed_variant(message: &str) -> Option<String> {
    if !message.starts_with("unknown variant") {
        return None;
    }
    let expected = &message[message.find("expected ")? + "expected ".len()..];
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let name = expected.strip_prefix('`')?;
    Some(name[..name.find('`')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_resolve_through_dotted_keys_and_indices() {
        let v = json!({"metadata": {"labels": {"app.kubernetes.io/name": 1, "app": 2}}, "spec": {"match": [{"ports": [{"number": "x"}]}]}});
        assert_eq!(
            resolve(&v, "metadata.labels.app.kubernetes.io/name"),
            Some(vec![
                Seg::Key("metadata".into()),
                Seg::Key("labels".into()),
                Seg::Key("app.kubernetes.io/name".into())
            ])
        );
        assert_eq!(
            resolve(&v, "spec.match[0].ports[0].number"),
            Some(vec![
                Seg::Key("spec".into()),
                Seg::Key("match".into()),
                Seg::Index(0),
                Seg::Key("ports".into()),
                Seg::Index(0),
                Seg::Key("number".into())
            ])
        );
        assert_eq!(resolve(&v, "spec.match[1]"), None);
        assert_eq!(resolve(&v, ""), Some(vec![]));
    }

    #[test]
    fn messages_give_the_missing_field_and_an_allowed_variant() {
        assert_eq!(
            place_missing("spec".into(), "missing field `url`".into()),
            ("spec.url".to_string(), super::super::MISSING_REQUIRED.to_string())
        );
        assert_eq!(
            place_missing(String::new(), "missing field `spec`".into()).0,
            "spec"
        );
        assert_eq!(
            split_missing("spec.jwtRules[0].issuer", super::super::MISSING_REQUIRED),
            Some(("spec.jwtRules[0]", "issuer"))
        );
        assert_eq!(
            split_missing("spec", super::super::MISSING_REQUIRED),
            Some(("", "spec"))
        );
        assert_eq!(split_missing("spec.url", "invalid type"), None);
        assert_eq!(
            first_allowed_variant("unknown variant `LATE`, expected one of `AUTHN`, `AUTHZ`").as_deref(),
            Some("AUTHN")
        );
        assert_eq!(
            first_allowed_variant("unknown variant `x`, expected `HTTP`").as_deref(),
            Some("HTTP")
        );
        assert_eq!(first_allowed_variant("invalid type: string"), None);
        assert_eq!(
            stand_in_for("invalid type: string \"\", expected a mapping for RouteMatch"),
            Some(6)
        );
        assert_eq!(
            stand_in_for("invalid type: string \"\", expected an integer"),
            Some(3)
        );
        assert_eq!(stand_in_for("invalid socket address syntax"), None);
    }
}
