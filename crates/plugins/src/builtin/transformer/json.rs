//! The JSON the Go transformer edits with gjson/sjson and prints with `tidwall/pretty`: an order-keeping
//! tree (numbers keep their text), dotted paths, Go's re-encoding of values it moves, and pretty output.
//!
//! Paths: keys separated by `.`, `\` escapes the next character, a number indexes an array (`-1`
//! appends when setting); gjson's wildcards, `#` queries and `@` modifiers are not supported (they are
//! plain key characters here).

use std::fmt::Write as _;

/// A JSON value in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The number's text as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a whole document (surrounding white space allowed).
    pub(crate) fn parse(text: &[u8]) -> Option<Json> {
        let mut parser = Parser { text, pos: 0 };
        let value = parser.value(0)?;
        parser.space();
        (parser.pos == text.len()).then_some(value)
    }

    /// gjson's `.String()`: strings unquoted, `null` empty, anything else its JSON text.
    pub(crate) fn gjson_string(&self) -> String {
        match self {
            Json::Null => String::new(),
            Json::String(s) => s.clone(),
            other => other.compact(),
        }
    }

    /// gjson's `.Value()` put back by sjson (`json.Marshal`): object keys sorted (the last of equal keys
    /// wins), numbers re-printed from `float64`.
    pub(crate) fn go_value(&self) -> Json {
        match self {
            Json::Number(n) => Json::Number(go_float(n.parse::<f64>().unwrap_or(0.0), true)),
            Json::Array(items) => Json::Array(items.iter().map(Json::go_value).collect()),
            Json::Object(entries) => {
                let mut sorted: Vec<(String, Json)> = Vec::new();
                for (key, value) in entries {
                    match sorted.iter_mut().find(|(k, _)| k == key) {
                        Some(slot) => slot.1 = value.go_value(),
                        None => sorted.push((key.clone(), value.go_value())),
                    }
                }
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(sorted)
            }
            other => other.clone(),
        }
    }

    /// The value at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<&Json> {
        let mut node = self;
        for segment in split_path(path) {
            node = match node {
                Json::Object(entries) => entries.iter().find(|(k, _)| *k == segment).map(|(_, v)| v)?,
                Json::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Sets `path` to `value`, creating objects on the way (sjson `Set`).
    pub(crate) fn set(&mut self, path: &str, value: Json) -> Result<(), String> {
        let segments = split_path(path);
        if segments.is_empty() {
            return Err("empty path".into());
        }
        set_in(self, &segments, value)
    }

    /// Removes `path` (sjson `Delete`); a missing path is not an error.
    pub(crate) fn delete(&mut self, path: &str) {
        let segments = split_path(path);
        let Some((last, parents)) = segments.split_last() else { return };
        let mut node = self;
        for segment in parents {
            let next = match node {
                Json::Object(entries) => entries.iter_mut().find(|(k, _)| k == segment).map(|(_, v)| v),
                Json::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
                _ => None,
            };
            let Some(next) = next else { return };
            node = next;
        }
        match node {
            Json::Object(entries) => {
                if let Some(i) = entries.iter().position(|(k, _)| k == last) {
                    entries.remove(i);
                }
            }
            Json::Array(items) => {
                if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                    items.remove(i);
                }
            }
            _ => {}
        }
    }

    /// Compact JSON text.
    pub(crate) fn compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out, ",", ":");
        out
    }

    fn write_compact(&self, out: &mut String, comma: &str, colon: &str) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(comma);
                    }
                    item.write_compact(out, comma, colon);
                }
                out.push(']');
            }
            Json::Object(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(comma);
                    }
                    write_string(out, key);
                    out.push_str(colon);
                    value.write_compact(out, comma, colon);
                }
                out.push('}');
            }
        }
    }

    /// `tidwall/pretty`'s default layout: two-space indent, arrays without objects on one line when they
    /// fit in 80 columns, a final newline.
    pub(crate) fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out.push('\n');
        out
    }

    fn write_pretty(&self, out: &mut String, depth: usize) {
        match self {
            Json::Array(items) if !items.is_empty() => {
                let column = out.len() - out.rfind('\n').map_or(0, |i| i + 1);
                if !self.has_object() {
                    let mut line = String::new();
                    self.write_compact(&mut line, ", ", ": ");
                    if 80usize.saturating_sub(column) > 3 && line.len() <= 80 - column {
                        out.push_str(&line);
                        return;
                    }
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i > 0 { ",\n" } else { "\n" });
                    indent(out, depth + 1);
                    item.write_pretty(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push(']');
            }
            Json::Object(entries) if !entries.is_empty() => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    out.push_str(if i > 0 { ",\n" } else { "\n" });
                    indent(out, depth + 1);
                    write_string(out, key);
                    out.push_str(": ");
                    value.write_pretty(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
            other => other.write_compact(out, ",", ":"),
        }
    }

    fn has_object(&self) -> bool {
        match self {
            Json::Object(_) => true,
            Json::Array(items) => items.iter().any(Json::has_object),
            _ => false,
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `float64` as Go prints it: `encoding/json` (`exponent` allowed below 1e-6 and from 1e21) or
/// `strconv.FormatFloat(f, 'f', -1, 64)` as sjson does for a top-level number.
pub(crate) fn go_float(f: f64, json_marshal: bool) -> String {
    let abs = f.abs();
    if json_marshal && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        return match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => text,
        };
    }
    format!("{f}")
}

fn split_path(path: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), segments.last_mut()) {
                    last.push(next);
                }
            }
            '.' => segments.push(String::new()),
            c => {
                if let Some(last) = segments.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    if path.is_empty() {
        segments.clear();
    }
    segments
}

fn set_in(node: &mut Json, segments: &[String], value: Json) -> Result<(), String> {
    let Some((segment, rest)) = segments.split_first() else {
        *node = value;
        return Ok(());
    };
    match node {
        Json::Object(entries) => {
            let index = match entries.iter().position(|(k, _)| k == segment) {
                Some(i) => i,
                None => {
                    entries.push((segment.clone(), Json::Null));
                    entries.len() - 1
                }
            };
            let child = &mut entries[index].1;
            if !rest.is_empty() && !matches!(child, Json::Object(_) | Json::Array(_)) {
                *child = Json::Object(Vec::new());
            }
            set_in(child, rest, value)
        }
        Json::Array(items) => {
            let index = if segment == "-1" {
                items.len()
            } else {
                segment.parse::<usize>().map_err(|_| format!("cannot set key {segment:?} in an array"))?
            };
            while items.len() <= index {
                items.push(Json::Null);
            }
            let child = &mut items[index];
            if !rest.is_empty() && !matches!(child, Json::Object(_) | Json::Array(_)) {
                *child = Json::Object(Vec::new());
            }
            set_in(child, rest, value)
        }
        _ => Err("cannot set a path inside a scalar".into()),
    }
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.text.get(self.pos).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &[u8]) -> bool {
        if self.text[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > 512 {
            return None;
        }
        self.space();
        match *self.text.get(self.pos)? {
            b'n' => self.eat(b"null").then_some(Json::Null),
            b't' => self.eat(b"true").then_some(Json::Bool(true)),
            b'f' => self.eat(b"false").then_some(Json::Bool(false)),
            b'"' => self.string().map(Json::String),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.space();
                if self.eat(b"]") {
                    return Some(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    if self.eat(b"]") {
                        return Some(Json::Array(items));
                    }
                    if !self.eat(b",") {
                        return None;
                    }
                }
            }
            b'{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.space();
                if self.eat(b"}") {
                    return Some(Json::Object(entries));
                }
                loop {
                    self.space();
                    if self.text.get(self.pos) != Some(&b'"') {
                        return None;
                    }
                    let key = self.string()?;
                    self.space();
                    if !self.eat(b":") {
                        return None;
                    }
                    entries.push((key, self.value(depth + 1)?));
                    self.space();
                    if self.eat(b"}") {
                        return Some(Json::Object(entries));
                    }
                    if !self.eat(b",") {
                        return None;
                    }
                }
            }
            _ => self.number().map(Json::Number),
        }
    }

    fn number(&mut self) -> Option<String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.text.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > s
        };
        self.eat(b"-");
        if !self.eat(b"0") && !digits(self) {
            return None;
        }
        if self.eat(b".") && !digits(self) {
            return None;
        }
        if self.eat(b"e") || self.eat(b"E") {
            let _ = self.eat(b"+") || self.eat(b"-");
            if !digits(self) {
                return None;
            }
        }
        std::str::from_utf8(&self.text[start..self.pos]).ok().map(String::from)
    }

    fn string(&mut self) -> Option<String> {
        self.pos += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let b = *self.text.get(self.pos)?;
            self.pos += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let escape = *self.text.get(self.pos)?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code) && self.text[self.pos..].starts_with(b"\\u") {
                                let save = self.pos;
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                                } else {
                                    self.pos = save;
                                }
                            }
                            let c = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return None,
                    }
                }
                b if b < 0x20 => return None,
                b => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        let code = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.pos += 4;
        Some(code)
    }
}
