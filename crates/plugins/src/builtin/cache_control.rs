//! `cache-control`: add `Expires` and `Cache-Control` to responses of requests whose path ends in one of
//! the configured file suffixes. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/cache-control/main.go`), quirks included:
//! - `suffix` is one string, `|`-separated (`jpg|png`), items not trimmed; the request path (without query)
//!   must end with `.` + item, case-sensitively; no `suffix` (or an empty one) matches every path;
//! - `expires`: `max` ⇒ `Expires: Thu, 31 Dec 2037 23:55:55 GMT`, `Cache-Control: maxAge=315360000`;
//!   `epoch` ⇒ `Expires: Thu, 01 Jan 1970 00:00:01 GMT`, `Cache-Control: no-cache`; otherwise a number of
//!   seconds `n` (Go `ParseInt`; anything unparsable, a missing `expires` included, is **0**) ⇒ `Expires`
//!   = now + n (HTTP date) and **`Cache-Control: maxAge=<n>`** (sic, not `max-age`);
//! - both headers are **appended**, not replaced (an upstream `Cache-Control` stays);
//! - nothing is validated (the README's "required" `expires` is not enforced).
//!
//! oxigress differences: the path is the request path as the upstream received it (after every plugin's
//! rewrite), where Higress remembers it when this plugin's request phase ran; `expires` beyond the range of
//! `i64` saturates and the date is clamped to years 0–9999.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::gjson_string;
use crate::{ConfigError, Plugin, RequestView, ResponseEdits, ResponseView};

/// Plugin name.
pub const NAME: &str = "cache-control";

/// What `expires` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expires {
    /// `max`.
    Max,
    /// `epoch`.
    Epoch,
    /// Seconds from now.
    Seconds(i64),
}

/// A configured cache-control.
#[derive(Debug)]
pub struct CacheControl {
    /// `.jpg`, `.png`, …; empty = every path.
    suffixes: Vec<String>,
    expires: Expires,
}

impl CacheControl {
    /// Parses the plugin configuration (never fails: Higress validates nothing).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let suffix = gjson_string(config, "suffix");
        let suffixes =
            if suffix.is_empty() { Vec::new() } else { suffix.split('|').map(|s| format!(".{s}")).collect() };
        let expires = match gjson_string(config, "expires").as_str() {
            "max" => Expires::Max,
            "epoch" => Expires::Epoch,
            other => Expires::Seconds(go_parse_int(other)),
        };
        Ok(Self { suffixes, expires })
    }

    /// The `(Expires, Cache-Control)` values at `now` (Unix seconds).
    fn header_values(&self, now: i64) -> (String, String) {
        match self.expires {
            Expires::Max => ("Thu, 31 Dec 2037 23:55:55 GMT".into(), "maxAge=315360000".into()),
            Expires::Epoch => ("Thu, 01 Jan 1970 00:00:01 GMT".into(), "no-cache".into()),
            Expires::Seconds(n) => (http_date(now.saturating_add(n)), format!("maxAge={n}")),
        }
    }
}

impl Plugin for CacheControl {
    fn name(&self) -> &str {
        NAME
    }

    fn on_response_headers(&self, request: &RequestView<'_>, _response: &ResponseView<'_>, edits: &mut ResponseEdits) {
        let path = request.parts.uri.path();
        if !self.suffixes.is_empty() && !self.suffixes.iter().any(|s| path.ends_with(s.as_str())) {
            return;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let (expires, cache_control) = self.header_values(now);
        edits.headers.add.push(("Expires".into(), expires));
        edits.headers.add.push(("Cache-Control".into(), cache_control));
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)` with the error ignored: 0 when malformed, saturated when out of range.
fn go_parse_int(text: &str) -> i64 {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    text.parse().unwrap_or(if text.starts_with('-') { i64::MIN } else { i64::MAX })
}

/// An IMF-fixdate (`Mon, 02 Jan 2006 15:04:05 GMT`) for Unix time `secs`, years clamped to 0–9999.
pub(crate) fn http_date(secs: i64) -> String {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    let secs = secs.clamp(-62_167_219_200, 253_402_300_799);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month 1–12, day 1–31) of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
