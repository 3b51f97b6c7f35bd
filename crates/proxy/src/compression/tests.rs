use std::io::Read;

use super::*;

fn mk_request(accept: Option<&str>) -> RequestHeader {
    let mut request = RequestHeader::build("GET", b"/", None).unwrap();
    if let Some(accept) = accept {
        request.insert_header("accept-encoding", accept).unwrap();
    }
    request
}

fn mk_response(headers: &[(&str, &str)]) -> ResponseHeader {
    let mut response = ResponseHeader::build(200, None).unwrap();
    for (name, value) in headers {
        response.append_header(name.to_string(), *value).unwrap();
    }
    response
}

fn policy() -> GzipPolicy {
    GzipPolicy::compile(&Gzip { min_content_length: 100, ..Gzip::default() }).unwrap()
}

/// (Accept-Encoding, response headers, compressed?)
type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], bool);

#[test]
fn compresses_only_what_envoy_would() {
    let json = [("content-type", "application/json; charset=utf-8"), ("content-length", "500")];
    let cases: &[Case<'_>] = &[
        (Some("gzip, br"), &json, true),
        (Some("*"), &json, true),
        (Some("br, *;q=0"), &json, false),
        (Some("gzip;q=0, *"), &json, false),
        (None, &json, false),
        (Some("gzip"), &[("content-type", "application/json"), ("content-length", "99")], false),
        (Some("gzip"), &[("content-type", "image/png"), ("content-length", "500")], false),
        (Some("gzip"), &[("content-type", "text/plain"), ("content-encoding", "gzip")], false),
        (Some("gzip"), &[("content-type", "text/plain"), ("cache-control", "public, no-transform")], false),
        (Some("gzip"), &[("content-type", "text/plain"), ("etag", "\"x\"")], false),
        (Some("gzip"), &[("content-type", "text/plain")], true),
    ];
    for (accept, headers, expected) in cases {
        let mut response = mk_response(headers);
        let started = policy().start(&mk_request(*accept), &mut response).unwrap();
        assert_eq!(started.is_some(), *expected, "{accept:?} {headers:?}");
        if *expected {
            assert_eq!(response.headers.get("content-encoding").unwrap(), "gzip");
            assert!(response.headers.get("content-length").is_none());
        }
    }
}

#[test]
fn a_strong_etag_is_weakened_when_etags_do_not_disable_compression() {
    let policy = GzipPolicy::compile(&Gzip { disable_on_etag_header: false, ..Gzip::default() }).unwrap();
    let mut response = mk_response(&[("content-type", "text/html"), ("etag", "\"v1\"")]);
    assert!(policy.start(&mk_request(Some("gzip")), &mut response).unwrap().is_some());
    assert_eq!(response.headers.get("etag").unwrap(), "W/\"v1\"");
}

#[test]
fn streamed_chunks_decode_to_the_original() {
    let mut response = mk_response(&[("content-type", "text/plain")]);
    let mut stream = policy().start(&mk_request(Some("gzip")), &mut response).unwrap().unwrap();
    let mut wire = Vec::new();
    let first = stream.chunk(Some(b"hello hello hello "), false).expect("a flushed chunk goes out at once");
    wire.extend_from_slice(&first);
    wire.extend_from_slice(&stream.chunk(Some(b"world"), false).unwrap());
    wire.extend_from_slice(&stream.chunk(None, true).unwrap());
    let mut text = String::new();
    flate2::read::GzDecoder::new(&wire[..]).read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello hello hello world");
    assert!(stream.chunk(None, true).is_none());
}

#[test]
fn disabled_compiles_to_nothing() {
    assert!(GzipPolicy::compile(&Gzip { enable: false, ..Gzip::default() }).is_none());
}
