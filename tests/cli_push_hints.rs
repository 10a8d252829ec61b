//! `wasmesh push` and `wasmesh sign`: the usual first mistakes come back with a hint.

use std::io::{Read as _, Write as _};

use crate::cli_support::wasmesh;

/// The smallest valid Wasm module: magic and version.
const MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// A server on loopback that answers every connection in plain HTTP, as a local registry
/// without TLS does.
fn plain_http_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    addr
}

#[test]
fn a_plain_http_registry_without_the_flag_says_to_add_it() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wasm");
    std::fs::write(&module, MODULE).unwrap();
    let reference = format!("{}/plugins/m:v1", plain_http_server());
    let run = wasmesh(&["push", module.to_str().unwrap(), &reference]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("\nhint: the registry does not speak TLS"),
        "{run:?}"
    );
    assert!(run.stderr.contains("add --plain-http"), "{run:?}");
}

#[test]
fn a_reference_without_a_registry_host_says_which_registry_it_means() {
    // A module that cannot be read stops the push before any network use.
    let run = wasmesh(&["push", "/nonexistent/m.wasm", "plugins/m:v1"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with("note: plugins/m:v1 names no registry host, so it means docker.io/plugins/m:v1"),
        "{run:?}"
    );
    assert!(run.stderr.contains("like localhost:5000/plugins/m:v1"), "{run:?}");
    let named = wasmesh(&["push", "/nonexistent/m.wasm", "localhost:5000/plugins/m:v1"]);
    assert!(!named.stderr.contains("note:"), "{named:?}");
}

#[test]
fn a_key_that_is_not_pem_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wasm");
    std::fs::write(&module, MODULE).unwrap();
    let key = dir.path().join("key.der");
    std::fs::write(&key, [0x30, 0x82, 0x01, 0x0a]).unwrap();
    let run = wasmesh(&["sign", "--key", key.to_str().unwrap(), module.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with(&format!("error: {}: not a PEM key", key.display())),
        "{run:?}"
    );
    let public = dir.path().join("pub.pem");
    std::fs::write(
        &public,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let run = wasmesh(&[
        "sign",
        "--key",
        public.to_str().unwrap(),
        module.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("a public key; signing needs the private key"),
        "{run:?}"
    );
}
