//! Keys and signatures made by `openssl`, an independent producer of what we verify.

use std::{path::Path, process::Command};

pub struct KeyPair {
    pub private_pem: String,
    pub public_pem: String,
    pub ed25519: bool,
    dir: tempfile::TempDir,
}

fn run(args: &[&str], dir: &Path) -> Vec<u8> {
    super::require_tool("openssl", "openssl");
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl KeyPair {
    /// `openssl genpkey` for ECDSA P-256 (cosign's default) or Ed25519.
    pub fn generate(ed25519: bool) -> KeyPair {
        let dir = tempfile::tempdir().unwrap();
        if ed25519 {
            run(
                &["genpkey", "-algorithm", "ed25519", "-out", "key.pem"],
                dir.path(),
            );
        } else {
            run(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "key.pem",
                ],
                dir.path(),
            );
        }
        run(
            &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
            dir.path(),
        );
        KeyPair {
            private_pem: std::fs::read_to_string(dir.path().join("key.pem")).unwrap(),
            public_pem: std::fs::read_to_string(dir.path().join("pub.pem")).unwrap(),
            ed25519,
            dir,
        }
    }

    pub fn private_key_path(&self) -> std::path::PathBuf {
        self.dir.path().join("key.pem")
    }

    /// The raw signature: DER ECDSA over SHA-256 (`openssl dgst -sha256 -sign`), or the
    /// 64-byte Ed25519 signature (`openssl pkeyutl -sign -rawin`).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let msg = self.dir.path().join("message");
        std::fs::write(&msg, message).unwrap();
        if self.ed25519 {
            run(
                &[
                    "pkeyutl", "-sign", "-inkey", "key.pem", "-rawin", "-in", "message", "-out", "sig",
                ],
                self.dir.path(),
            );
        } else {
            run(
                &["dgst", "-sha256", "-sign", "key.pem", "-out", "sig", "message"],
                self.dir.path(),
            );
        }
        std::fs::read(self.dir.path().join("sig")).unwrap()
    }

    /// The signature as a `.sig` file holds it: base64 (`openssl base64 -A`).
    pub fn sign_base64(&self, message: &[u8]) -> String {
        let sig = self.sign(message);
        std::fs::write(self.dir.path().join("sig.bin"), sig).unwrap();
        String::from_utf8(run(&["base64", "-A", "-in", "sig.bin"], self.dir.path())).unwrap()
    }

    /// Checks a signature with openssl (to test what `wasmesh sign` writes).
    pub fn openssl_verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        std::fs::write(self.dir.path().join("vmsg"), message).unwrap();
        std::fs::write(self.dir.path().join("vsig"), signature).unwrap();
        let args: Vec<&str> = if self.ed25519 {
            vec![
                "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "vmsg", "-sigfile",
                "vsig",
            ]
        } else {
            vec![
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "vsig",
                "vmsg",
            ]
        };
        Command::new("openssl")
            .args(&args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
            .status
            .success()
    }
}

/// `openssl req -x509`: a P-256 key and a certificate for `subject`, valid for a day,
/// written as `key` and `cert` in `dir`.
pub fn self_signed(dir: &Path, key: &str, cert: &str, subject: &str) {
    run(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-subj",
            subject,
            "-days",
            "1",
        ],
        dir,
    );
}

/// A private CA and a server certificate it signed for `127.0.0.1` and `localhost`:
/// (CA certificate PEM, server certificate PEM, server key PEM).
pub fn server_certificate() -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    self_signed(p, "ca.key", "ca.pem", "/CN=wasmesh test CA");
    run(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        p,
    );
    std::fs::write(
        p.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
        p,
    );
    let read = |name: &str| std::fs::read_to_string(p.join(name)).unwrap();
    (read("ca.pem"), read("server.pem"), read("server.key"))
}
