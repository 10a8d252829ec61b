//! Errors as the API server sends them: a `Status` object (`kind: Status`, `apiVersion: v1`)
//! whose `code` is also the HTTP status, and whose `reason` clients switch on (kube-rs reads
//! `reason` and `code` into its `ErrorResponse`; kubectl prints `message`).

use serde_json::{json, Value};

/// Why a request failed, with what the `Status` answer names.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ApiError {
    /// No object (or no resource) at the path: 404 `NotFound`.
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    /// The path names no resource this server serves: 404 `NotFound` with no details.
    #[error("the server could not find the requested resource")]
    NoResource,
    /// A create of a name that exists: 409 `AlreadyExists`.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    /// A write based on an older `resourceVersion`: 409 `Conflict`.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again")]
    Conflict { resource: String, name: String },
    /// A watch from a version older than the kept history: 410 `Expired`.
    #[error("too old resource version: {asked} ({oldest})")]
    Expired { asked: u64, oldest: u64 },
    /// An object that breaks a rule of the server: 422 `Invalid`.
    #[error("{kind} \"{name}\" is invalid: {detail}")]
    Invalid {
        kind: String,
        name: String,
        detail: String,
    },
    /// A request the server cannot read: 400 `BadRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// A verb the path does not take: 405 `MethodNotAllowed`.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// A body in a format the double does not read (protobuf, CBOR, a JSON patch): 415
    /// `UnsupportedMediaType`.
    #[error("the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")]
    UnsupportedMediaType,
}

impl ApiError {
    /// The HTTP status and the `reason` of the `Status` object.
    pub fn code_and_reason(&self) -> (u16, &'static str) {
        match self {
            ApiError::NotFound { .. } | ApiError::NoResource => (404, "NotFound"),
            ApiError::AlreadyExists { .. } => (409, "AlreadyExists"),
            ApiError::Conflict { .. } => (409, "Conflict"),
            ApiError::Expired { .. } => (410, "Expired"),
            ApiError::Invalid { .. } => (422, "Invalid"),
            ApiError::BadRequest(_) => (400, "BadRequest"),
            ApiError::MethodNotAllowed => (405, "MethodNotAllowed"),
            ApiError::UnsupportedMediaType => (415, "UnsupportedMediaType"),
        }
    }

    /// The `Status` object of this error.
    pub fn to_status(&self) -> Value {
        let (code, reason) = self.code_and_reason();
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code,
        });
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name } => Some(details(resource, name)),
            ApiError::Invalid { kind, name, .. } => Some(json!({ "name": name, "kind": kind })),
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

/// `details` names the object as `{name, group, kind}`, where `kind` is the plural (as the
/// real server does for these errors) and `group` is left out for the core group.
fn details(resource: &str, name: &str) -> Value {
    match resource.split_once('.') {
        Some((plural, group)) => json!({ "name": name, "group": group, "kind": plural }),
        None => json!({ "name": name, "kind": resource }),
    }
}

/// The `Status` a successful delete answers with.
pub fn deleted(kind: &str, group: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({ "name": name, "kind": kind, "uid": uid });
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
