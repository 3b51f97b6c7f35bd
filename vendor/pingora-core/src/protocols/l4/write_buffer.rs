// Copyright 2026 Cloudflare, Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! oxigress patch: the write buffer of an L4 stream.
//!
//! Small writes collect in a buffer of a fixed capacity and go out together when flushed, as with
//! tokio's `BufWriter`, which this replaces. The difference: a write that does not fit behind the
//! buffered bytes leaves in one vectored write together with them, where `BufWriter` first flushes
//! the buffer (one system call) and then writes (a second one). An HTTP/1 response head followed
//! by a body larger than the buffer — the head buffered, the body written — so leaves in one
//! `writev` instead of two `sendto`s, and the peer is woken once.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most slices handed to one vectored write: the buffered bytes and up to this many minus one
/// of the caller's. A caller's slices past these are taken by its next write.
const MAX_SLICES: usize = 16;

/// The room a buffer of a larger capacity allocates first, and keeps: what small writes need. Only
/// a burst of writes (a TLS stream's records for a large response) grows it to its full capacity,
/// and the emptied buffer gives that room back, so an idle connection holds at most this much.
const KEPT_ROOM: usize = 4096;

/// A write buffer in front of `W` that coalesces what it holds with the write that overflows it.
#[derive(Debug)]
pub struct WriteBuffer<W> {
    inner: W,
    /// Buffered bytes; those before `written` already went out (a partial flush).
    buf: Vec<u8>,
    written: usize,
    capacity: usize,
}

impl<W> WriteBuffer<W> {
    /// A buffer of `capacity` bytes in front of `inner`, allocated when first used. A zero
    /// capacity writes straight through.
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        WriteBuffer {
            inner,
            buf: Vec::new(),
            written: 0,
            capacity,
        }
    }

    /// The stream written to.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The stream written to. Writing to it directly bypasses what is buffered.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The stream written to; buffered bytes not yet written are lost.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Bytes buffered and not yet written.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// Mark `n` buffered bytes as written; an emptied buffer starts again at its beginning, and
    /// gives back room beyond [`KEPT_ROOM`].
    fn consume(&mut self, n: usize) {
        self.written += n;
        if self.written >= self.buf.len() {
            if self.buf.capacity() > KEPT_ROOM {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            self.written = 0;
        }
    }

    /// Whether `len` more bytes fit in the buffer.
    fn fits(&self, len: usize) -> bool {
        self.buf.len() + len <= self.capacity
    }

    /// Buffer `buf`, which fits.
    fn extend(&mut self, buf: &[u8]) {
        let needed = self.buf.len() + buf.len();
        if needed > self.buf.capacity() {
            // allocated when first needed (a connection that never buffers never allocates), in at
            // most two steps: up to `KEPT_ROOM`, then the whole capacity
            let room = if needed <= KEPT_ROOM {
                self.capacity.min(KEPT_ROOM)
            } else {
                self.capacity
            };
            self.buf.reserve_exact(room - self.buf.len());
        }
        self.buf.extend_from_slice(buf);
    }
}

impl<W: AsyncWrite + Unpin> WriteBuffer<W> {
    /// Write out every buffered byte.
    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the buffered data",
                )));
            }
            self.consume(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Write the buffered bytes followed by `bufs` in one vectored write, until at least one byte
    /// of `bufs` went out (the count returned is of `bufs`' bytes only) or the stream would block.
    fn poll_write_behind_buffer(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let pending = self.buf.len() - self.written;
            if pending == 0 {
                return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            }
            let n = {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                slices[0] = IoSlice::new(&self.buf[self.written..]);
                let mut count = 1;
                for (slot, buf) in slices[1..].iter_mut().zip(bufs) {
                    *slot = IoSlice::new(buf);
                    count += 1;
                }
                ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, &slices[..count]))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the buffered data",
                )));
            }
            self.consume(n.min(pending));
            if n > pending {
                return Poll::Ready(Ok(n - pending));
            }
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for WriteBuffer<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.fits(buf.len()) {
            this.extend(buf);
            Poll::Ready(Ok(buf.len()))
        } else if this.buffer().is_empty() {
            // nothing buffered, so the buffer is empty and `buf` is at least its capacity
            Pin::new(&mut this.inner).poll_write(cx, buf)
        } else {
            this.poll_write_behind_buffer(cx, &[IoSlice::new(buf)])
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs.iter().map(|b| b.len()).sum::<usize>();
        if this.fits(total) {
            for buf in bufs {
                this.extend(buf);
            }
            Poll::Ready(Ok(total))
        } else {
            // with nothing buffered this is a plain vectored write
            this.poll_write_behind_buffer(cx, bufs)
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_buf(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_buf(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<W: AsyncRead + Unpin> AsyncRead for WriteBuffer<W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Records every write call it gets (each slice list flattened), taking at most `limit` bytes
    /// per call.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<Vec<u8>>,
        limit: Option<usize>,
        flushes: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let mut all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(limit) = this.limit {
                all.truncate(limit);
            }
            let n = all.len();
            this.calls.push(all);
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.get_mut().flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn small_writes_wait_for_the_flush() {
        let mut w = WriteBuffer::with_capacity(16, Recorder::default());
        w.write_all(b"head ").await.unwrap();
        w.write_all(b"body").await.unwrap();
        assert!(w.get_ref().calls.is_empty());
        w.flush().await.unwrap();
        assert_eq!(w.get_ref().calls, vec![b"head body".to_vec()]);
        assert_eq!(w.get_ref().flushes, 1);
        assert!(w.buffer().is_empty());
    }

    #[tokio::test]
    async fn an_overflowing_write_leaves_with_the_buffered_bytes_in_one_call() {
        let mut w = WriteBuffer::with_capacity(8, Recorder::default());
        w.write_all(b"head").await.unwrap();
        w.write_all(b"a body longer than the buffer").await.unwrap();
        assert_eq!(
            w.get_ref().calls,
            vec![b"heada body longer than the buffer".to_vec()]
        );
        assert!(w.buffer().is_empty());
    }

    #[tokio::test]
    async fn an_overflowing_vectored_write_leaves_with_the_buffered_bytes_in_one_call() {
        let mut w = WriteBuffer::with_capacity(8, Recorder::default());
        w.write_all(b"head").await.unwrap();
        let pieces = [IoSlice::new(b"first piece "), IoSlice::new(b"second piece")];
        let n = w.write_vectored(&pieces).await.unwrap();
        assert_eq!(n, 24);
        assert_eq!(
            w.get_ref().calls,
            vec![b"headfirst piece second piece".to_vec()]
        );
    }

    #[tokio::test]
    async fn partial_writes_keep_the_order_of_bytes() {
        let mut w = WriteBuffer::with_capacity(8, Recorder::default());
        w.get_mut().limit = Some(3);
        w.write_all(b"head").await.unwrap();
        w.write_all(b"0123456789").await.unwrap();
        w.write_all(b"xy").await.unwrap();
        w.flush().await.unwrap();
        let written: Vec<u8> = w.get_ref().calls.concat();
        assert_eq!(written, b"head0123456789xy");
        assert!(w.get_ref().calls.iter().all(|c| c.len() <= 3));
    }

    #[tokio::test]
    async fn a_large_buffer_gathers_a_burst_and_gives_its_room_back_when_emptied() {
        let mut w = WriteBuffer::with_capacity(8 * KEPT_ROOM, Recorder::default());
        w.write_all(b"small").await.unwrap();
        assert_eq!(w.buf.capacity(), KEPT_ROOM);
        let record = vec![b'r'; 2 * KEPT_ROOM];
        for _ in 0..3 {
            w.write_all(&record).await.unwrap();
        }
        assert!(w.get_ref().calls.is_empty(), "a burst within the capacity waits");
        assert_eq!(w.buf.capacity(), 8 * KEPT_ROOM);
        w.flush().await.unwrap();
        assert_eq!(w.get_ref().calls.len(), 1, "one write for the burst");
        assert_eq!(w.get_ref().calls[0].len(), 5 + 6 * KEPT_ROOM);
        assert_eq!(w.buf.capacity(), 0, "the room is given back");
        w.write_all(b"small").await.unwrap();
        w.flush().await.unwrap();
        assert_eq!(w.buf.capacity(), KEPT_ROOM, "small writes keep their room");
    }

    #[tokio::test]
    async fn zero_capacity_writes_straight_through() {
        let mut w = WriteBuffer::with_capacity(0, Recorder::default());
        w.write_all(b"abc").await.unwrap();
        assert_eq!(w.get_ref().calls, vec![b"abc".to_vec()]);
    }

    #[tokio::test]
    async fn shutdown_writes_what_is_buffered() {
        let mut w = WriteBuffer::with_capacity(16, Recorder::default());
        w.write_all(b"tail").await.unwrap();
        w.shutdown().await.unwrap();
        assert_eq!(w.get_ref().calls, vec![b"tail".to_vec()]);
    }
}
