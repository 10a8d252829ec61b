//! `as=Table` answers, as a real server gives kubectl for `kubectl get`: a CRD's
//! `additionalPrinterColumns` evaluated on each object (the JSONPath subset CRDs use:
//! fields, `[*]`, `[N]` and `[?(@.field=="value")]`), after a `Name` column, with a
//! `date` column shown as an age (`5s`, `3m`, `2h`, `4d`).

use serde_json::{json, Value};

/// Whether the client asked for a Table (kubectl's `Accept` for `get`).
pub fn wanted(accept: &str) -> bool {
    accept.split(',').any(|t| t.contains("as=Table"))
}

/// The Table of `objects` (a get's one object, or a list's items) with `columns`, the
/// `additionalPrinterColumns` of the version served. `list` holds the list's metadata.
pub fn table(objects: &[Value], columns: &[Value], list: Option<&Value>, now: u64) -> Value {
    let mut definitions = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}),
    ];
    definitions.extend(columns.iter().map(|c| {
        json!({
            "name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        })
    }));
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut cells = vec![object["metadata"]["name"].clone()];
            for c in columns {
                let found = select(object, c["jsonPath"].as_str().unwrap_or_default());
                cells.push(cell(&found, c["type"].as_str().unwrap_or("string"), now));
            }
            json!({
                "cells": cells,
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]},
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list.cloned().unwrap_or(json!({})),
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// A cell as the server renders it: nothing found is null (kubectl prints `<none>`),
/// several values are joined with commas, a `date` is an age.
fn cell(found: &[&Value], kind: &str, now: u64) -> Value {
    match found {
        [] => Value::Null,
        [one] if kind == "date" => one
            .as_str()
            .and_then(parse_rfc3339)
            .map_or(Value::Null, |then| Value::String(age(now.saturating_sub(then)))),
        [one] => (*one).clone(),
        many => Value::String(
            many.iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

/// The values `path` (`.a.b[*].c`, `.a[?(@.type=="X")].b`, `.a[0]`) selects in `object`.
pub fn select<'a>(object: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![object];
    let mut rest = path.trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Vec::new();
            };
            let selector = &inner[..close];
            rest = inner[close + 1..].trim_start_matches('.');
            current = current
                .into_iter()
                .filter_map(Value::as_array)
                .flat_map(|items| items.iter().filter(move |item| keeps(selector, item, items)))
                .collect();
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let field = &rest[..end];
            rest = rest[end..].trim_start_matches('.');
            current = current.into_iter().filter_map(|v| v.get(field)).collect();
        }
    }
    current
}

/// Whether `item` of `items` passes the bracket `selector` (`*`, `N` or a filter).
fn keeps(selector: &str, item: &Value, items: &[Value]) -> bool {
    if selector == "*" {
        return true;
    }
    if let Ok(index) = selector.parse::<usize>() {
        return items.get(index).is_some_and(|at| std::ptr::eq(at, item));
    }
    // ?(@.field=="value")
    let Some(filter) = selector.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) else {
        return false;
    };
    let Some((field, value)) = filter.split_once("==") else {
        return false;
    };
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    select(item, field.trim()).first().and_then(|v| v.as_str()) == Some(value)
}

/// `2026-12-01T09:14:05Z` (and with fractions of a second) as seconds since the epoch.
fn parse_rfc3339(text: &str) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // days from the civil date (Howard Hinnant's `days_from_civil`)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// An age as kubectl shows it: the largest unit that fits.
fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_fields_lists_indices_and_filters() {
        let object = json!({"spec": {"phase": "AUTHN", "listeners": [{"address": "a:1"}, {"address": "b:2"}]},
            "status": {"conditions": [{"type": "Accepted", "status": "True"}, {"type": "Ready", "status": "False"}]}});
        assert_eq!(select(&object, ".spec.phase"), [&json!("AUTHN")]);
        assert_eq!(
            select(&object, ".spec.listeners[*].address"),
            [&json!("a:1"), &json!("b:2")]
        );
        assert_eq!(select(&object, ".spec.listeners[1].address"), [&json!("b:2")]);
        assert_eq!(
            select(&object, ".status.conditions[?(@.type==\"Ready\")].status"),
            [&json!("False")]
        );
        assert!(select(&object, ".spec.priority").is_empty());
    }

    #[test]
    fn dates_are_ages() {
        let then = parse_rfc3339("2026-12-01T09:14:05Z").unwrap();
        assert_eq!(crate::apiserver::meta::rfc3339(then), "2026-12-01T09:14:05Z");
        assert_eq!(age(5), "5s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 86_400), "3d");
        let row = &table(
            &[json!({"metadata": {"name": "x", "creationTimestamp": "2026-12-01T09:14:05Z"}})],
            &[json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})],
            None,
            then + 30,
        )["rows"][0];
        assert_eq!(row["cells"], json!(["x", "30s"]));
    }
}
