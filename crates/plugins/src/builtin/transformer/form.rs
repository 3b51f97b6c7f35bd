//! Go's `net/url` query handling, `mime.ParseMediaType` and `mime/multipart` form fields, as far as the
//! transformer uses them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::builtin::query_unescape;

/// Keys (sorted, as `url.Values.Encode` writes them) to their values in order.
pub(crate) type Kvs = BTreeMap<String, Vec<String>>;

/// `url.ParseQuery`, keeping what parses: pairs with `;` or a bad escape are dropped (the `Err` says one
/// was, as Go returns its first error).
pub(crate) fn parse_query(query: &str) -> (Kvs, bool) {
    let mut kvs = Kvs::new();
    let mut ok = true;
    for pair in query.split('&') {
        if pair.contains(';') {
            ok = false;
            continue;
        }
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (query_unescape(key), query_unescape(value)) {
            (Some(key), Some(value)) => kvs.entry(key).or_default().push(value),
            _ => ok = false,
        }
    }
    (kvs, ok)
}


/// `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `url.Values.Encode`: keys sorted, `k=v` joined by `&`.
pub(crate) fn encode_query(kvs: &Kvs) -> String {
    let mut out = String::new();
    for (key, values) in kvs {
        let key = query_escape(key);
        for value in values {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&key);
            out.push('=');
            out.push_str(&query_escape(value));
        }
    }
    out
}

/// A request target split as `url.Parse` does: path, query (`None` without `?`; `Some("")` for a
/// trailing `?`), fragment. `None` when Go would refuse it (control bytes, a bad escape in the path).
pub(crate) fn split_target(target: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    if target.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (rest, fragment) = match target.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (target, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' && !bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return None;
        }
    }
    Some((path, query, fragment))
}

/// `mime.ParseMediaType`: the lower-cased media type and its parameters; `None` when Go returns an error.
pub(crate) fn media_type(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let (base, mut rest) = value.split_once(';').unwrap_or((value, ""));
    let base = base.trim().to_ascii_lowercase();
    let is_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    let (kind, sub) = base.split_once('/').unwrap_or((&base, ""));
    if !is_token(kind) || (base.contains('/') && !is_token(sub)) {
        return None;
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let key = key.trim();
        if !is_token(key) {
            return None;
        }
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end?..])
        } else {
            let end = after.find(|c: char| c == ';' || c.is_whitespace()).unwrap_or(after.len());
            if !is_token(&after[..end]) {
                return None;
            }
            (after[..end].to_string(), &after[end..])
        };
        params.push((key.to_ascii_lowercase(), value));
        let next = next.trim_start();
        rest = match next.strip_prefix(';') {
            Some(r) => r,
            None if next.is_empty() => "",
            None => return None,
        };
    }
    Some((base, params))
}

/// The form fields (`name` without `filename`) of a `multipart/form-data` body; `None` when it does not
/// parse. File parts are skipped, as the Go plugin does.
pub(crate) fn parse_multipart(body: &[u8], boundary: &str) -> Option<Kvs> {
    if boundary.is_empty() {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let mut kvs = Kvs::new();
    let start = find(body, delimiter.as_bytes())?;
    let mut rest = &body[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(kvs);
        }
        let line_end = find(rest, b"\n")?;
        rest = &rest[line_end + 1..];
        let header_end = find(rest, b"\r\n\r\n").map(|i| (i, 4)).or_else(|| find(rest, b"\n\n").map(|i| (i, 2)))?;
        let headers = String::from_utf8_lossy(&rest[..header_end.0]).into_owned();
        rest = &rest[header_end.0 + header_end.1..];
        let next = find(rest, format!("\r\n{delimiter}").as_bytes()).map(|i| (i, i + 2 + delimiter.len()))
            .or_else(|| find(rest, format!("\n{delimiter}").as_bytes()).map(|i| (i, i + 1 + delimiter.len())))?;
        let content = &rest[..next.0];
        rest = &rest[next.1..];
        let disposition = headers
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-disposition")))
            .map(|(_, v)| v.trim().to_string());
        let Some(disposition) = disposition else { continue };
        let Some((kind, params)) = media_type(&disposition) else { continue };
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let name = if kind == "form-data" { param("name").unwrap_or("") } else { "" };
        if name.is_empty() || param("filename").is_some_and(|f| !f.is_empty()) {
            continue;
        }
        kvs.entry(name.to_string()).or_default().push(String::from_utf8_lossy(content).into_owned());
    }
}

/// A `multipart/form-data` body of `kvs` written as Go's `multipart.Writer.WriteField` does; `None`
/// for a boundary Go's `SetBoundary` refuses.
pub(crate) fn write_multipart(kvs: &Kvs, boundary: &str) -> Option<Vec<u8>> {
    let valid = (1..=70).contains(&boundary.len())
        && boundary.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&b) || (b == b' ' && i + 1 != boundary.len())
        });
    if !valid {
        return None;
    }
    let mut out = String::new();
    let mut first = true;
    for (key, values) in kvs {
        for value in values {
            if first {
                let _ = write!(out, "--{boundary}\r\n");
                first = false;
            } else {
                let _ = write!(out, "\r\n--{boundary}\r\n");
            }
            let escaped = key.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(out, "Content-Disposition: form-data; name=\"{escaped}\"\r\n\r\n{value}");
        }
    }
    let _ = write!(out, "\r\n--{boundary}--\r\n");
    Some(out.into_bytes())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
