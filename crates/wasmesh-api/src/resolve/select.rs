//! Whether a resource applies to a workload, and if not, why (docs/api.md, "Which plugins apply").

use crate::{
    meta::ObjectMeta,
    proxy::{Listener, ListenerProtocol, Proxy, TrafficDirection},
    selector::{PolicyTargetReference, WorkloadSelector, GATEWAY_CLASS_LABEL, GATEWAY_NAME_LABEL},
    wasm_plugin::{PluginType, TrafficSelector, WasmPlugin, WorkloadMode},
};
use std::fmt;

/// Why a plugin (or policy) does not apply to a workload or one of its listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// It lives in a namespace that is neither the workload's nor the root namespace.
    OtherNamespace {
        namespace: String,
        workload_namespace: String,
        root_namespace: String,
    },
    /// `selector.matchLabels` wants a label the workload lacks or has with another value.
    SelectorMismatch {
        label: String,
        wanted: String,
        found: Option<String>,
    },
    /// No `targetRefs` entry names this workload.
    TargetRefsMismatch(String),
    /// `type` does not fit the listener's protocol.
    TypeMismatch {
        plugin_type: PluginType,
        protocol: ListenerProtocol,
    },
    /// No `match[]` entry fits the listener's direction and port.
    MatchMismatch { direction: TrafficDirection, port: u16 },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OtherNamespace {
                namespace,
                workload_namespace,
                root_namespace,
            } => write!(
                f,
                "it is in namespace {namespace}; only plugins in the workload's namespace \
                 ({workload_namespace}) or the root namespace ({root_namespace}) apply"
            ),
            Reason::SelectorMismatch { label, wanted, found } => match found {
                Some(found) => write!(
                    f,
                    "selector wants {label}={wanted}; the workload has {label}={found}"
                ),
                None => write!(
                    f,
                    "selector wants {label}={wanted}; the workload has no label {label}"
                ),
            },
            Reason::TargetRefsMismatch(why) => f.write_str(why),
            Reason::TypeMismatch {
                plugin_type,
                protocol,
            } => {
                let (t, wants) = match plugin_type {
                    PluginType::Network => ("NETWORK", "tcp"),
                    _ => ("HTTP", "http"),
                };
                let p = match protocol {
                    ListenerProtocol::Http => "http",
                    ListenerProtocol::Tcp => "tcp",
                };
                write!(f, "type {t} runs on {wants} listeners; this listener is {p}")
            }
            Reason::MatchMismatch { direction, port } => {
                let d = match direction {
                    TrafficDirection::Server => "SERVER",
                    TrafficDirection::Client => "CLIENT",
                };
                write!(
                    f,
                    "no match[] entry fits this listener (trafficDirection {d}, port {port})"
                )
            }
        }
    }
}

/// Why a plugin (or policy) applies to a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// No selector and no targetRefs: every workload of its namespace (of every namespace
    /// when `root_namespace` is true).
    Everything { root_namespace: bool },
    /// Its `selector.matchLabels` are all on the workload.
    Selector {
        labels: Vec<(String, String)>,
        root_namespace: bool,
    },
    /// Its `targetRefs` name the workload's Gateway (or GatewayClass).
    TargetRef { kind: String, name: String },
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = |root: bool| if root { "in the root namespace, " } else { "" };
        match self {
            Selection::Everything { root_namespace: true } => {
                f.write_str("in the root namespace without selector: applies to every workload")
            }
            Selection::Everything {
                root_namespace: false,
            } => f.write_str("no selector: applies to every workload of its namespace"),
            Selection::Selector {
                labels,
                root_namespace,
            } if labels.is_empty() => {
                write!(
                    f,
                    "{}empty selector: applies to every workload in scope",
                    scope(*root_namespace)
                )
            }
            Selection::Selector {
                labels,
                root_namespace,
            } => {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{}selector matches {}", scope(*root_namespace), l.join(", "))
            }
            Selection::TargetRef { kind, name } => {
                write!(f, "targetRefs names this workload's {kind} {name}")
            }
        }
    }
}

/// Does a resource with this metadata, selector and target references apply to the
/// workload, and why? Shared by WasmPlugin, RequestAuthentication and AuthorizationPolicy.
pub(crate) fn applies_to_workload(
    meta: &ObjectMeta,
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
    workload: &Proxy,
    root_namespace: &str,
) -> Result<Selection, Reason> {
    let namespace = meta.namespace();
    let workload_ns = workload.metadata.namespace();
    if namespace != workload_ns && namespace != root_namespace {
        return Err(Reason::OtherNamespace {
            namespace: namespace.to_string(),
            workload_namespace: workload_ns.to_string(),
            root_namespace: root_namespace.to_string(),
        });
    }
    let refs: Vec<&PolicyTargetReference> = target_ref.into_iter().chain(target_refs).collect();
    if !refs.is_empty() {
        return targets(&refs, namespace, workload, root_namespace);
    }
    let in_root = namespace == root_namespace && namespace != workload_ns;
    if let Some(selector) = selector {
        let labels = &workload.metadata.labels;
        for (label, wanted) in &selector.match_labels {
            let found = labels.get(label);
            if found != Some(wanted) {
                return Err(Reason::SelectorMismatch {
                    label: label.clone(),
                    wanted: wanted.clone(),
                    found: found.cloned(),
                });
            }
        }
        return Ok(Selection::Selector {
            labels: selector
                .match_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            root_namespace: in_root,
        });
    }
    Ok(Selection::Everything {
        root_namespace: in_root,
    })
}

/// `targetRefs`: a Gateway in the resource's namespace whose workload carries the
/// `gateway-name` label, or (root namespace only) a GatewayClass through the
/// `gateway-class-name` label. Service and ServiceEntry references are for waypoints, which
/// wasmesh does not run.
fn targets(
    refs: &[&PolicyTargetReference],
    namespace: &str,
    workload: &Proxy,
    root_namespace: &str,
) -> Result<Selection, Reason> {
    let labels = &workload.metadata.labels;
    let mut why = Vec::new();
    for r in refs {
        match r.kind.as_str() {
            "Gateway" => {
                if workload.metadata.namespace() != namespace {
                    why.push(format!(
                        "Gateway {} is in namespace {namespace}, the workload in {}",
                        r.name,
                        workload.metadata.namespace()
                    ));
                    continue;
                }
                match labels.get(GATEWAY_NAME_LABEL) {
                    Some(name) if *name == r.name => {
                        return Ok(Selection::TargetRef {
                            kind: r.kind.clone(),
                            name: r.name.clone(),
                        })
                    }
                    Some(name) => why.push(format!(
                        "targetRefs names Gateway {}; the workload's {GATEWAY_NAME_LABEL} is {name}",
                        r.name
                    )),
                    None => why.push(format!(
                        "targetRefs names Gateway {}; the workload has no label {GATEWAY_NAME_LABEL}",
                        r.name
                    )),
                }
            }
            "GatewayClass" => {
                if namespace != root_namespace {
                    why.push(format!(
                        "GatewayClass {} is only honoured in the root namespace ({root_namespace})",
                        r.name
                    ));
                    continue;
                }
                match labels.get(GATEWAY_CLASS_LABEL) {
                    Some(name) if *name == r.name => {
                        return Ok(Selection::TargetRef {
                            kind: r.kind.clone(),
                            name: r.name.clone(),
                        })
                    }
                    _ => why.push(format!(
                        "targetRefs names GatewayClass {}; the workload's {GATEWAY_CLASS_LABEL} is not {}",
                        r.name, r.name
                    )),
                }
            }
            other => why.push(format!(
                "targetRefs names {other} {}: such references select waypoints, which wasmesh does not run",
                r.name
            )),
        }
    }
    Err(Reason::TargetRefsMismatch(why.join("; ")))
}

/// Does the plugin run on this listener (`type` against protocol, `match[]` against
/// direction and port)?
pub(crate) fn fits_listener(plugin: &WasmPlugin, listener: &Listener) -> Result<(), Reason> {
    let plugin_type = plugin.plugin_type();
    let fits_type = matches!(
        (plugin_type, listener.protocol),
        (PluginType::Network, ListenerProtocol::Tcp) | (PluginType::Http, ListenerProtocol::Http)
    );
    if !fits_type {
        return Err(Reason::TypeMismatch {
            plugin_type,
            protocol: listener.protocol,
        });
    }
    let port = listener.address.port();
    if plugin.spec.r#match.is_empty()
        || plugin
            .spec
            .r#match
            .iter()
            .any(|m| traffic_fits(m, listener.traffic_direction, port))
    {
        Ok(())
    } else {
        Err(Reason::MatchMismatch {
            direction: listener.traffic_direction,
            port,
        })
    }
}

fn traffic_fits(selector: &TrafficSelector, direction: TrafficDirection, port: u16) -> bool {
    let mode_fits = match selector.mode.unwrap_or_default() {
        WorkloadMode::Undefined | WorkloadMode::ClientAndServer => true,
        WorkloadMode::Client => direction == TrafficDirection::Client,
        WorkloadMode::Server => direction == TrafficDirection::Server,
    };
    let port_fits = selector.ports.is_empty() || selector.ports.iter().any(|p| p.number == i64::from(port));
    mode_fits && port_fits
}
