//! HMAC-SHA256 seals on cookie values, so that a client can read but not forge or alter
//! them. Each kind of cookie signs under its own label, so a seal made for one kind is
//! worthless on another.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The seal (base64url, no padding) of `value` under `key` for cookies of kind `label`.
pub fn seal(key: &[u8], label: &str, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(key, label, value).finalize().into_bytes())
}

/// Whether `seal` is the seal of `value`; the comparison takes constant time.
pub fn verify(key: &[u8], label: &str, value: &str, seal: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(seal) else {
        return false;
    };
    mac(key, label, value).verify_slice(&tag).is_ok()
}

fn mac(key: &[u8], label: &str, value: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_seal_verifies_only_its_own_value_key_and_label() {
        let s = seal(KEY, "session", "v");
        assert!(verify(KEY, "session", "v", &s));
        assert!(!verify(KEY, "session", "w", &s));
        assert!(!verify(KEY, "state", "v", &s));
        assert!(!verify(b"another key, just as long as it!", "session", "v", &s));
        assert!(!verify(KEY, "session", "v", "not base64!"));
        assert!(!verify(KEY, "session", "v", ""));
    }

    #[test]
    fn rfc4231_case_2_through_the_same_primitive() {
        // RFC 4231 test case 2, to show the MAC is HMAC-SHA256 and not something of ours.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
