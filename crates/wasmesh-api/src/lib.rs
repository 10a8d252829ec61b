//! Resource types of the WasmPlugin API and its neighbours, with parsing, validation,
//! selection and ordering. Pure: no file, socket or clock is touched here.
//!
//! - [`parse()`] turns the text of a YAML or JSON file into validated [`Document`]s (or
//!   [`DocumentError`]s naming file, document, line, field path, bad value and what is
//!   allowed).
//! - [`Resources`] holds the resources in force; [`resolve()`] selects and orders what
//!   applies to one workload (`Proxy`) as docs/api.md says.
//! - [`crd`] generates the CustomResourceDefinitions of these kinds (`wasmesh crds`).
//!
//! Not here: reading directories, watching files (`wasmesh-config`), fetching modules
//! (`wasmesh-fetch`), running plugins.

pub mod authorization_policy;
pub mod crd;
pub mod duration;
pub mod error;
pub mod gateway;
pub mod meta;
pub mod parse;
pub mod proxy;
pub mod request_authentication;
pub mod resolve;
pub mod resource;
pub mod resources;
pub mod secret;
pub mod selector;
pub mod timestamp;
pub mod validate;
pub mod wasm_plugin;

pub use authorization_policy::AuthorizationPolicy;
pub use error::{DocumentError, Error, ErrorKind, FieldError, Origin};
pub use meta::{Kind, NamespacedName, ObjectMeta, ResourceKey, DEFAULT_NAMESPACE, DEFAULT_ROOT_NAMESPACE};
pub use parse::{parse, parse_object, Format, Parsed};
pub use proxy::{Cluster, DirectResponse, Listener, ListenerProtocol, Proxy, Route, TrafficDirection};
pub use request_authentication::RequestAuthentication;
pub use resolve::{
    resolve, Builtin, Filter, ListenerChain, NotSelected, Reason, Selected, Selection, WorkloadChains,
};
pub use resource::{Document, Resource};
pub use resources::Resources;
pub use secret::Secret;
pub use wasm_plugin::{FailStrategy, Phase, PluginType, PullPolicy, WasmPlugin};
