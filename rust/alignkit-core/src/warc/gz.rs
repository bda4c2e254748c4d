//! Gzip support: a libdeflate member inflater for in-memory input and a streaming,
//! resynchronising multi-member decoder (flate2) for everything else.

use super::source::Src;
use flate2::{Decompress, FlushDecompress, Status};
use std::collections::VecDeque;
use std::io::Read;

pub(crate) const GZ_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];

/// Owned libdeflate decompressor (reused for every member).
pub(crate) struct Libdeflate {
    ptr: *mut libdeflate_sys::libdeflate_decompressor,
}

// SAFETY: the decompressor is plain heap state with no thread affinity; we only use it through
// `&mut self`, so it is never shared between threads at the same time.
unsafe impl Send for Libdeflate {}

impl Drop for Libdeflate {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: allocated by libdeflate_alloc_decompressor and freed exactly once.
            unsafe { libdeflate_sys::libdeflate_free_decompressor(self.ptr) }
        }
    }
}

pub(crate) enum MemberResult {
    /// Inflated: (compressed bytes used, bytes written to `out`).
    Ok(usize, usize),
    /// The output would exceed `cap`.
    TooBig,
    /// Bad data, bad checksum or cut-off input.
    Bad,
}

impl Libdeflate {
    pub fn new() -> Option<Self> {
        // SAFETY: plain allocation call; a null return is handled by the caller.
        let ptr = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        if ptr.is_null() {
            None
        } else {
            Some(Libdeflate { ptr })
        }
    }

    /// Inflate the gzip member at the start of `input` into `out`, growing `out` (whose whole
    /// length is used as space) up to `cap` bytes.
    pub fn member(&mut self, input: &[u8], out: &mut Vec<u8>, cap: usize) -> MemberResult {
        if out.is_empty() {
            out.resize((256 << 10).min(cap.max(1)), 0);
        }
        loop {
            let mut used_in = 0usize;
            let mut used_out = 0usize;
            // SAFETY: pointers and lengths describe live, correctly sized buffers; libdeflate
            // writes at most `out.len()` bytes and only reads `input.len()` bytes.
            let r = unsafe {
                libdeflate_sys::libdeflate_gzip_decompress_ex(
                    self.ptr,
                    input.as_ptr().cast(),
                    input.len(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    &mut used_in,
                    &mut used_out,
                )
            };
            match r {
                libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS => {
                    return MemberResult::Ok(used_in.clamp(1, input.len()), used_out.min(out.len()))
                }
                libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => {
                    if out.len() >= cap {
                        return MemberResult::TooBig;
                    }
                    let n = out.len().saturating_mul(2).min(cap);
                    out.resize(n, 0);
                }
                _ => return MemberResult::Bad,
            }
        }
    }
}

/// How a gzip member that libdeflate rejected ended, found by streaming through it.
pub(crate) fn classify_bad_member(input: &[u8]) -> BadKind {
    let mut d = Decompress::new_gzip(15);
    let mut sink = vec![0u8; 1 << 15];
    loop {
        let before_in = d.total_in();
        let before_out = d.total_out();
        let off = (before_in as usize).min(input.len());
        match d.decompress(&input[off..], &mut sink, FlushDecompress::None) {
            Err(_) => return BadKind::Corrupt,
            Ok(Status::StreamEnd) => return BadKind::Corrupt, // libdeflate disagreed: treat as bad
            Ok(_) => {
                if d.total_in() == before_in && d.total_out() == before_out {
                    return if off >= input.len() {
                        BadKind::Truncated
                    } else {
                        BadKind::Corrupt
                    };
                }
            }
        }
    }
}

pub(crate) enum BadKind {
    Truncated,
    Corrupt,
}

/// Counters the streaming decoder keeps for the reader to merge into its stats.
#[derive(Default, Clone, Copy)]
pub(crate) struct GzCounters {
    pub corrupt: u64,
    pub garbage: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[derive(PartialEq, Eq)]
enum GzState {
    NeedMember,
    InMember,
    Done,
}

/// Streaming decoder for a sequence of gzip members over a [`Src`]. Skips corrupt members and
/// junk between members (resynchronising on the gzip magic), and remembers where each member
/// started (compressed and uncompressed positions) so record offsets can be mapped back.
pub(crate) struct GzStream<S: Src> {
    pub src: S,
    dec: Decompress,
    state: GzState,
    resyncing: bool,
    /// Stop after this many members (None: no limit).
    pub max_members: Option<u64>,
    pub members_done: u64,
    /// (uncompressed start, compressed start) of recent members.
    pub starts: VecDeque<(u64, u64)>,
    pub counters: GzCounters,
    /// Uncompressed position base (output positions are `out_base + bytes produced`).
    pub out_base: u64,
}

impl<S: Src> GzStream<S> {
    pub fn new(src: S, out_base: u64) -> Self {
        GzStream {
            src,
            dec: Decompress::new_gzip(15),
            state: GzState::NeedMember,
            resyncing: false,
            max_members: None,
            members_done: 0,
            starts: VecDeque::new(),
            counters: GzCounters::default(),
            out_base,
        }
    }

    /// Uncompressed stream position of the next byte `read` will return.
    pub fn out_pos(&self) -> u64 {
        self.out_base + self.counters.bytes_out
    }

    /// Map a record's uncompressed start to its member's compressed offset when it starts a member.
    pub fn map_offset(&mut self, upos: u64) -> Option<u64> {
        while let Some(&(u, c)) = self.starts.front() {
            if u < upos {
                self.starts.pop_front();
            } else if u == upos {
                return Some(c);
            } else {
                break;
            }
        }
        None
    }

    /// Position at the next gzip magic; false at end of input.
    fn seek_magic(&mut self) -> bool {
        let finder = memchr::memmem::Finder::new(GZ_MAGIC);
        loop {
            self.src.fill(GZ_MAGIC.len());
            let a = self.src.avail();
            if a.len() < GZ_MAGIC.len() {
                self.counters.garbage += a.len() as u64;
                let n = a.len();
                self.src.consume(n);
                return false;
            }
            if let Some(i) = finder.find(a) {
                self.counters.garbage += i as u64;
                self.src.consume(i);
                return true;
            }
            let drop = a.len() - (GZ_MAGIC.len() - 1);
            self.counters.garbage += drop as u64;
            self.src.consume(drop);
            self.src.fill(1 << 16);
        }
    }
}

impl<S: Src> Read for GzStream<S> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                GzState::Done => return Ok(0),
                GzState::NeedMember => {
                    if self.max_members.is_some_and(|m| self.members_done >= m) {
                        self.state = GzState::Done;
                        return Ok(0);
                    }
                    // Whitespace/NULs between members are common padding; count as garbage.
                    if !self.seek_magic() {
                        self.state = GzState::Done;
                        return Ok(0);
                    }
                    self.starts.push_back((self.out_pos(), self.src.pos()));
                    if self.starts.len() > 4096 {
                        self.starts.pop_front();
                    }
                    self.dec = Decompress::new_gzip(15);
                    self.state = GzState::InMember;
                }
                GzState::InMember => {
                    if !self.src.fill(1) {
                        // Cut off inside a member: the record parser sees the truncation.
                        self.state = GzState::Done;
                        return Ok(0);
                    }
                    let a = self.src.avail();
                    let (i0, o0) = (self.dec.total_in(), self.dec.total_out());
                    let r = self.dec.decompress(a, out, FlushDecompress::None);
                    let used = (self.dec.total_in() - i0) as usize;
                    let made = (self.dec.total_out() - o0) as usize;
                    self.src.consume(used);
                    self.counters.bytes_in += used as u64;
                    self.counters.bytes_out += made as u64;
                    match r {
                        Ok(Status::StreamEnd) => {
                            self.state = GzState::NeedMember;
                            self.members_done += 1;
                            self.resyncing = false;
                        }
                        Ok(_) => {
                            if used == 0 && made == 0 {
                                let len = self.src.avail().len();
                                if !self.src.fill(len + 1) && self.src.avail().len() == len {
                                    self.state = GzState::Done;
                                    return Ok(0);
                                }
                            }
                        }
                        Err(_) => {
                            if !self.resyncing {
                                self.counters.corrupt += 1;
                            }
                            self.resyncing = true;
                            // Step past this magic so the scan finds the next one.
                            if used == 0 {
                                self.src.consume(1);
                                self.counters.garbage += 1;
                            }
                            self.state = GzState::NeedMember;
                        }
                    }
                    if made > 0 {
                        return Ok(made.min(out.len()));
                    }
                }
            }
        }
    }
}
