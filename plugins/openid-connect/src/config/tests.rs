use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn minimal() -> serde_json::Value {
    serde_json::json!({
        "openid_server": "authn",
        "openid_realm": "ingress",
        "client_id": "web",
        "client_secret": "s3cr3t-value",
        "cookie_secret": SECRET,
    })
}

fn parse(v: serde_json::Value) -> Result<Config, ConfigError> {
    Config::parse(v.to_string().as_bytes())
}

#[test]
fn seed_keys_with_client_get_defaults() {
    let c = parse(minimal()).unwrap();
    assert_eq!(c.openid_server, "authn");
    assert_eq!(c.openid_authority, "authn");
    assert_eq!(
        c.discovery_path,
        "/realms/ingress/.well-known/openid-configuration"
    );
    assert_eq!(c.redirect_path, "/oauth2/callback");
    assert_eq!(c.logout_path, "/oauth2/logout");
    assert_eq!(c.scopes, vec!["openid"]);
    assert_eq!(c.cookie_name, "wasmesh-oidc");
    assert_eq!(c.state_cookie_name(), "wasmesh-oidc-state");
    assert_eq!(c.session_ttl_seconds, 3600);
}

#[test]
fn seed_example_alone_names_the_first_missing_key() {
    let err = parse(serde_json::json!({"openid_server": "authn", "openid_realm": "ingress"})).unwrap_err();
    assert_eq!(err.to_string(), "pluginConfig.client_id is required");
}

#[test]
fn unknown_key_is_refused() {
    let mut v = minimal();
    v["client_sercet"] = "x".into();
    let err = parse(v).unwrap_err().to_string();
    assert!(err.contains("unknown field `client_sercet`"), "{err}");
}

#[test]
fn verification_key_is_left_to_the_host() {
    let mut v = minimal();
    v["verificationKey"] = "-----BEGIN PUBLIC KEY-----".into();
    assert!(parse(v).is_ok());
}

#[test]
fn short_cookie_secret_is_refused_without_echoing_it() {
    let mut v = minimal();
    v["cookie_secret"] = "tooshort".into();
    let err = parse(v).unwrap_err().to_string();
    assert!(err.contains("cookie_secret: must be at least 32 bytes"), "{err}");
    assert!(!err.contains("tooshort"), "{err}");
}

#[test]
fn scopes_must_hold_openid() {
    let mut v = minimal();
    v["scopes"] = serde_json::json!(["email"]);
    assert!(parse(v)
        .unwrap_err()
        .to_string()
        .starts_with("pluginConfig.scopes:"));
}

#[test]
fn paths_must_be_absolute_and_distinct() {
    let mut v = minimal();
    v["redirect_path"] = "callback".into();
    assert!(parse(v)
        .unwrap_err()
        .to_string()
        .starts_with("pluginConfig.redirect_path:"));
    let mut v = minimal();
    v["logout_path"] = "/oauth2/callback".into();
    assert!(parse(v)
        .unwrap_err()
        .to_string()
        .starts_with("pluginConfig.logout_path:"));
}

#[test]
fn realm_cannot_smuggle_a_path() {
    let mut v = minimal();
    v["openid_realm"] = "../admin".into();
    assert!(parse(v)
        .unwrap_err()
        .to_string()
        .starts_with("pluginConfig.openid_realm:"));
}

#[test]
fn debug_redacts_secrets() {
    let c = parse(minimal()).unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains(SECRET) && !shown.contains("s3cr3t-value"),
        "{shown}"
    );
}

#[test]
fn not_json_is_refused() {
    assert!(matches!(
        Config::parse(b"openid_server: authn"),
        Err(ConfigError::Json(_))
    ));
}
