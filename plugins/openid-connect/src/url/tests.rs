use super::*;

#[test]
fn endpoints_split_into_authority_and_path() {
    let e = Endpoint::parse("http://127.0.0.1:9090/realms/ingress/token?x=1").unwrap();
    assert_eq!(e.scheme, "http");
    assert_eq!(e.authority, "127.0.0.1:9090");
    assert_eq!(e.path, "/realms/ingress/token?x=1");
    assert_eq!(Endpoint::parse("https://idp.example").unwrap().path, "/");
}

#[test]
fn odd_urls_are_refused() {
    for bad in [
        "ftp://x/y",
        "//x/y",
        "x/y",
        "http:///y",
        "http://user@x/y",
        "http://x/y#frag",
    ] {
        assert_eq!(Endpoint::parse(bad), None, "{bad}");
    }
}

#[test]
fn query_is_appended_and_encoded() {
    let url = with_query(
        "http://idp/auth",
        &[("redirect_uri", "http://a/cb?x=1"), ("scope", "openid email")],
    );
    assert_eq!(
        url,
        "http://idp/auth?redirect_uri=http%3A%2F%2Fa%2Fcb%3Fx%3D1&scope=openid+email"
    );
    assert_eq!(
        with_query("http://idp/auth?kc=1", &[("a", "b")]),
        "http://idp/auth?kc=1&a=b"
    );
}

#[test]
fn query_params_are_decoded() {
    let p = "/oauth2/callback?code=abc%2Fdef&state=s+1&code=second";
    assert_eq!(query_param(p, "code").as_deref(), Some("abc/def"));
    assert_eq!(query_param(p, "state").as_deref(), Some("s 1"));
    assert_eq!(query_param(p, "error"), None);
    assert_eq!(query_param("/no-query", "code"), None);
    assert_eq!(path_only(p), "/oauth2/callback");
}

#[test]
fn cookies_are_found_and_stripped() {
    let h = "a=1; wasmesh-oidc=tok.en.seal;wasmesh-oidc-state=s; b=\"2\"";
    assert_eq!(cookie(h, "wasmesh-oidc"), Some("tok.en.seal"));
    assert_eq!(cookie(h, "b"), Some("2"));
    assert_eq!(cookie(h, "wasmesh"), None);
    assert_eq!(
        without_cookies(h, &["wasmesh-oidc", "wasmesh-oidc-state"]).as_deref(),
        Some("a=1; b=\"2\"")
    );
    assert_eq!(without_cookies("wasmesh-oidc=x", &["wasmesh-oidc"]), None);
}

#[test]
fn set_cookie_is_http_only_and_lax() {
    assert_eq!(
        set_cookie("n", "v", 60, false),
        "n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    );
    assert!(set_cookie("n", "", 0, true).ends_with("Max-Age=0; HttpOnly; SameSite=Lax; Secure"));
}

#[test]
fn basic_auth_encodes_each_part_first() {
    // "web:s3cr3t" in base64.
    assert_eq!(basic_auth("web", "s3cr3t"), "Basic d2ViOnMzY3IzdA==");
    // ':' in a secret is form-encoded, so the split at the first ':' stays right.
    assert_eq!(
        basic_auth("a", "b:c"),
        format!("Basic {}", STANDARD.encode("a:b%3Ac"))
    );
}
