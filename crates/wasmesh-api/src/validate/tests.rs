//! Table-driven: for every rule at least one valid and one invalid document, asserting the
//! field path of the error and what it says.

use crate::parse::{parse, Format};

/// The errors of the first document of `text`, as (path, message); empty when valid.
fn errors(text: &str) -> Vec<(String, String)> {
    let docs = parse("t.yaml", text, Format::Yaml);
    assert_eq!(docs.len(), 1, "one document expected in:\n{text}");
    match docs.into_iter().next().unwrap() {
        Ok(_) => vec![],
        Err(e) => e
            .errors
            .iter()
            .map(|e| (e.path.clone(), e.kind.to_string()))
            .collect(),
    }
}

fn plugin(spec: &str) -> String {
    format!(
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: p\n  namespace: ns\nspec:\n{}",
        indent(spec)
    )
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// Runs cases of (spec, expected): `None` = valid, `Some((path, fragment))` = an error at
/// exactly `path` whose message contains `fragment`.
fn check(make: impl Fn(&str) -> String, cases: &[(&str, Option<(&str, &str)>)]) {
    for (spec, expected) in cases {
        let text = make(spec);
        let got = errors(&text);
        match expected {
            None => assert!(got.is_empty(), "expected valid, got {got:?} for:\n{text}"),
            Some((path, fragment)) => assert!(
                got.iter().any(|(p, m)| p == path && m.contains(fragment)),
                "expected an error at `{path}` containing `{fragment}`, got {got:?} for:\n{text}"
            ),
        }
    }
}

#[test]
fn wasm_plugin_url_scheme_and_digest() {
    let sha = "1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210";
    let other = "2ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210";
    check(
        plugin,
        &[
            ("url: file:///opt/filters/openid.wasm", None),
            ("url: oci://registry:5000/openid:latest", None),
            ("url: registry:5000/openid:latest", None),
            ("url: https://example.test/x.wasm", None),
            ("url: http://example.test/x.wasm", None),
            (
                "url: ftp://example.test/x.wasm",
                Some(("spec.url", "unsupported scheme `ftp`")),
            ),
            ("url: \"\"", Some(("spec.url", "a url is required"))),
            ("url: http:///x.wasm", Some(("spec.url", "needs a host"))),
            ("url: oci://reg/x wasm", Some(("spec.url", "spaces"))),
            (
                "pluginName: x",
                Some(("spec.url", "missing; this field is required")),
            ),
            (&format!("url: oci://reg/x@sha256:{sha}\nsha256: {sha}"), None),
            (
                &format!("url: oci://reg/x@sha256:{sha}\nsha256: {other}"),
                Some(("spec.sha256", "must be the same")),
            ),
            (
                "url: oci://reg/x@sha256:abc",
                Some(("spec.url", "64 lower-case hex")),
            ),
            (&format!("url: file:///x.wasm\nsha256: {sha}"), None),
            (
                &format!("url: file:///x.wasm\nsha256: {}", sha.to_uppercase()),
                Some(("spec.sha256", "^[a-f0-9]{64}$")),
            ),
            (
                "url: file:///x.wasm\nsha256: abc",
                Some(("spec.sha256", "64 lower-case hex")),
            ),
        ],
    );
}

#[test]
fn wasm_plugin_lengths_priority_and_enums() {
    let long = "a".repeat(254);
    let long_name = "a".repeat(257);
    check(
        plugin,
        &[
            ("url: x\nimagePullSecret: pull-secret", None),
            (
                &format!("url: x\nimagePullSecret: {long}"),
                Some(("spec.imagePullSecret", "1 to 253")),
            ),
            (
                "url: x\nimagePullSecret: \"\"",
                Some(("spec.imagePullSecret", "1 to 253")),
            ),
            ("url: x\npluginName: my.root", None),
            (
                &format!("url: x\npluginName: {long_name}"),
                Some(("spec.pluginName", "1 to 256")),
            ),
            ("url: x\npriority: -2147483648", None),
            (
                "url: x\npriority: 2147483648",
                Some(("spec.priority", "32-bit integer")),
            ),
            (
                "url: x\npriority: \"10\"",
                Some(("spec.priority", "expected an integer")),
            ),
            ("url: x\npriority: 1.5", Some(("spec.priority", "invalid type"))),
            ("url: x\nphase: AUTHZ", None),
            (
                "url: x\nphase: authz",
                Some(("spec.phase", "unknown variant `authz`")),
            ),
            ("url: x\nimagePullPolicy: Always", None),
            (
                "url: x\nimagePullPolicy: Never",
                Some(("spec.imagePullPolicy", "unknown variant `Never`")),
            ),
            ("url: x\nfailStrategy: FAIL_RELOAD", None),
            (
                "url: x\nfailStrategy: FAIL_SOMETIMES",
                Some(("spec.failStrategy", "FAIL_OPEN")),
            ),
            ("url: x\ntype: NETWORK", None),
            ("url: x\ntype: TCP", Some(("spec.type", "unknown variant `TCP`"))),
            ("url: x\nextra: 1", Some(("spec.extra", "unknown field `extra`"))),
        ],
    );
}

#[test]
fn wasm_plugin_targeting() {
    check(
        plugin,
        &[
            ("url: x\nselector: {matchLabels: {app: web}}", None),
            (
                "url: x\nselector: {matchLabels: {app: web}}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]",
                Some(("spec", "at most one of selector, targetRef or targetRefs")),
            ),
            (
                "url: x\ntargetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]",
                Some(("spec", "at most one")),
            ),
            ("url: x\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]", None),
            ("url: x\ntargetRefs: [{kind: Service, group: \"\", name: svc}]", None),
            ("url: x\ntargetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: se}]", None),
            (
                "url: x\ntargetRefs: [{kind: HTTPRoute, group: gateway.networking.k8s.io, name: r}]",
                Some(("spec.targetRefs[0].kind", "allowed kinds")),
            ),
            (
                "url: x\ntargetRefs: [{kind: Gateway, group: networking.istio.io, name: gw}]",
                Some(("spec.targetRefs[0].group", "gateway.networking.k8s.io")),
            ),
            (
                "url: x\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw, namespace: other}]",
                Some(("spec.targetRefs[0].namespace", "cross-namespace")),
            ),
            (
                &format!(
                    "url: x\ntargetRefs:\n{}",
                    "- {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n".repeat(17)
                ),
                Some(("spec.targetRefs", "at most 16")),
            ),
            ("url: x\nselector: {matchLabels: {\"app/x/y\": web}}", Some(("spec.selector.matchLabels.app/x/y", "label key"))),
            ("url: x\nselector: {matchLabels: {app: \"-web\"}}", Some(("spec.selector.matchLabels.app", "label value"))),
        ],
    );
}

#[test]
fn wasm_plugin_vm_config_and_match() {
    check(
        plugin,
        &[
            (
                "url: x\nvmConfig: {env: [{name: A, value: b}, {name: POD_NAME, valueFrom: HOST}]}",
                None,
            ),
            (
                "url: x\nvmConfig: {env: [{name: A, valueFrom: HOST, value: b}]}",
                Some(("spec.vmConfig.env[0].value", "not allowed when valueFrom is HOST")),
            ),
            (
                "url: x\nvmConfig: {env: [{name: A, valueFrom: ENV}]}",
                Some(("spec.vmConfig.env[0].valueFrom", "INLINE")),
            ),
            (
                &format!(
                    "url: x\nvmConfig: {{env: [{{name: A, value: {}}}]}}",
                    "v".repeat(2049)
                ),
                Some(("spec.vmConfig.env[0].value", "2048")),
            ),
            (
                "url: x\nvmConfig: {env: [{name: A}, {name: A}]}",
                Some(("spec.vmConfig.env[1].name", "once")),
            ),
            (
                "url: x\nvmConfig: {env: [{name: \"\", value: b}]}",
                Some(("spec.vmConfig.env[0].name", "a name is required")),
            ),
            (
                &format!(
                    "url: x\nvmConfig:\n  env:\n{}",
                    (0..257)
                        .map(|i| format!("  - {{name: V{i}}}\n"))
                        .collect::<String>()
                ),
                Some(("spec.vmConfig.env", "at most 256")),
            ),
            (
                "url: x\nmatch: [{mode: SERVER, ports: [{number: 8080}]}, {mode: CLIENT}]",
                None,
            ),
            (
                "url: x\nmatch: [{mode: INBOUND}]",
                Some(("spec.match[0].mode", "CLIENT_AND_SERVER")),
            ),
            (
                "url: x\nmatch: [{ports: [{number: 0}]}]",
                Some(("spec.match[0].ports[0].number", "1 to 65535")),
            ),
            (
                "url: x\nmatch: [{ports: [{number: 70000}]}]",
                Some(("spec.match[0].ports[0].number", "1 to 65535")),
            ),
            (
                "url: x\nmatch: [{ports: [8080]}]",
                Some(("spec.match[0].ports[0]", "invalid type")),
            ),
        ],
    );
}

#[test]
fn wasm_plugin_verification_keys_must_be_pem() {
    let pem = "-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----";
    check(
        plugin,
        &[
            (&format!("url: x\nverificationKey: \"{pem}\""), None),
            (
                &format!("url: x\npluginConfig: {{verificationKey: \"{pem}\"}}"),
                None,
            ),
            (
                "url: x\nverificationKey: not-a-key",
                Some(("spec.verificationKey", "PEM public key")),
            ),
            (
                "url: x\npluginConfig: {verificationKey: 42}",
                Some(("spec.pluginConfig.verificationKey", "PEM")),
            ),
        ],
    );
}

#[test]
fn metadata_names_labels_and_kinds() {
    let doc = |meta: &str| {
        format!(
            "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n{}spec:\n  url: x\n",
            indent(meta)
        )
    };
    check(
        doc,
        &[
            ("name: my-plugin.v1\nnamespace: istio-system", None),
            ("name: My_Plugin", Some(("metadata.name", "DNS-1123 subdomain"))),
            (
                "name: p\nnamespace: Istio",
                Some(("metadata.namespace", "DNS-1123 label")),
            ),
            ("name: p\nlabels: {app.kubernetes.io/name: web}", None),
            (
                "name: p\nlabels: {\"bad key!\": web}",
                Some(("metadata.labels.bad key!", "label key")),
            ),
            (
                "name: p\nlabels: {app: \"has space\"}",
                Some(("metadata.labels.app", "label value")),
            ),
            ("name: p\ncreationTimestamp: 2024-05-01T12:00:00Z", None),
            (
                "name: p\ncreationTimestamp: yesterday",
                Some(("metadata.creationTimestamp", "RFC 3339")),
            ),
            (
                "namespace: ns",
                Some(("metadata.name", "missing; this field is required")),
            ),
            ("name: p\nowner: me", Some(("metadata.owner", "unknown field"))),
        ],
    );
    check(
        |kind: &str| {
            format!(
                "apiVersion: extensions.istio.io/v1alpha1\n{kind}metadata: {{name: p}}\nspec: {{url: x}}\n"
            )
        },
        &[
            ("kind: WasmPlugin\n", None),
            (
                "kind: WasmPlugins\n",
                Some(("kind", "unknown kind `WasmPlugins`")),
            ),
            (
                "kind: EnvoyFilterList\n",
                Some(("kind", "lists: `List` of v1, or the list of one of these kinds")),
            ),
            ("", Some(("kind", "missing; allowed: WasmPlugin"))),
        ],
    );
    check(
        |v: &str| format!("apiVersion: {v}\nkind: WasmPlugin\nmetadata: {{name: p}}\nspec: {{url: x}}\n"),
        &[
            ("extensions.istio.io/v1alpha1", None),
            (
                "extensions.istio.io/v1",
                Some(("apiVersion", "allowed: extensions.istio.io/v1alpha1")),
            ),
        ],
    );
}

#[test]
fn duplicate_keys_are_errors_at_any_depth() {
    check(
        plugin,
        &[
            ("url: x\nurl: y", Some(("spec.url", "duplicate key `url`"))),
            (
                "url: x\nselector:\n  matchLabels:\n    app: a\n    app: b",
                Some(("spec.selector.matchLabels.app", "duplicate key")),
            ),
            (
                "url: x\npluginConfig:\n  a: 1\n  a: 2",
                Some(("spec.pluginConfig.a", "duplicate key")),
            ),
        ],
    );
}

fn secret(body: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: pull, namespace: ns}}\n{body}")
}

#[test]
fn secrets_are_dockerconfigjson_and_never_shown() {
    // {"auths":{"reg:5000":{"auth":"dXNlcjpzM2NyZXQ="}}} — user:s3cret
    let data = "eyJhdXRocyI6eyJyZWc6NTAwMCI6eyJhdXRoIjoiZFhObGNqcHpNMk55WlhRPSJ9fX0=";
    check(
        secret,
        &[
            (
                &format!("type: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {data}}}"),
                None,
            ),
            (
                "type: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{\"auths\": {}}'}",
                None,
            ),
            (
                "type: Opaque\ndata: {a: b}",
                Some((
                    "type",
                    "allowed: kubernetes.io/dockerconfigjson, kubernetes.io/tls",
                )),
            ),
            (
                "type: kubernetes.io/dockerconfigjson\ndata: {other: x}",
                Some(("data", ".dockerconfigjson")),
            ),
            (
                "type: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: \"!!not base64\"}",
                Some(("data[\".dockerconfigjson\"]", "base64")),
            ),
            (
                "type: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: 'hunter2'}",
                Some(("stringData[\".dockerconfigjson\"]", "docker config JSON")),
            ),
        ],
    );
    let leaked = errors(&secret(
        "type: kubernetes.io/dockerconfigjson\ndata: \"hunter2\"\n",
    ));
    assert!(!leaked.is_empty());
    assert!(leaked.iter().all(|(_, m)| !m.contains("hunter2")), "{leaked:?}");
    let leaked = errors(&secret(
        "type: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: 'hunter2'}\n",
    ));
    assert!(leaked.iter().all(|(_, m)| !m.contains("hunter2")), "{leaked:?}");
}

#[test]
fn tls_secrets_hold_a_pem_certificate_and_key() {
    let pem = "'-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----'";
    let key = "'-----BEGIN EC PRIVATE KEY-----\n\n-----END EC PRIVATE KEY-----'";
    // base64 of "not a pem"
    let not_pem = "bm90IGEgcGVt";
    check(
        secret,
        &[
            (
                &format!("type: kubernetes.io/tls\nstringData: {{tls.crt: {pem}, tls.key: {key}}}"),
                None,
            ),
            (
                &format!("type: kubernetes.io/tls\nstringData: {{tls.crt: {pem}}}"),
                Some(("data", "has no `tls.key`")),
            ),
            (
                &format!(
                    "type: kubernetes.io/tls\nstringData: {{tls.key: {key}}}\ndata: {{tls.crt: {not_pem}}}"
                ),
                Some(("data[\"tls.crt\"]", "holds no PEM CERTIFICATE")),
            ),
            (
                &format!("type: kubernetes.io/tls\nstringData: {{tls.crt: {pem}, tls.key: hunter2}}"),
                Some(("stringData[\"tls.key\"]", "holds no PEM PRIVATE KEY")),
            ),
            (
                "type: kubernetes.io/tls\ndata: {tls.crt: \"!!\", tls.key: x}",
                Some(("data[\"tls.crt\"]", "base64")),
            ),
        ],
    );
}

#[test]
fn a_listener_takes_certificates_from_files_or_secrets_with_sni_names() {
    let proxy = |tls: &str| {
        format!(
            "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata: {{name: gw, namespace: ns}}\nspec:\n  listeners: [{{name: h, address: 127.0.0.1:1, tls: {tls}}}]\n"
        )
    };
    check(
        proxy,
        &[
            ("{secretName: cert}", None),
            (
                "{certificates: [{hostnames: [a.example.com, '*.b.example.com'], secretName: a}, {certFile: c, keyFile: k}]}",
                None,
            ),
            ("{}", Some(("spec.listeners[0].tls.certFile", "a certificate is required"))),
            (
                "{certFile: c, keyFile: k, secretName: s}",
                Some(("spec.listeners[0].tls.secretName", "not both")),
            ),
            (
                "{certificates: [{certFile: c}]}",
                Some(("spec.listeners[0].tls.certificates[0].keyFile", "a PEM key file is required")),
            ),
            (
                "{secretName: s, certificates: [{hostnames: ['a.*.com'], secretName: t}]}",
                Some(("spec.listeners[0].tls.certificates[0].hostnames[0]", "an SNI name")),
            ),
        ],
    );
}

fn security(kind: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: {kind}\nmetadata: {{name: p, namespace: ns}}\nspec:\n{}",
        indent(spec)
    )
}

#[test]
fn request_authentication_rules() {
    let ra = |spec: &str| security("RequestAuthentication", spec);
    check(
        ra,
        &[
            (
                "selector: {matchLabels: {app: web}}\njwtRules:\n- issuer: https://issuer.test\n  jwksUri: https://issuer.test/jwks\n  fromHeaders: [{name: x-jwt, prefix: \"Bearer \"}]\n  forwardOriginalToken: true\n  outputPayloadToHeader: x-payload",
                None,
            ),
            ("jwtRules: [{issuer: a, jwks: '{\"keys\": []}'}]", None),
            ("jwtRules: [{jwksUri: https://x}]", Some(("spec.jwtRules[0].issuer", "missing; this field is required"))),
            ("jwtRules: [{issuer: a, jwks: 'nope'}]", Some(("spec.jwtRules[0].jwks", "JSON Web Key Set"))),
            ("jwtRules: [{issuer: a, jwks: '{\"keys\": []}', jwksUri: https://x}]", Some(("spec.jwtRules[0]", "at most one"))),
            ("jwtRules: [{issuer: a, jwksUri: ftp://x}]", Some(("spec.jwtRules[0].jwksUri", "http"))),
            ("jwtRules: [{issuer: a, fromHeaders: [{name: \"bad header\"}]}]", Some(("spec.jwtRules[0].fromHeaders[0].name", "header name"))),
            ("jwtRules: [{issuer: a, audience: x}]", Some(("spec.jwtRules[0].audience", "unknown field"))),
        ],
    );
}

#[test]
fn authorization_policy_rules() {
    let ap = |spec: &str| security("AuthorizationPolicy", spec);
    check(
        ap,
        &[
            ("{}", None),
            (
                "action: DENY\nrules:\n- from: [{source: {notRequestPrincipals: [\"*\"], ipBlocks: [10.0.0.0/8, \"::1\"]}}]\n  to: [{operation: {methods: [GET], paths: [/admin*], ports: [\"8080\"]}}]\n  when: [{key: \"request.auth.claims[iss]\", values: [a]}, {key: \"request.headers[x-user]\", notValues: [b]}]",
                None,
            ),
            ("action: PERMIT", Some(("spec.action", "ALLOW"))),
            ("action: CUSTOM", Some(("spec.provider", "needs a provider"))),
            ("action: CUSTOM\nprovider: {name: ext}", None),
            ("provider: {name: ext}", Some(("spec.provider", "only allowed with action CUSTOM"))),
            ("rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]", Some(("spec.rules[0].from[0].source.ipBlocks[0]", "CIDR"))),
            ("rules: [{from: [{source: {}}]}]", Some(("spec.rules[0].from[0].source", "at least one field"))),
            ("rules: [{to: [{operation: {ports: [http]}}]}]", Some(("spec.rules[0].to[0].operation.ports[0]", "1 to 65535"))),
            ("rules: [{when: [{key: request.body, values: [a]}]}]", Some(("spec.rules[0].when[0].key", "allowed: request.headers"))),
            ("rules: [{when: [{key: \"request.headers[x]\"}]}]", Some(("spec.rules[0].when[0]", "values or notValues"))),
        ],
    );
}

fn proxy(spec: &str) -> String {
    format!(
        "apiVersion: wasmesh.io/v1alpha1\nkind: Proxy\nmetadata: {{name: gw, namespace: istio-system, labels: {{istio: ingressgateway}}}}\nspec:\n{}",
        indent(spec)
    )
}

const CLUSTERS: &str =
    "clusters: [{name: backend, endpoints: [\"127.0.0.1:9000\"], protocol: http1, connectTimeout: 1s}]";

#[test]
fn proxy_rules() {
    let with_clusters = |listeners: &str| proxy(&format!("{listeners}\n{CLUSTERS}"));
    check(
        with_clusters,
        &[
            (
                "listeners:\n- name: http\n  address: 127.0.0.1:8080\n  protocol: http\n  trafficDirection: SERVER\n  routes:\n  - name: default\n    match: {prefix: /, headers: [{name: x-env, exact: prod}]}\n    cluster: backend\n    timeout: 15s",
                None,
            ),
            ("listeners: [{name: tcp, address: \"[::1]:9001\", protocol: tcp, cluster: backend}]", None),
            ("listeners: []", Some(("spec.listeners", "at least one listener"))),
            ("listeners: [{name: a, address: \"localhost:8080\"}]", Some(("spec.listeners[0].address", "invalid socket address"))),
            ("listeners: [{name: a, address: 127.0.0.1:1, protocol: udp}]", Some(("spec.listeners[0].protocol", "unknown variant `udp`"))),
            ("listeners: [{name: a, address: 127.0.0.1:1, trafficDirection: INBOUND}]", Some(("spec.listeners[0].trafficDirection", "SERVER"))),
            (
                "listeners: [{name: a, address: 127.0.0.1:1}, {name: a, address: 127.0.0.1:2}]",
                Some(("spec.listeners[1].name", "unique")),
            ),
            (
                "listeners: [{name: \"\", address: 127.0.0.1:1}]",
                Some(("spec.listeners[0].name", "a name is required")),
            ),
            (
                "listeners: [{name: a, address: 127.0.0.1:1}, {name: b, address: 127.0.0.1:1}]",
                Some(("spec.listeners[1].address", "already uses")),
            ),
            ("listeners: [{name: t, address: 127.0.0.1:1, protocol: tcp}]", Some(("spec.listeners[0].cluster", "needs the cluster"))),
            (
                "listeners: [{name: t, address: 127.0.0.1:1, protocol: tcp, cluster: nowhere}]",
                Some(("spec.listeners[0].cluster", "defined: backend")),
            ),
            (
                "listeners: [{name: t, address: 127.0.0.1:1, protocol: tcp, cluster: backend, tls: {certFile: c, keyFile: k}}]",
                Some(("spec.listeners[0].tls", "tcp listeners do not terminate TLS")),
            ),
            (
                "listeners: [{name: t, address: 127.0.0.1:1, protocol: tcp, cluster: backend, http: {idleTimeout: 1s}}]",
                Some(("spec.listeners[0].http", "http settings are for http listeners")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: nowhere}]}]",
                Some(("spec.listeners[0].routes[0].cluster", "no such cluster")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, exact: /a}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match", "exactly one of prefix, pathSeparatedPrefix, exact or regex")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {regex: \"/a(\"}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.regex", "regular expression")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: api}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.prefix", "starts with /")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, hosts: [a.example.com, \"*.example.com\"], method: GET}, cluster: backend}, {match: {prefix: /}, directResponse: {status: 500}}]}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, hosts: [\"a..b\"]}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.hosts[0]", "wildcard")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, method: get}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.method", "upper case")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, directResponse: {status: 99}}]}]",
                Some(("spec.listeners[0].routes[0].directResponse.status", "200 to 599")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, directResponse: {status: 500}}]}]",
                Some(("spec.listeners[0].routes[0]", "not cluster and directResponse")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, queryParams: [{name: a, exact: b}, {name: c, regex: \"[0-9]+\"}, {name: d}]}, cluster: backend}]}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, queryParams: [{name: a, exact: b, regex: c}]}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.queryParams[0]", "at most one of exact or regex")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /, queryParams: [{name: \"\", regex: \"(\"}]}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.queryParams[0].regex", "regular expression")),
            ),
            // route actions (docs/proxy.md, "Changing requests and responses")
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {pathSeparatedPrefix: /api}, cluster: backend, requestHeaders: {set: [{name: X-A, value: b}], add: [{name: x-c, value: d}], remove: [x-e]}, responseHeaders: {remove: [server]}, rewrite: {host: internal.example.com, path: {prefix: /v2}}}, {match: {prefix: /old}, redirect: {scheme: https, host: new.example.com, port: 8443, path: {prefix: /new}, status: 301}}, {match: {exact: /split}, weightedClusters: [{cluster: backend, weight: 9, requestHeaders: {set: [{name: x-share, value: a}]}}, {directResponse: {status: 500}, weight: 1}]}]}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {pathSeparatedPrefix: /api/}, cluster: backend}]}]",
                Some(("spec.listeners[0].routes[0].match.pathSeparatedPrefix", "no trailing /")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, requestHeaders: {set: [{name: \"bad name\", value: x}]}}]}]",
                Some(("spec.listeners[0].routes[0].requestHeaders.set[0].name", "header name")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, responseHeaders: {set: [{name: x-a, value: a}, {name: X-A, value: b}]}}]}]",
                Some(("spec.listeners[0].routes[0].responseHeaders.set[1].name", "once")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {exact: /a}, cluster: backend, rewrite: {path: {prefix: /b}}}]}]",
                Some(("spec.listeners[0].routes[0].rewrite.path.prefix", "needs prefix or pathSeparatedPrefix")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, rewrite: {path: {fullPath: /a, prefix: /b}}}]}]",
                Some(("spec.listeners[0].routes[0].rewrite.path", "exactly one of fullPath or prefix")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, redirect: {scheme: ftp, status: 404}}]}]",
                Some(("spec.listeners[0].routes[0].redirect.scheme", "http or https")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, redirect: {status: 404}}]}]",
                Some(("spec.listeners[0].routes[0].redirect.status", "301, 302, 303, 307, 308")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, redirect: {host: \"a.example.com:80\"}}]}]",
                Some(("spec.listeners[0].routes[0].redirect.host", "without a port")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, redirect: {}, rewrite: {host: a.example.com}}]}]",
                Some(("spec.listeners[0].routes[0].rewrite", "not for a redirect")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, weightedClusters: [{cluster: nowhere, weight: 1}]}]}]",
                Some(("spec.listeners[0].routes[0].weightedClusters[0].cluster", "no such cluster")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, weightedClusters: [{cluster: backend, weight: 0}]}]}]",
                Some(("spec.listeners[0].routes[0].weightedClusters", "above 0")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, weightedClusters: [{weight: 1}]}]}]",
                Some(("spec.listeners[0].routes[0].weightedClusters[0]", "exactly one of cluster or directResponse")),
            ),
            // mirrors (docs/proxy.md, "Mirrors")
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, mirrors: [{cluster: backend}, {cluster: backend, percent: 0}, {cluster: backend, percent: 100}]}]}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, mirrors: [{cluster: backend}, {cluster: shadow}]}]}]",
                Some(("spec.listeners[0].routes[0].mirrors[1].cluster", "no such cluster")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, mirrors: [{cluster: backend, percent: 101}]}]}]",
                Some(("spec.listeners[0].routes[0].mirrors[0].percent", "from 0 to 100")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, directResponse: {status: 503}, mirrors: [{cluster: backend}]}]}]",
                Some(("spec.listeners[0].routes[0].mirrors", "not a redirect or a directResponse")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}}]}]",
                Some(("spec.listeners[0].routes[0].cluster", "needs a cluster")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, timeout: 15}]}]",
                Some(("spec.listeners[0].routes[0].timeout", "not a duration")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, tls: {certificates: [{certFile: c, keyFile: k, secretNamespace: certs}]}}]",
                Some(("spec.listeners[0].tls.certificates[0].secretNamespace", "which is not set")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, tls: {secretName: a, secretNamespace: Certs_1}}]",
                Some(("spec.listeners[0].tls.secretNamespace", "Certs_1")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, tls: {certificates: [{secretName: a, secretNamespace: certs}]}}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, timeout: 1s, perTryTimeout: 2s}]}]",
                Some(("spec.listeners[0].routes[0].perTryTimeout", "no longer than the route's timeout (1s)")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, perTryTimeout: 0s}]}]",
                Some(("spec.listeners[0].routes[0].perTryTimeout", "longer than zero")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, directResponse: {status: 503}, perTryTimeout: 1s}]}]",
                Some(("spec.listeners[0].routes[0].perTryTimeout", "not a redirect or a directResponse")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: backend, timeout: 2s, perTryTimeout: 2s}]}]",
                None,
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, tls: {certFile: c, keyFile: k, handshakeTimeout: 0s}}]",
                Some(("spec.listeners[0].tls.handshakeTimeout", "0s is not allowed: must be longer than zero")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, http: {requestHeadersTimeout: 0ms}}]",
                Some(("spec.listeners[0].http.requestHeadersTimeout", "longer than zero")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, http: {idleTimeout: 0s}}]",
                Some(("spec.listeners[0].http.idleTimeout", "longer than zero")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1, tls: {certFile: c, keyFile: k, handshakeTimeout: 300ms}, http: {requestHeadersTimeout: 300ms, idleTimeout: 1s}}]",
                None,
            ),
        ],
    );
    check(
        proxy,
        &[
            (
                "listeners: [{name: h, address: 127.0.0.1:1}]\nclusters: [{name: c, endpoints: [nohost]}]",
                Some(("spec.clusters[0].endpoints[0]", "HOST:PORT")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1}]\nclusters: [{name: c, endpoints: []}]",
                Some(("spec.clusters[0].endpoints", "at least one endpoint")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1}]\nclusters: [{name: c, endpoints: [\"localhost:1\"], protocol: http3}]",
                Some(("spec.clusters[0].protocol", "http2")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1}]\nclusters: [{name: c, endpoints: [\"a:1\"]}, {name: c, endpoints: [\"b:1\"]}]",
                Some(("spec.clusters[1].name", "unique")),
            ),
            (
                "listeners: [{name: h, address: 127.0.0.1:1}]\nclusters: [{name: \"\", endpoints: [\"a:1\"]}]",
                Some(("spec.clusters[0].name", "a name is required")),
            ),
        ],
    );
}

#[test]
fn every_error_of_a_document_is_reported() {
    let got = errors(&plugin("url: ftp://x\nsha256: abc\npriority: 9999999999"));
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["spec.url", "spec.sha256", "spec.priority"], "{got:?}");
}
