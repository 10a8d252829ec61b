//! Parsing: documents, origins, lines, formats, and the published examples.

use super::*;
use crate::{wasm_plugin::PullPolicy, Phase};

fn ok(file: &str, text: &str, format: Format) -> Vec<Document> {
    parse(file, text, format)
        .into_iter()
        .map(|d| d.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

const TWO: &str = "# leading comment
---
apiVersion: v1
kind: Secret
metadata: {name: a, namespace: ns}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{\"auths\": {}}'}
---
# only a comment: not a document
---

apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata: {name: p}
spec:
  listeners: [{name: l, address: 127.0.0.1:1, routes: []}]
...
";

#[test]
fn documents_keep_file_index_line_and_span() {
    let docs = ok("dir/two.yaml", TWO, Format::Yaml);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].origin.to_string(), "dir/two.yaml: document 1 (line 3)");
    assert_eq!(docs[1].origin.to_string(), "dir/two.yaml: document 2 (line 12)");
    assert_eq!(
        docs[1].resource.key().to_string(),
        "Proxy default/p",
        "unset namespace is default"
    );
    assert!(TWO[docs[0].span.clone()].starts_with("---\napiVersion: v1"));
    assert!(TWO[docs[1].span.clone()].contains("kind: Proxy"));
}

#[test]
fn a_broken_document_does_not_hide_the_others() {
    let text = "kind: WasmPlugin\napiVersion: extensions.istio.io/v1alpha1\nmetadata: {name: a}\nspec: {url: x}\n---\nkind: WasmPlugin\napiVersion: extensions.istio.io/v1alpha1\nmetadata: {name: b}\nspec: {url: [\n---\nkind: WasmPlugin\napiVersion: extensions.istio.io/v1alpha1\nmetadata: {name: c}\nspec: {url: x, priority: \"1\"}\n";
    let docs = parse("f.yaml", text, Format::Yaml);
    assert!(docs[0].is_ok());
    let b = docs[1].as_ref().unwrap_err();
    assert!(matches!(b.errors[0].kind, ErrorKind::Syntax(_)), "{b}");
    assert!(
        matches!(b.errors[0].origin, Origin::File { document: 2, .. }),
        "{:?}",
        b.errors[0].origin
    );
    assert_eq!(
        b.key.as_ref().map(|k| k.name.as_str()),
        None,
        "a syntax error hides the name"
    );
    let c = docs[2].as_ref().unwrap_err();
    assert_eq!(
        c.key.as_ref().map(|k| k.name.as_str()),
        Some("c"),
        "the store can keep c's last good version"
    );
    assert_eq!(c.errors[0].line, 14, "the error points at the priority line");
    assert_eq!(
        c.to_string(),
        "f.yaml: document 3 (line 11, field at line 14): spec.priority: invalid type: string \"1\", expected an integer"
    );
}

#[test]
fn json_files_hold_one_or_more_values() {
    let text = r#"{"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
 "metadata": {"name": "a", "namespace": "ns"}, "spec": {"url": "file:///a.wasm", "priority": 5}}
{"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
 "metadata": {"name": "b"}, "spec": {"url": "file:///b.wasm", "url": "x"}}
"#;
    let docs = parse("p.json", text, Format::Json);
    assert_eq!(docs.len(), 2);
    let a = docs[0].as_ref().unwrap();
    assert_eq!(a.origin.line(), 1);
    let b = docs[1].as_ref().unwrap_err();
    assert_eq!(b.origin.line(), 3);
    assert_eq!(b.errors[0].path, "spec.url");
    assert!(matches!(b.errors[0].kind, ErrorKind::DuplicateKey(_)), "{b}");
    assert_eq!(Format::from_path("a/b.JSON"), Some(Format::Json));
    assert_eq!(Format::from_path("a/b.yml"), Some(Format::Yaml));
    assert_eq!(Format::from_path("a/README.md"), None);
}

#[test]
fn json_syntax_errors_point_at_their_line() {
    let text = "{\"kind\": \"WasmPlugin\",\n \"spec\": {\n  \"url\": x\n }}";
    let docs = parse("p.json", text, Format::Json);
    let e = docs[0].as_ref().unwrap_err();
    assert!(matches!(e.errors[0].kind, ErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.errors[0].line, 3);
}

#[test]
fn the_api_reference_examples_validate_unchanged() {
    let oci = ok(
        "plugin.yaml",
        include_str!("../../../../examples/plugin.yaml"),
        Format::Yaml,
    );
    let Resource::WasmPlugin(p) = &oci[0].resource else {
        panic!()
    };
    assert_eq!(p.metadata.namespace(), "istio-system");
    assert_eq!(p.phase(), Phase::Authn);
    assert_eq!(
        p.spec.image_pull_secret.as_deref(),
        Some("private-registry-pull-secret")
    );
    assert_eq!(
        p.effective_pull_policy(),
        PullPolicy::IfNotPresent,
        "set explicitly despite :latest"
    );
    assert_eq!(p.spec.plugin_config.as_ref().unwrap()["openid_realm"], "ingress");

    let file = ok(
        "plugin-file.yaml",
        include_str!("../../../../examples/plugin-file.yaml"),
        Format::Yaml,
    );
    let Resource::WasmPlugin(p) = &file[0].resource else {
        panic!()
    };
    assert_eq!(p.spec.url, "file:///opt/filters/openid.wasm");
    assert_eq!(p.qualified_name(), "istio-ingress.openid-connect");

    ok(
        "proxy.yaml",
        include_str!("../../../../examples/proxy.yaml"),
        Format::Yaml,
    );
}

/// Examples in the style of Istio's WasmPlugin documentation, including the fields the
/// API reference does not show.
const ISTIO_DOCS: &str = r#"
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
  namespace: istio-ingress
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: oci://private-registry:5000/openid-connect/openid:latest
  imagePullPolicy: IfNotPresent
  imagePullSecret: private-registry-pull-secret
  phase: AUTHN
  pluginConfig:
    openid_server: authn
    openid_realm: ingress
  vmConfig:
    env:
    - name: POD_NAME
      valueFrom: HOST
    - name: TRUST_DOMAIN
      value: "cluster.local"
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
  namespace: istio-ingress
spec:
  targetRefs:
  - kind: Gateway
    group: gateway.networking.k8s.io
    name: waypoint
  url: file:///opt/filters/openid.wasm
  sha256: 1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210
  phase: AUTHN
  pluginConfig:
    openid_server: authn
    openid_realm: ingress
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: basic-auth
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
  phase: AUTHN
  priority: 1000
  failStrategy: FAIL_OPEN
  type: HTTP
  match:
  - mode: SERVER
    ports:
    - number: 80
  pluginConfig:
    basic_auth_rules:
      - prefix: "/productpage"
        request_methods:
          - "GET"
          - "POST"
        credentials:
          - "ok:test"
          - "YWRtaW4zOmFkbWluMw=="
"#;

#[test]
fn istio_documentation_examples_validate_unchanged() {
    let docs = ok("istio.yaml", ISTIO_DOCS, Format::Yaml);
    assert_eq!(docs.len(), 3);
    let Resource::WasmPlugin(p) = &docs[2].resource else {
        panic!()
    };
    assert_eq!(p.spec.priority, Some(1000));
    assert_eq!(p.effective_pull_policy(), PullPolicy::IfNotPresent);
}

#[test]
fn the_phase_describe_prints_is_accepted_too() {
    let phase = |value: &str| {
        let docs = ok(
            "p.yaml",
            &format!("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: p}}\nspec: {{url: \"file:///a.wasm\", phase: {value}}}\n"),
            Format::Yaml,
        );
        let Resource::WasmPlugin(p) = &docs[0].resource else {
            panic!()
        };
        p.phase()
    };
    assert_eq!(phase("UNSPECIFIED_PHASE"), Phase::Unspecified);
    assert_eq!(phase("UNSPECIFIED"), Phase::Unspecified);
    assert_eq!(phase("AUTHN"), Phase::Authn);
}

#[test]
fn latest_tag_defaults_to_always() {
    let docs = ok(
        "p.yaml",
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec: {url: \"reg:5000/a/b:latest\"}\n",
        Format::Yaml,
    );
    let Resource::WasmPlugin(p) = &docs[0].resource else {
        panic!()
    };
    assert_eq!(p.effective_pull_policy(), PullPolicy::Always);
    assert_eq!(p.full_url(), "oci://reg:5000/a/b:latest");
    let policy = |url: &str| {
        let docs = ok(
            "p.yaml",
            &format!("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {{name: p}}\nspec: {{url: \"{url}\"}}\n"),
            Format::Yaml,
        );
        let Resource::WasmPlugin(p) = &docs[0].resource else {
            panic!()
        };
        p.effective_pull_policy()
    };
    assert_eq!(
        policy("oci://reg:5000/a/b"),
        PullPolicy::Always,
        "no tag means latest"
    );
    assert_eq!(policy("oci://reg:5000/a/b:1.0"), PullPolicy::IfNotPresent);
    assert_eq!(
        policy("oci://reg/a@sha256:1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210"),
        PullPolicy::IfNotPresent
    );
    assert_eq!(
        policy("https://host/latest.wasm"),
        PullPolicy::IfNotPresent,
        "not OCI"
    );
}

proptest::proptest! {
    /// Whatever the text, parsing reports errors and never panics; every error has a line
    /// inside the file.
    #[test]
    fn any_text_parses_without_panicking(
        text in "(---\n|apiVersion: |kind: |WasmPlugin|Proxy|metadata:|name: |spec:|url: |\\{|\\}|\\[|\\]|\"|'|:|-|#| |\n|\t|x|1|é|\\.\\.\\.\n)*",
        json in proptest::bool::ANY,
    ) {
        let format = if json { Format::Json } else { Format::Yaml };
        let lines = text.lines().count().max(1) + 1;
        for doc in parse("fuzz", &text, format) {
            if let Err(e) = doc {
                proptest::prop_assert!(!e.errors.is_empty());
                for err in &e.errors {
                    proptest::prop_assert!(err.line >= 1 && err.line <= lines, "{err} (file has {lines} lines)");
                }
            }
        }
    }
}

const KUBECTL_LIST: &str = "apiVersion: v1
kind: List
metadata:
  resourceVersion: \"\"
items:
- apiVersion: extensions.istio.io/v1alpha1
  kind: WasmPlugin
  metadata:
    name: a
    namespace: apps
    creationTimestamp: \"2024-05-01T12:00:00Z\"
    resourceVersion: \"123\"
    uid: 0b5c1a52-1111-2222-3333-444455556666
  spec:
    url: oci://registry.test/a:1.0
    priority: 5
  status: {}
- apiVersion: extensions.istio.io/v1alpha1
  kind: WasmPlugin
  metadata:
    name: b
    namespace: apps
  spec:
    url: oci://registry.test/b:1.0
    priority: \"high\"
    match:
    - ports:
      - number: 0
";

#[test]
fn kubectl_lists_are_read_item_by_item() {
    let docs = parse("list.yaml", KUBECTL_LIST, Format::Yaml);
    assert_eq!(docs.len(), 2);
    let a = docs[0].as_ref().unwrap();
    assert_eq!(a.resource.key().to_string(), "WasmPlugin apps/a");
    assert_eq!(a.origin.to_string(), "list.yaml: document 1 (line 6)");
    let b = docs[1].as_ref().unwrap_err();
    assert_eq!(b.key.as_ref().map(|k| k.name.as_str()), Some("b"));
    assert_eq!(b.errors[0].path, "items[1].spec.priority");
    assert_eq!(b.errors[0].line, 25);
    assert!(
        b.errors[0].kind.to_string().contains("expected an integer"),
        "{b}"
    );
}

#[test]
fn a_typed_list_holds_only_its_kind() {
    let text = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPluginList\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  type: kubernetes.io/dockerconfigjson\n  data: {.dockerconfigjson: \"hunter2\"}\n";
    let docs = parse("list.yaml", text, Format::Yaml);
    let e = docs[0].as_ref().unwrap_err();
    assert_eq!(e.errors[0].path, "items[0].kind");
    assert!(
        e.errors[0]
            .kind
            .to_string()
            .contains("holds WasmPlugin items, not Secret"),
        "{e}"
    );
    let text = text
        .replace("WasmPluginList", "List")
        .replace("apiVersion: extensions.istio.io/v1alpha1", "apiVersion: v1");
    let docs = parse("list.yaml", &text, Format::Yaml);
    let e = docs[0].as_ref().unwrap_err();
    assert!(
        !e.to_string().contains("hunter2"),
        "secret values stay hidden: {e}"
    );
    let docs = parse(
        "list.yaml",
        "apiVersion: v2\nkind: List\nitems: []\n",
        Format::Yaml,
    );
    assert_eq!(docs[0].as_ref().unwrap_err().errors[0].path, "apiVersion");
}

/// A WasmPlugin whose pluginConfig nests `levels` mappings in block style, one per line:
/// the document nests `levels + 3` deep (the document, spec, pluginConfig, then one per
/// `a:`), the last level on the text's line `levels + 7`.
fn nested_plugin(levels: usize) -> String {
    let mut text = "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: deep}\nspec:\n  url: file:///p.wasm\n  pluginConfig:\n".to_string();
    for level in 0..levels {
        text.push_str(&" ".repeat(4 + 2 * level));
        text.push_str("a:\n");
    }
    text.push_str(&" ".repeat(4 + 2 * levels));
    text.push_str("b: 1\n");
    text
}

fn depth_error(doc: &Parsed) -> &Error {
    let e = doc.as_ref().expect_err("refused");
    assert_eq!(e.errors.len(), 1, "{e}");
    assert!(e.key.is_none(), "a document too deep to read names no resource");
    &e.errors[0]
}

#[test]
fn a_document_may_nest_up_to_the_limit() {
    let at_limit = nested_plugin(MAX_DEPTH - 3);
    let docs = ok("deep.yaml", &at_limit, Format::Yaml);
    assert_eq!(docs[0].resource.key().to_string(), "WasmPlugin default/deep");

    let past = format!("---\n{}", nested_plugin(MAX_DEPTH - 2));
    let docs = parse("deep.yaml", &format!("{at_limit}{past}"), Format::Yaml);
    assert!(docs[0].is_ok(), "the first document is not hidden");
    let error = depth_error(&docs[1]);
    // Document 2's content starts at the file's line 70; its 65th level (the mapping of
    // `b`) is on its line 62 + 7 = 69, so the file's line 138.
    let first = at_limit.lines().count() + 2;
    assert_eq!(first, 70);
    assert_eq!(
        error.to_string(),
        format!(
            "deep.yaml: document 2 (line {first}, field at line {}): mappings and sequences nest deeper \
             than the limit of 64 levels; flatten the document",
            first + 68
        )
    );
    assert_eq!(error.line, 138);
}

#[test]
fn deep_flow_collections_are_refused_before_the_parser_pays_for_them() {
    // The YAML parser's time is quadratic in flow depth: 100 000 levels took it 0.5 s
    // (optimised) before this check and take about 1 ms now.
    let text = "[".repeat(100_000);
    let started = std::time::Instant::now();
    let docs = parse("deep.yaml", &text, Format::Yaml);
    let took = started.elapsed();
    assert_eq!(
        depth_error(&docs[0]).to_string(),
        "deep.yaml: document 1 (line 1): mappings and sequences nest deeper than the limit of 64 levels; \
         flatten the document"
    );
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");

    // Mixed and spread over lines, the line is where level 65 opens.
    let text = format!("kind: Proxy\nspec: {}\n{}", "{a: [".repeat(20), "[\n".repeat(30));
    let docs = parse("deep.yaml", &text, Format::Yaml);
    // The document is level 1, line 2 opens 2..=41, lines 3..=26 open 42..=65.
    assert_eq!(depth_error(&docs[0]).line, 26);
}

#[test]
fn deep_json_is_refused_with_its_line() {
    let text = format!(
        "{{\"kind\": \"Proxy\", \"s\": \"[[[[{{{{\\\"\",\n{}\n",
        "[\n".repeat(100_000)
    );
    let docs = parse("deep.json", &text, Format::Json);
    assert_eq!(docs.len(), 1);
    let error = depth_error(&docs[0]);
    // Brackets in strings don't count; level 1 is the object on line 1, level 65 on 65.
    assert_eq!(error.line, 65, "{error}");
    assert!(error.to_string().contains("limit of 64 levels"), "{error}");

    let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let docs = parse("ok.json", &at_limit, Format::Json);
    assert!(
        !docs[0].as_ref().unwrap_err().to_string().contains("levels"),
        "64 levels are allowed"
    );
}

#[test]
fn a_file_past_the_size_limit_is_not_read() {
    let doc =
        "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p}\nspec: {url: x}\n";
    let padding = |len: usize| format!("{doc}#{}\n", "x".repeat(len - doc.len() - 2));
    let at_limit = padding(MAX_FILE_BYTES);
    assert_eq!(at_limit.len(), MAX_FILE_BYTES);
    assert!(parse("big.yaml", &at_limit, Format::Yaml)[0].is_ok());

    let past = padding(MAX_FILE_BYTES + 1);
    let docs = parse("dir/big.yaml", &past, Format::Yaml);
    assert_eq!(docs.len(), 1);
    let e = docs[0].as_ref().unwrap_err();
    assert!(
        e.key.is_none(),
        "the config directory keeps what the file held before"
    );
    assert_eq!(
        e.to_string(),
        "dir/big.yaml: document 1 (line 1): the file is 4194305 bytes, over the limit of 4194304 bytes \
         (4 MiB) per file; split its documents into several files"
    );
}

fn errors_of(text: &str, format: Format) -> Vec<(usize, String, String)> {
    let docs = parse("f", text, format);
    let e = docs[0].as_ref().expect_err("invalid");
    e.errors
        .iter()
        .map(|e| (e.line, e.path.clone(), e.kind.to_string()))
        .collect()
}

#[test]
fn every_schema_error_of_a_document_is_reported_in_text_order() {
    let text = "apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: {name: p, labels: {app: 1}}
spec:
  url: ftp://x
  priority: \"10\"
  phase: LATE
  pluginConfg: {}
  match:
  - mode: SERVE
    ports: [{number: \"80\"}, {number: 81, extra: 1}]
  type: HTTP
  type: NETWORK
";
    let got = errors_of(text, Format::Yaml);
    let paths: Vec<(usize, &str)> = got.iter().map(|(l, p, _)| (*l, p.as_str())).collect();
    assert_eq!(
        paths,
        [
            (3, "metadata.labels.app"),
            (5, "spec.url"),
            (6, "spec.priority"),
            (7, "spec.phase"),
            (8, "spec.pluginConfg"),
            (10, "spec.match[0].mode"),
            (11, "spec.match[0].ports[0].number"),
            (11, "spec.match[0].ports[1].extra"),
            (13, "spec.type"),
        ],
        "{got:#?}"
    );
    assert!(got[8].2.starts_with("duplicate key `type`"), "{got:#?}");
    assert!(got[3].2.starts_with("unknown variant `LATE`"), "{got:#?}");
    // The rules are checked on the rest of the document.
    assert!(got[1].2.contains("unsupported scheme `ftp`"), "{got:#?}");
}

#[test]
fn errors_past_a_required_field_of_the_wrong_type_are_found_without_inventing_any() {
    // `address` is required and parsed from text; `match` of a route and `name` of a
    // listener are required: stand-ins fill them, and their own errors are not reported.
    let text = "apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata: {name: gw}
spec:
  listeners:
  - name: http
    address: nope
    routes: [{match: {prefix: 1}, cluster: b}]
  - address: 127.0.0.1:80
    tls: {certFile: 1}
  clusters:
  - {name: b, endpoints: 7}
";
    let got = errors_of(text, Format::Yaml);
    let shown: Vec<String> = got.iter().map(|(l, p, m)| format!("{l} {p}: {m}")).collect();
    assert_eq!(
        shown,
        [
            "7 spec.listeners[0].address: invalid socket address syntax",
            "8 spec.listeners[0].routes[0].match.prefix: invalid type: integer `1`, expected a string",
            "9 spec.listeners[1].name: missing; this field is required",
            "10 spec.listeners[1].tls.certFile: invalid type: integer `1`, expected a string",
            "12 spec.clusters[0].endpoints: invalid type: integer `7`, expected a sequence",
        ],
        "{shown:#?}"
    );
}

#[test]
fn json_documents_and_list_items_report_every_error_too() {
    let json = r#"{"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": {"name": "p"},
 "spec": {"url": "x", "priority": "1", "phase": "NO", "bad": 1}}"#;
    // JSON errors after the first have no line to order them by.
    let mut paths: Vec<String> = errors_of(json, Format::Json).into_iter().map(|e| e.1).collect();
    assert_eq!(paths[0], "spec.priority", "the first, from the text");
    paths.sort();
    assert_eq!(paths, ["spec.bad", "spec.phase", "spec.priority"]);
    let list = "apiVersion: v1
kind: List
items:
- apiVersion: extensions.istio.io/v1alpha1
  kind: WasmPlugin
  metadata: {name: q}
  spec: {url: 3, phase: X}
";
    let paths: Vec<String> = errors_of(list, Format::Yaml).into_iter().map(|e| e.1).collect();
    assert_eq!(paths, ["items[0].spec.url", "items[0].spec.phase"]);
}

#[test]
fn a_wrong_api_version_does_not_hide_the_rest() {
    let text = "apiVersion: wasmesh.io/v1
kind: Proxy
metadata: {name: gw}
spec:
  listeners: [{name: l, address: 127.0.0.1:1, routes: [{match: {prefix: /}, cluster: nope}]}]
";
    let paths: Vec<String> = errors_of(text, Format::Yaml).into_iter().map(|e| e.1).collect();
    assert_eq!(paths, ["apiVersion", "spec.listeners[0].routes[0].cluster"]);
}

#[test]
fn secret_values_stay_hidden_in_every_error() {
    let text = "apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: [hunter2]}
data: 5
extra: hunter3
";
    let docs = parse("f", text, Format::Yaml);
    let shown = docs[0].as_ref().unwrap_err().to_string();
    assert!(!shown.contains("hunter"), "{shown}");
    assert!(shown.lines().count() >= 2, "{shown}");
}

#[test]
fn rules_are_not_checked_on_what_was_set_aside() {
    // The protocol is unknown (read as http, which would refuse `cluster`), the cluster's
    // name is of the wrong type (routes naming it would find no cluster): neither rule is
    // reported; the listener without routes' address clash is.
    let text = "apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata: {name: gw}
spec:
  listeners:
  - {name: a, address: 127.0.0.1:1, protocol: udp, cluster: b}
  - {name: b, address: 127.0.0.1:2, routes: [{match: {prefix: /}, cluster: b}]}
  - {name: c, address: 127.0.0.1:2, routes: [{match: {prefix: /}, cluster: b}]}
  clusters:
  - {name: 7, endpoints: [127.0.0.1:9]}
";
    let shown: Vec<String> = errors_of(text, Format::Yaml)
        .into_iter()
        .map(|(l, p, m)| format!("{l} {p}: {m}"))
        .collect();
    assert_eq!(
        shown,
        [
            "6 spec.listeners[0].protocol: unknown variant `udp`, expected `http` or `tcp`",
            "8 spec.listeners[2].address: \"127.0.0.1:2\" is not allowed: another listener already uses this address",
            "10 spec.clusters[0].name: invalid type: integer `7`, expected a string",
        ],
        "{shown:#?}"
    );
}

#[test]
fn an_object_as_the_api_server_sends_it_is_valid() {
    // Every ObjectMeta field, and a status, as `kubectl get -o yaml` prints them.
    let text = "apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: openid-connect
  namespace: istio-ingress
  uid: 0b5c1a52-1111-2222-3333-444455556666
  resourceVersion: \"4711\"
  generation: 3
  creationTimestamp: \"2026-01-01T00:00:00Z\"
  deletionTimestamp: \"2026-02-01T00:00:00Z\"
  deletionGracePeriodSeconds: 30
  generateName: openid-
  selfLink: /apis/extensions.istio.io/v1alpha1/namespaces/istio-ingress/wasmplugins/openid-connect
  labels: {app: gateway}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: \"{}\"}
  finalizers: [wasmesh.io/status]
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: u}]
  managedFields: [{manager: kubectl, operation: Apply}]
spec:
  url: oci://registry.test/openid:1.0
status:
  conditions: [{type: Accepted, status: \"True\"}]
";
    let docs = ok("exported.yaml", text, Format::Yaml);
    let meta = docs[0].resource.metadata();
    assert_eq!(meta.generate_name.as_deref(), Some("openid-"));
    assert_eq!(meta.deletion_grace_period_seconds, Some(30));
    assert!(meta.deletion_timestamp.is_some());
}

#[test]
fn an_api_object_goes_through_the_same_validation_and_its_errors_name_it() {
    let origin = Origin::Object {
        kind: "WasmPlugin".to_string(),
        namespace: "web".to_string(),
        name: "auth".to_string(),
        resource_version: Some("7".to_string()),
    };
    let object = serde_json::json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "auth", "namespace": "web", "uid": "u-1", "resourceVersion": "7",
                     "generation": 2, "managedFields": [{"manager": "kubectl"}]},
        "spec": {"url": "oci://registry.test/auth:1", "phase": "AUTHN"},
    });
    let doc = parse_object(origin.clone(), &object).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.origin, origin);
    assert_eq!(doc.resource.key().to_string(), "WasmPlugin web/auth");

    let mut bad = object.clone();
    bad["spec"]["phase"] = "EARLY".into();
    bad["spec"]["priority"] = (-1i64 << 40).into();
    let error = parse_object(origin.clone(), &bad).unwrap_err();
    assert_eq!(
        error.key.as_ref().map(ToString::to_string).as_deref(),
        Some("WasmPlugin web/auth")
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with("WasmPlugin web/auth (resourceVersion 7): spec.phase: unknown variant `EARLY`"),
        "{shown}"
    );
    assert_eq!(origin.to_string(), "WasmPlugin web/auth (resourceVersion 7)");
}
