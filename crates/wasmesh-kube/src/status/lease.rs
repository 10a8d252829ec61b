//! `coordination.k8s.io/v1` Leases: the one that elects the status writer, and each
//! gateway's own report Lease. Both are written with `replace` at the `resourceVersion`
//! read, so two replicas that race are told `409 Conflict` and one of them wins; neither is
//! ever patched, so the status subresource's merge patches are the only patches wasmesh
//! sends (docs/kubernetes.md, "Status").

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};

/// How long a Lease holds without renewal.
pub const DURATION_SECONDS: i32 = 15;

/// True when `lease` was renewed less than its duration ago.
pub fn live(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return false };
    let (Some(renewed), Some(duration)) = (&spec.renew_time, spec.lease_duration_seconds) else {
        return false;
    };
    renewed.0.as_second() + i64::from(duration) > now.as_second()
}

fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

/// Takes or renews the Lease `name` for `identity`: true when it holds it afterwards.
/// Another holder's Lease is taken only once it has expired.
pub async fn hold(api: &Api<Lease>, name: &str, identity: &str) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let Some(mut lease) = api.get_opt(name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(spec(identity, now, 0)),
        };
        return created(api.create(&PostParams::default(), &lease).await);
    };
    let mine = holder(&lease) == Some(identity);
    if !mine && live(&lease, now) {
        return Ok(false);
    }
    let old = lease.spec.take().unwrap_or_default();
    lease.spec = Some(if mine {
        LeaseSpec {
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(DURATION_SECONDS),
            ..old
        }
    } else {
        spec(identity, now, old.lease_transitions.unwrap_or(0) + 1)
    });
    replaced(api.replace(name, &PostParams::default(), &lease).await)
}

/// Writes this gateway's own report Lease `name`: holder `identity`, renewed now, with
/// `annotations` and `labels`.
pub async fn publish(
    api: &Api<Lease>,
    name: &str,
    identity: &str,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let mut lease = match api.get_opt(name).await? {
        Some(lease) => lease,
        None => Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            spec: None,
        },
    };
    let transitions = lease.spec.as_ref().and_then(|s| s.lease_transitions).unwrap_or(0);
    lease.spec = Some(spec(identity, now, transitions));
    lease
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .extend(labels);
    lease
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .extend(annotations);
    if lease.metadata.resource_version.is_none() {
        created(api.create(&PostParams::default(), &lease).await)
    } else {
        replaced(api.replace(name, &PostParams::default(), &lease).await)
    }
}

fn spec(identity: &str, now: Timestamp, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_duration_seconds: Some(DURATION_SECONDS),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// A create that lost the race (`409 AlreadyExists`) is no error: someone else has it.
fn created(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// A replace at a stale `resourceVersion` (`409 Conflict`): another writer came first.
fn replaced(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    created(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_live_for_its_duration_after_its_renewal() {
        let at = Timestamp::from_second(1_000).unwrap();
        let lease = Lease {
            metadata: ObjectMeta::default(),
            spec: Some(spec("a", at, 0)),
        };
        assert!(live(&lease, Timestamp::from_second(1_014).unwrap()));
        assert!(!live(&lease, Timestamp::from_second(1_015).unwrap()));
        assert!(!live(&Lease::default(), at), "no spec: not live");
    }
}
