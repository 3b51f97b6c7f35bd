//! `key-auth`: authenticate a request by an API key from a header or the query string; the consumer
//! owning the key is passed to the upstream as `X-Mse-Consumer`. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/key-auth/main.go`):
//! - global configuration: `keys` (required, non-empty: header or query parameter names), `in_header` /
//!   `in_query` (at least one must be present; gjson booleans), `consumers` (required, non-empty:
//!   `{name, credential}`, both non-empty, credentials unique), `global_auth` (optional);
//!   rule configuration: `allow` (required, non-empty), see [`super::consumer_auth`] for the scope rules;
//! - keys are read from the headers when `in_header` is true (first value of each named header, empty
//!   values skipped), **otherwise** from the query when `in_query` is true (every value of each named
//!   parameter, Go `url.Query()` decoding: `+` is a space, `?k` and `?k=` give an empty key, pairs with `;`
//!   or a bad `%` escape are skipped); never both;
//! - more than one key found (two key names, or one repeated) ⇒ 401
//!   `Request denied by Key Auth check. Multi Key Authentication information found.`;
//!   none ⇒ 401 `Request denied by Key Auth check. No Key Authentication information found.`;
//!   unknown key ⇒ 403 `Request denied by Key Auth check. Unauthorized consumer.`; consumer not in the
//!   rule's `allow` ⇒ the same 403; every denial carries `WWW-Authenticate: Key realm=MSE Gateway`.
//!
//! oxigress differences: `X-Mse-Consumer` **replaces** a client-sent header (Higress appends, so the
//! upstream would see the client's value first); a path Go's `url.Parse` rejects (the Go plugin then
//! panics) still has its query read; consumer names must be valid header values.
//!
//! The C++ plugin (`plugins/wasm-cpp/extensions/key_auth/plugin.cc`, selected by the same URLs here)
//! differs: `in_query`/`in_header` default to true and both are tried (header first) for each key, plus
//! the header `X-HI-ORIGINAL-AUTH`; the first configured key wins (no multi-key error); a missing or
//! unknown key is 401 `Request denied by Key Auth check. Invalid API key`; the 403 says `... Unauthorized
//! consumer` with `WWW-Authenticate: Basic realm=...`; it also accepts `credentials` lists, per-consumer
//! `keys`/`in_query`/`in_header`/`credentials` and `realm`. The Go schema and answers are implemented.

use std::borrow::Cow;
use std::collections::HashMap;

use http::HeaderName;
use serde_json::Value;

use super::consumer_auth::{check_consumer_name, deny, gjson_array, gjson_text, has_none_of, Scope, CONSUMER_HEADER};
use super::{gjson_bool, query_unescape};
use crate::{ConfigError, Decision, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "key-auth";

/// The fields of the global configuration.
const GLOBAL_FIELDS: &[&str] = &["keys", "in_query", "in_header", "consumers", "global_auth"];

/// A configured key-auth.
#[derive(Debug)]
pub struct KeyAuth {
    scope: Scope,
    keys: Vec<String>,
    /// `keys` as header names (`None` for a key no header can have).
    header_names: Vec<Option<HeaderName>>,
    in_header: bool,
    in_query: bool,
    /// Credential → consumer name.
    consumers: HashMap<String, String>,
}

impl KeyAuth {
    /// Parses an effective configuration (see [`super::consumer_auth`]).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let scope = Scope::from_config(config)?;
        if matches!(scope, Scope::Allow(_)) && has_none_of(config, GLOBAL_FIELDS) {
            // A rule without global configuration: Higress copies a zero configuration.
            return Ok(Self {
                scope,
                keys: Vec::new(),
                header_names: Vec::new(),
                in_header: false,
                in_query: false,
                consumers: HashMap::new(),
            });
        }
        let keys = match config.get("keys") {
            None => return Err(ConfigError::new("keys", "keys is required")),
            Some(keys) => gjson_array(keys).into_iter().map(gjson_text).collect::<Vec<_>>(),
        };
        if keys.is_empty() {
            return Err(ConfigError::new("keys", "keys cannot be empty"));
        }
        if config.get("in_query").is_none() && config.get("in_header").is_none() {
            return Err(ConfigError::new("in_query", "one of in_query/in_header is required"));
        }
        let consumers = match config.get("consumers") {
            None => return Err(ConfigError::new("consumers", "consumers is required")),
            Some(consumers) => gjson_array(consumers),
        };
        if consumers.is_empty() {
            return Err(ConfigError::new("consumers", "consumers cannot be empty"));
        }
        let mut by_credential: HashMap<String, String> = HashMap::new();
        for (i, consumer) in consumers.into_iter().enumerate() {
            let name = consumer.get("name").map(gjson_text).unwrap_or_default();
            if name.is_empty() {
                return Err(ConfigError::new(format!("consumers[{i}].name"), "consumer name is required"));
            }
            check_consumer_name(&name, &format!("consumers[{i}].name"))?;
            let credential = consumer.get("credential").map(gjson_text).unwrap_or_default();
            if credential.is_empty() {
                return Err(ConfigError::new(format!("consumers[{i}].credential"), "consumer credential is required"));
            }
            if let Some(other) = by_credential.get(&credential) {
                return Err(ConfigError::new(
                    format!("consumers[{i}].credential"),
                    format!("duplicate consumer credential (also the credential of {other:?})"),
                ));
            }
            by_credential.insert(credential, name);
        }
        Ok(Self {
            scope,
            header_names: keys.iter().map(|k| HeaderName::from_bytes(k.as_bytes()).ok()).collect(),
            keys,
            in_header: gjson_bool(config, "in_header"),
            in_query: gjson_bool(config, "in_query"),
            consumers: by_credential,
        })
    }

    /// The credential the request carries: `Ok(None)` for none, `Err(())` for more than one (Higress
    /// refuses both); headers are looked up by names parsed once, at configuration time.
    fn token<'r>(&self, request: &'r RequestView<'_>) -> Result<Option<Cow<'r, str>>, ()> {
        let mut found: Option<Cow<'r, str>> = None;
        let mut push = |token: Cow<'r, str>| match found {
            Some(_) => Err(()),
            None => {
                found = Some(token);
                Ok(())
            }
        };
        if self.in_header {
            for name in self.header_names.iter().flatten() {
                if let Some(value) = request.parts.headers.get(name) {
                    if !value.is_empty() {
                        push(String::from_utf8_lossy(value.as_bytes()))?;
                    }
                }
            }
        } else if self.in_query {
            let query = request.parts.uri.query().unwrap_or("");
            let query = query.split('#').next().unwrap_or("");
            let pairs = go_query_pairs(query);
            for key in &self.keys {
                for (_, value) in pairs.iter().filter(|(k, _)| k == key) {
                    push(Cow::Owned(value.clone()))?;
                }
            }
        }
        Ok(found)
    }
}

impl Plugin for KeyAuth {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        if self.scope == Scope::Off {
            return Decision::Continue;
        }
        let token = match self.token(request) {
            Ok(Some(token)) => token,
            Ok(None) => {
                return deny(401, "Key", "Request denied by Key Auth check. No Key Authentication information found.")
            }
            Err(()) => {
                return deny(401, "Key", "Request denied by Key Auth check. Multi Key Authentication information found.")
            }
        };
        let unauthorized = || deny(403, "Key", "Request denied by Key Auth check. Unauthorized consumer.");
        let Some(consumer) = self.consumers.get(token.as_ref()) else { return unauthorized() };
        if !self.scope.admits(consumer) {
            return unauthorized();
        }
        edits.headers.set.push((CONSUMER_HEADER.into(), consumer.clone()));
        Decision::Continue
    }
}

/// Go `url.ParseQuery`: `&`-separated pairs, split at the first `=`, query-unescaped; a pair containing
/// `;` or a bad escape is skipped.
fn go_query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((query_unescape(key)?, query_unescape(value)?))
        })
        .collect()
}


#[cfg(test)]
mod tests;
