//! JSON helpers with Higress's byte-level behaviour: `sjson`-style edits of a body that keep every other
//! byte (key order, spacing) as the client sent it, and Go `encoding/json` output (HTML characters
//! escaped) for bodies oxigress builds.

use serde::Serialize;

/// One member of an object: its key, where its key starts and the byte range of its value.
struct Member {
    key: String,
    start: usize,
    value: std::ops::Range<usize>,
}

/// The top-level members of a JSON object; `None` when `text` is not an object.
fn members(text: &str) -> Option<Vec<Member>> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        let i_key = i;
        let key_end = skip_string(bytes, i)?;
        let key: String = serde_json::from_str(&text[i..key_end]).ok()?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(bytes, i + 1);
        let end = skip_value(bytes, start)?;
        out.push(Member { key, start: i_key, value: start..end });
        i = skip_ws(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b'}') => return Some(out),
            _ => return None,
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i`.
fn skip_string(bytes: &[u8], i: usize) -> Option<usize> {
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match bytes.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// End (exclusive) of the value starting at `i`.
fn skip_value(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i)? {
        b'"' => skip_string(bytes, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match bytes.get(j)? {
                    b'"' => {
                        j = skip_string(bytes, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while bytes.get(j).is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace()) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The byte ranges of the elements of a JSON array; `None` when `text` is not an array.
pub(crate) fn elements(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(bytes, i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b']') {
        return Some(out);
    }
    loop {
        let end = skip_value(bytes, i)?;
        out.push(i..end);
        i = skip_ws(bytes, end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b']') => return Some(out),
            _ => return None,
        }
    }
}

/// The raw text of the value at `path` (object keys only), if present.
pub(crate) fn get_raw<'a>(text: &'a str, path: &[&str]) -> Option<&'a str> {
    let (first, rest) = path.split_first()?;
    let member = members(text)?.into_iter().find(|m| m.key == *first)?;
    let value = &text[member.value];
    if rest.is_empty() {
        Some(value)
    } else {
        get_raw(value, rest)
    }
}

/// `text` with the value at `path` set to `raw` (JSON text), creating objects on the way; other bytes
/// unchanged (sjson `SetRaw` for dotted object paths). `None` when `text` (or a value on the path) is not
/// an object.
pub(crate) fn set_raw(text: &str, path: &[&str], raw: &str) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let members = members(text)?;
    match members.iter().find(|m| m.key == *first) {
        Some(member) => {
            let range = member.value.clone();
            let value = if rest.is_empty() { raw.to_string() } else { set_raw(&text[range.clone()], rest, raw)? };
            Some(format!("{}{}{}", &text[..range.start], value, &text[range.end..]))
        }
        None => {
            let value = if rest.is_empty() { raw.to_string() } else { set_raw("{}", rest, raw)? };
            let key = serde_json::to_string(first).ok()?;
            let close = text.rfind('}')?;
            let sep = if members.is_empty() { "" } else { "," };
            Some(format!("{}{sep}{key}:{value}{}", &text[..close], &text[close..]))
        }
    }
}

/// `text` without the top-level member `key` (sjson `Delete`); unchanged when absent.
pub(crate) fn delete(text: &str, key: &str) -> Option<String> {
    let members = members(text)?;
    let Some(index) = members.iter().position(|m| m.key == key) else {
        return Some(text.to_string());
    };
    let (start, end) = match (index.checked_sub(1), members.get(index + 1)) {
        // Up to the next member's key (takes the comma after).
        (_, Some(next)) => (members[index].start, next.start),
        // From the end of the previous value (takes the comma before).
        (Some(previous), None) => (members[previous].value.end, members[index].value.end),
        (None, None) => (members[index].start, members[index].value.end),
    };
    Some(format!("{}{}", &text[..start], &text[end..]))
}

/// `value` as Go's `json.Marshal` writes it: compact, with `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub(crate) fn go_marshal<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let plain = serde_json::to_vec(value).unwrap_or_default();
    let mut out = Vec::with_capacity(plain.len());
    let mut i = 0;
    while i < plain.len() {
        match plain[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if plain.get(i + 1) == Some(&0x80) && matches!(plain.get(i + 2), Some(0xA8 | 0xA9)) => {
                out.extend_from_slice(if plain[i + 2] == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i += 3;
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// [`go_marshal`] as text.
pub(crate) fn go_string<T: Serialize + ?Sized>(value: &T) -> String {
    String::from_utf8(go_marshal(value)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_other_bytes() {
        let body = r#"{"model":"gpt-3", "messages":[{"content":"a,}\"b"}],"stream":true}"#;
        assert_eq!(set_raw(body, &["model"], "\"qwen\"").unwrap(), r#"{"model":"qwen", "messages":[{"content":"a,}\"b"}],"stream":true}"#);
        assert_eq!(
            set_raw(body, &["stream_options", "include_usage"], "true").unwrap(),
            r#"{"model":"gpt-3", "messages":[{"content":"a,}\"b"}],"stream":true,"stream_options":{"include_usage":true}}"#
        );
        let with = r#"{"stream_options":{"x":1}}"#;
        assert_eq!(set_raw(with, &["stream_options", "include_usage"], "true").unwrap(), r#"{"stream_options":{"x":1,"include_usage":true}}"#);
        assert_eq!(set_raw("{}", &["a"], "1").unwrap(), r#"{"a":1}"#);
        assert!(set_raw("[1]", &["a"], "1").is_none());
        assert_eq!(get_raw(body, &["stream"]), Some("true"));
        assert_eq!(get_raw(with, &["stream_options", "x"]), Some("1"));
        let list = r#"[ {"a":[1,2]}, "x,]" ,3]"#;
        let items: Vec<&str> = elements(list).unwrap().into_iter().map(|r| &list[r]).collect();
        assert_eq!(items, [r#"{"a":[1,2]}"#, r#""x,]""#, "3"]);
    }

    #[test]
    fn delete_members() {
        assert_eq!(delete(r#"{"a":1,"b":2,"c":3}"#, "b").unwrap(), r#"{"a":1,"c":3}"#);
        assert_eq!(delete(r#"{"a":1,"b":2}"#, "b").unwrap(), r#"{"a":1}"#);
        assert_eq!(delete(r#"{"a":1,"b":2}"#, "a").unwrap(), r#"{"b":2}"#);
        assert_eq!(delete(r#"{"a":1}"#, "a").unwrap(), "{}");
        assert_eq!(delete(r#"{"a":1}"#, "z").unwrap(), r#"{"a":1}"#);
    }

    #[test]
    fn go_escapes_html() {
        assert_eq!(go_string(&serde_json::json!({"a": "<b>&\u{2028}"})), r#"{"a":"\u003cb\u003e\u0026\u2028"}"#);
    }
}
