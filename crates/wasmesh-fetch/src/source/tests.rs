use super::*;

#[test]
fn schemes_are_recognised_and_no_scheme_means_oci() {
    assert!(
        matches!(Source::parse("file:///tmp/a.wasm"), Ok(Source::File(p)) if p == std::path::Path::new("/tmp/a.wasm"))
    );
    assert!(matches!(
        Source::parse("https://example.com/a.wasm"),
        Ok(Source::Http(_))
    ));
    let Ok(Source::Oci(r)) = Source::parse("oci://127.0.0.1:5000/plugins/auth:v1") else {
        panic!()
    };
    assert_eq!(r.registry(), "127.0.0.1:5000");
    assert_eq!(r.repository(), "plugins/auth");
    assert_eq!(r.tag(), Some("v1"));
    let Ok(Source::Oci(r)) = Source::parse(
        "ghcr.io/org/plugin@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ) else {
        panic!()
    };
    assert_eq!(
        r.digest(),
        Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn unknown_schemes_and_relative_files_are_refused_with_the_reason() {
    let err = Source::parse("ftp://host/a.wasm").unwrap_err().to_string();
    assert!(err.contains("unsupported scheme \"ftp\""), "{err}");
    let err = Source::parse("file://relative/a.wasm").unwrap_err().to_string();
    assert!(err.contains("absolute path"), "{err}");
    assert!(Source::parse("").is_err());
}

#[test]
fn redaction_removes_user_info_and_query() {
    assert_eq!(
        redact_url("https://user:hunter2@example.com/a.wasm?X-Amz-Signature=abc"),
        "https://<redacted>@example.com/a.wasm?redacted"
    );
    assert_eq!(redact_url("oci://ghcr.io/a/b:v1"), "oci://ghcr.io/a/b:v1");
    assert!(!redact_url("http://u:secretpw@h/x").contains("secretpw"));
}
