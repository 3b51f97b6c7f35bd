//! Where a consumer's token comes from (Higress `handler/extractor.go`), on a working copy of the request
//! headers so that a consumer sees what earlier consumers changed (a removed `Authorization`, a trimmed
//! `Cookie`), as the Wasm plugin does through the host's header map.
//!
//! Order: `from_headers` (the first header present and non-empty decides: without its `value_prefix`
//! the header source yields nothing), then `from_params` (first non-empty value of the first listed
//! parameter, Go `url.Values` decoding), then `from_cookies`. Quirks kept: a cookie value stops at a
//! second `=`; `keep_token: false` removes the header, rewrites `Cookie` without every pair **starting
//! with** the cookie name (pairs re-joined with `;`), and leaves query parameters in place (Higress
//! deletes them from a copy only).

use http::header::{HeaderName, HeaderValue, COOKIE};
use http::{HeaderMap, Version};

use super::Consumer;
use crate::builtin::query_unescape_bytes;
use crate::HeaderEdits;

/// The request headers as the plugin changed them so far.
pub(crate) struct WorkingRequest<'a> {
    parts: &'a http::request::Parts,
    changed: Option<HeaderMap>,
    touched: Vec<HeaderName>,
}

impl<'a> WorkingRequest<'a> {
    pub(crate) fn new(parts: &'a http::request::Parts) -> Self {
        Self { parts, changed: None, touched: Vec::new() }
    }

    fn map(&self) -> &HeaderMap {
        self.changed.as_ref().unwrap_or(&self.parts.headers)
    }

    fn map_mut(&mut self, name: &HeaderName) -> &mut HeaderMap {
        if !self.touched.contains(name) {
            self.touched.push(name.clone());
        }
        let parts = self.parts;
        self.changed.get_or_insert_with(|| parts.headers.clone())
    }

    /// Envoy's `getHeaderMapValue`: the first value of the (lower-cased) header; HTTP/2 cookies come
    /// joined with `; `.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
        let map = self.map();
        if name == COOKIE && matches!(self.parts.version, Version::HTTP_2 | Version::HTTP_3) {
            let values: Vec<_> = map.get_all(&name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
            return (!values.is_empty()).then(|| values.join("; "));
        }
        map.get(&name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// `:path`.
    pub(crate) fn path(&self) -> &str {
        self.parts.uri.path_and_query().map_or_else(|| self.parts.uri.path(), |p| p.as_str())
    }

    pub(crate) fn remove(&mut self, name: &str) {
        if let Ok(name) = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()) {
            self.map_mut(&name).remove(&name);
        }
    }

    /// `ReplaceHttpRequestHeader` (names or values the HTTP layer cannot carry are dropped).
    pub(crate) fn replace(&mut self, name: &str, value: &str) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(value)) {
            self.map_mut(&name).insert(name, value);
        }
    }

    /// `AddHttpRequestHeader`.
    pub(crate) fn add(&mut self, name: &str, value: &str) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()), HeaderValue::from_str(value)) {
            self.map_mut(&name).append(name, value);
        }
    }

    /// The changes as edits: every touched header is removed and re-added with its final values.
    pub(crate) fn into_edits(self, edits: &mut HeaderEdits) {
        let Some(map) = self.changed else { return };
        for name in self.touched {
            edits.remove.push(name.as_str().to_string());
            for value in map.get_all(&name) {
                edits.add.push((name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()));
            }
        }
    }
}

/// `extractToken`: the consumer's token, or `""`.
pub(crate) fn extract_token(consumer: &Consumer, request: &mut WorkingRequest<'_>) -> String {
    let keep = consumer.keep_token;
    for source in &consumer.from_headers {
        let lower = source.name.to_lowercase();
        let Some(value) = request.header(&lower) else { continue };
        if value.is_empty() {
            continue;
        }
        let Some(token) = value.strip_prefix(source.value_prefix.as_str()) else { break };
        let token = token.to_string();
        if !keep {
            request.remove(&lower);
        }
        return token;
    }
    if !consumer.from_params.is_empty() {
        if let Some(query) = go_raw_query(request.path()) {
            let values = go_parse_query(query);
            for name in &consumer.from_params {
                let first = values.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| v.as_slice()).unwrap_or_default();
                if !first.is_empty() {
                    return String::from_utf8_lossy(first).into_owned();
                }
            }
        }
    }
    if consumer.from_cookies.is_empty() {
        return String::new();
    }
    let Some(cookies) = request.header("cookie") else { return String::new() };
    for name in &consumer.from_cookies {
        let token = find_cookie(&cookies, name);
        if !token.is_empty() {
            if !keep {
                request.replace("cookie", &delete_cookie(&cookies, name));
            }
            return token.to_string();
        }
    }
    String::new()
}

/// Higress `findCookie`: the text between the first and second `=` of the first pair named `key`.
fn find_cookie<'c>(cookies: &'c str, key: &str) -> &'c str {
    for pair in cookies.split(';') {
        let mut kv = pair.trim().split('=');
        if kv.next() == Some(key) {
            // Higress indexes `kv[1]` (a pair without `=` crashes the plugin); here it is empty.
            return kv.next().unwrap_or("");
        }
    }
    ""
}

/// Higress `deleteCookie`: pairs not starting with `key`, each followed by `;`, minus the last `;`.
fn delete_cookie(cookies: &str, key: &str) -> String {
    let mut result = String::new();
    for pair in cookies.split(';') {
        let pair = pair.trim();
        if !pair.starts_with(key) {
            result.push_str(pair);
            result.push(';');
        }
    }
    result.strip_suffix(';').map(str::to_string).unwrap_or(result)
}

/// The raw query of `path` as Go's `url.Parse` splits it; `None` where `url.Parse` fails (control
/// characters, bad percent-escapes in the path or fragment). Higress then dereferences a nil URL and its
/// SDK lets the request through; oxigress treats it as "no token in the query" instead.
fn go_raw_query(path: &str) -> Option<&str> {
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (rest, fragment) = path.split_once('#').map_or((path, None), |(r, f)| (r, Some(f)));
    let (before, query) = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        (&rest[..rest.len() - 1], "")
    } else {
        rest.split_once('?').unwrap_or((rest, ""))
    };
    if !valid_escapes(before) || !fragment.is_none_or(valid_escapes) {
        return None;
    }
    Some(query)
}

fn valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| *b != b'%' || bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)))
}

/// Go's `url.ParseQuery` (pairs split on `&` only; a pair with `;` or a bad escape is skipped).
fn go_parse_query(query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((query_unescape_bytes(key)?, query_unescape_bytes(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_like_higress() {
        assert_eq!(find_cookie("a=1; jwt_token=x.y; b=2", "jwt_token"), "x.y");
        assert_eq!(find_cookie("jwt_token=a=b", "jwt_token"), "a");
        assert_eq!(find_cookie("jwt_token=", "jwt_token"), "");
        assert_eq!(find_cookie("jwt_token", "jwt_token"), "");
        assert_eq!(find_cookie("xjwt_token=1", "jwt_token"), "");
        assert_eq!(delete_cookie("a=1; jwt_token=x; jwt_token_2=y; b=2", "jwt_token"), "a=1;b=2");
        assert_eq!(delete_cookie("jwt_token=x", "jwt_token"), "");
        assert_eq!(delete_cookie("a=1;", "jwt_token"), "a=1;");
    }

    #[test]
    fn query_like_go() {
        assert_eq!(go_raw_query("/info?access_token=a.b#frag"), Some("access_token=a.b"));
        assert_eq!(go_raw_query("/info?"), Some(""));
        assert_eq!(go_raw_query("/in%zzfo?a=b"), None);
        assert_eq!(go_raw_query("/info?a=%zz"), Some("a=%zz"));
        let parsed = go_parse_query("a=1&b=x+y&c=%41&bad=%z&semi=1;2&a=2&=v&k");
        let get = |k: &str| parsed.iter().find(|(key, _)| key == k.as_bytes()).map(|(_, v)| String::from_utf8_lossy(v).into_owned());
        assert_eq!(get("a").as_deref(), Some("1"));
        assert_eq!(get("b").as_deref(), Some("x y"));
        assert_eq!(get("c").as_deref(), Some("A"));
        assert_eq!(get("bad"), None);
        assert_eq!(get("semi"), None);
        assert_eq!(get("").as_deref(), Some("v"));
        assert_eq!(get("k").as_deref(), Some(""));
    }
}
