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

use bytes::{Bytes, BytesMut};

/// A buffer with size limit. When the total amount of data written to the buffer is below the limit
/// all the data will be held in the buffer. Otherwise, the buffer will report to be truncated.
pub struct FixedBuffer {
    buffer: BytesMut,
    /// oxigress patch: what [`Self::freeze`] handed out (the bytes written before it), shared instead of
    /// copied by [`Self::get_buffer`]; bytes written later go to `buffer`, after these.
    frozen: Option<Bytes>,
    capacity: usize,
    truncated: bool,
}

impl FixedBuffer {
    pub fn new(capacity: usize) -> Self {
        FixedBuffer {
            buffer: BytesMut::new(),
            frozen: None,
            capacity,
            truncated: false,
        }
    }

    // TODO: maybe store a Vec of Bytes for zero-copy
    pub fn write_to_buffer(&mut self, data: &Bytes) {
        if self.truncated {
            return;
        }

        if self.len() + data.len() <= self.capacity {
            self.buffer.extend_from_slice(data);
        } else {
            // Buffered data is no longer usable for a retry, so release its allocation.
            self.buffer = BytesMut::new();
            self.frozen = None;
            self.truncated = true;
        }
    }

    pub fn clear(&mut self) {
        self.truncated = false;
        self.buffer.clear();
        self.frozen = None;
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// oxigress patch: the number of bytes held.
    pub fn len(&self) -> usize {
        self.frozen.as_ref().map_or(0, Bytes::len) + self.buffer.len()
    }
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
    pub fn get_buffer(&self) -> Option<Bytes> {
        // TODO: return None if truncated?
        match &self.frozen {
            _ if self.is_empty() => None,
            // oxigress patch: the frozen bytes are shared, not copied
            Some(frozen) if self.buffer.is_empty() => Some(frozen.clone()),
            Some(frozen) => Some(joined(frozen, &self.buffer)),
            None => Some(self.buffer.clone().freeze()),
        }
    }

    /// oxigress patch: everything written so far as one `Bytes`, which this buffer keeps sharing (later
    /// [`Self::get_buffer`] calls return it without a copy while nothing more is written). `None` when
    /// empty or truncated.
    pub fn freeze(&mut self) -> Option<Bytes> {
        if self.truncated || self.is_empty() {
            return None;
        }
        if !self.buffer.is_empty() {
            let tail = std::mem::take(&mut self.buffer);
            self.frozen = Some(match self.frozen.take() {
                None => tail.freeze(),
                Some(head) => joined(&head, &tail),
            });
        }
        self.frozen.clone()
    }
}

/// oxigress patch: `head` then `tail`, copied into one `Bytes` (bytes written after a freeze).
fn joined(head: &[u8], tail: &[u8]) -> Bytes {
    let mut joined = BytesMut::with_capacity(head.len() + tail.len());
    joined.extend_from_slice(head);
    joined.extend_from_slice(tail);
    joined.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_storage_when_truncated() {
        let mut buffer = FixedBuffer::new(4);
        buffer.write_to_buffer(&Bytes::from_static(b"1234"));
        assert!(buffer.buffer.capacity() >= 4);

        buffer.write_to_buffer(&Bytes::from_static(b"5"));

        assert!(buffer.is_truncated());
        assert_eq!(buffer.buffer.capacity(), 0);
        assert!(buffer.get_buffer().is_none());
    }

    #[test]
    fn frozen_buffer_is_shared_not_copied() {
        let mut buffer = FixedBuffer::new(16);
        assert!(buffer.freeze().is_none(), "empty");
        buffer.write_to_buffer(&Bytes::from_static(b"abc"));
        buffer.write_to_buffer(&Bytes::from_static(b"de"));
        let whole = buffer.freeze().unwrap();
        assert_eq!(&whole[..], b"abcde");
        let again = buffer.get_buffer().unwrap();
        assert_eq!(again.as_ptr(), whole.as_ptr(), "get_buffer shares the frozen bytes");
        assert_eq!(buffer.freeze().unwrap().as_ptr(), whole.as_ptr(), "a second freeze shares them too");

        // Written after the freeze: appended, in order, and within the same limit.
        buffer.write_to_buffer(&Bytes::from_static(b"fgh"));
        assert_eq!(buffer.len(), 8);
        assert_eq!(&buffer.get_buffer().unwrap()[..], b"abcdefgh");
        assert_eq!(&buffer.freeze().unwrap()[..], b"abcdefgh");
        assert_eq!(&whole[..], b"abcde", "handed-out bytes never change");
        buffer.write_to_buffer(&Bytes::from_static(b"123456789"));
        assert!(buffer.is_truncated(), "8 + 9 bytes exceed the capacity of 16");
        assert!(buffer.get_buffer().is_none());
        assert!(buffer.freeze().is_none());

        buffer.clear();
        assert!(buffer.is_empty() && !buffer.is_truncated());
        buffer.write_to_buffer(&Bytes::from_static(b"x"));
        assert_eq!(&buffer.get_buffer().unwrap()[..], b"x");
    }
}
