//! `imagePullPolicy` and the cache: which pull policy applies, and whether a cached module
//! may serve a request.

use crate::{
    cache::{Entry, SignatureMaterial},
    cosign,
    digest::digest_hex,
    request::{Module, PullPolicy},
    source::Source,
    verify::PublicKey,
};
use bytes::Bytes;

/// `imagePullPolicy` with Istio's defaults: unset means `Always` for `:latest` (or no tag),
/// `IfNotPresent` otherwise; a digest in the url always means `IfNotPresent`.
pub(crate) fn effective_policy(policy: PullPolicy, source: &Source) -> PullPolicy {
    let Source::Oci(image) = source else {
        return if policy == PullPolicy::Always {
            PullPolicy::Always
        } else {
            PullPolicy::IfNotPresent
        };
    };
    if image.digest().is_some() {
        return PullPolicy::IfNotPresent;
    }
    match policy {
        PullPolicy::Unspecified if image.tag().is_none_or(|t| t == "latest") => PullPolicy::Always,
        PullPolicy::Unspecified => PullPolicy::IfNotPresent,
        other => other,
    }
}

/// A cached entry serves the request when the policy allows it, it matches the expected
/// digest, and (with a verification key) its stored signature verifies.
pub(crate) fn cache_hit(
    entry: &Entry,
    bytes: Bytes,
    policy: PullPolicy,
    resource: &str,
    expected: Option<&str>,
    key: Option<&PublicKey>,
    source: &Source,
) -> Option<Module> {
    if policy == PullPolicy::Always && entry.resource != resource {
        return None;
    }
    if let Some(expected) = expected {
        let have = match source {
            Source::Oci(_) => entry.manifest_digest.as_deref().map(digest_hex),
            _ => Some(entry.sha256.as_str()),
        };
        if have != Some(expected) {
            return None;
        }
    }
    if let Some(key) = key {
        let valid = match (&entry.signature, &entry.manifest_digest) {
            (Some(SignatureMaterial::Detached(sig)), _) => key.verify(&bytes, sig).is_ok(),
            (Some(SignatureMaterial::Cosign(sigs)), Some(digest)) => {
                cosign::verify_signatures(key, sigs, digest).is_ok()
            }
            _ => false,
        };
        if !valid {
            return None;
        }
    }
    Some(Module {
        bytes,
        sha256: entry.sha256.clone(),
        manifest_digest: entry.manifest_digest.clone(),
        from_cache: true,
        signature_verified: key.is_some(),
    })
}

#[cfg(test)]
mod tests;
