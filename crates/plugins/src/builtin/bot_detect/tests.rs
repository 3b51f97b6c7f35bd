use super::*;
use serde_json::json;

fn run(config: Value, user_agent: Option<&str>) -> Option<(u16, Bytes)> {
    let plugin = BotDetect::from_config(&config).unwrap();
    let mut builder = http::Request::builder().uri("/foo");
    if let Some(ua) = user_agent {
        builder = builder.header("user-agent", ua);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip: None };
    match plugin.on_request_headers(&view, &mut RequestEdits::default()) {
        Decision::Respond(r) => Some((r.status, r.body)),
        Decision::Continue => None,
    }
}

fn blocked(config: Value, user_agent: &str) -> bool {
    run(config, Some(user_agent)).is_some()
}

#[test]
fn higress_e2e_config() {
    let config = json!({"blocked_code": 401, "blocked_message": "deny by bot detect", "allow": ["Tailsweep"], "deny": ["Go-Client"]});
    assert_eq!(run(config.clone(), Some("BaiduMobaider/1.1.0")), Some((401, Bytes::from_static(b"deny by bot detect"))));
    assert_eq!(run(config.clone(), Some("Mozilla/5.0")), None);
    assert_eq!(run(config.clone(), Some("Tailsweep")), None);
    assert_eq!(run(config, Some("Go-Client")).map(|r| r.0), Some(401));
}

#[test]
fn defaults() {
    assert_eq!(run(json!({}), Some("Googlebot/2.1")), Some((403, Bytes::from_static(b"Invalid User-Agent"))));
    assert_eq!(run(json!({}), Some("")).map(|r| r.0), Some(403));
    assert_eq!(run(json!({}), None).map(|r| r.0), Some(403));
    for ua in [
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; YandexBot/3.0)",
        "Scrapy/2.11 (+https://scrapy.org)",
        "facebookexternalhit/1.1 favicon",
        "Tailsweep-1.0",
        "MJ12bot",
        // Higress's own test vectors.
        "Ant-Tailsweep-1",
        "indexer/1.2",
        "indexer/1.1.0",
        "YottaaMonitor",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    ] {
        assert!(blocked(json!({}), ua), "{ua}");
    }
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "curl/8.5.0",
        "Go-http-client/1.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    ] {
        assert!(!blocked(json!({}), ua), "{ua}");
    }
    // allow overrides the defaults; deny adds rules.
    assert!(!blocked(json!({"allow": [".*bingbot.*"]}), "bingbot/2.0"));
    assert!(blocked(json!({"deny": ["spd-tools.*"]}), "spd-tools"));
    // Not a list: ignored.
    assert!(!blocked(json!({"deny": "curl"}), "curl/8.5.0"));
}

#[test]
fn go_regex_classes_are_ascii() {
    assert!(go_regex(r"^\d+$").unwrap().is_match("123"));
    assert!(!go_regex(r"^\d+$").unwrap().is_match("١٢٣"));
    assert!(!go_regex(r"^\w$").unwrap().is_match("é"));
    assert!(go_regex(r"^\W$").unwrap().is_match("é"));
    assert!(go_regex(r"^[\d.]+$").unwrap().is_match("1.2"));
    assert!(go_regex(r"\bab\b").unwrap().is_match("éab"));
    assert!(go_regex(r"^a\\d$").unwrap().is_match(r"a\d"));
    assert!(go_regex(r"^\s$").unwrap().is_match("\t"));
    assert!(!go_regex(r"^\s$").unwrap().is_match("\u{a0}"));
}

#[test]
fn config_errors_name_the_field() {
    let err = BotDetect::from_config(&json!({"deny": ["ok", "("]})).unwrap_err();
    assert_eq!(err.field, "deny[1]");
    let err = BotDetect::from_config(&json!({"blocked_code": 70000})).unwrap_err();
    assert_eq!(err.field, "blocked_code");
    assert_eq!(run(json!({"blocked_code": "abc"}), Some("")).map(|r| r.0), Some(403));
}
