//! The admin port: `/healthz/ready`, `/metrics`, `/debug/config`, `/debug/diagnostics`.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus_client::registry::Registry;

use crate::state::ProxyState;

/// Produces the current diagnostics as a JSON array (the controller owns them; the proxy does not know
/// their type). The admin appends what the proxy itself could not compile.
pub type DiagnosticsJson = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The admin HTTP application of one instance.
pub struct AdminApp {
    state: Arc<ProxyState>,
    registry: Arc<Registry>,
    diagnostics: DiagnosticsJson,
}

impl AdminApp {
    /// An admin app over the instance's proxy state, metrics registry and diagnostics.
    pub fn new(state: Arc<ProxyState>, registry: Arc<Registry>, diagnostics: DiagnosticsJson) -> Self {
        Self { state, registry, diagnostics }
    }

    /// Status, content type and body for `path`.
    pub fn answer(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        match path {
            "/healthz/ready" | "/ready" => {
                if self.state.is_ready() {
                    (200, "text/plain", b"ready\n".to_vec())
                } else {
                    (503, "text/plain", b"no configuration yet\n".to_vec())
                }
            }
            "/metrics" => {
                let mut text = String::new();
                match prometheus_client::encoding::text::encode(&mut text, &self.registry) {
                    Ok(()) => (200, "application/openmetrics-text; version=1.0.0; charset=utf-8", text.into_bytes()),
                    Err(e) => (500, "text/plain", e.to_string().into_bytes()),
                }
            }
            "/debug/config" => {
                let json = self.state.runtime().snapshot.to_redacted_json(oxigress_plugins::registry::redacted_config);
                (200, JSON, json.into_bytes())
            }
            "/debug/diagnostics" => (200, JSON, self.diagnostics_json().into_bytes()),
            _ => (404, "text/plain", b"not found\n".to_vec()),
        }
    }
}

impl AdminApp {
    fn diagnostics_json(&self) -> String {
        let mut all = match (self.diagnostics)() {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        };
        all.extend(self.state.problems().iter().map(|problem| {
            serde_json::json!({ "severity": "error", "code": "CompileError", "message": problem })
        }));
        serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into())
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let (status, content_type, body) = self.answer(&path);
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        let length = response.body().len();
        response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        response
    }
}
