//! The authorization-code flow (OpenID Connect Core §3.1) as plain decisions, free of any
//! host call: what to do with a request, what to send the provider, what to answer. The
//! Proxy-Wasm glue in `filter.rs` only carries these out.

use crate::config::Config;
use crate::discovery::Discovery;
use crate::page;
use crate::session::{safe_return_path, CookieError, LoginState, Session};
use crate::token::{self, TokenAnswer};
use crate::url;

/// What the plugin knows of a request when its headers arrive.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// `:path`, query included.
    pub path: &'a str,
    /// `:authority` (or `host`).
    pub authority: &'a str,
    /// `:scheme`: `http` or `https`.
    pub scheme: &'a str,
    pub cookie: Option<&'a str>,
    /// Unix seconds.
    pub now: u64,
}

impl Request<'_> {
    /// Where the provider sends the browser back: this site's `redirect_path`.
    pub fn redirect_uri(&self, config: &Config) -> String {
        format!("{}://{}{}", self.scheme, self.authority, config.redirect_path)
    }

    /// Cookies get `Secure` when the user came over https.
    pub fn secure(&self) -> bool {
        self.scheme == "https"
    }
}

/// A response the plugin sends itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The first decision on a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A live session: send the request on with this `Authorization` and `Cookie` (our own
    /// cookies taken out; None: remove the header).
    Forward {
        authorization: String,
        cookie: Option<String>,
    },
    /// Something only the provider can settle: needs its metadata (discovery) first.
    Provider(ProviderStep),
    /// The user asks to end the session.
    Logout { id_token_hint: Option<String> },
    /// Answer at once.
    Reply(Reply),
}

/// The steps that talk to the provider.
#[derive(Debug, PartialEq, Eq)]
pub enum ProviderStep {
    /// No session: send the browser to the provider, then back to `return_to`.
    Login { return_to: String },
    /// The provider sent the browser back with a code: exchange it.
    Exchange {
        code: String,
        login: LoginState,
        redirect_uri: String,
    },
}

/// Decides what to do with a request.
pub fn classify(config: &Config, req: &Request<'_>) -> Step {
    let path = url::path_only(req.path);
    let cookie_header = req.cookie.unwrap_or_default();
    if path == config.redirect_path {
        return callback(config, req, cookie_header);
    }
    let session = url::cookie(cookie_header, &config.cookie_name)
        .map(|v| Session::decode(v, &config.cookie_secret, req.now));
    if path == config.logout_path {
        return Step::Logout {
            id_token_hint: session.and_then(Result::ok).map(|s| s.id_token),
        };
    }
    match session {
        Some(Ok(session)) => Step::Forward {
            authorization: format!("Bearer {}", session.id_token),
            cookie: url::without_cookies(cookie_header, &[&config.cookie_name, &config.state_cookie_name()]),
        },
        Some(Err(CookieError::BadSeal | CookieError::Malformed)) => Step::Reply(Reply {
            status: 401,
            headers: vec![
                html_type(),
                set_cookie(&config.cookie_name, "", 0, req.secure()),
                ("www-authenticate".into(), "Bearer".into()),
            ],
            body: page::html(
                "Session not valid",
                "Your session cookie was not issued by this site or was changed. It has been removed; log in again.",
            ),
        }),
        Some(Err(CookieError::Expired)) | None if matches!(req.method, "GET" | "HEAD") => {
            Step::Provider(ProviderStep::Login { return_to: safe_return_path(req.path).to_string() })
        }
        Some(Err(CookieError::Expired)) | None => Step::Reply(Reply {
            status: 401,
            headers: vec![html_type(), ("www-authenticate".into(), "Bearer".into())],
            body: page::html("Login required", "Log in with a GET request to this site first."),
        }),
    }
}

fn callback(config: &Config, req: &Request<'_>, cookie_header: &str) -> Step {
    let clear_state = set_cookie(&config.state_cookie_name(), "", 0, req.secure());
    let fail = |status: u32, title: &str, detail: &str| {
        Step::Reply(Reply {
            status,
            headers: vec![html_type(), clear_state.clone()],
            body: page::html(title, detail),
        })
    };
    if let Some(error) = url::query_param(req.path, "error") {
        let detail = match url::query_param(req.path, "error_description") {
            Some(d) => format!("The identity provider answered {error}: {d}"),
            None => format!("The identity provider answered {error}."),
        };
        return fail(401, "Login failed", &detail);
    }
    let login = match url::cookie(cookie_header, &config.state_cookie_name())
        .map(|v| LoginState::decode(v, &config.cookie_secret, req.now))
    {
        Some(Ok(login)) => login,
        Some(Err(CookieError::Expired)) => {
            return fail(400, "Login expired", "This login took too long. Start again.")
        }
        Some(Err(_)) | None => {
            return fail(
                400,
                "Login not valid",
                "This login was not started here, or its cookie was lost.",
            )
        }
    };
    if url::query_param(req.path, "state").as_deref() != Some(login.state.as_str()) {
        return fail(
            400,
            "Login not valid",
            "The state returned by the identity provider does not match.",
        );
    }
    match url::query_param(req.path, "code") {
        Some(code) if !code.is_empty() => Step::Provider(ProviderStep::Exchange {
            code,
            login,
            redirect_uri: req.redirect_uri(config),
        }),
        _ => fail(
            400,
            "Login not valid",
            "The identity provider sent no authorization code.",
        ),
    }
}

/// The redirect to the provider's authorization endpoint, with the state cookie.
pub fn login_redirect(
    config: &Config,
    discovery: &Discovery,
    req: &Request<'_>,
    login: &LoginState,
) -> Reply {
    let scope = config.scopes.join(" ");
    let redirect_uri = req.redirect_uri(config);
    let location = url::with_query(
        &discovery.authorization_endpoint,
        &[
            ("response_type", "code"),
            ("client_id", &config.client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", &scope),
            ("state", &login.state),
            ("nonce", &login.nonce),
        ],
    );
    Reply {
        status: 302,
        headers: vec![
            ("location".into(), location),
            set_cookie(
                &config.state_cookie_name(),
                &login.encode(&config.cookie_secret),
                crate::session::STATE_TTL_SECONDS,
                req.secure(),
            ),
            ("cache-control".into(), "no-store".into()),
        ],
        body: String::new(),
    }
}

/// The headers and body of the code exchange at the token endpoint (`client_secret_basic`).
pub fn token_request(config: &Config, discovery: &Discovery, code: &str, redirect_uri: &str) -> TokenRequest {
    let endpoint = &discovery.token_endpoint;
    TokenRequest {
        headers: vec![
            (":method".into(), "POST".into()),
            (":path".into(), endpoint.path.clone()),
            (":authority".into(), endpoint.authority.clone()),
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("accept".into(), "application/json".into()),
            (
                "authorization".into(),
                url::basic_auth(&config.client_id, &config.client_secret),
            ),
        ],
        body: url::form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ]),
    }
}

/// An `http_call` to the token endpoint.
#[derive(Debug)]
pub struct TokenRequest {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The answer to the callback once the token endpoint has answered (`status` None: the call
/// failed or timed out).
pub fn finish_login(
    config: &Config,
    discovery: &Discovery,
    login: &LoginState,
    status: Option<&str>,
    body: &[u8],
    now: u64,
    secure: bool,
) -> Reply {
    let clear_state = set_cookie(&config.state_cookie_name(), "", 0, secure);
    let fail = |status: u32, detail: String| Reply {
        status,
        headers: vec![html_type(), clear_state.clone()],
        body: page::html("Login failed", &detail),
    };
    let Some(status) = status else {
        return fail(
            503,
            format!(
                "The identity provider (cluster {}) did not answer the code exchange.",
                config.openid_server
            ),
        );
    };
    let answer = match token::parse_answer(body) {
        Ok(answer) => answer,
        Err(why) => return fail(502, format!("{why} (HTTP status {status}).")),
    };
    let id_token = match answer {
        TokenAnswer::IdToken(t) if status == "200" => t,
        TokenAnswer::IdToken(_) => {
            return fail(502, format!("The token endpoint answered HTTP status {status}."))
        }
        TokenAnswer::Error { error, description } => {
            let detail = match description {
                Some(d) => format!("The identity provider refused the code: {error}: {d}"),
                None => format!("The identity provider refused the code: {error}"),
            };
            return fail(502, detail);
        }
    };
    let exp = match token::check_id_token(&id_token, &discovery.issuer, &config.client_id, &login.nonce, now)
    {
        Ok(exp) => exp,
        Err(why) => return fail(502, format!("The ID token was refused: {why}.")),
    };
    let session = Session {
        id_token,
        expires_at: exp.min(now + config.session_ttl_seconds),
    };
    Reply {
        status: 302,
        headers: vec![
            ("location".into(), safe_return_path(&login.return_to).to_string()),
            set_cookie(
                &config.cookie_name,
                &session.encode(&config.cookie_secret),
                session.expires_at - now,
                secure,
            ),
            clear_state,
            ("cache-control".into(), "no-store".into()),
        ],
        body: String::new(),
    }
}

/// The answer to the logout path: the session cookie is removed, and the browser goes on to
/// the provider's end-session endpoint when discovery named one.
pub fn logout(
    config: &Config,
    discovery: Option<&Discovery>,
    id_token_hint: Option<&str>,
    secure: bool,
) -> Reply {
    let clear = set_cookie(&config.cookie_name, "", 0, secure);
    match discovery.and_then(|d| d.end_session_endpoint.as_deref()) {
        Some(end_session) => {
            let mut params = vec![("client_id", config.client_id.as_str())];
            if let Some(hint) = id_token_hint {
                params.push(("id_token_hint", hint));
            }
            Reply {
                status: 302,
                headers: vec![("location".into(), url::with_query(end_session, &params)), clear],
                body: String::new(),
            }
        }
        None => Reply {
            status: 200,
            headers: vec![html_type(), clear],
            body: page::html("Signed out", "Your session on this site has ended."),
        },
    }
}

/// The answer when discovery failed: the user sees what is wrong instead of a hang.
pub fn provider_unavailable(config: &Config, why: &str) -> Reply {
    Reply {
        status: 503,
        headers: vec![html_type()],
        body: page::html(
            "Identity provider unavailable",
            &format!(
                "The identity provider (cluster {}, {}) could not be used: {why}",
                config.openid_server, config.discovery_path
            ),
        ),
    }
}

fn html_type() -> (String, String) {
    ("content-type".into(), "text/html; charset=utf-8".into())
}

fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> (String, String) {
    ("set-cookie".into(), url::set_cookie(name, value, max_age, secure))
}

#[cfg(test)]
mod tests;
