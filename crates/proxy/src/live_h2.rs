//! [`LiveH2`]: the HTTP/2 settings of each new client connection come from the live snapshot (the gateway
//! ConfigMap's `downstream.http2`), so a changed ConfigMap applies without re-creating the listener.
//!
//! why: pingora's `HttpProxy` keeps its `h2_options` in a field fixed when the listener starts, but it asks
//! `HttpServerApp::h2_options` once per new HTTP/2 connection, just before the handshake. This wrapper
//! answers that question from the current [`crate::Runtime`] (options prebuilt per snapshot) and forwards
//! everything else to the wrapped proxy. Connections already open keep the settings they were opened with
//! (as Envoy, whose listener update drains old connections with their old settings).

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;

use crate::state::ProxyState;

/// A listener application whose new HTTP/2 connections use the live snapshot's HTTP/2 settings.
pub struct LiveH2<A> {
    inner: Arc<A>,
    state: Arc<ProxyState>,
}

impl<A> LiveH2<A> {
    /// Wraps `inner`; settings are read from `state` per new connection.
    pub fn new(inner: A, state: Arc<ProxyState>) -> Self {
        Self { inner: Arc::new(inner), state }
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for LiveH2<A> {
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        self.inner.process_new_http(session, shutdown).await
    }

    fn h2_options(&self) -> Option<H2Options> {
        Some(self.state.runtime().settings.h2.clone())
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.inner.server_options()
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await;
    }

    async fn process_custom_session(self: Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        self.inner.clone().process_custom_session(stream, shutdown).await
    }
}
