//! `request-block`: answer `blocked_code` (403) with `blocked_message` when the URL, the headers or the
//! body contain a blocked pattern. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/request-block/main.go`), quirks included:
//! - `case_sensitive` defaults to **false**: the path, headers, body **and the patterns** (regex sources
//!   too) are lower-cased;
//! - URL checks (exact, then substring, then unanchored regex, on path + query) run **only when
//!   `block_urls` is non-empty**;
//! - headers are matched as `name\nvalue` pairs (pseudo-headers first) joined by `\n`;
//! - `blocked_code` is used only when 100 < code < 600;
//! - at least one of `block_urls`, `block_headers`, `block_bodies` is required.

use bytes::Bytes;
use regex::Regex;
use serde_json::Value;

use super::{gjson_bool, gjson_int, gjson_string, string_list};
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "request-block";

/// A configured request-block.
#[derive(Debug)]
pub struct RequestBlock {
    blocked_code: u16,
    blocked_message: Bytes,
    case_sensitive: bool,
    urls: Vec<String>,
    exact_urls: Vec<String>,
    regexp_urls: Vec<Regex>,
    headers: Vec<String>,
    bodies: Vec<String>,
}

impl RequestBlock {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let case_sensitive = gjson_bool(config, "case_sensitive");
        let fold = |list: Vec<String>| -> Vec<String> {
            list.into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| if case_sensitive { s } else { s.to_lowercase() })
                .collect()
        };
        let code = gjson_int(config, "blocked_code");
        let blocked_code = if code > 100 && code < 600 { u16::try_from(code).unwrap_or(403) } else { 403 };
        let mut regexp_urls = Vec::new();
        for (i, source) in fold(string_list(config, "block_regexp_urls")?).into_iter().enumerate() {
            let regex = Regex::new(&source)
                .map_err(|e| ConfigError::new(format!("block_regexp_urls[{i}]"), format!("invalid regex: {e}")))?;
            regexp_urls.push(regex);
        }
        let plugin = Self {
            blocked_code,
            blocked_message: Bytes::from(gjson_string(config, "blocked_message")),
            case_sensitive,
            urls: fold(string_list(config, "block_urls")?),
            exact_urls: fold(string_list(config, "block_exact_urls")?),
            regexp_urls,
            headers: fold(string_list(config, "block_headers")?),
            bodies: fold(string_list(config, "block_bodies")?),
        };
        if plugin.urls.is_empty() && plugin.headers.is_empty() && plugin.bodies.is_empty() {
            return Err(ConfigError::new("", "there is no block rules (block_urls, block_headers or block_bodies)"));
        }
        Ok(plugin)
    }

    fn block(&self) -> Decision {
        Decision::Respond(DirectResponse {
            status: self.blocked_code,
            headers: Vec::new(),
            body: self.blocked_message.clone(),
        })
    }

    fn folded<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.case_sensitive {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(text.to_lowercase())
        }
    }
}

impl Plugin for RequestBlock {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        if !self.urls.is_empty() {
            let uri = &request.parts.uri;
            let path = uri.path_and_query().map_or_else(|| uri.path(), |p| p.as_str());
            let url = self.folded(path);
            if self.exact_urls.iter().any(|u| *url == **u)
                || self.urls.iter().any(|u| url.contains(u.as_str()))
                || self.regexp_urls.iter().any(|r| r.is_match(&url))
            {
                return self.block();
            }
        }
        if !self.headers.is_empty() {
            let text = header_pairs(request);
            let text = self.folded(&text);
            if self.headers.iter().any(|h| text.contains(h.as_str())) {
                return self.block();
            }
        }
        Decision::Continue
    }

    fn needs_request_body(&self) -> bool {
        !self.bodies.is_empty()
    }

    fn on_request_body(&self, _request: &RequestView<'_>, body: &[u8], _edits: &mut RequestEdits) -> Decision {
        let text = String::from_utf8_lossy(body);
        let text = self.folded(&text);
        if self.bodies.iter().any(|b| text.contains(b.as_str())) {
            return self.block();
        }
        Decision::Continue
    }
}

/// The request headers as Envoy hands them to a Wasm plugin: pseudo-headers first, `name\nvalue` pairs
/// joined by `\n`.
fn header_pairs(request: &RequestView<'_>) -> String {
    let parts = request.parts;
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str());
    let mut pairs = vec![
        format!(":authority\n{}", request.host),
        format!(":path\n{path}"),
        format!(":method\n{}", parts.method),
        format!(":scheme\n{}", request.scheme),
    ];
    for (name, value) in &parts.headers {
        pairs.push(format!("{}\n{}", name, String::from_utf8_lossy(value.as_bytes())));
    }
    pairs.join("\n")
}

#[cfg(test)]
mod tests;
