//! Where a module comes from: the WasmPlugin `url` split into its scheme's form.

use crate::error::FetchError;
use oci_client::Reference;
use reqwest::Url;
use std::path::PathBuf;

/// A parsed module url.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// `file:///abs/path.wasm`
    File(PathBuf),
    /// `http://…` or `https://…`
    Http(Url),
    /// `oci://registry/repo:tag`, `…@sha256:…`, or the same without a scheme.
    Oci(Reference),
}

impl Source {
    /// Parses a WasmPlugin url. No scheme means OCI, as the API reference says.
    pub(crate) fn parse(url: &str) -> Result<Source, FetchError> {
        let invalid = |reason: String| FetchError::InvalidUrl {
            url: redact_url(url),
            reason,
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(invalid("the url is empty".into()));
        }
        match trimmed.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "file" => {
                    let parsed = Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
                    let path = parsed
                        .to_file_path()
                        .map_err(|()| invalid("a file url needs an absolute path (file:///path)".into()))?;
                    Ok(Source::File(path))
                }
                "http" | "https" => {
                    let parsed = Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
                    if parsed.host_str().is_none() {
                        return Err(invalid("the url has no host".into()));
                    }
                    Ok(Source::Http(parsed))
                }
                "oci" => parse_reference(rest).map_err(invalid),
                other => Err(invalid(format!(
                    "unsupported scheme {other:?}: use file://, http://, https:// or oci://"
                ))),
            },
            None => parse_reference(trimmed).map_err(invalid),
        }
    }
}

fn parse_reference(text: &str) -> Result<Source, String> {
    let reference: Reference = text.parse().map_err(|e| format!("not an image reference: {e}"))?;
    Ok(Source::Oci(reference))
}

/// The url as it may appear in logs and errors: no user info, and no query string
/// (pre-signed urls carry tokens there).
pub fn redact_url(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.scheme() == "http" || parsed.scheme() == "https" => {
            let had_userinfo = !parsed.username().is_empty() || parsed.password().is_some();
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            if parsed.query().is_some() {
                parsed.set_query(Some("redacted"));
            }
            let mut text = parsed.to_string();
            if had_userinfo {
                text = text.replacen("://", "://<redacted>@", 1);
            }
            text
        }
        _ => match url.split_once('@') {
            // An unparsable url with something that looks like user info before a host.
            Some((head, tail)) if head.contains("://") && head.contains(':') && !tail.contains(':') => {
                format!("<redacted>@{tail}")
            }
            _ => url.trim().to_owned(),
        },
    }
}

/// The registry of a reference as it appears in docker configs: `host[:port]`.
pub(crate) fn registry_of(reference: &Reference) -> &str {
    reference.resolve_registry()
}

#[cfg(test)]
mod tests;
