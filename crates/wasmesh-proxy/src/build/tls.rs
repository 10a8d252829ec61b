//! A listener's TLS: each certificate read from its PEM files or from its
//! `kubernetes.io/tls` Secret (in the Proxy's namespace unless `secretNamespace` names
//! another, from the same snapshot of resources), checked to fit its key, and served by the name the client asks for
//! (`crate::sni`, docs/proxy.md "TLS"). A new Secret is a new snapshot: the listener's next
//! connections take the new certificate, and those open keep theirs.

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use wasmesh_api::proxy as px;

use super::BuildError;
use crate::snapshot::ListenerTls;
use crate::sni::{SniCertificate, SniCertificates};

/// The TLS of listener `listener` of a Proxy in `namespace`.
pub fn listener_tls(
    listener: &str,
    namespace: &str,
    t: &px::ListenerTls,
    resources: &wasmesh_api::Resources,
) -> Result<ListenerTls, BuildError> {
    let err = |reason: String| BuildError::Tls {
        listener: listener.to_string(),
        reason,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut certificates = Vec::new();
    let mut sources = Vec::new();
    for c in t.all_certificates() {
        // where it comes from, as errors and the config dump name it
        let (source, chain, key) = match c.secret(namespace) {
            Some((namespace, name)) => {
                let source = format!("Secret {namespace}/{name}");
                let secret = resources
                    .secret(namespace, name)
                    .ok_or_else(|| err(format!("{source} not found")))?;
                if secret.secret_type.as_deref() != Some(wasmesh_api::secret::TLS_TYPE) {
                    return Err(err(format!(
                        "{source} has type {}, not {}",
                        secret.secret_type.as_deref().unwrap_or("Opaque"),
                        wasmesh_api::secret::TLS_TYPE
                    )));
                }
                let pair = secret.tls_pair().map_err(|e| err(format!("{source}: {e}")))?;
                (source, pair.cert_pem, pair.key_pem)
            }
            None => {
                let chain = std::fs::read(&c.cert_file)
                    .map_err(|e| err(format!("cannot read {}: {e}", c.cert_file)))?;
                let key = std::fs::read(&c.key_file)
                    .map_err(|e| err(format!("cannot read {}: {e}", c.key_file)))?;
                (format!("files {} and {}", c.cert_file, c.key_file), chain, key)
            }
        };
        let chain = rustls_pemfile::certs(&mut chain.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("{source}: the certificate: {e}")))?;
        if chain.is_empty() {
            return Err(err(format!("{source}: no PEM certificate found")));
        }
        let key = rustls_pemfile::private_key(&mut key.as_slice())
            .map_err(|e| err(format!("{source}: the key: {e}")))?
            .ok_or_else(|| err(format!("{source}: no private key found")))?;
        let key = CertifiedKey::from_der(chain.clone(), key, &provider)
            .map_err(|e| err(format!("{source}: {e}")))?;
        // What plugins read of it; a certificate rustls takes but the parser does not still
        // serves, with its facts left empty.
        let facts = match crate::certificate::read(&chain[0]) {
            Ok(facts) => facts,
            Err(why) => {
                tracing::warn!(listener, %source, "the certificate's subject and names are not readable for plugins: {why}");
                Default::default()
            }
        };
        let fallback = c.hostnames.is_empty();
        let names = if fallback {
            facts.dns_sans.iter().map(|n| n.to_ascii_lowercase()).collect()
        } else {
            c.hostnames.iter().map(|n| n.to_ascii_lowercase()).collect()
        };
        sources.push(source);
        certificates.push(SniCertificate {
            names,
            fallback,
            key: Arc::new(key),
            facts: Arc::new(facts),
        });
    }
    let certificates = Arc::new(
        SniCertificates::new(certificates).ok_or_else(|| err("no certificate is given".to_string()))?,
    );
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certificates.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ListenerTls {
        sources,
        config: Arc::new(config),
        certificates,
        handshake_timeout: t
            .handshake_timeout
            .unwrap_or(px::ListenerTls::DEFAULT_HANDSHAKE_TIMEOUT),
    })
}
