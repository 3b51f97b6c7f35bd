//! `transformer`: rewrite request headers, query parameters and bodies, and response headers and
//! bodies, with `reqRules` / `respRules` of `remove`, `rename`, `replace`, `add`, `append`, `map` and
//! `dedupe` operations. Semantics of Higress's Go plugin (`plugins/wasm-go/extensions/transformer/`,
//! `main.go` and `utils.go`, version 1.0.1-alpha), quirks included:
//! - rules run in list order; within a rule, `headers`, `querys` and `body` entries each in order
//!   (headers first, then query parameters, then the body); header keys are lower-cased (also `newKey`,
//!   `toKey`, and `fromKey` when `mapSource` is `headers`);
//! - the request headers include Envoy's pseudo-headers: `:authority` (the `Host`), `:path` (path and
//!   query), `:method`, `:scheme`; rules may edit `:authority` and `:path`;
//! - `remove` drops a key; `rename` appends the old key's values to the new key and drops the old one
//!   (renaming a key to itself drops it); `replace` sets one value (adding a missing key); `add` only when
//!   the key is missing; `append` adds one value; `map` copies the values of `fromKey` (from the same kind,
//!   or from `mapSource`: `headers`, `querys`, `body`) to `toKey`; `dedupe` with `RETAIN_FIRST`
//!   (default), `RETAIN_LAST`, `RETAIN_UNIQUE`, `SPLIT_AND_RETAIN_FIRST` / `_LAST` (split the first value
//!   on `,`, no trimming);
//! - `replace`, `add`, `append` values may use `$n` of `host_pattern` (matched against the `Host` with its
//!   port) or, when there is none, `path_pattern` (against path and query); Go's `ReplaceAllString` on the
//!   **whole** host or path, so unmatched text stays; no match leaves the value as written; body values
//!   use them only with `value_type: string`;
//! - query parameters are decoded as `url.ParseQuery` does and written back sorted by key, `+` for spaces
//!   (`url.Values.Encode`), only when a query rule exists;
//! - bodies: request `application/json`, `application/x-www-form-urlencoded` and `multipart/form-data`
//!   (form fields only: **file parts are dropped** when the body is rewritten), response
//!   `application/json` only; JSON keys are gjson/sjson paths (`a.b`, `\.` escapes a dot), values typed by
//!   `value_type` (`string` default, `number`, `boolean`, `object`); a value moved inside JSON is
//!   re-encoded the Go way (object keys sorted, numbers via `float64`); `append` turns a scalar into a
//!   list; `dedupe` leaves a single value as a scalar; the result is pretty-printed (`tidwall/pretty`);
//!   `map` from the body reads the body as it arrived;
//! - the body is read only when a body rule exists or a rule maps from the body, and the content type
//!   fits; bodies the SDK treats as binary (`Content-Type` with `octet-stream` or `grpc`, or any
//!   `Content-Encoding`) are never read;
//! - when a request rule maps from the body, the header and query rules wait for the body: an empty or
//!   unparsable body then leaves the whole request unchanged, a binary one too;
//! - a bad transform (invalid JSON, a `value_type` conversion that fails) leaves the body unchanged;
//! - configuration: `reqRules` or `respRules` must be present; `reroute` defaults to true.
//!
//! Differences: Higress silently drops an invalid `operate`, `mapSource` or `value_type` **and every
//! later rule** (an error wrapped around `nil`); here they are configuration errors naming the field, as
//! is an invalid pattern. Response header rules that map from the response body cannot wait for it (the
//! headers leave first): they run on the headers without the body. Response patterns see the request
//! as it went upstream (Higress: as it arrived). With `reroute` (default) the proxy chooses the route
//! again once the whole chain ran (Envoy: right after this plugin); the new route's plugins do not run
//! on the request, only on the response. gjson wildcards, queries and modifiers are
//! not supported in body keys. Patterns use Rust's `regex` (Unicode-aware `\w`, `\d`).

mod form;
mod json;

use bytes::Bytes;
use regex::Regex;
use serde_json::Value;

use form::Kvs;
use json::Json;

use crate::{ConfigError, Decision, Plugin, RequestEdits, RequestView, ResponseEdits, ResponseView};

/// Plugin name.
pub const NAME: &str = "transformer";

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// What a rule entry works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Headers,
    Querys,
    Body,
}

impl Target {
    fn field(self) -> &'static str {
        match self {
            Target::Headers => "headers",
            Target::Querys => "querys",
            Target::Body => "body",
        }
    }
}

/// `value_type` of a body entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    Object,
    Boolean,
    Number,
    String,
}

/// `host_pattern` or (without it) `path_pattern`.
#[derive(Debug)]
enum Pattern {
    Host(Regex),
    Path(Regex),
}

impl Pattern {
    fn apply(pattern: Option<&Pattern>, value: &str, host: &str, path: &str) -> String {
        match pattern {
            Some(Pattern::Host(r)) if r.is_match(host) => r.replace_all(host, value).into_owned(),
            Some(Pattern::Path(r)) if r.is_match(path) => r.replace_all(path, value).into_owned(),
            _ => value.to_string(),
        }
    }
}

/// The value of a `replace`, `add` or `append` entry.
#[derive(Debug)]
struct NewValue {
    key: String,
    value: String,
    kind: ValueType,
    pattern: Option<Pattern>,
}

impl NewValue {
    /// The text to use (after the pattern; for the body only with `value_type: string`).
    fn text(&self, target: Target, host: &str, path: &str) -> String {
        if target == Target::Body && self.kind != ValueType::String {
            return self.value.clone();
        }
        Pattern::apply(self.pattern.as_ref(), &self.value, host, path)
    }
}

/// One entry of a rule, for one target.
#[derive(Debug)]
enum Op {
    Remove(String),
    Rename { old: String, new: String },
    Replace(NewValue),
    Add(NewValue),
    Append(NewValue),
    Map { from: String, to: String, source: Target },
    Dedupe { key: String, strategy: String },
}

/// `reqRules` or `respRules`, split by target.
#[derive(Debug, Default)]
struct Rules {
    headers: Vec<Op>,
    querys: Vec<Op>,
    body: Vec<Op>,
    /// A `map` rule names `mapSource: body`.
    body_map_source: bool,
}

impl Rules {
    /// Whether the body has to be read.
    fn needs_body(&self) -> bool {
        !self.body.is_empty() || self.body_map_source
    }
}

/// A configured transformer.
#[derive(Debug)]
pub struct Transformer {
    reroute: bool,
    request: Option<Rules>,
    response: Option<Rules>,
}

impl Transformer {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        if config.get("reqRules").is_none() && config.get("respRules").is_none() {
            return Err(ConfigError::new("", "transformer rule not exist in yaml (reqRules or respRules)"));
        }
        let reroute = config.get("reroute").is_none() || super::gjson_bool(config, "reroute");
        Ok(Self { reroute, request: parse_rules(config, "reqRules")?, response: parse_rules(config, "respRules")? })
    }
}

/// gjson's `Get(field).Array()`: a scalar is a one-item list, `null`/missing an empty one.
fn gjson_array(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    }
}

/// gjson's `.String()`.
fn gjson_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn parse_rules(config: &Value, field: &str) -> Result<Option<Rules>, ConfigError> {
    let items = gjson_array(config.get(field));
    if items.is_empty() {
        return Ok(None);
    }
    let mut rules = Rules::default();
    for (i, rule) in items.into_iter().enumerate() {
        let at = format!("{field}[{i}]");
        let operate = gjson_str(rule.get("operate")).to_lowercase();
        if !matches!(operate.as_str(), "remove" | "rename" | "replace" | "add" | "append" | "map" | "dedupe") {
            return Err(ConfigError::new(format!("{at}.operate"), format!("invalid operate type {operate:?}")));
        }
        let map_source = match rule.get("mapSource") {
            Some(source) if operate == "map" => Some(match gjson_str(Some(source)).as_str() {
                "headers" => Target::Headers,
                "querys" => Target::Querys,
                "body" => Target::Body,
                other => return Err(ConfigError::new(format!("{at}.mapSource"), format!("invalid map source {other:?}"))),
            }),
            _ => None,
        };
        rules.body_map_source |= map_source == Some(Target::Body);
        for target in [Target::Headers, Target::Querys, Target::Body] {
            for (j, item) in gjson_array(rule.get(target.field())).into_iter().enumerate() {
                let at = format!("{at}.{}[{j}]", target.field());
                let op = parse_op(item, &operate, target, map_source, &at)?;
                match target {
                    Target::Headers => rules.headers.push(op),
                    Target::Querys => rules.querys.push(op),
                    Target::Body => rules.body.push(op),
                }
            }
        }
    }
    Ok(Some(rules))
}

fn parse_op(item: &Value, operate: &str, target: Target, map_source: Option<Target>, at: &str) -> Result<Op, ConfigError> {
    let get = |key: &str| gjson_str(item.get(key));
    let key = |name: &str| if target == Target::Headers { get(name).to_lowercase() } else { get(name) };
    let kind = if target == Target::Body {
        match get("value_type").to_lowercase().as_str() {
            "" | "string" => ValueType::String,
            "number" => ValueType::Number,
            "boolean" => ValueType::Boolean,
            "object" => ValueType::Object,
            other => return Err(ConfigError::new(format!("{at}.value_type"), format!("invalid body params type {other:?}"))),
        }
    } else {
        ValueType::String
    };
    let new_value = |value_key: &str| -> Result<NewValue, ConfigError> {
        let compile = |field: &str| {
            Regex::new(&get(field)).map_err(|e| ConfigError::new(format!("{at}.{field}"), format!("invalid regex: {e}")))
        };
        let pattern = if !get("host_pattern").is_empty() {
            Some(Pattern::Host(compile("host_pattern")?))
        } else if !get("path_pattern").is_empty() {
            Some(Pattern::Path(compile("path_pattern")?))
        } else {
            None
        };
        Ok(NewValue { key: key("key"), value: get(value_key), kind, pattern })
    };
    Ok(match operate {
        "remove" => Op::Remove(key("key")),
        "rename" => Op::Rename { old: key("oldKey"), new: key("newKey") },
        "replace" => Op::Replace(new_value("newValue")?),
        "add" => Op::Add(new_value("value")?),
        "append" => Op::Append(new_value("appendValue")?),
        "map" => {
            let source = map_source.unwrap_or(target);
            let from = if source == Target::Headers { get("fromKey").to_lowercase() } else { get("fromKey") };
            Op::Map { from, to: key("toKey"), source }
        }
        _ => Op::Dedupe { key: key("key"), strategy: get("strategy") },
    })
}

/// A parsed body.
#[derive(Debug, Clone)]
enum Body {
    Json(Json),
    /// Declared JSON that does not parse: it cannot be transformed or mapped from.
    BadJson,
    Form(Kvs),
    Multipart(Kvs, String),
}

/// Where `map` reads from, besides the map being transformed itself.
#[derive(Default)]
struct Sources<'a> {
    headers: Option<&'a Kvs>,
    querys: Option<&'a Kvs>,
    body: Option<&'a Body>,
}

/// Runs `ops` on a key → values map.
fn apply_kv(ops: &[Op], kvs: &mut Kvs, target: Target, sources: &Sources<'_>, host: &str, path: &str) {
    for op in ops {
        match op {
            Op::Remove(key) => {
                kvs.remove(key);
            }
            Op::Rename { old, new } => {
                if let Some(values) = kvs.remove(old) {
                    kvs.entry(new.clone()).or_default().extend(values);
                    if old == new {
                        kvs.remove(old);
                    }
                }
            }
            Op::Replace(v) => {
                kvs.insert(v.key.clone(), vec![v.text(target, host, path)]);
            }
            Op::Add(v) => {
                if !kvs.contains_key(&v.key) {
                    kvs.insert(v.key.clone(), vec![v.text(target, host, path)]);
                }
            }
            Op::Append(v) => kvs.entry(v.key.clone()).or_default().push(v.text(target, host, path)),
            Op::Map { from, to, source } => {
                let found = if *source == target {
                    kvs.get(from).cloned()
                } else {
                    match source {
                        Target::Headers => sources.headers.and_then(|m| m.get(from).cloned()),
                        Target::Querys => sources.querys.and_then(|m| m.get(from).cloned()),
                        Target::Body => match sources.body {
                            Some(Body::Json(json)) => {
                                json.get(from).map(Json::gjson_string).filter(|s| !s.is_empty()).map(|s| vec![s])
                            }
                            Some(Body::Form(m) | Body::Multipart(m, _)) => m.get(from).cloned(),
                            _ => None,
                        },
                    }
                };
                if let Some(values) = found {
                    kvs.insert(to.clone(), values);
                }
            }
            Op::Dedupe { key, strategy } => {
                let strategy = strategy.to_uppercase();
                if strategy == "RETAIN_UNIQUE" {
                    let values = kvs.entry(key.clone()).or_default();
                    let mut unique: Vec<String> = Vec::new();
                    for v in values.drain(..) {
                        if !unique.contains(&v) {
                            unique.push(v);
                        }
                    }
                    *values = unique;
                    continue;
                }
                let Some(values) = kvs.get_mut(key).filter(|v| !v.is_empty()) else { continue };
                let kept = match strategy.as_str() {
                    "RETAIN_LAST" => values.last().cloned(),
                    "SPLIT_AND_RETAIN_FIRST" => values[0].split(',').next().map(String::from),
                    "SPLIT_AND_RETAIN_LAST" => values[0].split(',').next_back().map(String::from),
                    _ => values.first().cloned(),
                };
                *values = kept.into_iter().collect();
            }
        }
    }
}

/// Go's `convertByJsonType`.
fn convert(kind: ValueType, value: &str) -> Result<Json, String> {
    match kind {
        ValueType::String => Ok(Json::String(value.to_string())),
        ValueType::Object => Json::parse(value.as_bytes()).map(|j| j.go_value()).ok_or_else(|| format!("{value:?} is not JSON")),
        ValueType::Boolean => match value {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Json::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Json::Bool(false)),
            _ => Err(format!("{value:?} is not a boolean")),
        },
        ValueType::Number => value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Json::Number(json::go_float(f, false)))
            .ok_or_else(|| format!("{value:?} is not a number")),
    }
}

fn strings(values: &[String]) -> Json {
    Json::Array(values.iter().cloned().map(Json::String).collect())
}

/// Runs `ops` on a JSON body.
fn apply_json(ops: &[Op], data: &mut Json, sources: &Sources<'_>, host: &str, path: &str) -> Result<(), String> {
    let target = Target::Body;
    for op in ops {
        match op {
            Op::Remove(key) => data.delete(key),
            Op::Rename { old, new } => {
                if let Some(value) = data.get(old).map(Json::go_value) {
                    data.set(new, value)?;
                    data.delete(old);
                }
            }
            Op::Replace(v) => data.set(&v.key, convert(v.kind, &v.text(target, host, path))?)?,
            Op::Add(v) => {
                if data.get(&v.key).is_none() {
                    data.set(&v.key, convert(v.kind, &v.text(target, host, path))?)?;
                }
            }
            Op::Append(v) => {
                let added = convert(v.kind, &v.text(target, host, path))?;
                let value = match data.get(&v.key) {
                    None => added,
                    Some(Json::Array(items)) => {
                        Json::Array(items.iter().map(Json::go_value).chain(std::iter::once(added)).collect())
                    }
                    Some(old) => Json::Array(vec![old.go_value(), added]),
                };
                data.set(&v.key, value)?;
            }
            Op::Map { from, to, source } => {
                let found = match source {
                    Target::Headers => sources.headers.and_then(|m| m.get(from)).map(|v| strings(v)),
                    Target::Querys => sources.querys.and_then(|m| m.get(from)).map(|v| strings(v)),
                    Target::Body => match sources.body {
                        Some(Body::Json(json)) => json.get(from).map(Json::go_value),
                        _ => None,
                    },
                };
                if let Some(value) = found {
                    data.set(to, value)?;
                }
            }
            Op::Dedupe { key, strategy } => {
                let Some(Json::Array(values)) = data.get(key) else { continue };
                let Some(first) = values.first() else { continue };
                let kept = match strategy.to_uppercase().as_str() {
                    "RETAIN_UNIQUE" => {
                        let mut seen = Vec::new();
                        let mut unique = Vec::new();
                        for v in values {
                            let text = v.gjson_string();
                            if !seen.contains(&text) {
                                seen.push(text);
                                unique.push(v.go_value());
                            }
                        }
                        if unique.len() == 1 {
                            unique.pop()
                        } else {
                            Some(Json::Array(unique))
                        }
                    }
                    "RETAIN_LAST" => values.last().map(Json::go_value),
                    "SPLIT_AND_RETAIN_FIRST" => first.gjson_string().split(',').next().map(|s| Json::String(s.into())),
                    "SPLIT_AND_RETAIN_LAST" => first.gjson_string().split(',').next_back().map(|s| Json::String(s.into())),
                    _ => Some(first.go_value()),
                };
                if let Some(kept) = kept {
                    data.set(key, kept)?;
                }
            }
        }
    }
    Ok(())
}

/// The media type of a `Content-Type`, lower case; `None` when Go's `mime.ParseMediaType` fails.
fn media(content_type: &str) -> Option<String> {
    form::media_type(content_type).map(|(t, _)| t)
}

/// Go's `parseBody`: `None` for an empty body, an unsupported type or a form that does not parse.
fn parse_body(content_type: &str, body: &[u8]) -> Option<Body> {
    if body.is_empty() {
        return None;
    }
    let (kind, params) = form::media_type(content_type)?;
    match kind.as_str() {
        JSON => Some(Json::parse(body).map_or(Body::BadJson, Body::Json)),
        FORM => {
            let (kvs, ok) = form::parse_query(&String::from_utf8_lossy(body));
            ok.then_some(Body::Form(kvs))
        }
        MULTIPART => {
            let boundary = params.into_iter().find(|(k, _)| k == "boundary").map(|(_, v)| v).unwrap_or_default();
            form::parse_multipart(body, &boundary).map(|kvs| Body::Multipart(kvs, boundary))
        }
        _ => None,
    }
}

/// Runs the body rules; the new body, or `None` when the transform fails.
fn transform_body(ops: &[Op], body: &Body, sources: &Sources<'_>, host: &str, path: &str) -> Option<Bytes> {
    match body {
        Body::Json(json) => {
            let mut data = json.clone();
            apply_json(ops, &mut data, sources, host, path).ok()?;
            Some(Bytes::from(data.pretty()))
        }
        Body::BadJson => None,
        Body::Form(kvs) => {
            let mut kvs = kvs.clone();
            apply_kv(ops, &mut kvs, Target::Body, sources, host, path);
            Some(Bytes::from(form::encode_query(&kvs)))
        }
        Body::Multipart(kvs, boundary) => {
            let mut kvs = kvs.clone();
            apply_kv(ops, &mut kvs, Target::Body, sources, host, path);
            form::write_multipart(&kvs, boundary).map(Bytes::from)
        }
    }
}

/// The SDK's `IsBinaryRequestBody` / `IsBinaryResponseBody`.
fn is_binary(headers: &http::HeaderMap) -> bool {
    let content_type = headers.get(http::header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    content_type.is_some_and(|t| t.contains("octet-stream") || t.contains("grpc"))
        || headers.get(http::header::CONTENT_ENCODING).is_some_and(|v| !v.is_empty())
}

/// A header map as Envoy hands it to a Wasm plugin: lower-case names, values in order.
fn header_kvs(headers: &http::HeaderMap) -> Kvs {
    let mut kvs = Kvs::new();
    for (name, value) in headers {
        kvs.entry(name.as_str().to_string()).or_default().push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    kvs
}

/// The request as the Go plugin reads it on its headers.
struct RequestState {
    host: String,
    path: String,
    headers: Kvs,
    querys: Kvs,
    content_type: String,
}

impl RequestState {
    /// `None` when Go's `url.Parse` refuses the path (the plugin then leaves the request alone).
    fn new(request: &RequestView<'_>) -> Option<Self> {
        let parts = request.parts;
        let path = parts.uri.path_and_query().map_or_else(|| parts.uri.path(), |p| p.as_str()).to_string();
        let (_, query, _) = form::split_target(&path)?;
        let querys = form::parse_query(query.unwrap_or("")).0;
        let host = request.authority();
        let mut headers = header_kvs(&parts.headers);
        headers.remove("host");
        headers.insert(":authority".into(), vec![host.clone()]);
        headers.insert(":path".into(), vec![path.clone()]);
        headers.insert(":method".into(), vec![parts.method.to_string()]);
        headers.insert(":scheme".into(), vec![request.scheme.to_string()]);
        let content_type = headers.get("content-type").and_then(|v| v.first()).cloned().unwrap_or_default();
        Some(Self { host, path, headers, querys, content_type })
    }
}

/// When the request rules run.
#[derive(Debug, PartialEq, Eq)]
enum RequestMode {
    /// On the headers; the body is not read.
    Headers,
    /// On the body, headers and query parameters included.
    Body,
    /// Never (they wait for a body the SDK does not read).
    Never,
}

impl Transformer {
    fn request_mode(rules: &Rules, state: &RequestState, request: &RequestView<'_>) -> RequestMode {
        let valid = media(&state.content_type).is_some_and(|t| t == JSON || t == FORM || t == MULTIPART);
        if !valid || !rules.needs_body() {
            RequestMode::Headers
        } else if is_binary(&request.parts.headers) {
            if rules.body_map_source {
                RequestMode::Never
            } else {
                RequestMode::Headers
            }
        } else {
            RequestMode::Body
        }
    }

    /// Runs the header and query rules and records the header edits; the transformed maps.
    fn transform_request_headers(rules: &Rules, state: &RequestState, body: Option<&Body>, edits: &mut RequestEdits) -> (Kvs, Kvs) {
        let mut headers = state.headers.clone();
        let mut querys = state.querys.clone();
        let (host, path) = (state.host.as_str(), state.path.as_str());
        if !rules.headers.is_empty() {
            let sources = Sources { headers: None, querys: Some(&state.querys), body };
            apply_kv(&rules.headers, &mut headers, Target::Headers, &sources, host, path);
        }
        if !rules.querys.is_empty() {
            let sources = Sources { headers: Some(&headers), querys: None, body };
            apply_kv(&rules.querys, &mut querys, Target::Querys, &sources, host, path);
            if let Some(target) = rebuild_target(path, &querys) {
                headers.insert(":path".into(), vec![target]);
            }
        }
        diff_headers(&state.headers, &headers, |name, values| match name {
            ":authority" => {
                if let Some(host) = values.first() {
                    edits.headers.set.push(("host".into(), host.clone()));
                }
            }
            ":path" => edits.path_and_query = values.first().cloned().filter(|p| http::uri::PathAndQuery::try_from(p.as_str()).is_ok()),
            _ => push_header_edit(&mut edits.headers, name, values),
        });
        (headers, querys)
    }
}

/// `path` with its query replaced by `querys` (Go's `url.URL.String` after `RawQuery = Encode()`).
fn rebuild_target(path: &str, querys: &Kvs) -> Option<String> {
    let (path, query, fragment) = form::split_target(path)?;
    let encoded = form::encode_query(querys);
    let mut target = path.to_string();
    if query == Some("") || !encoded.is_empty() {
        target.push('?');
        target.push_str(&encoded);
    }
    if let Some(fragment) = fragment {
        target.push('#');
        target.push_str(fragment);
    }
    Some(target)
}

/// Calls `changed` for every key whose values differ (an empty list counts as absent); framing headers
/// are the proxy's business and are skipped.
fn diff_headers(before: &Kvs, after: &Kvs, mut changed: impl FnMut(&str, &[String])) {
    let present = |m: &Kvs, k: &str| m.get(k).filter(|v| !v.is_empty()).cloned();
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if matches!(name.as_str(), "content-length" | "transfer-encoding") {
            continue;
        }
        let new = present(after, name);
        if present(before, name) != new {
            changed(name, new.as_deref().unwrap_or(&[]));
        }
    }
}

/// A header's new values as edits (none = remove); names or values HTTP cannot carry are skipped, and so
/// are pseudo-headers.
fn push_header_edit(edits: &mut crate::HeaderEdits, name: &str, values: &[String]) {
    if name.starts_with(':') || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return;
    }
    let values: Vec<&String> = values.iter().filter(|v| http::HeaderValue::from_str(v).is_ok()).collect();
    match values.split_first() {
        None => edits.remove.push(name.to_string()),
        Some((first, rest)) => {
            edits.set.push((name.to_string(), (*first).clone()));
            edits.add.extend(rest.iter().map(|v| (name.to_string(), (*v).clone())));
        }
    }
}

impl Plugin for Transformer {
    fn name(&self) -> &str {
        NAME
    }

    fn reroute(&self) -> bool {
        self.reroute
    }

    fn on_request_headers(&self, request: &RequestView<'_>, edits: &mut RequestEdits) -> Decision {
        let Some(rules) = &self.request else {
            edits.skip_body = true;
            return Decision::Continue;
        };
        let Some(state) = RequestState::new(request) else {
            edits.skip_body = true;
            return Decision::Continue;
        };
        match Self::request_mode(rules, &state, request) {
            RequestMode::Headers => {
                edits.skip_body = true;
                Self::transform_request_headers(rules, &state, None, edits);
            }
            RequestMode::Never => edits.skip_body = true,
            RequestMode::Body => {}
        }
        Decision::Continue
    }

    fn needs_request_body(&self) -> bool {
        self.request.as_ref().is_some_and(Rules::needs_body)
    }

    fn on_request_body(&self, request: &RequestView<'_>, body: &[u8], edits: &mut RequestEdits) -> Decision {
        let Some(rules) = &self.request else { return Decision::Continue };
        let Some(state) = RequestState::new(request) else { return Decision::Continue };
        if Self::request_mode(rules, &state, request) != RequestMode::Body {
            return Decision::Continue;
        }
        let Some(parsed) = parse_body(&state.content_type, body) else {
            // Without a map from the body, Go ran the header rules on the headers already.
            if !rules.body_map_source {
                Self::transform_request_headers(rules, &state, None, edits);
            }
            return Decision::Continue;
        };
        let (headers, querys) = Self::transform_request_headers(rules, &state, Some(&parsed), edits);
        if !rules.body.is_empty() {
            let sources = Sources { headers: Some(&headers), querys: Some(&querys), body: Some(&parsed) };
            edits.body = transform_body(&rules.body, &parsed, &sources, &state.host, &state.path);
        }
        Decision::Continue
    }

    fn on_response_headers(&self, request: &RequestView<'_>, response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        let Some(rules) = &self.response else { return };
        let Some(state) = RequestState::new(request) else { return };
        let mut before = header_kvs(response.headers);
        before.insert(":status".into(), vec![response.status.to_string()]);
        let content_type = before.get("content-type").and_then(|v| v.first()).cloned().unwrap_or_default();
        let valid = media(&content_type).is_some_and(|t| t == JSON);
        let binary = is_binary(response.headers);
        if valid && rules.needs_body() && binary && rules.body_map_source {
            return; // waits for a body that is never read
        }
        let mut headers = before.clone();
        if !rules.headers.is_empty() {
            apply_kv(&rules.headers, &mut headers, Target::Headers, &Sources::default(), &state.host, &state.path);
        }
        diff_headers(&before, &headers, |name, values| match name {
            ":status" => edits.status = values.first().and_then(|s| s.parse::<u16>().ok()).filter(|s| (100..1000).contains(s)),
            _ => push_header_edit(&mut edits.headers, name, values),
        });
        edits.read_body = valid && !binary && !rules.body.is_empty();
    }

    fn on_response_body(&self, request: &RequestView<'_>, response: &ResponseView<'_>, body: &[u8]) -> Option<Bytes> {
        let rules = self.response.as_ref().filter(|r| !r.body.is_empty())?;
        let state = RequestState::new(request)?;
        let content_type = response.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if media(content_type).as_deref() != Some(JSON) {
            return None;
        }
        let parsed = parse_body(content_type, body)?;
        let mut headers = header_kvs(response.headers);
        headers.insert(":status".into(), vec![response.status.to_string()]);
        let sources = Sources { headers: Some(&headers), querys: None, body: Some(&parsed) };
        transform_body(&rules.body, &parsed, &sources, &state.host, &state.path)
    }
}

#[cfg(test)]
mod tests;
