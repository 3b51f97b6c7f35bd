//! `simple-jwt-auth`: let a request through only when the header `token_headers` carries a JWT signed
//! with HMAC using `token_secret_key`. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/simple-jwt-auth/main.go`, `dgrijalva/jwt-go` v3.2.0 `jwt.Parse`):
//! - configuration: `token_secret_key` and `token_headers` (gjson strings); nothing is rejected at load
//!   time — with either empty, **every** request is answered 401 with the body
//!   `{"code":400,"msg":"token or secret 不允许为空"}`;
//! - the header value is the whole token (no `Bearer ` prefix is stripped); missing or invalid: 401
//!   `{"code":401,"msg":"认证失败"}`; no extra response headers;
//! - valid means: three `.`-separated parts, base64url with optional padding; the header is a JSON object
//!   whose `alg` is `HS256`/`HS384`/`HS512` (every other algorithm fails with a secret key); the claims
//!   are the first JSON value of the payload (trailing bytes ignored, `null` = no claims); `exp`, `iat`,
//!   `nbf` are only checked when they are JSON numbers other than 0 (truncated to whole seconds): `now <=
//!   exp`, `now >= iat`, `now >= nbf`, no clock skew; the HMAC over the two first parts as received must
//!   match.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use boring::hash::MessageDigest;
use boring::hmac::Hmac;
use bytes::Bytes;
use http::header::HeaderName;
use serde_json::Value;

use super::gjson_string;
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "simple-jwt-auth";

const BAD_CONFIG_BODY: &str = r#"{"code":400,"msg":"token or secret 不允许为空"}"#;
const AUTH_FAILED_BODY: &str = r#"{"code":401,"msg":"认证失败"}"#;

/// A configured simple-jwt-auth.
#[derive(Debug)]
pub struct SimpleJwtAuth {
    secret: Vec<u8>,
    header: String,
}

impl SimpleJwtAuth {
    /// Parses the plugin configuration (never fails: Higress checks the values per request).
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        Ok(Self { secret: gjson_string(config, "token_secret_key").into_bytes(), header: gjson_string(config, "token_headers") })
    }

    fn check(&self, request: &RequestView<'_>, now_unix: i64) -> Decision {
        if self.header.is_empty() || self.secret.is_empty() {
            return deny(BAD_CONFIG_BODY);
        }
        let token = HeaderName::from_bytes(self.header.to_ascii_lowercase().as_bytes())
            .ok()
            .and_then(|name| request.parts.headers.get(name))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match token {
            Some(token) if token_valid(&token, &self.secret, now_unix) => Decision::Continue,
            _ => deny(AUTH_FAILED_BODY),
        }
    }
}

fn deny(body: &'static str) -> Decision {
    Decision::Respond(DirectResponse { status: 401, headers: Vec::new(), body: Bytes::from_static(body.as_bytes()) })
}

/// jwt-go's `DecodeSegment`: padding restored, then Go's `base64.URLEncoding` (trailing bits accepted).
fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical).with_decode_allow_trailing_bits(true),
    );
    let mut padded = segment.to_string();
    padded.push_str(&"=".repeat((4 - segment.len() % 4) % 4));
    ENGINE.decode(padded).ok()
}

/// `jwt.Parse(token, secret).Valid` at `now_unix`.
fn token_valid(token: &str, secret: &[u8], now_unix: i64) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else { return false };
    let Some(header_json) = decode_segment(header).and_then(|b| serde_json::from_str::<Value>(&String::from_utf8_lossy(&b)).ok()) else {
        return false;
    };
    let md = match header_json.get("alg").and_then(Value::as_str) {
        Some("HS256") => MessageDigest::sha256(),
        Some("HS384") => MessageDigest::sha384(),
        Some("HS512") => MessageDigest::sha512(),
        _ => return false,
    };
    let Some(claims_bytes) = decode_segment(claims) else { return false };
    let text = String::from_utf8_lossy(&claims_bytes);
    let claims_json = match serde_json::Deserializer::from_str(&text).into_iter::<Value>().next() {
        Some(Ok(value @ (Value::Object(_) | Value::Null))) => value,
        _ => return false,
    };
    let time = |name: &str| -> Option<i64> { claims_json.get(name).and_then(Value::as_f64).map(|f| f as i64).filter(|t| *t != 0) };
    if time("exp").is_some_and(|exp| now_unix > exp)
        || time("iat").is_some_and(|iat| now_unix < iat)
        || time("nbf").is_some_and(|nbf| now_unix < nbf)
    {
        return false;
    }
    let Some(signature) = decode_segment(signature) else { return false };
    let signing_input = format!("{header}.{claims}");
    let mac = Hmac::init(secret, &md).and_then(|mut mac| mac.update(signing_input.as_bytes()).map(|()| mac)).and_then(Hmac::finalize);
    mac.is_ok_and(|mac| mac.len() == signature.len() && boring::memcmp::eq(&mac, &signature))
}

impl Plugin for SimpleJwtAuth {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.check(request, now)
    }
}

#[cfg(test)]
mod tests;
