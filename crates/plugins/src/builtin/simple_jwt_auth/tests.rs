use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;

const SECRET: &str = "Dav7kfq3iA8S!JUj8&CUkdnQe72E@Cw6";
const NOW: i64 = 1_735_689_600;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(alg: &str, header: &str, claims: &str, secret: &str) -> String {
    let md = match alg {
        "HS384" => MessageDigest::sha384(),
        "HS512" => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    };
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut mac = Hmac::init(secret.as_bytes(), &md).unwrap();
    mac.update(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&mac.finalize().unwrap()))
}

fn token(alg: &str, claims: &str) -> String {
    sign(alg, &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), claims, SECRET)
}

fn run(config: Value, headers: &[(&str, &str)]) -> (u16, String) {
    let plugin = SimpleJwtAuth::from_config(&config).unwrap();
    let mut builder = http::Request::builder().uri("/info");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    match plugin.check(&view, NOW) {
        Decision::Continue => (200, String::new()),
        Decision::Respond(r) => {
            assert!(r.headers.is_empty());
            (r.status, String::from_utf8(r.body.to_vec()).unwrap())
        }
    }
}

fn e2e_config() -> Value {
    json!({"token_headers": "token", "token_secret_key": SECRET})
}

#[test]
fn higress_e2e() {
    assert_eq!(run(e2e_config(), &[]), (401, r#"{"code":401,"msg":"认证失败"}"#.to_string()));
    assert_eq!(run(e2e_config(), &[("token", &token("HS256", r#"{"sub":"x"}"#))]).0, 200);
}

#[test]
fn empty_config_denies_everything() {
    let body = r#"{"code":400,"msg":"token or secret 不允许为空"}"#.to_string();
    assert_eq!(run(json!({}), &[]), (401, body.clone()));
    assert_eq!(run(json!({"token_headers": "token"}), &[("token", &token("HS256", "{}"))]), (401, body));
}

#[test]
fn validity() {
    let ok = |t: &str| run(e2e_config(), &[("Token", t)]).0 == 200;
    for alg in ["HS256", "HS384", "HS512"] {
        assert!(ok(&token(alg, r#"{"iss":"a"}"#)), "{alg}");
    }
    assert!(!ok(&sign("HS256", r#"{"alg":"HS256"}"#, "{}", "other")));
    assert!(!ok(&format!("Bearer {}", token("HS256", "{}"))));
    assert!(!ok(&sign("HS256", r#"{"alg":"RS256"}"#, "{}", SECRET)));
    assert!(!ok(&sign("HS256", r#"{"alg":"none"}"#, "{}", SECRET)));
    assert!(!ok(&sign("HS256", r#"{"typ":"JWT"}"#, "{}", SECRET)));
    assert!(!ok("a.b"));
    assert!(!ok(""));
    // Time claims: numbers only, 0 means unset, no leeway.
    assert!(ok(&token("HS256", &format!(r#"{{"exp":{NOW}}}"#))));
    assert!(!ok(&token("HS256", &format!(r#"{{"exp":{}}}"#, NOW - 1))));
    assert!(ok(&token("HS256", &format!(r#"{{"exp":{}.9}}"#, NOW))));
    assert!(ok(&token("HS256", r#"{"exp":0}"#)));
    assert!(ok(&token("HS256", r#"{"exp":"1"}"#)));
    assert!(!ok(&token("HS256", &format!(r#"{{"nbf":{}}}"#, NOW + 1))));
    assert!(!ok(&token("HS256", &format!(r#"{{"iat":{}}}"#, NOW + 1))));
    assert!(ok(&token("HS256", &format!(r#"{{"iat":{NOW},"nbf":{NOW}}}"#))));
    // Claims: the first JSON value (object or null); trailing bytes are ignored.
    assert!(ok(&token("HS256", "null")));
    assert!(ok(&token("HS256", r#"{"a":1} trailing"#)));
    assert!(!ok(&token("HS256", "[1]")));
    assert!(!ok(&token("HS256", "")));
    // Padding may be present.
    let t = token("HS256", r#"{"a":"b"}"#);
    let parts: Vec<&str> = t.split('.').collect();
    let padded: Vec<String> = parts.iter().map(|p| format!("{p}{}", "=".repeat((4 - p.len() % 4) % 4))).collect();
    assert_eq!(ok(&padded.join(".")), padded[0] == parts[0] && padded[1] == parts[1]);
    assert!(ok(&format!("{}.{}.{}", parts[0], parts[1], padded[2])));
}
