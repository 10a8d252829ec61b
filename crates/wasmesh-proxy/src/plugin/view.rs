//! The plugins' view of a header map during one pass of the chain: converted from hyper's
//! form once, handed to every plugin in turn (each sees what the ones before it changed,
//! as on Envoy's single header map), and written back once, only if something changed.

use http::{request, response};
use wasmesh_wasm::HeaderMap as WasmHeaders;

use super::headers;

/// The converted map and the one it started from (to tell whether to write back).
#[derive(Default)]
pub struct HeaderView {
    pass: Option<(WasmHeaders, WasmHeaders)>,
}

impl HeaderView {
    /// The request headers as plugins see them, converted on first use.
    pub fn request(&mut self, parts: &request::Parts, tls: bool) -> &mut WasmHeaders {
        &mut self
            .pass
            .get_or_insert_with(|| {
                let map = headers::request_to_wasm(parts, tls);
                (map.clone(), map)
            })
            .0
    }

    /// The response headers as plugins see them, converted on first use.
    pub fn response(&mut self, parts: &response::Parts) -> &mut WasmHeaders {
        &mut self
            .pass
            .get_or_insert_with(|| {
                let map = headers::response_to_wasm(parts);
                (map.clone(), map)
            })
            .0
    }

    /// Forgets the view without writing it back (the headers were replaced).
    pub fn discard(&mut self) {
        self.pass = None;
    }

    /// Writes the plugins' changes to the request, if they made any, and forgets the view
    /// (a filter that is not a plugin may change the request next).
    pub fn flush_request(&mut self, parts: &mut request::Parts) {
        if let Some((map, before)) = self.pass.take() {
            if map != before {
                headers::apply_to_request(map, &before, parts);
            }
        }
    }

    /// Writes the plugins' changes to the response, if they made any.
    pub fn flush_response(&mut self, parts: &mut response::Parts) {
        if let Some((map, before)) = self.pass.take() {
            if map != before {
                headers::apply_to_response(map, &before, parts);
            }
        }
    }
}

#[cfg(test)]
mod tests;
