//! JSON as the Go decoders behind jwt-auth see it.
//!
//! [`Json`] keeps object members in document order, duplicates included, so both decoders can be
//! reproduced: Go's `encoding/json` (struct fields matched case-insensitively, the last match wins) and
//! go-jose's fork of it (fields matched exactly, a repeated key anywhere is an error). Numbers are
//! `float64`, as when Go decodes into `interface{}`; invalid UTF-8 inside strings becomes U+FFFD, as in Go.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value with ordered object members.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses a whole document (only whitespace may follow the value).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Json, String> {
        let text = String::from_utf8_lossy(bytes);
        let mut deserializer = serde_json::Deserializer::from_str(&text);
        let value = Json::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
        deserializer.end().map_err(|e| e.to_string())?;
        Ok(value)
    }

    /// Parses a whole document as go-jose does: a key repeated within one object is an error.
    pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Json, String> {
        let value = Json::parse(bytes)?;
        value.check_unique_keys()?;
        Ok(value)
    }

    /// go-jose's rule: no key repeated within one object, at any depth.
    pub(crate) fn check_unique_keys(&self) -> Result<(), String> {
        match self {
            Json::Array(items) => items.iter().try_for_each(Json::check_unique_keys),
            Json::Object(members) => {
                for (i, (key, value)) in members.iter().enumerate() {
                    if members[..i].iter().any(|(k, _)| k == key) {
                        return Err(format!("json: duplicate key '{key}' in object"));
                    }
                    value.check_unique_keys()?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The member `name` matched exactly (go-jose), if this is an object.
    pub(crate) fn member(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The member Go's `encoding/json` assigns to field `name`: the last key equal to it ignoring ASCII
    /// case.
    pub(crate) fn member_folded(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The name of the JSON type, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "bool",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// `fmt.Sprint(v)` of the value Go decodes into `interface{}`: strings bare, numbers as `%v` of a
    /// `float64` (`2.0196864e+09`), `<nil>`, `[a b]`, `map[k:v]` with sorted keys.
    pub(crate) fn go_sprint(&self) -> String {
        match self {
            Json::Null => "<nil>".to_string(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => go_format_float(*n),
            Json::String(s) => s.clone(),
            Json::Array(items) => format!("[{}]", items.iter().map(Json::go_sprint).collect::<Vec<_>>().join(" ")),
            Json::Object(members) => {
                let mut sorted: Vec<_> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let parts: Vec<_> = sorted.iter().map(|(k, v)| format!("{k}:{}", v.go_sprint())).collect();
                format!("map[{}]", parts.join(" "))
            }
        }
    }
}

/// Go's `%v` for a `float64` (strconv `'g'` with the shortest precision: exponent form when the decimal
/// exponent is below -4 or at least 6).
pub(crate) fn go_format_float(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() { "NaN".into() } else if value > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-d.ddde-5`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.chars().all(|c| c == '0') { "0".to_string() } else { digits };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
        return out;
    }
    let point = exponent + 1; // digits before the decimal point
    let digit_at = |i: i32| -> char {
        usize::try_from(i).ok().and_then(|i| digits.as_bytes().get(i)).map_or('0', |b| char::from(*b))
    };
    if point > 0 {
        (0..point).for_each(|i| out.push(digit_at(i)));
    } else {
        out.push('0');
    }
    let fraction = i32::try_from(digits.len()).unwrap_or(i32::MAX) - point;
    if fraction > 0 {
        out.push('.');
        (0..fraction).for_each(|i| out.push(digit_at(point + i)));
    }
    out
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

/// `Json` from a configuration value (object members in the map's order).
impl From<&serde_json::Value> for Json {
    fn from(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Json::Null,
            serde_json::Value::Bool(b) => Json::Bool(*b),
            serde_json::Value::Number(n) => Json::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Json::String(s.clone()),
            serde_json::Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            serde_json::Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formatting() {
        for (value, expected) in [
            (2019686400.0, "2.0196864e+09"),
            (1704067200.0, "1.7040672e+09"),
            (1000000.0, "1e+06"),
            (123456.0, "123456"),
            (1.5, "1.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (12.345, "12.345"),
        ] {
            assert_eq!(go_format_float(value), expected, "{value}");
        }
    }

    #[test]
    fn sprint_like_go() {
        let json = Json::parse(br#"{"b":[1,"x",null,true],"a":{"z":1,"y":"s"}}"#).unwrap();
        assert_eq!(json.go_sprint(), "map[a:map[y:s z:1] b:[1 x <nil> true]]");
    }

    #[test]
    fn duplicates_and_folding() {
        assert!(Json::parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(Json::parse_strict(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        let json = Json::parse(br#"{"Name":"a","name":"b","NAME":"c"}"#).unwrap();
        assert_eq!(json.member_folded("name"), Some(&Json::String("c".into())));
        assert_eq!(json.member("name"), Some(&Json::String("b".into())));
        assert!(Json::parse(b"{} x").is_err());
        assert_eq!(Json::parse(b" null ").unwrap(), Json::Null);
        assert_eq!(Json::parse(b"\"\xff\"").unwrap(), Json::String("\u{fffd}".into()));
    }
}
