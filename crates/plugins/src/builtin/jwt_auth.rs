//! `jwt-auth`: authenticate a request by the JWT of one of the configured consumers, optionally restrict
//! a route or domain to an `allow` list of consumers, and tell the upstream who it is
//! (`X-Mse-Consumer`). Semantics of Higress's Go plugin (`plugins/wasm-go/extensions/jwt-auth`,
//! go-jose v3.0.3), quirks included.
//!
//! Configuration (global): `consumers` (required list; each `name`, `jwks` (a JSON Web Key Set as a
//! string), `issuer`, `claims_to_headers` (`claim`, `header`, `override` = true), `from_headers`
//! (`name`, `value_prefix`), `from_params`, `from_cookies`, `clock_skew_seconds` = 60, `keep_token` =
//! true). With none of `from_headers`/`from_params`/`from_cookies` set, a consumer reads
//! `Authorization: Bearer <token>` then `?access_token=`. A consumer that does not parse (wrong types,
//! invalid `jwks`, repeated `name`, repeated `claims_to_headers[].header`) is skipped; at least one
//! must remain. Consumer members are matched case-insensitively (Go `encoding/json`).
//! Rule configurations: `allow` (required, non-empty); they use the global `consumers` (wasm-go
//! `ParseOverrideConfigBy`; the translator builds them with [`rule_config`]).
//!
//! Per request, consumers are tried in order: extract the token (module `extract`), verify it (module
//! `jws`: signature with the JWK whose `kid` matches, else the first key; then `iss` must equal
//! `issuer`; then `nbf`/`exp`/`iat` with `clock_skew_seconds` of leeway), copy `claims_to_headers`.
//! Outcome:
//! - **global configuration, no rule anywhere**: the first consumer that verifies is authenticated;
//!   otherwise 403 "JWT token not allow.";
//! - **global configuration while the plugin has rules** (a route or domain without a rule): the
//!   request passes untouched;
//! - **rule**: the first verified consumer in `allow` is authenticated; a verified consumer not in
//!   `allow` is remembered as unauthorized and the search goes on. When nobody is authenticated and
//!   `allow` has exactly one name: 403 "Unauthorized consumer." if some consumer verified, else that
//!   consumer's own failure (401 missing / expired / verification fails); otherwise 403 "JWT token not
//!   allow.".
//!
//! Authenticated: `X-Mse-Consumer: <name>` is **appended** (a client-sent value is not removed).
//! Denials carry `WWW-Authenticate: JWT realm=MSE Gateway`; 401 bodies: "Request denied by JWT Auth
//! check. JWT is missing." / "… JWT is expired." (also for `nbf`/`iat` in the future) / "… JWT
//! verification fails"; 403: "… Unauthorized consumer." / "… JWT token not allow.".
//!
//! Higress quirks kept: `global_auth` is documented but never read by the Go code, so it has no effect
//! (the behaviour is always the "not set" one above); `claims_to_headers` of a consumer that verifies
//! but is not allowed are still applied (visible if a later consumer is authenticated); claim values are
//! formatted like Go's `fmt.Sprint` (`exp` → `2.0196864e+09`); `keep_token: false` never removes a
//! query parameter; edits by one consumer's extraction are seen by the next consumers.
//!
//! Deliberate differences (where the Go plugin panics and its SDK recovers by letting the request
//! through unauthenticated): a key set without any key, an unparsable `:path` (query extraction), and a
//! cookie without `=` are treated as a verification failure, no query token and an empty cookie.

mod extract;
mod gojson;
mod jwk;
mod jws;

use std::time::SystemTime;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use bytes::Bytes;
use serde_json::Value;

use self::extract::WorkingRequest;
use self::gojson::Json;
use self::jwk::Jwk;
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "jwt-auth";

/// Marks a configuration the translator built for a rule ([`rule_config`]).
pub const RULE_KEY: &str = "_oxigress_rule_";

/// Marks a global configuration whose plugin also has rules ([`global_config`]).
pub const HAS_RULES_KEY: &str = "_oxigress_has_rules_";

/// A configured jwt-auth instance (global or rule).
#[derive(Debug)]
pub struct JwtAuth {
    consumers: Vec<Consumer>,
    scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The global configuration; `has_rules`: the plugin has rules (Higress's `RuleSet`).
    Global { has_rules: bool },
    /// A rule with its `allow` list.
    Rule { allow: Vec<String> },
}

/// One consumer, defaults applied.
#[derive(Debug)]
pub(crate) struct Consumer {
    name: String,
    keys: Vec<Jwk>,
    issuer: String,
    claims_to_headers: Vec<ClaimToHeader>,
    from_headers: Vec<FromHeader>,
    from_params: Vec<String>,
    from_cookies: Vec<String>,
    clock_skew_seconds: i64,
    keep_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ClaimToHeader {
    claim: String,
    header: String,
    overwrite: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FromHeader {
    name: String,
    value_prefix: String,
}

/// Why a consumer did not authenticate the request, or why the request is denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denial {
    Missing,
    Expired,
    VerificationFails,
    UnauthorizedConsumer,
    NotAllowed,
}

impl Denial {
    fn response(self) -> DirectResponse {
        let (status, body) = match self {
            Denial::Missing => (401, "Request denied by JWT Auth check. JWT is missing."),
            Denial::Expired => (401, "Request denied by JWT Auth check. JWT is expired."),
            Denial::VerificationFails => (401, "Request denied by JWT Auth check. JWT verification fails"),
            Denial::UnauthorizedConsumer => (403, "Request denied by JWT Auth check. Unauthorized consumer."),
            Denial::NotAllowed => (403, "Request denied by JWT Auth check. JWT token not allow."),
        };
        DirectResponse {
            status,
            headers: vec![("WWW-Authenticate".into(), "JWT realm=MSE Gateway".into())],
            body: Bytes::from_static(body.as_bytes()),
        }
    }
}

/// The configuration a rule instance is built from: the global `consumers` (wasm-go passes the parsed
/// global configuration to `ParseRuleConfig`, which reads nothing but `allow` from the rule), the rule's
/// `allow`, and [`RULE_KEY`]. A rule that is not an object is returned as is (and rejected).
pub fn rule_config(global: Option<&Value>, rule: &Value) -> Value {
    let Value::Object(rule_map) = rule else { return rule.clone() };
    let mut out = serde_json::Map::new();
    if let Some(consumers) = global.and_then(|g| g.get("consumers")) {
        out.insert("consumers".into(), consumers.clone());
    }
    if let Some(allow) = rule_map.get("allow") {
        out.insert("allow".into(), allow.clone());
    }
    out.insert(RULE_KEY.into(), Value::Bool(true));
    Value::Object(out)
}

/// The configuration the global instance is built from: with rules, marked with [`HAS_RULES_KEY`]
/// (Higress's global `RuleSet` flag: the global configuration then lets requests pass).
pub fn global_config(global: Value, has_rules: bool) -> Value {
    match global {
        Value::Object(mut map) if has_rules => {
            map.insert(HAS_RULES_KEY.into(), Value::Bool(true));
            Value::Object(map)
        }
        other => other,
    }
}

impl JwtAuth {
    /// Parses the plugin configuration (global, or a rule built by [`rule_config`]).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let is_rule = config.get(RULE_KEY).is_some_and(|v| v == &Value::Bool(true));
        if is_rule {
            let allow = match config.get("allow") {
                None => return Err(ConfigError::new("allow", "allow is required")),
                Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items.iter().map(gjson_text).collect(),
                Some(other) => vec![gjson_text(other)],
            };
            if allow.is_empty() {
                return Err(ConfigError::new("allow", "allow cannot be empty"));
            }
            // The global consumers as Higress parsed them: the valid ones (none if it failed).
            let consumers = match config.get("consumers") {
                Some(Value::Array(items)) => parse_consumers(items).0,
                _ => Vec::new(),
            };
            return Ok(Self { consumers, scope: Scope::Rule { allow } });
        }
        let Some(Value::Array(items)) = config.get("consumers") else {
            return Err(ConfigError::new("consumers", "failed to parse configuration for consumers: consumers is not a array"));
        };
        let (consumers, skipped) = parse_consumers(items);
        if consumers.is_empty() {
            let reasons = if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) };
            return Err(ConfigError::new("consumers", format!("at least one consumer should be configured for a rule{reasons}")));
        }
        let has_rules = config.get(HAS_RULES_KEY).is_some_and(|v| v == &Value::Bool(true));
        Ok(Self { consumers, scope: Scope::Global { has_rules } })
    }

    /// The request decision at time `now`.
    fn check(&self, request: &RequestView<'_>, edits: &mut RequestEdits, now: SystemTime) -> Decision {
        let allow: &[String] = match &self.scope {
            Scope::Global { has_rules: true } => return Decision::Continue,
            Scope::Global { has_rules: false } => &[],
            Scope::Rule { allow } => allow,
        };
        let mut working = WorkingRequest::new(request.parts);
        let mut failures: Vec<(&str, Denial)> = Vec::new();
        let mut unauthorized = false;
        for consumer in &self.consumers {
            if let Err(denial) = consumer.verify(&mut working, now) {
                failures.push((&consumer.name, denial));
                continue;
            }
            if matches!(self.scope, Scope::Global { .. }) || allow.contains(&consumer.name) {
                working.add("X-Mse-Consumer", &consumer.name);
                working.into_edits(&mut edits.headers);
                return Decision::Continue;
            }
            failures.push((&consumer.name, Denial::UnauthorizedConsumer));
            unauthorized = true;
        }
        let denial = match allow {
            [_] if unauthorized => Denial::UnauthorizedConsumer,
            [only] => failures.iter().find(|(name, _)| name == only).map_or(Denial::NotAllowed, |(_, d)| *d),
            _ => Denial::NotAllowed,
        };
        Decision::Respond(denial.response())
    }
}

impl Consumer {
    /// Higress `consumerVerify`.
    fn verify(&self, request: &mut WorkingRequest<'_>, now: SystemTime) -> Result<(), Denial> {
        let token = extract::extract_token(self, request);
        if token.is_empty() {
            return Err(Denial::Missing);
        }
        let jws = jws::Jws::parse(&token).map_err(|_| Denial::VerificationFails)?;
        let kid = jws.kid();
        // The key named by `kid`, else the first key (Higress indexes `Keys[0]` and panics on an empty set).
        let key = self.keys.iter().find(|k| k.kid == kid).or(self.keys.first()).ok_or(Denial::VerificationFails)?;
        let payload = jws.verify(&key.key).map_err(|_| Denial::VerificationFails)?;
        let (claims, raw) = jws::parse_claims(payload).map_err(|_| Denial::VerificationFails)?;
        if claims.issuer != self.issuer {
            return Err(Denial::VerificationFails);
        }
        if !times_valid(&claims, now, self.clock_skew_seconds) {
            return Err(Denial::Expired);
        }
        for c in &self.claims_to_headers {
            if let Some(value) = raw.member(&c.claim) {
                let value = value.go_sprint();
                if c.overwrite {
                    request.replace(&c.header, &value);
                } else {
                    request.add(&c.header, &value);
                }
            }
        }
        Ok(())
    }
}

/// go-jose `Claims.ValidateWithLeeway` time checks (`nbf`, `exp`, `iat`), in nanoseconds like Go's
/// `time.Time` (the leeway `Duration` wraps like Go's on overflow).
fn times_valid(claims: &jws::Claims, now: SystemTime, skew_seconds: i64) -> bool {
    let now_ns: i128 = match now.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    let leeway = i128::from(skew_seconds.wrapping_mul(1_000_000_000));
    let at = |seconds: i64| i128::from(seconds) * 1_000_000_000;
    if claims.not_before.is_some_and(|nbf| now_ns + leeway < at(nbf)) {
        return false;
    }
    if claims.expiry.is_some_and(|exp| now_ns - leeway > at(exp)) {
        return false;
    }
    claims.issued_at.is_none_or(|iat| now_ns + leeway >= at(iat))
}

/// gjson's `.String()` of an `allow` item.
fn gjson_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Higress `ParseGlobalConfig`'s loop: the consumers that parse, and why the others were skipped.
fn parse_consumers(items: &[Value]) -> (Vec<Consumer>, Vec<String>) {
    let mut consumers: Vec<Consumer> = Vec::new();
    let mut skipped = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_consumer(&Json::from(item), &consumers) {
            Ok(consumer) => consumers.push(consumer),
            Err(e) => skipped.push(format!("consumers[{i}]: {e}")),
        }
    }
    (consumers, skipped)
}

/// Higress `ParseConsumer`: `encoding/json` into the consumer struct, then the checks and defaults.
fn parse_consumer(json: &Json, accepted: &[Consumer]) -> Result<Consumer, String> {
    let object = match json {
        Json::Object(_) | Json::Null => json,
        other => return Err(format!("failed to parse consumer: cannot unmarshal {} into a consumer", other.kind())),
    };
    let text = |value: Option<&Json>, name: &str| -> Result<String, String> {
        match value {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("failed to parse consumer: {name}: cannot unmarshal {} into a string", other.kind())),
        }
    };
    let flag = |value: Option<&Json>, name: &str| -> Result<Option<bool>, String> {
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("failed to parse consumer: {name}: cannot unmarshal {} into a bool", other.kind())),
        }
    };
    // A list (`null` = not set); `item` reads one element.
    fn list<T>(value: Option<&Json>, name: &str, item: impl Fn(&Json) -> Result<T, String>) -> Result<Option<Vec<T>>, String> {
        match value {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Array(items)) => items.iter().map(&item).collect::<Result<Vec<_>, _>>().map(Some),
            Some(other) => Err(format!("failed to parse consumer: {name}: cannot unmarshal {} into a list", other.kind())),
        }
    }
    let field = |name: &str| object.member_folded(name);
    let name = text(field("name"), "name")?;
    let jwks = text(field("jwks"), "jwks")?;
    let issuer = text(field("issuer"), "issuer")?;
    let object_item = |item: &Json, what: &str| -> Result<(), String> {
        match item {
            Json::Object(_) | Json::Null => Ok(()),
            other => Err(format!("failed to parse consumer: {what}: cannot unmarshal {} into an object", other.kind())),
        }
    };
    let claims_to_headers = list(field("claims_to_headers"), "claims_to_headers", |item| {
        object_item(item, "claims_to_headers")?;
        Ok(ClaimToHeader {
            claim: text(item.member_folded("claim"), "claims_to_headers.claim")?,
            header: text(item.member_folded("header"), "claims_to_headers.header")?,
            overwrite: flag(item.member_folded("override"), "claims_to_headers.override")?.unwrap_or(true),
        })
    })?;
    let from_headers = list(field("from_headers"), "from_headers", |item| {
        object_item(item, "from_headers")?;
        Ok(FromHeader {
            name: text(item.member_folded("name"), "from_headers.name")?,
            value_prefix: text(item.member_folded("value_prefix"), "from_headers.value_prefix")?,
        })
    })?;
    let from_params = list(field("from_params"), "from_params", |item| text(Some(item), "from_params"))?;
    let from_cookies = list(field("from_cookies"), "from_cookies", |item| text(Some(item), "from_cookies"))?;
    let clock_skew_seconds = match field("clock_skew_seconds") {
        None | Some(Json::Null) => None,
        // A whole number that fits an int64 (configurations pass through protobuf doubles).
        Some(Json::Number(n)) if n.fract() == 0.0 && *n >= -9.223_372_036_854_776e18 && *n < 9.223_372_036_854_776e18 => {
            Some(*n as i64)
        }
        Some(other) => {
            return Err(format!("failed to parse consumer: clock_skew_seconds: cannot unmarshal {} into an int64", other.kind()))
        }
    };
    let keep_token = flag(field("keep_token"), "keep_token")?;

    if accepted.iter().any(|c| c.name == name) {
        return Err(format!("consumer already exists: {name}"));
    }
    let keys = jwk::parse_key_set(&jwks).map_err(|e| format!("jwks is invalid, consumer:{name}, status:{e}"))?;
    let (from_headers, from_params, from_cookies) = if from_headers.is_none() && from_params.is_none() && from_cookies.is_none() {
        (vec![FromHeader { name: "Authorization".into(), value_prefix: "Bearer ".into() }], vec!["access_token".into()], Vec::new())
    } else {
        (from_headers.unwrap_or_default(), from_params.unwrap_or_default(), from_cookies.unwrap_or_default())
    };
    let claims_to_headers = claims_to_headers.unwrap_or_default();
    for (i, c) in claims_to_headers.iter().enumerate() {
        if claims_to_headers[..i].iter().any(|earlier| earlier.header == c.header) {
            return Err(format!("claim to header already exists: {}", c.header));
        }
    }
    Ok(Consumer {
        name,
        keys,
        issuer,
        claims_to_headers,
        from_headers,
        from_params,
        from_cookies,
        clock_skew_seconds: clock_skew_seconds.unwrap_or(60),
        keep_token: keep_token.unwrap_or(true),
    })
}

/// Go's `base64.RawURLEncoding` after trimming trailing `=` (go-jose `base64URLDecode`); non-zero
/// trailing bits are accepted, as by Go's non-strict decoder.
pub(crate) fn b64url_decode(text: &str) -> Result<Vec<u8>, String> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone).with_decode_allow_trailing_bits(true),
    );
    ENGINE.decode(text.trim_end_matches('=')).map_err(|e| e.to_string())
}

/// Go's `base64.StdEncoding` (padding required, trailing bits accepted).
pub(crate) fn b64std_decode(text: &str) -> Result<Vec<u8>, String> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical).with_decode_allow_trailing_bits(true),
    );
    ENGINE.decode(text).map_err(|e| e.to_string())
}

/// `base64.RawURLEncoding.EncodeToString`.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Plugin for JwtAuth {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        self.check(request, edits, SystemTime::now())
    }
}

#[cfg(test)]
mod tests;
