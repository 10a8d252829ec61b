use super::*;
use http_body_util::BodyExt;

#[tokio::test]
async fn errors_become_responses_with_status_flag_and_message() {
    let cases = [
        (
            ProxyError::NoRoute {
                listener: "http".into(),
                method: http::Method::GET,
                path: "/x".into(),
            },
            404,
            "NR",
            "no route matched GET /x on listener http",
        ),
        (
            ProxyError::UpstreamConnect {
                cluster: "backend".into(),
                endpoint: "127.0.0.1:9".into(),
                source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            },
            503,
            "UF",
            "upstream connect error: connection failure (cluster backend)",
        ),
        (
            ProxyError::RouteTimeout {
                route: "r".into(),
                timeout: Duration::from_millis(300),
            },
            504,
            "UT",
            "upstream request timeout after 300ms (route r)",
        ),
        (
            ProxyError::TryTimeout {
                route: "r".into(),
                timeout: Duration::from_millis(300),
            },
            504,
            "UT",
            "upstream request timeout: no answer within the per-try timeout of 300ms (route r)",
        ),
        (
            ProxyError::PluginFailed {
                plugin: "ns.p".into(),
                reason: "cannot fetch".into(),
            },
            503,
            "UAEX",
            // The reason (a path, a digest, an error chain) is the log's, not the client's.
            "wasm plugin ns.p failed",
        ),
        (
            ProxyError::RequestTooLarge { limit: 10 },
            413,
            "-",
            "request body larger than the buffer limit of 10 bytes",
        ),
    ];
    for (err, status, flag, message) in cases {
        assert_eq!(err.status().as_u16(), status, "{err}");
        let logged = err.to_string();
        assert_eq!(err.response_flag(), flag, "{err}");
        let resp = err.into_response();
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("{message}\n"));
        // The endpoint's address is logged, never sent to the client.
        if logged.contains("127.0.0.1:9") {
            assert!(!String::from_utf8_lossy(&body).contains("127.0.0.1"), "{body:?}");
        }
    }
}
