//! The TLS facts of a downstream connection, for Envoy's `connection.*` TLS attributes
//! (docs/wasm-host.md, "Attributes"): the negotiated version, and the subject and
//! subject alternative names of the listener's certificate and of the client's, as Envoy
//! presents them.

use std::sync::Arc;

/// A TLS connection as plugins see it. Made once per connection, shared by its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionTls {
    /// `connection.tls_version`: `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// The certificate this side presented (the listener's).
    pub local: Arc<Certificate>,
    /// The client's certificate, when it presented one (`connection.mtls`).
    pub peer: Option<Arc<Certificate>>,
}

/// What Envoy's attributes tell of one certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certificate {
    /// The subject as RFC 2253 writes it (`CN=gw,O=example`), as Envoy gives it.
    pub subject: String,
    /// The URI subject alternative names, in order (Envoy's attribute is the first).
    pub uri_sans: Vec<String>,
    /// The DNS subject alternative names, in order (Envoy's attribute is the first).
    pub dns_sans: Vec<String>,
    /// The SHA-256 digest of the certificate's DER bytes, lower-case hex.
    pub sha256_digest: String,
}
