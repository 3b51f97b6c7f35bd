//! A deadline for a connection's first request head (slowloris): a client that has not sent a complete
//! request head (`\r\n\r\n`, which the h2 preface also contains) within the header timeout of connecting
//! is disconnected. nginx's `client_header_timeout`; pingora has no such limit, only a 60 s timeout per
//! read, which a client trickling a byte at a time never hits.
//!
//! [`HeaderDeadline`] wraps the pingora application of a listener; each new connection's stream is
//! wrapped in a [`DeadlineStream`] that fails reads (and peeks) with `TimedOut` once the deadline passes
//! while the head is incomplete. After the first head the wrapper only forwards. Later requests of a
//! keep-alive connection are bounded by pingora's per-read and keep-alive timeouts only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, TimingDigest,
    UniqueID, UniqueIDType, ALPN,
};
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A listener application whose connections must send their first request head within `timeout`.
pub struct HeaderDeadline<A> {
    inner: Arc<A>,
    timeout: Duration,
}

impl<A> HeaderDeadline<A> {
    /// Wraps `inner`.
    pub fn new(inner: A, timeout: Duration) -> Self {
        Self { inner: Arc::new(inner), timeout }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for HeaderDeadline<A> {
    async fn process_new(self: &Arc<Self>, session: Stream, shutdown: &ShutdownWatch) -> Option<Stream> {
        let stream: Stream = Box::new(DeadlineStream::new(session, self.timeout));
        self.inner.process_new(stream, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await;
    }
}

/// A stream whose reads fail once its deadline passes before the first request head is complete.
#[derive(Debug)]
pub struct DeadlineStream {
    inner: Stream,
    /// `None` once the head is complete.
    deadline: Option<Pin<Box<Sleep>>>,
    /// How many bytes of `\r\n\r\n` the data read so far ends with.
    matched: usize,
}

impl DeadlineStream {
    fn new(inner: Stream, timeout: Duration) -> Self {
        Self { inner, deadline: Some(Box::pin(tokio::time::sleep_until(Instant::now() + timeout))), matched: 0 }
    }

    /// Looks for the end of the head in newly read bytes.
    fn scan(&mut self, bytes: &[u8]) {
        let (matched, found) = scan(self.matched, bytes);
        self.matched = matched;
        if found {
            self.deadline = None;
        }
    }

    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready())
    }
}

/// Advances the `\r\n\r\n` matcher over `bytes`: (bytes of it matched at the end, whether it was found).
fn scan(mut matched: usize, bytes: &[u8]) -> (usize, bool) {
    const END: &[u8] = b"\r\n\r\n";
    for &b in bytes {
        matched = if b == END[matched] {
            matched + 1
        } else if b == b'\r' {
            1
        } else {
            0
        };
        if matched == END.len() {
            return (matched, true);
        }
    }
    (matched, false)
}

fn timed_out_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "request head not received within the header timeout")
}

impl AsyncRead for DeadlineStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.deadline.is_none() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.scan(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.timed_out(cx) => Poll::Ready(Err(timed_out_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for DeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for DeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for DeadlineStream {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for DeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for DeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for DeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        match self.deadline.as_ref().map(|d| d.deadline()) {
            Some(deadline) => tokio::time::timeout_at(deadline, self.inner.try_peek(buf)).await.map_err(|_| timed_out_error())?,
            None => self.inner.try_peek(buf).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn head_end_is_found_across_reads() {
        let (matched, found) = scan(0, b"GET / HTTP/1.1\r\nHost: a\r");
        assert!(!found);
        let (matched, found) = scan(matched, b"\n\r");
        assert!(!found);
        assert!(scan(matched, b"\n").1);
    }

    #[test]
    fn stray_carriage_returns_and_bare_newlines() {
        assert!(scan(0, b"a\r\r\n\r\n").1);
        assert!(!scan(0, b"a\n\n\r\n").1);
        assert!(!scan(0, b"").1);
    }
}
