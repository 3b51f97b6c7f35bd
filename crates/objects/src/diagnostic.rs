//! Diagnostics: how every stage of the pipeline reports bad input (a log line, `/debug/diagnostics`, a metric)
//! instead of failing. Plain serializable data, ordered, so golden files are stable.

use serde::{Deserialize, Serialize};

use crate::object::ObjectRef;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something was ignored or degraded (a dropped duplicate route, a missing Service); the rest serves.
    Warning,
    /// An object (or file) was rejected; its last good version, if any, keeps serving.
    Error,
}

/// One problem found in the input, tied to the object (and file) it came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// A stable machine-readable code, e.g. `ParseError`, `ServiceNotFound`, `DuplicatedRoute`.
    pub code: String,
    /// The object concerned, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// The manifest file concerned (standalone mode), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Human-readable explanation.
    pub message: String,
}

impl Diagnostic {
    /// A warning about `object`.
    pub fn warning(code: &str, object: Option<ObjectRef>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, code: code.to_string(), object, file: None, message: message.into() }
    }

    /// An error about `object`.
    pub fn error(code: &str, object: Option<ObjectRef>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, code: code.to_string(), object, file: None, message: message.into() }
    }

    /// The same diagnostic, attributed to a manifest file.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(object) = &self.object {
            write!(f, " {object}")?;
        }
        if let Some(file) = &self.file {
            write!(f, " (file {file})")?;
        }
        write!(f, ": {}", self.message)
    }
}
