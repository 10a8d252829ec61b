//! One test per feature plugin: what the plugin must observe and cause.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use wasmesh_wasm::{
    EnvValue, FailAction, FailStrategy, FailureReason, GrpcCallResponse, HeaderMap, HttpCallResponse,
    LogLevel, NoHost, OwnedHeaders, PeerType, PluginKind, PluginVm, StreamInfo, TcpVerdict, Verdict,
};

use crate::common::*;

#[test]
fn headers_plugin_adds_a_request_and_a_response_header() {
    let host = host();
    let plugin = load(&host, spec("headers"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, true).await,
            Verdict::Continue
        );
        // No pluginConfig and no pluginName (root id ""): the plugin's default value.
        assert_eq!(text(request.get("x-wasm-request")), "headers");
        assert_eq!(text(request.get(":path")), "/", "pseudo-headers stay");
        let mut response: HeaderMap = [(":status", "200")].into_iter().collect();
        assert_eq!(
            ctx.on_response_headers_with(&mut response, true).await,
            Verdict::Continue
        );
        assert_eq!(text(response.get("x-wasm-response")), "headers");
        ctx.finish();
    });
}

#[test]
fn the_plugins_of_one_stream_act_on_one_header_map() {
    let host = host();
    let plugin = |value: &str| {
        let mut spec = spec("headers");
        spec.name = format!("headers-{value}");
        spec.plugin_config = Bytes::from(format!(r#"{{"value":"{value}"}}"#));
        load(&host, spec)
    };
    let (a, b) = (plugin("a"), plugin("b"));
    run(async {
        let (vm_a, vm_b) = (start(&a, Rc::new(NoHost)), start(&b, Rc::new(NoHost)));
        let headers = OwnedHeaders {
            request: get("/"),
            response: HeaderMap::new(),
            ..Default::default()
        }
        .shared();
        let mut first = vm_a
            .http_context_on(StreamInfo::default(), headers.clone())
            .unwrap();
        let mut second = vm_b
            .http_context_on(StreamInfo::default(), headers.clone())
            .unwrap();
        assert_eq!(first.on_request_headers(true).await, Verdict::Continue);
        assert_eq!(second.on_request_headers(true).await, Verdict::Continue);
        let values: Vec<_> = headers
            .borrow()
            .request
            .get_all(b"x-wasm-request")
            .cloned()
            .collect();
        assert_eq!(
            values,
            ["a", "b"],
            "the second plugin added to the map the first changed"
        );
        headers.borrow_mut().response = [(":status", "200")].into_iter().collect();
        assert_eq!(second.on_response_headers(true).await, Verdict::Continue);
        assert_eq!(first.on_response_headers(true).await, Verdict::Continue);
        let values: Vec<_> = headers
            .borrow()
            .response
            .get_all(b"x-wasm-response")
            .cloned()
            .collect();
        assert_eq!(values, ["b", "a"], "responses in reverse, on one map");
        assert!(
            first.owned().is_none(),
            "a context on the caller's maps has none of its own"
        );
    });
}

#[test]
fn plugin_config_reaches_on_configure_as_json() {
    let host = host();
    let mut spec = spec("headers");
    spec.plugin_config = Bytes::from_static(br#"{"value":"from-config"}"#);
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/");
        ctx.on_request_headers_with(&mut request, true).await;
        assert_eq!(text(request.get("x-wasm-request")), "from-config");
    });
}

#[test]
fn body_plugin_buffers_chunks_and_rewrites_whole_bodies() {
    let host = host();
    let plugin = load(&host, spec("body"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/upload");
        request.add("content-length", "11");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, false).await,
            Verdict::Continue
        );
        assert_eq!(
            request.get("content-length"),
            None,
            "the plugin drops content-length"
        );
        let mut body = Bytes::from_static(b"hello ");
        assert_eq!(ctx.on_request_body(&mut body, false).await, Verdict::Buffer);
        assert_eq!(body, "hello ", "buffered data is handed back untouched");
        let mut body = Bytes::from_static(b"hello world");
        assert_eq!(ctx.on_request_body(&mut body, true).await, Verdict::Continue);
        assert_eq!(body, "HELLO WORLD");

        let mut response: HeaderMap = [(":status", "200")].into_iter().collect();
        ctx.on_response_headers_with(&mut response, false).await;
        let mut body = Bytes::from_static(b"done");
        assert_eq!(ctx.on_response_body(&mut body, true).await, Verdict::Continue);
        assert_eq!(body, "wasm(done)");
    });
}

#[test]
fn local_reply_plugin_answers_deny_paths_itself() {
    let host = host();
    let plugin = load(&host, spec("local_reply"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let Verdict::LocalReply(reply) = ctx.on_request_headers_with(&mut get("/deny/me"), true).await else {
            panic!("expected a local reply")
        };
        assert_eq!(reply.status, 403);
        assert_eq!(text(reply.headers.get("x-denied-by")), "local_reply");
        assert_eq!(reply.body, "denied by plugin");

        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        assert_eq!(
            ctx.on_request_headers_with(&mut get("/fine"), true).await,
            Verdict::Continue
        );
    });
}

#[test]
fn http_call_plugin_pauses_until_the_cluster_answers() {
    let host = host();
    let plugin = load(&host, spec("http_call"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        *fake.http_answer.borrow_mut() = Some(Ok(HttpCallResponse {
            headers: [(":status", "200")].into_iter().collect(),
            body: Bytes::from_static(b"user-42"),
            trailers: HeaderMap::new(),
        }));
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/api");
        request.add("authorization", "Bearer abc");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, true).await,
            Verdict::Continue
        );
        assert_eq!(
            text(request.get("x-auth-answer")),
            "user-42",
            "the answer was applied before resuming"
        );
        let calls = fake.http_calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(text(calls[0].headers.get(":path")), "/check");
        assert_eq!(text(calls[0].headers.get("authorization")), "Bearer abc");
        assert_eq!(calls[0].timeout, Duration::from_secs(5));
    });
}

#[test]
fn http_call_plugin_denies_when_the_cluster_says_no() {
    let host = host();
    let plugin = load(&host, spec("http_call"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        *fake.http_answer.borrow_mut() = Some(Ok(HttpCallResponse {
            headers: [(":status", "403")].into_iter().collect(),
            ..Default::default()
        }));
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let Verdict::LocalReply(reply) = ctx.on_request_headers_with(&mut get("/api"), true).await else {
            panic!("expected a local reply")
        };
        assert_eq!(reply.status, 401);
        assert_eq!(text(reply.headers.get("x-auth-status")), "403");
    });
}

#[test]
fn http_call_to_an_unknown_cluster_is_a_bad_argument() {
    let host = host();
    let plugin = load(&host, spec("http_call"));
    run(async {
        // NoHost knows no clusters: the plugin's dispatch fails at once and it replies 500.
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let Verdict::LocalReply(reply) = ctx.on_request_headers_with(&mut get("/api"), true).await else {
            panic!("expected a local reply")
        };
        assert_eq!(reply.status, 500);
        assert_eq!(text(reply.headers.get("x-http-call-error")), "BadArgument");
    });
}

#[test]
fn grpc_call_plugin_gets_the_reply_or_the_failure_status() {
    let host = host();
    let plugin = load(&host, spec("grpc_call"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        *fake.grpc_answer.borrow_mut() = Some(Ok(GrpcCallResponse {
            message: Bytes::from_static(b"pong"),
            ..Default::default()
        }));
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/ping");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, true).await,
            Verdict::Continue
        );
        assert_eq!(text(request.get("x-grpc-status")), "0");
        assert_eq!(text(request.get("x-grpc-reply")), "pong");
        {
            let calls = fake.grpc_calls.borrow();
            assert_eq!(
                (calls[0].service.as_str(), calls[0].method.as_str()),
                ("wasmesh.test.Echo", "Say")
            );
            assert_eq!(calls[0].message, "/ping");
            assert_eq!(text(calls[0].initial_metadata.get("x-from")), "grpc_call");
        }

        *fake.grpc_answer.borrow_mut() = Some(Err(wasmesh_wasm::CallError::Failed("refused".into())));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/ping");
        assert_eq!(
            ctx.on_request_headers_with(&mut request, true).await,
            Verdict::Continue
        );
        assert_eq!(
            text(request.get("x-grpc-status")),
            "14",
            "a transport failure is UNAVAILABLE"
        );
    });
}

#[test]
fn grpc_stream_plugin_talks_both_ways_and_resumes_when_the_stream_closes() {
    let host = host();
    let plugin = load(&host, spec("grpc_stream"));
    run(async {
        let fake = Rc::new(FakeHost::default());
        let vm = start(&plugin, fake.clone());
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/hello");
        let verdict = tokio::time::timeout(
            Duration::from_secs(10),
            ctx.on_request_headers_with(&mut request, true),
        )
        .await
        .expect("the stream closes");
        assert_eq!(verdict, Verdict::Continue);
        assert_eq!(text(request.get("x-stream-metadata")), "m1");
        assert_eq!(text(request.get("x-stream-messages")), "echo:/hello,echo:bye");
        assert_eq!(text(request.get("x-stream-status")), "0");
        assert_eq!(
            *fake.grpc_sent.borrow(),
            [
                wasmesh_wasm::GrpcOutgoing::Message(Bytes::from_static(b"/hello")),
                wasmesh_wasm::GrpcOutgoing::Message(Bytes::from_static(b"bye")),
                wasmesh_wasm::GrpcOutgoing::EndOfStream,
            ]
        );
    });
}

#[test]
fn foreign_functions_compress_and_uncompress_are_offered() {
    let host = host();
    let plugin = load(&host, spec("foreign"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let path = format!("/{}", "abc".repeat(50));
        let mut request = get(&path);
        request_headers(&vm, &mut request).await;
        assert_eq!(text(request.get("x-foreign-roundtrip")), path);
        let compressed: usize = text(request.get("x-foreign-compressed")).parse().unwrap();
        assert!(compressed > 0 && compressed < path.len(), "{compressed}");
        assert_eq!(text(request.get("x-foreign-unknown")), "NotFound");
    });
}

#[test]
fn timers_plugin_releases_paused_requests_on_tick() {
    let host = host();
    let plugin = load(&host, spec("timers"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut first = vm.http_context(StreamInfo::default()).unwrap();
        let mut second = vm.http_context(StreamInfo::default()).unwrap();
        let (mut a, mut b) = (get("/a"), get("/b"));
        let both = async {
            tokio::join!(
                first.on_request_headers_with(&mut a, true),
                second.on_request_headers_with(&mut b, true)
            )
        };
        let (va, vb) = tokio::time::timeout(Duration::from_secs(10), both)
            .await
            .expect("released by a tick");
        assert_eq!((va, vb), (Verdict::Continue, Verdict::Continue));
        let tick: u64 = text(a.get("x-released-by-tick")).parse().expect("tick number");
        assert!(tick >= 1);
        assert!(
            b.get("x-released-by-tick").is_some(),
            "set_effective_context reached each stream"
        );
    });
}

#[test]
fn shared_data_and_queues_work_across_vms() {
    let host = host();
    let plugin = load(&host, spec("shared"));
    run(async {
        // Two VMs of one plugin, as on two workers.
        let owner = start(&plugin, Rc::new(NoHost));
        let other = start(&plugin, Rc::new(NoHost));
        let mut request = get("/one");
        request_headers(&other, &mut request).await;
        assert_eq!(text(request.get("x-shared-counter")), "1");
        let mut request = get("/two");
        request_headers(&owner, &mut request).await;
        assert_eq!(
            text(request.get("x-shared-counter")),
            "2",
            "the counter is shared by both VMs"
        );

        let mut request = get("/from-other");
        request_headers(&other, &mut request).await;
        // The owner's on_queue_ready runs as a local task.
        let mut last = None;
        for _ in 0..1000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            last = host.shared_data("", "shared.last_event");
            if last.as_deref() == Some(b"/from-other".as_slice()) {
                break;
            }
        }
        assert_eq!(text(last.as_ref()), "/from-other");
    });
}

#[test]
fn metrics_plugin_defines_and_updates_metrics_seen_by_the_admin_page() {
    let host = host();
    let plugin = load(&host, spec("metrics"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        for expected in ["1", "2"] {
            let mut request = get("/12345");
            request_headers(&vm, &mut request).await;
            assert_eq!(text(request.get("x-metric-requests")), expected);
        }
        let page = host.metrics().render_prometheus();
        assert!(page.contains("wasmesh_test_requests_total 2\n"), "{page}");
        assert!(page.contains("wasmesh_test_last_path_length 6\n"), "{page}");
        assert!(page.contains("wasmesh_test_path_length_count 2\n"), "{page}");
        assert!(
            page.contains("wasm_vm_starts_total{plugin=\"test.metrics\"} 1"),
            "{page}"
        );
    });
}

#[test]
fn properties_plugin_sees_envoy_attribute_names() {
    let host = host();
    let mut spec = spec("properties");
    spec.root_id = "props-root".into();
    spec.vm_id = "vm-7".into();
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(FakeHost::default()));
        let info = StreamInfo {
            source: Some("10.1.2.3:5555".parse::<SocketAddr>().unwrap()),
            destination: Some("127.0.0.1:8080".parse::<SocketAddr>().unwrap()),
            protocol: Some("HTTP/1.1".into()),
            request_id: Some("req-1".into()),
            extra: vec![("xds.cluster_name".into(), Bytes::from_static(b"backend"))].into(),
            ..Default::default()
        };
        let mut ctx = vm.http_context(info).unwrap();
        ctx.set_property("request.auth.principal", "issuer/subject");
        let mut request = get("/p/q?x=1");
        ctx.on_request_headers_with(&mut request, true).await;
        let h = |name: &str| text(request.get(name)).to_owned();
        assert_eq!(h("x-prop-request-path"), "/p/q?x=1");
        assert_eq!(h("x-prop-request-url-path"), "/p/q");
        assert_eq!(h("x-prop-request-query"), "x=1");
        assert_eq!(h("x-prop-request-host"), "example.com");
        assert_eq!(h("x-prop-request-method"), "GET");
        assert_eq!(h("x-prop-request-scheme"), "http");
        assert_eq!(h("x-prop-request-protocol"), "HTTP/1.1");
        assert_eq!(h("x-prop-request-id"), "req-1");
        assert_eq!(h("x-prop-source-address"), "10.1.2.3:5555");
        assert_eq!(h("x-prop-source-port"), "5555");
        assert_eq!(h("x-prop-destination-port"), "8080");
        assert_eq!(h("x-prop-plugin-name"), "test.properties");
        assert_eq!(h("x-prop-plugin-root-id"), "props-root");
        assert_eq!(h("x-prop-plugin-vm-id"), "vm-7");
        assert_eq!(h("x-prop-node-id"), "sidecar~10.0.0.1~web.default");
        assert_eq!(h("x-prop-xds-cluster-name"), "backend");
        assert_eq!(h("x-prop-request-auth-principal"), "issuer/subject");
        assert_eq!(h("x-prop-set"), "set-by-plugin", "set_property then get_property");
        assert_eq!(
            request.get("x-prop-xds-listener-direction"),
            None,
            "unknown properties are absent"
        );
    });
}

#[test]
fn config_plugin_reads_plugin_and_vm_configuration() {
    let host = host();
    let mut spec = spec("config");
    spec.plugin_config = Bytes::from_static(br#"{"greeting":"hello from config"}"#);
    spec.vm_config = Bytes::from_static(b"vm-settings");
    let plugin = load(&host, spec);
    run(async {
        let fake = Rc::new(FakeHost::default());
        let vm = start(&plugin, fake.clone());
        let mut request = get("/");
        request_headers(&vm, &mut request).await;
        assert_eq!(text(request.get("x-config-greeting")), "hello from config");
        assert_eq!(text(request.get("x-vm-config")), "vm-settings");
        // A request still in flight keeps the VM alive past its shutdown.
        let in_flight = vm.http_context(StreamInfo::default()).unwrap();
        vm.shutdown();
        assert!(!fake.logged(LogLevel::Info, "root context done"));
        drop(in_flight);
        assert!(
            fake.logged(LogLevel::Info, "config: root context done"),
            "proxy_on_done of the root"
        );
    });
}

#[test]
fn a_rejected_configuration_fails_the_plugin_by_its_fail_strategy() {
    let host = host();
    for (strategy, skip) in [(FailStrategy::FailClose, false), (FailStrategy::FailOpen, true)] {
        let mut spec = spec("config");
        spec.plugin_config = Bytes::from_static(br#"{"no":"greeting"}"#);
        spec.fail_strategy = strategy;
        let plugin = load(&host, spec);
        run(async {
            let fake = Rc::new(FakeHost::default());
            let vm = PluginVm::start(plugin.clone(), fake.clone());
            let failure = vm.failure().expect("on_configure returned false");
            assert_eq!(failure.reason, FailureReason::Rejected("proxy_on_configure"));
            assert!(fake.logged(LogLevel::Error, "pluginConfig needs a string `greeting`"));
            let refused = vm
                .http_context(StreamInfo::default())
                .err()
                .expect("no context from a failed VM");
            match refused.action() {
                FailAction::Skip => assert!(skip),
                FailAction::Reject(reply) => {
                    assert!(!skip);
                    assert_eq!(reply.status, 503);
                    assert_eq!(reply.body, "wasm plugin test.config failed\n");
                }
            }
        });
    }
}

#[test]
fn vm_env_plugin_sees_only_vm_config_env() {
    let host = host();
    let mut spec = spec("vm_env");
    let host_path = std::env::var("PATH").expect("tests run with PATH set");
    spec.env = vec![
        ("GREETING".into(), EnvValue::Inline("hi there".into())),
        ("PATH".into(), EnvValue::Host),
        ("WASMESH_SURELY_UNSET_VARIABLE".into(), EnvValue::Host),
    ];
    let plugin = load(&host, spec);
    run(async {
        let fake = Rc::new(FakeHost::default());
        let vm = start(&plugin, fake.clone());
        let mut request = get("/");
        request_headers(&vm, &mut request).await;
        assert_eq!(text(request.get("x-env-greeting")), "hi there");
        assert_eq!(text(request.get("x-env-path")), host_path);
        assert_eq!(
            text(request.get("x-env-count")),
            "2",
            "a HOST variable the proxy lacks is left out"
        );
        assert!(
            fake.logged(LogLevel::Info, "vm_env: started with 2 variables"),
            "stdout is logged"
        );
        assert!(
            fake.logged(LogLevel::Error, "vm_env: this line went to stderr"),
            "stderr is logged"
        );
        assert!(
            fake.logs
                .borrow()
                .iter()
                .any(|(level, m)| *level == LogLevel::Info && m == "vm_env: variables:\nGREETING\nPATH"),
            "the lines of one write are one event: {:?}",
            fake.logs.borrow()
        );
    });
}

#[test]
fn tcp_plugin_rewrites_both_directions_and_can_close() {
    let host = host();
    let mut spec = spec("tcp");
    spec.kind = PluginKind::Network;
    let plugin = load(&host, spec);
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut conn = vm.tcp_context(StreamInfo::default()).unwrap();
        assert_eq!(conn.on_new_connection().await, TcpVerdict::Continue);
        let mut data = Bytes::from_static(b"hello");
        assert_eq!(
            conn.on_downstream_data(&mut data, false).await,
            TcpVerdict::Continue
        );
        assert_eq!(data, "HELLO");
        let mut data = Bytes::from_static(b"answer");
        assert_eq!(
            conn.on_upstream_data(&mut data, false).await,
            TcpVerdict::Continue
        );
        assert_eq!(data, "wasm(answer)");
        let mut data = Bytes::from_static(b"QUIT");
        assert_eq!(conn.on_downstream_data(&mut data, false).await, TcpVerdict::Close);
        conn.on_downstream_close(PeerType::Local);
        conn.finish();
        assert_eq!(text(host.shared_data("", "tcp.connections").as_ref()), "1");
    });
}

#[test]
fn the_disk_cache_spares_a_restart_the_compilation() {
    let dir = tempfile::tempdir().unwrap();
    let config = || wasmesh_wasm::HostConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        pool_slots: None,
        ..Default::default()
    };
    let first = wasmesh_wasm::WasmHost::new(config())
        .unwrap()
        .load(spec("headers"))
        .unwrap();
    assert!(!first.loaded_from_disk_cache());
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "one compiled module on disk");
    // A new host (as after a restart) finds it.
    let second = wasmesh_wasm::WasmHost::new(config())
        .unwrap()
        .load(spec("headers"))
        .unwrap();
    assert!(second.loaded_from_disk_cache());
    run(async {
        let vm = start(&second, Rc::new(NoHost));
        let mut request = get("/");
        request_headers(&vm, &mut request).await;
        assert_eq!(text(request.get("x-wasm-request")), "headers");
    });
}
