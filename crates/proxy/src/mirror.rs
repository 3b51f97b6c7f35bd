//! Request mirroring (`mirror-target-service`): a copy of the request head goes to one endpoint of the
//! mirror cluster in the background, with `Host: <host>-shadow` as Envoy sends it; its answer is read and
//! dropped, and nothing about it can delay or fail the real request. Bodies are not mirrored yet.

use std::net::SocketAddr;
use std::time::Duration;

use pingora::http::RequestHeader;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a mirrored request may take before it is abandoned.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends a copy of `request`'s head to `addr` in the background.
pub fn mirror(addr: SocketAddr, request: &RequestHeader) {
    let mut head = format!(
        "{} {} HTTP/1.1\r\n",
        request.method,
        request.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let host = request
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    head.push_str(&format!("host: {host}-shadow\r\n"));
    for (name, value) in &request.headers {
        let skip = [
            http::header::HOST,
            http::header::CONNECTION,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
            http::header::UPGRADE,
        ];
        if skip.contains(name) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("content-length: 0\r\nconnection: close\r\n\r\n");
    tokio::spawn(async move {
        let send = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(head.as_bytes()).await?;
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<(), std::io::Error>(())
        };
        match tokio::time::timeout(MIRROR_TIMEOUT, send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(%addr, "mirror request failed: {e}"),
            Err(_) => tracing::debug!(%addr, "mirror request timed out"),
        }
    });
}
