//! `wasmesh proxy`: runs the data plane for one `Proxy` resource, its resources read from a
//! config directory or followed on a Kubernetes API server.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wasmesh_proxy::snapshot::Workload;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "kubernetes"])))]
pub struct Args {
    /// The config directory: every .yaml/.yml/.json file in it; watched for changes.
    #[arg(long, value_name = "DIR", conflicts_with = "kubernetes")]
    config: Option<PathBuf>,
    /// Follow the resources on a Kubernetes API server instead of a directory
    /// (docs/kubernetes-source.md): from --kubeconfig, else KUBECONFIG or ~/.kube/config,
    /// else the pod's service account.
    #[arg(long)]
    kubernetes: bool,
    /// With --kubernetes: the kubeconfig to use (default: KUBECONFIG, else ~/.kube/config,
    /// else in-cluster).
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    kubeconfig: Option<PathBuf>,
    /// With --kubernetes: a context of the kubeconfig other than its current one.
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    context: Option<String>,
    /// With --kubernetes: follow only this namespace (repeat for several; default: all).
    /// The root namespace is followed too; include the Proxy's own.
    #[arg(long = "namespace", value_name = "NS", conflicts_with = "config")]
    namespaces: Vec<String>,
    /// The pod's labels, as the downward API writes them (key="value" lines): selectors
    /// match these instead of the Proxy resource's labels. Read again when it changes.
    #[arg(long, value_name = "FILE")]
    labels_file: Option<PathBuf>,
    /// The Proxy resource to serve, as NAMESPACE/NAME. With --gateway: the name of the
    /// Proxy made from the Gateway, in the Gateway's namespace (default: the Gateway's).
    #[arg(long, value_name = "NS/NAME", required_unless_present = "gateway")]
    workload: Option<String>,
    /// With --kubernetes: serve the Gateway API Gateway NAMESPACE/NAME — its listeners, the
    /// HTTPRoutes attached to it, their Services' ready endpoints — if its GatewayClass has
    /// controllerName wasmesh.io/gateway-controller (docs/gateway-api.md).
    #[arg(long, value_name = "NS/NAME", requires = "kubernetes")]
    gateway: Option<String>,
    /// With --gateway: the IP address the Gateway's listeners bind, on each listener's port.
    #[arg(long, value_name = "IP", default_value = "0.0.0.0", requires = "gateway")]
    gateway_address: std::net::IpAddr,
    /// The admin endpoint: /ready, /stats/prometheus, /config_dump, /plugins.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:15000")]
    admin: SocketAddr,
    /// Plugins and policies in this namespace apply to every workload.
    #[arg(long, value_name = "NS", default_value = wasmesh_api::DEFAULT_ROOT_NAMESPACE)]
    root_namespace: String,
    /// Worker threads (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT, like `10s`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Where fetched modules and compiled code are cached (default:
    /// $XDG_CACHE_HOME/wasmesh, else $HOME/.cache/wasmesh). Created with mode 0700; the
    /// proxy refuses a directory of another user or one its group or others can write to.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    #[command(flatten)]
    log: crate::log::LogArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    wasmesh_api::duration::parse(s).map_err(|e| e.to_string())
}

/// `NAMESPACE/NAME` of the flag `flag`.
fn namespaced(flag: &str, value: &str) -> anyhow::Result<wasmesh_api::NamespacedName> {
    value
        .split_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'))
        .map(|(namespace, name)| wasmesh_api::NamespacedName {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
        .with_context(|| format!("{flag} {value:?}: expected NAMESPACE/NAME"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let gateway = args
        .gateway
        .as_deref()
        .map(|g| namespaced("--gateway", g))
        .transpose()?;
    let workload = match (&args.workload, &gateway) {
        (Some(w), _) => namespaced("--workload", w)?,
        (None, Some(g)) => g.clone(),
        (None, None) => anyhow::bail!("--workload NAMESPACE/NAME is required"),
    };
    if let Some(g) = &gateway {
        // the made Proxy lives in the Gateway's namespace, where targetRefs to the Gateway
        // are honoured (docs/gateway-api.md)
        anyhow::ensure!(
            workload.namespace == g.namespace,
            "--workload {workload} is in another namespace than --gateway {g}: the Proxy made \
             from a Gateway is in the Gateway's namespace"
        );
    }
    let (namespace, name) = (workload.namespace.as_str(), workload.name.as_str());
    crate::log::init(&args.log, "info");
    let cache_dir = cache_dir(args.cache_dir)?;
    let config = match args.config {
        Some(dir) => wasmesh_proxy::ConfigFrom::Dir(dir),
        None => wasmesh_proxy::ConfigFrom::Kubernetes(wasmesh_kube::Options {
            kubeconfig: args.kubeconfig,
            context: args.context,
            namespaces: args.namespaces,
            root_namespace: args.root_namespace.clone(),
            gateway: gateway.map(|gateway| wasmesh_api::gateway::Target {
                gateway,
                workload: name.to_string(),
                address: args.gateway_address,
            }),
        }),
    };
    wasmesh_proxy::run(wasmesh_proxy::Options {
        config,
        labels_file: args.labels_file,
        workload: Workload {
            namespace: namespace.to_string(),
            name: name.to_string(),
        },
        admin: args.admin,
        root_namespace: args.root_namespace,
        workers: args.workers,
        drain_timeout: args.drain_timeout,
        cache_dir: Some(cache_dir),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The cache directory of `--cache-dir` (or the user's default), created with mode 0700
/// and checked to be the proxy's own: compiled code found there is run, so a directory
/// that another user owns or can write to is refused, with how to fix it.
pub(crate) fn cache_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match flag {
        Some(dir) => dir,
        None => default_cache_dir(|name| std::env::var_os(name)).context(
            "no cache directory: neither XDG_CACHE_HOME nor HOME is set to an absolute path; \
             choose one with --cache-dir",
        )?,
    };
    wasmesh_fetch::private_dir(&dir).with_context(|| format!("cache directory {}", dir.display()))?;
    Ok(dir)
}

/// `$XDG_CACHE_HOME/wasmesh`, else `$HOME/.cache/wasmesh` (the XDG base directory rules:
/// a relative or empty value is ignored). Per user, unlike a folder in the shared /tmp.
fn default_cache_dir(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|base| base.join("wasmesh"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_default_cache_is_per_user() {
        fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.into())
        }
        let xdg = [("XDG_CACHE_HOME", "/c"), ("HOME", "/home/u")];
        assert_eq!(default_cache_dir(env(&xdg)), Some(PathBuf::from("/c/wasmesh")));
        let home = [("HOME", "/home/u")];
        assert_eq!(
            default_cache_dir(env(&home)),
            Some(PathBuf::from("/home/u/.cache/wasmesh"))
        );
        let relative = [("XDG_CACHE_HOME", "c"), ("HOME", "/home/u")];
        assert_eq!(
            default_cache_dir(env(&relative)),
            Some(PathBuf::from("/home/u/.cache/wasmesh")),
            "a relative XDG_CACHE_HOME is ignored"
        );
        assert_eq!(default_cache_dir(env(&[("HOME", "")])), None);
    }

    #[test]
    fn the_cache_directory_is_created_private_and_checked() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        assert_eq!(cache_dir(Some(dir.clone())).unwrap(), dir);
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&base.path().join("a")), 0o700, "missing parents too");

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        let error = format!("{:#}", cache_dir(Some(dir.clone())).unwrap_err());
        assert_eq!(
            error,
            format!(
                "cache directory {0}: mode 0770 lets its group or others write to it, and put modules \
                 or compiled code there that the proxy would run; run `chmod 700 {0}` or choose \
                 another --cache-dir",
                dir.display()
            )
        );
    }
}
