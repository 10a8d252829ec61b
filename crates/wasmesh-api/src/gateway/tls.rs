//! An HTTPS listener's `tls` as the Proxy's (docs/gateway-api.md, "HTTPS listeners"):
//! `mode: Terminate` (the default) with `certificateRefs` to `kubernetes.io/tls` Secrets of
//! the Gateway's namespace, or of another one that a ReferenceGrant there opens to
//! Gateways of its namespace, becomes certificates of the Proxy's listener, each by its
//! Secret's name (`tls.certificates[].secretName`, with `secretNamespace` when another),
//! for the listener's `hostname` (the client's SNI picks it). A reference that does not resolve is a note of kind
//! [`NoteKind::InvalidCertificateRef`] (or [`NoteKind::RefNotPermitted`] across namespaces),
//! the reason the listener's `ResolvedRefs` condition gives; a listener without one
//! certificate that resolves is not served.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::grants::{reference_granted, GATEWAY, SECRET};
use super::types::{GatewayListener, ReferenceGrant};
use super::{Note, NoteKind};
use crate::meta::NamespacedName;
use crate::proxy::TlsCertificate;
use crate::secret::{Secret, TLS_TYPE};

/// The Secrets certificateRefs may name, as followed: each valid, or why it is not.
pub type Secrets = BTreeMap<NamespacedName, Result<Arc<Secret>, String>>;

/// `tls.mode`, `Terminate` when unset.
pub fn mode(listener: &GatewayListener) -> &str {
    listener
        .tls
        .as_ref()
        .and_then(|t| t.mode.as_deref())
        .unwrap_or("Terminate")
}

/// Is the listener's protocol one wasmesh serves: HTTP, or HTTPS terminated here?
pub fn protocol_served(listener: &GatewayListener) -> bool {
    listener.protocol == "HTTP" || (listener.protocol == "HTTPS" && mode(listener) == "Terminate")
}

/// The Secrets (namespace, name) an HTTPS listener of a Gateway in `namespace` names, which
/// the source must follow: of the Gateway's namespace, or of another that one of `grants`
/// opens to the Gateway.
pub fn wanted_secrets<'a>(
    namespace: &'a str,
    listeners: &'a [GatewayListener],
    grants: &'a [ReferenceGrant],
) -> impl Iterator<Item = NamespacedName> + 'a {
    listeners
        .iter()
        .filter(|l| l.protocol == "HTTPS" && mode(l) == "Terminate")
        .filter_map(|l| l.tls.as_ref())
        .flat_map(|t| t.certificate_refs.iter())
        .filter(|r| {
            r.group.as_deref().unwrap_or_default().is_empty()
                && r.kind.as_deref().unwrap_or("Secret") == "Secret"
        })
        .map(move |r| NamespacedName {
            namespace: r.namespace.clone().unwrap_or_else(|| namespace.to_string()),
            name: r.name.clone(),
        })
        .filter(move |n| reference_granted(grants, GATEWAY, namespace, SECRET, &n.namespace, &n.name))
}

/// The certificates of the HTTPS listener `spec.listeners[index]` of the Gateway `gateway`
/// (in `namespace`); empty when none resolves, and then the listener is not served. Every
/// reference that does not resolve is a note.
pub fn certificates(
    gateway: &str,
    namespace: &str,
    index: usize,
    listener: &GatewayListener,
    secrets: &Secrets,
    grants: &[ReferenceGrant],
    notes: &mut Vec<Note>,
) -> Vec<TlsCertificate> {
    let at = format!("spec.listeners[{index}].tls");
    let mut note = |kind: NoteKind, field: String, message: String| {
        notes.push(Note {
            kind,
            object: gateway.to_string(),
            field,
            message,
        })
    };
    let Some(tls) = listener.tls.as_ref().filter(|t| !t.certificate_refs.is_empty()) else {
        note(
            NoteKind::InvalidCertificateRef,
            format!("{at}.certificateRefs"),
            format!(
                "listener {} is HTTPS with no certificateRefs: it is not served",
                listener.name
            ),
        );
        return Vec::new();
    };
    if tls
        .options
        .as_ref()
        .is_some_and(|o| o.as_object().is_none_or(|o| !o.is_empty()))
    {
        note(
            NoteKind::Unimplemented,
            format!("{at}.options"),
            "not implemented yet; the TLS options are not read".into(),
        );
    }
    if tls.frontend_validation.is_some() {
        note(
            NoteKind::Unimplemented,
            format!("{at}.frontendValidation"),
            "client certificates are not asked for yet; not read".into(),
        );
    }
    let mut out = Vec::new();
    for (r, reference) in tls.certificate_refs.iter().enumerate() {
        let field = format!("{at}.certificateRefs[{r}]");
        let group = reference.group.as_deref().unwrap_or_default();
        let kind = reference.kind.as_deref().unwrap_or("Secret");
        if !group.is_empty() || kind != "Secret" {
            let group = if group.is_empty() { "core" } else { group };
            note(
                NoteKind::InvalidCertificateRef,
                field,
                format!("{kind} of group {group} is not a Secret; only Secrets are read"),
            );
            continue;
        }
        let wanted = NamespacedName {
            namespace: reference
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.to_string()),
            name: reference.name.clone(),
        };
        if !reference_granted(
            grants,
            GATEWAY,
            namespace,
            SECRET,
            &wanted.namespace,
            &wanted.name,
        ) {
            note(
                NoteKind::RefNotPermitted,
                field,
                format!(
                    "Secret {wanted} is in another namespace than the Gateway, and no \
                     ReferenceGrant in namespace {} allows Gateways of namespace {namespace} \
                     to refer to it; not used",
                    wanted.namespace
                ),
            );
            continue;
        }
        let why = match secrets.get(&wanted) {
            None => format!("Secret {wanted} not found"),
            Some(Err(why)) => format!("Secret {wanted} is invalid: {why}"),
            Some(Ok(secret)) if secret.secret_type.as_deref() != Some(TLS_TYPE) => format!(
                "Secret {wanted} has type {}, not {TLS_TYPE}",
                secret.secret_type.as_deref().unwrap_or("Opaque")
            ),
            Some(Ok(secret)) => match secret.tls_pair() {
                Err(e) => format!("Secret {wanted}: {e}"),
                Ok(_) => {
                    out.push(TlsCertificate {
                        hostnames: listener.hostname.iter().cloned().collect(),
                        secret_name: Some(wanted.name.clone()),
                        secret_namespace: (wanted.namespace != namespace).then(|| wanted.namespace.clone()),
                        ..TlsCertificate::default()
                    });
                    continue;
                }
            },
        };
        note(NoteKind::InvalidCertificateRef, field, format!("{why}; not used"));
    }
    if out.is_empty() {
        note(
            NoteKind::InvalidCertificateRef,
            format!("{at}.certificateRefs"),
            format!(
                "listener {}: no certificateRef resolves to a {TLS_TYPE} Secret; it is not served",
                listener.name
            ),
        );
    }
    out
}
