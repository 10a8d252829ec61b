use super::*;

#[test]
fn the_realm_is_read_from_a_bearer_challenge() {
    assert_eq!(
        realm_of(r#"Bearer realm="https://auth.example/token",service="registry",scope="repository:p:pull""#),
        Some("https://auth.example/token".into())
    );
    assert_eq!(realm_of(r#"Basic realm="wasmesh-test""#), None);
    assert_eq!(realm_of("Bearer service=x"), None);
}
