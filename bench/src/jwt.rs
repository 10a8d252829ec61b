//! A signing key, its JWKS and a token for the authn + authz scenario. The key is derived from
//! a fixed seed: this is a benchmark, and a fixed key keeps runs comparable.

use anyhow::Result;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use p256::ecdsa::{signature::Signer, Signature, SigningKey};

pub const ISSUER: &str = "https://bench.wasmesh.example";
pub const SUBJECT: &str = "bench-user";

pub struct Jwt {
    pub jwks: String,
    pub token: String,
}

pub fn make() -> Result<Jwt> {
    let key = SigningKey::from_bytes(&[7u8; 32].into())?;
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (
        point.x().expect("uncompressed point"),
        point.y().expect("uncompressed point"),
    );
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "bench",
        "x": B64.encode(x), "y": B64.encode(y),
    }]})
    .to_string();
    let header = B64.encode(r#"{"alg":"ES256","typ":"JWT","kid":"bench"}"#);
    // Valid for ten years from a fixed start: runs stay comparable and never expire mid-run.
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": SUBJECT, "aud": "bench", "iat": 1_764_000_000u64, "exp": 2_079_000_000u64,
    });
    let payload = B64.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature: Signature = key.sign(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", B64.encode(signature.to_bytes()));
    Ok(Jwt { jwks, token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{signature::Verifier, VerifyingKey};

    #[test]
    fn token_verifies_with_the_jwks_key() {
        let jwt = make().unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&jwt.jwks).unwrap();
        let k = &jwks["keys"][0];
        let mut sec1 = vec![4u8];
        sec1.extend(B64.decode(k["x"].as_str().unwrap()).unwrap());
        sec1.extend(B64.decode(k["y"].as_str().unwrap()).unwrap());
        let vk = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let (input, sig) = jwt.token.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
        vk.verify(input.as_bytes(), &sig).unwrap();
        let mut tampered = input.to_string();
        tampered.push('x');
        assert!(vk.verify(tampered.as_bytes(), &sig).is_err());
    }
}
