//! Finding the line of a field path (`spec.match[1].ports[0].number`) in a YAML document,
//! so validation errors can point at the field and not only at the document. Best effort:
//! `None` when the text is laid out in a way this does not follow.

/// 1-based line of `path` within `text`, or of the closest enclosing flow collection
/// (`{...}` / `[...]` on one line).
pub(crate) fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let segments = split_path(path)?;
    // The block we search in: lines[start..end] deeper than `indent`.
    let (mut start, mut end, mut indent) = (0usize, lines.len(), -1isize);
    let mut found: Option<usize> = None;
    let mut i = 0;
    while i < segments.len() {
        match &segments[i] {
            Segment::Index(n) => {
                let at = found?;
                if is_flow(lines[at]) {
                    return Some(at + 1);
                }
                let item = nth_item(&lines, start, end, *n)?;
                found = Some(item);
                indent = indent_of(lines[item]);
                start = item;
                end = item_end(&lines, item);
                // The item's first key sits on the item line itself ("- key: v").
                i += 1;
                continue;
            }
            Segment::Key(_) => {
                if let Some(at) = found {
                    if is_flow(lines[at]) {
                        return Some(at + 1);
                    }
                }
                // Keys may contain dots (label keys): try the longest join first.
                let keys: Vec<&str> = segments[i..]
                    .iter()
                    .map_while(|s| match s {
                        Segment::Key(k) => Some(k.as_str()),
                        Segment::Index(_) => None,
                    })
                    .collect();
                let mut hit = None;
                for take in (1..=keys.len()).rev() {
                    let key = keys[..take].join(".");
                    if let Some(line) = find_key(&lines, start, end, indent, &key) {
                        hit = Some((line, take));
                        break;
                    }
                }
                let (line, take) = hit?;
                found = Some(line);
                let key_indent = key_indent(lines[line]);
                indent = key_indent;
                start = line + 1;
                end = block_end(&lines, line, key_indent);
                i += take;
            }
        }
    }
    found.map(|l| l + 1)
}

#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn split_path(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key.to_string()));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            out.push(Segment::Index(inner[..close].parse().ok()?));
            rest = &inner[close + 1..];
        }
    }
    Some(out)
}

fn indent_of(line: &str) -> isize {
    (line.len() - line.trim_start().len()) as isize
}

/// Indentation of the key on a line, counting a leading `- ` as indentation.
fn key_indent(line: &str) -> isize {
    let mut rest = line.trim_start();
    let mut indent = indent_of(line);
    while let Some(r) = rest.strip_prefix("- ") {
        indent += 2 + (r.len() - r.trim_start().len()) as isize;
        rest = r.trim_start();
    }
    indent
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn is_flow(line: &str) -> bool {
    let value = line.split_once(':').map_or(line, |(_, v)| v).trim_start();
    value.starts_with('{') || value.starts_with('[') || line.trim_start().starts_with("- {")
}

/// The end (exclusive) of the value of the key on `line` (indented `indent`): the first
/// later line indented no deeper, except a sequence item at the key's own indentation
/// (`key:` followed by `- item` at the same column is valid YAML).
fn block_end(lines: &[&str], line: usize, indent: isize) -> usize {
    (line + 1..lines.len())
        .find(|&j| {
            let l = lines[j];
            !is_blank(l)
                && (indent_of(l) < indent || (indent_of(l) == indent && !l.trim_start().starts_with('-')))
        })
        .unwrap_or(lines.len())
}

/// The end (exclusive) of the sequence item starting on `line`: the next line indented no
/// deeper than its dash (the next item, or the end of the sequence).
fn item_end(lines: &[&str], line: usize) -> usize {
    let indent = indent_of(lines[line]);
    (line + 1..lines.len())
        .find(|&j| !is_blank(lines[j]) && indent_of(lines[j]) <= indent)
        .unwrap_or(lines.len())
}

fn find_key(lines: &[&str], start: usize, end: usize, indent: isize, key: &str) -> Option<usize> {
    (start..end).find(|&j| {
        let line = lines[j];
        // Only keys of this block (on an item's own line the key follows the dash).
        if is_blank(line)
            || (key_indent(line) <= indent && j != start)
            || (indent < 0 && indent_of(line) != 0)
        {
            return false;
        }
        let body = line.trim_start().trim_start_matches("- ").trim_start();
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
            .iter()
            .any(|k| body.starts_with(k.as_str()))
    })
}

/// The line of the `n`-th item (`- `) of the sequence in lines[start..end].
fn nth_item(lines: &[&str], start: usize, end: usize, n: usize) -> Option<usize> {
    let items: Vec<usize> = (start..end)
        .filter(|&j| lines[j].trim_start().starts_with("- ") || lines[j].trim() == "-")
        .collect();
    let item_indent = indent_of(lines[*items.first()?]);
    items
        .into_iter()
        .filter(|&j| indent_of(lines[j]) == item_indent)
        .nth(n)
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "apiVersion: v1
kind: WasmPlugin
metadata:
  name: p
  labels:
    app.kubernetes.io/name: web
spec:
  url: x
  selector: {matchLabels: {app: web}}
  match:
  - mode: SERVER
    ports:
    - number: 80
  - mode: CLIENT
    ports:
    - number: 81
    - number: 0
  vmConfig:
    env:
    - name: A
      value: b
";

    #[test]
    fn finds_keys_items_and_dotted_label_keys() {
        assert_eq!(locate(DOC, "spec.url"), Some(8));
        assert_eq!(locate(DOC, "metadata.name"), Some(4));
        assert_eq!(locate(DOC, "metadata.labels.app.kubernetes.io/name"), Some(6));
        assert_eq!(locate(DOC, "spec.match[1].ports[1].number"), Some(17));
        assert_eq!(locate(DOC, "spec.match[0].ports[0].number"), Some(13));
        assert_eq!(locate(DOC, "spec.match[1]"), Some(14));
        assert_eq!(locate(DOC, "spec.vmConfig.env[0].value"), Some(21));
    }

    #[test]
    fn flow_collections_point_at_their_line() {
        assert_eq!(locate(DOC, "spec.selector.matchLabels.app"), Some(9));
    }

    #[test]
    fn unknown_paths_give_none() {
        assert_eq!(locate(DOC, "spec.nothing"), None);
        assert_eq!(locate(DOC, "spec.match[5]"), None);
        assert_eq!(locate(DOC, "spec.match[0].mode.x"), None);
        let no_ports = "spec:\n  match:\n  - mode: SERVER\n  - ports: []\n";
        assert_eq!(
            locate(no_ports, "spec.match[0].ports"),
            None,
            "not the next item's"
        );
        assert_eq!(locate(no_ports, "spec.match[1].ports"), Some(4));
    }
}
