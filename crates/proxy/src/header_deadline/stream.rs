//! [`DeadlineStream`]: the connection stream under pingora's HTTP/1 parser, which watches each request
//! head go by. While a head is being received, reads fail with `TimedOut` once its deadline passes
//! (slowloris), and a head over pingora's limits is answered `431` here (pingora would say 400) and the
//! connection closed. Between the heads it only forwards; bodies, upgraded connections and HTTP/2 frames
//! are never looked at.
//!
//! Phases: `Head` (deadline running, bytes scanned for the end of the head) → `Forward`; after a
//! keep-alive response the listener calls [`DeadlineStream::next_request`] → `Idle` (bounded by the
//! keep-alive idle timeout the listener hands over through [`IdleTimeout`], which then reads as the end
//! of the stream) → `Head` again at the first byte of the next request. The same timer serves both
//! deadlines: one per connection, re-armed per request (pingora's own keep-alive timeout would register
//! a timer per request).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, SpliceSocket, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// pingora's limit on a request head (`MAX_HEADER_SIZE`, 1 MiB - 1); longer heads are answered 431.
pub(crate) const MAX_HEAD_BYTES: usize = 1_048_575;
/// pingora's limit on the number of header lines (`MAX_HEADERS`); more are answered 431.
pub(crate) const MAX_HEADERS: usize = 256;

/// What a client whose request head is too large gets (as Envoy answers it).
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nServer: oxigress\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// A request head is being received; the deadline runs.
    Head,
    /// Between two requests of a keep-alive connection: only the idle timeout (armed at the first read
    /// that has to wait) until the next head's first byte.
    Idle { armed: bool },
    /// Just forwarding (a body, an upgraded or HTTP/2 connection, or a TLS layer's raw bytes).
    Forward,
    /// Sending the 431 answer; then every read fails.
    Reject { written: usize },
}

/// A stream that bounds the time (and size) of each request head it carries; see the module docs.
#[derive(Debug)]
pub struct DeadlineStream {
    inner: Stream,
    timeout: Duration,
    /// Allocated once per connection and reset per request.
    deadline: Pin<Box<Sleep>>,
    phase: Phase,
    scan: HeadScan,
    idle: IdleTimeout,
}

/// The keep-alive idle timeout of a connection's next wait between requests, in seconds (0: none), set
/// by the listener (pingora decides it per response) for the connection's [`DeadlineStream`].
#[derive(Debug, Clone, Default)]
pub(crate) struct IdleTimeout(Arc<AtomicU64>);

impl IdleTimeout {
    /// The next wait between requests ends the connection after `seconds` (0: never).
    pub(crate) fn set(&self, seconds: u64) {
        self.0.store(seconds, Ordering::Relaxed);
    }

    fn get(&self) -> Option<Duration> {
        Some(self.0.load(Ordering::Relaxed)).filter(|s| *s > 0).map(Duration::from_secs)
    }
}

impl DeadlineStream {
    /// A new connection: its first head must be complete within `timeout` from now.
    pub(crate) fn new(inner: Stream, timeout: Duration) -> Self {
        let deadline = Box::pin(tokio::time::sleep_until(Instant::now() + timeout));
        Self { inner, timeout, deadline, phase: Phase::Head, scan: HeadScan::default(), idle: IdleTimeout::default() }
    }

    /// Where the listener sets the idle timeout of this connection's waits between requests.
    pub(crate) fn idle_timeout(&self) -> IdleTimeout {
        self.idle.clone()
    }

    /// A stream that only forwards (the raw side of a TLS connection).
    pub(crate) fn forward(inner: Stream) -> Self {
        let mut stream = Self::new(inner, Duration::ZERO);
        stream.phase = Phase::Forward;
        stream
    }

    /// The previous request is done and the connection is kept alive: the next head's clock starts at its
    /// first byte; until then the idle timeout (see [`IdleTimeout`]) applies.
    ///
    /// `pipelined` is what the client already sent of the next request (a pipelined request read
    /// with the previous one, which pingora parses before reading again): a complete head there means the
    /// stream's next bytes are that request's body, only forwarded; a partial one has its clock start now.
    pub(crate) fn next_request(&mut self, pipelined: Option<&[u8]>) {
        self.scan = HeadScan::default();
        self.phase = match pipelined.filter(|bytes| !bytes.is_empty()) {
            None => Phase::Idle { armed: false },
            Some(bytes) => match self.scan.feed(bytes) {
                Scan::Complete => Phase::Forward,
                // Too large: pingora refuses it while parsing; the deadline bounds the rest meanwhile.
                Scan::Partial | Scan::TooLarge => {
                    let deadline = Instant::now() + self.timeout;
                    self.deadline.as_mut().reset(deadline);
                    Phase::Head
                }
            },
        };
    }

    /// A read is pending: `Some` ends it (head deadline passed: an error; idle timeout passed: the end of
    /// the stream, as a client that closed).
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Option<std::io::Result<()>> {
        match self.phase {
            Phase::Head => self.deadline.as_mut().poll(cx).is_ready().then(|| Err(timed_out_error())),
            Phase::Idle { armed: false } => {
                let idle = self.idle.get()?;
                self.phase = Phase::Idle { armed: true };
                self.deadline.as_mut().reset(Instant::now() + idle);
                self.deadline.as_mut().poll(cx).is_ready().then_some(Ok(()))
            }
            Phase::Idle { armed: true } => self.deadline.as_mut().poll(cx).is_ready().then_some(Ok(())),
            Phase::Forward | Phase::Reject { .. } => None,
        }
    }

    /// Writes the 431 answer (as far as the client takes it), then fails the read.
    fn poll_reject(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let Self { inner, phase, .. } = self;
        if let Phase::Reject { written } = phase {
            while *written < TOO_LARGE.len() {
                match ready!(Pin::new(&mut *inner).poll_write(cx, &TOO_LARGE[*written..])) {
                    Ok(n) if n > 0 => *written += n,
                    // The client is gone; nothing more to tell it.
                    _ => *written = TOO_LARGE.len(),
                }
            }
            let _ = ready!(Pin::new(&mut *inner).poll_flush(cx));
        }
        Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request head too large (answered 431)")))
    }
}

/// How far into a request head the bytes seen so far are.
#[derive(Debug, Clone, Copy)]
struct HeadScan {
    /// Bytes of the head so far.
    bytes: usize,
    /// Non-empty lines completed (the request line, then one per header).
    lines: usize,
    /// Where in a line the last byte was.
    at: LinePos,
    /// Whether a non-empty line has started (leading empty lines do not end a head).
    content: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinePos {
    /// At the start of a line.
    Start,
    /// After a `\r` at the start of a line.
    StartCr,
    /// Inside a line.
    Inside,
}

impl Default for HeadScan {
    fn default() -> Self {
        Self { bytes: 0, lines: 0, at: LinePos::Start, content: false }
    }
}

/// What the bytes just read mean for the head.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// Not complete yet.
    Partial,
    /// The head ended in these bytes.
    Complete,
    /// The head is over [`MAX_HEAD_BYTES`] or has more than [`MAX_HEADERS`] headers.
    TooLarge,
}

impl HeadScan {
    /// Advances over `bytes`. A head ends with an empty line, `\r\n` or a bare `\n` as the HTTP/1 parser
    /// accepts (the HTTP/2 preface also contains one).
    fn feed(&mut self, bytes: &[u8]) -> Scan {
        let mut rest = bytes;
        while let Some((&b, tail)) = rest.split_first() {
            if self.at == LinePos::Inside {
                // Nothing inside a line matters but its end: jump to it (memchr, not byte by byte).
                let Some(end) = memchr::memchr(b'\n', rest) else {
                    if self.bytes + rest.len() > MAX_HEAD_BYTES {
                        return Scan::TooLarge;
                    }
                    self.bytes += rest.len();
                    break;
                };
                if self.bytes + end + 1 > MAX_HEAD_BYTES {
                    return Scan::TooLarge;
                }
                self.bytes += end + 1;
                self.lines += 1;
                self.at = LinePos::Start;
                rest = &rest[end + 1..];
                continue;
            }
            if self.bytes >= MAX_HEAD_BYTES {
                return Scan::TooLarge;
            }
            self.bytes += 1;
            rest = tail;
            match (b, self.at) {
                (b'\n', _) if self.content => return Scan::Complete,
                (b'\n', _) => self.at = LinePos::Start,
                (b'\r', LinePos::Start) => self.at = LinePos::StartCr,
                (b'\r', _) => self.at = LinePos::Inside,
                _ => {
                    // A new line: the request line plus MAX_HEADERS header lines are allowed.
                    if self.lines > MAX_HEADERS {
                        return Scan::TooLarge;
                    }
                    self.content = true;
                    self.at = LinePos::Inside;
                }
            }
        }
        Scan::Partial
    }
}

fn timed_out_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "request head not received within the header timeout")
}

impl AsyncRead for DeadlineStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match this.phase {
            Phase::Forward => return Pin::new(&mut this.inner).poll_read(cx, buf),
            Phase::Reject { .. } => return this.poll_reject(cx),
            Phase::Head | Phase::Idle { .. } => {}
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if read.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                let first_byte = matches!(this.phase, Phase::Idle { .. });
                this.phase = Phase::Head;
                match this.scan.feed(read) {
                    Scan::Partial => {
                        if first_byte {
                            // The next head's clock starts now. A head that arrives whole in its first read
                            // (the usual case) never needs the deadline, so it is only armed here.
                            let deadline = Instant::now() + this.timeout;
                            this.deadline.as_mut().reset(deadline);
                        }
                        Poll::Ready(Ok(()))
                    }
                    Scan::Complete => {
                        this.phase = Phase::Forward;
                        Poll::Ready(Ok(()))
                    }
                    Scan::TooLarge => {
                        // The parser never sees these bytes; the client gets 431 instead.
                        buf.set_filled(before);
                        this.phase = Phase::Reject { written: 0 };
                        this.poll_reject(cx)
                    }
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_deadline(cx).map_or(Poll::Pending, Poll::Ready),
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

    /// The wrapped stream's own close (a plain socket is flushed, not shut down: it is dropped next).
    async fn close(&mut self) {
        self.inner.close().await;
    }

    /// The wrapped stream's own cork (a TCP socket sends its last bytes with the FIN).
    fn cork_until_close(&mut self) {
        self.inner.cork_until_close();
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

/// Between heads the stream only forwards, so a body may be spliced straight into the socket under it.
impl SpliceSocket for DeadlineStream {
    fn splice_stream(&mut self) -> Option<&mut pingora::protocols::l4::stream::Stream> {
        match self.phase {
            Phase::Forward => self.inner.splice_stream(),
            _ => None,
        }
    }
}

#[async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        if matches!(self.phase, Phase::Head) {
            let deadline = self.deadline.deadline();
            tokio::time::timeout_at(deadline, self.inner.try_peek(buf)).await.map_err(|_| timed_out_error())?
        } else {
            self.inner.try_peek(buf).await
        }
    }

    async fn peek_prefix(&mut self, prefix: &[u8]) -> std::io::Result<Option<bool>> {
        if matches!(self.phase, Phase::Head) {
            let deadline = self.deadline.deadline();
            tokio::time::timeout_at(deadline, self.inner.peek_prefix(prefix)).await.map_err(|_| timed_out_error())?
        } else {
            self.inner.peek_prefix(prefix).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HeadScan, Scan, MAX_HEADERS, MAX_HEAD_BYTES};

    fn scan(parts: &[&[u8]]) -> Vec<Scan> {
        let mut scan = HeadScan::default();
        parts.iter().map(|p| scan.feed(p)).collect()
    }

    /// The byte-by-byte scanner `feed` must agree with.
    fn reference(scan: &mut HeadScan, bytes: &[u8]) -> Scan {
        use super::LinePos;
        for &b in bytes {
            if scan.bytes >= MAX_HEAD_BYTES {
                return Scan::TooLarge;
            }
            scan.bytes += 1;
            match (b, scan.at) {
                (b'\n', LinePos::Start | LinePos::StartCr) if scan.content => return Scan::Complete,
                (b'\n', LinePos::Start | LinePos::StartCr) => scan.at = LinePos::Start,
                (b'\n', LinePos::Inside) => {
                    scan.lines += 1;
                    scan.at = LinePos::Start;
                }
                (b'\r', LinePos::Start) => scan.at = LinePos::StartCr,
                (b'\r', _) => scan.at = LinePos::Inside,
                (_, LinePos::Start | LinePos::StartCr) => {
                    if scan.lines > MAX_HEADERS {
                        return Scan::TooLarge;
                    }
                    scan.content = true;
                    scan.at = LinePos::Inside;
                }
                (_, LinePos::Inside) => {}
            }
        }
        Scan::Partial
    }

    proptest::proptest! {
        /// Chunked random heads (few distinct bytes, so line ends are common) scan as byte by byte.
        #[test]
        fn feed_agrees_with_the_byte_by_byte_scanner(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"ab\r\n".to_vec()), 0..40), 0..8)
        ) {
            let (mut fast, mut slow) = (HeadScan::default(), HeadScan::default());
            for chunk in &chunks {
                let (a, b) = (fast.feed(chunk), reference(&mut slow, chunk));
                proptest::prop_assert_eq!(&a, &b);
                if a != Scan::Partial {
                    break;
                }
                proptest::prop_assert_eq!((fast.bytes, fast.lines, fast.at, fast.content), (slow.bytes, slow.lines, slow.at, slow.content));
            }
        }
    }

    #[tokio::test]
    async fn a_pipelined_prefix_sets_where_the_next_request_starts() {
        use super::{DeadlineStream, Phase};
        use std::time::Duration;
        let (client, _server) = tokio::io::duplex(64);
        let mut stream = DeadlineStream::new(Box::new(client), Duration::from_secs(1));
        stream.next_request(None);
        assert!(matches!(stream.phase, Phase::Idle { armed: false }), "nothing sent yet: idle");
        stream.next_request(Some(b""));
        assert!(matches!(stream.phase, Phase::Idle { armed: false }), "an empty prefix is nothing sent");
        stream.next_request(Some(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nbody"));
        assert!(matches!(stream.phase, Phase::Forward), "a whole head sent: the rest is its body");
        stream.next_request(Some(b"GET / HTTP/1.1\r\nHo"));
        assert!(matches!(stream.phase, Phase::Head), "part of a head sent: its clock runs");
        assert_eq!(stream.scan.bytes, 18, "and the scan continues after those bytes");
    }

    #[test]
    fn head_end_is_found_across_reads() {
        assert_eq!(
            scan(&[b"GET / HTTP/1.1\r\nHost: a\r", b"\n\r", b"\n"]),
            [Scan::Partial, Scan::Partial, Scan::Complete]
        );
        assert_eq!(scan(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]), [Scan::Complete]);
    }

    #[test]
    fn bare_newlines_end_a_head_but_leading_empty_lines_do_not() {
        assert_eq!(scan(&[b"GET / HTTP/1.1\nHost: a\n\n"]), [Scan::Complete]);
        assert_eq!(scan(&[b"GET / HTTP/1.1\r\nHost: a\n\r\n"]), [Scan::Complete]);
        assert_eq!(scan(&[b"\r\n\r\n\n\n", b"GET / HTTP/1.1\r\n"]), [Scan::Partial, Scan::Partial]);
        assert_eq!(scan(&[b"a\r\r\n\r\n"]), [Scan::Complete]);
        assert_eq!(scan(&[b""]), [Scan::Partial]);
    }

    #[test]
    fn too_many_headers_or_bytes() {
        let headers = |n: usize| -> Vec<u8> {
            let lines: String = (0..n).map(|i| format!("X-H{i}: v\r\n")).collect();
            format!("GET / HTTP/1.1\r\n{lines}\r\n").into_bytes()
        };
        assert_eq!(scan(&[&headers(MAX_HEADERS)]), [Scan::Complete]);
        assert_eq!(scan(&[&headers(MAX_HEADERS + 1)]), [Scan::TooLarge]);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(scan(&[long.as_bytes()]), [Scan::TooLarge]);
        let fits = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES - 24));
        assert_eq!(scan(&[fits.as_bytes()]), [Scan::Complete]);
    }
}
