//! Self-signed certificates for tests, made with openssl (`scripts/setup` installs it), as
//! the end-to-end tests and the Gateway API table tests serve them.

use std::path::Path;

/// Writes a self-signed ECDSA P-256 certificate with the subject `subject`
/// (`/CN=localhost`) for the names `san` (`DNS:localhost,IP:127.0.0.1`), valid for a day,
/// to `cert` and its key to `key`, both PEM.
pub fn self_signed(cert: &Path, key: &Path, subject: &str, san: &str) {
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", subject])
        .args(["-addext", &format!("subjectAltName={san}")])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("openssl (scripts/setup installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
