use super::*;
use crate::digest::sha256_hex;

fn oci(url: &str) -> Source {
    Source::parse(url).unwrap()
}

#[test]
fn pull_policy_defaults_follow_istio() {
    use PullPolicy::*;
    assert_eq!(effective_policy(Unspecified, &oci("r:5000/p:latest")), Always);
    assert_eq!(effective_policy(Unspecified, &oci("r:5000/p")), Always);
    assert_eq!(effective_policy(Unspecified, &oci("r:5000/p:v1")), IfNotPresent);
    assert_eq!(effective_policy(Always, &oci("r:5000/p:v1")), Always);
    assert_eq!(
        effective_policy(IfNotPresent, &oci("r:5000/p:latest")),
        IfNotPresent
    );
    let pinned = format!("r:5000/p@sha256:{}", "a".repeat(64));
    assert_eq!(effective_policy(Always, &oci(&pinned)), IfNotPresent);
    assert_eq!(
        effective_policy(Unspecified, &oci("https://h/latest.wasm")),
        IfNotPresent
    );
}

fn entry(resource: &str) -> Entry {
    Entry {
        url: "r:5000/p:v1".into(),
        sha256: sha256_hex(b"\0asm\x01\0\0\0"),
        manifest_digest: Some(format!("sha256:{}", "b".repeat(64))),
        size: 8,
        resource: resource.into(),
        fetched_at: 0,
        last_used: 0,
        signature: None,
    }
}

#[test]
fn always_reuses_the_cache_only_for_the_same_resource_version() {
    let bytes = Bytes::from_static(b"\0asm\x01\0\0\0");
    let src = oci("r:5000/p:v1");
    let hit = |policy, resource| {
        cache_hit(
            &entry("ns.p@1"),
            bytes.clone(),
            policy,
            resource,
            None,
            None,
            &src,
        )
    };
    assert!(hit(PullPolicy::Always, "ns.p@1").is_some_and(|m| m.from_cache));
    assert!(hit(PullPolicy::Always, "ns.p@2").is_none());
    assert!(hit(PullPolicy::IfNotPresent, "ns.p@2").is_some());
}

#[test]
fn a_cached_module_must_match_the_expected_digest_and_carry_a_signature_when_asked() {
    let bytes = Bytes::from_static(b"\0asm\x01\0\0\0");
    let src = oci("r:5000/p:v1");
    let e = entry("ns.p@1");
    let b64 = "b".repeat(64);
    assert!(cache_hit(
        &e,
        bytes.clone(),
        PullPolicy::IfNotPresent,
        "x",
        Some(&b64),
        None,
        &src
    )
    .is_some());
    assert!(cache_hit(
        &e,
        bytes.clone(),
        PullPolicy::IfNotPresent,
        "x",
        Some(&"c".repeat(64)),
        None,
        &src
    )
    .is_none());
    let key = crate::SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[1u8; 32]));
    assert!(cache_hit(
        &e,
        bytes.clone(),
        PullPolicy::IfNotPresent,
        "x",
        None,
        Some(&key.public_key()),
        &src
    )
    .is_none());
    let mut signed = e.clone();
    signed.signature = Some(SignatureMaterial::Detached(key.sign(&bytes)));
    let http = Source::parse("http://h/p.wasm").unwrap();
    assert!(cache_hit(
        &signed,
        bytes.clone(),
        PullPolicy::IfNotPresent,
        "x",
        None,
        Some(&key.public_key()),
        &http
    )
    .is_some_and(|m| m.signature_verified));
}
