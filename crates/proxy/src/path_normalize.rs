//! Request path normalization, before routing: the request's path as Envoy's `normalize_path` (which
//! Istio, and so Higress, turns on for its gateways) makes it, so routes, plugins and the upstream all
//! see one path. Without it `/public/../admin` would match a `/public` route (and its lack of
//! authentication) while the backend serves `/admin`.
//!
//! What changes (RFC 3986 §5.2.4 and the URL canonicalization Envoy applies): dot segments are
//! removed (`/a/b/../c` → `/a/c`, also written `%2e`/`%2E`), a backslash separates segments as a slash
//! does, escaped unreserved characters are decoded (`%41` → `A`, `%7e` → `~`), and a path that does not
//! start with a slash gets one. Other escapes (`%2F`, `%5C`, …) keep their spelling, repeated slashes
//! stay, and the query is never touched. An escaped NUL (`%00`) makes the path invalid (400).

use std::borrow::Cow;

/// What [`normalize`] made of a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Normalized<'a> {
    /// The path (borrowed when already normal: the usual case, without allocating).
    Path(Cow<'a, str>),
    /// The path cannot be normalized (an escaped NUL): the request is answered 400.
    Invalid,
}

/// Normalizes `path` (the path part of a request target, without the query).
pub fn normalize(path: &str) -> Normalized<'_> {
    if path == "*" || is_normal(path.as_bytes()) {
        return Normalized::Path(Cow::Borrowed(path));
    }
    let Some(decoded) = decode_unreserved(path.as_bytes()) else {
        return Normalized::Invalid;
    };
    let is_separator = |b: &u8| *b == b'/' || *b == b'\\';
    // The segments after the root (a path without its leading separator gets one in the output).
    let relative = match decoded.split_first() {
        Some((first, rest)) if is_separator(first) => rest,
        _ => &decoded[..],
    };
    let mut segments: Vec<&[u8]> = Vec::new();
    // Whether the path ends in a separator (or a dot segment, which leaves one).
    let mut trailing_slash = false;
    for segment in relative.split(is_separator) {
        trailing_slash = false;
        match segment {
            b"." => trailing_slash = true,
            b".." => {
                // Above the root stays at the root.
                segments.pop();
                trailing_slash = true;
            }
            // Empty ones (repeated slashes) are kept as they are.
            _ => segments.push(segment),
        }
    }
    let mut out = Vec::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push(b'/');
    }
    // Only ASCII bytes were decoded and only ASCII separators added to a `str`: still UTF-8.
    match String::from_utf8(out) {
        Ok(normal) if normal == path => Normalized::Path(Cow::Borrowed(path)),
        Ok(normal) => Normalized::Path(Cow::Owned(normal)),
        Err(_) => Normalized::Invalid,
    }
}

/// Whether `path` is certainly normal already: it starts with `/` and has no dot segment, backslash or
/// escape. Short paths (most) are checked byte by byte; `memchr`'s vector search costs more than that
/// to set up.
fn is_normal(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    // A dot is a problem only where a segment starts with it (`/.`, `/..`); `file.tar.gz` is fine.
    if path.len() <= 32 {
        let mut previous = 0;
        for &byte in path {
            if byte == b'%' || byte == b'\\' || (byte == b'.' && previous == b'/') {
                return false;
            }
            previous = byte;
        }
        return true;
    }
    memchr::memchr3_iter(b'.', b'%', b'\\', path).all(|at| path[at] == b'.' && path[at - 1] != b'/')
}

/// `path` with escapes of unreserved characters decoded (`%2e` → `.`); `None` for an escaped NUL.
fn decode_unreserved(path: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(path.len());
    let mut rest = path;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            if let [high, low, ..] = tail {
                if let (Some(high), Some(low)) = (hex(*high), hex(*low)) {
                    let decoded = high << 4 | low;
                    if decoded == 0 {
                        return None;
                    }
                    if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                        out.push(decoded);
                        rest = &tail[2..];
                        continue;
                    }
                }
            }
        }
        out.push(byte);
        rest = tail;
    }
    Some(out)
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize, Normalized};

    fn normal(path: &str) -> String {
        match normalize(path) {
            Normalized::Path(p) => p.into_owned(),
            Normalized::Invalid => panic!("{path} was found invalid"),
        }
    }

    #[test]
    fn normal_paths_are_borrowed_unchanged() {
        for path in ["/", "/xyz", "/x/y/z", "/A/B/C", "/index.html", "/v1.2/a.b.c", "/a//b", "/a/b/", "/a/.well", "*"] {
            assert!(matches!(normalize(path), Normalized::Path(std::borrow::Cow::Borrowed(p)) if p == path), "{path}");
        }
        // Long paths take the vector search: the same answers.
        let long = format!("/{}/index.html", "segment".repeat(8));
        assert!(matches!(normalize(&long), Normalized::Path(std::borrow::Cow::Borrowed(_))));
        assert_eq!(normal(&format!("{long}/../a")), format!("/{}/a", "segment".repeat(8)));
        assert_eq!(normal(&format!("{long}%41")), format!("{long}A"));
        // An escape that stays an escape: the same path, still borrowed.
        assert!(matches!(normalize("/a%2Fb"), Normalized::Path(std::borrow::Cow::Borrowed("/a%2Fb"))));
    }

    /// Envoy's `PathUtilityTest` cases (`NormalizeValidPaths`, `NormalizeCasePath`).
    #[test]
    fn paths_normalize_as_in_envoy() {
        for (path, expected) in [
            ("/a/b/../c", "/a/c"),
            ("/a/b/./c", "/a/b/c"),
            ("a/b/../c", "/a/c"),
            ("/a/b/../../../../c", "/c"),
            ("/a/..\\c", "/c"),
            ("/%c0%af", "/%c0%af"),
            ("/%5c%25", "/%5c%25"),
            ("/a/b/%2E%2E/c", "/a/c"),
            ("/a/b/%2e%2e/c", "/a/c"),
            ("/a/%2F%2f/c", "/a/%2F%2f/c"),
        ] {
            assert_eq!(normal(path), expected, "{path}");
        }
    }

    #[test]
    fn dot_segments_at_the_ends_leave_a_directory() {
        for (path, expected) in [
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/..", "/"),
            ("/.", "/"),
            ("/a/b/..", "/a/"),
            ("..", "/"),
            ("foo", "/foo"),
            ("", "/"),
            ("/public/../admin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/%61dmin", "/admin"),
            ("/a\\b", "/a/b"),
            ("/a/.../b", "/a/.../b"),
            ("/a/..b/c", "/a/..b/c"),
            ("/a//../b", "/a/b"),
            ("/%7E%2D%5F", "/~-_"),
            ("/a%", "/a%"),
            ("/a%4", "/a%4"),
            ("/a%zz", "/a%zz"),
        ] {
            assert_eq!(normal(path), expected, "{path}");
        }
    }

    #[test]
    fn an_escaped_nul_is_invalid() {
        for path in ["/xyz/.%00../abc", "/xyz/%00.%00./abc", "/a%00"] {
            assert_eq!(normalize(path), Normalized::Invalid, "{path}");
        }
    }

    proptest::proptest! {
        /// Normalizing twice changes nothing more, and the result never holds a dot segment. (The
        /// inputs have no escaped digits: `%%32%45` decodes to `%2E` in one pass, as in Envoy, whose
        /// normalization is one pass too.)
        #[test]
        fn normalizing_is_idempotent(path in "[/a.%2eE\\\\]{0,24}") {
            if let Normalized::Path(once) = normalize(&path) {
                let once = once.into_owned();
                proptest::prop_assert_eq!(normal(&once), once.clone());
                proptest::prop_assert!(once.starts_with('/'));
                proptest::prop_assert!(!once.split('/').any(|s| s == "." || s == ".."), "{}", once);
            }
        }
    }
}
