//! JSON Web Keys as go-jose v3 reads them (`jwk.go`), verified with BoringSSL.
//!
//! The key set is decoded by Go's `encoding/json` (`keys` matched case-insensitively, `null` = no keys);
//! each key by go-jose's strict decoder (exact member names, no repeated member). Accepted: `EC`
//! (P-256/P-384/P-521, coordinates of exactly the curve size, point on the curve), `RSA` (`n`, `e`),
//! `oct` (`k`), `OKP` (`Ed25519`, `x` zero-padded or cut to 32 bytes). A key with `d` is a private key:
//! accepted, but go-jose cannot verify with it. `x5c` certificates must carry the same public key, and
//! `x5t`/`x5t#S256` must match the leaf. An RSA key that Go's `crypto/rsa` (Go 1.24) refuses at
//! verification time (modulus under 1024 bits or even, exponent even or outside 2..2³¹-1) parses but
//! never verifies.

use boring::bn::BigNum;
use boring::ec::{EcGroup, EcKey};
use boring::hash::MessageDigest;
use boring::nid::Nid;
use boring::pkey::{PKey, Public};
use boring::rsa::Rsa;
use boring::x509::X509;

use super::gojson::Json;
use super::{b64std_decode, b64url_decode};

/// One key of a consumer's key set.
pub(crate) struct Jwk {
    /// `kid`.
    pub kid: String,
    /// What verifies with it.
    pub key: VerifyKey,
    /// Whether go-jose accepts it as a JWS header's embedded `jwk` (a valid public key).
    pub embeddable: bool,
}

/// Key material for signature verification.
pub(crate) enum VerifyKey {
    /// RSA public key; `None` when Go's `crypto/rsa` refuses to verify with it.
    Rsa(Option<PKey<Public>>),
    /// EC public key.
    Ec(EcKey<Public>),
    /// Ed25519 public key.
    Ed25519(PKey<Public>),
    /// Symmetric key (HMAC).
    Oct(Vec<u8>),
    /// A private key: go-jose has no verifier for it.
    Private,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.key {
            VerifyKey::Rsa(_) => "RSA",
            VerifyKey::Ec(_) => "EC",
            VerifyKey::Ed25519(_) => "Ed25519",
            VerifyKey::Oct(_) => "oct",
            VerifyKey::Private => "private",
        };
        write!(f, "Jwk({kind}, kid={:?})", self.kid)
    }
}

/// A consumer's `jwks` string as `json.Unmarshal` into go-jose's `JSONWebKeySet` reads it.
pub(crate) fn parse_key_set(text: &str) -> Result<Vec<Jwk>, String> {
    let json = Json::parse(text.as_bytes())?;
    let keys = match &json {
        Json::Null => return Ok(Vec::new()),
        Json::Object(_) => json.member_folded("keys"),
        other => return Err(format!("cannot unmarshal {} into a JSON Web Key Set", other.kind())),
    };
    match keys {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_key(item).map_err(|e| format!("keys[{i}]: {e}")))
            .collect(),
        Some(other) => Err(format!("keys: cannot unmarshal {} into a list of keys", other.kind())),
    }
}

/// One JWK (go-jose `JSONWebKey.UnmarshalJSON`).
pub(crate) fn parse_key(json: &Json) -> Result<Jwk, String> {
    let empty = Json::Object(Vec::new());
    let raw = match json {
        Json::Object(_) => json,
        Json::Null => &empty,
        other => return Err(format!("cannot unmarshal {} into a JWK", other.kind())),
    };
    raw.check_unique_keys()?;
    let text = |name: &str| -> Result<String, String> {
        match raw.member(name) {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("{name}: cannot unmarshal {} into a string", other.kind())),
        }
    };
    let bytes = |name: &str| -> Result<Option<Vec<u8>>, String> {
        match raw.member(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Json::String(s)) => b64url_decode(s).map(Some).map_err(|e| format!("{name}: {e}")),
            Some(other) => Err(format!("{name}: cannot unmarshal {} into a string", other.kind())),
        }
    };
    let kty = text("kty")?;
    let kid = text("kid")?;
    let crv = text("crv")?;
    text("use")?;
    text("alg")?;
    let x5u = text("x5u")?;
    let x5t = text("x5t")?;
    let x5t256 = text("x5t#S256")?;
    let [k, x, y, n, e, d, p, q, dp, dq, qi] =
        ["k", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi"].map(bytes);
    let (k, x, y, n, e, d, p, q) = (k?, x?, y?, n?, e?, d?, p?, q?);
    dp?;
    dq?;
    qi?;
    let certificates = certificate_chain(raw.member("x5c"))?;

    // The key, and its public half (for the `x5c` comparison).
    let (key, public, embeddable): (VerifyKey, Option<PKey<Public>>, bool) = match kty.as_str() {
        "EC" => {
            let (nid, size) = match crv.as_str() {
                "P-256" => (Nid::X9_62_PRIME256V1, 32),
                "P-384" => (Nid::SECP384R1, 48),
                "P-521" => (Nid::SECP521R1, 66),
                other => return Err(format!("unsupported elliptic curve '{other}'")),
            };
            let kind = if d.is_some() { "private" } else { "public" };
            let (Some(x), Some(y)) = (x, y) else {
                return Err(if d.is_some() {
                    "invalid EC private key, missing x/y/d values".into()
                } else {
                    "invalid EC key, missing x/y values".into()
                });
            };
            if x.len() != size {
                return Err(format!("invalid EC {kind} key, wrong length for x"));
            }
            if y.len() != size {
                return Err(format!("invalid EC {kind} key, wrong length for y"));
            }
            if d.as_ref().is_some_and(|d| d.len() != size) {
                return Err("invalid EC private key, wrong length for d".into());
            }
            let ec = ec_public_key(nid, &x, &y).ok_or("invalid EC key, X/Y are not on declared curve")?;
            let public = PKey::from_ec_key(ec.clone()).ok();
            if d.is_some() {
                (VerifyKey::Private, public, false)
            } else {
                (VerifyKey::Ec(ec), public, true)
            }
        }
        "RSA" => {
            if d.is_some() {
                let missing = [("N", n.is_none()), ("E", e.is_none()), ("D", false), ("P", p.is_none()), ("Q", q.is_none())]
                    .into_iter()
                    .find(|(_, missing)| *missing);
                if let Some((name, _)) = missing {
                    return Err(format!("invalid RSA private key, missing {name} value(s)"));
                }
            } else if n.is_none() || e.is_none() {
                return Err("invalid RSA key, missing n/e values".into());
            }
            let n = n.unwrap_or_default();
            let e = go_int(&e.unwrap_or_default());
            let public = rsa_public_key(&n, e);
            if d.is_some() {
                (VerifyKey::Private, public, false)
            } else {
                let usable = go_rsa_accepts(&n, e).then(|| public.clone()).flatten();
                (VerifyKey::Rsa(usable), public, e != 0)
            }
        }
        "oct" => {
            if !certificates.is_empty() {
                return Err("invalid JWK, found 'oct' (symmetric) key with cert chain".into());
            }
            let k = k.ok_or("invalid OCT (symmetric) key, missing k value")?;
            (VerifyKey::Oct(k), None, false)
        }
        "OKP" => {
            let Some(x) = x.filter(|_| crv == "Ed25519") else {
                return Err(format!("unknown curve {crv}'"));
            };
            let mut raw_key = [0u8; 32];
            let len = x.len().min(32);
            raw_key[..len].copy_from_slice(&x[..len]);
            let public = ed25519_public_key(&raw_key);
            if d.is_some() {
                (VerifyKey::Private, public, false)
            } else {
                let public_key = public.clone().ok_or("invalid Ed25519 key")?;
                (VerifyKey::Ed25519(public_key), public, true)
            }
        }
        other => return Err(format!("unknown json web key type '{other}'")),
    };

    if let Some(leaf) = certificates.first() {
        let matches = match (leaf.public_key(), &public) {
            (Ok(cert_key), Some(key)) => cert_key.public_eq(key),
            _ => false,
        };
        if !matches {
            return Err("invalid JWK, public keys in key and x5c fields do not match".into());
        }
    }
    if !x5u.is_empty() {
        check_url(&x5u).map_err(|e| format!("invalid JWK, x5u header is invalid URL: {e}"))?;
    }
    let sha1 = thumbprint(&x5t, 20).map_err(|e| e.replace("{}", "x5t"))?;
    let sha256 = thumbprint(&x5t256, 32).map_err(|e| e.replace("{}", "x5t#S256"))?;
    if let Some(leaf) = certificates.first() {
        let der = leaf.to_der().map_err(|e| e.to_string())?;
        let digest = |md: MessageDigest| boring::hash::hash(md, &der).map(|d| d.to_vec()).unwrap_or_default();
        if !sha1.is_empty() && digest(MessageDigest::sha1()) != sha1 {
            return Err("invalid JWK, x5c thumbprint does not match x5t value".into());
        }
        if !sha256.is_empty() && digest(MessageDigest::sha256()) != sha256 {
            return Err("invalid JWK, x5c thumbprint does not match x5t#S256 value".into());
        }
    }
    Ok(Jwk { kid, key, embeddable })
}

/// `x5c`: standard base64 DER certificates.
pub(crate) fn certificate_chain(x5c: Option<&Json>) -> Result<Vec<X509>, String> {
    let items = match x5c {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(other) => return Err(format!("x5c: cannot unmarshal {} into a list of strings", other.kind())),
    };
    items
        .iter()
        .map(|item| {
            let text = match item {
                Json::String(s) => s.as_str(),
                Json::Null => "",
                other => return Err(format!("x5c: cannot unmarshal {} into a string", other.kind())),
            };
            let der = b64std_decode(text).map_err(|e| format!("failed to unmarshal x5c field: {e}"))?;
            X509::from_der(&der).map_err(|e| format!("failed to unmarshal x5c field: {e}"))
        })
        .collect()
}

/// `x5t` (SHA-1, 20 bytes) or `x5t#S256` (SHA-256, 32 bytes): base64url of the digest, or of its hex
/// form. `{}` in an error stands for the member name.
fn thumbprint(text: &str, size: usize) -> Result<Vec<u8>, String> {
    let mut bytes = b64url_decode(text).map_err(|_| "invalid JWK, {} header has invalid encoding".to_string())?;
    if bytes.len() == 2 * size {
        bytes = hex_decode(&bytes).ok_or("invalid JWK, unable to hex decode {}")?;
    }
    if !bytes.is_empty() && bytes.len() != size {
        return Err("invalid JWK, {} header is of incorrect size".into());
    }
    Ok(bytes)
}

fn hex_decode(text: &[u8]) -> Option<Vec<u8>> {
    let nibble = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    text.chunks(2).map(|pair| Some(nibble(*pair.first()?)? << 4 | nibble(*pair.get(1)?)?)).collect()
}

/// What Go's `url.Parse` rejects that a key URL may plausibly contain: control characters and bad
/// percent-escapes outside the query.
fn check_url(url: &str) -> Result<(), String> {
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("invalid control character in URL".into());
    }
    let (before_query, rest) = url.split_once('?').map_or((url, None), |(a, b)| (a, Some(b)));
    let fragment = rest.and_then(|r| r.split_once('#').map(|(_, f)| f)).or_else(|| url.split_once('#').map(|(_, f)| f));
    let before_query = before_query.split('#').next().unwrap_or(before_query);
    for part in [Some(before_query), fragment].into_iter().flatten() {
        let bytes = part.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'%' {
                let valid = bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
                if !valid {
                    return Err(format!("invalid URL escape {:?}", String::from_utf8_lossy(&bytes[i..bytes.len().min(i + 3)])));
                }
            }
        }
    }
    Ok(())
}

/// `int(new(big.Int).SetBytes(b).Int64())`: the low 64 bits, as two's complement.
fn go_int(bytes: &[u8]) -> i64 {
    let mut low = [0u8; 8];
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    low[8 - tail.len()..].copy_from_slice(tail);
    i64::from_be_bytes(low)
}

/// Whether Go 1.24's `crypto/rsa` verifies with modulus `n` and exponent `e`.
fn go_rsa_accepts(n: &[u8], e: i64) -> bool {
    let Ok(modulus) = BigNum::from_slice(n) else { return false };
    modulus.num_bits() >= 1024 && modulus.is_odd() && (2..=i64::from(i32::MAX)).contains(&e) && e % 2 == 1
}

fn rsa_public_key(n: &[u8], e: i64) -> Option<PKey<Public>> {
    let modulus = BigNum::from_slice(n).ok()?;
    let exponent = BigNum::from_slice(&u64::try_from(e).ok()?.to_be_bytes()).ok()?;
    let rsa = Rsa::from_public_components(modulus, exponent).ok()?;
    PKey::from_rsa(rsa).ok()
}

fn ec_public_key(nid: Nid, x: &[u8], y: &[u8]) -> Option<EcKey<Public>> {
    let group = EcGroup::from_curve_name(nid).ok()?;
    let x = BigNum::from_slice(x).ok()?;
    let y = BigNum::from_slice(y).ok()?;
    let key = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
    key.check_key().ok()?;
    Some(key)
}

/// An Ed25519 public key from its 32 raw bytes (as a SubjectPublicKeyInfo).
fn ed25519_public_key(raw: &[u8; 32]) -> Option<PKey<Public>> {
    let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    der.extend_from_slice(raw);
    PKey::public_key_from_der(&der).ok()
}
