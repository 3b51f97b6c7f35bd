//! The listener application around pingora's HTTP proxy that bounds how long (and how large) a client may
//! take to send a request head, nginx's `client_header_timeout`; pingora has only a 60 s timeout per read,
//! which a client trickling a byte at a time never hits, and a 60 s TLS handshake timeout.
//!
//! - TLS: the handshake runs here (not in pingora's listener) and must finish within the header timeout.
//! - Each connection's stream is wrapped in a [`DeadlineStream`], which fails reads once a request head
//!   is not complete within the header timeout, and answers a head over pingora's limits (1 MiB, 256
//!   headers) with 431 instead of pingora's 400.
//! - The first head's clock starts when the connection is accepted (after the TLS handshake). HTTP/1
//!   keep-alive: this module runs pingora's request loop itself, so after each response the stream is
//!   re-armed and the next head's clock starts at its first byte; an idle keep-alive connection is bounded
//!   by the idle timeout (gateway ConfigMap `downstream.idleTimeout`, as pingora's keep-alive timeout
//!   says it), not by this one, and the stream's timer enforces it until that first byte.
//! - HTTP/2 (ALPN or the h2c preface): the preface is the head that must arrive in time; the connection
//!   is then handed to pingora's own HTTP/2 handling.

mod stream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream, ServerApp};
use pingora::listeners::TlsAccept;
use pingora::protocols::http::ServerSession;
use pingora::protocols::tls::server::handshake_with_callback;
use pingora::protocols::{Stream, ALPN};
use pingora::proxy::{HttpProxy, ProxyHttp};
use pingora::server::ShutdownWatch;
use pingora::tls::ssl::{select_next_proto, AlpnError, SslAcceptor, SslMethod, SslRef};

pub use stream::DeadlineStream;

/// The HTTP application behind a [`HeaderDeadline`]: pingora's [`HttpServerApp`], whose request loop
/// runs each request's future inside the connection's own future. Through `HttpServerApp` that future
/// (several kilobytes) is allocated and moved into a new box per request.
pub trait UnboxedHttpApp: HttpServerApp {
    /// [`HttpServerApp::process_new_http`], without the box.
    fn process_http_request<'a>(
        self: &'a Arc<Self>,
        session: ServerSession,
        shutdown: &'a ShutdownWatch,
    ) -> impl Future<Output = Option<ReusedHttpStream>> + Send + 'a;
}

impl<SV> UnboxedHttpApp for HttpProxy<SV>
where
    SV: ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    fn process_http_request<'a>(
        self: &'a Arc<Self>,
        session: ServerSession,
        shutdown: &'a ShutdownWatch,
    ) -> impl Future<Output = Option<ReusedHttpStream>> + Send + 'a {
        // vendor/pingora-proxy (oxigress patch): the trait method's body as a plain `async fn`.
        self.process_new_http_unboxed(session, shutdown)
    }
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A listener application whose connections must finish their TLS handshake, and send each request head,
/// within `timeout`.
pub struct HeaderDeadline<A> {
    inner: Arc<A>,
    timeout: Duration,
    tls: Option<TlsHandshake>,
}

impl<A> HeaderDeadline<A> {
    /// Wraps `inner` on a plain listener.
    pub fn new(inner: A, timeout: Duration) -> Self {
        Self { inner: Arc::new(inner), timeout, tls: None }
    }

    /// Makes this a TLS listener (the listener itself must then be plain TCP).
    #[must_use]
    pub fn with_tls(mut self, tls: TlsHandshake) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Downstream TLS as pingora's listener would set it up (Mozilla intermediate, h2 preferred over
/// HTTP/1.1 by ALPN, certificates from the callbacks), but run by [`HeaderDeadline`].
pub struct TlsHandshake {
    acceptor: SslAcceptor,
    callbacks: Box<dyn TlsAccept + Send + Sync>,
}

impl TlsHandshake {
    /// An acceptor with `ciphers` (TLS ≤ 1.2) whose certificates come from `callbacks`.
    pub fn new(callbacks: Box<dyn TlsAccept + Send + Sync>, ciphers: &str) -> Result<Self, pingora::tls::error::ErrorStack> {
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
        builder.set_cipher_list(ciphers)?;
        builder.set_alpn_select_callback(prefer_h2);
        Ok(Self { acceptor: builder.build(), callbacks })
    }

    /// The TLS stream, or `None` when the handshake failed or did not finish within `timeout`.
    async fn accept(&self, stream: Stream, timeout: Duration) -> Option<Stream> {
        let raw = DeadlineStream::forward(stream);
        match tokio::time::timeout(timeout, handshake_with_callback(&self.acceptor, raw, &*self.callbacks)).await {
            Ok(Ok(tls)) => Some(Box::new(tls)),
            Ok(Err(e)) => {
                tracing::debug!("downstream TLS handshake failed: {e}");
                None
            }
            Err(_) => {
                tracing::debug!("downstream TLS handshake not finished within the header timeout");
                None
            }
        }
    }
}

/// ALPN: h2 if the client offers it, else HTTP/1.1, else no ALPN (the client falls back to HTTP/1.1).
fn prefer_h2<'a>(_: &mut SslRef, offered: &'a [u8]) -> Result<&'a [u8], AlpnError> {
    select_next_proto(b"\x02h2\x08http/1.1", offered).ok_or(AlpnError::NOACK)
}

impl<A: UnboxedHttpApp + Send + Sync + 'static> HeaderDeadline<A> {
    /// Whether the connection speaks HTTP/2 (`None`: it closed or timed out before saying); `h2c`:
    /// whether a plain connection may.
    async fn is_h2(stream: &mut Stream, h2c: bool) -> Option<bool> {
        if stream.get_ssl_digest().is_some() {
            return Some(matches!(stream.selected_alpn_proto(), Some(ALPN::H2)));
        }
        if !h2c {
            return Some(false);
        }
        // Not every stream supports peeking (then: HTTP/1). The first byte that differs from the
        // preface decides: an HTTP/1 request shorter than the preface (`GET / HTTP/1.0` and an empty
        // line, as some health checkers send) is not waited on for bytes that never come.
        let h2 = stream.peek_prefix(H2_PREFACE).await.ok()?;
        Some(h2 == Some(true))
    }
}

#[async_trait]
impl<A: UnboxedHttpApp + Send + Sync + 'static> ServerApp for HeaderDeadline<A> {
    async fn process_new(self: &Arc<Self>, stream: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let stream = match &self.tls {
            Some(tls) => tls.accept(stream, self.timeout).await?,
            None => stream,
        };
        let stream = DeadlineStream::new(stream, self.timeout);
        let idle = stream.idle_timeout();
        let mut stream: Stream = Box::new(stream);
        // asked once per connection (the live options come from the snapshot)
        let options = self.inner.server_options();
        if Self::is_h2(&mut stream, options.is_some_and(|o| o.h2c)).await? {
            // pingora's HTTP/2 handling; the stream forwards from here on (the preface was the head).
            return ServerApp::process_new(&self.inner, stream, shutdown).await;
        }
        // pingora's HTTP/1 keep-alive loop (`ServerApp for HttpServerApp`), re-arming the deadline
        // before each next request.
        let mut session = ServerSession::new_http1(stream);
        session.set_keepalive(if *shutdown.borrow() { None } else { Some(60) });
        session.set_keepalive_reuses_remaining(options.and_then(|o| o.keepalive_request_limit));
        let mut result = self.inner.process_http_request(session, shutdown).await;
        // The session pingora hands back is the finished one, renewed for the next request on the
        // same stream (no new session, digest or box per request).
        while let Some((mut session, settings)) = result.map(ReusedHttpStream::consume_session) {
            // The stream under it is the one given to pingora above.
            let Some(stream) = session
                .stream_mut()
                .and_then(|stream| stream.as_any_mut().downcast_mut::<DeadlineStream>())
            else {
                tracing::error!("keep-alive stream is not the header-deadline stream; closing it");
                return None;
            };
            stream.next_request(settings.as_ref().and_then(HttpPersistentSettings::pipelined_prefix));
            if let Some(settings) = settings {
                settings.apply_to_session(&mut session);
            }
            // The wait for the next head: pingora would bound it with a timer registered per request; the
            // stream's own timer does it instead (the same value; pingora resets its keep-alive setting
            // once the head is read).
            match session.get_keepalive() {
                Some(seconds) if seconds > 0 => {
                    idle.set(seconds);
                    session.set_keepalive(Some(0));
                }
                _ => idle.set(0),
            }
            result = self.inner.process_http_request(session, shutdown).await;
        }
        None
    }

    async fn cleanup(&self) {
        self.inner.http_cleanup().await;
    }
}
