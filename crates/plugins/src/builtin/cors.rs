//! `cors`: answer CORS pre-flight requests, reject disallowed cross-origin requests with 403, and put the
//! `Access-Control-*` headers on allowed ones. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/cors/main.go`, `config/cors_config.go`, version 1.0.0), quirks included:
//! - configuration never fails: `allow_origins`, `allow_origin_patterns`, `allow_methods`,
//!   `allow_headers`, `expose_headers` are gjson arrays (a scalar counts as a one-item list), items
//!   trimmed, empty ones dropped; `*` in a list replaces it (`allow_methods` items are upper-cased,
//!   origins lose one trailing `/`); `allow_credentials: true` is silently dropped when `allow_origins`
//!   starts with `*`; `max_age` ≤ 0 ⇒ 86400;
//! - defaults: origins `*` when neither origins nor patterns are given and credentials are off; allowed
//!   headers and methods default to **one** item each, the comma-joined default list (Go splits the
//!   methods on a full-width comma `，`), so with the default methods **every CORS request is rejected**
//!   (no method equals `"GET, PUT, POST, DELETE, PATCH, OPTIONS"`) and with the default headers a
//!   pre-flight passes only without `Access-Control-Request-Headers` (or with exactly that list);
//! - a request is CORS when it has an `Origin` (last one, trimmed, one trailing `/` dropped) that Go's
//!   `url.Parse` accepts and whose scheme, host or port (default 80/443) differ from the request's
//!   `:scheme` and `:authority`; a pre-flight is an `OPTIONS` CORS request with
//!   `Access-Control-Request-Method`;
//! - origins match case-insensitively, exactly or by pattern: `*` matches anything, the rest is quoted,
//!   `*` becomes `.*`, a `:[p1,p2]` / `:[*]` suffix becomes a port alternative, and the regex is
//!   **unanchored** (substring match);
//! - requested headers are split on `,` **without trimming** (`a, b` asks for `" b"`, which matches no
//!   configured name) and compared case-insensitively; `*` echoes the request's list;
//! - a disallowed origin, method or (pre-flight only) header ⇒ 403 `Invalid CORS request`; a valid
//!   pre-flight ⇒ 200 with no body; both go through the plugin's response step like any response;
//! - the response step runs on **every** response: it removes the upstream's `Access-Control-Allow-Origin`,
//!   `-Allow-Methods`, `-Expose-Headers`, `-Allow-Credentials`, `-Max-Age` (**not** `-Allow-Headers`,
//!   which is appended to) and `X-Cors-Trace`, adds `X-Cors-Version: 1.0.0`, then, for a valid CORS
//!   request, the allowed origin (the request's spelling), methods / headers / max age (pre-flight only),
//!   exposed headers and `Access-Control-Allow-Credentials: true` when enabled.
//!
//! The per-request CORS result is computed again in the response step from the request as it went
//! upstream (Higress keeps it in the stream context); a later plugin's request edits can therefore change it.

use std::fmt::Write as _;

use bytes::Bytes;
use regex::Regex;
use serde_json::Value;

use super::gjson_int;
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView, ResponseEdits, ResponseView};

/// Plugin name.
pub const NAME: &str = "cors";

const MATCH_ALL: &str = "*";
const DEFAULT_ALLOW_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS";
const DEFAULT_ALL_ALLOW_METHODS: &str = "GET, PUT, POST, DELETE, PATCH, OPTIONS, HEAD, TRACE, CONNECT";
const DEFAULT_ALLOW_HEADERS: &str =
    "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Authorization";
const DEFAULT_MAX_AGE: i64 = 86400;
const VERSION: &str = "1.0.0";

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";
const EXPOSE_HEADERS: &str = "access-control-expose-headers";
const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
const MAX_AGE: &str = "access-control-max-age";
const CORS_VERSION: &str = "x-cors-version";
const CORS_TRACE: &str = "x-cors-trace";

/// One `allow_origin_patterns` entry.
#[derive(Debug)]
struct OriginPattern {
    declared: String,
    regex: Regex,
}

impl OriginPattern {
    fn parse(declared: &str) -> Result<Self, regex::Error> {
        let declared = declared.strip_suffix('/').unwrap_or(declared).to_lowercase();
        let ports = Regex::new(r"(.*):\[(\*|\d+(,\d+)*)\]")?;
        let (value, port_list) = match ports.captures(&declared) {
            Some(c) => (c.get(1).map_or("", |m| m.as_str()), c.get(2).map_or("", |m| m.as_str())),
            None => (declared.as_str(), ""),
        };
        let mut pattern = value.split('*').map(regex::escape).collect::<Vec<_>>().join(".*");
        if port_list == MATCH_ALL {
            pattern.push_str(r"(:\d+)?");
        } else if !port_list.is_empty() {
            let _ = write!(pattern, ":({})", port_list.replace(',', "|"));
        }
        Ok(Self { regex: Regex::new(&pattern)?, declared })
    }
}

/// A configured cors plugin.
#[derive(Debug)]
pub struct Cors {
    allow_origins: Vec<String>,
    allow_origin_patterns: Vec<OriginPattern>,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    allow_credentials: bool,
    max_age: i64,
}

/// What the plugin decided about one request.
#[derive(Debug, Default, PartialEq, Eq)]
struct CorsResult {
    valid: bool,
    preflight: bool,
    cors: bool,
    allow_origin: String,
    allow_methods: String,
    allow_headers: String,
    expose_headers: String,
    allow_credentials: bool,
    max_age: i64,
}

impl Cors {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let mut cors = Self {
            allow_origins: Vec::new(),
            allow_origin_patterns: Vec::new(),
            allow_methods: Vec::new(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            allow_credentials: false,
            max_age: 0,
        };
        for origin in gjson_strings(config, "allow_origins") {
            let origin = origin.trim();
            if origin == MATCH_ALL {
                cors.allow_origins = vec![MATCH_ALL.to_string()];
            } else if !origin.is_empty() {
                cors.allow_origins.push(origin.strip_suffix('/').unwrap_or(origin).to_string());
            }
        }
        for (i, pattern) in gjson_strings(config, "allow_origin_patterns").into_iter().enumerate() {
            let pattern = pattern.trim();
            if !pattern.is_empty() {
                let parsed = OriginPattern::parse(pattern)
                    .map_err(|e| ConfigError::new(format!("allow_origin_patterns[{i}]"), e.to_string()))?;
                cors.allow_origin_patterns.push(parsed);
            }
        }
        add_all(&mut cors.allow_methods, gjson_strings(config, "allow_methods"), |m| m.to_uppercase());
        add_all(&mut cors.allow_headers, gjson_strings(config, "allow_headers"), |h| h.to_string());
        add_all(&mut cors.expose_headers, gjson_strings(config, "expose_headers"), |h| h.to_string());
        let credentials = super::gjson_bool(config, "allow_credentials");
        // Go refuses (with a warning only) credentials together with origin `*`.
        if !(credentials && cors.allow_origins.first().is_some_and(|o| o == MATCH_ALL)) {
            cors.allow_credentials = credentials;
        }
        let max_age = gjson_int(config, "max_age");
        cors.max_age = if max_age <= 0 { DEFAULT_MAX_AGE } else { max_age };
        // Defaults, as Go fills them in.
        if cors.allow_origins.is_empty() && cors.allow_origin_patterns.is_empty() && !cors.allow_credentials {
            cors.allow_origins = vec![MATCH_ALL.to_string()];
        }
        if cors.allow_headers.is_empty() {
            cors.allow_headers = vec![DEFAULT_ALLOW_HEADERS.to_string()];
        }
        if cors.allow_methods.is_empty() {
            cors.allow_methods = DEFAULT_ALLOW_METHODS.split('，').map(String::from).collect();
        }
        Ok(cors)
    }

    /// Go's `CorsConfig.Process`.
    fn process(&self, request: &RequestView<'_>) -> CorsResult {
        let scheme = request.scheme.trim().to_lowercase();
        let host = request.authority().trim().to_lowercase();
        let method = request.parts.method.as_str().to_lowercase();
        let mut origin = String::new();
        let mut request_method = String::new();
        let mut request_headers = String::new();
        for (name, value) in &request.parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            match name.as_str() {
                "origin" => {
                    let trimmed = value.trim();
                    origin = trimmed.strip_suffix('/').unwrap_or(trimmed).to_string();
                }
                "access-control-request-method" => request_method = value.trim().to_string(),
                "access-control-request-headers" => request_headers = value.trim().to_string(),
                _ => {}
            }
        }
        let mut result = CorsResult { valid: true, ..CorsResult::default() };
        result.cors = is_cors_request(&scheme, &host, &origin);
        result.preflight = !origin.is_empty() && method == "options" && !request_method.is_empty();
        if !result.cors {
            return result;
        }
        let Some(allow_origin) = self.check_origin(&origin) else {
            result.valid = false;
            return result;
        };
        let checked_method = if result.preflight { request_method.as_str() } else { method.as_str() };
        let Some(allow_methods) = self.check_methods(checked_method) else {
            result.valid = false;
            return result;
        };
        let allow_headers = self.check_headers(&request_headers);
        if result.preflight && allow_headers.is_none() {
            result.valid = false;
            return result;
        }
        result.allow_origin = allow_origin;
        if result.preflight {
            result.allow_methods = allow_methods;
            result.allow_headers = allow_headers.unwrap_or_default();
            result.max_age = self.max_age;
        }
        result.expose_headers = self.expose_headers.join(",");
        result.allow_credentials = self.allow_credentials;
        result
    }

    fn check_origin(&self, origin: &str) -> Option<String> {
        let origin = origin.trim();
        if origin.is_empty() {
            return None;
        }
        let lower = origin.to_lowercase();
        let exact = self.allow_origins.iter().any(|o| o == MATCH_ALL || o.to_lowercase() == lower);
        let pattern = || self.allow_origin_patterns.iter().any(|p| p.declared == MATCH_ALL || p.regex.is_match(&lower));
        (exact || pattern()).then(|| origin.to_string())
    }

    fn check_methods(&self, method: &str) -> Option<String> {
        if method.is_empty() {
            return None;
        }
        for allowed in &self.allow_methods {
            if allowed == MATCH_ALL {
                return Some(DEFAULT_ALL_ALLOW_METHODS.to_string());
            }
            if allowed.to_lowercase() == method.to_lowercase() {
                return Some(self.allow_methods.join(","));
            }
        }
        None
    }

    fn check_headers(&self, requested: &str) -> Option<String> {
        let first = self.allow_headers.first()?;
        if requested.is_empty() {
            return Some(self.allow_headers.join(","));
        }
        if first == MATCH_ALL {
            return Some(requested.to_string());
        }
        let allowed = |h: &str| self.allow_headers.iter().any(|a| a.to_lowercase() == h.to_lowercase());
        requested.split(',').all(allowed).then(|| self.allow_headers.join(","))
    }
}

/// Adds trimmed, non-empty `items` to `list`; `*` replaces the list.
fn add_all(list: &mut Vec<String>, items: Vec<String>, normalize: impl Fn(&str) -> String) {
    for item in items {
        let item = item.trim();
        if item == MATCH_ALL {
            *list = vec![MATCH_ALL.to_string()];
        } else if !item.is_empty() {
            list.push(normalize(item));
        }
    }
}

/// gjson `Get(field).Array()` with `.String()` on each item.
fn gjson_strings(config: &Value, field: &str) -> Vec<String> {
    let string = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match config.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(string).collect(),
        Some(other) => vec![string(other)],
    }
}


/// Go's `isCorsRequest`: the origin parses and differs from the request in scheme, host or port.
fn is_cors_request(scheme: &str, host: &str, origin: &str) -> bool {
    if origin.is_empty() {
        return false;
    }
    let Some((origin_scheme, origin_host)) = go_url_scheme_host(origin.trim()) else { return false };
    if scheme.to_lowercase() != origin_scheme.to_lowercase() {
        return true;
    }
    host_and_port(scheme, host) != host_and_port(&origin_scheme, &origin_host)
}

/// Go's `getHostAndPort` (split on every `:`, so IPv6 literals come apart exactly as in Go).
fn host_and_port(scheme: &str, host: &str) -> (String, String) {
    let scheme = scheme.to_lowercase();
    let host = host.to_lowercase();
    let parts: Vec<&str> = host.split(':').collect();
    let (host, mut port) = if parts.len() > 1 { (parts[0].to_string(), parts[1].to_string()) } else { (host.clone(), String::new()) };
    if port.is_empty() && scheme == "http" {
        port = "80".into();
    }
    if port.is_empty() && scheme == "https" {
        port = "443".into();
    }
    (host, port)
}

/// The scheme (lower case) and host (with port) Go's `url.Parse` finds in `raw`; `None` when it fails.
fn go_url_scheme_host(raw: &str) -> Option<(String, String)> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (scheme, rest) = go_scheme(raw)?;
    let rest = match rest.strip_suffix('?') {
        Some(r) if !r.contains('?') => r,
        _ => rest.split_once('?').map_or(rest, |(r, _)| r),
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return Some((scheme, String::new())); // opaque
        }
        let segment = rest.split('/').next().unwrap_or("");
        return (!segment.contains(':')).then(|| (scheme, String::new()));
    }
    let Some(after) = rest.strip_prefix("//") else { return Some((scheme, String::new())) };
    let authority = after.split('/').next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    go_valid_host(host).then(|| (scheme, host.to_string()))
}

fn go_scheme(raw: &str) -> Option<(String, &str)> {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return None,
            ':' => return Some((raw[..i].to_lowercase(), &raw[i + 1..])),
            _ => return Some((String::new(), raw)),
        }
    }
    Some((String::new(), raw))
}

fn go_valid_host(host: &str) -> bool {
    let valid_port = |port: &str| port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let name = if let Some(v6) = host.strip_prefix('[') {
        return v6.split_once(']').is_some_and(|(_, port)| valid_port(port));
    } else if let Some(i) = host.rfind(':') {
        if !valid_port(&host[i..]) {
            return false;
        }
        &host[..i]
    } else {
        host
    };
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !hex(i + 1) || !hex(i + 2) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b >= 0x80
            || b.is_ascii_alphanumeric()
            || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    true
}

impl Plugin for Cors {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        let result = self.process(request);
        if !result.valid {
            return Decision::Respond(DirectResponse {
                status: 403,
                headers: response_headers(&result),
                body: Bytes::from_static(b"Invalid CORS request"),
            });
        }
        if result.preflight {
            return Decision::Respond(DirectResponse { status: 200, headers: response_headers(&result), body: Bytes::new() });
        }
        Decision::Continue
    }

    fn on_response_headers(&self, request: &RequestView<'_>, _response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        let result = self.process(request);
        edits.headers.remove.extend(
            [CORS_TRACE, ALLOW_ORIGIN, ALLOW_METHODS, EXPOSE_HEADERS, ALLOW_CREDENTIALS, MAX_AGE].map(String::from),
        );
        edits.headers.add.extend(response_headers(&result));
    }
}

/// The headers the response step adds for `result` (its removals aside).
fn response_headers(result: &CorsResult) -> Vec<(String, String)> {
    let mut headers = vec![(CORS_VERSION.to_string(), VERSION.to_string())];
    if !result.valid || !result.cors {
        return headers;
    }
    let mut add = |name: &str, value: &str| {
        if !value.is_empty() {
            headers.push((name.to_string(), value.to_string()));
        }
    };
    add(ALLOW_ORIGIN, &result.allow_origin);
    add(ALLOW_METHODS, &result.allow_methods);
    add(ALLOW_HEADERS, &result.allow_headers);
    add(EXPOSE_HEADERS, &result.expose_headers);
    if result.allow_credentials {
        add(ALLOW_CREDENTIALS, "true");
    }
    if result.max_age > 0 {
        add(MAX_AGE, &result.max_age.to_string());
    }
    headers
}

#[cfg(test)]
mod tests;
