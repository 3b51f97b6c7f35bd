// Copyright 2026 Cloudflare, Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! oxigress patch: moving bytes from one TCP socket to another without copying them through user
//! space. `splice(2)` moves what the source socket received into a pipe and from the pipe into the
//! destination socket; the kernel hands over references to the pages the bytes are in, so they
//! are copied neither into the process nor out of it (a proxied body otherwise crosses the
//! user/kernel boundary twice). HAProxy does the same (`option splice-response`).
//!
//! Only plain TCP streams with nothing in their buffers take part ([`Stream::splice_ready`]). The
//! pipes are made on first use and kept per thread for the next splice (as HAProxy pools its pipes):
//! a few per thread, however many connections there are, since a pipe is only in use while a body
//! passes through it. That cache of idle kernel objects is the only per-thread state; it changes
//! nothing any caller can observe.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use pingora_error::{Error, ErrorType::*, OrErr, Result};
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::stream::Stream;

/// The most one `splice(2)` into the pipe asks for (the kernel moves no more than fits).
const SPLICE_CHUNK: usize = 1 << 20;

/// How many idle pipes a thread keeps.
const PIPES_KEPT_PER_THREAD: usize = 16;

/// What a pipe is asked to hold (`F_SETPIPE_SZ`). The default, 16 pages, is less than a 64 KiB
/// body: the pages a socket hands over are often not full, and each takes a slot.
const PIPE_SIZE: libc::c_int = 256 * 1024;

thread_local! {
    static IDLE_PIPES: RefCell<Vec<SplicePipe>> = const { RefCell::new(Vec::new()) };
}

/// An idle pipe of this thread's, or a new one.
fn take_pipe() -> io::Result<SplicePipe> {
    match IDLE_PIPES.with_borrow_mut(|pipes| pipes.pop()) {
        Some(pipe) => Ok(pipe),
        None => SplicePipe::new(),
    }
}

/// Keeps an emptied pipe for this thread's next splice (closed when enough are kept).
fn keep_pipe(pipe: SplicePipe) {
    debug_assert_eq!(pipe.held, 0, "only an empty pipe is kept");
    IDLE_PIPES.with_borrow_mut(|pipes| {
        if pipes.len() < PIPES_KEPT_PER_THREAD {
            pipes.push(pipe);
        }
    });
}

/// Which socket a splice failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpliceSide {
    /// Reading from the source socket (a read error, a timeout, or its peer closed early).
    Source,
    /// Writing to the destination socket.
    Destination,
}

/// A pipe the bytes pass through on their way from one socket to another, both ends
/// non-blocking. `held` is what was moved in and not yet out.
#[derive(Debug)]
struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    held: usize,
}

impl SplicePipe {
    fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A pipe keeps its default size when the user's pipe allowance is used up: only more
        // system calls per body then.
        // SAFETY: a plain fcntl on a descriptor owned here.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
        Ok(SplicePipe { read, write, held: 0 })
    }

    /// Moves up to `len` bytes the socket `from` has received into the (empty) pipe.
    fn fill_from(&mut self, from: RawFd, len: usize) -> io::Result<usize> {
        let n = splice(from, self.write.as_raw_fd(), len, 0)?;
        self.held += n;
        Ok(n)
    }

    /// Moves what the pipe holds into the socket `to`, as much as it takes. Without
    /// `SPLICE_F_MORE`: TCP would hold a part-filled segment back for the next piece, which an
    /// upstream that pauses delays.
    fn drain_into(&mut self, to: RawFd) -> io::Result<usize> {
        let n = splice(self.read.as_raw_fd(), to, self.held, 0)?;
        self.held -= n;
        Ok(n)
    }
}

fn splice(from: RawFd, to: RawFd, len: usize, flags: libc::c_uint) -> io::Result<usize> {
    let flags = flags | libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: both descriptors are open for the duration of the call (borrowed from live owners);
    // null offsets are what splice(2) expects for sockets and pipes.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn side<T>(side: SpliceSide, r: Result<T>) -> std::result::Result<T, (SpliceSide, Box<Error>)> {
    r.map_err(|e| (side, e))
}

/// Moves exactly `len` bytes from `src` to `dst` through a pipe, waiting at most
/// `read_timeout` for each wait on `src` and `write_timeout` for each wait on `dst`, as the
/// buffered reads and writes of a body do. Both must be [`Stream::splice_ready`]. On an error the
/// pipe is closed with whatever it held (neither stream can be reused then: the body was cut).
pub async fn splice_exact(
    src: &mut Stream,
    dst: &mut Stream,
    len: usize,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
) -> std::result::Result<(), (SpliceSide, Box<Error>)> {
    let mut pipe = side(
        SpliceSide::Source,
        take_pipe().or_err(InternalError, "creating a pipe to splice through"),
    )?;
    let (Some(from), Some(to)) = (src.tcp(), dst.tcp()) else {
        return Err((
            SpliceSide::Source,
            Error::explain(InternalError, "splice between streams that are not plain TCP"),
        ));
    };
    let mut left = len;
    while left > 0 || pipe.held > 0 {
        if pipe.held == 0 {
            // The pipe is empty, so a `WouldBlock` here is the socket's: nothing to read yet.
            let n = side(
                SpliceSide::Source,
                wait_io(from, Interest::READABLE, read_timeout, ReadTimedout, ReadError, || {
                    pipe.fill_from(from.as_raw_fd(), left.min(SPLICE_CHUNK))
                })
                .await,
            )?;
            if n == 0 {
                return Err((
                    SpliceSide::Source,
                    Error::explain(
                        ConnectionClosed,
                        format!("peer closed the connection with {left} bytes of body left"),
                    ),
                ));
            }
            left -= n;
        } else {
            let n = side(
                SpliceSide::Destination,
                wait_io(to, Interest::WRITABLE, write_timeout, WriteTimedout, WriteError, || {
                    pipe.drain_into(to.as_raw_fd())
                })
                .await,
            )?;
            if n == 0 {
                // Not expected of a socket; stop rather than ask again and again.
                return Err((
                    SpliceSide::Destination,
                    Error::explain(WriteError, "the socket took none of a spliced body"),
                ));
            }
        }
    }
    keep_pipe(pipe);
    Ok(())
}

/// Runs `op` on `socket` once it is ready for `interest` (tokio clears the readiness when `op`
/// would block, and the wait starts again), waiting at most `timeout` each time.
async fn wait_io(
    socket: &TcpStream,
    interest: Interest,
    timeout: Option<Duration>,
    timed_out: pingora_error::ErrorType,
    failed: pingora_error::ErrorType,
    mut op: impl FnMut() -> io::Result<usize>,
) -> Result<usize> {
    loop {
        match socket.try_io(interest, &mut op) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Error::e_because(failed.clone(), "while splicing a body", e),
        }
        let ready = socket.ready(interest);
        let ready = match timeout {
            Some(t) => match tokio::time::timeout(t, ready).await {
                Ok(ready) => ready,
                Err(_) => return Error::e_explain(timed_out, "while splicing a body"),
            },
            None => ready.await,
        };
        ready.or_err(failed.clone(), "while waiting to splice a body")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let connect = TcpStream::connect(listener.local_addr().unwrap());
        let (ours, theirs) = tokio::join!(connect, listener.accept());
        (ours.unwrap(), theirs.unwrap().0)
    }

    // The body is longer than the pipe and the destination's socket buffers, so both the wait for
    // the source and the wait for the destination are taken; what arrives is the body, byte for
    // byte, and what follows it on the source stays there for the next read.
    #[tokio::test]
    async fn splice_exact_moves_the_body_and_leaves_what_follows() {
        let (mut origin, src) = socket_pair().await;
        let (dst, mut client) = socket_pair().await;
        let (mut src, mut dst): (Stream, Stream) = (src.into(), dst.into());
        assert!(src.splice_ready() && dst.splice_ready());
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = body.clone();
        let origin_task = tokio::spawn(async move {
            for piece in sent.chunks(100_000) {
                origin.write_all(piece).await.unwrap();
            }
            origin.write_all(b"NEXT").await.unwrap();
            origin
        });
        let client_task = tokio::spawn(async move {
            let mut got = vec![0; 3_000_000];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        let t = Some(Duration::from_secs(10));
        splice_exact(&mut src, &mut dst, body.len(), t, t).await.unwrap();
        assert!(client_task.await.unwrap() == body, "the body arrives unchanged");
        let _origin = origin_task.await.unwrap();
        let mut next = [0; 4];
        src.read_exact(&mut next).await.unwrap();
        assert_eq!(&next, b"NEXT");
        assert_eq!(IDLE_PIPES.with_borrow(|p| p.len()), 1, "the pipe is kept for the next body");
    }

    #[tokio::test]
    async fn splice_exact_reports_an_early_close_on_the_source() {
        let (mut origin, src) = socket_pair().await;
        let (dst, _client) = socket_pair().await;
        let (mut src, mut dst): (Stream, Stream) = (src.into(), dst.into());
        origin.write_all(b"short").await.unwrap();
        drop(origin);
        let t = Some(Duration::from_secs(10));
        let (failed_on, e) = splice_exact(&mut src, &mut dst, 100, t, t).await.unwrap_err();
        assert_eq!(failed_on, SpliceSide::Source);
        assert_eq!(e.etype(), &ConnectionClosed);
    }

    #[tokio::test]
    async fn splice_exact_times_out_on_a_silent_source() {
        let (_origin, src) = socket_pair().await;
        let (dst, _client) = socket_pair().await;
        let (mut src, mut dst): (Stream, Stream) = (src.into(), dst.into());
        let t = Some(Duration::from_millis(20));
        let (failed_on, e) = splice_exact(&mut src, &mut dst, 100, t, t).await.unwrap_err();
        assert_eq!(failed_on, SpliceSide::Source);
        assert_eq!(e.etype(), &ReadTimedout);
    }

    // A client that does not read: the destination's buffers fill and the write wait times out.
    #[tokio::test]
    async fn splice_exact_times_out_on_a_stuck_destination() {
        let (mut origin, src) = socket_pair().await;
        let (dst, _client) = socket_pair().await;
        let (mut src, mut dst): (Stream, Stream) = (src.into(), dst.into());
        let len = 64 << 20;
        let origin_task = tokio::spawn(async move {
            let piece = vec![7u8; 1 << 20];
            for _ in 0..64 {
                if origin.write_all(&piece).await.is_err() {
                    break;
                }
            }
        });
        let t = Some(Duration::from_millis(200));
        let (failed_on, e) = splice_exact(&mut src, &mut dst, len, t, t).await.unwrap_err();
        assert_eq!(failed_on, SpliceSide::Destination);
        assert_eq!(e.etype(), &WriteTimedout);
        drop(src);
        origin_task.await.unwrap();
    }

    #[tokio::test]
    async fn only_plain_tcp_streams_with_empty_buffers_are_ready() {
        let (_origin, src) = socket_pair().await;
        let mut src: Stream = src.into();
        assert!(src.splice_ready());
        src.rewind(b"held");
        assert!(!src.splice_ready(), "bytes rewound into the stream must be read first");
        let (unix, _other) = tokio::net::UnixStream::pair().unwrap();
        let unix: Stream = unix.into();
        assert!(!unix.splice_ready());
    }
}
