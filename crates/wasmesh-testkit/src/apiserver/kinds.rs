//! The resources the double serves: the built-in `Namespace`, `Secret`, `Service`,
//! `EndpointSlice`, `Event` (core v1), `CustomResourceDefinition` and `Lease`, and one more for each CRD
//! object created.
//! Discovery and routing both read this registry, so a CRD shows up in one the moment it is
//! served by the other, as on a real server once the CRD is `Established`.

use serde_json::Value;

use super::status::ApiError;

/// One resource (a plural under a group), served at one or more versions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceKind {
    /// `""` for the core group (`/api/v1`).
    pub group: String,
    /// Served versions; the first is the preferred one.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    /// Whether `status` is a subresource: the main path then keeps `status` as it was, and
    /// `/status` changes nothing else.
    pub status_subresource: bool,
    /// A CRD's `additionalPrinterColumns` by version: what a Table of its objects shows.
    pub printer_columns: Vec<(String, Vec<Value>)>,
}

impl ResourceKind {
    fn builtin(group: &str, plural: &str, kind: &str, namespaced: bool, status: bool) -> Self {
        ResourceKind {
            group: group.to_string(),
            versions: vec!["v1".to_string()],
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            list_kind: format!("{kind}List"),
            short_names: Vec::new(),
            namespaced,
            status_subresource: status,
            printer_columns: Vec::new(),
        }
    }

    /// `plural.group` as the server names a resource in messages (`secrets`, `wasmplugins.extensions.istio.io`).
    pub fn resource_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The fields besides `metadata.name` and `metadata.namespace` that a field selector may
    /// name: an Event's, as the real server indexes them (`kubectl get events
    /// --field-selector involvedObject.name=X`).
    pub fn selectable_fields(&self) -> Vec<&'static str> {
        if self.group.is_empty() && self.plural == "events" {
            vec![
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ]
        } else {
            Vec::new()
        }
    }

    /// The printer columns of `version`, if its CRD has any.
    pub fn columns(&self, version: &str) -> Option<&[Value]> {
        self.printer_columns
            .iter()
            .find(|(v, columns)| v == version && !columns.is_empty())
            .map(|(_, columns)| columns.as_slice())
    }

    /// The `apiVersion` of objects read at `version`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// Reads the resource a `CustomResourceDefinition` object defines (`spec.group`,
    /// `spec.names`, `spec.scope`, `spec.versions[]` that are `served`).
    pub fn from_crd(crd: &Value) -> Result<Self, ApiError> {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let invalid = |detail: &str| ApiError::Invalid {
            kind: "CustomResourceDefinition.apiextensions.k8s.io".to_string(),
            name: name.clone(),
            detail: detail.to_string(),
        };
        let spec = &crd["spec"];
        let text = |v: &Value, field: &str| -> Result<String, ApiError> {
            match v.as_str() {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(invalid(&format!("{field}: Required value"))),
            }
        };
        let group = text(&spec["group"], "spec.group")?;
        let plural = text(&spec["names"]["plural"], "spec.names.plural")?;
        let kind = text(&spec["names"]["kind"], "spec.names.kind")?;
        if name != format!("{plural}.{group}") {
            return Err(invalid(&format!(
                "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
            )));
        }
        let namespaced = match spec["scope"].as_str() {
            Some("Namespaced") => true,
            Some("Cluster") => false,
            _ => {
                return Err(invalid(
                    "spec.scope: Unsupported value: must be Namespaced or Cluster",
                ))
            }
        };
        let mut versions = Vec::new();
        let mut status_subresource = false;
        let mut printer_columns = Vec::new();
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"].as_bool() != Some(true) {
                continue;
            }
            let version = text(&v["name"], "spec.versions[].name")?;
            // the storage version leads, so that it is the preferred one in discovery
            if v["storage"].as_bool() == Some(true) {
                versions.insert(0, version);
            } else {
                versions.push(version);
            }
            status_subresource |= v["subresources"].get("status").is_some();
            if let Some(columns) = v["additionalPrinterColumns"].as_array() {
                printer_columns.push((
                    v["name"].as_str().unwrap_or_default().to_string(),
                    columns.clone(),
                ));
            }
        }
        if versions.is_empty() {
            return Err(invalid(
                "spec.versions: Invalid value: must have exactly one version marked as storage version",
            ));
        }
        let names = &spec["names"];
        Ok(ResourceKind {
            group,
            versions,
            singular: names["singular"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| kind.to_lowercase()),
            list_kind: names["listKind"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{kind}List")),
            short_names: names["shortNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            plural,
            kind,
            namespaced,
            status_subresource,
            printer_columns,
        })
    }
}

/// The served resources, in the order discovery lists them.
#[derive(Debug, Clone)]
pub struct Registry {
    kinds: Vec<ResourceKind>,
}

/// The group of `CustomResourceDefinition`.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
/// The plural of `CustomResourceDefinition`.
pub const CRD_PLURAL: &str = "customresourcedefinitions";

impl Default for Registry {
    fn default() -> Self {
        let mut crds = ResourceKind::builtin(CRD_GROUP, CRD_PLURAL, "CustomResourceDefinition", false, true);
        crds.short_names = vec!["crd".to_string(), "crds".to_string()];
        let mut namespaces = ResourceKind::builtin("", "namespaces", "Namespace", false, true);
        namespaces.short_names = vec!["ns".to_string()];
        let mut services = ResourceKind::builtin("", "services", "Service", true, true);
        services.short_names = vec!["svc".to_string()];
        // what a controller reports with (wasmesh's status writer: docs/kubernetes.md,
        // "Events"); `kubectl get events` shows them in the columns a real server gives
        let mut events = ResourceKind::builtin("", "events", "Event", true, false);
        events.short_names = vec!["ev".to_string()];
        let column = |name: &str, kind: &str, path: &str| serde_json::json!({ "name": name, "type": kind, "jsonPath": path });
        events.printer_columns = vec![(
            "v1".to_string(),
            vec![
                column("Last Seen", "date", ".lastTimestamp"),
                column("Type", "string", ".type"),
                column("Reason", "string", ".reason"),
                column("Object", "string", ".involvedObject.name"),
                column("Message", "string", ".message"),
            ],
        )];
        Registry {
            kinds: vec![
                namespaces,
                ResourceKind::builtin("", "secrets", "Secret", true, false),
                crds,
                // what leader election (one replica writing statuses) takes and renews
                ResourceKind::builtin("coordination.k8s.io", "leases", "Lease", true, false),
                // what a Gateway's backends resolve through (docs/gateway-api.md); no
                // controller makes the slices of a Service here: a test applies them
                services,
                ResourceKind::builtin("discovery.k8s.io", "endpointslices", "EndpointSlice", true, false),
                events,
            ],
        }
    }
}

impl Registry {
    /// The resource at `group/version/plural`, if served.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceKind> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.plural == plural && k.versions.iter().any(|v| v == version))
    }

    /// Every served resource.
    pub fn all(&self) -> &[ResourceKind] {
        &self.kinds
    }

    /// Serves (or serves anew, after a CRD changed) the resource `kind`.
    pub fn register(&mut self, kind: ResourceKind) {
        self.unregister(&kind.group, &kind.plural);
        self.kinds.push(kind);
    }

    /// Stops serving `plural` in `group` (its CRD was deleted).
    pub fn unregister(&mut self, group: &str, plural: &str) {
        self.kinds.retain(|k| !(k.group == group && k.plural == plural));
    }

    /// The groups with what they serve, core first, then by first registration.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for kind in &self.kinds {
            let at = match groups.iter().position(|(g, _)| *g == kind.group) {
                Some(at) => at,
                None => {
                    groups.push((kind.group.clone(), Vec::new()));
                    groups.len() - 1
                }
            };
            for v in &kind.versions {
                if !groups[at].1.contains(v) {
                    groups[at].1.push(v.clone());
                }
            }
        }
        groups
    }
}
