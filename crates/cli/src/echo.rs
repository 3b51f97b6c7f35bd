//! A small echo backend: answers every request with JSON describing it (path, host, method, protocol,
//! headers) and who answered (namespace, pod, service), like the conformance suites' echo servers. Used
//! by the bundled example and the end-to-end tests.

use std::collections::BTreeMap;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::json;

/// Who the echo server says it is.
#[derive(Debug, Clone)]
pub struct EchoApp {
    /// Reported as `namespace`.
    pub namespace: String,
    /// Reported as `pod`.
    pub pod: String,
    /// Reported as `service`.
    pub service: String,
}

impl EchoApp {
    /// The JSON answer for a request.
    pub fn describe(&self, req: &pingora::http::RequestHeader) -> serde_json::Value {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in req.headers.iter() {
            if name == http::header::HOST {
                continue;
            }
            headers.entry(canonical(name.as_str())).or_default().push(String::from_utf8_lossy(value.as_bytes()).into());
        }
        let host = req
            .headers
            .get(http::header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .or_else(|| req.uri.authority().map(|a| a.to_string()))
            .unwrap_or_default();
        json!({
            "path": req.uri.path_and_query().map_or_else(|| req.uri.path().to_string(), |p| p.to_string()),
            "host": host,
            "method": req.method.as_str(),
            "proto": format!("{:?}", req.version),
            "headers": headers,
            "namespace": self.namespace,
            "ingress": "",
            "service": self.service,
            "pod": self.pod,
        })
    }
}

/// Go's canonical header form: `x-foo-bar` → `X-Foo-Bar`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| first.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[async_trait]
impl ServeHttp for EchoApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let body = if session.req_header().uri.path() == "/health" {
            b"OK".to_vec()
        } else {
            serde_json::to_vec_pretty(&self.describe(session.req_header())).unwrap_or_default()
        };
        let mut response = http::Response::new(body);
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        headers.insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
        let length = response.body().len();
        response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        response
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_header_names() {
        assert_eq!(super::canonical("x-foo-bar"), "X-Foo-Bar");
        assert_eq!(super::canonical("user-agent"), "User-Agent");
    }
}
