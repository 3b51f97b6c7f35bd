//! Route policy annotations (Higress `redirect.go`, `header_control.go`, `upstream_vhost`,
//! `ip_access_control.go`, `timeout.go`): `temporal-redirect`, `permanent-redirect(-code)`,
//! `ssl-redirect` / `force-ssl-redirect`, `app-root` (ASAP), `request-/response-header-control-add/update/
//! remove` (H), `upstream-vhost` (ASAP), `whitelist-source-range` (ASAP), `timeout` (H, seconds).
//! An invalid value is a diagnostic on the Ingress and the annotation is ignored.

use oxigress_ir::{HeaderEdits, Redirect, RoutePolicy};
use oxigress_objects::{Diagnostic, ObjectRef};

use super::Annotations;

/// The policy annotations of one Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyAnnotations {
    /// Applied to every route of the Ingress.
    pub policy: RoutePolicy,
    /// `app-root`: `GET /` on each of the Ingress' hosts answers 302 to this path.
    pub app_root: Option<String>,
}

impl PolicyAnnotations {
    /// Reads every policy annotation; problems become diagnostics about `object`.
    pub fn parse(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Self {
        let mut invalid = |key: &str, message: String| {
            diagnostics.push(Diagnostic::warning("InvalidAnnotation", Some(object.clone()), format!("{key}: {message}")))
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
            policy.allow_sources = sources(value, &mut invalid);
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
        Self { policy, app_root }
    }
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

/// `whitelist-source-range`: comma-separated addresses or CIDRs; `*` or `0.0.0.0/0` = everyone.
fn sources(value: &str, invalid: &mut impl FnMut(&str, String)) -> Vec<String> {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" || entry == "0.0.0.0/0" || entry == "::/0" {
            return Vec::new();
        }
        let (address, bits) = entry.split_once('/').unwrap_or((entry, ""));
        let parsed: Option<std::net::IpAddr> = address.parse().ok();
        let max = match parsed {
            Some(std::net::IpAddr::V4(_)) => 32,
            Some(std::net::IpAddr::V6(_)) => 128,
            None => {
                invalid("whitelist-source-range", format!("{entry:?} is not an address or CIDR"));
                continue;
            }
        };
        if !bits.is_empty() && !bits.parse::<u8>().is_ok_and(|b| b <= max) {
            invalid("whitelist-source-range", format!("{entry:?} has an invalid prefix length"));
            continue;
        }
        out.push(entry.to_string());
    }
    if out.is_empty() && !value.trim().is_empty() {
        // Nothing valid: deny everyone rather than open the route.
        out.push("255.255.255.255/32".to_string());
    }
    out
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
