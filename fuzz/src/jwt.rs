//! `jwt`: the built-in `authn` filter (RequestAuthentication) on arbitrary tokens.
//!
//! The first byte picks what the rest is:
//! - 0: a token as a client sends it (`authorization: Bearer …`, else `?access_token=`);
//! - 1: a JWT header and claims (JSON or not), split at the first newline, which the
//!   harness encodes and signs with the rules' HS256 key, so the claim checks after the
//!   signature are reached;
//! - 2: a JWKS document for `JwtRule::parse_jwks`.
//!
//! Properties: no panic; a request is passed on or answered 401, nothing else; a token
//! seen again (the worker's cache of verified tokens) gets the same verdict and principal;
//! an accepted token names a configured issuer, and the audience a rule requires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{header, HeaderValue, Request, StatusCode, Uri};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use wasmesh_proxy::chain::authn::{Authn, JwtRule};
use wasmesh_proxy::chain::head::SharedHead;
use wasmesh_proxy::chain::{ConnInfo, Exchange};

/// The HS256 secret of the rules' JWKS.
const SECRET: &[u8] = b"wasmesh-fuzz-secret";
/// A rule that takes any audience.
const ISSUER: &str = "https://issuer.fuzz.example";
/// A rule that requires `AUDIENCE`.
const ISSUER_WITH_AUDIENCE: &str = "https://audience.fuzz.example";
const AUDIENCE: &str = "fuzz-audience";

pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check_token(&String::from_utf8_lossy(rest)),
        1 => {
            let (header, claims) = match rest.iter().position(|&b| b == b'\n') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b""[..]),
            };
            check_token(&signed(header, claims));
        }
        _ => {
            let _ = JwtRule::parse_jwks(&String::from_utf8_lossy(rest));
        }
    }
}

/// `header.claims.signature`, signed with the rules' key whatever the header says.
fn signed(header: &[u8], claims: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET),
        Algorithm::HS256,
    )
    .expect("HS256 signs anything");
    format!("{message}.{signature}")
}

fn authn() -> Authn {
    let jwks = format!(
        r#"{{"keys":[{{"kty":"oct","alg":"HS256","kid":"fuzz","k":"{}"}}]}}"#,
        URL_SAFE_NO_PAD.encode(SECRET)
    );
    let rule = |issuer: &str, audiences: Vec<String>| JwtRule {
        issuer: issuer.to_string(),
        audiences,
        keys: JwtRule::parse_jwks(&jwks),
        locations: JwtRule::default_locations(),
        forward_original_token: false,
        output_payload_to_header: None,
        claim_to_headers: Vec::new(),
    };
    Authn::new(vec![
        rule(ISSUER, Vec::new()),
        rule(ISSUER_WITH_AUDIENCE, vec![AUDIENCE.to_string()]),
    ])
}

fn check_token(token: &str) {
    let request = if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
        Request::get("/").header(header::AUTHORIZATION, value)
    } else if let Ok(uri) = format!("/?access_token={token}").parse::<Uri>() {
        Request::get(uri)
    } else {
        return;
    };
    let (parts, ()) = request.body(()).expect("a request").into_parts();
    let conn = ConnInfo {
        id: 1,
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:8080".parse().unwrap(),
        sni: None,
        tls: None,
    };
    let authn = authn();
    // The first pass verifies the signature; the second meets the worker's cache.
    let verdicts: Vec<String> = (0..2)
        .map(|_| {
            let mut ex = Exchange {
                head: SharedHead::new(parts.clone(), false),
                conn: &conn,
                auth: None,
                plugin_info: None,
            };
            match authn.on_request(&mut ex) {
                Some(reply) => {
                    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED, "a bad token gets 401");
                    assert!(ex.auth.is_none(), "a rejected token authenticates nobody");
                    "rejected".to_string()
                }
                // No token found (an empty one): passed on for authz to decide.
                None if ex.auth.is_none() => "no token".to_string(),
                None => {
                    let auth = ex.auth.expect("an accepted token authenticates");
                    check_accepted(&auth.claims);
                    format!("accepted as {}", auth.principal)
                }
            }
        })
        .collect();
    assert_eq!(
        verdicts[0], verdicts[1],
        "a token seen again gets the same verdict"
    );
}

fn check_accepted(claims: &serde_json::Map<String, Value>) {
    let issuer = claims.get("iss").and_then(Value::as_str);
    assert!(
        issuer == Some(ISSUER) || issuer == Some(ISSUER_WITH_AUDIENCE),
        "accepted a token of issuer {issuer:?}"
    );
    if issuer == Some(ISSUER_WITH_AUDIENCE) {
        let audience = match claims.get("aud") {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        assert!(
            audience,
            "accepted a token without the required audience: {claims:?}"
        );
    }
}
