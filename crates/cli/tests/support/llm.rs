//! An in-process LLM provider stand-in on 127.0.0.1:0 that records every request and answers like an
//! OpenAI-compatible service: `Bearer bad…` keys get a 401; `"stream": true` gets an SSE stream whose
//! first event is sent at once and the rest only after [`LlmMock::release`] (a channel, not a sleep), so a
//! test can prove the first chunk reached the client before the upstream finished.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::DEADLINE;

/// One request as the provider saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// The running stand-in.
pub struct LlmMock {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl LlmMock {
    /// Starts it on an ephemeral port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let (seen2, release2) = (seen.clone(), release.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, release) = (seen2.clone(), release2.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, seen, release).await;
                });
            }
        });
        Self { addr, seen, release, task }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Lets a held stream go on.
    pub fn release(&self) {
        self.release.notify_one();
    }

    /// A handle to release from another thread.
    pub fn releaser(&self) -> Arc<Notify> {
        self.release.clone()
    }
}

impl Drop for LlmMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection (one request; the answer closes it).
async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, release: Arc<Notify>) -> std::io::Result<()> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (first.next().unwrap_or_default().to_string(), first.next().unwrap_or_default().to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    let request = Seen { method, path, headers, body };
    seen.lock().unwrap().push(request.clone());

    let auth = request.header("authorization").unwrap_or_default().to_string();
    if auth.is_empty() || auth.starts_with("Bearer bad") {
        let body = r#"{"error":{"message":"invalid api key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let answer = format!("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        return stream.write_all(answer.as_bytes()).await;
    }
    let json = request.json();
    let model = json["model"].as_str().unwrap_or_default().to_string();
    if json["stream"] == serde_json::Value::Bool(true) {
        stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").await?;
        let event = |content: &str, finish: &str| {
            format!("data: {{\"id\":\"c1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":{finish}}}],\"model\":\"{model}\",\"object\":\"chat.completion.chunk\"}}\n\n")
        };
        write_chunk(&mut stream, &event("Hel", "null")).await?;
        // Held open until the test saw the first event arrive at the client.
        tokio::time::timeout(DEADLINE, release.notified()).await.map_err(|_| std::io::Error::other("never released"))?;
        write_chunk(&mut stream, &event("lo", "\"stop\"")).await?;
        write_chunk(&mut stream, "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}\n\ndata: [DONE]\n\n").await?;
        return stream.write_all(b"0\r\n\r\n").await;
    }
    let body = format!(
        "{{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"Hello\"}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}}}"
    );
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    stream.write_all(answer.as_bytes()).await
}

async fn write_chunk(stream: &mut TcpStream, data: &str) -> std::io::Result<()> {
    stream.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes()).await?;
    stream.flush().await
}
