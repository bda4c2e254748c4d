//! The multi-shard file flow: per-shard band files, band-bucket partition files, and clustering
//! over global document ids with one partition in memory at a time.
//!
//! * Band file (`*.bands`): `b"AKDB"`, u32 version, u32 bands, u64 docs, then `docs * bands` u64
//!   band hashes, `docs` u64 exact-text hashes and `docs` u64 text lengths, all little endian.
//! * Bucket file (`*.bkt`): `b"AKBK"`, u32 version, then 16-byte records `(key u64, gid u64)`.
//!   Band keys and exact keys go to separate file sets, partitioned by key.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::unionfind::{keep_mask, Keep, UnionFind};
use crate::{Error, Result};

const BAND_MAGIC: &[u8; 4] = b"AKDB";
const BUCKET_MAGIC: &[u8; 4] = b"AKBK";
const VERSION: u32 = 1;

/// Everything the clustering stage needs to know about one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BandFile {
    pub bands: usize,
    pub band_hashes: Vec<u64>,
    pub exact: Vec<u64>,
    pub lengths: Vec<u64>,
}

impl BandFile {
    pub fn docs(&self) -> usize {
        self.exact.len()
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.exact.len();
        if self.lengths.len() != n || self.band_hashes.len() != n * self.bands {
            return Err(Error::InvalidArgument(
                "band file columns have inconsistent lengths".into(),
            ));
        }
        Ok(())
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

fn write_u64s(w: &mut impl Write, values: &[u64]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(8 * 4096);
    for chunk in values.chunks(4096) {
        buf.clear();
        for v in chunk {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn read_u64s(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u64>> {
    let mut bytes = vec![0u8; n * 8];
    r.read_exact(&mut bytes)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect())
}

/// Write a band file (plain write; callers rename a temporary name into place).
pub fn write_band_file(path: &Path, file: &BandFile) -> Result<()> {
    file.validate()?;
    let err = io_err(path);
    let mut w = BufWriter::new(File::create(path).map_err(&err)?);
    w.write_all(BAND_MAGIC).map_err(&err)?;
    w.write_all(&VERSION.to_le_bytes()).map_err(&err)?;
    w.write_all(&(file.bands as u32).to_le_bytes())
        .map_err(&err)?;
    w.write_all(&(file.docs() as u64).to_le_bytes())
        .map_err(&err)?;
    write_u64s(&mut w, &file.band_hashes).map_err(&err)?;
    write_u64s(&mut w, &file.exact).map_err(&err)?;
    write_u64s(&mut w, &file.lengths).map_err(&err)?;
    w.into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?
        .sync_all()
        .map_err(&err)?;
    Ok(())
}

pub fn read_band_file(path: &Path) -> Result<BandFile> {
    let err = io_err(path);
    let mut r = BufReader::new(File::open(path).map_err(&err)?);
    let mut head = [0u8; 20];
    r.read_exact(&mut head)
        .map_err(|_| Error::Malformed(format!("{}: not a band file", path.display())))?;
    if &head[..4] != BAND_MAGIC || u32::from_le_bytes(head[4..8].try_into().unwrap()) != VERSION {
        return Err(Error::Malformed(format!(
            "{}: not a band file of version {VERSION}",
            path.display()
        )));
    }
    let bands = u32::from_le_bytes(head[8..12].try_into().unwrap()) as usize;
    let docs = u64::from_le_bytes(head[12..20].try_into().unwrap()) as usize;
    let expected_len = 20 + 8 * (docs * bands + 2 * docs) as u64;
    let actual_len = std::fs::metadata(path).map_err(&err)?.len();
    if actual_len != expected_len {
        return Err(Error::Malformed(format!(
            "{}: truncated band file ({actual_len} bytes, expected {expected_len})",
            path.display()
        )));
    }
    let band_hashes = read_u64s(&mut r, docs * bands).map_err(&err)?;
    let exact = read_u64s(&mut r, docs).map_err(&err)?;
    let lengths = read_u64s(&mut r, docs).map_err(&err)?;
    Ok(BandFile {
        bands,
        band_hashes,
        exact,
        lengths,
    })
}

/// Header-only read: `(bands, docs)`.
pub fn band_file_shape(path: &Path) -> Result<(usize, usize)> {
    let mut head = [0u8; 20];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(io_err(path))?;
    if &head[..4] != BAND_MAGIC {
        return Err(Error::Malformed(format!(
            "{}: not a band file",
            path.display()
        )));
    }
    Ok((
        u32::from_le_bytes(head[8..12].try_into().unwrap()) as usize,
        u64::from_le_bytes(head[12..20].try_into().unwrap()) as usize,
    ))
}

#[inline]
fn partition_of(key: u64, partitions: usize) -> usize {
    (((key >> 32) * partitions as u64) >> 32) as usize
}

/// Names of the bucket files of one kind (`"band"` or `"exact"`).
pub fn bucket_paths(dir: &Path, kind: &str, partitions: usize) -> Vec<PathBuf> {
    (0..partitions)
        .map(|p| dir.join(format!("{kind}-{p:05}.bkt")))
        .collect()
}

/// Scatter the keys of every band file into `partitions` band-bucket files and as many
/// exact-bucket files under `dir`, with global ids numbered shard after shard in the order given.
/// Returns the total number of documents.
pub fn write_bucket_files(band_files: &[PathBuf], dir: &Path, partitions: usize) -> Result<u64> {
    if partitions == 0 {
        return Err(Error::InvalidArgument(
            "partitions must be at least 1".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let open = |paths: &[PathBuf]| -> Result<Vec<BufWriter<File>>> {
        paths
            .iter()
            .map(|p| {
                let mut w = BufWriter::with_capacity(1 << 16, File::create(p).map_err(io_err(p))?);
                w.write_all(BUCKET_MAGIC)
                    .and_then(|_| w.write_all(&VERSION.to_le_bytes()))
                    .map_err(io_err(p))?;
                Ok(w)
            })
            .collect()
    };
    let band_paths = bucket_paths(dir, "band", partitions);
    let exact_paths = bucket_paths(dir, "exact", partitions);
    let mut band_w = open(&band_paths)?;
    let mut exact_w = open(&exact_paths)?;
    let mut gid = 0u64;
    let mut bands_seen: Option<usize> = None;
    for path in band_files {
        let file = read_band_file(path)?;
        if *bands_seen.get_or_insert(file.bands) != file.bands {
            return Err(Error::InvalidArgument(format!(
                "{}: band count differs from other shards",
                path.display()
            )));
        }
        for doc in 0..file.docs() {
            let g = gid + doc as u64;
            for &key in &file.band_hashes[doc * file.bands..(doc + 1) * file.bands] {
                let p = partition_of(key, partitions);
                let mut rec = [0u8; 16];
                rec[..8].copy_from_slice(&key.to_le_bytes());
                rec[8..].copy_from_slice(&g.to_le_bytes());
                band_w[p].write_all(&rec).map_err(io_err(&band_paths[p]))?;
            }
            let key = file.exact[doc];
            let p = partition_of(key, partitions);
            let mut rec = [0u8; 16];
            rec[..8].copy_from_slice(&key.to_le_bytes());
            rec[8..].copy_from_slice(&g.to_le_bytes());
            exact_w[p]
                .write_all(&rec)
                .map_err(io_err(&exact_paths[p]))?;
        }
        gid += file.docs() as u64;
    }
    for (w, p) in band_w
        .into_iter()
        .zip(&band_paths)
        .chain(exact_w.into_iter().zip(&exact_paths))
    {
        w.into_inner()
            .map_err(|e| Error::io(p, e.into_error()))?
            .sync_all()
            .map_err(io_err(p))?;
    }
    Ok(gid)
}

/// Records `(key, gid)` of one bucket file.
pub fn read_bucket_file(path: &Path) -> Result<Vec<(u64, u64)>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.len() < 8 || &bytes[..4] != BUCKET_MAGIC || (bytes.len() - 8) % 16 != 0 {
        return Err(Error::Malformed(format!(
            "{}: not a bucket file",
            path.display()
        )));
    }
    Ok(bytes[8..]
        .chunks_exact(16)
        .map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().unwrap()),
                u64::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
        .collect())
}

/// Union every bucket of the file into `uf` (each member with the bucket's smallest gid).
pub fn union_bucket_file(path: &Path, uf: &mut UnionFind) -> Result<()> {
    let mut records = read_bucket_file(path)?;
    records.sort_unstable();
    for run in records.chunk_by(|a, b| a.0 == b.0) {
        let first = run[0].1;
        for &(_, g) in &run[1..] {
            if g >= uf.len() as u64 || first >= uf.len() as u64 {
                return Err(Error::Malformed(format!(
                    "{}: id {g} out of range",
                    path.display()
                )));
            }
            uf.union(first as u32, g as u32);
        }
    }
    Ok(())
}

/// Result of clustering a whole multi-shard corpus.
#[derive(Clone, Debug)]
pub struct ClusterResult {
    pub keep: Vec<bool>,
    pub labels: Vec<u32>,
    pub docs: u64,
    pub exact_removed: u64,
    pub near_removed: u64,
    /// Clusters of two or more documents.
    pub duplicate_clusters: u64,
}

/// Exact buckets first (so exact removals are counted apart), then band buckets; one partition
/// in memory at a time. `lengths` (for `Keep::Longest`) come from the band files.
pub fn cluster_bucket_files(
    docs: u64,
    exact_files: &[PathBuf],
    band_bucket_files: &[PathBuf],
    keep: Keep,
    band_files: &[PathBuf],
) -> Result<ClusterResult> {
    if docs > u32::MAX as u64 {
        return Err(Error::InvalidArgument(
            "at most 2**32 - 1 documents per dedup run".into(),
        ));
    }
    let mut uf = UnionFind::new(docs as usize);
    for path in exact_files {
        union_bucket_file(path, &mut uf)?;
    }
    let after_exact = uf.components() as u64;
    for path in band_bucket_files {
        union_bucket_file(path, &mut uf)?;
    }
    let after_near = uf.components() as u64;
    let labels = uf.labels();
    let lengths = if keep == Keep::Longest {
        let mut all = Vec::with_capacity(docs as usize);
        for path in band_files {
            all.extend(read_band_file(path)?.lengths);
        }
        if all.len() as u64 != docs {
            return Err(Error::InvalidArgument(
                "band files do not add up to the bucketed documents".into(),
            ));
        }
        Some(all)
    } else {
        None
    };
    let keep_mask = keep_mask(&labels, keep, lengths.as_deref());
    let mut sizes = vec![0u32; labels.len()];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    let duplicate_clusters = sizes.iter().filter(|&&s| s >= 2).count() as u64;
    Ok(ClusterResult {
        keep: keep_mask,
        labels,
        docs,
        exact_removed: docs - after_exact,
        near_removed: after_exact - after_near,
        duplicate_clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("alignkit-dedup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn band_and_bucket_files_roundtrip_and_cluster() {
        let dir = tmpdir("roundtrip");
        // shard 0: docs 0,1,2 ; shard 1: docs 3,4
        // 0 and 3 share band 1 (near dup); 1 and 4 are exact dups; 2 unique.
        let s0 = BandFile {
            bands: 2,
            band_hashes: vec![10, 11, 20, 21, 30, 31],
            exact: vec![100, 101, 102],
            lengths: vec![5, 6, 7],
        };
        let s1 = BandFile {
            bands: 2,
            band_hashes: vec![40, 11, 50, 51],
            exact: vec![103, 101],
            lengths: vec![9, 6],
        };
        let p0 = dir.join("s0.bands");
        let p1 = dir.join("s1.bands");
        write_band_file(&p0, &s0).unwrap();
        write_band_file(&p1, &s1).unwrap();
        assert_eq!(read_band_file(&p0).unwrap(), s0);
        assert_eq!(band_file_shape(&p1).unwrap(), (2, 2));
        std::fs::write(dir.join("bad.bands"), b"AKDB\x01\0\0\0").unwrap();
        assert!(read_band_file(&dir.join("bad.bands")).is_err());

        let buckets = dir.join("buckets");
        let files = vec![p0, p1];
        let docs = write_bucket_files(&files, &buckets, 3).unwrap();
        assert_eq!(docs, 5);
        let band_paths = bucket_paths(&buckets, "band", 3);
        let exact_paths = bucket_paths(&buckets, "exact", 3);
        let total: usize = band_paths
            .iter()
            .map(|p| read_bucket_file(p).unwrap().len())
            .sum();
        assert_eq!(total, 10);
        let mut all: Vec<(u64, u64)> = band_paths
            .iter()
            .flat_map(|p| read_bucket_file(p).unwrap())
            .collect();
        all.sort_unstable();
        assert!(all.contains(&(11, 0)) && all.contains(&(11, 3)) && all.contains(&(51, 4)));

        let res =
            cluster_bucket_files(docs, &exact_paths, &band_paths, Keep::First, &files).unwrap();
        assert_eq!(res.labels, vec![0, 1, 2, 0, 1]);
        assert_eq!(res.keep, vec![true, true, true, false, false]);
        assert_eq!(
            (res.exact_removed, res.near_removed, res.duplicate_clusters),
            (1, 1, 2)
        );
        let res =
            cluster_bucket_files(docs, &exact_paths, &band_paths, Keep::Longest, &files).unwrap();
        assert_eq!(res.keep, vec![false, true, true, true, false]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
