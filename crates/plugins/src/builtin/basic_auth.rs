//! `basic-auth`: authenticate a request by HTTP Basic credentials; the consumer is passed to the upstream
//! as `X-Mse-Consumer`. Semantics of Higress's Go plugin (`plugins/wasm-go/extensions/basic-auth/main.go`):
//! - global configuration: `consumers` (required, non-empty: `{name, credential}`, both non-empty,
//!   credentials unique, each `user:password` with **exactly one** `:`), `global_auth` (optional); rule
//!   configuration: `allow` (required, non-empty), see [`super::consumer_auth`] for the scope rules;
//! - passwords are kept per user name: with two consumers of one user, the later password wins (the
//!   earlier credential then fails as a wrong password);
//! - `Authorization` missing, empty or not starting with `Basic ` (case-sensitive, one space) ⇒ 401
//!   `Request denied by Basic Auth check. No Basic Authentication information found.`;
//!   not standard base64 (Go `StdEncoding`: padding required, non-zero trailing bits accepted), not
//!   exactly one `:` once decoded, unknown user or wrong password ⇒ 401
//!   `Request denied by Basic Auth check. Invalid username and/or password.`;
//!   consumer not in the rule's `allow` ⇒ 403 `Request denied by Basic Auth check. Unauthorized consumer.`;
//!   every denial carries `WWW-Authenticate: Basic realm=MSE Gateway`.
//!
//! oxigress differences: `X-Mse-Consumer` **replaces** a client-sent header (Higress appends); consumer
//! names must be valid header values.
//!
//! The C++ plugin (`plugins/wasm-cpp/extensions/basic_auth/plugin.cc`, selected by the same URLs here)
//! compares the base64 text after `Basic ` with the encoding of each configured credential (so passwords
//! may contain `:`, and a differently padded encoding fails), also accepts nameless `credentials`,
//! base64-encoded or `encrypted` (crypt) credentials and `realm`, and ends its 401/403 texts without the
//! final period. The Go schema and answers are implemented.

use std::collections::HashMap;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::Value;

use super::consumer_auth::{check_consumer_name, deny, gjson_array, gjson_text, has_none_of, Scope, CONSUMER_HEADER};
use crate::{ConfigError, Decision, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "basic-auth";

/// The fields of the global configuration.
const GLOBAL_FIELDS: &[&str] = &["consumers", "global_auth"];

/// Go's `base64.StdEncoding` when decoding.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A configured basic-auth.
#[derive(Debug)]
pub struct BasicAuth {
    scope: Scope,
    /// User → password (the last consumer of a user wins).
    passwords: HashMap<String, String>,
    /// `user:password` → consumer name.
    consumers: HashMap<String, String>,
}

impl BasicAuth {
    /// Parses an effective configuration (see [`super::consumer_auth`]).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let scope = Scope::from_config(config)?;
        let mut plugin = Self { scope, passwords: HashMap::new(), consumers: HashMap::new() };
        if matches!(plugin.scope, Scope::Allow(_)) && has_none_of(config, GLOBAL_FIELDS) {
            // A rule without global configuration: Higress copies a zero configuration.
            return Ok(plugin);
        }
        let consumers = match config.get("consumers") {
            None => return Err(ConfigError::new("consumers", "consumers is required")),
            Some(consumers) => gjson_array(consumers),
        };
        if consumers.is_empty() {
            return Err(ConfigError::new("consumers", "consumers cannot be empty"));
        }
        for (i, consumer) in consumers.into_iter().enumerate() {
            let name = consumer.get("name").map(gjson_text).unwrap_or_default();
            if name.is_empty() {
                return Err(ConfigError::new(format!("consumers[{i}].name"), "consumer name is required"));
            }
            check_consumer_name(&name, &format!("consumers[{i}].name"))?;
            let field = format!("consumers[{i}].credential");
            let credential = consumer.get("credential").map(gjson_text).unwrap_or_default();
            if credential.is_empty() {
                return Err(ConfigError::new(field, "consumer credential is required"));
            }
            if let Some(other) = plugin.consumers.get(&credential) {
                return Err(ConfigError::new(field, format!("duplicate consumer credential (also the credential of {other:?})")));
            }
            let mut parts = credential.split(':');
            let (Some(user), Some(password), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(ConfigError::new(field, "invalid credential format: must be user:password with exactly one ':'"));
            };
            plugin.passwords.insert(user.to_string(), password.to_string());
            plugin.consumers.insert(credential, name);
        }
        Ok(plugin)
    }
}

impl Plugin for BasicAuth {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        if self.scope == Scope::Off {
            return Decision::Continue;
        }
        let header = request.parts.headers.get(http::header::AUTHORIZATION).map_or(&b""[..], |v| v.as_bytes());
        let Some(encoded) = header.strip_prefix(b"Basic ") else {
            return deny(401, "Basic", "Request denied by Basic Auth check. No Basic Authentication information found.");
        };
        let invalid = || deny(401, "Basic", "Request denied by Basic Auth check. Invalid username and/or password.");
        let Some(credential) = GO_STD_BASE64.decode(encoded).ok().and_then(|d| String::from_utf8(d).ok()) else {
            return invalid();
        };
        let mut parts = credential.split(':');
        let (Some(user), Some(password), None) = (parts.next(), parts.next(), parts.next()) else {
            return invalid();
        };
        if self.passwords.get(user).is_none_or(|expected| expected != password) {
            return invalid();
        }
        let unauthorized = || deny(403, "Basic", "Request denied by Basic Auth check. Unauthorized consumer.");
        let Some(consumer) = self.consumers.get(&credential) else { return unauthorized() };
        if !self.scope.admits(consumer) {
            return unauthorized();
        }
        edits.headers.set.push((CONSUMER_HEADER.into(), consumer.clone()));
        Decision::Continue
    }
}

#[cfg(test)]
mod tests;
