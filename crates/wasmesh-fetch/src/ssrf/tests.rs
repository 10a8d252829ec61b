use super::*;

#[tokio::test]
async fn metadata_and_link_local_are_blocked_loopback_is_not() {
    let guard = AddressGuard::new(&["10.0.0.0/8".parse().unwrap()]);
    for blocked in [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "10.1.2.3",
    ] {
        assert!(guard.is_blocked(blocked.parse().unwrap()), "{blocked}");
    }
    for allowed in ["127.0.0.1", "::1", "192.168.1.1", "100.100.100.201"] {
        assert!(!guard.is_blocked(allowed.parse().unwrap()), "{allowed}");
    }
    assert_eq!(
        guard.first_blocked("169.254.169.254", 80).await,
        Some("169.254.169.254".parse().unwrap())
    );
    assert_eq!(
        guard.first_blocked("[fe80::1]", 80).await,
        Some("fe80::1".parse().unwrap())
    );
    assert_eq!(guard.first_blocked("localhost", 80).await, None);
}

#[test]
fn registries_split_into_host_and_port() {
    assert_eq!(split_host_port("127.0.0.1:5000"), ("127.0.0.1", Some(5000)));
    assert_eq!(split_host_port("ghcr.io"), ("ghcr.io", None));
    assert_eq!(split_host_port("[::1]:5000"), ("::1", Some(5000)));
}
