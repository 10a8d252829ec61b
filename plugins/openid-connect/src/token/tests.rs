use super::*;

fn jwt(claims: serde_json::Value) -> String {
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn good() -> serde_json::Value {
    serde_json::json!({"iss": "http://idp/realms/ingress", "aud": "web", "nonce": "n1", "exp": 2000, "sub": "alice"})
}

fn check(token: &str) -> Result<u64, String> {
    check_id_token(token, "http://idp/realms/ingress", "web", "n1", 1000)
}

#[test]
fn a_good_token_gives_its_expiry() {
    assert_eq!(check(&jwt(good())), Ok(2000));
    let mut many = good();
    many["aud"] = serde_json::json!(["other", "web"]);
    assert_eq!(check(&jwt(many)), Ok(2000));
}

#[test]
fn each_claim_is_checked() {
    for (claim, value, why) in [
        ("iss", serde_json::json!("http://evil"), "issuer"),
        ("aud", serde_json::json!("other"), "not meant for client"),
        ("nonce", serde_json::json!("replayed"), "nonce"),
        ("exp", serde_json::json!(999), "expired"),
    ] {
        let mut claims = good();
        claims[claim] = value;
        let err = check(&jwt(claims)).unwrap_err();
        assert!(err.contains(why), "{claim}: {err}");
    }
}

#[test]
fn not_a_jwt_is_refused() {
    assert!(check("abc").unwrap_err().contains("not a JWS"));
    assert!(check("a.b.c.d").unwrap_err().contains("not a JWS"));
    assert!(check("a.!!!.c").unwrap_err().contains("base64url"));
}

#[test]
fn answers_are_told_apart() {
    assert_eq!(
        parse_answer(br#"{"id_token":"x.y.z","access_token":"a"}"#),
        Ok(TokenAnswer::IdToken("x.y.z".into()))
    );
    assert_eq!(
        parse_answer(br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#),
        Ok(TokenAnswer::Error {
            error: "invalid_grant".into(),
            description: Some("grant request is invalid".into())
        })
    );
    assert!(parse_answer(br#"{"access_token":"a"}"#)
        .unwrap_err()
        .contains("no id_token"));
    assert!(parse_answer(b"<html>").unwrap_err().contains("JSON"));
}
