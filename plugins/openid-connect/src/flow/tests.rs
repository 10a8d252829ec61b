use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::*;
use crate::url::Endpoint;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_000_000;

fn config() -> Config {
    Config::parse(
        serde_json::json!({
            "openid_server": "authn", "openid_realm": "ingress",
            "client_id": "web", "client_secret": "s3cr3t", "cookie_secret": SECRET,
            "session_ttl_seconds": 600,
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn discovery(end_session: Option<&str>) -> Discovery {
    Discovery {
        issuer: "http://idp:9090/realms/ingress".into(),
        authorization_endpoint: "http://idp:9090/realms/ingress/auth".into(),
        token_endpoint: Endpoint::parse("http://idp:9090/realms/ingress/token").unwrap(),
        end_session_endpoint: end_session.map(str::to_string),
    }
}

fn get<'a>(path: &'a str, cookie: Option<&'a str>) -> Request<'a> {
    Request {
        method: "GET",
        path,
        authority: "app.local:8080",
        scheme: "http",
        cookie,
        now: NOW,
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
    reply
        .headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn id_token(nonce: &str, exp: u64) -> String {
    let claims = serde_json::json!({
        "iss": "http://idp:9090/realms/ingress", "aud": "web", "sub": "alice", "nonce": nonce, "exp": exp,
    });
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn login() -> LoginState {
    LoginState::new(&[9; 64], "/orders?id=7", NOW)
}

#[test]
fn anonymous_get_starts_a_login_back_to_the_same_page() {
    assert_eq!(
        classify(&config(), &get("/orders?id=7", None)),
        Step::Provider(ProviderStep::Login {
            return_to: "/orders?id=7".into()
        })
    );
}

#[test]
fn anonymous_post_gets_401_not_a_redirect() {
    let req = Request {
        method: "POST",
        ..get("/orders", None)
    };
    let Step::Reply(reply) = classify(&config(), &req) else {
        panic!("expected a reply")
    };
    assert_eq!(reply.status, 401);
}

#[test]
fn login_redirect_carries_state_nonce_and_redirect_uri() {
    let (c, d, l) = (config(), discovery(None), login());
    let reply = login_redirect(&c, &d, &get("/orders?id=7", None), &l);
    assert_eq!(reply.status, 302);
    let location = header(&reply, "location")[0];
    assert!(location.starts_with("http://idp:9090/realms/ingress/auth?response_type=code&client_id=web&"));
    assert!(location.contains("redirect_uri=http%3A%2F%2Fapp.local%3A8080%2Foauth2%2Fcallback"));
    assert!(location.contains(&format!("state={}", l.state)));
    assert!(location.contains(&format!("nonce={}", l.nonce)));
    assert!(location.contains("scope=openid"));
    let cookie = header(&reply, "set-cookie")[0];
    assert!(cookie.starts_with(&format!("wasmesh-oidc-state={}", l.encode(SECRET.as_bytes()))));
}

#[test]
fn callback_with_matching_state_asks_for_the_exchange() {
    let (c, l) = (config(), login());
    let cookie = format!("wasmesh-oidc-state={}", l.encode(SECRET.as_bytes()));
    let path = format!("/oauth2/callback?code=the-code&state={}", l.state);
    let step = classify(&c, &get(&path, Some(&cookie)));
    assert_eq!(
        step,
        Step::Provider(ProviderStep::Exchange {
            code: "the-code".into(),
            login: l,
            redirect_uri: "http://app.local:8080/oauth2/callback".into()
        })
    );
}

#[test]
fn callback_refuses_a_foreign_state_or_a_missing_cookie() {
    let (c, l) = (config(), login());
    let cookie = format!("wasmesh-oidc-state={}", l.encode(SECRET.as_bytes()));
    for (path, cookie) in [
        (
            "/oauth2/callback?code=x&state=someone-elses".to_string(),
            Some(cookie.as_str()),
        ),
        (format!("/oauth2/callback?code=x&state={}", l.state), None),
    ] {
        let Step::Reply(reply) = classify(&c, &get(&path, cookie)) else {
            panic!("expected a reply for {path}")
        };
        assert_eq!(reply.status, 400, "{path}");
        assert!(reply.body.contains("Login not valid"), "{}", reply.body);
    }
}

#[test]
fn provider_error_on_callback_is_shown_as_a_page() {
    let path = "/oauth2/callback?error=access_denied&error_description=End-User+aborted";
    let Step::Reply(reply) = classify(&config(), &get(path, None)) else {
        panic!("expected a reply")
    };
    assert_eq!(reply.status, 401);
    assert!(reply
        .body
        .contains("The identity provider answered access_denied: End-User aborted"));
}

#[test]
fn token_request_is_a_basic_authenticated_form_post() {
    let r = token_request(&config(), &discovery(None), "c/1", "http://app/cb");
    let get = |n: &str| r.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get(":method"), Some("POST"));
    assert_eq!(get(":path"), Some("/realms/ingress/token"));
    assert_eq!(get(":authority"), Some("idp:9090"));
    assert_eq!(get("authorization"), Some("Basic d2ViOnMzY3IzdA=="));
    assert_eq!(
        r.body,
        "grant_type=authorization_code&code=c%2F1&redirect_uri=http%3A%2F%2Fapp%2Fcb"
    );
}

#[test]
fn a_good_exchange_sets_the_session_and_returns_to_the_page() {
    let (c, d, l) = (config(), discovery(None), login());
    let token = id_token(&l.nonce, NOW + 3600);
    let body = serde_json::json!({"id_token": token, "access_token": "a"}).to_string();
    let reply = finish_login(&c, &d, &l, Some("200"), body.as_bytes(), NOW, false);
    assert_eq!(reply.status, 302);
    assert_eq!(header(&reply, "location"), vec!["/orders?id=7"]);
    let cookies = header(&reply, "set-cookie");
    let session_cookie = cookies.iter().find(|c| c.starts_with("wasmesh-oidc=")).unwrap();
    // The session ends with session_ttl_seconds (600), before the token's exp (3600).
    assert!(session_cookie.contains("Max-Age=600;"), "{session_cookie}");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("wasmesh-oidc-state=;") && c.contains("Max-Age=0")));

    // The next request forwards the token and keeps the other cookies only.
    let value = session_cookie
        .trim_start_matches("wasmesh-oidc=")
        .split(';')
        .next()
        .unwrap();
    let jar = format!("theme=dark; wasmesh-oidc={value}");
    let step = classify(&c, &get("/orders", Some(&jar)));
    assert_eq!(
        step,
        Step::Forward {
            authorization: format!("Bearer {token}"),
            cookie: Some("theme=dark".into())
        }
    );
}

#[test]
fn a_token_for_another_login_is_refused() {
    let (c, d, l) = (config(), discovery(None), login());
    let body = serde_json::json!({"id_token": id_token("another-nonce", NOW + 60)}).to_string();
    let reply = finish_login(&c, &d, &l, Some("200"), body.as_bytes(), NOW, false);
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("nonce does not match"), "{}", reply.body);
    assert!(header(&reply, "set-cookie")
        .iter()
        .all(|c| !c.starts_with("wasmesh-oidc=")));
}

#[test]
fn provider_refusal_and_silence_are_pages_not_hangs() {
    let (c, d, l) = (config(), discovery(None), login());
    let refused = br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#;
    let reply = finish_login(&c, &d, &l, Some("400"), refused, NOW, false);
    assert_eq!(reply.status, 502);
    assert!(reply
        .body
        .contains("refused the code: invalid_grant: grant request is invalid"));
    let reply = finish_login(&c, &d, &l, None, b"", NOW, false);
    assert_eq!(reply.status, 503);
    assert!(reply.body.contains("cluster authn"));
    let reply = provider_unavailable(&c, "discovery answered HTTP status 404");
    assert_eq!(reply.status, 503);
    assert!(reply
        .body
        .contains("/realms/ingress/.well-known/openid-configuration"));
}

#[test]
fn forged_session_cookie_gets_401_and_is_removed() {
    let forged = format!("wasmesh-oidc={}.{}.AAAA", NOW + 100, id_token("n", NOW + 100));
    let Step::Reply(reply) = classify(&config(), &get("/", Some(&forged))) else {
        panic!("expected a reply")
    };
    assert_eq!(reply.status, 401);
    assert!(header(&reply, "set-cookie")[0].starts_with("wasmesh-oidc=; Path=/; Max-Age=0"));
}

#[test]
fn expired_session_logs_in_again() {
    let c = config();
    let old = Session {
        id_token: id_token("n", NOW + 100),
        expires_at: NOW - 1,
    }
    .encode(SECRET.as_bytes());
    let jar = format!("wasmesh-oidc={old}");
    assert_eq!(
        classify(&c, &get("/a", Some(&jar))),
        Step::Provider(ProviderStep::Login {
            return_to: "/a".into()
        })
    );
}

#[test]
fn logout_clears_the_session_and_goes_to_the_provider() {
    let c = config();
    let token = id_token("n", NOW + 100);
    let live = Session {
        id_token: token.clone(),
        expires_at: NOW + 100,
    }
    .encode(SECRET.as_bytes());
    let jar = format!("wasmesh-oidc={live}");
    let step = classify(&c, &get("/oauth2/logout", Some(&jar)));
    assert_eq!(
        step,
        Step::Logout {
            id_token_hint: Some(token.clone())
        }
    );

    let d = discovery(Some("http://idp:9090/realms/ingress/logout"));
    let reply = logout(&c, Some(&d), Some(&token), false);
    assert_eq!(reply.status, 302);
    assert!(header(&reply, "location")[0]
        .starts_with("http://idp:9090/realms/ingress/logout?client_id=web&id_token_hint="));
    assert!(header(&reply, "set-cookie")[0].contains("Max-Age=0"));

    let reply = logout(&c, None, None, false);
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("Signed out"));
}
