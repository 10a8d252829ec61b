//! The curl commands the demo prints, and the same requests made by the demo itself before
//! it prints them, so that what it shows is known to work.

use anyhow::Context as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::setup::Ports;

/// One thing to try.
pub struct Try {
    /// What it shows.
    pub note: String,
    pub addr: SocketAddr,
    pub path: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    /// More than 1: the command prints only the status codes, one after the other.
    pub times: usize,
    /// Texts the answer holds (compared without regard to case).
    pub expect: Vec<String>,
}

/// How many requests checking `tries` sends through the proxy.
pub fn requests(tries: &[Try]) -> usize {
    tries.iter().map(|t| t.times).sum()
}

/// The demo's tries, on the listeners of `ports`.
pub fn all(ports: &Ports) -> Vec<Try> {
    vec![
        Try {
            note: "add-headers (every listener): the answer carries x-powered-by, and the echo upstream shows \
                   the request header the plugin set"
                .into(),
            addr: ports.web,
            path: "/hello",
            headers: vec![],
            times: 1,
            expect: vec![
                "x-powered-by: wasmesh".into(),
                "x-plugin: istio-system.add-headers".into(),
                "x-demo-request: added-by-wasm".into(),
            ],
        },
        Try {
            note: "rate-limit (listener api): 3 requests at once, then 1 per second per x-client; the rest get 429"
                .into(),
            addr: ports.api,
            path: "/limited",
            headers: vec![("x-client", "curl")],
            times: 5,
            expect: vec!["200 200 200 ".into(), "429".into()],
        },
        Try {
            note: "ext-authz-call (listener members): the authorization service knows alice, and tells the \
                   upstream her id"
                .into(),
            addr: ports.members,
            path: "/members",
            headers: vec![("x-user", "alice")],
            times: 1,
            expect: vec!["HTTP/1.1 200".into(), "x-user-id: alice".into()],
        },
        Try {
            note: "ext-authz-call: without a known x-user the service's 403 is the answer".into(),
            addr: ports.members,
            path: "/members",
            headers: vec![],
            times: 1,
            expect: vec!["HTTP/1.1 403".into(), "unknown user".into()],
        },
    ]
}

impl Try {
    /// The comment, the curl command and its expectations, as printed.
    pub fn render(&self) -> String {
        let headers: String = self
            .headers
            .iter()
            .map(|(k, v)| format!(" -H '{k}: {v}'"))
            .collect();
        let url = format!("http://{}{}", self.addr, self.path);
        let command = if self.times == 1 {
            format!("curl -si{headers} {url}")
        } else {
            format!(
                "for i in $(seq {}); do curl -s -o /dev/null -w '%{{http_code}} '{headers} {url}; done; echo",
                self.times
            )
        };
        let mut out = format!("# {}\n{command}\n", self.note);
        for e in &self.expect {
            out.push_str(&format!("#   expect: {e}\n"));
        }
        out
    }

    /// Makes the requests and returns what the command would show.
    fn answer(&self, headers: &[(&str, String)]) -> anyhow::Result<String> {
        if self.times == 1 {
            return request(self.addr, self.path, headers);
        }
        let mut codes = Vec::new();
        for _ in 0..self.times {
            let answer = request(self.addr, self.path, headers)?;
            codes.push(answer.split(' ').nth(1).unwrap_or("000").to_string());
        }
        Ok(codes.join(" "))
    }
}

/// Runs every try; the error names the first that did not give what it promises.
pub fn check(tries: &[Try]) -> Result<(), String> {
    for t in tries {
        // The rate limit counts per x-client: the check uses a client of its own so that
        // the user's first run of the command starts with a full bucket.
        let headers: Vec<(&str, String)> = t
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *k == "x-client" {
                        format!("{v}-selfcheck")
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect();
        let answer = t.answer(&headers).map_err(|e| format!("{}: {e:#}", t.render()))?;
        let lower = answer.to_ascii_lowercase();
        if let Some(missing) = t.expect.iter().find(|e| !lower.contains(&e.to_ascii_lowercase())) {
            return Err(format!("{}expected {missing:?}, got:\n{answer}", t.render()));
        }
    }
    Ok(())
}

/// `GET path` over HTTP/1.1 and the whole answer as text (status line, headers, body).
pub fn request(addr: SocketAddr, path: &str, headers: &[(&str, String)]) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .with_context(|| format!("reading the answer of {addr}{path}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// `GET path` on the admin endpoint.
pub fn get(admin: SocketAddr, path: &str) -> anyhow::Result<String> {
    request(admin, path, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_plain_curl_with_their_expectations() {
        let tries = all(&Ports::default());
        assert_eq!(
            tries[0].render().lines().nth(1),
            Some("curl -si http://127.0.0.1:18080/hello")
        );
        let rate = tries[1].render();
        assert!(
            rate.contains(
                "for i in $(seq 5); do curl -s -o /dev/null -w '%{http_code} ' -H 'x-client: curl' \
             http://127.0.0.1:18081/limited; done; echo"
            ),
            "{rate}"
        );
        assert!(rate.contains("#   expect: 429"), "{rate}");
    }

    #[test]
    fn check_reports_the_missing_text_and_the_answer() {
        // A server that answers without any plugin effect.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(1) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
            }
        });
        let ports = Ports {
            web: addr,
            ..Ports::default()
        };
        let err = check(&all(&ports)[..1]).unwrap_err();
        assert!(err.contains("expected \"x-powered-by: wasmesh\""), "{err}");
        assert!(err.contains("HTTP/1.1 200 OK"), "{err}");
    }
}
