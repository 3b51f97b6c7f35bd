//! Raw HTTP/1.1 on tokio sockets for the reliability tests: a backend with slow and streamed answers, and
//! a keep-alive client that reads exactly one response at a time (Content-Length or chunked), so every
//! status and every connection error can be counted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// A scripted backend: accepts connections on an ephemeral 127.0.0.1 port and serves each with the
/// script on its own task; counts the connections; stops when dropped.
pub struct ScriptedListener {
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedListener {
    pub async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let served = script(stream);
                tokio::spawn(async move {
                    let _ = served.await;
                });
            }
        });
        Self { port, connections, task }
    }
}

/// A backend answering, on keep-alive connections:
/// - `/slow`: 200 `slow` after `slow_for`;
/// - `/stream`: 200, chunked: `chunks` chunks `chunk-<i>\n`, 100 ms apart, the first at once and the
///   second only after a permit of `gate` (so a test can act while a stream is known to be running);
/// - anything else: 200 with the backend's `name` as body.
pub struct RawBackend {
    pub addr: SocketAddr,
    /// Releases streamed answers past their first chunk (one permit per stream).
    pub gate: Arc<Semaphore>,
    /// Serves the connections; stops when dropped.
    _listener: ScriptedListener,
}

impl RawBackend {
    pub async fn start(name: &'static str, slow_for: Duration, chunks: usize) -> Self {
        let gate = Arc::new(Semaphore::new(0));
        let streams = gate.clone();
        let listener =
            ScriptedListener::start(move |stream| serve(stream, name, slow_for, chunks, streams.clone())).await;
        let addr = SocketAddr::from(([127, 0, 0, 1], listener.port));
        Self { addr, gate, _listener: listener }
    }
}

async fn serve(stream: TcpStream, name: &str, slow_for: Duration, chunks: usize, gate: Arc<Semaphore>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let Some((path, _body)) = read_request(&mut reader).await? else { return Ok(()) };
        let out = reader.get_mut();
        if path.starts_with("/slow") {
            tokio::time::sleep(slow_for).await;
            out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow").await?;
        } else if path.starts_with("/stream") {
            out.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await?;
            for i in 0..chunks {
                if i == 1 {
                    gate.acquire().await.map_err(std::io::Error::other)?.forget();
                }
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let chunk = format!("chunk-{i}\n");
                out.write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes()).await?;
                out.flush().await?;
            }
            out.write_all(b"0\r\n\r\n").await?;
        } else {
            out.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}", name.len()).as_bytes()).await?;
        }
        out.flush().await?;
    }
}

/// Reads a request or response head (up to the empty line); `None` on a clean end of stream.
pub async fn read_head<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Option<String>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        if line == "\r\n" {
            return Ok(Some(head));
        }
        head.push_str(&line);
    }
}

/// A header's value in a head (case-insensitive name).
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one request as a backend sees it: (path, body, by Content-Length); `None` at the end of the stream.
pub async fn read_request<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let Some(head) = read_head(reader).await? else { return Ok(None) };
    let length = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    Ok(Some((path, body)))
}

/// Reads one response: (status, body); chunked bodies are decoded, `on_chunk` sees each chunk.
pub async fn read_response<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    mut on_chunk: impl FnMut(&[u8]),
) -> std::io::Result<(u16, Vec<u8>)> {
    let head = read_head(reader).await?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = Vec::new();
    if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            chunk.truncate(size);
            if size == 0 {
                break;
            }
            on_chunk(&chunk);
            body.extend_from_slice(&chunk);
        }
    } else if let Some(length) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    } else {
        reader.read_to_end(&mut body).await?;
    }
    Ok((status, body))
}

/// A keep-alive HTTP/1.1 client on one connection (reconnects on the next request after an error).
pub struct KeepAlive<S> {
    connection: Option<BufReader<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> KeepAlive<S> {
    pub fn new() -> Self {
        Self { connection: None }
    }

    /// `GET path` with `Host: host`; `connect` opens a new connection when needed.
    pub async fn get<F, Fut>(&mut self, host: &str, path: &str, connect: F) -> std::io::Result<(u16, Vec<u8>)>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = std::io::Result<S>>,
    {
        if self.connection.is_none() {
            self.connection = Some(BufReader::new(connect().await?));
        }
        let connection = self.connection.as_mut().unwrap();
        let result = async {
            connection.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
            connection.get_mut().flush().await?;
            tokio::time::timeout(Duration::from_secs(10), read_response(connection, |_| {}))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
        }
        .await;
        if result.is_err() {
            self.connection = None;
        }
        result
    }
}

/// Sends `GET /stream` for `raw.example.com` to `http` and reads the streamed answer in a task; returns once
/// its first chunk arrived (bounded by [`super::DEADLINE`]), with the task that yields the whole answer.
pub async fn stream_request(http: SocketAddr) -> tokio::task::JoinHandle<std::io::Result<(u16, Vec<u8>)>> {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let client = tokio::spawn(async move {
        let mut stream = BufReader::new(TcpStream::connect(http).await.unwrap());
        stream.get_mut().write_all(b"GET /stream HTTP/1.1\r\nHost: raw.example.com\r\n\r\n").await.unwrap();
        let mut first = Some(first_tx);
        read_response(&mut stream, |_| {
            if let Some(tx) = first.take() {
                let _ = tx.send(());
            }
        })
        .await
    });
    tokio::time::timeout(super::DEADLINE, first_rx).await.unwrap().unwrap();
    client
}
