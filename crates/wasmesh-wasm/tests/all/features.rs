//! One test per feature plugin.

use std::rc::Rc;

use wasmesh_wasm::{NoHost, StreamInfo, Verdict};

use crate::common::*;

#[test]
fn headers_plugin_adds_a_request_and_a_response_header() {
    let host = host();
    let plugin = load(&host, spec("headers"));
    run(async {
        let vm = start(&plugin, Rc::new(NoHost));
        let mut ctx = vm.http_context(StreamInfo::default()).unwrap();
        let mut request = get("/");
        assert_eq!(ctx.on_request_headers(&mut request, true).await, Verdict::Continue);
        // No pluginConfig: the value is the root id (the plugin's name).
        assert_eq!(text(request.get("x-wasm-request")), "headers");
        assert_eq!(text(request.get(":path")), "/", "pseudo-headers stay");
        let mut response: wasmesh_wasm::HeaderMap = [(":status", "200")].into_iter().collect();
        assert_eq!(ctx.on_response_headers(&mut response, true).await, Verdict::Continue);
        assert_eq!(text(response.get("x-wasm-response")), "headers");
        ctx.finish();
    });
}
