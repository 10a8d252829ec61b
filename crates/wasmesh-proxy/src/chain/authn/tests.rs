use super::*;
use crate::chain::head::SharedHead;
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
    run_request(authn, b)
}

/// Runs the filter on the request `b` builds: (status of a local reply, its body, the
/// headers going on, what authn learned).
fn run_request(
    authn: &Authn,
    b: http::request::Builder,
) -> (Option<u16>, Option<String>, http::HeaderMap, Option<RequestAuth>) {
    let conn = ConnInfo {
        id: 1,
        peer: "127.0.0.1:1".parse().unwrap(),
        local: "127.0.0.1:2".parse().unwrap(),
        sni: None,
        tls: None,
    };
    let mut ex = Exchange {
        head: SharedHead::new(b.body(()).unwrap().into_parts().0, false),
        conn: &conn,
        auth: None,
        plugin_info: None,
    };
    let reply = authn.on_request(&mut ex);
    let status = reply.as_ref().map(|r| r.status().as_u16());
    let body = reply.map(|r| match r.into_body() {
        ProxyBody::Full { data, .. } => String::from_utf8_lossy(&data.unwrap_or_default()).to_string(),
        _ => String::new(),
    });
    let headers = ex.request().headers.clone();
    (status, body, headers, ex.auth)
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

fn good(sub: &str) -> String {
    token(serde_json::json!({"iss": "https://issuer.test", "sub": sub, "aud": "shop", "exp": now() + 600}))
}

/// A token whose JWS header is `header` as given, signed with the test key.
fn token_with_header(header: serde_json::Value, claims: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{sig}")
}

fn refused(result: (Option<u16>, Option<String>, http::HeaderMap, Option<RequestAuth>)) -> String {
    assert_eq!(result.0, Some(401), "{:?}", result.1);
    assert!(result.3.is_none());
    result.1.unwrap()
}

#[test]
fn a_bad_token_beside_a_good_one_is_refused_wherever_each_is() {
    let a = Authn::new(vec![rule()]);
    let (ok, other_key) = (good("alice"), {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        encode(
            &h,
            &serde_json::json!({"iss": "https://issuer.test", "sub": "mallory", "aud": "shop"}),
            &EncodingKey::from_secret(b"another secret of thirty-two bytes"),
        )
        .unwrap()
    });
    // Good in the header, bad in the query, and the other way round.
    let b = http::Request::builder()
        .uri(format!("/?access_token={other_key}"))
        .header("authorization", format!("Bearer {ok}"));
    assert_eq!(refused(run_request(&a, b)), "Jwt verification fails");
    let b = http::Request::builder()
        .uri(format!("/?x=1&access_token={ok}"))
        .header("authorization", format!("Bearer {other_key}"));
    assert_eq!(refused(run_request(&a, b)), "Jwt verification fails");
    // The query parameter given twice, and the parameter's name percent-encoded.
    let b = http::Request::builder().uri(format!("/?access_token={ok}&access_token=junk"));
    assert!(refused(run_request(&a, b)).starts_with("Jwt is not in the form"));
    let b = http::Request::builder()
        .uri(format!("/?access%5Ftoken={other_key}"))
        .header("authorization", format!("Bearer {ok}"));
    assert_eq!(refused(run_request(&a, b)), "Jwt verification fails");
    // The header sent twice.
    let b = http::Request::builder()
        .header("authorization", format!("Bearer {ok}"))
        .header("authorization", "Bearer junk");
    assert!(refused(run_request(&a, b)).starts_with("Jwt is not in the form"));
    // An expired token beside a good one.
    let expired =
        token(serde_json::json!({"iss": "https://issuer.test", "aud": "shop", "exp": now() - 3600}));
    let b = http::Request::builder()
        .uri(format!("/?access_token={expired}"))
        .header("authorization", format!("Bearer {ok}"));
    assert_eq!(refused(run_request(&a, b)), "Jwt is expired");
    // Two good tokens pass; the first gives the principal, each writes its payload.
    let bob = good("bob");
    let b = http::Request::builder()
        .uri(format!("/?access_token={bob}"))
        .header("authorization", format!("Bearer {ok}"));
    let (status, _, headers, auth) = run_request(&a, b);
    assert_eq!(status, None);
    assert_eq!(auth.unwrap().principal, "https://issuer.test/alice");
    let subs: Vec<_> = headers.get_all("x-sub").iter().collect();
    assert_eq!(subs, ["alice", "bob"]);
    assert!(headers.get("authorization").is_none());
    // The same token in both places writes its headers once.
    let b = http::Request::builder()
        .uri(format!("/?access_token={ok}"))
        .header("authorization", format!("Bearer {ok}"));
    let (status, _, headers, _) = run_request(&a, b);
    assert_eq!(status, None);
    assert_eq!(headers.get_all("x-jwt-payload").iter().count(), 1);
}

#[test]
fn every_cookie_and_header_of_a_rule_is_checked() {
    let mut r = rule();
    r.locations = vec![
        TokenLocation::Header {
            name: HeaderName::from_static("x-token"),
            prefix: String::new(),
        },
        TokenLocation::Cookie("session".into()),
    ];
    let a = Authn::new(vec![r]);
    let ok = good("carol");
    let b = http::Request::builder()
        .header("x-token", &ok)
        .header("cookie", "a=1; session=junk");
    assert!(refused(run_request(&a, b)).starts_with("Jwt is not in the form"));
    let b = http::Request::builder()
        .header("cookie", format!("session=\"{ok}\""))
        .header("cookie", "session=junk");
    assert!(refused(run_request(&a, b)).starts_with("Jwt is not in the form"));
    let b = http::Request::builder().header("cookie", format!("a=1; session={ok}"));
    let (status, _, _, auth) = run_request(&a, b);
    assert_eq!(status, None);
    assert_eq!(auth.unwrap().principal, "https://issuer.test/carol");
    // The default places are not read by this rule: a token there is not looked at.
    let b = http::Request::builder().header("authorization", "Bearer junk");
    assert_eq!(run_request(&a, b).0, None);
}

#[test]
fn a_token_in_a_place_its_issuer_does_not_read_is_refused() {
    let mut other = rule();
    other.issuer = "https://other.test".into();
    other.locations = vec![TokenLocation::Header {
        name: HeaderName::from_static("x-other"),
        prefix: String::new(),
    }];
    let a = Authn::new(vec![rule(), other]);
    let ok = good("dave");
    assert_eq!(run(&a, Some(format!("Bearer {ok}"))).0, None, "cached now");
    // The issuer's rule reads Authorization and access_token, not x-other: even cached.
    let b = http::Request::builder().header("x-other", &ok);
    assert_eq!(refused(run_request(&a, b)), "Jwt issuer is not configured");
}

#[test]
fn numeric_dates_must_be_numbers() {
    let a = Authn::new(vec![rule()]);
    let far = now() + 600;
    for (name, value, reason) in [
        (
            "exp",
            serde_json::json!(far.to_string()),
            "Jwt payload [exp] field is not an integer",
        ),
        (
            "nbf",
            serde_json::json!("0"),
            "Jwt payload [nbf] field is not an integer",
        ),
        (
            "iat",
            serde_json::json!("0"),
            "Jwt payload [iat] field is not an integer",
        ),
        (
            "exp",
            serde_json::Value::Null,
            "Jwt payload [exp] field is not an integer",
        ),
        (
            "exp",
            serde_json::json!(-1),
            "Jwt payload [exp] field is not a positive 64 bit integer",
        ),
        (
            "iat",
            serde_json::json!(1e30),
            "Jwt payload [iat] field is not a positive 64 bit integer",
        ),
    ] {
        let mut claims = serde_json::json!({"iss": "https://issuer.test", "sub": "a", "aud": "shop"});
        claims[name] = value;
        assert_eq!(
            refused(run(&a, Some(format!("Bearer {}", token(claims))))),
            reason,
            "{name}"
        );
    }
    // A fraction counts: an `exp` an hour ago with a fraction is expired, also when cached
    // after it was valid (the cached `exp` is the same number).
    let t = token(
        serde_json::json!({"iss": "https://issuer.test", "aud": "shop", "exp": (now() - 3600) as f64 + 0.5}),
    );
    assert_eq!(refused(run(&a, Some(format!("Bearer {t}")))), "Jwt is expired");
    let t = token(
        serde_json::json!({"iss": "https://issuer.test", "sub": "f", "aud": "shop", "exp": (now() + 600) as f64 + 0.5, "iat": 1.5}),
    );
    assert_eq!(run(&a, Some(format!("Bearer {t}"))).0, None);
    // Other registered claims of the wrong type.
    for (claims, reason) in [
        (
            serde_json::json!({"iss": 1, "aud": "shop"}),
            "Jwt payload [iss] field is not a string",
        ),
        (
            serde_json::json!({"iss": "https://issuer.test", "sub": 1, "aud": "shop"}),
            "Jwt payload [sub] field is not a string",
        ),
        (
            serde_json::json!({"iss": "https://issuer.test", "aud": ["shop", 1]}),
            "Jwt payload [aud] field is not a string or string list",
        ),
    ] {
        assert_eq!(
            refused(run(&a, Some(format!("Bearer {}", token(claims))))),
            reason
        );
    }
}

#[test]
fn a_crit_header_is_refused() {
    let a = Authn::new(vec![rule()]);
    let claims =
        serde_json::json!({"iss": "https://issuer.test", "sub": "g", "aud": "shop", "exp": now() + 600});
    let plain = token_with_header(serde_json::json!({"alg": "HS256", "kid": "k1"}), claims.clone());
    assert_eq!(
        run(&a, Some(format!("Bearer {plain}"))).0,
        None,
        "hand-made tokens verify"
    );
    for crit in [
        serde_json::json!(["exp"]),
        serde_json::json!(["b64"]),
        serde_json::json!([]),
    ] {
        let t = token_with_header(
            serde_json::json!({"alg": "HS256", "kid": "k1", "crit": crit, "exp": 1}),
            claims.clone(),
        );
        assert_eq!(
            refused(run(&a, Some(format!("Bearer {t}")))),
            "Jwt verification fails",
            "{crit}"
        );
    }
    let t = token_with_header(serde_json::json!({"alg": "none"}), claims.clone());
    assert_eq!(
        refused(run(&a, Some(format!("Bearer {t}")))),
        "Jwt header [alg] is not supported"
    );
    let t = token_with_header(serde_json::json!({"alg": "HS256", "kid": 7}), claims);
    assert_eq!(
        refused(run(&a, Some(format!("Bearer {t}")))),
        "Jwt header [kid] field is not a string"
    );
}

#[test]
fn output_headers_from_the_client_are_removed_with_or_without_a_token() {
    let a = Authn::new(vec![rule()]);
    let forge = |b: http::request::Builder| {
        b.header("x-jwt-payload", "eyJzdWIiOiJhZG1pbiJ9")
            .header("x-sub", "admin")
    };
    // No token.
    let (status, _, headers, auth) = run_request(&a, forge(http::Request::builder()));
    assert_eq!(status, None);
    assert!(auth.is_none());
    assert!(
        headers.get("x-jwt-payload").is_none() && headers.get("x-sub").is_none(),
        "{headers:?}"
    );
    // A header without the prefix is no token either.
    let b = forge(http::Request::builder().header("authorization", "Basic YTpi"));
    let (status, _, headers, _) = run_request(&a, b);
    assert_eq!(status, None);
    assert!(headers.get("x-jwt-payload").is_none() && headers.get("x-sub").is_none());
    assert_eq!(headers["authorization"], "Basic YTpi");
    // A good token: only what the filter wrote.
    let t = good("henry");
    let (status, _, headers, _) = run_request(
        &a,
        forge(http::Request::builder().header("authorization", format!("Bearer {t}"))),
    );
    assert_eq!(status, None);
    let subs: Vec<_> = headers.get_all("x-sub").iter().collect();
    assert_eq!(subs, ["henry"]);
    let payloads: Vec<_> = headers.get_all("x-jwt-payload").iter().collect();
    assert_eq!(payloads, [t.split('.').nth(1).unwrap()]);
    // Another rule's output headers are removed too.
    let mut other = rule();
    other.issuer = "https://other.test".into();
    other.output_payload_to_header = Some(HeaderName::from_static("x-other-payload"));
    other.claim_to_headers = vec![];
    let a = Authn::new(vec![rule(), other]);
    let b = http::Request::builder().header("x-other-payload", "forged");
    assert!(run_request(&a, b).2.get("x-other-payload").is_none());
}

#[test]
fn a_cached_token_does_not_let_a_bad_second_token_through() {
    let a = Authn::new(vec![rule()]);
    let ok = good("ivy");
    for _ in 0..2 {
        assert_eq!(run(&a, Some(format!("Bearer {ok}"))).0, None);
    }
    // The good one is a cache hit now; the other is still checked.
    let forged = {
        let mut parts: Vec<String> = ok.split('.').map(String::from).collect();
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        parts[1] = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"iss": "https://issuer.test", "sub": "admin", "aud": "shop", "exp": now() + 600}).to_string(),
        );
        parts.join(".")
    };
    let b = http::Request::builder()
        .uri(format!("/?access_token={forged}"))
        .header("authorization", format!("Bearer {ok}"));
    assert_eq!(refused(run_request(&a, b)), "Jwt verification fails");
    // Nor does the good token answered from the cache make a bad one good later.
    assert_eq!(
        refused(run(&a, Some(format!("Bearer {forged}")))),
        "Jwt verification fails"
    );
    assert_eq!(run(&a, Some(format!("Bearer {ok}"))).0, None);
}
