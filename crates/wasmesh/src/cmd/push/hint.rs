//! What `push` and `sign` add to a registry error or a reference, so that the usual first
//! mistakes say how to fix them: a registry without TLS, a reference without a registry.

#[cfg(test)]
mod tests;

/// The registry a reference goes to when it names none (the Docker rule, which
/// Istio and every OCI client follow).
const DEFAULT_REGISTRY: &str = "docker.io";

/// When `reference` names no registry host, a note saying which registry it goes to.
/// Its first part names a registry when it holds a `.` or a `:`, or is `localhost`.
pub fn default_registry_note(reference: &str) -> Option<String> {
    let bare = reference.strip_prefix("oci://").unwrap_or(reference);
    let first = bare.split_once('/').map(|(first, _)| first);
    if first.is_some_and(|f| f.contains(['.', ':']) || f == "localhost") {
        return None;
    }
    let full = match first {
        Some(_) => format!("{DEFAULT_REGISTRY}/{bare}"),
        None => format!("{DEFAULT_REGISTRY}/library/{bare}"),
    };
    Some(format!(
        "{reference} names no registry host, so it means {full} (Docker Hub); to use another \
         registry, start the reference with its host, like localhost:5000/{bare}"
    ))
}

/// A hint for a registry error `text`: the registry answered in plain HTTP where TLS was
/// expected (rustls sees a non-TLS record), and `--plain-http` was not given.
pub fn plain_http_hint(text: &str, plain_http: bool) -> Option<&'static str> {
    let not_tls = ["InvalidContentType", "corrupt message", "wrong version number"];
    (!plain_http && not_tls.iter().any(|t| text.contains(t))).then_some(
        "the registry does not speak TLS on that port; if it serves plain HTTP (a local \
         registry), add --plain-http",
    )
}
