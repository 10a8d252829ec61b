//! The scenarios of one benchmark run and the wasmesh config each one needs. Every scenario
//! loads the same upstream through a different target, so the ratios between them are what
//! the plugins, the built-in filters or the proxy itself cost.

use crate::{jwt, oidc, tls};
use anyhow::Result;
use std::{fmt::Write as _, fs, path::Path};

/// What a scenario sends its load to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Straight to the upstream: the floor.
    Direct,
    /// nginx as a reverse proxy: the bar.
    Nginx,
    /// wasmesh with this chain.
    Wasmesh(Chain),
}

/// The filters a wasmesh scenario puts in the chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Chain {
    /// `n` instances of the header plugin, each its own WasmPlugin, spread over the phases.
    Headers(usize),
    /// The body-rewriting plugin on a 64 KiB response.
    Body,
    /// The built-in JWT authn and an authz policy requiring a request principal.
    Jwt,
    /// One instance of the header plugin in read-only mode: it reads one request header and
    /// changes nothing (the plugin Envoy's Wasm overhead figures are quoted for).
    ReadHeader,
    /// The realistic gateway: the openid-connect plugin (AUTHN phase) with a logged-in
    /// session cookie, then the built-in JWT authn on the ID token it forwards, and authz.
    Gateway,
}

/// What the load generator speaks to the proxy (the proxy speaks plain HTTP/1.1 to the
/// upstream in every scenario).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// HTTP/1.1 on plain TCP, loaded by wrk.
    Http1,
    /// HTTP/1.1 over TLS, loaded by wrk (keep-alive: a handshake per connection, not per
    /// request).
    Http1Tls,
    /// HTTP/2 over TLS (ALPN h2), loaded by h2load.
    H2Tls,
    /// HTTP/2 on plain TCP with prior knowledge, loaded by h2load.
    H2c,
}

impl Protocol {
    pub fn tls(self) -> bool {
        matches!(self, Protocol::Http1Tls | Protocol::H2Tls)
    }

    /// Loaded by h2load (else by wrk).
    pub fn h2(self) -> bool {
        matches!(self, Protocol::H2Tls | Protocol::H2c)
    }

    pub fn scheme(self) -> &'static str {
        if self.tls() {
            "https"
        } else {
            "http"
        }
    }

    /// What the handshake must have chosen: ALPN `h2`/`http/1.1`, or `h2c`.
    pub fn application_protocol(self) -> &'static str {
        match self {
            Protocol::Http1 | Protocol::Http1Tls => "http/1.1",
            Protocol::H2Tls => "h2",
            Protocol::H2c => "h2c",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub title: &'static str,
    pub target: Target,
    pub path: &'static str,
    /// Plugins in the chain, for the throughput-against-plugin-count chart.
    pub plugins: Option<usize>,
    pub protocol: Protocol,
}

pub fn all() -> Vec<Scenario> {
    use Chain::*;
    use Target::*;
    let s = |name, title, target, path, plugins| Scenario {
        name,
        title,
        target,
        path,
        plugins,
        protocol: Protocol::Http1,
    };
    // nginx and wasmesh without plugins, one pair per protocol besides plain HTTP/1.1.
    let pair = |nginx, nginx_title, wasmesh, wasmesh_title, protocol| {
        [
            Scenario {
                name: nginx,
                title: nginx_title,
                target: Nginx,
                path: "/",
                plugins: None,
                protocol,
            },
            Scenario {
                name: wasmesh,
                title: wasmesh_title,
                target: Wasmesh(Headers(0)),
                path: "/",
                plugins: None,
                protocol,
            },
        ]
    };
    let mut all = vec![
        s("direct", "direct to upstream (floor)", Direct, "/", None),
        s("nginx", "nginx reverse proxy", Nginx, "/", None),
        s(
            "wasmesh-0",
            "wasmesh, no plugins",
            Wasmesh(Headers(0)),
            "/",
            Some(0),
        ),
        s(
            "wasmesh-1",
            "wasmesh, 1 header plugin",
            Wasmesh(Headers(1)),
            "/",
            Some(1),
        ),
        s(
            "wasmesh-read",
            "wasmesh, 1 plugin reading 1 header",
            Wasmesh(ReadHeader),
            "/",
            None,
        ),
        s(
            "wasmesh-5",
            "wasmesh, 5 header plugins",
            Wasmesh(Headers(5)),
            "/",
            Some(5),
        ),
        s(
            "wasmesh-10",
            "wasmesh, 10 header plugins",
            Wasmesh(Headers(10)),
            "/",
            Some(10),
        ),
        // the body rewrite's own baseline: the same 64 KiB response through no plugin
        s(
            "wasmesh-64k",
            "wasmesh, 64 KiB body, no plugins",
            Wasmesh(Headers(0)),
            "/64k",
            None,
        ),
        s(
            "wasmesh-body",
            "wasmesh, 64 KiB body rewrite",
            Wasmesh(Body),
            "/64k",
            None,
        ),
        s(
            "wasmesh-jwt",
            "wasmesh, JWT authn + authz",
            Wasmesh(Jwt),
            "/",
            None,
        ),
        s(
            "wasmesh-gateway",
            "wasmesh, gateway: OIDC session + JWT authn + authz",
            Wasmesh(Gateway),
            "/",
            None,
        ),
    ];
    for (nginx, nginx_title, wasmesh, wasmesh_title, protocol) in PROTOCOL_PAIRS {
        all.extend(pair(nginx, nginx_title, wasmesh, wasmesh_title, protocol));
    }
    all
}

/// The TLS and HTTP/2 scenarios: (nginx name, title, wasmesh name, title, protocol).
pub const PROTOCOL_PAIRS: [(&str, &str, &str, &str, Protocol); 3] = [
    (
        "nginx-tls",
        "nginx, HTTP/1.1 over TLS",
        "wasmesh-tls",
        "wasmesh, HTTP/1.1 over TLS, no plugins",
        Protocol::Http1Tls,
    ),
    (
        "nginx-h2",
        "nginx, h2 over TLS",
        "wasmesh-h2",
        "wasmesh, h2 over TLS, no plugins",
        Protocol::H2Tls,
    ),
    (
        "nginx-h2c",
        "nginx, h2c (prior knowledge)",
        "wasmesh-h2c",
        "wasmesh, h2c (prior knowledge), no plugins",
        Protocol::H2c,
    ),
];

/// Istio's PluginPhase values; `UNSPECIFIED_PHASE` lands last, just before the router.
const PHASES: [&str; 4] = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];

/// Where the bench finds plugin modules and peers.
pub struct Env<'a> {
    pub plugins: &'a Path,
    pub listen_port: u16,
    pub upstream_port: u16,
    /// Serve TLS with this certificate (HTTP/1.1 and h2 by ALPN); plain otherwise (HTTP/1.1
    /// and h2c).
    pub tls: Option<&'a tls::Material>,
}

/// Writes the config directory of a wasmesh scenario: the Proxy plus its chain.
pub fn write_config(dir: &Path, chain: &Chain, env: &Env<'_>) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    fs::write(dir.join("proxy.yaml"), proxy_yaml(env))?;
    let mut docs = String::new();
    match chain {
        Chain::Headers(n) => {
            for i in 0..*n {
                docs += &plugin_yaml(
                    &format!("headers-{i}"),
                    PHASES[i % 4],
                    &env.plugins.join("headers.wasm"),
                    &format!("p{i}"),
                );
            }
        }
        Chain::Body => {
            docs += &plugin_yaml(
                "body",
                "UNSPECIFIED_PHASE",
                &env.plugins.join("body.wasm"),
                "body",
            )
        }
        Chain::Jwt => docs += &jwt_yaml()?,
        Chain::ReadHeader => {
            docs += &plugin_doc(
                "read-header",
                "UNSPECIFIED_PHASE",
                &env.plugins.join("headers.wasm"),
                "read: \":authority\"\n",
            )
        }
        Chain::Gateway => {
            docs += &plugin_doc(
                "openid-connect",
                "AUTHN",
                &env.plugins.join("openid_connect.wasm"),
                &oidc::plugin_config(),
            );
            docs += &jwt_yaml()?;
        }
    }
    if !docs.is_empty() {
        fs::write(dir.join("chain.yaml"), docs)?;
    }
    Ok(())
}

/// Rewrites one header plugin's `value`: the reload-latency measurement waits for it to show.
pub fn write_header_plugin(dir: &Path, env: &Env<'_>, value: &str) -> Result<()> {
    let doc = plugin_yaml(
        "headers-0",
        "UNSPECIFIED_PHASE",
        &env.plugins.join("headers.wasm"),
        value,
    );
    let tmp = dir.join(".chain.yaml.tmp");
    fs::write(&tmp, doc)?;
    fs::rename(tmp, dir.join("chain.yaml"))?;
    Ok(())
}

fn proxy_yaml(env: &Env<'_>) -> String {
    // docs/proxy.md, `spec.listeners[].tls`.
    let tls = env.tls.map_or(String::new(), |t| {
        format!(
            "    tls: {{certFile: {}, keyFile: {}}}\n",
            t.cert.display(),
            t.key.display()
        )
    });
    format!(
        "apiVersion: wasmesh.io/v1alpha1
kind: Proxy
metadata:
  name: gateway
  namespace: bench
  labels: {{app: bench}}
spec:
  listeners:
  - name: http
    address: 127.0.0.1:{listen}
    protocol: http
    trafficDirection: SERVER
{tls}    routes:
    - name: default
      match: {{prefix: /}}
      cluster: backend
      timeout: 15s
  clusters:
  - name: backend
    endpoints: [\"127.0.0.1:{upstream}\"]
    protocol: http1
    connectTimeout: 1s
",
        listen = env.listen_port,
        upstream = env.upstream_port
    )
}

fn plugin_yaml(name: &str, phase: &str, module: &Path, value: &str) -> String {
    plugin_doc(name, phase, module, &format!("value: {value}\n"))
}

/// A WasmPlugin document; `config` is the `pluginConfig` mapping, one `key: value` a line.
fn plugin_doc(name: &str, phase: &str, module: &Path, config: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: {name}
  namespace: bench
spec:
  selector:
    matchLabels: {{app: bench}}
  url: file://{module}
  phase: {phase}
  pluginConfig:
{config}",
        module = module.display(),
        config = config.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    s
}

fn jwt_yaml() -> Result<String> {
    let jwt = jwt::make()?;
    Ok(format!(
        "---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: bench
spec:
  selector:
    matchLabels: {{app: bench}}
  jwtRules:
  - issuer: {issuer}
    jwks: '{jwks}'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
  namespace: bench
spec:
  selector:
    matchLabels: {{app: bench}}
  action: ALLOW
  rules:
  - from:
    - source:
        requestPrincipals: [\"{issuer}/{subject}\"]
",
        issuer = jwt::ISSUER,
        subject = jwt::SUBJECT,
        jwks = jwt.jwks
    ))
}

/// Checks that a response came through the chain the scenario asked for, so a plugin that
/// was skipped (a bad document, a failed fetch under FAIL_OPEN) cannot flatter the numbers.
pub fn check_chain(chain: &Chain, response: &str) -> Result<()> {
    let lower = response.to_ascii_lowercase();
    let (what, seen, wanted) = match chain {
        Chain::Headers(n) => (
            "x-wasm-response headers",
            lower.matches("\r\nx-wasm-response:").count(),
            *n,
        ),
        Chain::Body => ("wrapped bodies", lower.matches("wasm(").count(), 1),
        Chain::Jwt | Chain::ReadHeader | Chain::Gateway => return Ok(()),
    };
    anyhow::ensure!(
        seen == wanted,
        "expected {wanted} {what} in the response, saw {seen}:\n{response:.600}"
    );
    Ok(())
}

/// The header a scenario's requests carry.
pub fn request_header(scenario: &Scenario) -> Result<Option<String>> {
    Ok(match scenario.target {
        Target::Wasmesh(Chain::Jwt) => Some(format!("Authorization: Bearer {}", jwt::make()?.token)),
        Target::Wasmesh(Chain::Gateway) => Some(format!("Cookie: {}", oidc::session_cookie()?)),
        _ => None,
    })
}
