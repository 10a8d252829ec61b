//! The status the Gateway API asks of a controller (docs/gateway-api.md, "Status"): on each
//! GatewayClass naming wasmesh, `Accepted`; on the Gateway served, `Accepted`, `Programmed`
//! and per listener `supportedKinds`, `attachedRoutes`, `Accepted`, `Programmed`,
//! `ResolvedRefs`, `Conflicted`; on each HTTPRoute with a parentRef naming that Gateway,
//! one `status.parents[]` entry per such parentRef with `Accepted` and `ResolvedRefs`.
//! Made from the same attachment (`attach::parents`) and backend resolution
//! (`backends::resolve`) as the Proxy, so the status says what the requests get.
//!
//! Pure: the objects (with the status they have now), whether the gateway serves what it
//! was given, and the time come in; out come the statuses that differ from what the
//! objects have. A condition keeps its `lastTransitionTime` while its `status` stays, so
//! a status already right is never written again. What other controllers wrote (their
//! `status.parents[]` entries, other condition types) is kept.

use super::attach::{self, Parent};
use super::conflicts::{conflicts, Conflict};
use super::types::HttpBackendRef;
use super::types::{Gateway, GatewayClass, GatewayListener, HttpRoute, GROUP};
use super::{backends, tls, Note, NoteKind};
use super::{Objects, Target, CONTROLLER_NAME};
use crate::timestamp::Timestamp;
use serde_json::{json, Map, Value};

/// Which kind a status is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusKind {
    GatewayClass,
    Gateway,
    HttpRoute,
}

/// One status to write: the whole `status` of the object as it should be; its fields
/// replace the object's (a JSON merge patch of `{"status": ...}`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusWrite {
    pub kind: StatusKind,
    /// `None` for a GatewayClass (cluster-scoped).
    pub namespace: Option<String>,
    pub name: String,
    pub status: Value,
}

/// One condition as wanted, without its time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    kind: &'static str,
    status: bool,
    reason: &'static str,
    message: String,
}

fn cond(kind: &'static str, status: bool, reason: &'static str, message: impl Into<String>) -> Wanted {
    Wanted {
        kind,
        status,
        reason,
        message: message.into(),
    }
}

/// The statuses of `objects` that are not what they should be, for the Gateway of
/// `target`. `programmed`: `Ok` when every gateway serving it runs its newest Proxy with
/// every listener bound, else why not. Nothing for the Gateway and its routes while it is
/// not served (not found, or its class is not wasmesh's).
pub fn writes(
    objects: &Objects,
    target: &Target,
    programmed: &Result<(), String>,
    now: &Timestamp,
) -> Vec<StatusWrite> {
    let mut out = Vec::new();
    for class in &objects.classes {
        if let Some(status) = class_status(class, now) {
            out.push(StatusWrite {
                kind: StatusKind::GatewayClass,
                namespace: None,
                name: class.metadata.name.clone(),
                status,
            });
        }
    }
    let Ok((gateway, _)) = super::served(objects, target) else {
        return out;
    };
    let parents: Vec<(&HttpRoute, Vec<Parent>)> = objects
        .routes
        .iter()
        .map(|r| (r, attach::parents(gateway, r, &objects.namespaces)))
        // a route no longer naming the Gateway: its entry of ours is taken out
        .filter(|(r, p)| !p.is_empty() || has_entry(gateway, r))
        .collect();
    if let Some(status) = gateway_status(gateway, objects, &parents, programmed, now) {
        out.push(StatusWrite {
            kind: StatusKind::Gateway,
            namespace: Some(gateway.metadata.namespace().to_string()),
            name: gateway.metadata.name.clone(),
            status,
        });
    }
    for (route, parents) in &parents {
        if let Some(status) = route_status(gateway, route, parents, objects, now) {
            out.push(StatusWrite {
                kind: StatusKind::HttpRoute,
                namespace: Some(route.metadata.namespace().to_string()),
                name: route.metadata.name.clone(),
                status,
            });
        }
    }
    out
}

fn class_status(class: &GatewayClass, now: &Timestamp) -> Option<Value> {
    if class.spec.controller_name != CONTROLLER_NAME {
        return None;
    }
    let wanted = vec![cond(
        "Accepted",
        true,
        "Accepted",
        format!("served by {CONTROLLER_NAME}"),
    )];
    let current = class.status.as_ref();
    let conditions = conditions(
        field(current, "conditions"),
        wanted,
        class.metadata.generation,
        now,
    );
    changed(current, json!({ "conditions": conditions }))
}

fn gateway_status(
    gateway: &Gateway,
    objects: &Objects,
    parents: &[(&HttpRoute, Vec<Parent>)],
    programmed: &Result<(), String>,
    now: &Timestamp,
) -> Option<Value> {
    let generation = gateway.metadata.generation;
    let current = gateway.status.as_ref();
    let current_listeners = field(current, "listeners");
    let listeners = &gateway.spec.listeners;
    let mut statuses = Vec::new();
    let mut refused = Vec::new();
    let conflicted = conflicts(listeners);
    for (i, listener) in listeners.iter().enumerate() {
        let attached = parents
            .iter()
            .filter(|(_, ps)| ps.iter().any(|p| p.allowed.contains(&i)))
            .count();
        let certificates = certificate_refs(gateway, i, listener, objects);
        let conflict = conflicted[i].as_ref();
        let wanted = listener_conditions(listener, conflict, &certificates, programmed);
        if let Some(invalid) = wanted.iter().find(|c| c.kind == "Accepted" && !c.status) {
            refused.push(format!("listener {}: {}", listener.name, invalid.message));
        } else if let Some(c) = conflict {
            refused.push(format!("listener {} conflicts: {}", listener.name, c.message));
        } else if !certificates.served {
            refused.push(format!("listener {}: no certificateRef resolves", listener.name));
        }
        let was = current_listeners
            .and_then(Value::as_array)
            .and_then(|ls| ls.iter().find(|l| l["name"] == listener.name.as_str()));
        let supported: Vec<Value> = if attach::served(listener) && attach::takes_http_routes(listener) {
            vec![json!({ "group": GROUP, "kind": "HTTPRoute" })]
        } else {
            Vec::new()
        };
        statuses.push(json!({
            "name": listener.name,
            "supportedKinds": supported,
            "attachedRoutes": attached,
            "conditions": conditions(was.and_then(|l| l.get("conditions")), wanted, generation, now),
        }));
    }
    let accepted = if refused.is_empty() {
        cond("Accepted", true, "Accepted", "accepted by wasmesh")
    } else if refused.len() < listeners.len() {
        cond("Accepted", true, "ListenersNotValid", refused.join("; "))
    } else {
        cond("Accepted", false, "ListenersNotValid", refused.join("; "))
    };
    let programmed = match programmed {
        _ if !accepted.status => cond("Programmed", false, "Invalid", "no listener is accepted"),
        Ok(()) => cond(
            "Programmed",
            true,
            "Programmed",
            "served by every live wasmesh replica",
        ),
        Err(why) => cond("Programmed", false, "Pending", why.clone()),
    };
    let wanted = vec![accepted, programmed];
    let conditions = conditions(field(current, "conditions"), wanted, generation, now);
    changed(
        current,
        json!({ "conditions": conditions, "listeners": statuses }),
    )
}

/// How an HTTPS listener's certificateRefs resolve, as the Proxy's listener is made
/// (`tls::certificates`). Other listeners have none: `failed` empty, `served`.
struct Certificates {
    /// The reason (`InvalidCertificateRef` or `RefNotPermitted`) of the first reference
    /// that does not resolve, and each one's field path and reason.
    failed: Option<(&'static str, String)>,
    /// Does at least one resolve (the listener is bound)?
    served: bool,
}

fn certificate_refs(
    gateway: &Gateway,
    index: usize,
    listener: &GatewayListener,
    objects: &Objects,
) -> Certificates {
    if listener.protocol != "HTTPS" || !attach::served(listener) {
        return Certificates {
            failed: None,
            served: true,
        };
    }
    let mut notes: Vec<Note> = Vec::new();
    let namespace = gateway.metadata.namespace();
    let found = tls::certificates(
        "",
        namespace,
        index,
        listener,
        &objects.secrets,
        &objects.grants,
        &mut notes,
    );
    let failed: Vec<&Note> = notes
        .iter()
        .filter(|n| {
            matches!(
                n.kind,
                NoteKind::InvalidCertificateRef | NoteKind::RefNotPermitted
            )
        })
        .collect();
    let failed = failed.first().map(|first| {
        let reason = match first.kind {
            NoteKind::RefNotPermitted => "RefNotPermitted",
            _ => "InvalidCertificateRef",
        };
        let message: Vec<String> = failed
            .iter()
            .map(|n| format!("{}: {}", n.field, n.message))
            .collect();
        (reason, message.join("; "))
    });
    Certificates {
        failed,
        served: !found.is_empty(),
    }
}

/// `Accepted`, `ResolvedRefs`, `Conflicted`, `Programmed` of one listener.
fn listener_conditions(
    listener: &GatewayListener,
    conflict: Option<&Conflict>,
    certificates: &Certificates,
    programmed: &Result<(), String>,
) -> Vec<Wanted> {
    let accepted = if attach::served(listener) {
        cond("Accepted", true, "Accepted", "accepted")
    } else {
        let why = format!("protocol {} is not served by wasmesh yet", listener.protocol);
        cond("Accepted", false, "UnsupportedProtocol", why)
    };
    let resolved = match &certificates.failed {
        _ if !attach::takes_http_routes(listener) => {
            let why = "allowedRoutes.kinds names no kind wasmesh serves (HTTPRoute)";
            cond("ResolvedRefs", false, "InvalidRouteKinds", why)
        }
        Some((reason, why)) => cond("ResolvedRefs", false, reason, why.clone()),
        None => cond("ResolvedRefs", true, "ResolvedRefs", "resolved"),
    };
    let conflicted = match conflict {
        Some(c) => cond("Conflicted", true, c.reason, c.message.clone()),
        None => cond("Conflicted", false, "NoConflicts", "no conflict"),
    };
    let programmed = match programmed {
        _ if !accepted.status => cond("Programmed", false, "Invalid", "not accepted"),
        // left out: docs/gateway-api.md, "Status"
        _ if conflict.is_some() => cond("Programmed", false, "Invalid", "conflicted: not served"),
        // not bound: none of its certificates resolves (docs/gateway-api.md)
        _ if !certificates.served => cond("Programmed", false, "Invalid", "no certificateRef resolves"),
        Ok(()) => cond("Programmed", true, "Programmed", "programmed"),
        Err(why) => cond("Programmed", false, "Pending", why.clone()),
    };
    vec![accepted, resolved, conflicted, programmed]
}

fn route_status(
    gateway: &Gateway,
    route: &HttpRoute,
    parents: &[Parent],
    objects: &Objects,
    now: &Timestamp,
) -> Option<Value> {
    let resolved = resolved_refs(route, objects);
    let current = route.status.as_ref();
    let current_parents: Vec<&Value> = field(current, "parents")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().collect())
        .unwrap_or_default();
    let ours = |entry: &Value| ours(entry, route, gateway);
    let mut entries: Vec<Value> = current_parents
        .iter()
        .filter(|e| !ours(e))
        .map(|e| (*e).clone())
        .collect();
    for parent in parents {
        let reference = serde_json::to_value(parent.reference).unwrap_or(Value::Null);
        let accepted = match &parent.refused {
            None => cond("Accepted", true, "Accepted", "attached"),
            Some((why, message)) => cond("Accepted", false, why.reason(), message.clone()),
        };
        let was = current_parents
            .iter()
            .find(|e| ours(e) && e["parentRef"] == reference)
            .and_then(|e| e.get("conditions"));
        let wanted = vec![accepted, resolved.clone()];
        entries.push(json!({
            "parentRef": reference,
            "controllerName": CONTROLLER_NAME,
            "conditions": conditions(was, wanted, route.metadata.generation, now),
        }));
    }
    changed(current, json!({ "parents": entries }))
}

/// Is `entry` of `route`'s `status.parents` ours for `gateway`: of our controller, its
/// parentRef naming it?
fn ours(entry: &Value, route: &HttpRoute, gateway: &Gateway) -> bool {
    entry["controllerName"] == CONTROLLER_NAME
        && serde_json::from_value::<super::types::ParentReference>(entry["parentRef"].clone())
            .is_ok_and(|p| attach::names(&p, route.metadata.namespace(), gateway))
}

/// Has `route` an entry of ours for `gateway` in its status?
fn has_entry(gateway: &Gateway, route: &HttpRoute) -> bool {
    let entries = field(route.status.as_ref(), "parents").and_then(Value::as_array);
    entries.is_some_and(|es| es.iter().any(|e| ours(e, route, gateway)))
}

/// `ResolvedRefs` of a route: every backendRef of every rule, and of every
/// `RequestMirror` filter, resolves, or the reason of the first that does not, and each
/// one's field path and reason in the message.
fn resolved_refs(route: &HttpRoute, objects: &Objects) -> Wanted {
    let mut failed = Vec::new();
    for (i, rule) in route.spec.rules.iter().enumerate() {
        let backends = rule
            .backend_refs
            .iter()
            .enumerate()
            .map(|(b, backend)| (format!("spec.rules[{i}].backendRefs[{b}]"), backend));
        let mirrors = rule.filters.iter().enumerate().filter_map(|(f, filter)| {
            let mirror = filter.request_mirror.as_ref()?;
            let field = format!("spec.rules[{i}].filters[{f}].requestMirror.backendRef");
            Some((field, &mirror.backend_ref))
        });
        for (field, backend) in backends.chain(mirrors) {
            let backend: &HttpBackendRef = backend;
            if let Err(why) = backends::resolve(backend, route.metadata.namespace(), objects) {
                failed.push((why.reason(), format!("{field}: {why}")));
            }
        }
    }
    match failed.first() {
        None => cond("ResolvedRefs", true, "ResolvedRefs", "every backendRef resolves"),
        Some((reason, _)) => {
            let message: Vec<String> = failed.iter().map(|(_, m)| m.clone()).collect();
            cond("ResolvedRefs", false, reason, message.join("; "))
        }
    }
}

fn field<'a>(status: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    status.and_then(|s| s.get(name))
}

/// `next` when a field of it differs from `current`'s, else `None`.
fn changed(current: Option<&Value>, next: Value) -> Option<Value> {
    let Value::Object(fields) = &next else {
        return Some(next);
    };
    let differs = fields.iter().any(|(k, v)| field(current, k) != Some(v));
    differs.then_some(next)
}

/// The `conditions` list: `wanted` at `generation`, each keeping the `lastTransitionTime`
/// of `current`'s condition of its type while its status stays (else `now`), then
/// `current`'s conditions of other types, as they are.
fn conditions(
    current: Option<&Value>,
    wanted: Vec<Wanted>,
    generation: Option<i64>,
    now: &Timestamp,
) -> Vec<Value> {
    let current: Vec<&Value> = current
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for w in &wanted {
        let status = if w.status { "True" } else { "False" };
        let since = current
            .iter()
            .find(|c| c["type"] == w.kind && c["status"] == status)
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now.to_string()));
        let mut c = Map::new();
        c.insert("type".into(), json!(w.kind));
        c.insert("status".into(), json!(status));
        c.insert("reason".into(), json!(w.reason));
        c.insert("message".into(), json!(w.message));
        c.insert("lastTransitionTime".into(), since);
        if let Some(g) = generation {
            c.insert("observedGeneration".into(), json!(g));
        }
        out.push(Value::Object(c));
    }
    let others = current
        .into_iter()
        .filter(|c| !wanted.iter().any(|w| c["type"] == w.kind));
    out.extend(others.cloned());
    out
}

#[cfg(test)]
#[path = "tests_status.rs"]
mod tests;
