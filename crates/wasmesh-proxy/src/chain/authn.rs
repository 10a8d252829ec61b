//! The built-in `authn` filter: Istio's RequestAuthentication, validated the way Envoy's
//! `jwt_authn` filter does under Istio's configuration — a request without a token passes
//! on (authz decides), a request with a bad token gets 401.

use base64::Engine as _;
use http::{header, HeaderName, HeaderValue, StatusCode};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Exchange, RequestAuth};
use crate::body::ProxyBody;
use crate::error::local_reply;

/// Clock skew allowed on `exp` and `nbf`, as Envoy's default (60 s).
const CLOCK_SKEW_SECS: u64 = 60;
/// Verified tokens remembered per worker (Envoy's `jwt_cache_config` idea): a token seen
/// again skips the signature check, but its `exp` and `nbf` are checked every time.
const VERIFIED_CACHE_SIZE: usize = 4096;

/// Tells one `Authn` from the next, so a worker's cache never outlives the keys it used.
static NEXT_AUTHN_ID: AtomicU64 = AtomicU64::new(1);

/// A verified token's claims, shared by the requests that carry it.
type Claims = Arc<Map<String, Value>>;

/// A token this worker has verified.
struct Verified {
    rule: usize,
    claims: Claims,
    exp: Option<u64>,
    nbf: Option<u64>,
}

thread_local! {
    /// This worker's verified tokens, for the `Authn` with this id.
    static VERIFIED: RefCell<(u64, HashMap<Box<str>, Verified>)> = RefCell::new((0, HashMap::new()));
}

/// Where a token is looked for.
#[derive(Debug, Clone)]
pub enum TokenLocation {
    /// A header, with the prefix in front of the token (`Bearer ` for Authorization).
    Header { name: HeaderName, prefix: String },
    /// A query parameter.
    Param(String),
    /// A cookie.
    Cookie(String),
}

/// One `jwtRules[]` entry, ready for use.
pub struct JwtRule {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// The keys of the JWKS, or why there are none (a JWKS that could not be fetched or
    /// parsed makes every token of this issuer fail, as in Istio).
    pub keys: Result<Vec<(Option<String>, DecodingKey)>, String>,
    pub locations: Vec<TokenLocation>,
    pub forward_original_token: bool,
    pub output_payload_to_header: Option<HeaderName>,
    /// `outputClaimToHeaders`: (header, claim name).
    pub claim_to_headers: Vec<(HeaderName, String)>,
}

impl std::fmt::Debug for JwtRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtRule")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("keys", &self.keys.as_ref().map(|k| k.len()))
            .finish_non_exhaustive()
    }
}

/// The authn filter of one listener: every jwtRule of every RequestAuthentication that
/// applies to the workload.
#[derive(Debug)]
pub struct Authn {
    id: u64,
    rules: Vec<JwtRule>,
}

// === impl JwtRule ===

impl JwtRule {
    /// Parses a JWKS document (`jwks` inline, or the body fetched from `jwksUri`).
    pub fn parse_jwks(jwks: &str) -> Result<Vec<(Option<String>, DecodingKey)>, String> {
        let set: JwkSet = serde_json::from_str(jwks).map_err(|e| format!("JWKS is not valid: {e}"))?;
        set.keys
            .iter()
            .map(|k| {
                DecodingKey::from_jwk(k)
                    .map(|d| (k.common.key_id.clone(), d))
                    .map_err(|e| format!("JWKS key is not usable: {e}"))
            })
            .collect()
    }

    /// Istio's default token locations when a rule names none.
    pub fn default_locations() -> Vec<TokenLocation> {
        vec![
            TokenLocation::Header {
                name: header::AUTHORIZATION,
                prefix: "Bearer ".into(),
            },
            TokenLocation::Param("access_token".into()),
        ]
    }

    fn validate(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Map<String, Value>, &'static str> {
        let keys = self.keys.as_ref().map_err(|_| "Jwks remote fetch is failed")?;
        let mut validation = Validation::new(alg);
        validation.leeway = CLOCK_SKEW_SECS;
        validation.validate_nbf = true;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.issuer]);
        if self.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audiences);
        }
        let mut last = "Jwks doesn't have key to match kid or alg from Jwt";
        for (key_id, key) in keys {
            if let (Some(want), Some(have)) = (kid, key_id.as_deref()) {
                if want != have {
                    continue;
                }
            }
            match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind::*;
                    last = match e.kind() {
                        ExpiredSignature => return Err("Jwt is expired"),
                        ImmatureSignature => return Err("Jwt not yet valid"),
                        InvalidAudience => return Err("Audiences in Jwt are not allowed"),
                        InvalidIssuer => return Err("Jwt issuer is not configured"),
                        _ => "Jwt verification fails",
                    }
                }
            }
        }
        Err(last)
    }
}

// === impl Authn ===

impl Authn {
    pub fn new(rules: Vec<JwtRule>) -> Self {
        Authn {
            id: NEXT_AUTHN_ID.fetch_add(1, Ordering::Relaxed),
            rules,
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Validates the request's token, if it has one. Returns a 401 for a bad token.
    pub fn on_request(&self, ex: &mut Exchange<'_>) -> Option<http::Response<ProxyBody>> {
        let (location, token) = self.find_token(&ex.request)?;
        match self.authenticate(&token) {
            Ok((rule, claims)) => {
                let principal = format!(
                    "{}/{}",
                    claims.get("iss").and_then(Value::as_str).unwrap_or_default(),
                    claims.get("sub").and_then(Value::as_str).unwrap_or_default()
                );
                if !rule.forward_original_token {
                    if let TokenLocation::Header { name, .. } = &location {
                        ex.request.headers.remove(name);
                    }
                }
                if let Some(h) = &rule.output_payload_to_header {
                    if let Some(payload) = token.split('.').nth(1) {
                        if let Ok(v) = HeaderValue::from_str(payload) {
                            ex.request.headers.insert(h.clone(), v);
                        }
                    }
                }
                for (h, claim) in &rule.claim_to_headers {
                    let value = match claims.get(claim) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                        _ => continue,
                    };
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        ex.request.headers.insert(h.clone(), v);
                    }
                }
                ex.auth = Some(RequestAuth { principal, claims });
                None
            }
            Err(reason) => {
                tracing::debug!(reason, "JWT rejected");
                let mut resp = local_reply(StatusCode::UNAUTHORIZED, reason);
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"wasmesh\", error=\"invalid_token\""),
                );
                Some(resp)
            }
        }
    }

    fn find_token(&self, req: &http::request::Parts) -> Option<(TokenLocation, String)> {
        for rule in &self.rules {
            for loc in &rule.locations {
                let token = match loc {
                    TokenLocation::Header { name, prefix } => req
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| strip_prefix_ignore_case(v, prefix))
                        .map(|t| t.trim().to_string()),
                    TokenLocation::Param(p) => req.uri.query().and_then(|q| {
                        q.split('&').find_map(|kv| {
                            let (k, v) = kv.split_once('=')?;
                            (k == p).then(|| v.to_string())
                        })
                    }),
                    TokenLocation::Cookie(c) => req
                        .headers
                        .get_all(header::COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(|v| v.split(';'))
                        .find_map(|kv| {
                            let (k, v) = kv.trim().split_once('=')?;
                            (k == c).then(|| v.to_string())
                        }),
                };
                if let Some(t) = token.filter(|t| !t.is_empty()) {
                    return Some((loc.clone(), t));
                }
            }
        }
        None
    }

    fn authenticate(&self, token: &str) -> Result<(&JwtRule, Claims), &'static str> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let hit = VERIFIED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.id {
                *cache = (self.id, HashMap::new());
            }
            let v = cache.1.get(token)?;
            if v.exp.is_some_and(|exp| now > exp + CLOCK_SKEW_SECS) {
                cache.1.remove(token);
                return Some(Err("Jwt is expired"));
            }
            if v.nbf.is_some_and(|nbf| now + CLOCK_SKEW_SECS < nbf) {
                return Some(Err("Jwt not yet valid"));
            }
            Some(Ok((v.rule, v.claims.clone())))
        });
        if let Some(hit) = hit {
            return hit.map(|(rule, claims)| (&self.rules[rule], claims));
        }
        let (index, claims) = self.verify(token)?;
        let claims = Arc::new(claims);
        VERIFIED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.1.len() >= VERIFIED_CACHE_SIZE {
                cache.1.clear();
            }
            let num = |k: &str| claims.get(k).and_then(Value::as_u64);
            cache.1.insert(
                token.into(),
                Verified {
                    rule: index,
                    claims: claims.clone(),
                    exp: num("exp"),
                    nbf: num("nbf"),
                },
            );
        });
        Ok((&self.rules[index], claims))
    }

    /// Checks a token's signature and claims against the rule of its issuer.
    fn verify(&self, token: &str) -> Result<(usize, Map<String, Value>), &'static str> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections")?;
        let issuer = unverified_issuer(token).ok_or("Jwt verification fails")?;
        let index = self
            .rules
            .iter()
            .position(|r| r.issuer == issuer)
            .ok_or("Jwt issuer is not configured")?;
        let claims = self.rules[index].validate(token, header.alg, header.kid.as_deref())?;
        Ok((index, claims))
    }
}

fn strip_prefix_ignore_case<'a>(v: &'a str, prefix: &str) -> Option<&'a str> {
    if v.len() >= prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&v[prefix.len()..])
    } else {
        None
    }
}

/// The `iss` claim, read before the signature is checked, to pick the rule.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests;
