//! `ip-restriction`: allow or deny requests by client IP (single addresses and CIDR ranges). Semantics of
//! Higress's Go plugin (`plugins/wasm-go/extensions/ip-restriction/main.go` + `utils.go`), quirks included:
//! - `ip_source_type`: `header` reads the IP from the request header `ip_header_name` (default
//!   `X-Forwarded-For`); anything else (default `origin-source`) uses the downstream peer address;
//! - from a header, the **first** comma-separated element is used, trimmed of spaces; an IPv4 value loses
//!   everything from the first `:` (`1.2.3.4:80` → `1.2.3.4`), a value with `]` is read as `[v6]:port`;
//!   IPv4-mapped IPv6 addresses count as IPv4;
//! - exactly one of `allow` / `deny` must be non-empty ("cannot be set at the same time", "cannot be empty
//!   at the same time"); entries are `a.b.c.d`, `a.b.c.d/n`, IPv6 likewise; host bits are ignored
//!   (`192.168.0.1/16` = `192.168.0.0/16`); duplicates are fine; a scalar instead of a list counts as a
//!   one-entry list (gjson `.Array()`);
//! - **a missing header or an unparsable IP is denied, in deny mode too** (`get_ip_failed`);
//! - the denial is `status` (used when > 1, else 403) with the body `{"message": <message>}` (default
//!   message `Your IP address is blocked.`), JSON-encoded as Go's `encoding/json` does (`<`, `>`, `&`
//!   escaped), `Content-Type: text/plain` as Envoy's local replies carry.
//!
//! oxigress differences: a `status` outside 100–999, an IPv4 entry with a prefix over 32 (Higress silently
//! matches everything) and an invalid `ip_header_name` are configuration errors.

use std::net::IpAddr;

use bytes::Bytes;
use http::HeaderName;
use ipnet::IpNet;
use serde_json::Value;

use super::{gjson_int, gjson_string};
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "ip-restriction";

const DEFAULT_HEADER: &str = "x-forwarded-for";
const DEFAULT_STATUS: u16 = 403;
const DEFAULT_MESSAGE: &str = "Your IP address is blocked.";

/// Where the client IP comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IpSource {
    /// The downstream peer address (`origin-source`).
    Peer,
    /// The first element of this request header (`header`).
    Header(HeaderName),
}

/// Which list is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Allow(Vec<IpNet>),
    Deny(Vec<IpNet>),
}

/// A configured ip-restriction.
#[derive(Debug)]
pub struct IpRestriction {
    source: IpSource,
    mode: Mode,
    status: u16,
    body: Bytes,
}

impl IpRestriction {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let source = if gjson_string(config, "ip_source_type") == "header" {
            let name = gjson_string(config, "ip_header_name");
            let name = if name.is_empty() { DEFAULT_HEADER.to_string() } else { name };
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::new("ip_header_name", format!("{name:?} is not a valid header name")))?;
            IpSource::Header(name)
        } else {
            IpSource::Peer
        };
        let status = match gjson_int(config, "status") {
            code if code <= 1 => DEFAULT_STATUS,
            code => u16::try_from(code)
                .ok()
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| ConfigError::new("status", format!("{code} is not an HTTP status code")))?,
        };
        let message = gjson_string(config, "message");
        let message = if message.is_empty() { DEFAULT_MESSAGE.to_string() } else { message };
        let allow = ip_nets(config, "allow")?;
        let deny = ip_nets(config, "deny")?;
        let mode = match (allow.is_empty(), deny.is_empty()) {
            (false, false) => return Err(ConfigError::new("", "allow and deny cannot be set at the same time")),
            (true, true) => return Err(ConfigError::new("", "allow and deny cannot be empty at the same time")),
            (false, true) => Mode::Allow(allow),
            (true, false) => Mode::Deny(deny),
        };
        Ok(Self { source, mode, status, body: Bytes::from(format!("{{\"message\":{}}}", go_json_string(&message))) })
    }

    fn deny(&self) -> Decision {
        Decision::Respond(DirectResponse { status: self.status, headers: Vec::new(), body: self.body.clone() })
    }

    /// The client IP, `None` when it is missing or unparsable.
    fn client_ip(&self, request: &RequestView<'_>) -> Option<IpAddr> {
        let ip = match &self.source {
            IpSource::Peer => request.client_ip?,
            IpSource::Header(name) => {
                let value = request.parts.headers.get(name)?;
                let value = String::from_utf8_lossy(value.as_bytes());
                header_ip(&value).parse::<IpAddr>().ok()?
            }
        };
        Some(ip.to_canonical())
    }
}

impl Plugin for IpRestriction {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        let Some(ip) = self.client_ip(request) else {
            return self.deny();
        };
        let blocked = match &self.mode {
            Mode::Allow(nets) => !nets.iter().any(|n| n.contains(&ip)),
            Mode::Deny(nets) => nets.iter().any(|n| n.contains(&ip)),
        };
        if blocked {
            self.deny()
        } else {
            Decision::Continue
        }
    }
}

/// The IP text of a header value, as the Go plugin's `parseIP` cuts it.
fn header_ip(value: &str) -> &str {
    let first = value.split(',').next().unwrap_or("").trim_matches(' ');
    if first.contains('.') {
        first.split(':').next().unwrap_or("")
    } else if first.contains(']') {
        // `[v6]:port`: drop the first character (the `[`) of what precedes `]`.
        let inner = first.split(']').next().unwrap_or("");
        inner.get(1..).unwrap_or("")
    } else {
        first
    }
}

/// The list `field` as gjson's `.Array()` reads it (a scalar is a one-item list), parsed as networks.
fn ip_nets(config: &Value, field: &str) -> Result<Vec<IpNet>, ConfigError> {
    let items: Vec<(String, &Value)> = match config.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| (format!("{field}[{i}]"), v)).collect(),
        Some(other) => vec![(field.to_string(), other)],
    };
    items
        .into_iter()
        .map(|(name, item)| {
            let text = match item {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parse_net(&text).ok_or_else(|| ConfigError::new(name, format!("invalid IP or CIDR {text:?}")))
        })
        .collect()
}

/// `addr` or `addr/prefix`, host bits dropped. As in the radix tree Higress uses, an entry containing a
/// `.` must be IPv4.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => {
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (addr, Some(prefix.parse::<u8>().ok()?))
        }
        None => (text, None),
    };
    let addr: IpAddr = if addr.contains('.') {
        IpAddr::V4(addr.parse().ok()?)
    } else {
        IpAddr::V6(addr.parse().ok()?)
    };
    let net = match prefix {
        Some(prefix) => IpNet::new(addr, prefix).ok()?,
        None => IpNet::from(addr),
    };
    Some(net.trunc())
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-sensitive characters escaped).
pub(crate) fn go_json_string(text: &str) -> String {
    let plain = Value::String(text.to_string()).to_string();
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
