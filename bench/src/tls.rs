//! The TLS material of one run: a self-signed ECDSA P-256 certificate both proxies serve,
//! and the OpenSSL client configuration that makes the load generators offer TLS 1.3 with
//! one cipher suite only, so nginx and wasmesh negotiate the same.
//!
//! nginx is pinned on the server side as well (`ssl_protocols TLSv1.3` and
//! `ssl_conf_command Ciphersuites`); the `Proxy` kind has no cipher setting
//! (docs/proxy.md, `spec.listeners[].tls`), so for wasmesh the pin is the client's offer.

use anyhow::{bail, Context, Result};
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

/// The one TLS 1.3 cipher suite the clients offer and nginx accepts.
pub const SUITE: &str = "TLS_AES_128_GCM_SHA256";
/// The protocol version both sides must agree on.
pub const VERSION: &str = "TLSv1.3";

/// Files made once per run in `<work>/tls`.
#[derive(Debug, Clone)]
pub struct Material {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// An OpenSSL configuration (for `OPENSSL_CONF`) restricting every TLS client built
    /// on OpenSSL — wrk and h2load — to TLS 1.3 and [`SUITE`].
    pub client_conf: PathBuf,
}

impl Material {
    /// Generates a new key and certificate with the `openssl` command.
    pub fn create(work: &Path) -> Result<Material> {
        let dir = work.join("tls");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let material = Material {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            client_conf: dir.join("openssl-client.cnf"),
        };
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .arg("ec_paramgen_curve:P-256")
            .args(["-nodes", "-days", "2", "-subj", "/CN=bench"])
            .args(["-addext", "subjectAltName=DNS:bench,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&material.key)
            .arg("-out")
            .arg(&material.cert)
            .output()
            .context("running openssl (is it installed? bench/run.sh installs it)")?;
        if !out.status.success() {
            bail!(
                "openssl could not make the bench certificate: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        fs::write(&material.client_conf, client_conf())
            .with_context(|| format!("writing {}", material.client_conf.display()))?;
        Ok(material)
    }
}

/// OpenSSL's `system_default` section applies to every `SSL_CTX` a program makes after it
/// loads the configuration, which libssl does by itself (wrk sets no ciphers of its own).
fn client_conf() -> String {
    format!(
        "openssl_conf = bench_init
[bench_init]
ssl_conf = bench_ssl
[bench_ssl]
system_default = bench_client
[bench_client]
MinProtocol = {VERSION}
Ciphersuites = {SUITE}
"
    )
}

/// The nginx directives serving `material` with the same pin.
pub fn nginx_directives(material: &Material) -> String {
    format!(
        "ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols {VERSION};
    ssl_conf_command Ciphersuites {SUITE};",
        cert = material.cert.display(),
        key = material.key.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_ecdsa_p256_for_127_0_0_1() {
        let dir = std::env::temp_dir().join(format!("wasmesh-bench-tls-{}", std::process::id()));
        let m = Material::create(&dir).unwrap();
        let text = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(&m.cert)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        let _ = fs::remove_dir_all(&dir);
        assert!(text.contains("id-ecPublicKey"), "{text}");
        assert!(text.contains("NIST CURVE: P-256"), "{text}");
        assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    }

    #[test]
    fn the_client_config_offers_one_suite_of_tls_1_3() {
        let conf = client_conf();
        assert!(conf.contains("MinProtocol = TLSv1.3\n"), "{conf}");
        assert!(conf.contains("Ciphersuites = TLS_AES_128_GCM_SHA256\n"), "{conf}");
        assert!(conf.starts_with("openssl_conf = bench_init\n"), "{conf}");
    }
}
