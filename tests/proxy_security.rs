//! `wasmesh proxy` end to end with Istio's security resources: RequestAuthentication (JWT
//! with an ES256 key the test generates, inline JWKS and `jwksUri`) and
//! AuthorizationPolicy (DENY before ALLOW, request principals, paths, `when` on claims).

use crate::proxy_support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::pkcs8::EncodePrivateKey as _;
use proxy_support::echo::Echo;
use proxy_support::*;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://issuer.test";

/// A fresh P-256 key: the PEM to sign with and the JWKS to verify with.
fn generate_key() -> (Vec<u8>, String) {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    let secret = p256::SecretKey::from_slice(&seed).expect("a valid scalar");
    let pem = secret
        .to_pkcs8_pem(Default::default())
        .unwrap()
        .as_bytes()
        .to_vec();
    let point = p256::EncodedPoint::from(secret.public_key());
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "test-key",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }]});
    (pem, jwks.to_string())
}

fn sign(pem: &[u8], claims: serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("test-key".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
    )
    .unwrap()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims(iss: &str, sub: &str, aud: &str, exp: u64, groups: &[&str]) -> serde_json::Value {
    serde_json::json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp, "groups": groups})
}

fn policies(jwks_source: &str) -> String {
    format!(
        r#"apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: istio-system}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    audiences: [shop]
{jwks_source}
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{{header: x-jwt-sub, claim: sub}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow, namespace: istio-system}}
spec:
  action: ALLOW
  rules:
  - to: [{{operation: {{paths: ["/public*"]}}}}]
  - from: [{{source: {{requestPrincipals: ["{ISSUER}/*"]}}}}]
    to: [{{operation: {{paths: ["/secure/*", "/admin/*"]}}}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: deny-non-admins, namespace: istio-system}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{paths: ["/admin/*"]}}}}]
    when:
    - key: request.auth.claims[groups]
      notValues: ["admins"]
"#
    )
}

async fn status_of(c: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = c.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn check_policies(listen: std::net::SocketAddr, pem: &[u8]) {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = |p: &str| format!("http://{listen}{p}");
    let alice = sign(pem, claims(ISSUER, "alice", "shop", now() + 600, &["admins"]));
    let bob = sign(pem, claims(ISSUER, "bob", "shop", now() + 600, &["users"]));

    assert_eq!(
        status_of(&c, &url("/public/x"), None).await.0,
        200,
        "no token, public path"
    );
    let (status, body) = status_of(&c, &url("/secure/x"), None).await;
    assert_eq!(
        (status, body.as_str()),
        (403, "RBAC: access denied"),
        "no token, no principal"
    );

    let (status, body) = status_of(&c, &url("/secure/x"), Some(&bob)).await;
    assert_eq!(status, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        seen["headers"].get("authorization").is_none(),
        "the token is not forwarded: {seen}"
    );
    let payload = URL_SAFE_NO_PAD
        .decode(seen["headers"]["x-jwt-payload"].as_str().unwrap())
        .unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(payload["sub"], "bob");
    assert_eq!(seen["headers"]["x-jwt-sub"], "bob");

    assert_eq!(
        status_of(&c, &url("/admin/x"), Some(&alice)).await.0,
        200,
        "admins pass the DENY"
    );
    assert_eq!(
        status_of(&c, &url("/admin/x"), Some(&bob)).await.0,
        403,
        "DENY when not an admin"
    );

    let cases = [
        (claims(ISSUER, "a", "shop", now() - 3600, &[]), "Jwt is expired"),
        (
            claims("https://other.test", "a", "shop", now() + 600, &[]),
            "Jwt issuer is not configured",
        ),
        (
            claims(ISSUER, "a", "elsewhere", now() + 600, &[]),
            "Audiences in Jwt are not allowed",
        ),
    ];
    for (claims, reason) in cases {
        let (status, body) = status_of(&c, &url("/public/x"), Some(&sign(pem, claims))).await;
        assert_eq!(
            (status, body.as_str()),
            (401, reason),
            "a bad token is refused even on a public path"
        );
    }
    let (other_pem, _) = generate_key();
    let forged = sign(
        &other_pem,
        claims(ISSUER, "mallory", "shop", now() + 600, &["admins"]),
    );
    assert_eq!(
        status_of(&c, &url("/admin/x"), Some(&forged)).await,
        (401, "Jwt verification fails".into())
    );
}

#[tokio::test]
async fn jwt_authn_and_authz_with_inline_jwks() {
    let echo = Echo::start("up");
    let (pem, jwks) = generate_key();
    let listen = free_addr();
    let proxy = one_backend_proxy_yaml(listen, echo.addr);
    let inline = format!("    jwks: '{jwks}'");
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &proxy), ("security.yaml", &policies(&inline))],
        2,
    );
    check_policies(listen, &pem).await;
}

#[tokio::test]
async fn jwt_keys_from_jwks_uri() {
    let echo = Echo::start("up");
    let (pem, jwks) = generate_key();
    let jwks_addr = serve_forever(jwks);
    let listen = free_addr();
    let proxy = one_backend_proxy_yaml(listen, echo.addr);
    let uri = format!("    jwksUri: http://{jwks_addr}/jwks.json");
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &proxy), ("security.yaml", &policies(&uri))],
        1,
    );
    check_policies(listen, &pem).await;
}

#[tokio::test]
async fn jwt_keys_from_a_jwks_uri_served_by_a_cluster() {
    let echo = Echo::start("up");
    let (pem, jwks) = generate_key();
    let jwks_addr = serve_forever(jwks);
    let listen = free_addr();
    // `keys.test` resolves nowhere: only the Proxy's cluster of that name reaches the keys.
    let proxy = proxy_yaml(
        listen,
        &route_yaml("all", "{prefix: /}", "backend"),
        &[
            cluster_yaml("backend", &[echo.addr], "http1"),
            cluster_yaml("keys.test", &[jwks_addr], "http1"),
        ]
        .concat(),
    );
    let uri = "    jwksUri: http://keys.test/jwks.json".to_string();
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &proxy), ("security.yaml", &policies(&uri))],
        1,
    );
    check_policies(listen, &pem).await;
}

#[tokio::test]
async fn a_jwks_uri_that_was_down_is_fetched_again() {
    let echo = Echo::start("up");
    let (pem, jwks) = generate_key();
    let jwks_addr = free_addr(); // nothing listens here yet
    let listen = free_addr();
    let proxy = one_backend_proxy_yaml(listen, echo.addr);
    let uri = format!("    jwksUri: http://{jwks_addr}/jwks.json");
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &proxy), ("security.yaml", &policies(&uri))],
        1,
    );
    let c = reqwest::Client::new();
    let token = sign(&pem, claims(ISSUER, "dora", "shop", now() + 600, &[]));
    let url = format!("http://{listen}/secure/x");
    assert_eq!(
        status_of(&c, &url, Some(&token)).await.0,
        401,
        "no keys yet: the token cannot be verified"
    );
    serve_forever_on(jwks_addr, jwks);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while status_of(&c, &url, Some(&token)).await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the JWKS was not fetched again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Signs `claims` under a JWS header given whole (for headers `jsonwebtoken` cannot write).
fn sign_with_header(pem: &[u8], header: serde_json::Value, claims: serde_json::Value) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::ES256).unwrap();
    format!("{message}.{sig}")
}

/// Envoy's `jwt_authn` rules beyond a single good or bad token: every token of the request
/// is verified (a bad one beside a good one, or beside a cached one, is refused before the
/// upstream sees anything), `exp` must be a number, a `crit` header is refused, and the
/// headers the filter writes cannot be forged by the client.
#[tokio::test]
async fn jwt_every_token_is_verified_and_output_headers_cannot_be_forged() {
    let echo = Echo::start("up");
    let (pem, jwks) = generate_key();
    let listen = free_addr();
    let proxy = one_backend_proxy_yaml(listen, echo.addr);
    let inline = format!("    jwks: '{jwks}'");
    // One worker: its cache of verified tokens is the one every request meets.
    let _p = ProxyProcess::start(
        "istio-system/gw",
        &[("proxy.yaml", &proxy), ("security.yaml", &policies(&inline))],
        1,
    );
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let arrived = || echo.requests.load(std::sync::atomic::Ordering::SeqCst);
    let send = |path: &str, headers: &[(&str, &str)]| {
        let mut req = c.get(format!("http://{listen}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    // What the upstream received, from the echo's description.
    let upstream_headers = |body: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["headers"].clone()
    };
    // Refused by the proxy: 401 with `reason`, and nothing reached the upstream.
    macro_rules! refused {
        ($path:expr, $headers:expr, $reason:expr, $what:expr) => {{
            let before = arrived();
            let (status, body) = send($path, $headers).await;
            assert_eq!((status, body.as_str()), (401, $reason), "{}", $what);
            assert_eq!(arrived(), before, "{}: the upstream saw the request", $what);
        }};
    }

    let alice = sign(&pem, claims(ISSUER, "alice", "shop", now() + 600, &["admins"]));
    let bearer = format!("Bearer {alice}");
    let forged_payload = URL_SAFE_NO_PAD.encode(r#"{"iss":"https://issuer.test","sub":"root"}"#);
    let forgeries = [("x-jwt-payload", forged_payload.as_str()), ("x-jwt-sub", "root")];

    // 4. The output headers the client sends are dropped: without a token...
    let (status, body) = send("/public/x", &forgeries).await;
    assert_eq!(status, 200, "{body}");
    let seen = upstream_headers(&body);
    assert!(
        seen.get("x-jwt-payload").is_none() && seen.get("x-jwt-sub").is_none(),
        "forged output headers reached the upstream: {seen}"
    );
    // ...and with one: the upstream gets only what the filter wrote.
    let with_token = [forgeries[0], forgeries[1], ("authorization", bearer.as_str())];
    let (status, body) = send("/secure/x", &with_token).await;
    assert_eq!(status, 200, "{body}");
    let seen = upstream_headers(&body);
    assert_eq!(seen["x-jwt-payload"], alice.split('.').nth(1).unwrap(), "{seen}");
    assert_eq!(seen["x-jwt-sub"], "alice", "{seen}");
    assert!(seen.get("authorization").is_none(), "{seen}");

    // 1. A bad token beside a good one, in the other default place, either way round.
    let (other_pem, _) = generate_key();
    let mallory = sign(
        &other_pem,
        claims(ISSUER, "mallory", "shop", now() + 600, &["admins"]),
    );
    refused!(
        &format!("/public/x?access_token={mallory}"),
        &[("authorization", bearer.as_str())],
        "Jwt verification fails",
        "good header, bad query parameter"
    );
    refused!(
        &format!("/public/x?access_token={alice}"),
        &[("authorization", format!("Bearer {mallory}").as_str())],
        "Jwt verification fails",
        "bad header, good query parameter"
    );
    // Beside a token this worker has verified (and cached) many times already: the good
    // token's payload with the claims changed, under its own signature.
    for _ in 0..3 {
        assert_eq!(
            send("/secure/x", &[("authorization", bearer.as_str())]).await.0,
            200
        );
    }
    let mut parts: Vec<String> = alice.split('.').map(String::from).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims(ISSUER, "root", "shop", now() + 600, &["admins"]).to_string());
    let tampered = parts.join(".");
    refused!(
        &format!("/admin/x?access_token={tampered}"),
        &[("authorization", bearer.as_str())],
        "Jwt verification fails",
        "cached good token, tampered query parameter"
    );
    // Two good tokens pass, and each writes its claim.
    let bob = sign(&pem, claims(ISSUER, "bob", "shop", now() + 600, &[]));
    let (status, body) = send(
        &format!("/secure/x?access_token={bob}"),
        &[("authorization", bearer.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream_headers(&body)["x-jwt-sub"], "alice,bob");

    // 2. `exp` as a string is an invalid token, even on a public path.
    let string_exp = sign(
        &pem,
        serde_json::json!({"iss": ISSUER, "sub": "eve", "aud": "shop", "exp": (now() + 600).to_string()}),
    );
    refused!(
        "/public/x",
        &[("authorization", format!("Bearer {string_exp}").as_str())],
        "Jwt payload [exp] field is not an integer",
        "string exp"
    );

    // 3. A JWS header naming a critical extension.
    let claims_ok = claims(ISSUER, "frank", "shop", now() + 600, &[]);
    let plain = sign_with_header(
        &pem,
        serde_json::json!({"alg": "ES256", "kid": "test-key"}),
        claims_ok.clone(),
    );
    assert_eq!(
        send(
            "/secure/x",
            &[("authorization", format!("Bearer {plain}").as_str())]
        )
        .await
        .0,
        200,
        "the hand-made token verifies without crit"
    );
    let crit = sign_with_header(
        &pem,
        serde_json::json!({"alg": "ES256", "kid": "test-key", "crit": ["http://example.com/ext"], "http://example.com/ext": true}),
        claims_ok,
    );
    refused!(
        "/public/x",
        &[("authorization", format!("Bearer {crit}").as_str())],
        "Jwt verification fails",
        "crit"
    );
}

/// Serves `body` as JSON to every request, on a thread.
fn serve_forever(body: String) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    serve_on(listener, body);
    addr
}

fn serve_forever_on(addr: std::net::SocketAddr, body: String) {
    serve_on(std::net::TcpListener::bind(addr).unwrap(), body);
}

fn serve_on(listener: std::net::TcpListener, body: String) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}
