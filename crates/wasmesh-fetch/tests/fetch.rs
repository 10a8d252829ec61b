//! wasmesh-fetch against real peers: HTTP servers, Debian's docker-registry, skopeo and
//! openssl. One crate, so one test binary for all of them.

mod support;

mod http;
mod registry;
mod registry_access;
mod signatures;
