//! Built-in plugins, one file each, with Higress's configuration schema and semantics (the Go version
//! unless a file says otherwise). Shared JSON readers live here.

pub mod ai_proxy;
pub mod basic_auth;
pub mod bot_detect;
pub mod cache_control;
pub mod cors;
pub mod custom_response;
pub mod ip_restriction;
pub mod jwt_auth;
pub mod key_auth;
pub mod request_block;
pub mod request_validation;
pub mod simple_jwt_auth;
pub mod transformer;
pub(crate) mod consumer_auth;

use serde_json::Value;

use crate::ConfigError;

/// A list of strings (`null`/missing = empty); non-string items are an error naming `field[i]`.
pub(crate) fn string_list(config: &Value, field: &str) -> Result<Vec<String>, ConfigError> {
    match config.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(String::from).ok_or_else(|| ConfigError::new(format!("{field}[{i}]"), "must be a string"))
            })
            .collect(),
        Some(_) => Err(ConfigError::new(field, "must be a list of strings")),
    }
}

/// A boolean as gjson's `.Bool()` reads it: `true`, `"true"`, or a non-zero number; default false.
pub(crate) fn gjson_bool(config: &Value, field: &str) -> bool {
    match config.get(field) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// An integer as gjson's `.Int()` reads it (numbers and numeric strings); default 0.
pub(crate) fn gjson_int(config: &Value, field: &str) -> i64 {
    match config.get(field) {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// A string as gjson's `.String()` reads it; default empty.
pub(crate) fn gjson_string(config: &Value, field: &str) -> String {
    match config.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Go `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` on a bad escape.
pub(crate) fn query_unescape(text: &str) -> Option<String> {
    query_unescape_bytes(text).map(|out| String::from_utf8_lossy(&out).into_owned())
}

/// [`query_unescape`] as the raw bytes (Go strings need not be UTF-8).
pub(crate) fn query_unescape_bytes(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Some(out)
}
