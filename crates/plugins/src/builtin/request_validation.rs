//! `request-validation`: check the request headers and the JSON body against JSON Schemas and answer
//! `rejected_code` (403) with `rejected_msg` when they do not match. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/request-validation/main.go`, validator `santhosh-tekuri/jsonschema`),
//! quirks included:
//! - `header_schema` / `body_schema` are read with gjson's `.String()`: an object is the schema itself, a
//!   string is parsed as JSON; missing, `null` or `""` switches that check off;
//! - draft: `enable_swagger` ⇒ draft 4, otherwise (also `enable_oas3`) draft 7; both true is an error;
//! - the headers form one JSON object `name → value` with Envoy's names: lower case, pseudo-headers
//!   `:authority`, `:path`, `:method`, `:scheme` first; a repeated header keeps its **last** value;
//! - the body is validated only when it parses as a JSON object (or `null`): an empty, non-JSON or
//!   non-object body (an array, a number) **passes**; numbers go through Go's `float64` (so `1.0` is an
//!   integer); bodies the SDK treats as binary (`Content-Type` containing `octet-stream` or `grpc`, or any
//!   `Content-Encoding`) are never read and pass;
//! - `rejected_code` is used only when 100 < code < 600, else 403; the reply carries no extra header.
//!
//! Differences: formats are asserted (as the Go validator does) with the Rust validator's format set;
//! a schema that does not compile is a configuration error here (Higress compiles it per request, logs
//! the error and lets every request pass); external `$ref`s are not fetched.

use bytes::Bytes;
use jsonschema::Validator;
use serde_json::{Map, Number, Value};

use super::{gjson_bool, gjson_int, gjson_string};
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "request-validation";

/// A configured request-validation.
pub struct RequestValidation {
    header_schema: Option<Validator>,
    body_schema: Option<Validator>,
    rejected_code: u16,
    rejected_msg: Bytes,
}

impl std::fmt::Debug for RequestValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestValidation")
            .field("header_schema", &self.header_schema.is_some())
            .field("body_schema", &self.body_schema.is_some())
            .field("rejected_code", &self.rejected_code)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Draft {
    Draft4,
    Draft7,
}

impl RequestValidation {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let swagger = gjson_bool(config, "enable_swagger");
        let oas3 = gjson_bool(config, "enable_oas3");
        if swagger && oas3 {
            return Err(ConfigError::new("enable_oas3", "enable_swagger and enable_oas3 can not be true at the same time"));
        }
        let draft = if swagger { Draft::Draft4 } else { Draft::Draft7 };
        let code = gjson_int(config, "rejected_code");
        let rejected_code = if code > 100 && code < 600 { u16::try_from(code).unwrap_or(403) } else { 403 };
        Ok(Self {
            header_schema: schema(config, "header_schema", draft)?,
            body_schema: schema(config, "body_schema", draft)?,
            rejected_code,
            rejected_msg: Bytes::from(gjson_string(config, "rejected_msg")),
        })
    }

    fn reject(&self) -> Decision {
        Decision::Respond(DirectResponse { status: self.rejected_code, headers: Vec::new(), body: self.rejected_msg.clone() })
    }
}

/// The compiled schema in `field`, if any.
fn schema(config: &Value, field: &str, draft: Draft) -> Result<Option<Validator>, ConfigError> {
    let schema = match config.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.is_empty() => return Ok(None),
        Some(Value::String(text)) => {
            serde_json::from_str(text).map_err(|e| ConfigError::new(field, format!("invalid JSON: {e}")))?
        }
        Some(other) => other.clone(),
    };
    let options = match draft {
        Draft::Draft4 => jsonschema::draft4::options(),
        Draft::Draft7 => jsonschema::draft7::options(),
    };
    options
        .should_validate_formats(true)
        .build(&schema)
        .map(Some)
        .map_err(|e| ConfigError::new(field, format!("invalid JSON Schema: {e}")))
}

impl Plugin for RequestValidation {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        if is_binary_body(request) {
            edits.skip_body = true;
        }
        let Some(schema) = &self.header_schema else { return Decision::Continue };
        if schema.is_valid(&header_document(request)) {
            Decision::Continue
        } else {
            self.reject()
        }
    }

    fn needs_request_body(&self) -> bool {
        self.body_schema.is_some()
    }

    fn on_request_body(&self, _request: &RequestView<'_>, body: &[u8], _edits: &mut RequestEdits) -> Decision {
        let Some(schema) = &self.body_schema else { return Decision::Continue };
        // Go unmarshals into a map: anything but an object (or null) fails there and passes.
        let document = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(Value::Null) => Value::Null,
            _ => return Decision::Continue,
        };
        if schema.is_valid(&as_go_float(document)) {
            Decision::Continue
        } else {
            self.reject()
        }
    }
}

/// The request headers as the object the Go plugin validates.
fn header_document(request: &RequestView<'_>) -> Value {
    let parts = request.parts;
    let mut map = Map::new();
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str());
    map.insert(":authority".into(), Value::String(request.authority()));
    map.insert(":path".into(), Value::String(path.to_string()));
    map.insert(":method".into(), Value::String(parts.method.to_string()));
    map.insert(":scheme".into(), Value::String(request.scheme.to_string()));
    for (name, value) in &parts.headers {
        if name == http::header::HOST {
            continue;
        }
        map.insert(name.as_str().to_string(), Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()));
    }
    Value::Object(map)
}


/// Whether the Wasm SDK would leave this request's body unread (`IsBinaryRequestBody`).
fn is_binary_body(request: &RequestView<'_>) -> bool {
    let headers = &request.parts.headers;
    let content_type = headers.get(http::header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    content_type.is_some_and(|t| t.contains("octet-stream") || t.contains("grpc"))
        || headers.get(http::header::CONTENT_ENCODING).is_some_and(|v| !v.is_empty())
}

/// Numbers as they come out of Go's `float64` round trip: integral values (below 1e21) are integers.
fn as_go_float(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            let Some(f) = n.as_f64() else { return Value::Number(n) };
            // The range check keeps the cast exact (Go prints these without a fraction or exponent).
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                return Value::Number(Number::from(f as i64));
            }
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(as_go_float).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, as_go_float(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
