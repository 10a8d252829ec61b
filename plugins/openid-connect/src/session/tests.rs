use super::*;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

#[test]
fn session_round_trips_until_it_expires() {
    let s = Session {
        id_token: TOKEN.into(),
        expires_at: 2000,
    };
    let cookie = s.encode(KEY);
    assert_eq!(Session::decode(&cookie, KEY, 1999), Ok(s));
    assert_eq!(Session::decode(&cookie, KEY, 2000), Err(CookieError::Expired));
}

#[test]
fn a_changed_token_or_expiry_breaks_the_seal() {
    let cookie = Session {
        id_token: TOKEN.into(),
        expires_at: 2000,
    }
    .encode(KEY);
    // {"sub":"alice"} → {"sub":"admin"}
    let tampered_token = cookie.replacen("eyJzdWIiOiJhbGljZSJ9", "eyJzdWIiOiJhZG1pbiJ9", 1);
    assert_ne!(tampered_token, cookie);
    assert_eq!(
        Session::decode(&tampered_token, KEY, 1000),
        Err(CookieError::BadSeal)
    );
    let longer = cookie.replacen("2000.", "9999.", 1);
    assert_eq!(Session::decode(&longer, KEY, 1000), Err(CookieError::BadSeal));
}

#[test]
fn a_cookie_made_without_the_key_is_refused() {
    let forged = format!("9999999999.{TOKEN}.AAAA");
    assert_eq!(Session::decode(&forged, KEY, 1000), Err(CookieError::BadSeal));
    let other_key = Session {
        id_token: TOKEN.into(),
        expires_at: 2000,
    }
    .encode(b"another key, just as long as it!");
    assert_eq!(Session::decode(&other_key, KEY, 1000), Err(CookieError::BadSeal));
    assert_eq!(Session::decode("garbage", KEY, 1000), Err(CookieError::Malformed));
}

#[test]
fn a_state_cookie_is_not_a_session_cookie() {
    let state = LoginState::new(&[7; 64], "/x", 1000).encode(KEY);
    assert_eq!(Session::decode(&state, KEY, 1000), Err(CookieError::BadSeal));
}

#[test]
fn login_state_round_trips_with_its_return_path() {
    let mut random = [0u8; 64];
    random.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    let st = LoginState::new(&random, "/orders?id=3&x=a.b", 1000);
    assert_eq!(st.expires_at, 1000 + STATE_TTL_SECONDS);
    assert_ne!(st.state, st.nonce);
    assert_eq!(st.state.len(), 43);
    let cookie = st.encode(KEY);
    assert_eq!(LoginState::decode(&cookie, KEY, 1001), Ok(st.clone()));
    assert_eq!(
        LoginState::decode(&cookie, KEY, st.expires_at),
        Err(CookieError::Expired)
    );
    let swapped = cookie.replacen(&st.state, &"A".repeat(43), 1);
    assert_eq!(LoginState::decode(&swapped, KEY, 1001), Err(CookieError::BadSeal));
}

#[test]
fn return_paths_stay_on_this_site() {
    assert_eq!(safe_return_path("/a?b=c"), "/a?b=c");
    assert_eq!(safe_return_path("//evil.example/"), "/");
    assert_eq!(safe_return_path("/\\evil.example/"), "/");
    assert_eq!(safe_return_path("https://evil.example/"), "/");
}
