//! Kubernetes lists (`kind: List`, or `kind: WasmPluginList` and the like), as
//! `kubectl get -o yaml` writes them: each item is read as a resource of its own, with
//! errors at `items[N].<field>`.

use super::{duplicates, in_text_order, locate::locate, more, read, typed, Chunk, Format, Header};
use crate::{
    error::{DocumentError, Error, ErrorKind, Origin},
    meta::{Kind, ResourceKey, DEFAULT_NAMESPACE},
    resource::Document,
    Parsed,
};
use serde::Deserialize;
use serde_json::Value;

/// A list's own fields: `apiVersion`, `kind` and `metadata` are only accepted (the header
/// has already checked them); `items` are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct ListDocument {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    items: Vec<Value>,
}

/// The items of a list document; `None` when the document is not a list (or is too broken
/// to read as one: then it is reported like any other document).
pub(super) fn parse_list(origin: &Origin, chunk: &Chunk, format: Format) -> Option<Vec<Parsed>> {
    let header = read::<Option<Header>>(chunk, format, false).ok().flatten()?;
    let list_kind = header.kind.as_ref()?.as_str()?;
    let item_kind = list_kind.strip_suffix("List")?;
    let item_kind = match item_kind {
        "" => None,
        name => Some(Kind::from_name(name)?),
    };
    // A list with a duplicate key is reported as one document, with every duplicate.
    if !duplicates(chunk, format).ok()?.is_empty() {
        return None;
    }
    let reject = |errors: Vec<Error>| -> Parsed {
        Err(Box::new(DocumentError {
            origin: origin.clone(),
            key: None,
            span: chunk.span.clone(),
            errors,
        }))
    };
    let api_version = header.api_version.as_ref().and_then(Value::as_str).unwrap_or("");
    let allowed: &[&str] = match item_kind {
        None => &["v1"],
        Some(kind) => kind.api_versions(),
    };
    if !allowed.contains(&api_version) {
        return Some(vec![reject(vec![Error {
            origin: origin.clone(),
            line: origin.line(),
            path: "apiVersion".to_string(),
            kind: ErrorKind::Rule(format!(
                "`{api_version}` is not an apiVersion of {list_kind}; allowed: {}",
                allowed.join(", ")
            )),
        }])]);
    }
    let list: ListDocument = match read(chunk, format, false) {
        Ok(list) => list,
        Err(raw) => {
            let line = raw.line.map_or(origin.line(), |l| chunk.first_line + l - 1);
            return Some(vec![reject(vec![Error {
                origin: origin.clone(),
                line,
                path: raw.path,
                kind: ErrorKind::Schema(raw.message),
            }])]);
        }
    };
    let items = list.items.into_iter().enumerate();
    Some(
        items
            .map(|(i, item)| parse_item(origin, chunk, format, i, item, item_kind))
            .collect(),
    )
}

fn parse_item(
    origin: &Origin,
    chunk: &Chunk,
    format: Format,
    index: usize,
    item: Value,
    list_of: Option<Kind>,
) -> Parsed {
    let prefix = format!("items[{index}]");
    let line_of = |path: &str| match format {
        Format::Yaml => locate(&chunk.text, path).map(|l| chunk.first_line + l - 1),
        Format::Json => None,
    };
    let origin = origin.at_line(line_of(&prefix).unwrap_or(origin.line()));
    let error = |path: String, kind: ErrorKind| Error {
        line: super::field_line(&path, &kind, line_of).unwrap_or(origin.line()),
        origin: origin.clone(),
        path,
        kind,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let kind_name = text(item.get("kind"));
    let kind = kind_name.as_deref().and_then(Kind::from_name);
    let key = kind.and_then(|kind| {
        let meta = item.get("metadata");
        let name = text(meta.and_then(|m| m.get("name")))?;
        let namespace =
            text(meta.and_then(|m| m.get("namespace"))).unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        Some(ResourceKey::new(kind, namespace, name))
    });
    let reject = |key: Option<ResourceKey>, errors: Vec<Error>| -> Parsed {
        Err(Box::new(DocumentError {
            origin: origin.clone(),
            key,
            span: chunk.span.clone(),
            errors,
        }))
    };
    let kind = match (kind, kind_name) {
        (Some(kind), _) if list_of.is_none_or(|l| l == kind) => kind,
        (Some(kind), _) => {
            let list = list_of.map(Kind::as_str).unwrap_or_default();
            let e = error(
                format!("{prefix}.kind"),
                ErrorKind::Rule(format!("a {list}List holds {list} items, not {kind}")),
            );
            return reject(None, vec![e]);
        }
        (None, Some(name)) => {
            return reject(
                None,
                vec![error(format!("{prefix}.kind"), ErrorKind::UnknownKind(name))],
            )
        }
        (None, None) => {
            return reject(
                None,
                vec![error(format!("{prefix}.kind"), ErrorKind::MissingKind)],
            )
        }
    };
    let api_version = text(item.get("apiVersion")).unwrap_or_default();
    if !kind.api_versions().contains(&api_version.as_str()) {
        let e = error(
            format!("{prefix}.apiVersion"),
            ErrorKind::ApiVersion {
                kind: kind.as_str(),
                value: if api_version.is_empty() {
                    "(missing)".to_string()
                } else {
                    api_version
                },
                allowed: kind.api_versions().join(", "),
            },
        );
        return reject(key, vec![e]);
    }
    let redact = kind == Kind::Secret;
    let within = |path: &str| {
        if path.is_empty() {
            prefix.clone()
        } else {
            format!("{prefix}.{path}")
        }
    };
    let typed = typed(kind, more::ValueRef { value: &item, redact });
    let resource = match typed {
        Ok(resource) => resource,
        Err((path, message)) => {
            let mut errors = vec![error(within(&path), ErrorKind::Schema(message))];
            let repaired = more::schema_errors(kind, item, &path, redact);
            for rule in repaired.rule_errors() {
                errors.push(error(within(&rule.path), rule.kind));
            }
            for (more, message) in repaired.errors {
                errors.push(error(within(&more), ErrorKind::Schema(message)));
            }
            in_text_order(&mut errors, format);
            return reject(key, errors);
        }
    };
    let problems = crate::validate::validate(&resource);
    if !problems.is_empty() {
        let errors = problems
            .into_iter()
            .map(|p| error(format!("{prefix}.{}", p.path), p.kind))
            .collect();
        return reject(key, errors);
    }
    Ok(Document {
        origin,
        span: chunk.span.clone(),
        resource,
    })
}
