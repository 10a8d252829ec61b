use super::*;
use std::collections::HashMap;

#[test]
fn go_durations_parse_like_istio_variables() {
    assert_eq!(parse_go_duration("15s"), Some(Duration::from_secs(15)));
    assert_eq!(parse_go_duration("24h"), Some(Duration::from_secs(86400)));
    assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
    assert_eq!(parse_go_duration("15"), None);
    assert_eq!(parse_go_duration("5 days"), None);
    // Longer than a Duration holds: refused, not a panic.
    assert_eq!(parse_go_duration("99999999999999999999999h"), None);
}

#[test]
fn environment_overrides_defaults() {
    let env: HashMap<&str, &str> = [
        ("WASM_HTTP_REQUEST_TIMEOUT", "2s"),
        ("WASM_HTTP_REQUEST_MAX_RETRIES", "3"),
        ("WASM_INSECURE_REGISTRIES", "localhost:5000, 127.0.0.1:5001"),
        ("BLOCKED_CIDRS_IN_WASM_FETCH", "10.0.0.0/8"),
    ]
    .into_iter()
    .collect();
    let opts = FetchOptions::from_lookup("/cache", |k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(opts.http_timeout, Duration::from_secs(2));
    assert_eq!(opts.http_attempts, 3);
    assert!(opts.is_insecure("127.0.0.1:5001"));
    assert!(!opts.is_insecure("127.0.0.1:5002"));
    assert_eq!(opts.blocked_cidrs, vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]);
    assert_eq!(opts.max_module_bytes, 256 << 20);
}

#[test]
fn a_bad_variable_is_named_in_the_error() {
    let err = FetchOptions::from_lookup("/cache", |k| (k == "WASM_MODULE_EXPIRY").then(|| "soon".into()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fetch options: WASM_MODULE_EXPIRY=\"soon\" is not a duration"
    );
}

#[test]
fn star_makes_every_registry_insecure() {
    let mut opts = FetchOptions::new("/cache");
    assert!(!opts.is_insecure("r.example:5000"));
    opts.insecure_registries.push("*".into());
    assert!(opts.is_insecure("r.example:5000"));
}
