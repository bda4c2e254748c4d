//! Whole-file passes: read every record of many files in parallel and count what was there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{ReadStats, ReaderOptions, WarcReader};
use crate::Result;

/// What one full pass over a file learns: reader counters, records per type, block bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub stats: ReadStats,
    pub records_by_type: BTreeMap<&'static str, u64>,
    /// Sum of the block lengths of every returned record.
    pub block_bytes: u64,
}

/// Read every record of `path` (blocks included) and summarise.
pub fn summarise_file(path: &Path, opts: ReaderOptions) -> Result<FileSummary> {
    let mut reader = WarcReader::open(path, opts)?;
    let mut records_by_type = BTreeMap::new();
    let mut block_bytes = 0u64;
    for record in reader.by_ref() {
        *records_by_type
            .entry(record.record_type.as_str())
            .or_default() += 1;
        block_bytes += record.block.len() as u64;
    }
    Ok(FileSummary {
        stats: reader.stats().clone(),
        records_by_type,
        block_bytes,
    })
}

/// [`summarise_file`] over many files in parallel on the current rayon pool; the first failing
/// file (in input order) is the error.
pub fn summarise_files(paths: &[PathBuf], opts: &ReaderOptions) -> Result<Vec<FileSummary>> {
    paths
        .par_iter()
        .map(|path| summarise_file(path, opts.clone()))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
