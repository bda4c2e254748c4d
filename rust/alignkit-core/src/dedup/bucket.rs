//! The multi-shard file flow, steps 1 and 2: per-shard partition files and per-partition union
//! edges. Every step is a set of independent tasks; step 3 ([`super::cluster`]) is the reduce.
//!
//! 1. One task per shard: [`write_shard_files`] splits the shard's band keys and exact keys into
//!    `partitions` partition files (a key's partition depends on the key alone, so equal keys of
//!    all shards meet in the same partition) and writes the shard's document lengths.
//! 2. One task per partition: [`partition_edges`] reads that partition's file of every shard, in
//!    plan order (which numbers the documents globally, shard after shard), and links every
//!    member of a bucket (documents sharing a key) to the bucket's smallest global id.
//!
//! Formats, little endian throughout:
//! * Partition file (`*.bkt`): `b"AKSP"`, u32 version, u32 partition, u32 partitions, u64 shard
//!   documents, u64 band records, u64 exact records, then 12-byte records `(key u64, index u32)`
//!   (index within the shard): the band records, then the exact records, each sorted.
//! * Lengths file (`*.len`): `b"AKLN"`, u32 version, u64 documents, then one u64 per document.
//! * Edge file (`*.edges`): `b"AKEG"`, u32 version, u64 documents of the whole corpus, u64 exact
//!   edges, u64 band edges, then 8-byte edges `(a u32, b u32)` with `a < b`: the exact edges,
//!   then the band edges, each sorted and without repeats.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

const PARTITION_MAGIC: &[u8; 4] = b"AKSP";
const LENGTHS_MAGIC: &[u8; 4] = b"AKLN";
const EDGE_MAGIC: &[u8; 4] = b"AKEG";
const VERSION: u32 = 1;
const PARTITION_HEADER: usize = 40;
const LENGTHS_HEADER: usize = 16;
const EDGE_HEADER: usize = 32;

/// Band hashes, exact keys and lengths of one shard's documents (what step 1 computes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardBands {
    pub bands: usize,
    /// `docs * bands` band hashes, row-major.
    pub band_hashes: Vec<u64>,
    pub exact: Vec<u64>,
    pub lengths: Vec<u64>,
}

impl ShardBands {
    pub fn docs(&self) -> usize {
        self.exact.len()
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.exact.len();
        if self.lengths.len() != n || self.band_hashes.len() != n * self.bands {
            return Err(Error::InvalidArgument(
                "shard columns have inconsistent lengths".into(),
            ));
        }
        if n > u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "at most 2**32 - 1 documents per shard".into(),
            ));
        }
        Ok(())
    }
}

/// One partition of one shard: `(key, index within the shard)` records of each kind, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardPartition {
    pub partition: usize,
    pub partitions: usize,
    /// Documents of the whole shard (the offset the next shard's global ids start after).
    pub docs: u64,
    pub band: Vec<(u64, u32)>,
    pub exact: Vec<(u64, u32)>,
}

/// Union edges of one partition over all shards, in global document ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeList {
    /// Documents of the whole corpus (every shard), so the reduce can check it sees the same.
    pub docs: u64,
    pub exact: Vec<(u32, u32)>,
    pub band: Vec<(u32, u32)>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn malformed(path: &Path, what: &str) -> Error {
    Error::Malformed(format!("{}: {what}", path.display()))
}

#[inline]
fn partition_of(key: u64, partitions: usize) -> usize {
    (((key >> 32) * partitions as u64) >> 32) as usize
}

fn check_partitions(partitions: usize) -> Result<()> {
    if partitions == 0 || partitions > u32::MAX as usize {
        return Err(Error::InvalidArgument(
            "partitions must be between 1 and 2**32 - 1".into(),
        ));
    }
    Ok(())
}

/// A whole file written at `path`, fsynced (callers rename a temporary name into place).
fn write_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let err = io_err(path);
    let mut w = BufWriter::with_capacity(1 << 16, File::create(path).map_err(&err)?);
    write(&mut w).map_err(&err)?;
    w.into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?
        .sync_all()
        .map_err(&err)
}

/// A file's bytes after checking its magic and version; `header` bytes at least.
fn read_checked(path: &Path, magic: &[u8; 4], header: usize, what: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() < header
        || &bytes[..4] != magic
        || u32::from_le_bytes(bytes[4..8].try_into().unwrap_or_default()) != VERSION
    {
        return Err(malformed(
            path,
            &format!("not a {what} of version {VERSION}"),
        ));
    }
    Ok(bytes)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
}

/// The total size a header promises, or an error when it does not match the file's.
fn check_size(path: &Path, actual: usize, header: usize, counts: &[(u64, usize)]) -> Result<()> {
    let expected = counts.iter().try_fold(header as u64, |acc, &(n, size)| {
        n.checked_mul(size as u64).and_then(|b| acc.checked_add(b))
    });
    if expected != Some(actual as u64) {
        return Err(malformed(
            path,
            &format!("truncated or damaged ({actual} bytes, header promises {expected:?})"),
        ));
    }
    Ok(())
}

/// Split a shard's keys into `partitions` partitions, records sorted within each.
pub fn split_partitions(shard: &ShardBands, partitions: usize) -> Result<Vec<ShardPartition>> {
    shard.validate()?;
    check_partitions(partitions)?;
    let mut parts: Vec<ShardPartition> = (0..partitions)
        .map(|partition| ShardPartition {
            partition,
            partitions,
            docs: shard.docs() as u64,
            ..Default::default()
        })
        .collect();
    for doc in 0..shard.docs() {
        let index = doc as u32;
        for &key in &shard.band_hashes[doc * shard.bands..(doc + 1) * shard.bands] {
            parts[partition_of(key, partitions)].band.push((key, index));
        }
        let key = shard.exact[doc];
        parts[partition_of(key, partitions)]
            .exact
            .push((key, index));
    }
    for part in &mut parts {
        part.band.sort_unstable();
        part.exact.sort_unstable();
    }
    Ok(parts)
}

/// Fixed-size little-endian records, encoded through one buffer per 4096 of them.
fn write_encoded<T>(
    w: &mut impl Write,
    items: &[T],
    encode: impl Fn(&T, &mut Vec<u8>),
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for chunk in items.chunks(4096) {
        buf.clear();
        for item in chunk {
            encode(item, &mut buf);
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn write_records(w: &mut impl Write, records: &[(u64, u32)]) -> std::io::Result<()> {
    write_encoded(w, records, |&(key, index), buf| {
        buf.extend_from_slice(&key.to_le_bytes());
        buf.extend_from_slice(&index.to_le_bytes());
    })
}

pub fn write_partition_file(path: &Path, part: &ShardPartition) -> Result<()> {
    check_partitions(part.partitions)?;
    write_file(path, |w| {
        w.write_all(PARTITION_MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&(part.partition as u32).to_le_bytes())?;
        w.write_all(&(part.partitions as u32).to_le_bytes())?;
        for n in [part.docs, part.band.len() as u64, part.exact.len() as u64] {
            w.write_all(&n.to_le_bytes())?;
        }
        write_records(w, &part.band)?;
        write_records(w, &part.exact)
    })
}

pub fn read_partition_file(path: &Path) -> Result<ShardPartition> {
    let bytes = read_checked(path, PARTITION_MAGIC, PARTITION_HEADER, "partition file")?;
    let (docs, band, exact) = (u64_at(&bytes, 16), u64_at(&bytes, 24), u64_at(&bytes, 32));
    check_size(
        path,
        bytes.len(),
        PARTITION_HEADER,
        &[(band, 12), (exact, 12)],
    )?;
    let mut records = bytes[PARTITION_HEADER..]
        .chunks_exact(12)
        .map(|c| (u64_at(c, 0), u32_at(c, 8)));
    let band: Vec<(u64, u32)> = records.by_ref().take(band as usize).collect();
    let exact: Vec<(u64, u32)> = records.collect();
    if band.iter().chain(&exact).any(|&(_, i)| i as u64 >= docs) {
        return Err(malformed(path, "a document index beyond the shard"));
    }
    Ok(ShardPartition {
        partition: u32_at(&bytes, 8) as usize,
        partitions: u32_at(&bytes, 12) as usize,
        docs,
        band,
        exact,
    })
}

fn write_u64s(w: &mut impl Write, values: &[u64]) -> std::io::Result<()> {
    write_encoded(w, values, |v, buf| buf.extend_from_slice(&v.to_le_bytes()))
}

pub fn write_lengths_file(path: &Path, lengths: &[u64]) -> Result<()> {
    write_file(path, |w| {
        w.write_all(LENGTHS_MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&(lengths.len() as u64).to_le_bytes())?;
        write_u64s(w, lengths)
    })
}

pub fn read_lengths_file(path: &Path) -> Result<Vec<u64>> {
    let bytes = read_checked(path, LENGTHS_MAGIC, LENGTHS_HEADER, "lengths file")?;
    check_size(path, bytes.len(), LENGTHS_HEADER, &[(u64_at(&bytes, 8), 8)])?;
    Ok(bytes[LENGTHS_HEADER..]
        .chunks_exact(8)
        .map(|c| u64_at(c, 0))
        .collect())
}

/// The number of documents a lengths file holds (its header alone is read).
pub fn lengths_file_docs(path: &Path) -> Result<u64> {
    use std::io::Read;
    let mut head = [0u8; LENGTHS_HEADER];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(io_err(path))?;
    if &head[..4] != LENGTHS_MAGIC || u32_at(&head, 4) != VERSION {
        return Err(malformed(
            path,
            &format!("not a lengths file of version {VERSION}"),
        ));
    }
    Ok(u64_at(&head, 8))
}

/// Step 1: the shard's partition files (`partition_paths[p]` holds partition `p`, so there are
/// as many partitions as paths) and its lengths file.
pub fn write_shard_files(
    shard: &ShardBands,
    partition_paths: &[PathBuf],
    lengths_path: &Path,
) -> Result<()> {
    for (part, path) in split_partitions(shard, partition_paths.len())?
        .iter()
        .zip(partition_paths)
    {
        write_partition_file(path, part)?;
    }
    write_lengths_file(lengths_path, &shard.lengths)
}

/// Edges of sorted-or-not `(key, global id)` records: each member of a bucket to the bucket's
/// smallest id, sorted, without repeats (a document sharing a key with itself adds nothing).
fn bucket_edges(mut records: Vec<(u64, u32)>) -> Vec<(u32, u32)> {
    records.sort_unstable();
    let mut edges = Vec::new();
    for run in records.chunk_by(|a, b| a.0 == b.0) {
        let first = run[0].1;
        edges.extend(
            run[1..]
                .iter()
                .filter(|r| r.1 != first)
                .map(|r| (first, r.1)),
        );
    }
    edges.sort_unstable();
    edges.dedup();
    edges
}

/// Step 2: the union edges of partition `partition` from that partition's file of every shard,
/// `shard_files` in plan order (global ids are numbered shard after shard in that order). Keys of
/// the kinds not wanted (`exact`, `near`) are ignored.
pub fn partition_edges(
    shard_files: &[PathBuf],
    partition: usize,
    exact: bool,
    near: bool,
) -> Result<EdgeList> {
    let mut offset = 0u64;
    let mut partitions = None;
    let (mut band_records, mut exact_records) = (Vec::new(), Vec::new());
    for path in shard_files {
        let part = read_partition_file(path)?;
        if part.partition != partition
            || *partitions.get_or_insert(part.partitions) != part.partitions
        {
            return Err(malformed(
                path,
                &format!(
                    "holds partition {} of {}, not partition {partition} of {}",
                    part.partition,
                    part.partitions,
                    partitions.unwrap_or(part.partitions)
                ),
            ));
        }
        if offset + part.docs > u32::MAX as u64 {
            return Err(Error::InvalidArgument(
                "at most 2**32 - 1 documents per dedup run".into(),
            ));
        }
        let global = |records: Vec<(u64, u32)>| {
            records
                .into_iter()
                .map(move |(key, index)| (key, (offset + index as u64) as u32))
        };
        if near {
            band_records.extend(global(part.band));
        }
        if exact {
            exact_records.extend(global(part.exact));
        }
        offset += part.docs;
    }
    Ok(EdgeList {
        docs: offset,
        exact: bucket_edges(exact_records),
        band: bucket_edges(band_records),
    })
}

fn write_edges(w: &mut impl Write, edges: &[(u32, u32)]) -> std::io::Result<()> {
    write_encoded(w, edges, |&(a, b), buf| {
        buf.extend_from_slice(&a.to_le_bytes());
        buf.extend_from_slice(&b.to_le_bytes());
    })
}

pub fn write_edge_file(path: &Path, edges: &EdgeList) -> Result<()> {
    write_file(path, |w| {
        w.write_all(EDGE_MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        for n in [
            edges.docs,
            edges.exact.len() as u64,
            edges.band.len() as u64,
        ] {
            w.write_all(&n.to_le_bytes())?;
        }
        write_edges(w, &edges.exact)?;
        write_edges(w, &edges.band)
    })
}

pub fn read_edge_file(path: &Path) -> Result<EdgeList> {
    let bytes = read_checked(path, EDGE_MAGIC, EDGE_HEADER, "edge file")?;
    let (docs, exact) = (u64_at(&bytes, 8), u64_at(&bytes, 16));
    check_size(
        path,
        bytes.len(),
        EDGE_HEADER,
        &[(exact, 8), (u64_at(&bytes, 24), 8)],
    )?;
    let mut edges = bytes[EDGE_HEADER..]
        .chunks_exact(8)
        .map(|c| (u32_at(c, 0), u32_at(c, 4)));
    let exact: Vec<(u32, u32)> = edges.by_ref().take(exact as usize).collect();
    let band: Vec<(u32, u32)> = edges.collect();
    if exact
        .iter()
        .chain(&band)
        .any(|&(a, b)| a >= b || b as u64 >= docs)
    {
        return Err(malformed(
            path,
            "an edge out of order or beyond the documents",
        ));
    }
    Ok(EdgeList { docs, exact, band })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn tmpdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("alignkit-dedup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Shard 0: docs 0,1,2; shard 1: docs 3,4. 0 and 3 share band key 11 (near duplicates);
    /// 1 and 4 are exact duplicates (key 101); 2 is unique; doc 2 repeats one key in both bands.
    pub(crate) fn two_shards() -> (ShardBands, ShardBands) {
        let s0 = ShardBands {
            bands: 2,
            band_hashes: vec![10, 11, 20, 21, 30, 30],
            exact: vec![100, 101, 102],
            lengths: vec![5, 6, 7],
        };
        let s1 = ShardBands {
            bands: 2,
            band_hashes: vec![40, 11, 50, 51],
            exact: vec![103, 101],
            lengths: vec![9, 6],
        };
        (s0, s1)
    }

    pub(crate) fn shard_paths(dir: &Path, stem: &str, partitions: usize) -> Vec<PathBuf> {
        (0..partitions)
            .map(|p| dir.join(format!("{stem}.{p:05}.bkt")))
            .collect()
    }

    #[test]
    fn partition_files_roundtrip_and_cover_every_key_once() {
        let dir = tmpdir("partitions");
        let (s0, _) = two_shards();
        let paths = shard_paths(&dir, "s0", 3);
        write_shard_files(&s0, &paths, &dir.join("s0.len")).unwrap();
        let parts: Vec<ShardPartition> = paths
            .iter()
            .map(|p| read_partition_file(p).unwrap())
            .collect();
        assert_eq!(parts, split_partitions(&s0, 3).unwrap());
        let mut band: Vec<(u64, u32)> = parts.iter().flat_map(|p| p.band.clone()).collect();
        band.sort_unstable();
        assert_eq!(
            band,
            vec![(10, 0), (11, 0), (20, 1), (21, 1), (30, 2), (30, 2)]
        );
        assert_eq!(parts.iter().map(|p| p.exact.len()).sum::<usize>(), 3);
        assert!(parts.iter().all(|p| p.docs == 3 && p.partitions == 3));
        assert_eq!(
            read_lengths_file(&dir.join("s0.len")).unwrap(),
            vec![5, 6, 7]
        );
        assert_eq!(lengths_file_docs(&dir.join("s0.len")).unwrap(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let dir = tmpdir("bad-partitions");
        let (s0, _) = two_shards();
        assert!(split_partitions(&s0, 0).is_err());
        let broken = ShardBands {
            bands: 2,
            band_hashes: vec![1],
            ..s0.clone()
        };
        assert!(split_partitions(&broken, 2).is_err());
        let paths = shard_paths(&dir, "s0", 2);
        write_shard_files(&s0, &paths, &dir.join("s0.len")).unwrap();
        // Truncated, foreign and missing files.
        let bytes = std::fs::read(&paths[0]).unwrap();
        std::fs::write(&paths[0], &bytes[..bytes.len() - 3]).unwrap();
        assert!(read_partition_file(&paths[0]).is_err());
        std::fs::write(&paths[0], b"AKSP").unwrap();
        assert!(read_partition_file(&paths[0]).is_err());
        assert!(read_lengths_file(&paths[1]).is_err());
        assert!(lengths_file_docs(&dir.join("missing.len")).is_err());
        assert!(read_edge_file(&dir.join("s0.len")).is_err());
        // An index past the shard's documents.
        let mut part = split_partitions(&s0, 1).unwrap().remove(0);
        part.exact.push((7, 9));
        write_partition_file(&paths[1], &part).unwrap();
        assert!(read_partition_file(&paths[1]).is_err());
        // An edge file whose edge points past the corpus.
        let edges = EdgeList {
            docs: 2,
            exact: vec![(0, 5)],
            band: vec![],
        };
        write_edge_file(&dir.join("e.edges"), &edges).unwrap();
        assert!(read_edge_file(&dir.join("e.edges")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partition_edges_link_buckets_across_shards_in_global_ids() {
        let dir = tmpdir("edges");
        let (s0, s1) = two_shards();
        let partitions = 2;
        let p0 = shard_paths(&dir, "s0", partitions);
        let p1 = shard_paths(&dir, "s1", partitions);
        write_shard_files(&s0, &p0, &dir.join("s0.len")).unwrap();
        write_shard_files(&s1, &p1, &dir.join("s1.len")).unwrap();
        let mut all = EdgeList::default();
        for p in 0..partitions {
            let edges = partition_edges(&[p0[p].clone(), p1[p].clone()], p, true, true).unwrap();
            assert_eq!(edges.docs, 5);
            let path = dir.join(format!("{p}.edges"));
            write_edge_file(&path, &edges).unwrap();
            assert_eq!(read_edge_file(&path).unwrap(), edges);
            all.exact.extend(edges.exact);
            all.band.extend(edges.band);
        }
        assert_eq!((all.exact, all.band), (vec![(1, 4)], vec![(0, 3)]));
        // Kinds left out, and a file of another partition.
        let only_near = partition_edges(&[p0[0].clone(), p1[0].clone()], 0, false, true).unwrap();
        assert!(only_near.exact.is_empty());
        assert!(partition_edges(&[p0[0].clone(), p1[1].clone()], 0, true, true).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bucket_edges_point_to_the_smallest_member() {
        let records = vec![(7, 9), (7, 3), (5, 1), (7, 5), (7, 3), (5, 1), (6, 2)];
        assert_eq!(bucket_edges(records), vec![(3, 5), (3, 9)]);
    }
}
