//! The manifest loader: YAML or JSON text (one or many documents, `kind: List` too) → typed objects.
//!
//! Used by the standalone manifest directory and by tests; the Kubernetes watcher receives typed objects
//! directly but runs them through the same [`crate::validate`] checks.

use serde::Deserialize;
use serde_json::Value;

use crate::object::{KubeObject, ObjectRef};
use crate::validate::validate;

/// What one YAML document turned into.
// why: short-lived (one per document while loading); boxing the object would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LoadedDocument {
    /// A valid object of a kind oxigress reads.
    Object(KubeObject),
    /// A kind oxigress does not read (yet); ignored.
    Ignored {
        /// `apiVersion` of the document.
        api_version: String,
        /// `kind` of the document.
        kind: String,
    },
    /// A document of a known kind that does not decode or does not validate; rejected.
    Invalid {
        /// The object, when `kind` and `metadata.name` could be read.
        object: Option<ObjectRef>,
        /// Why it was rejected.
        message: String,
    },
}

/// A whole file that cannot be read as YAML/JSON.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("not valid YAML/JSON: {0}")]
pub struct LoadError(pub String);

/// Parses every document of `text`. A syntax error anywhere rejects the whole text (the caller keeps what
/// it had before); a document that decodes but is not a valid object is returned as
/// [`LoadedDocument::Invalid`] and does not affect its neighbours.
pub fn load_documents(text: &str) -> Result<Vec<LoadedDocument>, LoadError> {
    // why: the YAML parser takes time quadratic in the nesting depth (minutes for a 200 KB file of
    // brackets), and nothing deeper than the deserializer's recursion limit (128) can load anyway.
    if flow_depth_exceeds(text, MAX_FLOW_DEPTH) {
        return Err(LoadError(format!("nested deeper than {MAX_FLOW_DEPTH} levels")));
    }
    // why (Kubernetes' YAMLOrJSONDecoder): JSON is read as JSON, so valid JSON that YAML refuses (control
    // characters such as DEL in strings) still loads; text that only looks like JSON falls back to YAML.
    let values = match json_values(text) {
        Some(values) => values,
        None => yaml_values(text)?,
    };
    let mut out = Vec::new();
    for value in values {
        decode_value(value, &mut out);
    }
    Ok(out)
}

/// Deepest `[`/`{` nesting accepted (counted over the raw text, so brackets inside strings count too).
const MAX_FLOW_DEPTH: usize = 512;

fn flow_depth_exceeds(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Every JSON value of `text` (one or more, whitespace-separated), if `text` is JSON.
fn json_values(text: &str) -> Option<Vec<Value>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::Deserializer::from_str(text).into_iter::<Value>().collect::<Result<Vec<_>, _>>().ok()
}

fn yaml_values(text: &str) -> Result<Vec<Value>, LoadError> {
    let mut values = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        values.push(Value::deserialize(document).map_err(|e| LoadError(e.to_string()))?);
    }
    Ok(values)
}

fn decode_value(value: Value, out: &mut Vec<LoadedDocument>) {
    let Value::Object(map) = &value else {
        if !value.is_null() {
            out.push(LoadedDocument::Invalid { object: None, message: "document is not a mapping".into() });
        }
        return;
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let api_version = text("apiVersion");
    let kind = text("kind");
    if kind == "List" || kind.ends_with("List") && map.contains_key("items") {
        if let Some(Value::Array(items)) = map.get("items") {
            for item in items.clone() {
                decode_value(item, out);
            }
        }
        return;
    }
    let reference = reference_of(&value, &kind);
    let decoded = match (api_version.as_str(), kind.as_str()) {
        ("networking.k8s.io/v1", "Ingress") => typed(value, KubeObject::Ingress),
        ("networking.k8s.io/v1", "IngressClass") => typed(value, KubeObject::IngressClass),
        ("v1", "Service") => typed(value, KubeObject::Service),
        ("discovery.k8s.io/v1", "EndpointSlice") => typed(value, KubeObject::EndpointSlice),
        ("v1", "Endpoints") => typed(value, KubeObject::Endpoints),
        ("v1", "Secret") => typed(value, KubeObject::Secret),
        ("v1", "ConfigMap") => typed(value, KubeObject::ConfigMap),
        (crate::wasm_plugin::API_VERSION, "WasmPlugin") => typed(value, KubeObject::WasmPlugin),
        _ => {
            out.push(LoadedDocument::Ignored { api_version, kind });
            return;
        }
    };
    let document = match decoded {
        Ok(mut object) => {
            object.normalize_namespace();
            let problems = validate(&object);
            if problems.is_empty() {
                LoadedDocument::Object(object)
            } else {
                LoadedDocument::Invalid { object: Some(object.object_ref()), message: problems.join("; ") }
            }
        }
        Err(message) => LoadedDocument::Invalid { object: reference, message },
    };
    out.push(document);
}

fn typed<T: serde::de::DeserializeOwned>(value: Value, wrap: fn(T) -> KubeObject) -> Result<KubeObject, String> {
    serde_json::from_value::<T>(value).map(wrap).map_err(|e| e.to_string())
}

/// `Kind ns/name` read from an untyped document (for diagnostics about documents that do not decode).
fn reference_of(value: &Value, kind: &str) -> Option<ObjectRef> {
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let cluster_scoped = kind == "IngressClass";
    let namespace = if cluster_scoped {
        ""
    } else {
        meta.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or(crate::object::DEFAULT_NAMESPACE)
    };
    Some(ObjectRef::new(kind, namespace, name))
}

#[cfg(test)]
mod tests;
