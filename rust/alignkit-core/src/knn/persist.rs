//! The k-NN index file, version 1 (all integers and floats little-endian):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `AKKNNIDX` |
//! | 8 | 4 | format version (1) |
//! | 12 | 4 | flags: bit 0 = normalised index; other bits zero |
//! | 16 | 8 | `dim` |
//! | 24 | 8 | `count` |
//! | 32 | 8 · count | ids, in insertion order |
//! | … | 4 · count · dim | rows (f32), row-major |
//! | end − 8 | 8 | XXH3-64 of every byte before it |
//!
//! Saving writes a temporary file beside the target, syncs it and renames it over the target,
//! so a reader sees the old file or the whole new one.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::xxh3_64;

use super::KnnIndex;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"AKKNNIDX";
const VERSION: u32 = 1;
const HEADER: usize = 32;
const CHECKSUM: usize = 8;
const FLAG_NORMALIZE: u32 = 1;

impl KnnIndex {
    /// The index in the file format above.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.ids.len() * 8 + self.rows.len() * 4 + 8);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let flags = if self.normalize { FLAG_NORMALIZE } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&(self.dim as u64).to_le_bytes());
        out.extend_from_slice(&(self.ids.len() as u64).to_le_bytes());
        for id in &self.ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
        for v in &self.rows {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Parses [`KnnIndex::to_bytes`]'s output; `source` names it in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<KnnIndex> {
        let bad = |what: String| Error::Malformed(format!("{source}: {what}"));
        if bytes.len() >= MAGIC.len() && &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad(
                "not an alignkit k-NN index file (wrong magic bytes)".into()
            ));
        }
        if bytes.len() < HEADER + CHECKSUM {
            return Err(bad(format!(
                "truncated k-NN index file: {} bytes, shorter than its header",
                bytes.len()
            )));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
        let version = u32_at(8);
        if version != VERSION {
            return Err(Error::Unsupported(format!(
                "{source}: k-NN index file version {version} (this build reads version {VERSION})"
            )));
        }
        let flags = u32_at(12);
        if flags & !FLAG_NORMALIZE != 0 {
            return Err(bad(format!("unknown flags {flags:#x}")));
        }
        let (dim, count) = (u64_at(16), u64_at(24));
        let expected = usize::try_from(dim)
            .ok()
            .zip(usize::try_from(count).ok())
            .and_then(|(d, c)| {
                let body = c
                    .checked_mul(d)?
                    .checked_mul(4)?
                    .checked_add(c.checked_mul(8)?)?;
                body.checked_add(HEADER + CHECKSUM)
            });
        let Some(expected) = expected else {
            return Err(bad(format!(
                "impossible sizes: {count} rows of {dim} dimensions"
            )));
        };
        if bytes.len() < expected {
            return Err(bad(format!(
                "truncated k-NN index file: {} bytes, {expected} expected for {count} rows of \
                 {dim} dimensions",
                bytes.len()
            )));
        }
        if bytes.len() > expected {
            return Err(bad(format!(
                "{} unexpected bytes after the k-NN index",
                bytes.len() - expected
            )));
        }
        let body_end = expected - CHECKSUM;
        if xxh3_64(&bytes[..body_end]) != u64_at(body_end) {
            return Err(bad(
                "checksum mismatch: the k-NN index file is corrupt".into()
            ));
        }
        let (dim, count) = (dim as usize, count as usize);
        if dim == 0 {
            return Err(bad("zero dimensions".into()));
        }
        let ids_end = HEADER + count * 8;
        let ids: Vec<u64> = bytes[HEADER..ids_end]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        let rows: Vec<f32> = bytes[ids_end..body_end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
            .collect();
        if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("row {} has a non-finite value", i / dim)));
        }
        let mut positions = HashMap::with_capacity(count);
        for (p, &id) in ids.iter().enumerate() {
            if positions.insert(id, p).is_some() {
                return Err(bad(format!("id {id} appears twice")));
            }
        }
        Ok(KnnIndex {
            dim,
            normalize: flags & FLAG_NORMALIZE != 0,
            rows,
            ids,
            positions,
        })
    }

    /// Writes the index to `path` atomically (temporary file, sync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = temp_path(path);
        let written = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&self.to_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        written.map_err(|e| {
            // Best effort: the temporary file may not exist, and the rename error matters more.
            let _ = fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// Reads an index written by [`KnnIndex::save`]; a truncated or corrupt file is
    /// [`Error::Malformed`].
    pub fn load(path: &Path) -> Result<KnnIndex> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        KnnIndex::from_bytes(&bytes, &path.display().to_string())
    }
}

/// A temporary name beside `path`, unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp_name = format!(
        ".{}.{}-{}.tmp",
        name.unwrap_or_else(|| "knn-index".into()),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    path.with_file_name(tmp_name)
}
