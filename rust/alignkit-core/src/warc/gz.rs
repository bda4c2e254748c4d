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

/// How far flate2 got through a gzip member that libdeflate rejected.
pub(crate) struct Partial {
    /// Bytes of output written to the front of `out`.
    pub produced: usize,
    /// Compressed bytes consumed (up to the damage, or the whole member).
    pub used: usize,
    pub end: PartialEnd,
}

pub(crate) enum PartialEnd {
    /// Bad data: the member stops being decodable at `used`.
    Corrupt,
    /// The input ends inside the member.
    Truncated,
    /// The deflate data ended cleanly but libdeflate rejected the member (bad CRC or size).
    BadTrailer,
    /// The output reached `cap` before the damage.
    TooBig,
}

/// Stream a member that libdeflate rejected through flate2, keeping the output produced before
/// the damage (up to `cap` bytes, in `out`), so the records in it can still be read.
pub(crate) fn inflate_partial(input: &[u8], out: &mut Vec<u8>, cap: usize) -> Partial {
    let mut d = Decompress::new_gzip(15);
    let mut produced = 0usize;
    loop {
        if produced == out.len() {
            if out.len() >= cap {
                let used = d.total_in() as usize;
                let end = PartialEnd::TooBig;
                return Partial {
                    produced,
                    used,
                    end,
                };
            }
            out.resize(out.len().max(1 << 16).saturating_mul(2).min(cap), 0);
        }
        let (i0, o0) = (d.total_in(), d.total_out());
        let off = (i0 as usize).min(input.len());
        let r = d.decompress(&input[off..], &mut out[produced..], FlushDecompress::None);
        produced += (d.total_out() - o0) as usize;
        let used = d.total_in() as usize;
        let end = match r {
            Err(_) => PartialEnd::Corrupt,
            Ok(Status::StreamEnd) => PartialEnd::BadTrailer,
            Ok(_) if d.total_in() == i0 && d.total_out() == o0 => {
                if used >= input.len() {
                    PartialEnd::Truncated
                } else {
                    PartialEnd::Corrupt
                }
            }
            Ok(_) => continue,
        };
        return Partial {
            produced,
            used,
            end,
        };
    }
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
    /// Compressed bytes consumed and output bytes produced by the current member so far.
    member_in: u64,
    member_out: u64,
    /// A damaged member's output ended: `read` returns 0 once so the record parser sees the end
    /// of the intact data (and drops the record the damage cut), then the caller resumes.
    pub at_break: bool,
    pending_break: bool,
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
            member_in: 0,
            member_out: 0,
            at_break: false,
            pending_break: false,
        }
    }

    /// Whether more output may follow a `read` that returned 0.
    pub fn at_break(&self) -> bool {
        self.at_break && self.state != GzState::Done
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

    /// Give up on the current, damaged member and look for the next one from just past its
    /// start: damage to a header can make the decoder run over the members after it. Returns
    /// whether the member produced output (which must then end with a break).
    fn drop_member(&mut self, used: usize) -> bool {
        if !self.resyncing {
            self.counters.corrupt += 1;
        }
        self.resyncing = true;
        if self.src.rewind_to_mark(1).is_some() {
            self.counters.bytes_in -= self.member_in;
            self.counters.garbage += self.member_in.min(1);
        } else if used == 0 {
            self.src.consume(1);
            self.counters.garbage += 1;
        }
        self.state = GzState::NeedMember;
        if self.max_members.is_some() {
            // A bounded stream ends at its damaged member.
            self.members_done += 1;
        }
        self.member_out > 0
    }

    /// The input ended inside a member. Truncation if no member follows its start; otherwise
    /// the member was damaged (its header made the decoder read on). True: `read` returns 0.
    fn end_inside_member(&mut self) -> bool {
        let later = self
            .src
            .marked()
            .is_some_and(|m| memchr::memmem::find(&m[1.min(m.len())..], GZ_MAGIC).is_some());
        if !later {
            // Cut off inside a member: the record parser sees the truncation.
            self.state = GzState::Done;
            return true;
        }
        let broke = self.drop_member(0);
        self.at_break = broke;
        broke
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
        if self.pending_break {
            self.pending_break = false;
            self.at_break = true;
            return Ok(0);
        }
        self.at_break = false;
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
                    self.src.set_mark();
                    self.member_in = 0;
                    self.member_out = 0;
                }
                GzState::InMember => {
                    if !self.src.fill(1) {
                        if self.end_inside_member() {
                            return Ok(0);
                        }
                        continue;
                    }
                    let a = self.src.avail();
                    let (i0, o0) = (self.dec.total_in(), self.dec.total_out());
                    let r = self.dec.decompress(a, out, FlushDecompress::None);
                    let used = (self.dec.total_in() - i0) as usize;
                    let made = (self.dec.total_out() - o0) as usize;
                    self.src.consume(used);
                    self.counters.bytes_in += used as u64;
                    self.counters.bytes_out += made as u64;
                    self.member_in += used as u64;
                    self.member_out += made as u64;
                    match r {
                        Ok(Status::StreamEnd) => {
                            self.state = GzState::NeedMember;
                            self.members_done += 1;
                            self.resyncing = false;
                            self.src.clear_mark();
                        }
                        Ok(_) => {
                            if used == 0 && made == 0 {
                                let len = self.src.avail().len();
                                if !self.src.fill(len + 1)
                                    && self.src.avail().len() == len
                                    && self.end_inside_member()
                                {
                                    return Ok(0);
                                }
                            }
                        }
                        Err(_) => {
                            if self.drop_member(used) {
                                if made == 0 {
                                    self.at_break = true;
                                    return Ok(0);
                                }
                                self.pending_break = true;
                            }
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
