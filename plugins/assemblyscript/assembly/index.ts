// A plugin built with a second, independent SDK: AssemblyScript with
// @solo-io/proxy-runtime (ABI 0.2.0). It shows that the host follows the ABI, not the
// habits of the Rust SDK. The root context registers under the root id
// `assemblyscript_headers`, so the plugin's `pluginName` must be that.
//
// Request: adds `x-wasm-request: assemblyscript` and `x-as-path: <:path>`.
// Response: adds `x-wasm-response: <pluginConfig as the plugin received it>`.
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext,
  Context,
  registerRootContext,
  FilterHeadersStatusValues,
  stream_context,
} from "@solo-io/proxy-runtime";

class HeadersRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Headers(context_id, this);
  }
}

class Headers extends Context {
  constructor(context_id: u32, root_context: HeadersRoot) {
    super(context_id, root_context);
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.request.add("x-wasm-request", "assemblyscript");
    stream_context.headers.request.add("x-as-path", stream_context.headers.request.get(":path"));
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add("x-wasm-response", this.root_context.getConfiguration());
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => {
  return new HeadersRoot(context_id);
}, "assemblyscript_headers");
