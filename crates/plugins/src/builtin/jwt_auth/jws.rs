//! A token as go-jose v3 `jwt.ParseSigned` reads it and `JSONWebToken.Claims(key, &claims)` verifies it.
//!
//! - all whitespace is removed first; a token starting with `{` is the JSON serialization (flattened or
//!   general), anything else must be three base64url parts (trailing `=` tolerated);
//! - headers are decoded strictly (no repeated member); `kid`, `alg`, `nonce` must be strings, an
//!   embedded `jwk` a valid public key, `x5c` parseable certificates; `null` members count as absent;
//! - the signing input re-encodes the decoded protected header and payload (canonical base64url, or the
//!   raw payload with `"b64": false`); `crit` may only name `b64`; more than one signature fails;
//! - the algorithm comes from the header, the key type from the JWK: `RS*`/`PS*` (PSS salt length
//!   auto-detected) need an RSA key, `ES*` an EC key (hash and signature size from the algorithm, the
//!   curve from the key), `EdDSA` an Ed25519 key, `HS*` an `oct` key; `none` never verifies;
//! - claims: `iss`/`sub`/`jti` strings, `aud` a string or list of strings (`null` is an error),
//!   `exp`/`nbf`/`iat` numbers (truncated to whole seconds) or `null`.

use boring::bn::BigNum;
use boring::ecdsa::EcdsaSig;
use boring::hash::{hash, MessageDigest};
use boring::hmac::Hmac;
use boring::pkey::{PKey, Public};
use boring::rsa::Padding;
use boring::sign::{RsaPssSaltlen, Verifier};

use super::gojson::Json;
use super::jwk::{self, VerifyKey};
use super::{b64url_decode, b64url_encode};

/// A parsed, not yet verified, JWS.
#[derive(Debug)]
pub(crate) struct Jws {
    payload: Vec<u8>,
    signatures: Vec<Signature>,
}

#[derive(Debug)]
struct Signature {
    /// The decoded protected header as received, when there was one.
    protected_raw: Option<Vec<u8>>,
    /// Protected and unprotected members merged (protected wins unless it is an empty string).
    merged: Vec<(String, Json)>,
    /// `kid` of the merged header.
    kid: String,
    signature: Vec<u8>,
}

/// The registered claims go-jose checks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Claims {
    pub issuer: String,
    pub expiry: Option<i64>,
    pub not_before: Option<i64>,
    pub issued_at: Option<i64>,
}

impl Jws {
    /// `jwt.ParseSigned`.
    pub(crate) fn parse(token: &str) -> Result<Jws, String> {
        let token: String = token.chars().filter(|c| !c.is_whitespace()).collect();
        if token.starts_with('{') {
            return Self::parse_json(&token);
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [protected, payload, signature] = parts.as_slice() else {
            return Err("compact JWS format must have three parts".into());
        };
        let protected = b64url_decode(protected)?;
        let payload = b64url_decode(payload)?;
        let signature = b64url_decode(signature)?;
        let signature = Signature::new(Some(protected), None, Some(signature))?;
        Ok(Jws { payload, signatures: vec![signature] })
    }

    /// The JSON serialization (go-jose `parseSignedFull`).
    fn parse_json(token: &str) -> Result<Jws, String> {
        let json = Json::parse_strict(token.as_bytes())?;
        let Json::Object(_) = json else { return Err(format!("cannot unmarshal {} into a JWS", json.kind())) };
        let buffer = |object: &Json, name: &str| -> Result<Option<Vec<u8>>, String> {
            match object.member(name) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
                Some(Json::String(s)) => b64url_decode(s).map(Some),
                Some(other) => Err(format!("{name}: cannot unmarshal {} into a string", other.kind())),
            }
        };
        let header = |object: &Json| -> Result<Option<Vec<(String, Json)>>, String> {
            match object.member("header") {
                None | Some(Json::Null) => Ok(None),
                Some(Json::Object(members)) => Ok(Some(members.clone())),
                Some(other) => Err(format!("header: cannot unmarshal {} into a header", other.kind())),
            }
        };
        let payload = buffer(&json, "payload")?.ok_or("missing payload in JWS message")?;
        let entries = match json.member("signatures") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items.clone(),
            Some(other) => return Err(format!("signatures: cannot unmarshal {} into a list", other.kind())),
        };
        let signatures = if entries.is_empty() {
            vec![Signature::new(buffer(&json, "protected")?, header(&json)?, buffer(&json, "signature")?)?]
        } else {
            let mut signatures = Vec::new();
            for entry in &entries {
                match entry {
                    Json::Object(_) | Json::Null => {}
                    other => return Err(format!("signatures: cannot unmarshal {} into a signature", other.kind())),
                }
                signatures.push(Signature::new(buffer(entry, "protected")?, header(entry)?, buffer(entry, "signature")?)?);
            }
            signatures
        };
        Ok(Jws { payload, signatures })
    }

    /// The first non-empty `kid` among the signatures' headers.
    pub(crate) fn kid(&self) -> &str {
        self.signatures.iter().map(|s| s.kid.as_str()).find(|k| !k.is_empty()).unwrap_or("")
    }

    /// go-jose `JSONWebSignature.Verify`: the payload when the (single) signature verifies with `key`.
    pub(crate) fn verify(&self, key: &VerifyKey) -> Result<&[u8], String> {
        if matches!(key, VerifyKey::Private) {
            return Err("unsupported key type/format".into());
        }
        let [signature] = self.signatures.as_slice() else {
            return Err("too many signatures in payload; expecting only one".into());
        };
        let critical = match member(&signature.merged, "crit") {
            None => Vec::new(),
            Some(Json::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Json::String(s) => Ok(s.as_str()),
                    Json::Null => Ok(""),
                    _ => Err("invalid crit header".to_string()),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("invalid crit header".into()),
        };
        if critical.iter().any(|c| *c != "b64") {
            return Err("unsupported critical header".into());
        }
        let input = signature.signing_input(&self.payload)?;
        let alg = match member(&signature.merged, "alg") {
            Some(Json::String(s)) => s.as_str(),
            _ => "",
        };
        if verify_signature(key, alg, &input, &signature.signature) {
            Ok(&self.payload)
        } else {
            Err("error in cryptographic primitive".into())
        }
    }
}

/// A non-null member of a raw header.
fn member<'a>(header: &'a [(String, Json)], name: &str) -> Option<&'a Json> {
    header.iter().rev().find(|(k, v)| k == name && *v != Json::Null).map(|(_, v)| v)
}

/// A raw header (`map[HeaderKey]*json.RawMessage`) from its JSON text: an object or `null`.
fn raw_header(bytes: &[u8]) -> Result<Vec<(String, Json)>, String> {
    match Json::parse_strict(bytes)? {
        Json::Object(members) => Ok(members),
        Json::Null => Ok(Vec::new()),
        other => Err(format!("cannot unmarshal {} into a header", other.kind())),
    }
}

impl Signature {
    fn new(
        protected_raw: Option<Vec<u8>>,
        unprotected: Option<Vec<(String, Json)>>,
        signature: Option<Vec<u8>>,
    ) -> Result<Signature, String> {
        let protected = match &protected_raw {
            Some(bytes) if !bytes.is_empty() => Some(raw_header(bytes)?),
            _ => None,
        };
        if let Some(header) = &unprotected {
            if let Some(Json::String(nonce)) = member(header, "nonce") {
                if !nonce.is_empty() {
                    return Err("nonce header parameter included in unprotected header".into());
                }
            }
        }
        // `mergedHeaders`: protected members, then unprotected ones for keys not "set" (absent, null or "").
        let mut merged: Vec<(String, Json)> = Vec::new();
        for source in [&protected, &unprotected].into_iter().flatten() {
            for (key, value) in source {
                let set = merged.iter().any(|(k, v)| k == key && !matches!(v, Json::Null) && *v != Json::String(String::new()));
                if !set {
                    merged.retain(|(k, _)| k != key);
                    merged.push((key.clone(), value.clone()));
                }
            }
        }
        let kid = sanitize(&merged)?;
        if let Some(header) = &unprotected {
            sanitize(header)?;
        }
        if let Some(header) = &protected {
            sanitize(header)?;
        }
        Ok(Signature { protected_raw, merged, kid, signature: signature.unwrap_or_default() })
    }

    /// `computeAuthData`.
    fn signing_input(&self, payload: &[u8]) -> Result<Vec<u8>, String> {
        let mut input = Vec::new();
        let mut needs_base64 = true;
        if let Some(raw) = &self.protected_raw {
            let header = raw_header(raw)?;
            input.extend_from_slice(b64url_encode(raw).as_bytes());
            if let Some(Json::Bool(b64)) = member(&header, "b64") {
                needs_base64 = *b64;
            }
        }
        input.push(b'.');
        if needs_base64 {
            input.extend_from_slice(b64url_encode(payload).as_bytes());
        } else {
            input.extend_from_slice(payload);
        }
        Ok(input)
    }
}

/// `rawHeader.sanitized()`: the `kid`, or the first member of the wrong type.
fn sanitize(header: &[(String, Json)]) -> Result<String, String> {
    let mut kid = String::new();
    for (key, value) in header {
        match (key.as_str(), value) {
            (_, Json::Null) => {}
            ("kid", Json::String(s)) => kid = s.clone(),
            ("alg" | "nonce", Json::String(_)) => {}
            ("kid" | "alg" | "nonce", other) => return Err(format!("failed to unmarshal {key}: {}", other.kind())),
            ("jwk", value) => {
                let key = jwk::parse_key(value).map_err(|e| format!("failed to unmarshal JWK: {e}"))?;
                if !key.embeddable {
                    return Err("invalid embedded jwk, must be public key".into());
                }
            }
            ("x5c", value) => {
                jwk::certificate_chain(Some(value)).map_err(|e| format!("failed to unmarshal x5c header: {e}"))?;
            }
            _ => {}
        }
    }
    Ok(kid)
}

fn digest_of(alg: &str) -> Option<MessageDigest> {
    match alg.get(2..) {
        Some("256") => Some(MessageDigest::sha256()),
        Some("384") => Some(MessageDigest::sha384()),
        Some("512") => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// go-jose's `verifyPayload` for each key type.
fn verify_signature(key: &VerifyKey, alg: &str, input: &[u8], signature: &[u8]) -> bool {
    match key {
        VerifyKey::Rsa(rsa) => {
            let pss = match alg {
                "RS256" | "RS384" | "RS512" => false,
                "PS256" | "PS384" | "PS512" => true,
                _ => return false,
            };
            let (Some(rsa), Some(md)) = (rsa, digest_of(alg)) else { return false };
            rsa_verify(rsa, md, pss, input, signature).unwrap_or(false)
        }
        VerifyKey::Ec(ec) => {
            let size = match alg {
                "ES256" => 32,
                "ES384" => 48,
                "ES512" => 66,
                _ => return false,
            };
            let Some(md) = digest_of(alg) else { return false };
            if signature.len() != 2 * size {
                return false;
            }
            let verified = || -> Result<bool, boring::error::ErrorStack> {
                let digest = hash(md, input)?;
                let r = BigNum::from_slice(&signature[..size])?;
                let s = BigNum::from_slice(&signature[size..])?;
                EcdsaSig::from_private_components(r, s)?.verify(&digest, ec)
            };
            verified().unwrap_or(false)
        }
        VerifyKey::Ed25519(public) => {
            alg == "EdDSA"
                && Verifier::new_without_digest(public).and_then(|mut v| v.verify_oneshot(signature, input)).unwrap_or(false)
        }
        VerifyKey::Oct(secret) => {
            if !matches!(alg, "HS256" | "HS384" | "HS512") {
                return false;
            }
            let Some(md) = digest_of(alg) else { return false };
            hmac(secret, md, input).is_some_and(|mac| mac.len() == signature.len() && boring::memcmp::eq(&mac, signature))
        }
        VerifyKey::Private => false,
    }
}

fn rsa_verify(key: &PKey<Public>, md: MessageDigest, pss: bool, input: &[u8], signature: &[u8]) -> Result<bool, boring::error::ErrorStack> {
    let mut verifier = Verifier::new(md, key)?;
    if pss {
        verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
        // -2: recover the salt length from the signature (Go's `PSSSaltLengthAuto`).
        verifier.set_rsa_pss_saltlen(RsaPssSaltlen::MAXIMUM_LENGTH)?;
    }
    verifier.update(input)?;
    verifier.verify(signature)
}

/// HMAC of `data` with `key`.
pub(crate) fn hmac(key: &[u8], md: MessageDigest, data: &[u8]) -> Option<Vec<u8>> {
    let mut mac = Hmac::init(key, &md).ok()?;
    mac.update(data).ok()?;
    mac.finalize().ok()
}

/// go-jose `json.Unmarshal(payload, &jwt.Claims{})`, and the payload as a JSON value (for
/// `claims_to_headers`).
pub(crate) fn parse_claims(payload: &[u8]) -> Result<(Claims, Json), String> {
    let json = Json::parse_strict(payload)?;
    let mut claims = Claims::default();
    match &json {
        Json::Null => return Ok((claims, json)),
        Json::Object(_) => {}
        other => return Err(format!("cannot unmarshal {} into jwt.Claims", other.kind())),
    }
    for name in ["iss", "sub", "jti"] {
        match json.member(name) {
            None | Some(Json::Null) => {}
            Some(Json::String(s)) => {
                if name == "iss" {
                    claims.issuer = s.clone();
                }
            }
            Some(other) => return Err(format!("{name}: cannot unmarshal {} into a string", other.kind())),
        }
    }
    match json.member("aud") {
        None | Some(Json::String(_)) => {}
        Some(Json::Array(items)) if items.iter().all(|i| matches!(i, Json::String(_))) => {}
        Some(_) => return Err("expected string or array value to unmarshal to Audience".into()),
    }
    let date = |name: &str| -> Result<Option<i64>, String> {
        match json.member(name) {
            None | Some(Json::Null) => Ok(None),
            // `NumericDate(f)`: the float truncated toward zero.
            Some(Json::Number(n)) => Ok(Some(*n as i64)),
            Some(_) => Err("expected number value to unmarshal to NumericDate".into()),
        }
    };
    claims.expiry = date("exp")?;
    claims.not_before = date("nbf")?;
    claims.issued_at = date("iat")?;
    Ok((claims, json))
}
