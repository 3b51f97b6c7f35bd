use super::*;
use serde_json::json;

fn run(config: Value, peer: Option<&str>, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    let plugin = IpRestriction::from_config(&config).unwrap();
    let mut builder = http::Request::builder().uri("/info");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (parts, _) = builder.body(()).unwrap().into_parts();
    let client_ip = peer.map(|p| p.parse().unwrap());
    let view = RequestView { parts: &parts, host: "foo.com", scheme: "http", client_ip };
    match plugin.on_request_headers(&view, &mut RequestEdits::default()) {
        Decision::Respond(r) => Some((r.status, String::from_utf8(r.body.to_vec()).unwrap())),
        Decision::Continue => None,
    }
}

fn status(config: Value, peer: Option<&str>, headers: &[(&str, &str)]) -> Option<u16> {
    run(config, peer, headers).map(|(s, _)| s)
}

#[test]
fn higress_e2e_allow_and_deny() {
    let allow = json!({"ip_source_type": "header", "ip_header_name": "x-real-ip", "allow": ["192.168.0.1/16", "10.0.0.1"]});
    let deny = json!({"ip_source_type": "header", "ip_header_name": "x-real-ip", "deny": ["192.168.0.1/16", "10.0.0.1"]});
    for (ip, listed) in [("10.0.0.1", true), ("10.0.0.2", false), ("192.168.5.0", true), ("192.169.5.0", false)] {
        let h = [("X-REAL-IP", ip)];
        assert_eq!(status(allow.clone(), None, &h), if listed { None } else { Some(403) }, "allow {ip}");
        assert_eq!(status(deny.clone(), None, &h), if listed { Some(403) } else { None }, "deny {ip}");
    }
}

#[test]
fn denial_body_and_status() {
    let config = json!({"deny": ["10.0.0.0/8"]});
    assert_eq!(
        run(config, Some("10.1.2.3"), &[]),
        Some((403, r#"{"message":"Your IP address is blocked."}"#.to_string()))
    );
    let config = json!({"deny": ["10.0.0.0/8"], "status": 451, "message": "<no> & bye"});
    assert_eq!(
        run(config, Some("10.1.2.3"), &[]),
        Some((451, r#"{"message":"\u003cno\u003e \u0026 bye"}"#.to_string()))
    );
    // status <= 1 means the default.
    assert_eq!(status(json!({"deny": ["10.0.0.0/8"], "status": 1}), Some("10.1.2.3"), &[]), Some(403));
}

#[test]
fn peer_address_by_default() {
    let config = json!({"allow": ["127.0.0.1", "::1"], "ip_header_name": "x-real-ip"});
    assert_eq!(status(config.clone(), Some("127.0.0.1"), &[("x-real-ip", "8.8.8.8")]), None);
    assert_eq!(status(config.clone(), Some("::1"), &[]), None);
    assert_eq!(status(config.clone(), Some("::ffff:127.0.0.1"), &[]), None);
    assert_eq!(status(config.clone(), Some("127.0.0.2"), &[]), Some(403));
    assert_eq!(status(config, None, &[]), Some(403));
}

#[test]
fn header_parsing_quirks() {
    let config = json!({"ip_source_type": "header", "deny": ["1.2.3.4", "2001:db8::/32"]});
    // Default header is X-Forwarded-For, first element wins.
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", " 1.2.3.4 , 5.6.7.8")]), Some(403));
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", "5.6.7.8, 1.2.3.4")]), None);
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", "1.2.3.4:8080")]), Some(403));
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", "[2001:db8::1]:443")]), Some(403));
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", "2001:db8::1")]), Some(403));
    assert_eq!(status(config.clone(), None, &[("x-forwarded-for", "::ffff:0102:0304")]), Some(403));
    // Missing or unparsable IPs are denied even in deny mode.
    assert_eq!(status(config.clone(), Some("9.9.9.9"), &[]), Some(403));
    assert_eq!(status(config, None, &[("x-forwarded-for", "unknown")]), Some(403));
}

#[test]
fn networks() {
    assert_eq!(parse_net("192.168.0.1/16").unwrap().to_string(), "192.168.0.0/16");
    assert_eq!(parse_net("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
    assert_eq!(parse_net("2001:db8::1/32").unwrap().to_string(), "2001:db8::/32");
    assert_eq!(parse_net("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    for bad in ["10.0.0.1/33", "10.0.0.1/", "10.0.0.1/+8", " 10.0.0.1", "::ffff:1.2.3.4", "abc", ""] {
        assert!(parse_net(bad).is_none(), "{bad}");
    }
    // A scalar counts as a one-entry list; duplicates are fine.
    assert_eq!(status(json!({"allow": "10.0.0.1"}), Some("10.0.0.1"), &[]), None);
    assert_eq!(status(json!({"allow": ["10.0.0.1", "10.0.0.1"]}), Some("10.0.0.1"), &[]), None);
}

#[test]
fn config_errors_name_the_field() {
    let err = IpRestriction::from_config(&json!({})).unwrap_err();
    assert!(err.message.contains("cannot be empty"));
    let err = IpRestriction::from_config(&json!({"allow": ["1.1.1.1"], "deny": ["2.2.2.2"]})).unwrap_err();
    assert!(err.message.contains("at the same time"));
    let err = IpRestriction::from_config(&json!({"allow": ["1.1.1.1", "1.1.1.300"]})).unwrap_err();
    assert_eq!(err.field, "allow[1]");
    let err = IpRestriction::from_config(&json!({"deny": ["1.1.1.1"], "status": 1000})).unwrap_err();
    assert_eq!(err.field, "status");
    let err = IpRestriction::from_config(&json!({"deny": ["1.1.1.1"], "ip_source_type": "header", "ip_header_name": "bad header"}))
        .unwrap_err();
    assert_eq!(err.field, "ip_header_name");
}
