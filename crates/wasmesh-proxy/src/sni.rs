//! A TLS listener's certificates, one of which each connection is served by: the one whose
//! names hold the name the client asks for (SNI), exactly first, then by the longest
//! wildcard (`*.example.com` stands for one label more); a certificate without `hostnames`
//! answers the names of its DNS subject alternative names. Without a match (or without
//! SNI): the first certificate without `hostnames`, else the first (docs/proxy.md, "TLS").

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use wasmesh_wasm::Certificate;

/// One certificate of a listener.
#[derive(Debug)]
pub struct SniCertificate {
    /// The names it answers, lower-case; `*.` for a wildcard.
    pub names: Vec<String>,
    /// Given without `hostnames`: a fallback for names nobody answers.
    pub fallback: bool,
    pub key: Arc<CertifiedKey>,
    /// Its subject and names, for plugins (`connection.*_local_certificate`).
    pub facts: Arc<Certificate>,
}

/// Every certificate of a listener, in the order given.
#[derive(Debug)]
pub struct SniCertificates {
    certificates: Vec<SniCertificate>,
}

impl SniCertificates {
    /// At least one certificate.
    pub fn new(certificates: Vec<SniCertificate>) -> Option<Self> {
        (!certificates.is_empty()).then_some(SniCertificates { certificates })
    }

    /// The certificate that serves a client asking for `sni`.
    pub fn pick(&self, sni: Option<&str>) -> &SniCertificate {
        let sni = sni.map(|s| s.trim_end_matches('.').to_ascii_lowercase());
        let matched = sni.as_deref().and_then(|name| {
            let exact = self
                .certificates
                .iter()
                .find(|c| c.names.iter().any(|n| n == name));
            exact.or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.certificates
                    .iter()
                    .filter_map(|c| {
                        c.names
                            .iter()
                            .filter_map(|n| n.strip_prefix("*."))
                            .filter(|suffix| *suffix == parent)
                            .map(|suffix| (suffix.len(), c))
                            .max_by_key(|(len, _)| *len)
                    })
                    .max_by_key(|(len, _)| *len)
                    .map(|(_, c)| c)
            })
        });
        matched
            .or_else(|| self.certificates.iter().find(|c| c.fallback))
            .unwrap_or(&self.certificates[0])
    }
}

impl ResolvesServerCert for SniCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()).key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificates(given: &[(&[&str], bool)]) -> SniCertificates {
        // the key is never used by `pick`: any will do
        let key = test_key();
        let list = given
            .iter()
            .enumerate()
            .map(|(i, (names, fallback))| SniCertificate {
                names: names.iter().map(|s| s.to_string()).collect(),
                fallback: *fallback,
                key: key.clone(),
                facts: Arc::new(Certificate {
                    subject: format!("CN={i}"),
                    ..Default::default()
                }),
            })
            .collect();
        SniCertificates::new(list).unwrap()
    }

    /// A key of the self-signed test certificate next to this file.
    fn test_key() -> Arc<CertifiedKey> {
        let pem = include_str!("sni/test-key.pem");
        let chain = include_str!("sni/test-cert.pem");
        let certs = rustls_pemfile::certs(&mut chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pemfile::private_key(&mut pem.as_bytes()).unwrap().unwrap();
        let provider = rustls::crypto::ring::default_provider();
        Arc::new(CertifiedKey::from_der(certs, key, &provider).unwrap())
    }

    fn picked(set: &SniCertificates, sni: Option<&str>) -> String {
        set.pick(sni).facts.subject.clone()
    }

    #[test]
    fn the_exact_name_wins_then_the_wildcard_then_the_fallback() {
        let set = certificates(&[
            (&["a.example.com"], false),
            (&["*.example.com"], false),
            (&["b.example.com", "*.b.example.com"], false),
            (&["default.test"], true),
        ]);
        assert_eq!(picked(&set, Some("a.example.com")), "CN=0");
        assert_eq!(
            picked(&set, Some("A.Example.com.")),
            "CN=0",
            "case and a final dot"
        );
        assert_eq!(picked(&set, Some("c.example.com")), "CN=1");
        assert_eq!(picked(&set, Some("b.example.com")), "CN=2");
        assert_eq!(picked(&set, Some("x.b.example.com")), "CN=2");
        assert_eq!(
            picked(&set, Some("x.y.example.com")),
            "CN=3",
            "a wildcard is one label"
        );
        assert_eq!(picked(&set, None), "CN=3");
        let no_fallback = certificates(&[(&["a.test"], false), (&["b.test"], false)]);
        assert_eq!(picked(&no_fallback, Some("c.test")), "CN=0", "the first");
    }
}
