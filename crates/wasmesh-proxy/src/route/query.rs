//! A route's query parameter matches (`routes[].match.queryParams`; docs/proxy.md): the
//! parameter's first value, percent-decoded, compared as a header value is.

use std::borrow::Cow;

use super::HeaderValueMatch;

/// How a route matches one query parameter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueryMatch {
    /// Compared exactly, after percent-decoding.
    pub name: String,
    #[serde(flatten)]
    pub value: HeaderValueMatch,
}

impl QueryMatch {
    /// Whether the query string `query` (without `?`) has the parameter, its first value
    /// matching.
    pub fn matches(&self, query: Option<&str>) -> bool {
        let Some(query) = query else { return false };
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if decode(name) != self.name.as_str() {
                continue;
            }
            let value = decode(value);
            return match &self.value {
                HeaderValueMatch::Exact(v) => value == v.as_str(),
                HeaderValueMatch::Regex(r) => r.is_match(&value),
                HeaderValueMatch::Present => true,
            };
        }
        false
    }
}

/// Percent-decoded `s`; a malformed escape is kept as it is, and bytes that are not UTF-8
/// are replaced.
fn decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(name: &str, value: &str) -> QueryMatch {
        QueryMatch {
            name: name.into(),
            value: HeaderValueMatch::Exact(value.into()),
        }
    }

    #[test]
    fn the_first_value_decoded_is_compared() {
        let m = exact("animal", "blue whale");
        assert!(m.matches(Some("animal=blue%20whale")));
        assert!(m.matches(Some("x=1&animal=blue%20whale&animal=shark")));
        assert!(
            !m.matches(Some("animal=shark&animal=blue%20whale")),
            "the first value counts"
        );
        assert!(
            !m.matches(Some("Animal=blue%20whale")),
            "names are compared exactly"
        );
        assert!(!m.matches(None));
        assert!(exact("a", "").matches(Some("a")), "no `=`: an empty value");
        assert!(
            exact("a", "100%").matches(Some("a=100%")),
            "a malformed escape stays"
        );
        let re = QueryMatch {
            name: "n".into(),
            value: HeaderValueMatch::regex("[0-9]+").unwrap(),
        };
        assert!(re.matches(Some("n=42")));
        assert!(!re.matches(Some("n=42x")), "the whole value");
        let present = QueryMatch {
            name: "debug".into(),
            value: HeaderValueMatch::Present,
        };
        assert!(present.matches(Some("debug")));
    }
}
