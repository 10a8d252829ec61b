//! Real peers for the fetch tests, on loopback: Debian's `docker-registry` (with or without
//! htpasswd auth), `skopeo` copying an OCI layout the test writes, `openssl` making keys and
//! signatures, and small in-process HTTP servers.
#![allow(dead_code)]

pub mod fetch;
pub mod http_server;
pub mod openssl;
pub mod registry;
pub mod skopeo;
pub mod token;

use std::path::Path;

/// A tiny valid module: the header and one custom section whose name is `tag`, so tests
/// can tell modules apart.
pub fn module(tag: &str) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    let payload_len = 1 + tag.len();
    m.push(0);
    m.push(payload_len as u8);
    m.push(tag.len() as u8);
    m.extend_from_slice(tag.as_bytes());
    m
}

/// Hex sha256, computed with the system's `sha256sum` so the tests do not trust our code.
pub fn sha256sum(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("sha256sum");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Fails with a clear message when a tool the tests need is missing (CI installs them
/// with scripts/setup), instead of passing silently.
pub fn require_tool(name: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found || Path::new("/usr/bin").join(name).is_file(),
        "`{name}` is not installed: run scripts/setup (Debian package {package})"
    );
}
