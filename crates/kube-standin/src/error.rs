//! Errors: [`ApiError`] is what the HTTP side answers (as a Kubernetes `Status`), [`StandInError`] what
//! the Rust test API returns.

use serde_json::{json, Value};
use std::time::Duration;

/// A failed API request, answered as a `Status` object with the same code and reason the real
/// apiserver uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({code}): {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into() }
    }

    /// 404 NotFound.
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(404, "NotFound", format!("{what} not found"))
    }

    /// 409 AlreadyExists.
    pub fn already_exists(what: impl std::fmt::Display) -> Self {
        Self::new(409, "AlreadyExists", format!("{what} already exists"))
    }

    /// 409 Conflict (stale `resourceVersion`).
    pub fn conflict(what: impl std::fmt::Display) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what}: the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    /// 410 Expired: a watch from a `resourceVersion` older than the kept history.
    pub fn expired(rv: u64, oldest: u64) -> Self {
        Self::new(410, "Expired", format!("too old resource version: {rv} ({oldest})"))
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

/// An error of the Rust test API.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Binding the listener on 127.0.0.1 failed.
    #[error("binding 127.0.0.1:0: {0}")]
    Bind(#[source] std::io::Error),
    /// Building a kube client failed.
    #[error("building the kube client: {0}")]
    Client(#[from] kube::Error),
    /// The client URL or name did not form a valid URI or header.
    #[error("invalid client URL or name: {0}")]
    Http(#[from] http::Error),
    /// A document passed to `apply_yaml` does not parse.
    #[error("parsing YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// An object passed to `apply` lacks `apiVersion`, `kind` or `metadata.name`.
    #[error("object needs apiVersion, kind and metadata.name")]
    Incomplete,
    /// The store refused the write.
    #[error("object rejected: {0}")]
    Api(#[from] ApiError),
    /// `wait_for` gave up.
    #[error("condition not met within {0:?}")]
    Timeout(Duration),
}
