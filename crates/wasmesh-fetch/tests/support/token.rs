//! A bearer-token service for distribution's token auth: checks basic credentials, and
//! issues ES256 JWTs (with the certificate in `x5c`) granting the scopes asked for. The
//! certificate and key come from `openssl req`.

use super::http_server::{self, Server};
use base64::{engine::general_purpose::STANDARD, Engine};

pub struct TokenService {
    pub server: Server,
    pub cert_pem: String,
}

impl TokenService {
    pub fn realm(&self) -> String {
        self.server.url("/token")
    }
}

pub async fn start(user: &str, password: &str) -> TokenService {
    let dir = tempfile::tempdir().unwrap();
    super::openssl::self_signed(dir.path(), "key.pem", "cert.pem", "/CN=wasmesh-test-token");
    let cert_pem = std::fs::read_to_string(dir.path().join("cert.pem")).unwrap();
    let key_pem = std::fs::read(dir.path().join("key.pem")).unwrap();
    let cert_der_b64: String = cert_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&key_pem).unwrap();
    let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));

    let server = http_server::serve_request(move |parts, _| {
        let authorized = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected);
        if !authorized {
            return http_server::bytes(401, r#"{"details":"bad credentials"}"#);
        }
        let access: Vec<serde_json::Value> = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.strip_prefix("scope="))
            .filter_map(|scope| {
                let scope = scope.replace("%3A", ":").replace("%2C", ",").replace("%2F", "/");
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (parts.next()?.to_owned(), parts.next()?.to_owned(), parts.next()?.to_owned());
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let claims = serde_json::json!({
            "iss": "wasmesh-test-issuer", "sub": "alice", "aud": "wasmesh-test-registry",
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.x5c = Some(vec![cert_der_b64.clone()]);
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        http_server::bytes(200, serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string())
    })
    .await;
    TokenService { server, cert_pem }
}
