//! An OpenID Connect relying party for the AUTHN phase — the seed's `openid-connect`
//! WasmPlugin made real. A request without a session is sent to the provider's login
//! (authorization-code flow with state and nonce); the callback exchanges the code at the
//! token endpoint through an `http_call` to the cluster `openid_server`; the ID token is
//! kept in a cookie sealed with HMAC-SHA256, and every request of the session goes on with
//! `Authorization: Bearer <id_token>` for the built-in authn filter (RequestAuthentication)
//! to check. See `docs/plugins/openid-connect.md` for the configuration.
//!
//! Everything but the Proxy-Wasm glue (`filter`) is plain Rust, tested on the host:
//! `cargo test --manifest-path plugins/Cargo.toml -p openid-connect`.

pub mod config;
pub mod discovery;
mod filter;
pub mod flow;
pub mod page;
pub mod seal;
pub mod session;
pub mod token;
pub mod url;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(filter::OidcRoot::default()));
}}
