use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn cluster(name: &str, endpoints: &[&str]) -> Cluster {
    Cluster {
        name: name.into(),
        endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
        protocol: Default::default(),
        connect_timeout: Some(Duration::from_millis(500)),
    }
}

#[test]
fn the_cluster_for_a_uri_is_found_by_name_istio_name_or_endpoint() {
    let clusters = [
        cluster("keys.test", &["127.0.0.1:1"]),
        cluster("outbound|8080||idp.test", &["127.0.0.1:2"]),
        cluster("static", &["10.0.0.9:80"]),
    ];
    let find = |uri: &str| cluster_for(&Url::parse(uri).unwrap(), &clusters).map(|c| c.name.as_str());
    assert_eq!(find("http://keys.test/jwks.json"), Some("keys.test"));
    assert_eq!(
        find("http://idp.test:8080/certs"),
        Some("outbound|8080||idp.test")
    );
    assert_eq!(find("http://idp.test/certs"), None, "another port");
    assert_eq!(find("http://10.0.0.9/jwks"), Some("static"));
    assert_eq!(
        find("https://keys.test/jwks.json"),
        None,
        "clusters speak plain HTTP"
    );
    let mut h2 = cluster("grpc.test", &["127.0.0.1:3"]);
    h2.protocol = wasmesh_api::proxy::ClusterProtocol::Http2;
    let url = Url::parse("http://grpc.test/jwks").unwrap();
    assert!(cluster_for(&url, &[h2]).is_none(), "an h2c cluster");
}

/// One HTTP/1.1 answer, chunked, after checking what was asked.
async fn jwks_server(body: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let answer =
            if req.starts_with("GET /jwks.json?v=1 HTTP/1.1\r\n") && req.contains("host: keys.test\r\n") {
                format!(
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len()
                )
            } else {
                format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\n\r\n{req}",
                    req.len()
                )
            };
        s.write_all(answer.as_bytes()).await.unwrap();
    });
    addr
}

#[tokio::test]
async fn a_uri_with_a_cluster_is_fetched_through_it() {
    let addr = jwks_server(r#"{"keys":[]}"#).await;
    let clusters = [cluster("keys.test", &["127.0.0.1:1", &addr.to_string()])];
    let body = fetch(
        "http://keys.test/jwks.json?v=1",
        Duration::from_secs(5),
        &clusters,
    )
    .await
    .unwrap();
    assert_eq!(
        body, r#"{"keys":[]}"#,
        "the first endpoint refused; the second answered"
    );
}

#[tokio::test]
async fn a_failure_names_the_uri_and_the_cluster() {
    let clusters = [cluster("keys.test", &["127.0.0.1:1"])];
    let err = fetch("http://keys.test/jwks.json", Duration::from_secs(5), &clusters)
        .await
        .unwrap_err();
    assert!(
        err.contains("cannot fetch JWKS from http://keys.test/jwks.json"),
        "{err}"
    );
    assert!(err.contains("through cluster keys.test"), "{err}");
    assert!(err.contains("cannot connect to 127.0.0.1:1"), "{err}");
}
