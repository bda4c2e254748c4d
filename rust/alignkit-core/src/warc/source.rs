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
            // Make room: compact, then grow to at least `want` plus one read chunk.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end = have;
                self.start = 0;
            }
            // Grow geometrically as data actually arrives, so a huge declared length in a short
            // stream does not allocate up front.
            let target = want
                .min(self.buf.len().saturating_mul(2))
                .max(have + READ_CHUNK);
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
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    #[inline]
    fn pos(&self) -> u64 {
        self.pos
    }
}
