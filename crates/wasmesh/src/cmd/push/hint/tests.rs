use super::*;

#[test]
fn a_reference_without_a_registry_host_goes_to_docker_hub() {
    assert_eq!(
        default_registry_note("a/b:v1").unwrap(),
        "a/b:v1 names no registry host, so it means docker.io/a/b:v1 (Docker Hub); to use another \
         registry, start the reference with its host, like localhost:5000/a/b:v1"
    );
    assert!(default_registry_note("oci://b:v1")
        .unwrap()
        .contains("it means docker.io/library/b:v1"));
    for named in [
        "localhost/a:v1",
        "localhost:5000/a:v1",
        "oci://127.0.0.1:5000/a/b:v1",
        "ghcr.io/org/a:v1",
    ] {
        assert_eq!(default_registry_note(named), None, "{named}");
    }
}

#[test]
fn a_tls_error_from_a_plain_http_registry_suggests_the_flag() {
    let error = "module r:5000/a:v1: registry: error sending request for url (https://r:5000/v2/): \
                 client error (Connect): received corrupt message of type InvalidContentType";
    assert!(plain_http_hint(error, false).unwrap().contains("--plain-http"));
    assert_eq!(plain_http_hint(error, true), None, "already given");
    assert_eq!(plain_http_hint("HTTP 401", false), None);
}
