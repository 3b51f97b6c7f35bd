//! HTTP Basic authentication of a route (`auth-type: basic` annotations): the htpasswd credentials of
//! the IR, compiled once per snapshot into a user → password-check table. Verifies plain and `{PLAIN}`
//! passwords, `{SHA}` (base64 SHA-1) and MD5-crypt (`$apr1$`, `$1$`) hashes, as nginx `auth_basic` does.

use std::collections::HashMap;

use base64::Engine;
use http::HeaderValue;
use oxigress_ir::BasicAuth;
use pingora::tls::hash::{hash, MessageDigest};

/// A route's compiled basic authentication.
#[derive(Debug)]
pub struct CompiledBasicAuth {
    users: HashMap<String, Secret>,
    /// `WWW-Authenticate` of the 401 answers.
    pub challenge: HeaderValue,
}

#[derive(Debug)]
enum Secret {
    Plain(String),
    Sha1(Vec<u8>),
    /// MD5 crypt: magic (`$apr1$` or `$1$`), salt, and the whole expected string.
    Md5Crypt { magic: &'static str, salt: String, expected: String },
}

/// Why a request was not let through.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Basic …`.
    Missing,
    /// Unknown user or wrong password.
    Invalid,
}

impl CompiledBasicAuth {
    /// Compiles the credentials; lines of a format that cannot be verified are left out (translate
    /// reported them).
    pub fn new(auth: &BasicAuth) -> Result<Self, String> {
        let mut users = HashMap::new();
        for line in &auth.credentials {
            let Some((user, secret)) = line.split_once(':') else { continue };
            let secret = if let Some(plain) = secret.strip_prefix("{PLAIN}") {
                Secret::Plain(plain.to_string())
            } else if let Some(digest) = secret.strip_prefix("{SHA}") {
                match base64::engine::general_purpose::STANDARD.decode(digest.trim()) {
                    Ok(digest) => Secret::Sha1(digest),
                    Err(_) => continue,
                }
            } else if let Some((magic, rest)) = ["$apr1$", "$1$"].iter().find_map(|m| secret.strip_prefix(m).map(|r| (*m, r))) {
                let salt = rest.split('$').next().unwrap_or("").to_string();
                Secret::Md5Crypt { magic, salt, expected: secret.to_string() }
            } else {
                Secret::Plain(secret.to_string())
            };
            users.insert(user.to_string(), secret);
        }
        let realm = auth.realm.replace(['"', '\\'], "");
        let challenge = HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
            .map_err(|e| format!("auth-realm {:?}: {e}", auth.realm))?;
        Ok(Self { users, challenge })
    }

    /// Checks the request's `Authorization` header.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), AuthFailure> {
        let encoded = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
            .ok_or(AuthFailure::Missing)?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| AuthFailure::Invalid)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::Invalid)?;
        let (user, password) = decoded.split_once(':').ok_or(AuthFailure::Invalid)?;
        let secret = self.users.get(user).ok_or(AuthFailure::Invalid)?;
        let matches = match secret {
            Secret::Plain(expected) => constant_time_eq(expected.as_bytes(), password.as_bytes()),
            Secret::Sha1(expected) => hash(MessageDigest::sha1(), password.as_bytes())
                .is_ok_and(|digest| constant_time_eq(expected, &digest)),
            Secret::Md5Crypt { magic, salt, expected } => {
                md5_crypt(password.as_bytes(), salt.as_bytes(), magic).is_some_and(|c| constant_time_eq(c.as_bytes(), expected.as_bytes()))
            }
        };
        if matches {
            Ok(())
        } else {
            Err(AuthFailure::Invalid)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn md5(parts: &[&[u8]]) -> Option<[u8; 16]> {
    let data: Vec<u8> = parts.concat();
    let digest = hash(MessageDigest::md5(), &data).ok()?;
    digest.as_ref().try_into().ok()
}

/// The MD5-crypt string (`<magic><salt>$<hash>`) of `password` (Poul-Henning Kamp's algorithm, which
/// Apache's `$apr1$` reuses with another magic).
fn md5_crypt(password: &[u8], salt: &[u8], magic: &str) -> Option<String> {
    const ITOA64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let salt = &salt[..salt.len().min(8)];
    let alternate = md5(&[password, salt, password])?;
    let mut context = [password, magic.as_bytes(), salt].concat();
    let mut left = password.len();
    while left > 0 {
        let take = left.min(16);
        context.extend_from_slice(&alternate[..take]);
        left -= take;
    }
    let mut bits = password.len();
    while bits > 0 {
        context.push(if bits & 1 == 1 { 0 } else { password.first().copied().unwrap_or(0) });
        bits >>= 1;
    }
    let mut digest = md5(&[&context])?;
    for round in 0..1000 {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
        parts.push(if round & 1 == 1 { password } else { &digest });
        if round % 3 != 0 {
            parts.push(salt);
        }
        if round % 7 != 0 {
            parts.push(password);
        }
        parts.push(if round & 1 == 1 { &digest } else { password });
        digest = md5(&parts)?;
    }
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    let mut push = |mut value: u32, count: usize| {
        for _ in 0..count {
            out.push(char::from(ITOA64[(value & 0x3f) as usize]));
            value >>= 6;
        }
    };
    let d = |i: usize| u32::from(digest[i]);
    push((d(0) << 16) | (d(6) << 8) | d(12), 4);
    push((d(1) << 16) | (d(7) << 8) | d(13), 4);
    push((d(2) << 16) | (d(8) << 8) | d(14), 4);
    push((d(3) << 16) | (d(9) << 8) | d(15), 4);
    push((d(4) << 16) | (d(10) << 8) | d(5), 4);
    push(d(11), 2);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_auth(lines: &[&str]) -> CompiledBasicAuth {
        CompiledBasicAuth::new(&BasicAuth { realm: "shop".into(), credentials: lines.iter().map(|l| l.to_string()).collect() })
            .unwrap()
    }

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn md5_crypt_matches_openssl_passwd() {
        // `openssl passwd -apr1 -salt r31..... myPassword`, `openssl passwd -1 -salt abcdefgh secret`
        assert_eq!(md5_crypt(b"myPassword", b"r31.....", "$apr1$").unwrap(), "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/");
        assert_eq!(md5_crypt(b"secret", b"abcdefgh", "$1$").unwrap(), "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1");
    }

    #[test]
    fn every_supported_format_verifies() {
        let auth = mk_auth(&[
            "plain:pw1",
            "tagged:{PLAIN}pw2",
            "sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",
            "apr:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
        ]);
        for (user, password) in [("plain", "pw1"), ("tagged", "pw2"), ("sha", "secret"), ("apr", "myPassword")] {
            assert_eq!(auth.check(Some(&header(user, password))), Ok(()), "{user}");
            assert_eq!(auth.check(Some(&header(user, "wrong"))), Err(AuthFailure::Invalid), "{user}");
        }
        assert_eq!(auth.check(None), Err(AuthFailure::Missing));
        assert_eq!(auth.check(Some(&HeaderValue::from_static("Bearer x"))), Err(AuthFailure::Missing));
        assert_eq!(auth.check(Some(&header("nobody", "pw1"))), Err(AuthFailure::Invalid));
        assert_eq!(auth.challenge, "Basic realm=\"shop\"");
    }
}
