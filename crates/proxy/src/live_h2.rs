//! [`LiveH2`]: the HTTP/2 settings of each new client connection come from the live snapshot (the gateway
//! ConfigMap's `downstream.http2`), so a changed ConfigMap applies without re-creating the listener.
//!
//! why: pingora's `HttpProxy` keeps its `h2_options` in a field fixed when the listener starts, but it asks
//! `HttpServerApp::h2_options` once per new HTTP/2 connection, just before the handshake. This wrapper
//! answers that question from the current [`crate::Runtime`] (options prebuilt per snapshot) and forwards
//! everything else to the wrapped proxy. Connections already open keep the settings they were opened with
//! (as Envoy, whose listener update drains old connections with their old settings).
//!
//! The HTTP/2 idle timeout (`downstream.idleTimeout`) is live the same way: pingora reads it from
//! `server_options()`, which must return a reference, so each distinct timeout gets one options value in
//! an append-only list that lives as long as the listener (a few bytes per value ever configured).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::time::Duration;

use crate::header_deadline::UnboxedHttpApp;
use crate::state::ProxyState;

/// A listener application whose new HTTP/2 connections use the live snapshot's HTTP/2 settings.
pub struct LiveH2<A> {
    inner: Arc<A>,
    state: Arc<ProxyState>,
    /// The wrapped proxy's options, with each HTTP/2 idle timeout seen so far (never removed: handed out
    /// by reference).
    options: boxcar::Vec<HttpServerOptions>,
}

impl<A: HttpServerApp> LiveH2<A> {
    /// Wraps `inner`; settings are read from `state` per new connection.
    pub fn new(inner: A, state: Arc<ProxyState>) -> Self {
        let options = boxcar::Vec::new();
        options.push(inner.server_options().cloned().unwrap_or_default());
        Self { inner: Arc::new(inner), state, options }
    }

    /// The wrapped proxy's options with `idle` as the HTTP/2 idle timeout.
    fn options_with(&self, idle: Option<Duration>) -> &HttpServerOptions {
        if let Some((_, found)) = self.options.iter().find(|(_, o)| o.h2_idle_timeout == idle) {
            return found;
        }
        // Two connections racing here may both append the same value: harmless, the first one is found next.
        let mut options = self.options[0].clone();
        options.h2_idle_timeout = idle;
        &self.options[self.options.push(options)]
    }
}

impl<A: UnboxedHttpApp + Send + Sync + 'static> UnboxedHttpApp for LiveH2<A> {
    fn process_http_request<'a>(
        self: &'a Arc<Self>,
        session: ServerSession,
        shutdown: &'a ShutdownWatch,
    ) -> impl Future<Output = Option<ReusedHttpStream>> + Send + 'a {
        self.inner.process_http_request(session, shutdown)
    }
}

#[async_trait]
impl<A: HttpServerApp + Send + Sync + 'static> HttpServerApp for LiveH2<A> {
    /// Hands out the wrapped proxy's own future: an `async fn` here would box a second future around it
    /// (an allocation, a copy of the session and one more poll layer per request).
    fn process_new_http<'a, 'b, 'f>(
        self: &'a Arc<Self>,
        session: ServerSession,
        shutdown: &'b ShutdownWatch,
    ) -> Pin<Box<dyn Future<Output = Option<ReusedHttpStream>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.inner.process_new_http(session, shutdown)
    }

    fn h2_options(&self) -> Option<H2Options> {
        Some(self.state.runtime().settings.h2.clone())
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        Some(self.options_with(self.state.runtime().settings.h2_idle_timeout))
    }

    async fn http_cleanup(&self) {
        self.inner.http_cleanup().await;
    }

    async fn process_custom_session(self: Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        self.inner.clone().process_custom_session(stream, shutdown).await
    }
}
