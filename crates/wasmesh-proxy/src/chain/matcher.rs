//! Istio's string matching for AuthorizationPolicy values: exact, `prefix*`, `*suffix`, and
//! `*` (any non-empty value).

/// One value pattern of an AuthorizationPolicy field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// `*`: any value, but the value must be present.
    Present,
}

impl StringMatch {
    pub fn parse(pattern: &str) -> Self {
        if pattern == "*" {
            StringMatch::Present
        } else if let Some(p) = pattern.strip_suffix('*') {
            StringMatch::Prefix(p.to_string())
        } else if let Some(s) = pattern.strip_prefix('*') {
            StringMatch::Suffix(s.to_string())
        } else {
            StringMatch::Exact(pattern.to_string())
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(e) => value == e,
            StringMatch::Prefix(p) => value.starts_with(p.as_str()),
            StringMatch::Suffix(s) => value.ends_with(s.as_str()),
            StringMatch::Present => !value.is_empty(),
        }
    }

    /// Host matching is case-insensitive, as in Istio.
    pub fn matches_ignore_case(&self, value: &str) -> bool {
        let lower = value.to_ascii_lowercase();
        match self {
            StringMatch::Exact(e) => lower == e.to_ascii_lowercase(),
            StringMatch::Prefix(p) => lower.starts_with(&p.to_ascii_lowercase()),
            StringMatch::Suffix(s) => lower.ends_with(&s.to_ascii_lowercase()),
            StringMatch::Present => !lower.is_empty(),
        }
    }
}

/// A field with positive and negative patterns (`paths` / `notPaths`). An empty positive
/// list matches anything; any negative match rules the value out.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub any_of: Vec<StringMatch>,
    pub none_of: Vec<StringMatch>,
}

impl Patterns {
    pub fn new(any_of: &[String], none_of: &[String]) -> Self {
        Patterns {
            any_of: any_of.iter().map(|p| StringMatch::parse(p)).collect(),
            none_of: none_of.iter().map(|p| StringMatch::parse(p)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.any_of.is_empty() && self.none_of.is_empty()
    }

    /// Matches one value (absent values are the empty string).
    pub fn matches(&self, value: &str, ignore_case: bool) -> bool {
        let m = |p: &StringMatch| {
            if ignore_case {
                p.matches_ignore_case(value)
            } else {
                p.matches(value)
            }
        };
        (self.any_of.is_empty() || self.any_of.iter().any(m)) && !self.none_of.iter().any(m)
    }

    /// Matches a field with several values (a list claim): any value may satisfy `any_of`,
    /// and no value may satisfy `none_of`.
    pub fn matches_any(&self, values: &[String]) -> bool {
        let pos = self.any_of.is_empty() || values.iter().any(|v| self.any_of.iter().any(|p| p.matches(v)));
        let neg = values.iter().any(|v| self.none_of.iter().any(|p| p.matches(v)));
        pos && !neg
    }
}
