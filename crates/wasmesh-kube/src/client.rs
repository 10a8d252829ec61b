//! The kube-rs client: from `--kubeconfig` (with `--context`), else from `KUBECONFIG` or
//! `~/.kube/config`, else from the pod's service account (in-cluster).

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// How `wasmesh proxy --kubernetes` reaches the API server and what it follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--kubeconfig`: this file only. `None`: `KUBECONFIG`, `~/.kube/config`, then the
    /// pod's service account.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: a context of the kubeconfig other than its current one.
    pub context: Option<String>,
    /// `--namespace`: follow these namespaces only; empty: every namespace. The root
    /// namespace is followed with them ([`Options::followed_namespaces`]).
    pub namespaces: Vec<String>,
    /// `--root-namespace`: the mesh's root namespace, whose policies apply to every
    /// workload; empty: `istio-system` (`wasmesh_api::DEFAULT_ROOT_NAMESPACE`).
    pub root_namespace: String,
    /// `--gateway`: make the workload's Proxy from this Gateway and the Gateway API objects
    /// around it, instead of following `Proxy` objects (docs/gateway-api.md).
    pub gateway: Option<wasmesh_api::gateway::Target>,
}

/// Why the source could not start: the client could not be configured. (An API server
/// that does not answer is not an error at start: the source waits and retries.)
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot use the kubeconfig{}: {source}", context.as_deref().map(|c| format!(" (context {c})")).unwrap_or_default())]
    Context {
        context: Option<String>,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error(
        "no Kubernetes configuration: no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) \
         and not running in a pod (no service account): {0}"
    )]
    Infer(#[source] kube::config::InferConfigError),
    #[error("cannot make a Kubernetes client for {url}: {source}")]
    Client {
        url: String,
        #[source]
        source: kube::Error,
    },
}

/// The client `options` describe, and the API server's URL (for messages).
pub async fn connect(options: &Options) -> Result<(Client, String), StartError> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&options.kubeconfig, &options.context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(|source| StartError::Kubeconfig {
                path: path.clone(),
                source,
            })?;
            Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|source| StartError::Context {
                    context: options.context.clone(),
                    source,
                })?
        }
        (None, Some(context)) => {
            Config::from_kubeconfig(&kube_options)
                .await
                .map_err(|source| StartError::Context {
                    context: Some(context.clone()),
                    source,
                })?
        }
        (None, None) => Config::infer().await.map_err(StartError::Infer)?,
    };
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|source| StartError::Client {
        url: url.clone(),
        source,
    })?;
    Ok((client, url.trim_end_matches('/').to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(dir: &std::path::Path, server: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {server}}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: a\n  context: {{cluster: c, user: u}}\n\
             - name: b\n  context: {{cluster: c, user: u, namespace: web}}\ncurrent-context: a\n"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    #[tokio::test]
    async fn an_https_client_is_made_with_a_crypto_provider_and_a_context_is_chosen() {
        // Both rustls providers are linked in this workspace (docs/kubernetes-source.md):
        // making a TLS client must not panic for want of a default one.
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), "https://127.0.0.1:6443");
        let options = Options {
            kubeconfig: Some(path.clone()),
            context: Some("b".into()),
            namespaces: Vec::new(),
            root_namespace: String::new(),
            gateway: None,
        };
        let (client, url) = connect(&options).await.expect("a client");
        assert_eq!(url, "https://127.0.0.1:6443");
        assert_eq!(client.default_namespace(), "web", "context b's namespace");

        let missing = Options {
            context: Some("nope".into()),
            ..options
        };
        let error = connect(&missing)
            .await
            .err()
            .expect("no such context")
            .to_string();
        assert!(error.contains("context nope"), "{error}");
        let absent = Options {
            kubeconfig: Some(dir.path().join("absent")),
            ..Options::default()
        };
        let error = connect(&absent).await.err().unwrap().to_string();
        assert!(error.starts_with("cannot read the kubeconfig"), "{error}");
    }
}
