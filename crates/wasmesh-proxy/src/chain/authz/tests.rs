use super::*;
use crate::chain::head::SharedHead;
use crate::chain::{ConnInfo, RequestAuth};
use std::net::SocketAddr;

fn conn(peer: &str) -> ConnInfo {
    ConnInfo {
        id: 1,
        peer: peer.parse::<SocketAddr>().unwrap(),
        local: "127.0.0.1:8080".parse().unwrap(),
        sni: None,
        tls: None,
    }
}

fn check(
    authz: &Authz,
    method: &str,
    path: &str,
    peer: &str,
    auth: Option<RequestAuth>,
    headers: &[(&str, &str)],
) -> bool {
    let mut b = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "shop.example.com:8080");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let c = conn(peer);
    let ex = Exchange {
        head: SharedHead::new(b.body(()).unwrap().into_parts().0, false),
        conn: &c,
        auth,
        plugin_info: None,
    };
    authz.allows(&ex)
}

fn policy(action: Action, rules: Vec<Rule>) -> Policy {
    Policy {
        name: "ns/p".into(),
        action,
        rules,
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn alice() -> Option<RequestAuth> {
    let claims = serde_json::json!({"iss": "issuer", "sub": "alice", "groups": ["admin", "dev"]});
    Some(RequestAuth::new(
        "issuer/alice".into(),
        std::sync::Arc::new(claims.as_object().unwrap().clone()),
    ))
}

#[test]
fn no_policy_allows_everything() {
    assert!(check(&Authz::new(vec![]), "GET", "/", "127.0.0.1:1", None, &[]));
}

#[test]
fn allow_policy_with_no_rules_allows_nothing() {
    let a = Authz::new(vec![policy(Action::Allow, vec![])]);
    assert!(!check(&a, "GET", "/", "127.0.0.1:1", None, &[]));
}

#[test]
fn allow_with_an_empty_rule_allows_everything() {
    let a = Authz::new(vec![policy(Action::Allow, vec![Rule::default()])]);
    assert!(check(&a, "GET", "/", "127.0.0.1:1", None, &[]));
}

#[test]
fn deny_wins_over_allow() {
    let deny = Rule {
        to: vec![Operation {
            paths: Patterns::new(&s(&["/admin*"]), &[]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let a = Authz::new(vec![
        policy(Action::Allow, vec![Rule::default()]),
        policy(Action::Deny, vec![deny]),
    ]);
    assert!(check(&a, "GET", "/public", "127.0.0.1:1", None, &[]));
    assert!(!check(&a, "GET", "/admin/users", "127.0.0.1:1", None, &[]));
}

#[test]
fn operation_fields_all_must_match() {
    let rule = Rule {
        to: vec![Operation {
            methods: Patterns::new(&s(&["GET", "HEAD"]), &[]),
            paths: Patterns::new(&s(&["/api/*"]), &s(&["/api/secret"])),
            hosts: Patterns::new(&s(&["*.example.com"]), &[]),
            ports: Patterns::new(&s(&["8080"]), &[]),
        }],
        ..Default::default()
    };
    let a = Authz::new(vec![policy(Action::Allow, vec![rule])]);
    assert!(check(&a, "GET", "/api/items", "127.0.0.1:1", None, &[]));
    assert!(!check(&a, "POST", "/api/items", "127.0.0.1:1", None, &[]));
    assert!(!check(&a, "GET", "/other", "127.0.0.1:1", None, &[]));
    assert!(!check(&a, "GET", "/api/secret", "127.0.0.1:1", None, &[]));
}

#[test]
fn request_principals_and_ip_blocks() {
    let rule = Rule {
        from: vec![Source {
            request_principals: Patterns::new(&s(&["issuer/*"]), &[]),
            ip_blocks: IpBlocks::parse(&s(&["127.0.0.0/8"]), &s(&["127.0.0.9"])).unwrap(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let a = Authz::new(vec![policy(Action::Allow, vec![rule])]);
    assert!(check(&a, "GET", "/", "127.0.0.1:1", alice(), &[]));
    assert!(
        !check(&a, "GET", "/", "127.0.0.1:1", None, &[]),
        "no JWT, no request principal"
    );
    assert!(!check(&a, "GET", "/", "127.0.0.9:1", alice(), &[]), "notIpBlocks");
    assert!(
        !check(&a, "GET", "/", "10.0.0.1:1", alice(), &[]),
        "outside ipBlocks"
    );
}

#[test]
fn when_conditions_on_claims_and_headers() {
    let rule = Rule {
        when: vec![
            Condition {
                key: ConditionKey::parse("request.auth.claims[groups]").unwrap(),
                values: Patterns::new(&s(&["admin"]), &[]),
                ip_values: IpBlocks::default(),
            },
            Condition {
                key: ConditionKey::parse("request.headers[x-env]").unwrap(),
                values: Patterns::new(&[], &s(&["prod"])),
                ip_values: IpBlocks::default(),
            },
        ],
        ..Default::default()
    };
    let a = Authz::new(vec![policy(Action::Allow, vec![rule])]);
    assert!(check(&a, "GET", "/", "127.0.0.1:1", alice(), &[("x-env", "dev")]));
    assert!(
        check(&a, "GET", "/", "127.0.0.1:1", alice(), &[]),
        "absent header passes notValues"
    );
    assert!(!check(
        &a,
        "GET",
        "/",
        "127.0.0.1:1",
        alice(),
        &[("x-env", "prod")]
    ));
    assert!(!check(&a, "GET", "/", "127.0.0.1:1", None, &[]), "no claims");
}

#[test]
fn unknown_condition_keys_are_refused() {
    assert!(ConditionKey::parse("request.nonsense").is_err());
    assert!(ConditionKey::parse("request.auth.claims").is_err());
    assert!(matches!(
        ConditionKey::parse("request.auth.claims[a][b]").unwrap(),
        ConditionKey::Claim(p) if p == ["a", "b"]
    ));
}
