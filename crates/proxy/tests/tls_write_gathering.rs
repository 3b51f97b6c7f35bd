//! The TLS write path of the data plane gathers a response's records into few system calls: BoringSSL
//! writes a record to its transport without flushing it, the vendored h2 makes room for the next frame
//! without flushing (vendor/h2), so the HTTPS listener's write buffer (`TLS_WRITE_BUFFER_SIZE` in
//! `server.rs`) sends a response's records together. These tests count the flushes the transport
//! under TLS receives.

#![allow(clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use pingora::tls::pkey::PKey;
use pingora::tls::ssl::{Ssl, SslAcceptor, SslConnector, SslMethod, SslVerifyMode};
use pingora::tls::tokio_ssl::SslStream;
use pingora::tls::x509::X509;
use tokio::io::{duplex, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// The longest any step of these tests waits.
const LIMIT: Duration = Duration::from_secs(30);

/// A transport that counts the flushes asked of it.
struct Counted {
    inner: DuplexStream,
    flushes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A TLS server stream over a flush-counting transport and a client stream, handshaken.
async fn tls_pair() -> (SslStream<Counted>, SslStream<DuplexStream>, Arc<AtomicUsize>) {
    let key = rcgen::generate_simple_self_signed(vec!["gather.test".to_string()]).unwrap();
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_certificate(&X509::from_pem(key.cert.pem().as_bytes()).unwrap()).unwrap();
    acceptor
        .set_private_key(&PKey::private_key_from_pem(key.signing_key.serialize_pem().as_bytes()).unwrap())
        .unwrap();
    let acceptor = acceptor.build();
    let mut connector = SslConnector::builder(SslMethod::tls()).unwrap();
    connector.set_verify(SslVerifyMode::NONE);
    let connector = connector.build();

    let (client_io, server_io) = duplex(1 << 20);
    let flushes = Arc::new(AtomicUsize::new(0));
    let server_io = Counted { inner: server_io, flushes: flushes.clone() };
    let mut server = SslStream::new(Ssl::new(acceptor.context()).unwrap(), server_io).unwrap();
    let client_ssl = connector.configure().unwrap().into_ssl("gather.test").unwrap();
    let mut client = SslStream::new(client_ssl, client_io).unwrap();
    let handshakes = async { tokio::join!(Pin::new(&mut server).accept(), Pin::new(&mut client).connect()) };
    let (accepted, connected) = tokio::time::timeout(LIMIT, handshakes).await.unwrap();
    accepted.unwrap();
    connected.unwrap();
    (server, client, flushes)
}

#[tokio::test]
async fn a_write_of_many_records_leaves_the_flush_to_the_writer() {
    // what the HTTPS write buffer relies on: BoringSSL does not flush after each record
    let (mut server, mut client, flushes) = tls_pair().await;
    let body = vec![b'x'; 64 * 1024]; // four records and more
    let before = flushes.load(Ordering::SeqCst);
    server.write_all(&body).await.unwrap();
    assert_eq!(flushes.load(Ordering::SeqCst), before, "no flush while the records are written");
    server.flush().await.unwrap();
    assert_eq!(flushes.load(Ordering::SeqCst), before + 1);
    let mut got = vec![0; body.len()];
    tokio::time::timeout(LIMIT, client.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(got, body);
}

#[tokio::test]
async fn an_h2_response_of_many_frames_is_flushed_fewer_times_than_it_has_frames() {
    let (server, client, flushes) = tls_pair().await;
    const FRAMES: usize = 8; // DATA frames of the default 16 KiB
    let body = Bytes::from(vec![b'y'; FRAMES * 16 * 1024]);
    let served = body.clone();
    let before = Arc::new(AtomicUsize::new(usize::MAX));
    let server_before = before.clone();
    let server_flushes = flushes.clone();
    let server_task = tokio::spawn(async move {
        let mut connection = h2::server::handshake(server).await.unwrap();
        let (_request, mut respond) = connection.accept().await.unwrap().unwrap();
        // from here on the connection task only sends the response
        server_before.store(server_flushes.load(Ordering::SeqCst), Ordering::SeqCst);
        let mut send = respond.send_response(http::Response::new(()), false).unwrap();
        send.send_data(served, true).unwrap();
        while connection.accept().await.is_some() {}
    });

    // windows large enough for the whole body: it is sent in one go
    let (mut sender, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(1 << 20)
        .handshake::<_, Bytes>(client)
        .await
        .unwrap();
    let client_connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = http::Request::get("https://gather.test/").body(()).unwrap();
    let (response, _) = sender.send_request(request, true).unwrap();
    let receive = async {
        let mut response = response.await.unwrap().into_body();
        let mut got = Vec::new();
        while let Some(chunk) = response.data().await {
            let chunk = chunk.unwrap();
            response.flow_control().release_capacity(chunk.len()).unwrap();
            got.extend_from_slice(&chunk);
        }
        got
    };
    let got = tokio::time::timeout(LIMIT, receive).await.unwrap();
    assert_eq!(got, body);
    let flushed = flushes.load(Ordering::SeqCst) - before.load(Ordering::SeqCst);
    assert!((1..=FRAMES / 4).contains(&flushed), "{flushed} flushes for {FRAMES} DATA frames");
    server_task.abort();
    client_connection.abort();
}
