//! The API reference's OpenID Connect example, end to end: the `openid-connect` plugin (built
//! from plugins/openid-connect) in the AUTHN phase of the real `wasmesh proxy`, a real
//! identity provider on loopback (the certified npm package `oidc-provider`, started by
//! tests/oidc/provider.mjs), and Istio's RequestAuthentication + AuthorizationPolicy consuming
//! the token the plugin puts in the Authorization header. The resources are the files of
//! examples/openid-connect/ with this run's ports, module and digest filled in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CLIENT_SECRET: &str = "test-client-secret-0f3a";
const COOKIE_SECRET: &str = "test-cookie-secret-3b1e4c5d6e7f8091a2b3c4d5";
const SESSION_COOKIE: &str = "wasmesh-oidc";

// === peers ===

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], wasmesh_testkit::free_port()))
}

/// oidc-provider at `http://<at>/realms/ingress`, with client `web` redirecting to `proxy`.
fn start_provider(at: SocketAddr, proxy: SocketAddr) -> Proc {
    let dir = wasmesh_testkit::repo_root().join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "oidc-provider is not installed in {}: run scripts/setup",
        dir.display()
    );
    let mut child = Command::new("node")
        .current_dir(&dir)
        .arg("provider.mjs")
        .arg(at.port().to_string())
        .args(["ingress", "web", CLIENT_SECRET])
        .arg(format!("http://{proxy}/oauth2/callback"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting node (scripts/setup installs it)");
    // Keep reading its stdout: node dies of EPIPE when it writes to a closed pipe.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    assert!(line.starts_with("READY "), "the provider did not start: {line:?}");
    Proc(child)
}

/// A backend that answers every request with its request line and headers.
fn start_backend() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve_echo(stream));
        }
    });
    at
}

fn serve_echo(stream: std::net::TcpStream) {
    use std::io::Write as _;
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let body = head.replace("\r\n", "\n");
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// `wasmesh proxy` on `dir` for the seed's ingress gateway.
struct Proxy {
    _proc: Proc,
    log: PathBuf,
}

impl Proxy {
    fn start(dir: &Path, admin: SocketAddr) -> Proxy {
        let log = dir.with_extension("log");
        let child = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
            .args(["proxy", "--config"])
            .arg(dir)
            .args([
                "--workload",
                "istio-ingress/ingressgateway",
                "--admin",
                &admin.to_string(),
            ])
            .args(["--workers", "1", "--cache-dir"])
            .arg(dir.with_extension("cache"))
            .env("RUST_LOG", "info")
            // The test registry serves plain HTTP (Istio's agent reads the same variable).
            .env("WASM_INSECURE_REGISTRIES", "*")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting wasmesh proxy");
        let proxy = Proxy {
            _proc: Proc(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while http_status(admin, "/ready") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "the proxy was not ready; its log:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        proxy
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The status and whole answer of `GET path` (blocking, usable outside the async part).
fn http_get(at: SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&at, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {at}\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some((answer.split(' ').nth(1)?.parse().ok()?, answer))
}

fn http_status(at: SocketAddr, path: &str) -> Option<u16> {
    http_get(at, path).map(|(status, _)| status)
}

// === the example files ===

/// Where the example's fixed addresses go in this run.
struct Run {
    proxy: SocketAddr,
    backend: SocketAddr,
    provider: SocketAddr,
    registry: Option<String>,
}

/// A file of examples/openid-connect/ with this run's addresses, secrets and module.
fn example(name: &str, run: &Run, module: Option<(&Path, &str)>) -> String {
    let path = wasmesh_testkit::repo_root()
        .join("examples/openid-connect")
        .join(name);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in [
        ("127.0.0.1:8080", run.proxy.to_string()),
        ("127.0.0.1:9000", run.backend.to_string()),
        ("127.0.0.1:9090", run.provider.to_string()),
        ("change-me-client-secret", CLIENT_SECRET.into()),
        ("change-me-to-32-or-more-random-bytes", COOKIE_SECRET.into()),
    ] {
        text = text.replace(from, &to);
    }
    if let Some(registry) = &run.registry {
        text = text.replace("127.0.0.1:5000", registry);
    }
    if let Some((wasm, digest)) = module {
        text = text.replace(
            "file:///opt/filters/openid.wasm",
            &format!("file://{}", wasm.display()),
        );
        text = text.replace(
            "1ef0c9a92b0420cf25f7fe5d481b231464bc88f486ca3b9c83ed5cc21d2f6210",
            digest,
        );
    }
    text
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

// === a browser ===

/// Follows the flow like a browser: keeps cookies (by name, for the host, as browsers do
/// across ports), follows redirects by hand, fills the provider's login form.
struct Browser {
    client: reqwest::Client,
    jar: BTreeMap<String, String>,
}

/// One response as the browser saw it.
struct Hop {
    url: String,
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Browser {
            client,
            jar: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder, url: &str) -> Hop {
        let resp = req.header("cookie", self.cookie_header()).send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").map(|v| {
            reqwest::Url::parse(url)
                .unwrap()
                .join(v.to_str().unwrap())
                .unwrap()
                .to_string()
        });
        let set_cookies: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let gone = value.is_empty() || c.to_ascii_lowercase().contains("max-age=0");
            if gone {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
        let body = resp.text().await.unwrap_or_default();
        Hop {
            url: url.to_string(),
            status,
            location,
            set_cookies,
            body,
        }
    }

    async fn get(&mut self, url: &str) -> Hop {
        let req = self.client.get(url);
        self.send(req, url).await
    }

    /// Browses from `url` until a page that is neither a redirect nor the login form,
    /// logging in as `user` on the way; returns every hop.
    async fn browse(&mut self, url: &str, user: &str) -> Vec<Hop> {
        let mut hops = Vec::new();
        let mut next = url.to_string();
        for _ in 0..20 {
            let hop = self.get(&next).await;
            let form_action = hop
                .body
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(|a| reqwest::Url::parse(&next).unwrap().join(a).unwrap().to_string());
            match (&hop.location, form_action) {
                (Some(location), _) if (300..400).contains(&hop.status) => next = location.clone(),
                (_, Some(action)) if hop.status == 200 => {
                    let req = self
                        .client
                        .post(&action)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(format!("login={user}&password=wonderland"));
                    let posted = self.send(req, &action).await;
                    assert_eq!(posted.status, 303, "login form post: {}", posted.body);
                    next = posted.location.clone().unwrap();
                    hops.push(hop);
                    hops.push(posted);
                    continue;
                }
                _ => {
                    hops.push(hop);
                    return hops;
                }
            }
            hops.push(hop);
        }
        panic!("more than 20 hops from {url}");
    }
}

fn describe(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| format!("{} {} -> {:?}\n", h.status, h.url, h.location))
        .collect()
}

/// HMAC-SHA256 (RFC 2104), to seal a cookie as the plugin does.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A session cookie value sealed with the configured secret (`<exp>.<token>.<seal>`).
fn sealed_session(exp: &str, token: &str) -> String {
    let body = format!("{exp}.{token}");
    let mut message = b"wasmesh-oidc-session-v1\0".to_vec();
    message.extend_from_slice(body.as_bytes());
    let seal = URL_SAFE_NO_PAD.encode(hmac_sha256(COOKIE_SECRET.as_bytes(), &message));
    format!("{body}.{seal}")
}

// === the scenario ===

/// Logs in through the proxy and checks everything the API reference's example promises.
/// Returns the session cookie's value.
async fn login_and_check(run: &Run, proxy_log: &dyn Fn() -> String) -> String {
    let base = format!("http://{}", run.proxy);
    let issuer = format!("http://{}/realms/ingress", run.provider);
    let mut browser = Browser::new();

    // An anonymous request is sent to the provider, with state and nonce.
    let first = browser.get(&format!("{base}/orders?id=7")).await;
    assert_eq!(
        first.status,
        302,
        "anonymous request: {}\n{}",
        first.body,
        proxy_log()
    );
    let to_provider = first.location.clone().unwrap();
    assert!(
        to_provider.starts_with(&format!("{issuer}/auth?")),
        "{to_provider}"
    );
    for param in [
        "response_type=code",
        "client_id=web",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(to_provider.contains(param), "{param} missing in {to_provider}");
    }

    // Log in at the provider; the callback sets the session and returns to the page.
    let hops = browser.browse(&to_provider, "alice").await;
    let trace = describe(&hops);
    let callback = hops
        .iter()
        .find(|h| h.url.starts_with(&format!("{base}/oauth2/callback")))
        .unwrap_or_else(|| {
            panic!(
                "the provider never sent the browser back:\n{trace}\n{}",
                proxy_log()
            )
        });
    assert_eq!(
        callback.status, 302,
        "callback answered {}:\n{}\n{trace}",
        callback.status, callback.body
    );
    assert_eq!(
        callback.location.as_deref(),
        Some(format!("{base}/orders?id=7").as_str()),
        "{trace}"
    );
    let session = callback
        .set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no session cookie set: {:?}", callback.set_cookies));
    assert!(session.contains("HttpOnly"), "{session}");

    // The next request reaches the backend; the built-in authn filter verified the token
    // and handed its claims on.
    let page = hops.last().unwrap();
    assert_eq!(
        page.status,
        200,
        "after the login: {}\n{trace}\n{}",
        page.body,
        proxy_log()
    );
    assert!(page.body.starts_with("GET /orders?id=7 "), "{}", page.body);
    let payload = page
        .body
        .lines()
        .find_map(|l| l.strip_prefix("x-jwt-payload: "))
        .unwrap_or_else(|| panic!("the backend got no verified claims:\n{}", page.body));
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .expect("x-jwt-payload is base64url"),
    )
    .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], issuer);
    // ... and the ID token itself, in the Authorization header the plugin set.
    let bearer = page
        .body
        .lines()
        .find_map(|l| l.strip_prefix("authorization: Bearer "))
        .unwrap_or_else(|| panic!("the backend got no Authorization header:\n{}", page.body));
    let token_payload = bearer.split('.').nth(1).unwrap();
    assert_eq!(
        token_payload.trim_end_matches('='),
        payload.trim_end_matches('='),
        "the token authn verified"
    );
    assert!(
        !page.body.contains(SESSION_COOKIE),
        "the plugin's cookie reached the backend:\n{}",
        page.body
    );
    browser.jar.get(SESSION_COOKIE).unwrap().clone()
}

async fn get_with_session(url: &str, session: &str) -> (u16, String) {
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap_or_default())
}

/// Writes a config folder with the example files named and the run's values.
fn config_dir(files: &[&str], run: &Run, module: Option<(&Path, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    for name in files {
        std::fs::write(config.join(name), example(name, run, module)).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_file_plugin_logs_in_with_a_real_provider_and_istio_authn_consumes_the_token() {
    let wasm = wasmesh_testkit::plugin("openid-connect");
    let digest = sha256_hex(&std::fs::read(&wasm).unwrap());
    let run = Run {
        proxy: addr(),
        backend: start_backend(),
        provider: addr(),
        registry: None,
    };
    let provider = start_provider(run.provider, run.proxy);
    let dir = config_dir(
        &["proxy.yaml", "plugin-file.yaml", "security.yaml"],
        &run,
        Some((&wasm, &digest)),
    );
    let config = dir.path().join("config");
    let proxy = Proxy::start(&config, addr());
    let log = || proxy.log();
    let base = format!("http://{}", run.proxy);

    let session = login_and_check(&run, &log).await;

    // A cookie the client made up is refused by the plugin.
    let (exp, rest) = session.split_once('.').unwrap();
    let (token, _seal) = rest.rsplit_once('.').unwrap();
    let forged = format!("{exp}.{token}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
    let (status, body) = get_with_session(&format!("{base}/orders"), &forged).await;
    assert_eq!(status, 401, "forged cookie: {body}");
    assert!(body.contains("Session not valid"), "{body}");

    // A tampered token in a well-sealed cookie gets past the plugin, and the built-in authn
    // filter refuses it: the signature no longer matches the provider's key.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = "admin".into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = sealed_session(exp, &parts.join("."));
    let (status, body) = get_with_session(&format!("{base}/orders"), &tampered).await;
    assert_eq!(status, 401, "tampered token: {body}\n{}", log());
    assert!(!body.contains("admin"), "{body}");

    // A session past its end (sealed by us, so only the expiry decides) logs in again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = sealed_session(&(now - 1).to_string(), token);
    let mut browser = Browser::new();
    browser.jar.insert(SESSION_COOKIE.into(), expired);
    let again = browser.get(&format!("{base}/orders")).await;
    assert_eq!(again.status, 302, "expired session: {}", again.body);
    assert!(
        again
            .location
            .as_deref()
            .unwrap()
            .contains("/realms/ingress/auth?"),
        "{:?}",
        again.location
    );

    // Logout removes the session and goes on to the provider's end-session endpoint.
    let mut browser = Browser::new();
    browser.jar.insert(SESSION_COOKIE.into(), session.clone());
    let out = browser.get(&format!("{base}/oauth2/logout")).await;
    assert_eq!(out.status, 302, "{}", out.body);
    let issuer = format!("http://{}/realms/ingress", run.provider);
    assert!(
        out.location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{issuer}/session/end?")),
        "{:?}",
        out.location
    );
    assert!(!browser.jar.contains_key(SESSION_COOKIE), "{:?}", out.set_cookies);

    // The built-in authn ran after the plugin because of phase AUTHN. In a later phase
    // (UNSPECIFIED_PHASE, AUTHZ) the plugin runs after authn: authn sees no token, and authz
    // refuses the very same session; back in AUTHN it is let in again.
    let (status, _) = get_with_session(&format!("{base}/orders"), &session).await;
    assert_eq!(status, 200, "the session works in phase AUTHN");
    let plugin_file = example("plugin-file.yaml", &run, Some((&wasm, &digest)));
    for (phase, expected) in [("UNSPECIFIED_PHASE", 403), ("AUTHN", 200), ("AUTHZ", 403)] {
        std::fs::write(
            config.join("plugin-file.yaml.tmp"),
            plugin_file.replace("phase: AUTHN", &format!("phase: {phase}")),
        )
        .unwrap();
        std::fs::rename(
            config.join("plugin-file.yaml.tmp"),
            config.join("plugin-file.yaml"),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = get_with_session(&format!("{base}/orders"), &session).await;
            if status == expected {
                break;
            }
            assert!([200, 403].contains(&status), "phase {phase}: {status} {body}");
            assert!(
                Instant::now() < deadline,
                "phase {phase} gave no {expected} in 30s:\n{}",
                log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // An anonymous request is still sent to the provider: the AUTHZ-phase plugin runs
    // before the built-in authz filter.
    let anonymous = Browser::new().get(&format!("{base}/orders")).await;
    assert_eq!(anonymous.status, 302);

    // Errors from the provider are pages, not hangs. A refused login:
    let refused = Browser::new()
        .get(&format!(
            "{base}/oauth2/callback?error=access_denied&error_description=End-User+aborted"
        ))
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .body
            .contains("The identity provider answered access_denied: End-User aborted"),
        "{}",
        refused.body
    );
    // A provider that is gone when the code is exchanged:
    let mut browser = Browser::new();
    let start = browser.get(&format!("{base}/orders")).await;
    let state = start
        .location
        .as_deref()
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let state = state.to_string();
    drop(provider);
    let began = Instant::now();
    let gone = browser
        .get(&format!("{base}/oauth2/callback?code=abc&state={state}"))
        .await;
    assert_eq!(gone.status, 503, "{}", gone.body);
    assert!(
        gone.body.contains("did not answer the code exchange"),
        "{}",
        gone.body
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the error page took {:?}",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_oci_plugin_with_pull_secret_gives_the_same_login() {
    let wasm = wasmesh_testkit::plugin("openid-connect");
    let registry = Registry::start("wasmesh", "test-registry-password");
    let push = Command::new(env!("CARGO_BIN_EXE_wasmesh"))
        .args(["push", "--plain-http", "--username", "wasmesh"])
        .env("WASMESH_REGISTRY_PASSWORD", "test-registry-password")
        .arg(&wasm)
        .arg(format!("{}/openid-connect/openid:latest", registry.addr))
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "wasmesh push: {}",
        String::from_utf8_lossy(&push.stderr)
    );

    let run = Run {
        proxy: addr(),
        backend: start_backend(),
        provider: addr(),
        registry: Some(registry.addr.clone()),
    };
    let _provider = start_provider(run.provider, run.proxy);
    let files = [
        "proxy.yaml",
        "plugin-oci.yaml",
        "pull-secret.yaml",
        "security.yaml",
    ];
    let dir = config_dir(&files, &run, None);
    let config = dir.path().join("config");
    std::fs::write(
        config.join("pull-secret.yaml"),
        example("pull-secret.yaml", &run, None)
            .replace("change-me-registry-password", "test-registry-password"),
    )
    .unwrap();
    let proxy = Proxy::start(&config, addr());
    let log = || proxy.log();
    login_and_check(&run, &log).await;
}

/// Debian's docker-registry with htpasswd auth on a free port, killed when dropped.
struct Registry {
    _proc: Proc,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd (scripts/setup)");
        std::fs::write(dir.path().join("htpasswd"), htpasswd.stdout).unwrap();
        let addr = addr().to_string();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: wasmesh-test\n    path: {}\n",
            dir.path().join("storage").display(),
            dir.path().join("htpasswd").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/setup)");
        let registry = Registry {
            _proc: Proc(child),
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}",
                registry.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }
}

/// The API reference's YAML as printed has only `openid_server` and `openid_realm`: no
/// client can log in without credentials, so the plugin refuses the configuration in
/// `on_configure` with a log line naming the missing key, and (FAIL_CLOSE) requests get a
/// 503 naming the plugin instead of reaching the backend unauthenticated.
#[test]
fn seed_config_without_client_credentials_is_refused_with_a_clear_log_line() {
    let wasm = wasmesh_testkit::plugin("openid-connect");
    let digest = sha256_hex(&std::fs::read(&wasm).unwrap());
    let run = Run {
        proxy: addr(),
        backend: start_backend(),
        provider: addr(),
        registry: None,
    };
    let dir = config_dir(&["proxy.yaml"], &run, None);
    let config = dir.path().join("config");
    let seed_form = example("plugin-file.yaml", &run, Some((&wasm, &digest)))
        .lines()
        .filter(|l| {
            !["openid_authority", "client_id", "client_secret", "cookie_secret"]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(config.join("plugin-file.yaml"), seed_form).unwrap();
    let proxy = Proxy::start(&config, addr());

    let (status, answer) = http_get(run.proxy, "/orders").expect("an answer");
    assert_eq!(status, 503, "{answer}\n{}", proxy.log());
    assert!(
        answer.contains("openid-connect"),
        "the 503 should name the plugin: {answer}"
    );
    let log = proxy.log();
    assert!(
        log.contains(
            "openid-connect: bad configuration, plugin not started: pluginConfig.client_id is required"
        ),
        "{log}"
    );
}
