//! The plugin's configuration, checked once in `on_configure`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What to do to one direction's headers: first `remove`, then `set`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edits {
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `pluginConfig`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub request: Edits,
    #[serde(default)]
    pub response: Edits,
}

impl Rules {
    /// Parses `pluginConfig`; header names are lower-cased (HTTP/2 wants them so) and checked,
    /// `{plugin_name}` in values is replaced.
    pub fn parse(bytes: &[u8], plugin_name: &str) -> Result<Rules, String> {
        if bytes.is_empty() {
            return Ok(Rules::default());
        }
        let mut rules: Rules = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        for (direction, edits) in [("request", &mut rules.request), ("response", &mut rules.response)] {
            let set = std::mem::take(&mut edits.set);
            for (name, value) in set {
                let name = checked_name(direction, &name)?;
                if value.contains(['\r', '\n']) {
                    return Err(format!(
                        "{direction}.set.{name}: a value cannot hold a line break"
                    ));
                }
                edits
                    .set
                    .insert(name, value.replace("{plugin_name}", plugin_name));
            }
            edits.remove = edits
                .remove
                .iter()
                .map(|n| checked_name(direction, n))
                .collect::<Result<_, _>>()?;
        }
        Ok(rules)
    }
}

fn checked_name(direction: &str, name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && !name.starts_with(':')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "{direction}: {name:?} is not a header name this plugin may change"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowered_and_plugin_name_filled_in() {
        let r = Rules::parse(
            br#"{"request":{"set":{"X-Tenant":"blue"},"remove":["X-Debug"]},
                 "response":{"set":{"x-served-by":"{plugin_name}"}}}"#,
            "demo.add-headers",
        )
        .unwrap();
        assert_eq!(r.request.set.get("x-tenant").map(String::as_str), Some("blue"));
        assert_eq!(r.request.remove, vec!["x-debug"]);
        assert_eq!(
            r.response.set.get("x-served-by").map(String::as_str),
            Some("demo.add-headers")
        );
    }

    #[test]
    fn bad_names_values_and_keys_are_refused() {
        let bad = [
            (
                r#"{"request":{"set":{":path":"/admin"}}}"#,
                "\":path\" is not a header name",
            ),
            (
                r#"{"request":{"set":{"a b":"x"}}}"#,
                "\"a b\" is not a header name",
            ),
            (r#"{"response":{"set":{"x":"a\r\nset-cookie: y"}}}"#, "line break"),
            (r#"{"requests":{}}"#, "unknown field `requests`"),
        ];
        for (json, why) in bad {
            let err = Rules::parse(json.as_bytes(), "p").unwrap_err();
            assert!(err.contains(why), "{json}: {err}");
        }
    }

    #[test]
    fn no_config_changes_nothing() {
        assert_eq!(Rules::parse(b"", "p"), Ok(Rules::default()));
    }
}
