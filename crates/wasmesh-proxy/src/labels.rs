//! `--labels-file`: the pod's labels as the Kubernetes downward API writes them, one
//! `key="value"` a line, the value quoted as Go quotes strings (docs/kubernetes-source.md).

use std::collections::BTreeMap;
use std::path::Path;

/// Reads and parses the labels file at `path`; errors name the file and line.
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the labels file {}: {e}", path.display()))?;
    parse(&text).map_err(|(line, why)| format!("labels file {} line {line}: {why}", path.display()))
}

/// Parses the text of a labels file: `(line, what is wrong)` for the first bad line.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut labels = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err((line_no, format!("{line:?} is not key=\"value\"")));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err((line_no, format!("{line:?} has no key")));
        }
        let value = unquote(value.trim()).ok_or_else(|| {
            (
                line_no,
                format!("the value of {key} is not a double-quoted string: {value}"),
            )
        })?;
        labels.insert(key.to_string(), value);
    }
    Ok(labels)
}

/// A double-quoted string with Go's escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\xHH`,
/// `\uHHHH`); `None` when it is not one.
fn unquote(quoted: &str) -> Option<String> {
    let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => {
                let escaped = match chars.next()? {
                    '"' => '"',
                    '\\' => '\\',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    _ => return None,
                };
                out.push(escaped);
            }
            c => out.push(c),
        }
    }
    Some(out)
}

fn hex(chars: &mut std::str::Chars<'_>, digits: usize) -> Option<char> {
    let text: String = chars.take(digits).collect();
    if text.len() != digits {
        return None;
    }
    char::from_u32(u32::from_str_radix(&text, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_downward_api_format_is_read() {
        let text =
            "app=\"web\"\nistio=\"ingressgateway\"\npod-template-hash=\"6d4cf56db6\"\nnote=\"a \\\"b\\\"\"\n";
        let labels = parse(text).unwrap();
        assert_eq!(labels["app"], "web");
        assert_eq!(labels["istio"], "ingressgateway");
        assert_eq!(labels["note"], "a \"b\"");
        assert_eq!(labels.len(), 4);
        assert_eq!(parse("").unwrap().len(), 0);
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(
            parse("app=\"web\"\nistio=ingress\n").unwrap_err(),
            (
                2,
                "the value of istio is not a double-quoted string: ingress".to_string()
            )
        );
        assert_eq!(parse("just-a-word").unwrap_err().0, 1);
    }
}
