//! What `wasmesh --version` and the top-level `--help` say besides the commands: the
//! version with the commit it was built from, where the documentation is, and every
//! environment variable wasmesh reads (tests/doc_examples.rs checks this list against the
//! variables the code reads).

/// `0.1.0 (commit 1a2b3c4)`; the commit is `unknown` when built outside a git checkout
/// (build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("WASMESH_GIT_COMMIT"),
    ")"
);

/// Shown after the commands in `wasmesh --help`.
pub const AFTER_HELP: &str = "\
Documentation: README.md and docs/ in the source tree (docs/api.md: the resources and
`validate`; docs/proxy.md: the Proxy kind; docs/filter-chain.md: the chain and its
failures; docs/modules.md: fetching modules; docs/security.md). `wasmesh COMMAND --help`
describes each command.

Environment variables:
  RUST_LOG                          log filter of `proxy` and `demo` (default: info for
                                    proxy, warn for demo), e.g. RUST_LOG=wasmesh_proxy=debug
  NO_COLOR                          set (to anything): logs without colour, even on a
                                    terminal
  XDG_CACHE_HOME, HOME              the default module and compiled-code cache:
                                    $XDG_CACHE_HOME/wasmesh, else $HOME/.cache/wasmesh
  KUBECONFIG                        the kubeconfig of `proxy --kubernetes` without
                                    --kubeconfig (else ~/.kube/config, else in-cluster)
  POD_NAME, HOSTNAME                with --kubernetes: this gateway's name in its status
                                    report (POD_NAME, else HOSTNAME and the pid)
  POD_NAMESPACE                     with --kubernetes: the namespace of the status Leases
                                    (default: the --workload namespace)
  ISTIO_META_CLUSTER_ID,            what plugins read as node.metadata.CLUSTER_ID and
  ISTIO_META_MESH_ID                MESH_ID, as Istio's injector sets them for a sidecar
  DOCKER_CONFIG                     the docker config with registry credentials (default:
                                    $HOME/.docker/config.json)
  WASMESH_REGISTRY_PASSWORD         the password for `push` and `sign` with --username
  WASM_INSECURE_REGISTRIES          registries reached over plain HTTP (host:port, comma
                                    separated, * for all)
  WASM_EXTRA_CA_CERTS               a PEM file of CA certificates trusted besides the
                                    built-in roots
  BLOCKED_CIDRS_IN_WASM_FETCH       address ranges modules are never fetched from
  WASM_MODULE_EXPIRY                a cached module unused this long is removed (24h)
  WASM_PURGE_INTERVAL               how often expired modules are looked for (1h)
  WASM_CACHE_MAX_BYTES              size cap of the module cache (1 GiB)
  WASM_HTTP_REQUEST_TIMEOUT         per module download request (15s)
  WASM_HTTP_REQUEST_MAX_RETRIES     download attempts (5)
  ISTIO_WASM_MAX_BINARY_SIZE_BYTES  largest module accepted (256 MiB)
A plugin's vmConfig.env entries with valueFrom: HOST read the variable they name.

Exit status:
  0  success (also when a reader closes the pipe early, as `| head` does)
  1  invalid input or a failed operation: an invalid document, a missing resource or
     directory, a refused push; the reason is printed on stderr
  2  usage error: an unknown subcommand or flag, a missing or malformed argument";
