use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boring::bn::{BigNum, BigNumContext};
use boring::ec::{EcGroup, EcKey};
use boring::ecdsa::EcdsaSig;
use boring::hash::{hash, MessageDigest};
use boring::nid::Nid;
use boring::pkey::{Id, PKey, Private};
use boring::rsa::{Padding, Rsa};
use boring::sign::{RsaPssSaltlen, Signer};
use serde_json::{json, Value};

use super::*;
use crate::HeaderEdits;

// Fixtures of Higress's e2e test (test/e2e/conformance/tests/go-wasm-jwt-auth*.yaml).
const JWKS: &str = r#"{"keys": [{"kty": "EC", "kid": "p256", "crv": "P-256", "x": "GWym652nfByDbs4EzNpGXCkdjG03qFZHulNDHTo3YJU", "y": "5uVg_n-flqRJ5Zhf_aEKS0ow9SddTDgxGduSCgpoAZQ"}, {"kty": "RSA", "kid": "rsa", "n": "pFKAKJ0V3vFwGTvBSHbPwrNdvPyr-zMTh7Y9IELFIMNUQfG9_d2D1wZcrX5CPvtEISHin3GdPyfqEX6NjPyqvCLFTuNh80-r5Mvld-A5CHwITZXz5krBdqY5Z0wu64smMbzst3HNxHbzLQvHUY-KS6hceOB84d9B4rhkIJEEAWxxIA7yPJYjYyIC_STpPddtJkkweVvoa0m0-_FQkDFsbRS0yGgMNG4-uc7qLIU4kSwMQWcw1Rwy39LUDP4zNzuZABbWsDDBsMlVUaszRdKIlk5AQ-Fkah3E247dYGUQjSQ0N3dFLlMDv_e62BT3IBXGLg7wvGosWFNT_LpIenIW6Q", "e": "AQAB"}]}"#;
const ES256: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6InAyNTYiLCJ0eXAiOiJKV1QifQ.eyJhdWQiOlsiZm9vIiwiYmFyIl0sImV4cCI6MjAxOTY4NjQwMCwiaXNzIjoiaGlncmVzcy10ZXN0IiwibmJmIjoxNzA0MDY3MjAwLCJzdWIiOiJoaWdyZXNzLXRlc3QifQ.hm71YWfjALshUAgyOu-r9W2WBG_zfqIZZacAbc7oIH1r7dbB0sGQn3wKMWMmOzmxX0UyaVZ0KMk-HFTA1hDnBQ";
const RS256: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiZm9vIiwiYmFyIl0sImV4cCI6MjAxOTY4NjQwMCwiaXNzIjoiaGlncmVzcy10ZXN0IiwibmJmIjoxNzA0MDY3MjAwLCJzdWIiOiJoaWdyZXNzLXRlc3QifQ.iO0wPY91b_VNGUMZ1n-Ub-SRmEkDQMFLSi77z49tEzll3UZXwmBraP5udM_OPUAdk9ZO3dbb_fOgdcN9V1H9p5kiTr-l-pZTFTJHrPJj8wC519sYRcCk3wrZ9aXR5tNMwOsMdQb7waTBatDQLmHPWzAoTNBc8mwXkRcv1dmJLvsJgxyCl1I9CMOMPq0fYj1NBvaUDIdVSL1o7GGiriD8-0UIOmS72-I3mbaoCIyVb0h3wx7gnIW3zr0yYWaYoiIgmHLag-eEGxHp4-BjtCqcokU4QVMS91qpH7Mkl1iv2WHEkuDQRJ-nLzYGwXb7Dncx9K5tNWHJuZ-DihIU2oT0aA";
const ES256_EXPIRED: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6InAyNTYiLCJ0eXAiOiJKV1QifQ.eyJhdWQiOlsiZm9vIiwiYmFyIl0sImV4cCI6MTcwNDA2NzIwMCwiaXNzIjoiaGlncmVzcy10ZXN0IiwibmJmIjoxNzA0MDY3MjAwLCJzdWIiOiJoaWdyZXNzLXRlc3QifQ.9AnXd2rZ6FirHZQAoabyL4xZNz0jr-3LmcV4-pFV3JrdtUT4386Mw5Qan125fUB-rZf_ZBlv0Bft2tWY149fyg";
const RS256_EXPIRED: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYSIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiZm9vIiwiYmFyIl0sImV4cCI6MTcwNDA2NzIwMCwiaXNzIjoiaGlncmVzcy10ZXN0IiwibmJmIjoxNzA0MDY3MjAwLCJzdWIiOiJoaWdyZXNzLXRlc3QifQ.jqzlhBPk9mmvtTT5aCYf-_5uXXSEU5bQ32fx78XeboCnjR9K1CsI4KYUIkXEX3bk66XJQUeSes7lz3gA4Yzkd-v9oADHTgpKnIxzv_5mD0_afIwEFjcalqVbSvCmro4PessQZDnmU7AIzoo3RPSqbmq8xbPVYUH9I-OO8aUu2ATd1HozgxJH1XnRU8k9KMkVW8XhvJXLKZJmnqe3Tu6pCU_tawFlBfBC4fAhMf0yX2CGE0ABAHubcdiI6JXObQmQQ9Or2a-g2a8g_Bw697PoPOsAn0YpTrHst9GcyTpkbNTAq9X8fc5EM7hiDM1FGeMYcaQTdMnOh4HBhP0p4YEhvA";

/// 2025-01-01T00:00:00Z: the fixtures are valid (nbf 2024-01-01, exp 2034-01-01) or expired (exp 2024-01-01).
const NOW: u64 = 1_735_689_600;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn ec_jwks() -> String {
    let keys: Value = serde_json::from_str(JWKS).unwrap();
    json!({"keys": [keys["keys"][0]]}).to_string()
}

fn rsa_jwks() -> String {
    let keys: Value = serde_json::from_str(JWKS).unwrap();
    json!({"keys": [keys["keys"][1]]}).to_string()
}

fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut builder = http::Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

struct Outcome {
    status: Option<u16>,
    body: String,
    headers: HeaderEdits,
    response_headers: Vec<(String, String)>,
}

fn run_at(plugin: &JwtAuth, uri: &str, headers: &[(&str, &str)], now: SystemTime) -> Outcome {
    let parts = parts(uri, headers);
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    let mut edits = RequestEdits::default();
    match plugin.check(&view, &mut edits, now) {
        Decision::Continue => Outcome { status: None, body: String::new(), headers: edits.headers, response_headers: Vec::new() },
        Decision::Respond(r) => Outcome {
            status: Some(r.status),
            body: String::from_utf8(r.body.to_vec()).unwrap(),
            headers: edits.headers,
            response_headers: r.headers,
        },
    }
}

fn run(plugin: &JwtAuth, uri: &str, headers: &[(&str, &str)]) -> Outcome {
    run_at(plugin, uri, headers, at(NOW))
}

fn status(plugin: &JwtAuth, uri: &str, headers: &[(&str, &str)]) -> u16 {
    run(plugin, uri, headers).status.unwrap_or(200)
}

fn consumer_of(outcome: &Outcome) -> Vec<String> {
    outcome.headers.add.iter().filter(|(n, _)| n == "x-mse-consumer").map(|(_, v)| v.clone()).collect()
}

fn build_rule(global: &Value, allow: Value) -> JwtAuth {
    JwtAuth::from_config(&rule_config(Some(global), &json!({"allow": allow}))).unwrap()
}

fn allow_case_global() -> Value {
    json!({"consumers": [
        {"name": "consumer1", "issuer": "higress-test", "jwks": JWKS},
        {"name": "consumer_hedaer", "issuer": "higress-test", "jwks": JWKS, "from_headers": [{"name": "jwt", "value_prefix": "Bearer "}]},
        {"name": "consumer_params", "issuer": "higress-test", "jwks": JWKS, "from_params": ["jwt_token"]},
        {"name": "consumer_cookies", "issuer": "higress-test", "jwks": JWKS, "from_cookies": ["jwt_token"]},
    ], "global_auth": false})
}

fn split_case_global() -> Value {
    json!({"consumers": [
        {"name": "consumerEC", "issuer": "higress-test", "jwks": ec_jwks()},
        {"name": "consumerRSA", "issuer": "higress-test", "jwks": rsa_jwks()},
        {"name": "consumerEC_hedaer", "issuer": "higress-test", "jwks": ec_jwks(), "from_headers": [{"name": "jwt", "value_prefix": "Bearer "}]},
        {"name": "consumerEC_params", "issuer": "higress-test", "jwks": ec_jwks(), "from_params": ["jwt_token"]},
        {"name": "consumerEC_cookies", "issuer": "higress-test", "jwks": ec_jwks(), "from_cookies": ["jwt_token"]},
    ], "global_auth": false})
}

/// Request target, headers, expected consumer.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn higress_e2e_allow() {
    let plugin = build_rule(&allow_case_global(), json!(["consumer1", "consumer_hedaer", "consumer_params", "consumer_cookies"]));
    for token in [ES256, RS256] {
        let bearer = format!("Bearer {token}");
        let cookie = format!("jwt_token={token}");
        let cases: [Case<'_>; 5] = [
            ("/info".into(), vec![("authorization", bearer.as_str())], "consumer1"),
            (format!("/info?access_token={token}"), vec![], "consumer1"),
            ("/info".into(), vec![("jwt", bearer.as_str())], "consumer_hedaer"),
            (format!("/info?jwt_token={token}"), vec![], "consumer_params"),
            ("/info".into(), vec![("cookie", cookie.as_str())], "consumer_cookies"),
        ];
        for (uri, headers, consumer) in cases {
            let outcome = run(&plugin, &uri, &headers);
            assert_eq!(outcome.status, None, "{uri} {headers:?}: {}", outcome.body);
            assert_eq!(consumer_of(&outcome), vec![consumer.to_string()]);
        }
    }
}

#[test]
fn higress_e2e_deny_and_expired() {
    let plugin = build_rule(&split_case_global(), json!(["consumerEC", "consumerEC_hedaer", "consumerEC_params", "consumerEC_cookies"]));
    let rs = format!("Bearer {RS256}");
    assert_eq!(status(&plugin, "/info", &[("authorization", &rs)]), 403);
    assert_eq!(status(&plugin, "/info", &[]), 403);
    assert_eq!(status(&plugin, "/info", &[("authorization", "Bearer")]), 403);
    assert_eq!(status(&plugin, "/info?access_token=", &[]), 403);
    assert_eq!(status(&plugin, "/info", &[("jwt", "Bearer")]), 403);
    assert_eq!(status(&plugin, "/info?jwt_token=", &[]), 403);
    assert_eq!(status(&plugin, "/info", &[("cookie", "jwt_token=")]), 403);
    assert_eq!(status(&plugin, "/info", &[("authorization", "Bearer faketoken")]), 403);
    assert_eq!(status(&plugin, "/info?access_token=faketoken", &[]), 403);
    assert_eq!(status(&plugin, "/info", &[("cookie", "jwt_token=faketoken")]), 403);
    for token in [ES256_EXPIRED, RS256_EXPIRED] {
        let bearer = format!("Bearer {token}");
        assert_eq!(status(&plugin, "/info", &[("authorization", &bearer)]), 403);
        assert_eq!(status(&plugin, &format!("/info?jwt_token={token}"), &[]), 403);
        assert_eq!(status(&plugin, "/info", &[("cookie", &format!("jwt_token={token}"))]), 403);
    }
    let outcome = run(&plugin, "/info", &[]);
    assert_eq!(outcome.body, "Request denied by JWT Auth check. JWT token not allow.");
    assert_eq!(outcome.response_headers, vec![("WWW-Authenticate".to_string(), "JWT realm=MSE Gateway".to_string())]);
}

#[test]
fn higress_e2e_single_consumer() {
    let plugin = build_rule(&split_case_global(), json!(["consumerEC"]));
    let check = |uri: &str, headers: &[(&str, &str)], expected: Option<u16>, body: &str| {
        let outcome = run(&plugin, uri, headers);
        assert_eq!(outcome.status, expected, "{uri} {headers:?}");
        assert_eq!(outcome.body, body, "{uri} {headers:?}");
    };
    let es = format!("Bearer {ES256}");
    let es_expired = format!("Bearer {ES256_EXPIRED}");
    let rs = format!("Bearer {RS256}");
    check("/info", &[("authorization", &es)], None, "");
    check("/info", &[("authorization", &es_expired)], Some(401), "Request denied by JWT Auth check. JWT is expired.");
    check("/info", &[("authorization", "Bearer faketoken")], Some(401), "Request denied by JWT Auth check. JWT verification fails");
    check("/info", &[], Some(401), "Request denied by JWT Auth check. JWT is missing.");
    check("/info", &[("authorization", &rs)], Some(403), "Request denied by JWT Auth check. Unauthorized consumer.");
    check(&format!("/info?access_token={ES256}"), &[], None, "");
    check(&format!("/info?access_token={ES256_EXPIRED}"), &[], Some(401), "Request denied by JWT Auth check. JWT is expired.");
    check("/info?access_token=faketoken", &[], Some(401), "Request denied by JWT Auth check. JWT verification fails");
    check(&format!("/info?access_token={RS256}"), &[], Some(403), "Request denied by JWT Auth check. Unauthorized consumer.");
}

#[test]
fn global_scope() {
    let alone = JwtAuth::from_config(&split_case_global()).unwrap();
    let rs = format!("Bearer {RS256}");
    let outcome = run(&alone, "/", &[("authorization", &rs)]);
    assert_eq!((outcome.status, consumer_of(&outcome)), (None, vec!["consumerRSA".to_string()]));
    // Without rules there is no allow list: a missing token is "not allowed", not "missing".
    assert_eq!(status(&alone, "/", &[]), 403);
    // With rules elsewhere, the global configuration lets everything through (Higress `RuleSet`).
    let with_rules = JwtAuth::from_config(&global_config(split_case_global(), true)).unwrap();
    let outcome = run(&with_rules, "/", &[]);
    assert_eq!(outcome.status, None);
    assert!(outcome.headers.is_empty());
    // `global_auth` is never read by the Go plugin.
    let mut forced = split_case_global();
    forced["global_auth"] = json!(true);
    let forced = JwtAuth::from_config(&global_config(forced, true)).unwrap();
    assert_eq!(run(&forced, "/", &[]).status, None);
}

#[test]
fn client_consumer_header_is_kept() {
    let plugin = JwtAuth::from_config(&split_case_global()).unwrap();
    let es = format!("Bearer {ES256}");
    let outcome = run(&plugin, "/", &[("authorization", &es), ("x-mse-consumer", "forged")]);
    assert_eq!(consumer_of(&outcome), vec!["forged".to_string(), "consumerEC".to_string()]);
    assert!(outcome.headers.remove.contains(&"x-mse-consumer".to_string()));
}

#[test]
fn clock_skew_and_time_claims() {
    let plugin = JwtAuth::from_config(&split_case_global()).unwrap();
    let es = format!("Bearer {ES256_EXPIRED}");
    // exp = 1704067200; 60 s of leeway by default.
    assert_eq!(run_at(&plugin, "/", &[("authorization", &es)], at(1_704_067_200 + 60)).status, None);
    assert_eq!(run_at(&plugin, "/", &[("authorization", &es)], at(1_704_067_260) + Duration::from_nanos(1)).status, Some(403));
    // nbf = 1704067200.
    assert_eq!(run_at(&plugin, "/", &[("authorization", &es)], at(1_704_067_200 - 60)).status, None);
    assert_eq!(run_at(&plugin, "/", &[("authorization", &es)], at(1_704_067_200 - 61)).status, Some(403));

    let strict = build_rule(
        &json!({"consumers": [{"name": "c", "issuer": "higress-test", "jwks": ec_jwks(), "clock_skew_seconds": 0}]}),
        json!(["c"]),
    );
    assert_eq!(run_at(&strict, "/", &[("authorization", &es)], at(1_704_067_200)).status, None);
    let outcome = run_at(&strict, "/", &[("authorization", &es)], at(1_704_067_201));
    assert_eq!(outcome.body, "Request denied by JWT Auth check. JWT is expired.");
    // "Not valid yet" is reported as expired too.
    let outcome = run_at(&strict, "/", &[("authorization", &es)], at(1_704_067_199));
    assert_eq!((outcome.status, outcome.body.as_str()), (Some(401), "Request denied by JWT Auth check. JWT is expired."));
}

#[test]
fn issuer_must_match() {
    let plugin = build_rule(&json!({"consumers": [{"name": "c", "issuer": "other", "jwks": JWKS}]}), json!(["c"]));
    let outcome = run(&plugin, "/", &[("authorization", &format!("Bearer {ES256}"))]);
    assert_eq!(outcome.body, "Request denied by JWT Auth check. JWT verification fails");
}

#[test]
fn header_source_quirks() {
    let plugin = build_rule(&json!({"consumers": [{"name": "c", "issuer": "higress-test", "jwks": JWKS}]}), json!(["c"]));
    // Without the prefix the header yields nothing, but the query is still read.
    assert_eq!(run(&plugin, &format!("/?access_token={ES256}"), &[("authorization", ES256)]).status, None);
    assert_eq!(run(&plugin, "/", &[("authorization", ES256)]).body, "Request denied by JWT Auth check. JWT is missing.");
    // Whitespace anywhere in the token is dropped (go-jose), `+` in a query is a space.
    let (head, rest) = ES256.split_at(20);
    assert_eq!(run(&plugin, "/", &[("authorization", &format!("Bearer  {head} {rest}"))]).status, None);
    assert_eq!(run(&plugin, &format!("/?access_token={head}+{rest}"), &[]).status, None);
    // Padding on base64url parts is tolerated (the signing input is re-encoded without it).
    let parts: Vec<&str> = ES256.split('.').collect();
    assert_eq!(run(&plugin, "/", &[("authorization", &format!("Bearer {}==.{}.{}", parts[0], parts[1], parts[2]))]).status, None);
    assert_eq!(run(&plugin, "/", &[("authorization", &format!("Bearer {}.{}.{}==", parts[0], parts[1], parts[2]))]).status, None);
}

#[test]
fn keep_token_false() {
    let global = json!({"consumers": [
        {"name": "a", "issuer": "nobody", "jwks": JWKS, "keep_token": false, "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}], "from_cookies": ["jwt"], "from_params": ["t"]},
        {"name": "b", "issuer": "higress-test", "jwks": JWKS},
    ]});
    let plugin = build_rule(&global, json!(["a", "b"]));
    // Consumer a takes the header away (and fails on the issuer); b then finds no token.
    let outcome = run(&plugin, "/", &[("authorization", &format!("Bearer {ES256}"))]);
    assert_eq!(outcome.status, Some(403));
    let plugin = build_rule(&global, json!(["b"]));
    let outcome = run(&plugin, "/", &[("authorization", &format!("Bearer {ES256}"))]);
    assert_eq!(outcome.body, "Request denied by JWT Auth check. JWT is missing.");

    let global = json!({"consumers": [
        {"name": "a", "issuer": "higress-test", "jwks": JWKS, "keep_token": false, "from_headers": [{"name": "X-Token", "value_prefix": ""}], "from_cookies": ["jwt"], "from_params": ["t"]},
    ]});
    let plugin = build_rule(&global, json!(["a"]));
    let outcome = run(&plugin, "/", &[("x-token", ES256), ("x-other", "1")]);
    assert_eq!(outcome.status, None);
    assert!(outcome.headers.remove.contains(&"x-token".to_string()));
    assert!(!outcome.headers.add.iter().any(|(n, _)| n == "x-token"));
    let outcome = run(&plugin, "/", &[("cookie", &format!("a=1; jwt={ES256}; jwtx=2; b=3"))]);
    assert_eq!(outcome.status, None);
    assert!(outcome.headers.add.contains(&("cookie".to_string(), "a=1;b=3".to_string())));
    // The query parameter stays (Higress deletes it from a copy).
    let outcome = run(&plugin, &format!("/?t={ES256}"), &[]);
    assert_eq!(outcome.status, None);
    assert_eq!(consumer_of(&outcome), vec!["a".to_string()]);
    assert_eq!(outcome.headers.remove, vec!["x-mse-consumer".to_string()]);
}

#[test]
fn claims_to_headers_like_go() {
    let global = json!({"consumers": [
        {"name": "first", "issuer": "higress-test", "jwks": JWKS,
         "claims_to_headers": [{"claim": "sub", "header": "x-sub"}, {"claim": "exp", "header": "x-exp", "override": false}, {"claim": "aud", "header": "x-aud"}, {"claim": "none", "header": "x-none"}]},
        {"name": "second", "issuer": "higress-test", "jwks": JWKS, "claims_to_headers": [{"claim": "iss", "header": "x-iss"}]},
    ]});
    let plugin = build_rule(&global, json!(["second"]));
    let outcome = run(&plugin, "/", &[("authorization", &format!("Bearer {ES256}")), ("x-sub", "old"), ("x-exp", "old")]);
    assert_eq!(outcome.status, None);
    let added = &outcome.headers.add;
    // "first" verifies but is not allowed: its headers are applied anyway.
    assert!(added.contains(&("x-sub".into(), "higress-test".into())));
    assert!(!added.contains(&("x-sub".into(), "old".into())));
    assert!(added.contains(&("x-exp".into(), "old".into())));
    assert!(added.contains(&("x-exp".into(), "2.0196864e+09".into())));
    assert!(added.contains(&("x-aud".into(), "[foo bar]".into())));
    assert!(added.contains(&("x-iss".into(), "higress-test".into())));
    assert!(!added.iter().any(|(n, _)| n == "x-none"));
    assert_eq!(consumer_of(&outcome), vec!["second".to_string()]);
}

#[test]
fn key_selection_by_kid() {
    // kid "p256" picks the EC key even when listed second; an unknown kid falls back to the first key.
    let keys: Value = serde_json::from_str(JWKS).unwrap();
    let reversed = json!({"keys": [keys["keys"][1], keys["keys"][0]]}).to_string();
    let plugin = JwtAuth::from_config(&json!({"consumers": [{"name": "c", "issuer": "higress-test", "jwks": reversed}]})).unwrap();
    assert_eq!(status(&plugin, "/", &[("authorization", &format!("Bearer {ES256}"))]), 200);
    let mut ec = keys["keys"][0].clone();
    ec["kid"] = json!("renamed");
    let only_ec = JwtAuth::from_config(&json!({"consumers": [{"name": "c", "issuer": "higress-test", "jwks": json!({"keys": [ec]}).to_string()}]})).unwrap();
    assert_eq!(status(&only_ec, "/", &[("authorization", &format!("Bearer {ES256}"))]), 200);
    // An empty key set: Higress panics (and lets the request through); here it fails verification.
    let empty = build_rule(&json!({"consumers": [{"name": "c", "issuer": "higress-test", "jwks": "{\"keys\":[]}"}]}), json!(["c"]));
    assert_eq!(run(&empty, "/", &[("authorization", &format!("Bearer {ES256}"))]).body, "Request denied by JWT Auth check. JWT verification fails");
}

// --- Tokens signed here, for the algorithms the fixtures do not cover.

enum TestKey {
    Ec(EcKey<Private>, usize),
    Rsa(PKey<Private>),
    Ed(PKey<Private>),
    Oct(Vec<u8>),
}

impl TestKey {
    fn ec(nid: Nid, size: usize) -> Self {
        TestKey::Ec(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap(), size)
    }

    fn rsa(bits: u32) -> Self {
        TestKey::Rsa(PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap())
    }

    fn ed() -> Self {
        TestKey::Ed(PKey::generate(Id::ED25519).unwrap())
    }

    fn jwk(&self, kid: &str) -> Value {
        let b64 = |b: &[u8]| b64url_encode(b);
        match self {
            TestKey::Ec(key, size) => {
                let mut ctx = BigNumContext::new().unwrap();
                let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
                key.public_key().affine_coordinates_gfp(key.group(), &mut x, &mut y, &mut ctx).unwrap();
                let crv = match size {
                    32 => "P-256",
                    48 => "P-384",
                    _ => "P-521",
                };
                json!({"kty": "EC", "kid": kid, "crv": crv, "x": b64(&x.to_vec_padded(*size).unwrap()), "y": b64(&y.to_vec_padded(*size).unwrap())})
            }
            TestKey::Rsa(key) => {
                let rsa = key.rsa().unwrap();
                json!({"kty": "RSA", "kid": kid, "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())})
            }
            TestKey::Ed(key) => {
                let mut raw = [0u8; 32];
                key.raw_public_key(&mut raw).unwrap();
                json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(&raw)})
            }
            TestKey::Oct(secret) => json!({"kty": "oct", "kid": kid, "k": b64(secret)}),
        }
    }

    fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let md = match &alg[2..] {
            "256" => MessageDigest::sha256(),
            "384" => MessageDigest::sha384(),
            _ => MessageDigest::sha512(),
        };
        match self {
            TestKey::Ec(key, size) => {
                let sig = EcdsaSig::sign(&hash(md, input).unwrap(), key).unwrap();
                [sig.r().to_vec_padded(*size).unwrap(), sig.s().to_vec_padded(*size).unwrap()].concat()
            }
            TestKey::Rsa(key) => {
                let mut signer = Signer::new(md, key).unwrap();
                if alg.starts_with("PS") {
                    signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                    signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                }
                signer.update(input).unwrap();
                signer.sign_to_vec().unwrap()
            }
            TestKey::Ed(key) => Signer::new_without_digest(key).unwrap().sign_oneshot_to_vec(input).unwrap(),
            TestKey::Oct(secret) => jws::hmac(secret, md, input).unwrap(),
        }
    }
}

fn token(key: &TestKey, header: &Value, claims: &Value) -> String {
    let alg = header["alg"].as_str().unwrap();
    let input = format!("{}.{}", b64url_encode(header.to_string().as_bytes()), b64url_encode(claims.to_string().as_bytes()));
    format!("{input}.{}", b64url_encode(&key.sign(alg, input.as_bytes())))
}

fn single(key_set: Value) -> JwtAuth {
    build_rule(&json!({"consumers": [{"name": "c", "issuer": "me", "jwks": key_set.to_string()}]}), json!(["c"]))
}

fn verdict(plugin: &JwtAuth, token: &str) -> String {
    let outcome = run(plugin, "/", &[("authorization", &format!("Bearer {token}"))]);
    if outcome.status.is_none() {
        "ok".into()
    } else {
        outcome.body.trim_start_matches("Request denied by JWT Auth check. ").to_string()
    }
}

#[test]
fn algorithms() {
    let claims = json!({"iss": "me", "exp": NOW + 3600});
    let cases = [
        (TestKey::ec(Nid::X9_62_PRIME256V1, 32), "ES256"),
        (TestKey::ec(Nid::SECP384R1, 48), "ES384"),
        (TestKey::ec(Nid::SECP521R1, 66), "ES512"),
        (TestKey::rsa(2048), "RS256"),
        (TestKey::rsa(2048), "RS512"),
        (TestKey::rsa(2048), "PS256"),
        (TestKey::rsa(1024), "PS384"),
        (TestKey::ed(), "EdDSA"),
        (TestKey::Oct(b"short".to_vec()), "HS256"),
        (TestKey::Oct(b"a secret".to_vec()), "HS512"),
    ];
    for (key, alg) in &cases {
        let plugin = single(json!({"keys": [key.jwk("k")]}));
        assert_eq!(verdict(&plugin, &token(key, &json!({"alg": alg, "kid": "k"}), &claims)), "ok", "{alg}");
        // Tampered payload.
        let good = token(key, &json!({"alg": alg}), &claims);
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], b64url_encode(json!({"iss": "me"}).to_string().as_bytes()), parts[2]);
        assert_eq!(verdict(&plugin, &forged), "JWT verification fails", "{alg}");
        // `none` never verifies.
        let none = format!("{}.{}.", b64url_encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(verdict(&plugin, &none), "JWT verification fails", "{alg}");
    }
    // The algorithm must fit the key type.
    let rsa = TestKey::rsa(2048);
    let plugin = single(json!({"keys": [rsa.jwk("k")]}));
    let hs = token(&TestKey::Oct(b"x".to_vec()), &json!({"alg": "HS256"}), &claims);
    assert_eq!(verdict(&plugin, &hs), "JWT verification fails");
    // RSA keys under 1024 bits are refused by Go's crypto/rsa.
    let small = TestKey::rsa(768);
    let plugin = single(json!({"keys": [small.jwk("k")]}));
    assert_eq!(verdict(&plugin, &token(&small, &json!({"alg": "RS256"}), &claims)), "JWT verification fails");
}

#[test]
fn private_keys_parse_but_never_verify() {
    let key = TestKey::ec(Nid::X9_62_PRIME256V1, 32);
    let TestKey::Ec(ec, _) = &key else { unreachable!() };
    let mut jwk = key.jwk("k");
    jwk["d"] = json!(b64url_encode(&ec.private_key().to_vec_padded(32).unwrap()));
    let plugin = single(json!({"keys": [jwk]}));
    assert_eq!(verdict(&plugin, &token(&key, &json!({"alg": "ES256"}), &json!({"iss": "me"}))), "JWT verification fails");
}

#[test]
fn header_and_claim_rules() {
    let key = TestKey::Oct(b"secret".to_vec());
    let plugin = single(json!({"keys": [key.jwk("k")]}));
    let ok = |header: Value, claims: Value| verdict(&plugin, &token(&key, &header, &claims));
    assert_eq!(ok(json!({"alg": "HS256", "kid": null}), json!({"iss": "me", "aud": "x", "sub": "s"})), "ok");
    assert_eq!(ok(json!({"alg": "HS256", "kid": 5}), json!({"iss": "me"})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256", "crit": ["exp"]}), json!({"iss": "me"})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256", "jwk": {"kty": "oct", "k": "AA"}}), json!({"iss": "me"})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "aud": null})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "aud": ["a", 1]})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "exp": "2099"})), "JWT verification fails");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "exp": null, "nbf": NOW + 59})), "ok");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "iat": NOW + 61})), "JWT is expired.");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"iss": "me", "exp": (NOW - 60) as f64 + 0.9})), "ok");
    assert_eq!(ok(json!({"alg": "HS256"}), json!({"ISS": "me"})), "JWT verification fails");
    // Repeated members are rejected (go-jose's decoder).
    let input = format!("{}.{}", b64url_encode(br#"{"alg":"HS256"}"#), b64url_encode(br#"{"iss":"me","iss":"me"}"#));
    let duplicated = format!("{input}.{}", b64url_encode(&key.sign("HS256", input.as_bytes())));
    assert_eq!(verdict(&plugin, &duplicated), "JWT verification fails");
    // `"b64": false`: the payload is signed as is.
    let input = format!("{}.{}", b64url_encode(br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#), r#"{"iss":"me"}"#);
    let raw_sig = key.sign("HS256", input.as_bytes());
    let token = format!("{}.{}.{}", b64url_encode(br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#), b64url_encode(br#"{"iss":"me"}"#), b64url_encode(&raw_sig));
    assert_eq!(verdict(&plugin, &token), "ok");
}

#[test]
fn json_serialization() {
    let key = TestKey::Oct(b"secret".to_vec());
    let plugin = single(json!({"keys": [key.jwk("k")]}));
    let compact = token(&key, &json!({"alg": "HS256"}), &json!({"iss": "me"}));
    let parts: Vec<&str> = compact.split('.').collect();
    let flattened = json!({"protected": parts[0], "payload": parts[1], "signature": parts[2]}).to_string();
    assert_eq!(verdict(&plugin, &flattened), "ok");
    let general = json!({"payload": parts[1], "signatures": [{"protected": parts[0], "signature": parts[2]}]}).to_string();
    assert_eq!(verdict(&plugin, &general), "ok");
    let two = json!({"payload": parts[1], "signatures": [{"protected": parts[0], "signature": parts[2]}, {"protected": parts[0], "signature": parts[2]}]}).to_string();
    assert_eq!(verdict(&plugin, &two), "JWT verification fails");
    // The algorithm may sit in the unprotected header; the signing input then has an empty header part.
    let input = format!(".{}", parts[1]);
    let unprotected = json!({"header": {"alg": "HS256"}, "payload": parts[1], "signature": b64url_encode(&key.sign("HS256", input.as_bytes()))}).to_string();
    assert_eq!(verdict(&plugin, &unprotected), "ok");
}

#[test]
fn config_parsing() {
    let err = JwtAuth::from_config(&json!({})).unwrap_err();
    assert_eq!(err.field, "consumers");
    assert!(err.message.contains("consumers is not a array"), "{err}");
    let err = JwtAuth::from_config(&json!({"consumers": []})).unwrap_err();
    assert!(err.message.contains("at least one consumer"), "{err}");
    let err = JwtAuth::from_config(&json!({"consumers": [{"name": "a", "jwks": "{"}, {"name": "b", "jwks": JWKS, "keep_token": "yes"}]})).unwrap_err();
    assert!(err.message.contains("consumers[0]: jwks is invalid") && err.message.contains("consumers[1]"), "{err}");
    // Invalid consumers are skipped; a repeated name keeps the first.
    let plugin = JwtAuth::from_config(&json!({"consumers": [
        {"name": "a", "jwks": "not json"},
        {"name": "b", "issuer": "higress-test", "jwks": ec_jwks()},
        {"name": "b", "issuer": "higress-test", "jwks": JWKS},
        {"NAME": "c", "Issuer": "higress-test", "JWKS": JWKS, "clock_skew_seconds": 30.0},
    ]}))
    .unwrap();
    let names: Vec<_> = plugin.consumers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(plugin.consumers[1].clock_skew_seconds, 30);
    assert_eq!(plugin.consumers[0].from_headers, vec![FromHeader { name: "Authorization".into(), value_prefix: "Bearer ".into() }]);
    assert_eq!(plugin.consumers[0].from_params, vec!["access_token".to_string()]);
    // Any explicit source disables the defaults; `null` does not count.
    let only_cookie = JwtAuth::from_config(&json!({"consumers": [{"name": "a", "jwks": JWKS, "from_cookies": ["x"], "from_headers": null}]})).unwrap();
    assert!(only_cookie.consumers[0].from_headers.is_empty() && only_cookie.consumers[0].from_params.is_empty());
    for bad in [
        json!({"name": "a", "jwks": JWKS, "clock_skew_seconds": 1.5}),
        json!({"name": "a", "jwks": JWKS, "claims_to_headers": [{"claim": "a", "header": "h"}, {"claim": "b", "header": "h"}]}),
        json!({"name": "a", "jwks": JWKS, "from_params": [1]}),
        json!({"name": 1, "jwks": JWKS}),
        json!({"name": "a", "jwks": r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#}),
        json!({"name": "a", "jwks": r#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#}),
        json!({"name": "a", "jwks": r#"{"keys":[{"kty":"oct","k":"AA","k":"AA"}]}"#}),
        json!({"name": "a", "jwks": r#"{"keys":[{"kty":"XYZ"}]}"#}),
        json!({"name": "a", "jwks": r#"{"keys":[null]}"#}),
        json!({"name": "a", "jwks": r#"[]"#}),
    ] {
        assert!(JwtAuth::from_config(&json!({"consumers": [bad]})).is_err(), "{bad}");
    }
    // Off-curve EC point.
    let mut ec: Value = serde_json::from_str::<Value>(JWKS).unwrap()["keys"][0].clone();
    ec["y"] = ec["x"].clone();
    assert!(JwtAuth::from_config(&json!({"consumers": [{"name": "a", "jwks": json!({"keys": [ec]}).to_string()}]})).is_err());
    // `null` key sets and `KEYS` are fine for Go's encoding/json.
    assert!(JwtAuth::from_config(&json!({"consumers": [{"name": "a", "jwks": "null"}]})).is_ok());
    assert!(JwtAuth::from_config(&json!({"consumers": [{"name": "a", "jwks": JWKS.replace("\"keys\"", "\"KEYS\"")}]})).is_ok());
}

#[test]
fn rule_configs() {
    let global = split_case_global();
    let err = JwtAuth::from_config(&rule_config(Some(&global), &json!({}))).unwrap_err();
    assert_eq!((err.field.as_str(), err.message.as_str()), ("allow", "allow is required"));
    let err = JwtAuth::from_config(&rule_config(Some(&global), &json!({"allow": []}))).unwrap_err();
    assert_eq!(err.message, "allow cannot be empty");
    // A scalar counts as a one-item list (gjson `Array()`); the rule's own consumers are ignored.
    let plugin = JwtAuth::from_config(&rule_config(Some(&global), &json!({"allow": "consumerEC", "consumers": []}))).unwrap();
    assert_eq!(plugin.scope, Scope::Rule { allow: vec!["consumerEC".into()] });
    assert_eq!(plugin.consumers.len(), 5);
    // Without a usable global configuration a rule has no consumers and denies everything.
    let orphan = JwtAuth::from_config(&rule_config(None, &json!({"allow": ["x"]}))).unwrap();
    assert_eq!(run(&orphan, "/", &[("authorization", &format!("Bearer {ES256}"))]).status, Some(403));
    // Rules marked by the registry only for jwt-auth.
    assert_eq!(crate::registry::effective_rule_config("request-block", Some(&global), &json!({"a": 1})).unwrap(), json!({"a": 1}));
    assert!(crate::registry::build(NAME, &crate::registry::effective_rule_config(NAME, Some(&global), &json!({"allow": ["a"]})).unwrap()).is_ok());
}
