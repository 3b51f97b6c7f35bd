//! Small accessors on objects held as `serde_json::Value`.

use crate::error::ApiError;
use serde_json::{Map, Value};

/// `metadata` of an object, created if missing; an error when the body is not a JSON object.
pub fn meta_mut(obj: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let map = obj.as_object_mut().ok_or_else(|| ApiError::bad_request("the body is not a JSON object"))?;
    map.entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata is not an object"))
}

/// A string field of `metadata` (empty when missing).
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or("")
}

/// The value at a dotted field path (`metadata.name`, `spec.nodeName`) as a string, `""` when missing.
pub fn field_str(obj: &Value, path: &str) -> String {
    match path.split('.').try_fold(obj, |v, part| v.get(part)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Now, as a Kubernetes `Time` string (RFC 3339, seconds).
pub fn now() -> Value {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    serde_json::to_value(Time(k8s_openapi::jiff::Timestamp::now())).unwrap_or(Value::Null)
}
