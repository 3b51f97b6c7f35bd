//! PATCH bodies: JSON merge patch, strategic merge patch (treated as a merge patch), JSON patch, and
//! server-side apply (treated as a merge of the given object).

use crate::error::ApiError;
use serde_json::Value;

/// The patch flavour, from the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` or `application/strategic-merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/apply-patch+yaml` (server-side apply; creates the object when absent).
    Apply,
}

impl PatchKind {
    /// The flavour for a `Content-Type`, `None` when unsupported.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().map(str::trim) {
            Some("application/merge-patch+json" | "application/strategic-merge-patch+json") => Some(Self::Merge),
            Some("application/json-patch+json") => Some(Self::Json),
            Some("application/apply-patch+yaml") => Some(Self::Apply),
            _ => None,
        }
    }

    /// Applies the patch `body` to `target`.
    pub fn apply(self, target: &mut Value, body: &[u8]) -> Result<(), ApiError> {
        let invalid = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("invalid patch: {e}"));
        match self {
            Self::Merge => {
                let patch: Value = serde_json::from_slice(body).map_err(|e| invalid(&e))?;
                json_patch::merge(target, &patch);
            }
            Self::Apply => {
                let patch: Value = serde_yaml_ng::from_slice(body).map_err(|e| invalid(&e))?;
                json_patch::merge(target, &patch);
            }
            Self::Json => {
                let patch: json_patch::Patch = serde_json::from_slice(body).map_err(|e| invalid(&e))?;
                json_patch::patch(target, &patch).map_err(|e| ApiError {
                    code: 422,
                    reason: "Invalid",
                    message: e.to_string(),
                })?;
            }
        }
        Ok(())
    }
}
