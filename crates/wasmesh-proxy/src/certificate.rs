//! A TLS listener's certificate as Envoy's `connection.*` attributes present it
//! (docs/wasm-host.md, "Attributes"): the subject as RFC 2253 writes it (`CN=gw,O=example`,
//! most specific first, which is OpenSSL's `XN_FLAG_RFC2253` that Envoy prints with), and
//! the URI and DNS subject alternative names. Read once when the listener is built; each
//! connection shares it with the version it negotiated.

use std::sync::Arc;

use wasmesh_wasm::{Certificate, ConnectionTls};
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::x509::X509Name;

/// The facts of a DER certificate; `Err` says why it could not be read.
pub fn read(der: &[u8]) -> Result<Certificate, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut facts = Certificate {
        subject: rfc2253(cert.subject()),
        ..Default::default()
    };
    if let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(uri) => facts.uri_sans.push((*uri).to_owned()),
                GeneralName::DNSName(dns) => facts.dns_sans.push((*dns).to_owned()),
                _ => {}
            }
        }
    }
    Ok(facts)
}

/// A TLS connection of a listener whose certificate is `local`: `TLSv1.2` or `TLSv1.3`,
/// as Envoy names them (no client certificates are asked for: no peer).
pub fn connection(version: Option<rustls::ProtocolVersion>, local: &Arc<Certificate>) -> ConnectionTls {
    let version = match version {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "unknown",
    };
    ConnectionTls {
        version,
        local: local.clone(),
        peer: None,
    }
}

/// RFC 2253's string of a name: its RDNs in reverse order, `,`-separated, the values of
/// a multi-valued RDN `+`-joined, each `SHORT=value`; an attribute without a short name
/// is its dotted OID with the value as `#` and hex, as OpenSSL prints it.
fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type();
                    let key = oid2abbrev(oid, oid_registry())
                        .map(str::to_owned)
                        .unwrap_or_else(|_| oid.to_id_string());
                    match attr.as_str() {
                        Ok(value) => format!("{key}={}", escape(value)),
                        Err(_) => format!("{key}=#{}", hex(attr.as_slice())),
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// RFC 2253's escaping of a value: `,+"\<>;` with a backslash, a leading `#` or space
/// and a trailing space too; control and non-ASCII bytes as `\XX` (OpenSSL's
/// `ESC_CTRL`/`ESC_MSB`).
fn escape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    for (i, &b) in bytes.iter().enumerate() {
        let edge = (i == 0 && (b == b'#' || b == b' ')) || (i + 1 == bytes.len() && b == b' ');
        if edge || b",+\"\\<>;".contains(&b) {
            out.push('\\');
            out.push(b as char);
        } else if !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_rfc_2253_says() {
        assert_eq!(escape("gw"), "gw");
        assert_eq!(escape("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape("#x "), "\\#x\\ ");
        assert_eq!(escape("é"), "\\C3\\A9");
    }

    #[test]
    fn not_a_certificate_says_why() {
        assert!(read(b"not DER").is_err());
    }
}
