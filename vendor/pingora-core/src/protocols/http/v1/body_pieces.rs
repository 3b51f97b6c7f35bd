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

//! oxigress patch: several body pieces written as one, without copying them together.
//!
//! [`Pieces`] is a [`Buf`] over a list of `Bytes`, so a body writer can hand the pieces of a
//! response batch to one vectored write (`write_all_buf`; cut to a length with [`Buf::take`]),
//! where pingora copied them into one buffer first.

use bytes::{Buf, Bytes};
use std::io::IoSlice;

/// The bytes of `pieces`, read front to back.
pub(super) struct Pieces<'a> {
    pieces: &'a [Bytes],
    /// Bytes of `pieces[0]` already read.
    offset: usize,
    remaining: usize,
}

impl<'a> Pieces<'a> {
    pub(super) fn new(pieces: &'a [Bytes]) -> Self {
        let mut this = Pieces {
            pieces,
            offset: 0,
            remaining: pieces.iter().map(Bytes::len).sum(),
        };
        this.skip_read();
        this
    }

    /// Drop read and empty pieces from the front.
    fn skip_read(&mut self) {
        while let Some((first, rest)) = self.pieces.split_first() {
            if self.offset < first.len() {
                break;
            }
            self.pieces = rest;
            self.offset = 0;
        }
    }
}

impl Buf for Pieces<'_> {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.first().map_or(&[], |first| &first[self.offset..])
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.remaining, "advance past the end of the body pieces");
        self.remaining -= cnt;
        while cnt > 0 {
            let Some(first) = self.pieces.first() else {
                break;
            };
            let step = (first.len() - self.offset).min(cnt);
            self.offset += step;
            cnt -= step;
            self.skip_read();
        }
    }

    fn chunks_vectored<'b>(&'b self, dst: &mut [IoSlice<'b>]) -> usize {
        let mut offset = self.offset;
        let mut filled = 0;
        for piece in self.pieces {
            if filled == dst.len() {
                break;
            }
            let chunk = &piece[offset..];
            offset = 0;
            if !chunk.is_empty() {
                dst[filled] = IoSlice::new(chunk);
                filled += 1;
            }
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut buf: impl Buf, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while buf.has_remaining() {
            let take = buf.chunk().len().min(step);
            assert!(take > 0, "a non-empty buffer gave an empty chunk");
            out.extend_from_slice(&buf.chunk()[..take]);
            buf.advance(take);
        }
        out
    }

    fn pieces() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defgh"),
            Bytes::from_static(b"ij"),
        ]
    }

    #[test]
    fn reads_every_piece_in_order_whatever_the_step() {
        let pieces = pieces();
        for step in 1..12 {
            assert_eq!(drain(Pieces::new(&pieces), step), b"abcdefghij");
        }
    }

    #[test]
    fn a_take_stops_at_its_limit() {
        let pieces = pieces();
        for step in 1..12 {
            assert_eq!(drain(Pieces::new(&pieces).take(6), step), b"abcdef");
        }
        assert_eq!(drain(Pieces::new(&pieces).take(0), 4), b"");
    }

    #[test]
    fn vectored_chunks_skip_empty_pieces_and_respect_a_take() {
        let pieces = pieces();
        let mut buf = Pieces::new(&pieces).take(9);
        buf.advance(2);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = buf.chunks_vectored(&mut slices);
        let got: Vec<&[u8]> = slices[..n].iter().map(|s| &s[..]).collect();
        assert_eq!(got, vec![&b"c"[..], &b"defgh"[..], &b"i"[..]]);
        let mut two = [IoSlice::new(&[]); 2];
        assert_eq!(buf.chunks_vectored(&mut two), 2);
    }
}
