//! HTTPS listeners: certificateRefs to TLS Secrets as the Proxy's certificates, SNI by the
//! listeners' hostnames, and every reference that does not resolve said with its reason.

use super::tests::{join, objects, route, target, translated, CLASS, ECHO};
use super::*;

const PEM: &str = "-----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\n    MIIE\n    -----END PRIVATE KEY-----";

pub(super) fn tls_secret(name: &str, namespace: &str) -> String {
    format!(
        "
apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {namespace}}}
type: kubernetes.io/tls
stringData:
  tls.crt: |
    {PEM}
  tls.key: |
    {KEY}"
    )
}

pub(super) fn gateway(listeners: &str) -> String {
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: public, namespace: edge}}
spec:
  gatewayClassName: wasmesh
  listeners:
{listeners}"
    )
}

pub(super) fn to_echo() -> String {
    route(
        "r",
        "  parentRefs: [{name: public}]\n  rules:\n  - backendRefs: [{name: echo, port: 80}]",
    )
}

/// Each certificate as `hostnames <- secret`.
fn certificates(listener: &Listener) -> Vec<String> {
    let tls = listener.tls.as_ref().expect("a TLS listener");
    tls.all_certificates()
        .iter()
        .map(|c| format!("{:?} <- {}", c.hostnames, c.secret_name.as_deref().unwrap_or("?")))
        .collect()
}

#[test]
fn an_https_listener_terminates_with_its_secret_and_sni_picks_among_the_listeners_of_a_port() {
    let listeners = "
  - {name: a, port: 8443, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: a-cert}]}}
  - {name: b, port: 8443, protocol: HTTPS, hostname: '*.b.example.com', tls: {mode: Terminate, certificateRefs: [{kind: Secret, group: '', name: b-cert}]}}
  - {name: any, port: 9443, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert}, {name: b-cert}]}}
  - {name: http, port: 8080, protocol: HTTP}";
    let yaml = join(&[
        CLASS,
        &gateway(listeners),
        ECHO,
        &to_echo(),
        &tls_secret("a-cert", "edge"),
        &tls_secret("b-cert", "edge"),
    ]);
    let (proxy, notes) = translated(&yaml);
    assert!(notes.is_empty(), "{notes:?}");
    let names: Vec<(&str, u16, bool)> = proxy
        .spec
        .listeners
        .iter()
        .map(|l| (l.name.as_str(), l.address.port(), l.tls.is_some()))
        .collect();
    assert_eq!(
        names,
        [("http", 8080, false), ("a", 8443, true), ("any", 9443, true)]
    );
    assert_eq!(
        certificates(&proxy.spec.listeners[1]),
        [
            r#"["a.example.com"] <- a-cert"#,
            r#"["*.b.example.com"] <- b-cert"#
        ]
    );
    // no hostname: each certificate for the names it carries, the first for the rest
    assert_eq!(
        certificates(&proxy.spec.listeners[2]),
        ["[] <- a-cert", "[] <- b-cert"]
    );
    // the route is served over TLS as over HTTP, per listener hostname
    let hosts: Vec<Vec<String>> = proxy.spec.listeners[1]
        .routes
        .iter()
        .map(|r| r.r#match.hosts.clone())
        .collect();
    assert_eq!(
        hosts,
        [
            vec!["a.example.com".to_string()],
            vec!["a.example.com".to_string()],
            vec!["*.b.example.com".to_string()],
            vec!["*.b.example.com".to_string()],
        ]
    );
    let wanted: Vec<String> = tls::wanted_secrets("edge", &objects(&yaml).gateways[0].spec.listeners, &[])
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        wanted,
        ["edge/a-cert", "edge/b-cert", "edge/a-cert", "edge/b-cert"]
    );
}

#[test]
fn a_certificate_ref_that_does_not_resolve_is_said_with_its_reason_and_its_listener_is_not_served() {
    let listeners = "
  - {name: missing, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: nope}]}}
  - {name: opaque, port: 8444, protocol: HTTPS, tls: {certificateRefs: [{name: opaque}]}}
  - {name: broken, port: 8445, protocol: HTTPS, tls: {certificateRefs: [{name: broken}]}}
  - {name: elsewhere, port: 8446, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert, namespace: web}]}}
  - {name: configmap, port: 8447, protocol: HTTPS, tls: {certificateRefs: [{kind: ConfigMap, name: a-cert}]}}
  - {name: none, port: 8448, protocol: HTTPS}
  - {name: partly, port: 8449, protocol: HTTPS, tls: {certificateRefs: [{name: nope}, {name: a-cert}]}}
  - {name: through, port: 8450, protocol: HTTPS, tls: {mode: Passthrough, certificateRefs: [{name: a-cert}]}}";
    let opaque = "
apiVersion: v1
kind: Secret
metadata: {name: opaque, namespace: edge}
stringData: {tls.crt: x, tls.key: y}";
    let broken = "
apiVersion: v1
kind: Secret
metadata: {name: broken, namespace: edge}
type: kubernetes.io/tls
stringData: {tls.crt: not a pem, tls.key: y}";
    let yaml = join(&[
        CLASS,
        &gateway(listeners),
        ECHO,
        &to_echo(),
        &tls_secret("a-cert", "edge"),
        &tls_secret("a-cert", "web"),
        opaque,
        broken,
    ]);
    let t = translate(&objects(&yaml), &target());
    let proxy = t.proxy.unwrap();
    let ports: Vec<u16> = proxy.spec.listeners.iter().map(|l| l.address.port()).collect();
    assert_eq!(
        ports,
        [8449],
        "only the listener with a certificate that resolves"
    );
    assert_eq!(certificates(&proxy.spec.listeners[0]), ["[] <- a-cert"]);
    let said: Vec<(NoteKind, String)> = t.notes.iter().map(|n| (n.kind, n.to_string())).collect();
    use NoteKind::{InvalidCertificateRef as Invalid, RefNotPermitted, Unimplemented};
    let g = "Gateway edge/public: spec.listeners";
    assert_eq!(
        said,
        [
            (Unimplemented, format!("{g}[7]: listener through is HTTPS with tls.mode Passthrough: only Terminate is served yet; it is left out")),
            (Invalid, format!("{g}[0].tls.certificateRefs[0]: Secret edge/nope not found; not used")),
            (Invalid, format!("{g}[0].tls.certificateRefs: listener missing: no certificateRef resolves to a kubernetes.io/tls Secret; it is not served")),
            (Invalid, format!("{g}[1].tls.certificateRefs[0]: Secret edge/opaque has type Opaque, not kubernetes.io/tls; not used")),
            (Invalid, format!("{g}[1].tls.certificateRefs: listener opaque: no certificateRef resolves to a kubernetes.io/tls Secret; it is not served")),
            (Invalid, format!("{g}[2].tls.certificateRefs[0]: Secret edge/broken: `tls.crt` holds no PEM CERTIFICATE (`-----BEGIN CERTIFICATE-----`); not used")),
            (Invalid, format!("{g}[2].tls.certificateRefs: listener broken: no certificateRef resolves to a kubernetes.io/tls Secret; it is not served")),
            (RefNotPermitted, format!("{g}[3].tls.certificateRefs[0]: Secret web/a-cert is in another namespace than the Gateway, and no ReferenceGrant in namespace web allows Gateways of namespace edge to refer to it; not used")),
            (Invalid, format!("{g}[3].tls.certificateRefs: listener elsewhere: no certificateRef resolves to a kubernetes.io/tls Secret; it is not served")),
            (Invalid, format!("{g}[4].tls.certificateRefs[0]: ConfigMap of group core is not a Secret; only Secrets are read")),
            (Invalid, format!("{g}[4].tls.certificateRefs: listener configmap: no certificateRef resolves to a kubernetes.io/tls Secret; it is not served")),
            (Invalid, format!("{g}[5].tls.certificateRefs: listener none is HTTPS with no certificateRefs: it is not served")),
            (Invalid, format!("{g}[6].tls.certificateRefs[0]: Secret edge/nope not found; not used")),
        ]
    );
    // only Secrets of the Gateway's namespace are followed, without a grant
    let wanted: Vec<String> = tls::wanted_secrets("edge", &objects(&yaml).gateways[0].spec.listeners, &[])
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        wanted,
        [
            "edge/nope",
            "edge/opaque",
            "edge/broken",
            "edge/nope",
            "edge/a-cert"
        ]
    );
}

/// A ReferenceGrant in `certs` from Gateways of `from` to Secrets (`name`: that one only).
pub(super) fn secret_grant(from: &str, name: Option<&str>) -> String {
    let name = name.map(|n| format!(", name: {n}")).unwrap_or_default();
    format!(
        "
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {{name: gateways, namespace: certs}}
spec:
  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {from}}}]
  to: [{{group: \"\", kind: Secret{name}}}]"
    )
}

#[test]
fn a_certificate_ref_to_another_namespace_resolves_through_a_reference_grant() {
    let listeners = "
  - {name: https, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert, namespace: certs}]}}";
    let base = [
        CLASS.to_string(),
        gateway(listeners),
        ECHO.to_string(),
        to_echo(),
        tls_secret("a-cert", "certs"),
    ];
    let with = |extra: &[String]| {
        let mut all: Vec<&str> = base.iter().map(String::as_str).collect();
        all.extend(extra.iter().map(String::as_str));
        objects(&join(&all))
    };
    // granted, to every Secret or to that one: served with the Secret's namespace named
    for grant in [secret_grant("edge", None), secret_grant("edge", Some("a-cert"))] {
        let objects = with(std::slice::from_ref(&grant));
        let t = translate(&objects, &target());
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        let proxy = t.proxy.unwrap();
        let tls = proxy.spec.listeners[0].tls.as_ref().unwrap();
        assert_eq!(tls.secrets("edge"), [("certs", "a-cert")]);
        assert_eq!(tls.certificates[0].secret_namespace.as_deref(), Some("certs"));
        let wanted: Vec<String> =
            tls::wanted_secrets("edge", &objects.gateways[0].spec.listeners, &objects.grants)
                .map(|n| n.to_string())
                .collect();
        assert_eq!(wanted, ["certs/a-cert"], "followed once granted");
    }
    // a grant for another Secret, or from another namespace's Gateways: refused, not followed
    for grant in [secret_grant("edge", Some("b-cert")), secret_grant("web", None)] {
        let objects = with(std::slice::from_ref(&grant));
        let t = translate(&objects, &target());
        assert!(t.proxy.unwrap().spec.listeners.is_empty());
        assert_eq!(t.notes[0].kind, NoteKind::RefNotPermitted, "{:?}", t.notes);
        let wanted = tls::wanted_secrets("edge", &objects.gateways[0].spec.listeners, &objects.grants);
        assert_eq!(wanted.count(), 0);
    }
}

#[test]
fn http_and_https_on_one_port_conflict_and_both_are_left_out() {
    let listeners = "
  - {name: http, port: 8443, protocol: HTTP}
  - {name: https, port: 8443, protocol: HTTPS, tls: {certificateRefs: [{name: a-cert}]}}
  - {name: other, port: 8080, protocol: HTTP}";
    let yaml = join(&[CLASS, &gateway(listeners), ECHO, &tls_secret("a-cert", "edge")]);
    let (proxy, notes) = translated(&yaml);
    let ports: Vec<u16> = proxy.spec.listeners.iter().map(|l| l.address.port()).collect();
    assert_eq!(ports, [8080], "only the listener without a conflict");
    assert_eq!(
        super::tests::notes_of(&notes),
        [
            "Gateway edge/public: spec.listeners[0]: listener http conflicts (ProtocolConflict: listener https on port 8443 has protocol HTTPS); it is left out",
            "Gateway edge/public: spec.listeners[1]: listener https conflicts (ProtocolConflict: listener http on port 8443 has protocol HTTP); it is left out",
        ]
    );
}
