//! Request mirroring (`mirror-target-service`, `mirror-target-fqdn`, `mirror-percentage`): a copy of the
//! request (head and body) goes to one endpoint of the mirror cluster, or to a DNS name (resolved for
//! each copy; its addresses are tried in order until one accepts), in the background, with `Host: <host>-shadow` as Envoy sends it; its answer is read
//! and dropped. Nothing about it can delay or fail the real request: the copy is sent from its own task,
//! with its own deadline ([`MIRROR_TIMEOUT`]).
//!
//! The body is copied as it passes through the proxy (the chunks are shared, not duplicated) and the copy
//! is sent once the client's body is complete. A body larger than [`MAX_MIRROR_BODY`] is not mirrored at
//! all (Envoy streams shadow bodies of any size; we bound the memory a request can hold).
//!
//! `mirror-percentage`: the share is taken deterministically from a per-route counter (request `n` is
//! mirrored when `n × percent / 100` crosses an integer), so exactly `percent` of every 100 consecutive
//! requests are mirrored, spread evenly (Envoy samples at random with the same mean).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pingora::http::RequestHeader;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cluster::ClusterRuntime;

/// How long a mirrored request may take (DNS, connect, send, read the answer) before it is abandoned.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest request body that is mirrored (64 KiB, as pingora's retry buffer); larger bodies are not
/// mirrored.
pub const MAX_MIRROR_BODY: usize = 64 * 1024;

/// Where a route's copies go.
pub enum MirrorDestination {
    /// An endpoint of a cluster (`mirror-target-service`).
    Cluster(Arc<ClusterRuntime>),
    /// A DNS name (or IP address) and port, resolved for each copy (`mirror-target-fqdn`).
    Fqdn {
        /// Host name.
        host: Arc<str>,
        /// Port.
        port: u16,
    },
}

/// A route's mirror policy, compiled once per snapshot.
pub struct CompiledMirror {
    destination: MirrorDestination,
    /// Percentage of requests mirrored; `None` = all.
    percent: Option<u8>,
    counter: AtomicU32,
}

impl CompiledMirror {
    /// A mirror to `destination` of `percent` of the requests (`None` = all).
    pub fn new(destination: MirrorDestination, percent: Option<u8>) -> Self {
        Self { destination, percent, counter: AtomicU32::new(0) }
    }

    /// Whether this request is mirrored (one atomic add when a percentage is set).
    fn sampled(&self) -> bool {
        match self.percent {
            None => true,
            Some(0) => false,
            Some(p) if p >= 100 => true,
            Some(p) => {
                let n = u64::from(self.counter.fetch_add(1, Ordering::Relaxed) % 100);
                (n + 1) * u64::from(p) / 100 != n * u64::from(p) / 100
            }
        }
    }

    /// Starts a copy of `request` when this request is sampled and the destination has an address.
    pub fn start(&self, request: &RequestHeader) -> Option<MirrorCopy> {
        if !self.sampled() {
            return None;
        }
        let target = match &self.destination {
            MirrorDestination::Cluster(cluster) => Target::Addr(cluster.pick_addr()?),
            MirrorDestination::Fqdn { host, port } => Target::Name(host.clone(), *port),
        };
        Some(MirrorCopy { target, head: head(request), body: Vec::new(), size: 0, attempt: 0 })
    }
}

enum Target {
    Addr(SocketAddr),
    Name(Arc<str>, u16),
}

/// A copy being assembled: the head, then the body chunks as the proxy forwards them.
pub struct MirrorCopy {
    target: Target,
    /// The request line and headers, without `content-length` and the blank line.
    head: String,
    body: Vec<Bytes>,
    size: usize,
    /// The upstream attempt whose body pass is being copied (a retry replays the body from its start).
    attempt: usize,
}

impl MirrorCopy {
    /// Adds a body chunk seen during upstream attempt `attempt`; `false` when the body is too large to
    /// mirror (the copy is then dropped by the caller).
    pub fn push(&mut self, attempt: usize, chunk: Option<&Bytes>) -> bool {
        if attempt != self.attempt {
            // A new attempt replays the body from the beginning.
            self.attempt = attempt;
            self.body.clear();
            self.size = 0;
        }
        if let Some(chunk) = chunk.filter(|c| !c.is_empty()) {
            self.size += chunk.len();
            if self.size > MAX_MIRROR_BODY {
                tracing::debug!("request body over {MAX_MIRROR_BODY} bytes: not mirrored");
                return false;
            }
            self.body.push(chunk.clone());
        }
        true
    }

    /// Sends the copy in the background.
    pub fn send(self) {
        let Self { target, mut head, body, size, .. } = self;
        head.push_str(&format!("content-length: {size}\r\nconnection: close\r\n\r\n"));
        tokio::spawn(async move {
            let send = async {
                let mut stream = match target {
                    Target::Addr(addr) => tokio::net::TcpStream::connect(addr).await?,
                    Target::Name(host, port) => connect_any(&host, port).await?,
                };
                stream.write_all(head.as_bytes()).await?;
                for chunk in &body {
                    stream.write_all(chunk).await?;
                }
                let mut sink = [0u8; 4096];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<(), std::io::Error>(())
            };
            match tokio::time::timeout(MIRROR_TIMEOUT, send).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("mirror request failed: {e}"),
                Err(_) => tracing::debug!("mirror request timed out"),
            }
        });
    }
}

/// Connects to the first address of `host` that accepts (a name may resolve to `::1` and `127.0.0.1`).
async fn connect_any(host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = std::io::Error::other(format!("{host} has no address"));
    for addr in tokio::net::lookup_host((host, port)).await? {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The copy's request line and headers: `Host` becomes `<host>-shadow` (before any port, as Envoy's
/// `shadowAppendedHost`); framing headers are dropped (the copy has its own length).
fn head(request: &RequestHeader) -> String {
    let mut head = format!(
        "{} {} HTTP/1.1\r\n",
        request.method,
        request.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let host = crate::service::request_authority(request);
    head.push_str(&format!("host: {}\r\n", shadow_host(host)));
    for (name, value) in &request.headers {
        let skip = [
            http::header::HOST,
            http::header::CONNECTION,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
            http::header::UPGRADE,
            http::header::EXPECT,
        ];
        if skip.contains(name) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head
}

/// `foo.com` → `foo.com-shadow`, `foo.com:8080` → `foo.com-shadow:8080`.
fn shadow_host(host: &str) -> String {
    match host.rsplit_once(':') {
        Some((name, port))
            if (!name.contains(':') || name.ends_with(']')) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("{name}-shadow:{port}")
        }
        _ => format!("{host}-shadow"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_mirrors_exactly_its_share_of_each_hundred() {
        let destination = || MirrorDestination::Fqdn { host: Arc::from("localhost"), port: 1 };
        for (percent, expected) in [(None, 300), (Some(0), 0), (Some(1), 3), (Some(50), 150), (Some(99), 297)] {
            let mirror = CompiledMirror::new(destination(), percent);
            let taken = (0..300).filter(|_| mirror.sampled()).count();
            assert_eq!(taken, expected, "{percent:?}");
        }
    }

    #[test]
    fn shadow_host_goes_before_the_port() {
        assert_eq!(shadow_host("foo.com"), "foo.com-shadow");
        assert_eq!(shadow_host("foo.com:8080"), "foo.com-shadow:8080");
        assert_eq!(shadow_host("[::1]:8080"), "[::1]-shadow:8080");
    }

    #[test]
    fn a_retry_restarts_the_body_copy_and_a_large_body_is_dropped() {
        let mut copy = MirrorCopy { target: Target::Name(Arc::from("x"), 1), head: String::new(), body: Vec::new(), size: 0, attempt: 0 };
        assert!(copy.push(1, Some(&Bytes::from_static(b"abc"))));
        assert!(copy.push(2, Some(&Bytes::from_static(b"abc"))));
        assert_eq!(copy.size, 3);
        assert!(!copy.push(2, Some(&Bytes::from(vec![0u8; MAX_MIRROR_BODY]))));
    }
}
