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

use std::borrow::Cow;

use bytes::Bytes;
use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};
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
    /// `block_urls`, matched anywhere in the path and query in one pass.
    urls: Option<AhoCorasick>,
    exact_urls: Vec<String>,
    regexp_urls: RegexSet,
    /// `block_headers`, matched anywhere in the header text.
    headers: Option<AhoCorasick>,
    /// `block_bodies`, matched anywhere in the body.
    bodies: Option<AhoCorasick>,
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
        let regex_sources = fold(string_list(config, "block_regexp_urls")?);
        for (i, source) in regex_sources.iter().enumerate() {
            Regex::new(source)
                .map_err(|e| ConfigError::new(format!("block_regexp_urls[{i}]"), format!("invalid regex: {e}")))?;
        }
        let regexp_urls = RegexSet::new(&regex_sources)
            .map_err(|e| ConfigError::new("block_regexp_urls", format!("invalid regex: {e}")))?;
        let plugin = Self {
            blocked_code,
            blocked_message: Bytes::from(gjson_string(config, "blocked_message")),
            case_sensitive,
            urls: substrings("block_urls", fold(string_list(config, "block_urls")?))?,
            exact_urls: fold(string_list(config, "block_exact_urls")?),
            regexp_urls,
            headers: substrings("block_headers", fold(string_list(config, "block_headers")?))?,
            bodies: substrings("block_bodies", fold(string_list(config, "block_bodies")?))?,
        };
        if plugin.urls.is_none() && plugin.headers.is_none() && plugin.bodies.is_none() {
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

    /// `text` as the patterns see it: lower-cased unless `case_sensitive` — without a copy when it has no
    /// upper-case letter (the common case for paths).
    fn folded<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.case_sensitive || (text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase())) {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(text.to_lowercase())
        }
    }
}

impl Plugin for RequestBlock {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        if let Some(urls) = &self.urls {
            let uri = &request.parts.uri;
            let path = uri.path_and_query().map_or_else(|| uri.path(), |p| p.as_str());
            let url = self.folded(path);
            if self.exact_urls.iter().any(|u| *url == **u) || urls.is_match(url.as_ref()) || self.regexp_urls.is_match(&url)
            {
                return self.block();
            }
        }
        if let Some(headers) = &self.headers {
            let mut text = header_pairs(request);
            if !self.case_sensitive {
                if text.is_ascii() {
                    text.make_ascii_lowercase();
                } else {
                    text = text.to_lowercase();
                }
            }
            if headers.is_match(&text) {
                return self.block();
            }
        }
        Decision::Continue
    }

    fn needs_request_body(&self) -> bool {
        self.bodies.is_some()
    }

    fn on_request_body(&self, _request: &RequestView<'_>, body: &[u8], _edits: &mut RequestEdits) -> Decision {
        let text = String::from_utf8_lossy(body);
        let text = self.folded(&text);
        if self.bodies.as_ref().is_some_and(|bodies| bodies.is_match(text.as_ref())) {
            return self.block();
        }
        Decision::Continue
    }
}

/// One automaton finding any of `patterns` (non-empty) anywhere in a text; `None` when there are none.
fn substrings(field: &str, patterns: Vec<String>) -> Result<Option<AhoCorasick>, ConfigError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    AhoCorasick::new(&patterns).map(Some).map_err(|e| ConfigError::new(field, e.to_string()))
}

/// The request headers as Envoy hands them to a Wasm plugin: pseudo-headers first, `name\nvalue` pairs
/// joined by `\n` — built in one allocation.
fn header_pairs(request: &RequestView<'_>) -> String {
    let parts = request.parts;
    let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str());
    let method = parts.method.as_str();
    let pseudo = [(":authority", request.host), (":path", path), (":method", method), (":scheme", request.scheme)];
    let size = pseudo.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>()
        + parts.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 2).sum::<usize>();
    let mut text = String::with_capacity(size);
    let mut pair = |name: &str, value: &str| {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(name);
        text.push('\n');
        text.push_str(value);
    };
    for (name, value) in pseudo {
        pair(name, value);
    }
    for (name, value) in &parts.headers {
        match std::str::from_utf8(value.as_bytes()) {
            Ok(value) => pair(name.as_str(), value),
            Err(_) => pair(name.as_str(), &String::from_utf8_lossy(value.as_bytes())),
        }
    }
    text
}

#[cfg(test)]
mod tests;
