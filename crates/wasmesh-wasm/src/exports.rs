//! The guest's callbacks, looked up once per VM. Missing ones are `None` (the host then
//! behaves as if the callback returned its neutral value).

use wasmtime::{AsContextMut, Instance, TypedFunc};

type F1 = TypedFunc<u32, ()>;
type F2 = TypedFunc<(u32, u32), ()>;
type F3 = TypedFunc<(u32, u32, u32), ()>;
type R1 = TypedFunc<u32, u32>;
type R2 = TypedFunc<(u32, u32), u32>;
type R3 = TypedFunc<(u32, u32, u32), u32>;
type F5 = TypedFunc<(u32, u32, u32, u32, u32), ()>;

/// `proxy_on_{request,response}_headers`: ABI 0.2.x passes `end_of_stream`, 0.1.0 does not.
#[derive(Clone)]
pub enum HeadersFn {
    WithEndOfStream(R3),
    Legacy(R2),
}

#[derive(Clone, Default)]
pub struct Exports {
    pub initialize: Option<TypedFunc<(), ()>>,
    pub start: Option<TypedFunc<(), ()>>,
    pub on_context_create: Option<F2>,
    pub on_vm_start: Option<R2>,
    pub on_configure: Option<R2>,
    pub on_tick: Option<F1>,
    pub on_queue_ready: Option<F2>,
    pub on_done: Option<R1>,
    pub on_log: Option<F1>,
    pub on_delete: Option<F1>,
    pub on_new_connection: Option<R1>,
    pub on_downstream_data: Option<R3>,
    pub on_upstream_data: Option<R3>,
    pub on_downstream_connection_close: Option<F2>,
    pub on_upstream_connection_close: Option<F2>,
    pub on_request_headers: Option<HeadersFn>,
    pub on_request_body: Option<R3>,
    pub on_request_trailers: Option<R2>,
    pub on_response_headers: Option<HeadersFn>,
    pub on_response_body: Option<R3>,
    pub on_response_trailers: Option<R2>,
    pub on_http_call_response: Option<F5>,
    pub on_grpc_receive_initial_metadata: Option<F3>,
    pub on_grpc_receive: Option<F3>,
    pub on_grpc_receive_trailing_metadata: Option<F3>,
    pub on_grpc_close: Option<F3>,
    pub malloc: Option<R1>,
}

impl Exports {
    pub fn lookup(instance: &Instance, mut store: impl AsContextMut) -> Exports {
        let mut store = store.as_context_mut();
        macro_rules! get {
            ($name:literal) => {
                instance.get_typed_func(&mut store, $name).ok()
            };
        }
        let headers = |store: &mut wasmtime::StoreContextMut<'_, _>, name: &str| {
            instance
                .get_typed_func::<(u32, u32, u32), u32>(&mut *store, name)
                .map(HeadersFn::WithEndOfStream)
                .or_else(|_| {
                    instance
                        .get_typed_func::<(u32, u32), u32>(&mut *store, name)
                        .map(HeadersFn::Legacy)
                })
                .ok()
        };
        Exports {
            initialize: get!("_initialize"),
            start: get!("_start"),
            on_context_create: get!("proxy_on_context_create"),
            on_vm_start: get!("proxy_on_vm_start"),
            on_configure: get!("proxy_on_configure"),
            on_tick: get!("proxy_on_tick"),
            on_queue_ready: get!("proxy_on_queue_ready"),
            on_done: get!("proxy_on_done"),
            on_log: get!("proxy_on_log"),
            on_delete: get!("proxy_on_delete"),
            on_new_connection: get!("proxy_on_new_connection"),
            on_downstream_data: get!("proxy_on_downstream_data"),
            on_upstream_data: get!("proxy_on_upstream_data"),
            on_downstream_connection_close: get!("proxy_on_downstream_connection_close"),
            on_upstream_connection_close: get!("proxy_on_upstream_connection_close"),
            on_request_headers: headers(&mut store, "proxy_on_request_headers"),
            on_request_body: get!("proxy_on_request_body"),
            on_request_trailers: get!("proxy_on_request_trailers"),
            on_response_headers: headers(&mut store, "proxy_on_response_headers"),
            on_response_body: get!("proxy_on_response_body"),
            on_response_trailers: get!("proxy_on_response_trailers"),
            on_http_call_response: get!("proxy_on_http_call_response"),
            on_grpc_receive_initial_metadata: get!("proxy_on_grpc_receive_initial_metadata"),
            on_grpc_receive: get!("proxy_on_grpc_receive"),
            on_grpc_receive_trailing_metadata: get!("proxy_on_grpc_receive_trailing_metadata"),
            on_grpc_close: get!("proxy_on_grpc_close"),
            malloc: instance
                .get_typed_func(&mut store, "proxy_on_memory_allocate")
                .or_else(|_| instance.get_typed_func(&mut store, "malloc"))
                .ok(),
        }
    }
}
