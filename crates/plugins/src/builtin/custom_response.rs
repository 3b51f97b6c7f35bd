//! `custom-response`: answer with a configured status, headers and body — always (mock), or in place of
//! responses whose status matches `enable_on_status`. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/custom-response/main.go`, v1.1.0), quirks included:
//! - two schemas: `rules: [{status_code, headers, body, enable_on_status}, …]`, or (when `rules` is not a
//!   list) one such rule at the top level;
//! - `status_code` defaults to 200 (numbers or numeric strings); `headers` are `key=value` strings (split
//!   at the first `=`, both sides trimmed); `Content-Type` there sets the content type, `Content-Length` is
//!   ignored; without a content type a non-empty body gets `application/json; charset=utf-8` when it is
//!   valid JSON, else `text/plain; charset=utf-8`; an empty body carries no content type (Envoy's local
//!   reply drops it);
//! - `enable_on_status` items are exact codes (anything `strconv.Atoi` accepts, compared as written, so
//!   `"0401"` never matches) or 3-character patterns of digits and `x` (`4xx`, `40x`, `x04`, lower-cased);
//!   a code or pattern may appear only once across all rules;
//! - **when no rule has `enable_on_status`, every request is answered directly** with the first rule
//!   (`rules` version: the first rule without `enable_on_status`); **as soon as one rule has it, the
//!   request always goes on and rules without it are never used** (the README's "default rule" fallback is
//!   not implemented by the Go code);
//! - on the response: exact match first, then patterns; a match replaces the whole response (status,
//!   headers, body) as Envoy's local reply does, also for direct answers of later plugins (e.g. a 401 of
//!   `basic-auth`);
//! - an empty `rules` list is an error ("no valid config is found").
//!
//! oxigress differences: several matching patterns pick the first in configuration order (Go iterates a
//! map, so its choice is random); a `status_code` outside 100–999 and header names or values that are not
//! valid HTTP are configuration errors.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use super::gjson_string;
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView, ResponseEdits, ResponseView};

/// Plugin name.
pub const NAME: &str = "custom-response";

/// One configured response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    status: u16,
    /// Configured headers in order, content type excluded.
    headers: Vec<(String, String)>,
    /// Empty when the body is empty.
    content_type: String,
    body: Bytes,
    enable_on_status: Vec<String>,
}

impl Rule {
    /// The headers to send: the configured ones, then the content type when there is a body.
    fn response_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        if !self.body.is_empty() {
            headers.push(("content-type".to_string(), self.content_type.clone()));
        }
        headers
    }
}

/// A configured custom-response.
#[derive(Debug)]
pub struct CustomResponse {
    rules: Vec<Rule>,
    /// Index of the rule answering every request; used only when no rule has `enable_on_status`.
    default_rule: Option<usize>,
    /// Exact codes → rule index.
    exact: HashMap<String, usize>,
    /// Patterns (lower case, with `x`) → rule index, in configuration order.
    patterns: Vec<(String, usize)>,
}

impl CustomResponse {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let mut rules = Vec::new();
        let mut default_rule = None;
        let mut sources = Vec::new();
        let rules_version = matches!(config.get("rules"), Some(Value::Array(_)));
        if let Some(Value::Array(items)) = config.get("rules") {
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("rules[{i}].");
                let rule = parse_rule(item, &prefix)?;
                if rule.enable_on_status.is_empty() && default_rule.is_none() {
                    default_rule = Some(rules.len());
                }
                rules.push(rule);
                sources.push(prefix);
            }
        } else {
            rules.push(parse_rule(config, "")?);
            default_rule = Some(0);
            sources.push(String::new());
        }
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        let mut seen = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            for (j, code) in rule.enable_on_status.iter().enumerate() {
                if seen.insert(code.clone(), index).is_some() {
                    return Err(ConfigError::new(
                        format!("{}enable_on_status[{j}]", sources[index]),
                        format!("{code:?} is used more than once (enable_on_status can only use once)"),
                    ));
                }
                if code.contains('x') {
                    patterns.push((code.clone(), index));
                } else {
                    exact.insert(code.clone(), index);
                }
            }
        }
        if rules_version && default_rule.is_none() && seen.is_empty() {
            return Err(ConfigError::new("rules", "no valid config is found"));
        }
        Ok(Self { rules, default_rule, exact, patterns })
    }

    /// The rule replacing a response with `status`, if any.
    fn rule_for_status(&self, status: u16) -> Option<&Rule> {
        let code = status.to_string();
        let index = self.exact.get(&code).copied().or_else(|| {
            self.patterns
                .iter()
                .find(|(pattern, _)| {
                    pattern.len() == code.len()
                        && pattern.bytes().zip(code.bytes()).all(|(p, c)| !p.is_ascii_digit() || p == c)
                })
                .map(|(_, index)| *index)
        })?;
        self.rules.get(index)
    }
}

impl Plugin for CustomResponse {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, _request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        if !self.exact.is_empty() || !self.patterns.is_empty() {
            return Decision::Continue;
        }
        match self.default_rule.and_then(|i| self.rules.get(i)) {
            Some(rule) => Decision::Respond(DirectResponse {
                status: rule.status,
                headers: rule.response_headers(),
                body: rule.body.clone(),
            }),
            None => Decision::Continue,
        }
    }

    fn on_response_headers(&self, _request: &RequestView<'_>, response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        let Some(rule) = self.rule_for_status(response.status) else {
            return;
        };
        // A local reply replaces the whole response; the gateway still adds `server` and `date`.
        let mut names: Vec<String> = Vec::new();
        for name in response.headers.keys() {
            if name != http::header::SERVER && name != http::header::DATE && !names.iter().any(|n| n == name.as_str()) {
                names.push(name.as_str().to_string());
            }
        }
        edits.headers.remove = names;
        edits.headers.add = rule.response_headers();
        edits.status = Some(rule.status);
        edits.body = Some(rule.body.clone());
    }
}

/// One rule object; `prefix` names it in errors (`rules[2].`).
fn parse_rule(config: &Value, prefix: &str) -> Result<Rule, ConfigError> {
    let mut headers = Vec::new();
    let mut content_type = String::new();
    for (field, item) in gjson_array(config, "headers") {
        let field = format!("{prefix}{field}");
        let text = gjson_text(item);
        let Some((key, value)) = text.split_once('=') else {
            return Err(ConfigError::new(field, format!("invalid header pair format: {text:?} (want key=value)")));
        };
        let (key, value) = (key.trim(), value.trim());
        if HeaderName::from_bytes(key.as_bytes()).is_err() || HeaderValue::from_bytes(value.as_bytes()).is_err() {
            return Err(ConfigError::new(field, format!("{text:?} is not a valid HTTP header")));
        }
        if key.eq_ignore_ascii_case("content-type") {
            content_type = value.to_string();
        } else if !key.eq_ignore_ascii_case("content-length") {
            headers.push((key.to_string(), value.to_string()));
        }
    }
    let body = gjson_string(config, "body");
    if content_type.is_empty() && !body.is_empty() {
        content_type = if serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
            "application/json; charset=utf-8".to_string()
        } else {
            "text/plain; charset=utf-8".to_string()
        };
    }
    let status = match config.get("status_code") {
        None => 200,
        Some(value) => {
            let text = gjson_text(value);
            let code: i64 = go_atoi(&text).ok_or_else(|| {
                ConfigError::new(format!("{prefix}status_code"), format!("invalid status code value: {text:?}"))
            })?;
            u16::try_from(code).ok().filter(|c| (100..=999).contains(c)).ok_or_else(|| {
                ConfigError::new(format!("{prefix}status_code"), format!("{code} is not an HTTP status code"))
            })?
        }
    };
    let mut enable_on_status = Vec::new();
    for (field, item) in gjson_array(config, "enable_on_status") {
        let text = gjson_text(item);
        if go_atoi(&text).is_some() {
            enable_on_status.push(text);
        } else {
            let pattern = status_pattern(&text).map_err(|e| ConfigError::new(format!("{prefix}{field}"), e))?;
            enable_on_status.push(pattern);
        }
    }
    Ok(Rule { status, headers, content_type, body: Bytes::from(body), enable_on_status })
}

/// A fuzzy status pattern: 3 characters, digits and `x`/`X`, at least one of each; lower-cased.
fn status_pattern(text: &str) -> Result<String, String> {
    if text.len() != 3 {
        return Err(format!("invalid enable_on_status {text:?}: length must be 3"));
    }
    let lower = text.to_ascii_lowercase();
    if !lower.bytes().all(|b| b == b'x' || b.is_ascii_digit()) {
        return Err(format!("invalid enable_on_status {text:?}: must contain only digits and x/X"));
    }
    if !lower.contains('x') {
        return Err(format!("invalid enable_on_status {text:?}: fuzzy match must contain x/X"));
    }
    if !lower.bytes().any(|b| b.is_ascii_digit()) {
        return Err(format!("invalid enable_on_status {text:?}: must contain at least one digit"));
    }
    Ok(lower)
}

/// Go's `strconv.Atoi`: optional sign, then decimal digits only.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A value as gjson's `.String()` reads it: strings as is, integral numbers without fraction, other JSON
/// as text.
fn gjson_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `field` as gjson's `.Array()` reads it: a list, a scalar as a one-item list, missing/null as empty;
/// each item with its name for errors.
fn gjson_array<'a>(config: &'a Value, field: &str) -> Vec<(String, &'a Value)> {
    match config.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| (format!("{field}[{i}]"), v)).collect(),
        Some(other) => vec![(field.to_string(), other)],
    }
}

#[cfg(test)]
mod tests;
