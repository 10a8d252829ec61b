//! The built-in `authn` filter: Istio's RequestAuthentication, validated the way Envoy's
//! `jwt_authn` filter does under Istio's configuration — a request without a token passes
//! on (authz decides), a request with a bad token gets 401.
//!
//! For each request, in this order:
//! 1. the headers the filter writes (`outputPayloadToHeader`, `outputClaimToHeaders` of
//!    every rule) are removed, so that what reaches the upstream under those names is only
//!    ever the filter's;
//! 2. every token in every configured place (all values of a repeated header, parameter or
//!    cookie) is verified, and one that fails answers 401 with the reason, as Envoy does:
//!    no unverified token travels upstream beside a verified one;
//! 3. when all of them pass, the tokens of rules without `forwardOriginalToken` are removed
//!    from their headers, the output headers are written, and the first token gives the
//!    request's principal and claims.

use base64::Engine as _;
use http::{header, HeaderName, HeaderValue, StatusCode};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::borrow::Cow;
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
/// again skips the signature check, but its `exp` and `nbf` are checked every time, and
/// only a token verified for a rule that reads the place it was found in is a hit.
const VERIFIED_CACHE_SIZE: usize = 4096;

// The reasons, in Envoy's words (jwt_verify_lib's status strings).
const BAD_FORMAT: &str = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
const VERIFICATION_FAILS: &str = "Jwt verification fails";
const UNKNOWN_ISSUER: &str = "Jwt issuer is not configured";
const AUDIENCE_NOT_ALLOWED: &str = "Audiences in Jwt are not allowed";
const EXPIRED: &str = "Jwt is expired";
const NOT_YET_VALID: &str = "Jwt not yet valid";

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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// One place tokens are read from, and the rules (by index) that read it: a token found
/// there is checked against the rule of its issuer among these only, as Envoy's extractor
/// does ("Jwt issuer is not configured" otherwise).
#[derive(Debug)]
struct Place {
    at: TokenLocation,
    rules: Vec<usize>,
}

/// The authn filter of one listener: every jwtRule of every RequestAuthentication that
/// applies to the workload.
#[derive(Debug)]
pub struct Authn {
    id: u64,
    rules: Vec<JwtRule>,
    /// Every distinct token location of the rules, in rule order.
    places: Vec<Place>,
    /// Every header a rule writes: removed from each request before anything else.
    outputs: Vec<HeaderName>,
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

    /// Whether `claims` name an audience of this rule (any audience when it lists none).
    fn audience_allowed(&self, claims: &Map<String, Value>) -> bool {
        if self.audiences.is_empty() {
            return true;
        }
        let allowed = |a: &str| self.audiences.iter().any(|w| w == a);
        match claims.get("aud") {
            Some(Value::String(a)) => allowed(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(allowed),
            _ => false,
        }
    }

    /// Checks the signature with the JWKS key for `kid` (or each key, without one).
    fn check_signature(&self, token: &str, alg: Algorithm, kid: Option<&str>) -> Result<(), &'static str> {
        let keys = self.keys.as_ref().map_err(|_| "Jwks remote fetch is failed")?;
        // Only the signature: the claims were checked before, our way.
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let mut last = "Jwks doesn't have key to match kid or alg from Jwt";
        for (key_id, key) in keys {
            if let (Some(want), Some(have)) = (kid, key_id.as_deref()) {
                if want != have {
                    continue;
                }
            }
            match jsonwebtoken::decode::<serde::de::IgnoredAny>(token, key, &validation) {
                Ok(_) => return Ok(()),
                // A key of another family (an RSA key for an ES256 token): not a match.
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidAlgorithm) => {}
                Err(_) => last = VERIFICATION_FAILS,
            }
        }
        Err(last)
    }
}

// === impl Authn ===

impl Authn {
    pub fn new(rules: Vec<JwtRule>) -> Self {
        let mut places: Vec<Place> = Vec::new();
        let mut outputs: Vec<HeaderName> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for at in &rule.locations {
                match places.iter_mut().find(|p| &p.at == at) {
                    Some(p) if !p.rules.contains(&index) => p.rules.push(index),
                    Some(_) => {}
                    None => places.push(Place {
                        at: at.clone(),
                        rules: vec![index],
                    }),
                }
            }
            let written = rule
                .output_payload_to_header
                .iter()
                .chain(rule.claim_to_headers.iter().map(|(h, _)| h));
            for h in written {
                if !outputs.contains(h) {
                    outputs.push(h.clone());
                }
            }
        }
        Authn {
            id: NEXT_AUTHN_ID.fetch_add(1, Ordering::Relaxed),
            rules,
            places,
            outputs,
        }
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Removes the filter's output headers, then verifies every token of the request.
    /// Returns a 401 if any token fails.
    pub fn on_request(&self, ex: &mut Exchange<'_>) -> Option<http::Response<ProxyBody>> {
        // Envoy's sanitizing: whatever the client sent under these names is dropped, with or
        // without a token, so the upstream can trust them.
        let mut request = ex.head.request_mut();
        for h in &self.outputs {
            request.headers.remove(h);
        }
        let found = self.find_tokens(&request);
        if found.is_empty() {
            return None;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut verified = Vec::with_capacity(found.len());
        for (place, token) in &found {
            match self.authenticate(token, &self.places[*place], now) {
                Ok((rule, claims)) => verified.push((*place, rule, claims, token.as_str())),
                Err(reason) => return Some(unauthorized(reason)),
            }
        }
        for &(place, rule, ..) in &verified {
            if !self.rules[rule].forward_original_token {
                if let TokenLocation::Header { name, .. } = &self.places[place].at {
                    request.headers.remove(name);
                }
            }
        }
        // The same token in two places writes its headers once.
        let mut written: Vec<&str> = Vec::with_capacity(verified.len());
        for (_, rule, claims, token) in &verified {
            if written.contains(token) {
                continue;
            }
            written.push(token);
            self.rules[*rule].write_outputs(token, claims, &mut request.headers);
        }
        let (_, _, claims, _) = verified.swap_remove(0);
        let principal = format!(
            "{}/{}",
            claims.get("iss").and_then(Value::as_str).unwrap_or_default(),
            claims.get("sub").and_then(Value::as_str).unwrap_or_default()
        );
        ex.auth = Some(RequestAuth::new(principal, claims));
        None
    }

    /// Every token of the request: (index into `places`, token), headers first, then query
    /// parameters, then cookies, each in the order the rules name them. All values count:
    /// a header sent twice, a parameter given twice, a cookie set twice.
    fn find_tokens(&self, req: &http::request::Parts) -> Vec<(usize, String)> {
        let mut found = Vec::new();
        for (i, place) in self.places.iter().enumerate() {
            if let TokenLocation::Header { name, prefix } = &place.at {
                for v in req.headers.get_all(name) {
                    let v = v.as_bytes();
                    let Some(rest) = v
                        .get(..prefix.len())
                        .filter(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
                        .map(|_| &v[prefix.len()..])
                    else {
                        continue;
                    };
                    // Bytes that are not text still make a token: one that fails.
                    push_token(&mut found, i, &String::from_utf8_lossy(rest));
                }
            }
        }
        if let Some(query) = req.uri.query() {
            for (i, place) in self.places.iter().enumerate() {
                if let TokenLocation::Param(p) = &place.at {
                    for kv in query.split('&') {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        // Decoded as the upstream would: `access%5Ftoken` is `access_token`.
                        if percent_decode(k) == p.as_str() {
                            push_token(&mut found, i, &percent_decode(v));
                        }
                    }
                }
            }
        }
        for (i, place) in self.places.iter().enumerate() {
            if let TokenLocation::Cookie(c) = &place.at {
                let pairs = req
                    .headers
                    .get_all(header::COOKIE)
                    .iter()
                    .flat_map(|v| v.as_bytes().split(|&b| b == b';'));
                for pair in pairs {
                    let pair = String::from_utf8_lossy(pair);
                    let Some((k, v)) = pair.trim().split_once('=') else {
                        continue;
                    };
                    if k.trim_end() == c {
                        let v = v.trim();
                        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
                        push_token(&mut found, i, v);
                    }
                }
            }
        }
        found
    }

    /// Verifies one token found at `place`: from this worker's cache when it verified the
    /// same token for a rule that reads this place, otherwise fully.
    fn authenticate(&self, token: &str, place: &Place, now: u64) -> Result<(usize, Claims), &'static str> {
        let hit = VERIFIED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != self.id {
                *cache = (self.id, HashMap::new());
            }
            let v = cache.1.get(token)?;
            if !place.rules.contains(&v.rule) {
                return None;
            }
            if let Err(reason) = check_time(v.exp, v.nbf, now) {
                if reason == EXPIRED {
                    cache.1.remove(token);
                }
                return Some(Err(reason));
            }
            Some(Ok((v.rule, v.claims.clone())))
        });
        if let Some(hit) = hit {
            return hit;
        }
        let (rule, claims, exp, nbf) = self.verify(token, place, now)?;
        let claims = Arc::new(claims);
        VERIFIED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.1.len() >= VERIFIED_CACHE_SIZE {
                cache.1.clear();
            }
            cache.1.insert(
                token.into(),
                Verified {
                    rule,
                    claims: claims.clone(),
                    exp,
                    nbf,
                },
            );
        });
        Ok((rule, claims))
    }

    /// Checks a token in Envoy's order: its form and the types of its fields, its issuer
    /// among the rules that read `place`, `nbf` and `exp`, the audience, the signature.
    /// Returns the rule, the claims, `exp` and `nbf`.
    #[allow(clippy::type_complexity)]
    fn verify(
        &self,
        token: &str,
        place: &Place,
        now: u64,
    ) -> Result<(usize, Map<String, Value>, Option<u64>, Option<u64>), &'static str> {
        let mut sections = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (sections.next(), sections.next(), sections.next(), sections.next())
        else {
            return Err(BAD_FORMAT);
        };
        if h.is_empty() || p.is_empty() || s.is_empty() {
            return Err(BAD_FORMAT);
        }

        let header = decode_section(h).ok_or("Jwt header is an invalid Base64url encoded")?;
        let header: Map<String, Value> =
            serde_json::from_slice(&header).map_err(|_| "Jwt header is an invalid JSON")?;
        let alg: Algorithm = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or("Jwt header [alg] field is required and must be a string")?
            .parse()
            .map_err(|_| "Jwt header [alg] is not supported")?;
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err("Jwt header [kid] field is not a string"),
        };
        // RFC 7515 §4.1.11: extensions named in `crit` must be understood, and we understand
        // none (an empty list is not allowed either).
        if header.contains_key("crit") {
            return Err(VERIFICATION_FAILS);
        }

        let payload = decode_section(p).ok_or("Jwt payload is an invalid Base64url encoded")?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| "Jwt payload is an invalid JSON")?;
        for (name, reason) in [
            ("iss", "Jwt payload [iss] field is not a string"),
            ("sub", "Jwt payload [sub] field is not a string"),
            ("jti", "Jwt payload [jti] field is not a string"),
        ] {
            if claims.get(name).is_some_and(|v| !v.is_string()) {
                return Err(reason);
            }
        }
        numeric_date(&claims, "iat")?;
        let nbf = numeric_date(&claims, "nbf")?;
        let exp = numeric_date(&claims, "exp")?;
        match claims.get("aud") {
            None | Some(Value::String(_)) => {}
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
            Some(_) => return Err("Jwt payload [aud] field is not a string or string list"),
        }
        decode_section(s).ok_or("Jwt signature is an invalid Base64url encoded")?;

        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        let index = *place
            .rules
            .iter()
            .find(|&&r| self.rules[r].issuer == issuer)
            .ok_or(UNKNOWN_ISSUER)?;
        let rule = &self.rules[index];
        check_time(exp, nbf, now)?;
        if !rule.audience_allowed(&claims) {
            return Err(AUDIENCE_NOT_ALLOWED);
        }
        rule.check_signature(token, alg, kid)?;
        Ok((index, claims, exp, nbf))
    }
}

impl JwtRule {
    /// Writes `outputPayloadToHeader` and `outputClaimToHeaders` for a verified token, each
    /// value added beside any another token of the request wrote (Envoy's `addCopy`).
    fn write_outputs(&self, token: &str, claims: &Map<String, Value>, headers: &mut http::HeaderMap) {
        if let Some(h) = &self.output_payload_to_header {
            if let Some(payload) = token.split('.').nth(1) {
                if let Ok(v) = HeaderValue::from_str(payload) {
                    headers.append(h.clone(), v);
                }
            }
        }
        for (h, claim) in &self.claim_to_headers {
            let value = match claims.get(claim) {
                Some(Value::String(s)) => s.clone(),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                _ => continue,
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.append(h.clone(), v);
            }
        }
    }
}

fn unauthorized(reason: &'static str) -> http::Response<ProxyBody> {
    tracing::debug!(reason, "JWT rejected");
    let mut resp = local_reply(StatusCode::UNAUTHORIZED, reason);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"wasmesh\", error=\"invalid_token\""),
    );
    resp
}

/// Adds a token found at place `i`; an empty value is no token.
fn push_token(found: &mut Vec<(usize, String)>, i: usize, token: &str) {
    let token = token.trim();
    if !token.is_empty() {
        found.push((i, token.to_string()));
    }
}

/// `nbf` (with the clock skew) and `exp` (likewise) against `now`.
fn check_time(exp: Option<u64>, nbf: Option<u64>, now: u64) -> Result<(), &'static str> {
    if nbf.is_some_and(|nbf| now.saturating_add(CLOCK_SKEW_SECS) < nbf) {
        return Err(NOT_YET_VALID);
    }
    if exp.is_some_and(|exp| now > exp.saturating_add(CLOCK_SKEW_SECS)) {
        return Err(EXPIRED);
    }
    Ok(())
}

/// A NumericDate claim (`exp`, `nbf`, `iat`): absent, or a JSON number from 0 to 2^64
/// (a fraction is cut off), as Envoy reads them. A string or anything else fails the token.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, &'static str> {
    let (not_integer, out_of_range) = match name {
        "exp" => (
            "Jwt payload [exp] field is not an integer",
            "Jwt payload [exp] field is not a positive 64 bit integer",
        ),
        "nbf" => (
            "Jwt payload [nbf] field is not an integer",
            "Jwt payload [nbf] field is not a positive 64 bit integer",
        ),
        _ => (
            "Jwt payload [iat] field is not an integer",
            "Jwt payload [iat] field is not a positive 64 bit integer",
        ),
    };
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(n), _) => Ok(Some(n)),
            (None, Some(f)) if (0.0..18_446_744_073_709_551_616.0).contains(&f) => Ok(Some(f as u64)),
            _ => Err(out_of_range),
        },
        Some(_) => Err(not_integer),
    }
}

/// A base64url section of a token (padding allowed, as Envoy allows it).
fn decode_section(section: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(section.trim_end_matches('='))
        .ok()
}

/// `%XX` decoded; other bytes as they are. Borrows when there is nothing to decode.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests;
