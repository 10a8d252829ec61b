use super::*;
use crate::chain::ConnInfo;
use jsonwebtoken::{encode, EncodingKey, Header};
use std::time::{SystemTime, UNIX_EPOCH};

const SECRET: &[u8] = b"a test secret of thirty-two bytes!!";

fn jwks() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)}]})
        .to_string()
}

fn rule() -> JwtRule {
    JwtRule {
        issuer: "https://issuer.test".into(),
        audiences: vec!["shop".into()],
        keys: JwtRule::parse_jwks(&jwks()),
        locations: JwtRule::default_locations(),
        forward_original_token: false,
        output_payload_to_header: Some(HeaderName::from_static("x-jwt-payload")),
        claim_to_headers: vec![(HeaderName::from_static("x-sub"), "sub".into())],
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn token(claims: serde_json::Value) -> String {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    encode(&h, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn run(
    authn: &Authn,
    auth_header: Option<String>,
) -> (Option<u16>, Option<String>, http::HeaderMap, Option<RequestAuth>) {
    let mut b = http::Request::builder().uri("/");
    if let Some(h) = auth_header {
        b = b.header("authorization", h);
    }
    let conn = ConnInfo {
        peer: "127.0.0.1:1".parse().unwrap(),
        local: "127.0.0.1:2".parse().unwrap(),
        sni: None,
        tls: false,
    };
    let mut ex = Exchange {
        request: b.body(()).unwrap().into_parts().0,
        conn: &conn,
        auth: None,
        properties: Default::default(),
    };
    let reply = authn.on_request(&mut ex);
    let status = reply.as_ref().map(|r| r.status().as_u16());
    let body = reply.map(|r| match r.into_body() {
        ProxyBody::Full { data, .. } => String::from_utf8_lossy(&data.unwrap_or_default()).to_string(),
        _ => String::new(),
    });
    (status, body, ex.request.headers, ex.auth)
}

#[test]
fn valid_token_sets_principal_and_headers_and_drops_the_token() {
    let a = Authn::new(vec![rule()]);
    let t = token(
        serde_json::json!({"iss": "https://issuer.test", "sub": "alice", "aud": "shop", "exp": now() + 600}),
    );
    let (status, _, headers, auth) = run(&a, Some(format!("Bearer {t}")));
    assert_eq!(status, None);
    assert_eq!(auth.unwrap().principal, "https://issuer.test/alice");
    assert!(
        headers.get("authorization").is_none(),
        "forwardOriginalToken is false"
    );
    assert_eq!(headers["x-sub"], "alice");
    assert_eq!(headers["x-jwt-payload"], t.split('.').nth(1).unwrap());
}

#[test]
fn missing_token_passes_on_without_principal() {
    let a = Authn::new(vec![rule()]);
    let (status, _, _, auth) = run(&a, None);
    assert_eq!(status, None);
    assert!(auth.is_none());
}

#[test]
fn bad_tokens_get_401_with_the_reason() {
    let a = Authn::new(vec![rule()]);
    let cases = [
        (
            serde_json::json!({"iss": "https://issuer.test", "sub": "a", "aud": "shop", "exp": now() - 3600}),
            "Jwt is expired",
        ),
        (
            serde_json::json!({"iss": "https://other", "sub": "a", "aud": "shop"}),
            "Jwt issuer is not configured",
        ),
        (
            serde_json::json!({"iss": "https://issuer.test", "sub": "a", "aud": "other"}),
            "Audiences in Jwt are not allowed",
        ),
    ];
    for (claims, reason) in cases {
        let (status, body, _, _) = run(&a, Some(format!("Bearer {}", token(claims))));
        assert_eq!(status, Some(401), "{reason}");
        assert_eq!(body.as_deref(), Some(reason));
    }
    let (status, body, _, _) = run(&a, Some("Bearer not-a-jwt".into()));
    assert_eq!(status, Some(401));
    assert!(body.unwrap().starts_with("Jwt is not in the form"));
    // A token signed with another key.
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let forged = encode(
        &h,
        &serde_json::json!({"iss": "https://issuer.test", "aud": "shop"}),
        &EncodingKey::from_secret(b"another secret of thirty-two bytes"),
    )
    .unwrap();
    let (status, body, _, _) = run(&a, Some(format!("Bearer {forged}")));
    assert_eq!(
        (status, body.as_deref()),
        (Some(401), Some("Jwt verification fails"))
    );
}

#[test]
fn a_verified_token_is_remembered_only_by_the_authn_that_verified_it() {
    let t = token(
        serde_json::json!({"iss": "https://issuer.test", "sub": "erin", "aud": "shop", "exp": now() + 600}),
    );
    let a = Authn::new(vec![rule()]);
    for _ in 0..3 {
        let (status, _, _, auth) = run(&a, Some(format!("Bearer {t}")));
        assert_eq!(status, None);
        assert_eq!(auth.unwrap().principal, "https://issuer.test/erin");
    }
    // New keys (a new snapshot): the same token is checked again, and fails.
    let mut other = rule();
    let other_jwks = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        serde_json::json!({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(b"a different secret of 32+ bytes!!")}]})
            .to_string()
    };
    other.keys = JwtRule::parse_jwks(&other_jwks);
    let b = Authn::new(vec![other]);
    let (status, body, _, _) = run(&b, Some(format!("Bearer {t}")));
    assert_eq!(
        (status, body.as_deref()),
        (Some(401), Some("Jwt verification fails"))
    );
}
