//! Route policy annotations (Higress `redirect.go`, `header_control.go`, `upstream_vhost`,
//! `ip_access_control.go`, `timeout.go`): `temporal-redirect`, `permanent-redirect(-code)`,
//! `ssl-redirect` / `force-ssl-redirect`, `app-root` (ASAP), `rewrite-target` (ASAP), `rewrite-path` (H),
//! `request-/response-header-control-add/update/
//! remove` (H), `upstream-vhost` (ASAP), `whitelist-source-range` (ASAP), `denylist-source-range` (ASAP;
//! ingress-nginx's, Higress has none: checked first, so an address in both lists is denied), `timeout`
//! (H, seconds).
//! An invalid value is a diagnostic on the Ingress and the annotation is ignored.

use oxigress_ir::{Cors, HeaderEdits, PathMatch, PathRewrite, RateLimit, Redirect, RoutePolicy};
use oxigress_objects::{Diagnostic, ObjectRef};

use super::{regex_escape, Annotations};

/// The policy annotations of one Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyAnnotations {
    /// Applied to every route of the Ingress.
    pub policy: RoutePolicy,
    /// `app-root`: `GET /` on each of the Ingress' hosts answers 302 to this path.
    pub app_root: Option<String>,
    /// `use-regex`: non-Exact paths are regexes matched as prefixes (`<path>.*`).
    pub use_regex: bool,
    /// `higress.io/full-path-regex`: non-Exact paths are regexes matching the whole path.
    pub full_path_regex: bool,
    /// `rewrite-target`: the replacement (`$n` = group n of the path regex).
    pub rewrite_target: Option<String>,
    /// `higress.io/rewrite-path`: a literal path (or prefix) replacement; wins over `rewrite-target`.
    pub rewrite_path: Option<String>,
}

impl PolicyAnnotations {
    /// Reads every policy annotation; problems become diagnostics about `object`.
    pub fn parse(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let mut invalid = |key: &str, message: String| {
            diagnostics.push(super::invalid_annotation(object, format!("{key}: {message}")))
        };
        let mut policy = RoutePolicy { redirect: redirect(annotations, &mut invalid), ..RoutePolicy::default() };
        let higress = |key: &str| annotations.higress(key);
        policy.request_headers = header_edits(
            higress("request-header-control-add"),
            higress("request-header-control-update"),
            higress("request-header-control-remove"),
        );
        policy.response_headers = header_edits(
            higress("response-header-control-add"),
            higress("response-header-control-update"),
            higress("response-header-control-remove"),
        );
        policy.host_rewrite = annotations.asap("upstream-vhost").map(str::trim).filter(|h| !h.is_empty()).map(String::from);
        if let Some(value) = annotations.asap("whitelist-source-range") {
            policy.allow_sources = match sources(value, "whitelist-source-range", &mut invalid) {
                Sources::Everyone => Vec::new(),
                // Nothing valid: deny everyone rather than open the route.
                Sources::Listed(listed) if listed.is_empty() && !value.trim().is_empty() => {
                    vec!["255.255.255.255/32".to_string()]
                }
                Sources::Listed(listed) => listed,
            };
        }
        if let Some(value) = annotations.asap("denylist-source-range") {
            policy.deny_sources = match sources(value, "denylist-source-range", &mut invalid) {
                Sources::Everyone => vec!["0.0.0.0/0".to_string(), "::/0".to_string()],
                Sources::Listed(listed) => listed,
            };
        }
        if let Some(value) = higress("timeout") {
            match value.trim().parse::<u64>() {
                Ok(seconds) if seconds > 0 => policy.timeout_ms = Some(seconds * 1000),
                _ => invalid("higress.io/timeout", format!("{value:?} is not a positive number of seconds")),
            }
        }
        let app_root = annotations.asap("app-root").map(str::trim).filter(|p| !p.is_empty()).and_then(|path| {
            if path.starts_with('/') {
                Some(path.to_string())
            } else {
                invalid("app-root", format!("{path:?} does not start with /"));
                None
            }
        });
        let rewrite_path = higress("rewrite-path").map(str::trim).filter(|p| !p.is_empty()).and_then(|path| {
            if path.starts_with('/') {
                Some(path.to_string())
            } else {
                invalid("higress.io/rewrite-path", format!("{path:?} does not start with /"));
                None
            }
        });
        let truthy = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        policy.ignore_path_case = truthy(annotations.asap("ignore-path-case"));
        policy.cors = cors(annotations, &mut invalid);
        policy.rate_limit = rate_limit(annotations, &mut invalid);
        Self {
            policy,
            app_root,
            use_regex: truthy(annotations.asap("use-regex")),
            full_path_regex: truthy(higress("full-path-regex")),
            rewrite_target: annotations.asap("rewrite-target").map(str::trim).filter(|t| !t.is_empty()).map(String::from),
            rewrite_path,
        }
    }

    /// The route path for an Ingress path (`written`, of `kind` Exact or Prefix with `origin` = the Prefix
    /// without its trailing `/`) and, with `rewrite-path` or `rewrite-target`, the path rewrite.
    pub fn path(&self, written: &str, origin: &str, kind: &str) -> (PathMatch, Option<PathRewrite>) {
        let has_meta = |p: &str| p.chars().any(|c| "^$.*+?()[]{}|\\".contains(c));
        let target_groups = self.rewrite_target.as_deref().is_some_and(|t| t.contains('$') || t.contains('\\'));
        let path = if kind == "Exact" {
            PathMatch::Exact(origin.to_string())
        } else if self.full_path_regex {
            PathMatch::Regex(written.to_string())
        } else if self.use_regex || (self.rewrite_target.is_some() && (has_meta(written) || target_groups)) {
            PathMatch::Regex(format!("{written}.*"))
        } else {
            PathMatch::Prefix(origin.to_string())
        };
        if let Some(to) = &self.rewrite_path {
            let rewrite = literal_rewrite(&path, to, self.policy.ignore_path_case);
            return (path, Some(rewrite));
        }
        let rewrite = self.rewrite_target.as_ref().map(|target| {
            let pattern = match &path {
                PathMatch::Regex(_) => written.to_string(),
                PathMatch::Exact(p) => format!("^{}$", regex_escape(p)),
                PathMatch::Prefix(p) if p == "/" => "^/".to_string(),
                PathMatch::Prefix(p) => format!("^{}", regex_escape(p)),
            };
            PathRewrite { pattern, substitution: group_references(target) }
        });
        (path, rewrite)
    }
}

/// `higress.io/rewrite-path` as Higress hands it to Istio (`HTTPRewrite.uri`, Envoy's prefix rewrite):
/// a Prefix route's matched prefix is replaced — when the target lacks a trailing `/`, Higress uses the
/// regex `^<prefix>(/.*)?` → `<target>\1` instead, so `/a` → `/b` and `/a/x` → `/b/x` — and an Exact or
/// regex route's whole path is replaced. The target is literal (`$` is not a group reference).
fn literal_rewrite(path: &PathMatch, to: &str, ignore_case: bool) -> PathRewrite {
    let literal = to.replace('$', "$$");
    let case = if ignore_case { "(?i)" } else { "" };
    match path {
        PathMatch::Prefix(prefix) => {
            // The route matches `<base>` and `<base>/…` (`/` is the empty base).
            let base = regex_escape(if prefix == "/" { "" } else { prefix });
            if to.ends_with('/') {
                PathRewrite { pattern: format!("{case}^{base}/?"), substitution: literal }
            } else {
                PathRewrite { pattern: format!("{case}^{base}(/.*)?"), substitution: format!("{literal}${{1}}") }
            }
        }
        PathMatch::Exact(_) | PathMatch::Regex(_) => PathRewrite { pattern: "^.*$".to_string(), substitution: literal },
    }
}

/// nginx `$1` / RE2 `\1` → `${1}`.
fn group_references(target: &str) -> String {
    let mut out = String::new();
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        if (c == '$' || c == '\\') && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            out.push_str(&format!("${{{digits}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `higress.io/route-limit-rps` (or `-rpm`) × `route-limit-burst-multiplier` (default 5).
fn rate_limit(annotations: &Annotations<'_>, invalid: &mut impl FnMut(&str, String)) -> Option<RateLimit> {
    let mut number = |key: &str| -> Option<u32> {
        let value = annotations.higress(key)?.trim();
        match value.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                invalid(&format!("higress.io/{key}"), format!("{value:?} is not a positive whole number"));
                None
            }
        }
    };
    let (rate, interval_ms) = match (number("route-limit-rps"), number("route-limit-rpm")) {
        (Some(rps), _) => (rps, 1000),
        (None, Some(rpm)) => (rpm, 60_000),
        (None, None) => return None,
    };
    let burst = number("route-limit-burst-multiplier").unwrap_or(5);
    Some(RateLimit { max: rate.saturating_mul(burst), per_fill: rate, interval_ms })
}

/// `enable-cors: true` and the `cors-*` settings, with ingress-nginx's defaults.
fn cors(annotations: &Annotations<'_>, invalid: &mut impl FnMut(&str, String)) -> Option<Cors> {
    if !annotations.asap("enable-cors").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let text = |key: &str, default: &str| annotations.asap(key).map(str::trim).filter(|v| !v.is_empty()).unwrap_or(default).to_string();
    let mut allow_origins = Vec::new();
    let mut origin_regexes = Vec::new();
    for origin in text("cors-allow-origin", "*").split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin != "*" && origin.contains('*') {
            origin_regexes.push(format!("^{}$", regex_escape(origin).replace("\\*", "[A-Za-z0-9-]+")));
        } else {
            allow_origins.push(origin.to_string());
        }
    }
    let max_age = match annotations.asap("cors-max-age").map(str::trim) {
        None | Some("") => 1_728_000,
        Some(v) => v.parse().unwrap_or_else(|_| {
            invalid("cors-max-age", format!("{v:?} is not a number of seconds"));
            1_728_000
        }),
    };
    Some(Cors {
        allow_origins,
        origin_regexes,
        allow_methods: text("cors-allow-methods", "GET, PUT, POST, DELETE, PATCH, OPTIONS"),
        allow_headers: text(
            "cors-allow-headers",
            "DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Authorization",
        ),
        expose_headers: text("cors-expose-headers", ""),
        allow_credentials: !annotations.asap("cors-allow-credentials").is_some_and(|v| v.trim().eq_ignore_ascii_case("false")),
        max_age,
    })
}

/// `temporal-redirect` (302) wins over `permanent-redirect` (code 300–308, else 301), which wins over
/// `ssl-redirect` / `force-ssl-redirect` (308 to https, only when explicitly `true`).
fn redirect(annotations: &Annotations<'_>, invalid: &mut impl FnMut(&str, String)) -> Option<Redirect> {
    if let Some(url) = annotations.asap("temporal-redirect") {
        match url_parts(url) {
            Ok((scheme, host, path)) => {
                return Some(Redirect { code: 302, scheme: Some(scheme), host: Some(host), path, only_plain_http: false })
            }
            Err(message) => invalid("temporal-redirect", message),
        }
    }
    if let Some(url) = annotations.asap("permanent-redirect") {
        match url_parts(url) {
            Ok((scheme, host, path)) => {
                let code = annotations
                    .asap("permanent-redirect-code")
                    .and_then(|c| c.trim().parse::<u16>().ok())
                    .filter(|c| (300..=308).contains(c))
                    .unwrap_or(301);
                return Some(Redirect { code, scheme: Some(scheme), host: Some(host), path, only_plain_http: false });
            }
            Err(message) => invalid("permanent-redirect", message),
        }
    }
    let enabled = |key: &str| annotations.asap(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if enabled("ssl-redirect") || enabled("force-ssl-redirect") {
        return Some(Redirect { code: 308, scheme: Some("https".into()), host: None, path: None, only_plain_http: true });
    }
    None
}

/// `http(s)://host[:port][/path]` → (scheme, host, path unless empty). The URL's query is ignored, as
/// Higress (the request's query is kept).
fn url_parts(url: &str) -> Result<(String, String, Option<String>), String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("{url:?} is not an http(s) URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("{url:?} is not an http(s) URL"));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_string())),
        None => (rest, None),
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok((scheme, host.to_ascii_lowercase(), path))
}

/// Header control: `add`/`update` are lines `name value` (either may be quoted), `remove` a comma list.
fn header_edits(add: Option<&str>, update: Option<&str>, remove: Option<&str>) -> HeaderEdits {
    HeaderEdits {
        add: add.map(header_lines).unwrap_or_default(),
        set: update.map(header_lines).unwrap_or_default(),
        remove: remove
            .map(|r| r.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
            .unwrap_or_default(),
    }
}

fn header_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (name, value) = line.split_once(char::is_whitespace)?;
            let name = unquote(name.trim()).to_ascii_lowercase();
            (!name.is_empty()).then(|| (name, unquote(value.trim()).to_string()))
        })
        .collect()
}

fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// A source-range annotation's entries.
enum Sources {
    /// `*`, `0.0.0.0/0` or `::/0` among them.
    Everyone,
    /// The valid entries.
    Listed(Vec<String>),
}

/// `whitelist-source-range` / `denylist-source-range`: comma-separated addresses or CIDRs.
fn sources(value: &str, key: &str, invalid: &mut impl FnMut(&str, String)) -> Sources {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" || entry == "0.0.0.0/0" || entry == "::/0" {
            return Sources::Everyone;
        }
        let (address, bits) = entry.split_once('/').unwrap_or((entry, ""));
        let parsed: Option<std::net::IpAddr> = address.parse().ok();
        let max = match parsed {
            Some(std::net::IpAddr::V4(_)) => 32,
            Some(std::net::IpAddr::V6(_)) => 128,
            None => {
                invalid(key, format!("{entry:?} is not an address or CIDR"));
                continue;
            }
        };
        if !bits.is_empty() && !bits.parse::<u8>().is_ok_and(|b| b <= max) {
            invalid(key, format!("{entry:?} has an invalid prefix length"));
            continue;
        }
        out.push(entry.to_string());
    }
    Sources::Listed(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_strip_quotes() {
        let lines = header_lines("stage test\ncanary true\nx-test \"higress; test=true\"\n'x-test2' \"higress; test=false\"\n");
        assert_eq!(lines[2], ("x-test".to_string(), "higress; test=true".to_string()));
        assert_eq!(lines[3], ("x-test2".to_string(), "higress; test=false".to_string()));
    }

    #[test]
    fn url_parts_keep_path_only_when_given() {
        assert_eq!(url_parts("http://bar.com").unwrap(), ("http".into(), "bar.com".into(), None));
        assert_eq!(url_parts("https://bar.com:8443/x?q=1").unwrap(), ("https".into(), "bar.com:8443".into(), Some("/x".into())));
        assert!(url_parts("bar.com").is_err());
    }
}
