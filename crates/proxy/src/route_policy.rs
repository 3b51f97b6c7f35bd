//! The compiled [`oxigress_ir::RoutePolicy`] of a route: client allow-list, redirect answer, request
//! and response header edits, upstream host rewrite and timeout. Compiled once per snapshot; applying it
//! allocates only the header values it writes.

use std::net::IpAddr;
use std::time::Duration;

use http::HeaderValue;
use oxigress_ir::{HeaderEdits, Redirect, Retry, RoutePolicy};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::Result;

use crate::basic_auth::CompiledBasicAuth;
use crate::rate_limit::TokenBucket;

/// A route's policy, ready to apply.
#[derive(Debug)]
pub struct CompiledPolicy {
    allow: Vec<(IpAddr, u8)>,
    deny: Vec<(IpAddr, u8)>,
    /// HTTP Basic authentication.
    pub basic_auth: Option<CompiledBasicAuth>,
    /// Answer with this redirect instead of forwarding.
    pub redirect: Option<Redirect>,
    request: CompiledEdits,
    response: CompiledEdits,
    host: Option<HeaderValue>,
    /// Longest wait for the upstream's response.
    pub timeout: Option<Duration>,
    /// Match the path case-insensitively.
    pub ignore_path_case: bool,
    rewrite: Option<(regex::Regex, String)>,
    cors: Option<CompiledCors>,
    limit: Option<TokenBucket>,
    /// When a failed attempt goes to another endpoint (the route's, or the default policy).
    pub retry: Retry,
    /// Longest wait for each attempt's response (`proxy-next-upstream-timeout`).
    pub per_try_timeout: Option<Duration>,
}

#[derive(Debug)]
struct CompiledCors {
    any_origin: bool,
    origins: Vec<String>,
    regexes: Vec<regex::Regex>,
    methods: HeaderValue,
    headers: HeaderValue,
    expose: Option<HeaderValue>,
    credentials: bool,
    max_age: HeaderValue,
}

/// What CORS says about one request.
pub enum CorsVerdict {
    /// Not a CORS request, or its origin is not allowed: no CORS headers.
    None,
    /// A preflight from an allowed origin: answer it directly with these headers.
    Preflight(Vec<(http::HeaderName, HeaderValue)>),
    /// An allowed origin: add these headers to the upstream's response.
    Response(Vec<(http::HeaderName, HeaderValue)>),
}

#[derive(Debug, Default)]
struct CompiledEdits {
    add: Vec<(http::HeaderName, HeaderValue)>,
    set: Vec<(http::HeaderName, HeaderValue)>,
    remove: Vec<http::HeaderName>,
}

impl CompiledEdits {
    fn new(edits: &HeaderEdits) -> Result<Self, String> {
        let pair = |(name, value): &(String, String)| -> Result<(http::HeaderName, HeaderValue), String> {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name:?}: {e}"))?;
            let value = HeaderValue::from_str(value).map_err(|e| format!("header value {value:?}: {e}"))?;
            Ok((name, value))
        };
        Ok(Self {
            add: edits.add.iter().map(pair).collect::<Result<_, _>>()?,
            set: edits.set.iter().map(pair).collect::<Result<_, _>>()?,
            remove: edits
                .remove
                .iter()
                .map(|n| http::HeaderName::from_bytes(n.as_bytes()).map_err(|e| format!("header {n:?}: {e}")))
                .collect::<Result<_, _>>()?,
        })
    }

    fn is_empty(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.remove.is_empty()
    }
}

impl CompiledPolicy {
    /// Compiles an IR policy; an entry that cannot be used is an error naming it.
    pub fn new(policy: &RoutePolicy) -> Result<Self, String> {
        let networks = |entries: &[String]| {
            entries
                .iter()
                .map(|entry| {
                    let (address, bits) = entry.split_once('/').unwrap_or((entry, ""));
                    let address: IpAddr = address.parse().map_err(|_| format!("source {entry:?} is not an address"))?;
                    let max = if address.is_ipv4() { 32 } else { 128 };
                    let bits = if bits.is_empty() { max } else { bits.parse().map_err(|_| format!("source {entry:?}"))? };
                    Ok((address, bits.min(max)))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let allow = networks(&policy.allow_sources)?;
        let deny = networks(&policy.deny_sources)?;
        let host = match &policy.host_rewrite {
            Some(host) => Some(HeaderValue::from_str(host).map_err(|e| format!("upstream host {host:?}: {e}"))?),
            None => None,
        };
        Ok(Self {
            allow,
            deny,
            basic_auth: policy.basic_auth.as_ref().map(CompiledBasicAuth::new).transpose()?,
            redirect: policy.redirect.clone(),
            request: CompiledEdits::new(&policy.request_headers)?,
            response: CompiledEdits::new(&policy.response_headers)?,
            host,
            timeout: policy.timeout_ms.map(Duration::from_millis),
            ignore_path_case: policy.ignore_path_case,
            rewrite: match &policy.path_rewrite {
                Some(r) => Some((
                    regex::Regex::new(&r.pattern).map_err(|e| format!("rewrite pattern {:?}: {e}", r.pattern))?,
                    r.substitution.clone(),
                )),
                None => None,
            },
            cors: policy.cors.as_ref().map(CompiledCors::new).transpose()?,
            limit: policy
                .rate_limit
                .as_ref()
                .map(|l| TokenBucket::new(l.max, l.per_fill, Duration::from_millis(l.interval_ms.max(1)))),
            retry: policy.retry.clone().unwrap_or_else(Retry::default_policy),
            per_try_timeout: policy.retry.as_ref().and_then(|r| r.per_try_timeout_ms).map(Duration::from_millis),
        })
    }

    /// Whether the route's rate limit lets this request through.
    pub fn admits(&self) -> bool {
        self.limit.as_ref().is_none_or(TokenBucket::try_take)
    }

    /// CORS for a request with these `origin` and `method` / `Access-Control-Request-Method`.
    pub fn cors(&self, origin: Option<&HeaderValue>, method: &http::Method, preflight_method: bool) -> CorsVerdict {
        let (Some(cors), Some(origin)) = (&self.cors, origin) else { return CorsVerdict::None };
        let Ok(text) = origin.to_str() else { return CorsVerdict::None };
        let allowed =
            cors.any_origin || cors.origins.iter().any(|o| o == text) || cors.regexes.iter().any(|r| r.is_match(text));
        if !allowed {
            return CorsVerdict::None;
        }
        let mut headers = vec![(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone())];
        if cors.credentials {
            headers.push((http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true")));
        }
        if method == http::Method::OPTIONS && preflight_method {
            headers.push((http::header::ACCESS_CONTROL_ALLOW_METHODS, cors.methods.clone()));
            headers.push((http::header::ACCESS_CONTROL_ALLOW_HEADERS, cors.headers.clone()));
            headers.push((http::header::ACCESS_CONTROL_MAX_AGE, cors.max_age.clone()));
            return CorsVerdict::Preflight(headers);
        }
        if let Some(expose) = &cors.expose {
            headers.push((http::header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone()));
        }
        CorsVerdict::Response(headers)
    }

    /// Whether the route has a CORS policy.
    pub fn has_cors(&self) -> bool {
        self.cors.is_some()
    }

    /// The upstream path for `path_and_query` when the route rewrites it.
    pub fn rewrite_path(&self, path_and_query: &str) -> Option<String> {
        let (pattern, substitution) = self.rewrite.as_ref()?;
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let rewritten = pattern.replace_all(path, substitution.as_str());
        Some(match query {
            Some(q) => format!("{rewritten}?{q}"),
            None => rewritten.into_owned(),
        })
    }

    /// Whether `client` may use the route: not denied (`denylist-source-range`, checked first), and
    /// allowed when there is an allow-list.
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        if self.allow.is_empty() && self.deny.is_empty() {
            return true;
        }
        let Some(client) = client else { return false };
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        if self.deny.iter().any(|(network, bits)| in_network(client, *network, *bits)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|(network, bits)| in_network(client, *network, *bits))
    }

    /// The redirect to answer with, if any, for a request that arrived over `https` or not.
    pub fn redirect_for(&self, https: bool) -> Option<&Redirect> {
        self.redirect.as_ref().filter(|r| !(r.only_plain_http && https))
    }

    /// Edits the request sent upstream.
    pub fn apply_request(&self, request: &mut RequestHeader) -> Result<()> {
        if let Some(host) = &self.host {
            request.insert_header(http::header::HOST, host.clone())?;
        }
        if self.request.is_empty() {
            return Ok(());
        }
        for name in &self.request.remove {
            request.remove_header(name);
        }
        for (name, value) in &self.request.set {
            request.insert_header(name.clone(), value.clone())?;
        }
        for (name, value) in &self.request.add {
            request.append_header(name.clone(), value.clone())?;
        }
        Ok(())
    }

    /// Edits the response sent to the client.
    pub fn apply_response(&self, response: &mut ResponseHeader) -> Result<()> {
        if self.response.is_empty() {
            return Ok(());
        }
        for name in &self.response.remove {
            response.remove_header(name);
        }
        for (name, value) in &self.response.set {
            response.insert_header(name.clone(), value.clone())?;
        }
        for (name, value) in &self.response.add {
            response.append_header(name.clone(), value.clone())?;
        }
        Ok(())
    }
}

impl CompiledCors {
    fn new(cors: &oxigress_ir::Cors) -> Result<Self, String> {
        let value = |v: &str| HeaderValue::from_str(v).map_err(|e| format!("CORS value {v:?}: {e}"));
        Ok(Self {
            any_origin: cors.allow_origins.iter().any(|o| o == "*"),
            origins: cors.allow_origins.clone(),
            regexes: cors
                .origin_regexes
                .iter()
                .map(|r| regex::Regex::new(r).map_err(|e| format!("CORS origin {r:?}: {e}")))
                .collect::<Result<_, _>>()?,
            methods: value(&cors.allow_methods)?,
            headers: value(&cors.allow_headers)?,
            expose: if cors.expose_headers.is_empty() { None } else { Some(value(&cors.expose_headers)?) },
            credentials: cors.allow_credentials,
            max_age: HeaderValue::from(cors.max_age),
        })
    }
}

fn in_network(client: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (client, network) {
        (IpAddr::V4(c), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(c) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(c), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(c) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The `Location` of a redirect: the request's scheme, host and path unless the redirect replaces them;
/// the query is kept.
pub fn location(redirect: &Redirect, https: bool, host: &str, path_and_query: &str) -> String {
    let scheme = redirect.scheme.as_deref().unwrap_or(if https { "https" } else { "http" });
    let host = match &redirect.host {
        Some(h) => h.as_str(),
        // why: Envoy drops the request's port when the scheme changes (http → https).
        None if redirect.scheme.is_some() => host.split(':').next().unwrap_or(host),
        None => host,
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let path = redirect.path.as_deref().unwrap_or(path);
    match query {
        Some(q) => format!("{scheme}://{host}{path}?{q}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let net: IpAddr = "10.1.0.0".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(in_network(IpAddr::from([10, 1, 2, 3]), net, 16));
        assert!(!in_network(IpAddr::from([10, 2, 2, 3]), net, 16));
    }

    #[test]
    fn the_denylist_is_checked_before_the_allow_list() {
        let policy = RoutePolicy {
            allow_sources: vec!["10.0.0.0/8".into()],
            deny_sources: vec!["10.1.0.0/16".into(), "192.168.0.1".into()],
            ..RoutePolicy::default()
        };
        let compiled = CompiledPolicy::new(&policy).unwrap();
        assert!(compiled.allows(Some(IpAddr::from([10, 2, 0, 1]))));
        assert!(!compiled.allows(Some(IpAddr::from([10, 1, 0, 1]))), "in both lists: denied");
        assert!(!compiled.allows(Some(IpAddr::from([11, 0, 0, 1]))), "not allowed");
        let deny_only = RoutePolicy { deny_sources: vec!["192.168.0.1".into()], ..RoutePolicy::default() };
        let compiled = CompiledPolicy::new(&deny_only).unwrap();
        assert!(!compiled.allows(Some(IpAddr::from([192, 168, 0, 1]))));
        assert!(compiled.allows(Some(IpAddr::from([192, 168, 0, 2]))));
    }

    #[test]
    fn locations_keep_what_is_not_replaced() {
        let permanent = Redirect { code: 301, scheme: Some("http".into()), host: Some("bar.com".into()), path: None, only_plain_http: false };
        assert_eq!(location(&permanent, false, "foo.com", "/foo?x=1"), "http://bar.com/foo?x=1");
        let https = Redirect { code: 308, scheme: Some("https".into()), host: None, path: None, only_plain_http: true };
        assert_eq!(location(&https, false, "test.com:8080", "/test"), "https://test.com/test");
        let root = Redirect { code: 302, scheme: None, host: None, path: Some("/foo".into()), only_plain_http: false };
        assert_eq!(location(&root, false, "foo.com", "/"), "http://foo.com/foo");
    }
}
