//! Byte sources the record parser runs over: a borrowed slice (memory map, `Vec`, one inflated
//! gzip member) or a buffered `Read` with a sliding window.

use std::io::Read;

/// A forward-only window over a byte stream.
pub(crate) trait Src {
    /// Bytes available now, starting at `pos()`.
    fn avail(&self) -> &[u8];
    /// Try to make at least `want` bytes available. Returns false when the stream ended first
    /// (then `avail()` holds everything that is left).
    fn fill(&mut self, want: usize) -> bool;
    /// Drop `n` bytes from the front (`n` is clamped to what is available).
    fn consume(&mut self, n: usize);
    /// Absolute position of `avail()[0]` in the stream.
    fn pos(&self) -> u64;
    /// Remember the current position so that `rewind_to_mark` can come back to it.
    fn set_mark(&mut self) {}
    fn clear_mark(&mut self) {}
    /// Go back to `skip` bytes past the mark (forgetting it), if the bytes since are still held
    /// and lie past that point; returns how far back.
    fn rewind_to_mark(&mut self, _skip: usize) -> Option<u64> {
        None
    }
    /// The bytes held from the mark on, if a mark is set.
    fn marked(&self) -> Option<&[u8]> {
        None
    }
    /// Drop `n` bytes, reading through the stream without keeping them. Returns bytes dropped.
    fn skip(&mut self, n: u64) -> u64 {
        let mut left = n;
        while left > 0 {
            let step = left.min(1 << 16) as usize;
            self.fill(step);
            let have = self.avail().len().min(step);
            if have == 0 {
                break;
            }
            self.consume(have);
            left -= have as u64;
        }
        n - left
    }
}

/// A whole input already in memory.
pub(crate) struct SliceSrc<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// Absolute position of `data[0]`.
    pub base: u64,
}

impl Src for SliceSrc<'_> {
    #[inline]
    fn avail(&self) -> &[u8] {
        &self.data[self.pos.min(self.data.len())..]
    }
    #[inline]
    fn fill(&mut self, want: usize) -> bool {
        self.data.len().saturating_sub(self.pos) >= want
    }
    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos = (self.pos.saturating_add(n)).min(self.data.len());
    }
    #[inline]
    fn pos(&self) -> u64 {
        self.base + self.pos as u64
    }
    fn skip(&mut self, n: u64) -> u64 {
        let have = self.data.len().saturating_sub(self.pos) as u64;
        let k = n.min(have);
        self.pos += k as usize;
        k
    }
}

const READ_CHUNK: usize = 1 << 16;
/// How far back a mark is kept; past this the mark is forgotten (bounds memory and rescans).
const MAX_REWIND: usize = 4 << 20;

/// A `Read` behind a growable window buffer.
pub(crate) struct BufSrc<R: Read> {
    pub inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Absolute position of `buf[start]`.
    pos: u64,
    eof: bool,
    /// Set when the inner reader failed with an I/O error (treated as end of stream).
    pub io_error: Option<std::io::Error>,
    /// Index into `buf` of the marked position (bytes from there on are kept).
    mark: Option<usize>,
}

impl<R: Read> BufSrc<R> {
    pub fn new(inner: R) -> Self {
        Self::with_pos(inner, 0)
    }
    /// Like `new`, with the absolute position of the first byte.
    pub fn with_pos(inner: R, pos: u64) -> Self {
        BufSrc {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            pos,
            eof: false,
            io_error: None,
            mark: None,
        }
    }

    /// Read on after the inner reader signalled a (temporary) end, e.g. a gzip segment break.
    pub fn resume(&mut self) {
        if self.io_error.is_none() {
            self.eof = false;
        }
    }
}

impl<R: Read> Src for BufSrc<R> {
    #[inline]
    fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn fill(&mut self, want: usize) -> bool {
        loop {
            let have = self.end - self.start;
            if have >= want {
                return true;
            }
            if self.eof {
                return false;
            }
            // Make room: compact (keeping marked bytes), then grow to at least `want` plus one
            // read chunk.
            let from = self.mark.unwrap_or(self.start);
            if from > 0 {
                self.buf.copy_within(from..self.end, 0);
                self.end -= from;
                self.start -= from;
                self.mark = self.mark.map(|_| 0);
            }
            // Grow geometrically as data actually arrives, so a huge declared length in a short
            // stream does not allocate up front.
            let target = want
                .min(self.buf.len().saturating_mul(2))
                .max(have + READ_CHUNK)
                + self.start;
            if self.buf.len() < target {
                self.buf.resize(target, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n.min(self.buf.len() - self.end),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.io_error = Some(e);
                    self.eof = true;
                }
            }
        }
    }
    #[inline]
    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
        if self.mark.is_some_and(|m| self.start - m > MAX_REWIND) {
            self.mark = None;
        }
        if self.start == self.end && self.mark.is_none() {
            self.start = 0;
            self.end = 0;
        }
    }
    fn set_mark(&mut self) {
        self.mark = Some(self.start);
    }
    fn clear_mark(&mut self) {
        self.mark = None;
    }
    fn marked(&self) -> Option<&[u8]> {
        self.mark.map(|m| &self.buf[m..self.end])
    }
    fn rewind_to_mark(&mut self, skip: usize) -> Option<u64> {
        let target = self.mark.take()?.saturating_add(skip);
        if target > self.start {
            return None;
        }
        let back = self.start - target;
        self.start = target;
        self.pos -= back as u64;
        Some(back as u64)
    }
    #[inline]
    fn pos(&self) -> u64 {
        self.pos
    }
}
