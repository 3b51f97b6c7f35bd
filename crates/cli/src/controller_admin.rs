//! The controller's admin port: `/healthz/ready` (a first snapshot exists), `/metrics`, `/debug/config`
//! (the IR it serves; private keys are never part of the IR's JSON), `/debug/diagnostics`,
//! `/debug/gateways` (connected gateways and the versions they acknowledged or rejected), `/debug/leader`.

use std::sync::Arc;

use async_trait::async_trait;
use oxigress_controller::DiagnosticsView;
use oxigress_ir::Snapshot;
use oxigress_stream::ServerStatus;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

/// The controller's admin HTTP application.
pub struct ControllerAdmin {
    snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    diagnostics: Arc<DiagnosticsView>,
    gateways: ServerStatus,
    is_leader: watch::Receiver<bool>,
    registry: Arc<Registry>,
}

impl ControllerAdmin {
    /// An admin app over the controller's outputs.
    pub fn new(
        snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
        diagnostics: Arc<DiagnosticsView>,
        gateways: ServerStatus,
        is_leader: watch::Receiver<bool>,
        registry: Arc<Registry>,
    ) -> Self {
        Self { snapshots, diagnostics, gateways, is_leader, registry }
    }

    /// Status, content type and body for `path`.
    pub fn answer(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        const JSON: &str = "application/json";
        let snapshot = self.snapshots.borrow().clone();
        match path {
            "/healthz/ready" | "/ready" => match snapshot {
                Some(_) => (200, "text/plain", b"ready\n".to_vec()),
                None => (503, "text/plain", b"no configuration yet\n".to_vec()),
            },
            "/metrics" => {
                let mut text = String::new();
                match prometheus_client::encoding::text::encode(&mut text, &self.registry) {
                    Ok(()) => (200, "application/openmetrics-text; version=1.0.0; charset=utf-8", text.into_bytes()),
                    Err(e) => (500, "text/plain", e.to_string().into_bytes()),
                }
            }
            "/debug/config" => match snapshot {
                Some(snapshot) => (200, JSON, snapshot.to_redacted_json(oxigress_plugins::registry::redacted_config).into_bytes()),
                None => (503, "text/plain", b"no configuration yet\n".to_vec()),
            },
            "/debug/diagnostics" => (200, JSON, self.diagnostics.to_json().to_string().into_bytes()),
            "/debug/gateways" => {
                let gateways: serde_json::Map<String, serde_json::Value> = self
                    .gateways
                    .connected()
                    .into_iter()
                    .map(|(id, status)| {
                        let value = serde_json::json!({
                            "connection": status.connection,
                            "sent": status.sent,
                            "acked": status.acked,
                            "rejected": status.rejected.map(|r| serde_json::json!({"version": r.version, "error": r.error})),
                        });
                        (id, value)
                    })
                    .collect();
                (200, JSON, serde_json::Value::Object(gateways).to_string().into_bytes())
            }
            "/debug/leader" => {
                let leader = *self.is_leader.borrow();
                (200, JSON, serde_json::json!({ "leader": leader }).to_string().into_bytes())
            }
            _ => (404, "text/plain", b"not found\n".to_vec()),
        }
    }
}

#[async_trait]
impl ServeHttp for ControllerAdmin {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let (status, content_type, body) = self.answer(session.req_header().uri.path());
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let length = response.body().len();
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        response
    }
}
