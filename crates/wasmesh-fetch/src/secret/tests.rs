use super::*;

#[test]
fn auth_field_username_password_and_registry_token_are_understood() {
    let json = format!(
        r#"{{"auths": {{
            "127.0.0.1:5000": {{"auth": "{}"}},
            "https://index.docker.io/v1/": {{"username": "bob", "password": "pw2"}},
            "ghcr.io": {{"registrytoken": "tok"}}
        }}}}"#,
        STANDARD.encode("alice:s3cret:with:colons")
    );
    let cfg = DockerConfigJson::from_json(json.as_bytes()).unwrap();
    assert_eq!(
        cfg.credentials_for("127.0.0.1:5000"),
        Some(&Credentials::Basic {
            username: "alice".into(),
            password: "s3cret:with:colons".into()
        })
    );
    assert_eq!(
        cfg.credentials_for("registry-1.docker.io"),
        Some(&Credentials::Basic {
            username: "bob".into(),
            password: "pw2".into()
        })
    );
    assert_eq!(
        cfg.credentials_for("ghcr.io"),
        Some(&Credentials::Bearer("tok".into()))
    );
    assert_eq!(cfg.credentials_for("127.0.0.1:5001"), None);
}

#[test]
fn debug_and_errors_never_show_the_secret() {
    let json = format!(
        r#"{{"auths": {{"r:1": {{"auth": "{}"}}}}}}"#,
        STANDARD.encode("alice:topsecret")
    );
    let cfg = DockerConfigJson::from_json(json.as_bytes()).unwrap();
    let shown = format!("{cfg:?} {:?}", cfg.credentials_for("r:1").unwrap());
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(shown.contains("alice"));

    let err = DockerConfigJson::from_json(br#"{"auths": {"r:1": {"auth": "topsecret!!"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("topsecret"), "{err}");
    assert!(err.contains("auths[\"r:1\"].auth"), "{err}");
    let err = DockerConfigJson::from_json(br#"{"auths": "topsecret"#)
        .unwrap_err()
        .to_string();
    assert!(!err.contains("topsecret"), "{err}");
}

#[test]
fn secret_data_is_base64_of_the_json() {
    let json = r#"{"auths":{"r:1":{"username":"u","password":"p"}}}"#;
    let cfg = DockerConfigJson::from_base64(&STANDARD.encode(json)).unwrap();
    assert_eq!(cfg.registries().collect::<Vec<_>>(), vec!["r:1"]);
    assert!(DockerConfigJson::from_base64("%%%").is_err());
}

proptest::proptest! {
    /// Whatever a bad secret holds, the error does not repeat it.
    #[test]
    fn errors_never_echo_secret_content(secret in "[A-Za-z0-9!@#%^&*]{8,24}") {
        for json in [
            format!(r#"{{"auths": {{"r:1": {{"auth": "{secret}!"}}}}}}"#),
            format!(r#"{{"auths": {{"r:1": {{"auth": {secret}}}}}}}"#),
            format!(r#"{{"auths": ["{secret}"]}}"#),
        ] {
            if let Err(e) = DockerConfigJson::from_json(json.as_bytes()) {
                proptest::prop_assert!(!e.to_string().contains(&secret), "{}", e);
            }
        }
    }
}
