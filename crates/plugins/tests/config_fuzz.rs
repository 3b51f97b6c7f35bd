//! Property test of every built-in plugin's configuration parser: random JSON, built from the field names
//! the plugins themselves use (read from `src/builtin` at test time, so new fields are covered without
//! editing this file), is either accepted or a `ConfigError` — never a panic. The rule/global derivation
//! helpers (`effective_rule_config`, `effective_global_config`) and `redacted_config` get the same input.
//! Cases: `PROPTEST_CASES` (default 256 per test).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::OnceLock;

use oxigress_plugins::registry;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Every identifier-like string literal of the built-in plugins' sources (field names, enum values).
fn vocabulary() -> &'static [String] {
    static WORDS: OnceLock<Vec<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words = std::collections::BTreeSet::new();
        // The crate directory as cargo gives it to the running test (a test binary in a shared target
        // dir may have been compiled in another checkout).
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from);
        collect(&crate_dir.join("src/builtin"), &mut words);
        assert!(words.len() > 100, "too few field names found: {}", words.len());
        words.into_iter().collect()
    })
}

fn collect(dir: &Path, words: &mut std::collections::BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, words);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for literal in text.split('"').skip(1).step_by(2) {
                let word_like = !literal.is_empty()
                    && literal.len() <= 40
                    && literal.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:/$".contains(c));
                if word_like {
                    words.insert(literal.to_string());
                }
            }
        }
    }
}

fn word() -> impl Strategy<Value = String> {
    (0..vocabulary().len()).prop_map(|i| vocabulary()[i].clone())
}

/// Strings a parser may trip over: regexes, CIDRs, URLs, durations, JWKS, huge and odd text.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        word(),
        Just(String::new()),
        Just("(".to_string()),
        Just(".*".to_string()),
        Just("[a-".to_string()),
        Just("10.0.0.0/8".to_string()),
        Just("::1/129".to_string()),
        Just("1.2.3.4/33".to_string()),
        Just("http://127.0.0.1:1/x".to_string()),
        Just("https://".to_string()),
        Just("1s".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}".to_string()),
        Just("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}".to_string()),
        Just("Basic Og==".to_string()),
        Just("user:pass".to_string()),
        Just(":".to_string()),
        Just("$.a[0]".to_string()),
        Just("\u{0}\u{ffff}é".to_string()),
        ".{0,40}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(1), Just(-1), Just(65536), Just(i64::from(u32::MAX) + 1)].prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..7).prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A configuration object: random fields (vocabulary keys) with random values.
fn config() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec((word(), json()), 0..8).prop_map(|f| Value::Object(f.into_iter().collect())),
        1 => json(),
    ]
}

fn exercise(name: &str, global: &Value, rule: &Value) {
    let _ = registry::validate(name, global);
    let _ = registry::build(name, rule);
    let effective = registry::effective_global_config(name, global, true);
    let _ = registry::validate(name, &effective);
    let _ = registry::effective_global_config(name, global, false);
    if let Ok(derived) = registry::effective_rule_config(name, Some(global), rule) {
        let _ = registry::validate(name, &derived);
    }
    if let Ok(derived) = registry::effective_rule_config(name, None, rule) {
        let _ = registry::validate(name, &derived);
    }
    let _ = registry::redacted_config(name, global);
}

proptest! {
    #[test]
    fn every_builtin_rejects_bad_config_without_panicking(global in config(), rule in config()) {
        for name in registry::BUILTINS {
            exercise(name, &global, &rule);
        }
    }

    /// The same input gives the same verdict (no hidden state between parses).
    #[test]
    fn verdicts_are_deterministic(config in config()) {
        for name in registry::BUILTINS {
            let first = registry::validate(name, &config).map_err(|e| e.to_string());
            let second = registry::validate(name, &config).map_err(|e| e.to_string());
            prop_assert_eq!(first, second);
        }
    }
}
