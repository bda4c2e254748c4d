//! The multi-shard file flow, step 3 (the reduce): clusters from the union edges alone.
//!
//! Only documents that appear in an edge (those with a duplicate) enter the union-find, so memory
//! grows with the duplicates, not with the corpus; every other document is a cluster of its own
//! and kept. The nodes are the sorted global ids of those documents and the union-find runs over
//! their positions, whose order is the ids' order: the root of a cluster is still its smallest
//! id, and the decisions are those of a union-find over every document.

use std::path::{Path, PathBuf};

use super::bucket::{lengths_file_docs, read_edge_file, read_lengths_file};
use super::unionfind::{keep_mask, Keep, UnionFind};
use crate::{Error, Result};

/// Clusters of a whole multi-shard corpus, stored for the documents that have a duplicate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeClusters {
    /// Documents of each shard, in plan order.
    pub shard_docs: Vec<u64>,
    /// Sorted global ids of the documents in a duplicate cluster.
    pub nodes: Vec<u32>,
    /// Per node: its cluster's smallest global id.
    pub labels: Vec<u32>,
    /// Per node: whether it is its cluster's kept member.
    pub keep: Vec<bool>,
    pub docs: u64,
    pub exact_removed: u64,
    pub near_removed: u64,
    /// Clusters of two or more documents.
    pub duplicate_clusters: u64,
}

impl EdgeClusters {
    /// Global ids `[start, end)` of shard `shard`.
    pub fn shard_range(&self, shard: usize) -> Result<(u64, u64)> {
        if shard >= self.shard_docs.len() {
            return Err(Error::InvalidArgument(format!(
                "shard {shard} out of range (there are {})",
                self.shard_docs.len()
            )));
        }
        let start: u64 = self.shard_docs[..shard].iter().sum();
        Ok((start, start + self.shard_docs[shard]))
    }

    /// The keep mask of one shard's documents.
    pub fn shard_keep_mask(&self, shard: usize) -> Result<Vec<bool>> {
        let (start, end) = self.shard_range(shard)?;
        let mut mask = vec![true; (end - start) as usize];
        let first = self.nodes.partition_point(|&g| (g as u64) < start);
        for (&g, &kept) in self.nodes[first..].iter().zip(&self.keep[first..]) {
            if g as u64 >= end {
                break;
            }
            mask[(g as u64 - start) as usize] = kept;
        }
        Ok(mask)
    }
}

fn changed(path: &Path) -> Error {
    Error::Malformed(format!("{}: changed while it was read", path.display()))
}

/// Union one kind of edge of every file; returns how many unions joined two clusters.
fn union_edges(
    edge_files: &[PathBuf],
    nodes: &[u32],
    uf: &mut UnionFind,
    exact: bool,
) -> Result<u64> {
    let mut joined = 0u64;
    for path in edge_files {
        let file = read_edge_file(path)?;
        for &(a, b) in if exact { &file.exact } else { &file.band } {
            let ia = nodes.binary_search(&a).map_err(|_| changed(path))?;
            let ib = nodes.binary_search(&b).map_err(|_| changed(path))?;
            joined += uf.union(ia as u32, ib as u32) as u64;
        }
    }
    Ok(joined)
}

/// Lengths of the nodes, read one shard's lengths file at a time.
fn node_lengths(nodes: &[u32], lengths_files: &[PathBuf], shard_docs: &[u64]) -> Result<Vec<u64>> {
    let mut out = Vec::with_capacity(nodes.len());
    let mut start = 0u64;
    for (path, &docs) in lengths_files.iter().zip(shard_docs) {
        let end = start + docs;
        let first = out.len();
        let count = nodes[first..].partition_point(|&g| (g as u64) < end);
        if count > 0 {
            let lengths = read_lengths_file(path)?;
            if lengths.len() as u64 != docs {
                return Err(changed(path));
            }
            out.extend(
                nodes[first..first + count]
                    .iter()
                    .map(|&g| lengths[(g as u64 - start) as usize]),
            );
        }
        start = end;
    }
    if out.len() != nodes.len() {
        return Err(Error::Malformed(
            "an edge names a document beyond the shards' lengths files".into(),
        ));
    }
    Ok(out)
}

/// Step 3: clusters from the edge files of every partition and the lengths files of every shard
/// (plan order; their headers give the documents per shard, their contents the lengths that
/// `Keep::Longest` compares). Exact edges are united first, so the documents they remove are
/// counted apart from the near duplicates, as when the exact keys are deduplicated first.
pub fn cluster_edge_files(
    edge_files: &[PathBuf],
    lengths_files: &[PathBuf],
    keep: Keep,
) -> Result<EdgeClusters> {
    let shard_docs = lengths_files
        .iter()
        .map(|p| lengths_file_docs(p))
        .collect::<Result<Vec<u64>>>()?;
    let docs: u64 = shard_docs.iter().sum();
    if docs > u32::MAX as u64 {
        return Err(Error::InvalidArgument(
            "at most 2**32 - 1 documents per dedup run".into(),
        ));
    }
    let mut nodes: Vec<u32> = Vec::new();
    for path in edge_files {
        let file = read_edge_file(path)?;
        if file.docs != docs {
            return Err(Error::Malformed(format!(
                "{}: made for {} documents, the shards hold {docs}",
                path.display(),
                file.docs
            )));
        }
        nodes.extend(
            file.exact
                .iter()
                .chain(&file.band)
                .flat_map(|&(a, b)| [a, b]),
        );
        nodes.sort_unstable();
        nodes.dedup();
    }
    let mut uf = UnionFind::new(nodes.len());
    let exact_removed = union_edges(edge_files, &nodes, &mut uf, true)?;
    let near_removed = union_edges(edge_files, &nodes, &mut uf, false)?;
    // Roots as node positions: the smallest position of a cluster is its smallest id.
    let roots = uf.labels();
    let lengths = match keep {
        Keep::Longest => Some(node_lengths(&nodes, lengths_files, &shard_docs)?),
        Keep::First => None,
    };
    let keep = keep_mask(&roots, keep, lengths.as_deref());
    let duplicate_clusters = roots
        .iter()
        .enumerate()
        .filter(|&(i, &r)| i as u32 == r)
        .count() as u64;
    let labels = roots.iter().map(|&r| nodes[r as usize]).collect();
    Ok(EdgeClusters {
        shard_docs,
        nodes,
        labels,
        keep,
        docs,
        exact_removed,
        near_removed,
        duplicate_clusters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::bucket::tests::{shard_paths, tmpdir, two_shards};
    use crate::dedup::bucket::{partition_edges, write_edge_file, write_shard_files, ShardBands};

    /// Steps 1 and 2 over `shards` into `dir`: (edge files, lengths files).
    fn edge_and_length_files(
        dir: &Path,
        shards: &[ShardBands],
        partitions: usize,
    ) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut lengths = Vec::new();
        let mut parts = Vec::new();
        for (k, shard) in shards.iter().enumerate() {
            let stem = format!("s{k}");
            let paths = shard_paths(dir, &stem, partitions);
            lengths.push(dir.join(format!("{stem}.len")));
            write_shard_files(shard, &paths, lengths.last().unwrap()).unwrap();
            parts.push(paths);
        }
        let edges = (0..partitions)
            .map(|p| {
                let files: Vec<PathBuf> = parts.iter().map(|paths| paths[p].clone()).collect();
                let path = dir.join(format!("p{p}.edges"));
                write_edge_file(&path, &partition_edges(&files, p, true, true).unwrap()).unwrap();
                path
            })
            .collect();
        (edges, lengths)
    }

    #[test]
    fn clusters_keep_rules_and_counts_from_edges() {
        let dir = tmpdir("cluster");
        let (s0, s1) = two_shards();
        let (edges, lengths) = edge_and_length_files(&dir, &[s0, s1], 3);
        let res = cluster_edge_files(&edges, &lengths, Keep::First).unwrap();
        assert_eq!(res.shard_docs, vec![3, 2]);
        assert_eq!(
            (res.nodes.clone(), res.labels.clone()),
            (vec![0, 1, 3, 4], vec![0, 1, 0, 1])
        );
        assert_eq!(res.keep, vec![true, true, false, false]);
        assert_eq!(res.shard_keep_mask(0).unwrap(), vec![true, true, true]);
        assert_eq!(res.shard_keep_mask(1).unwrap(), vec![false, false]);
        assert!(res.shard_keep_mask(2).is_err());
        assert_eq!(
            (
                res.docs,
                res.exact_removed,
                res.near_removed,
                res.duplicate_clusters
            ),
            (5, 1, 1, 2)
        );
        // Longest: doc 3 (9) beats doc 0 (5); docs 1 and 4 tie at 6, the lower id stays.
        let res = cluster_edge_files(&edges, &lengths, Keep::Longest).unwrap();
        assert_eq!(res.shard_keep_mask(0).unwrap(), vec![false, true, true]);
        assert_eq!(res.shard_keep_mask(1).unwrap(), vec![true, false]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decisions_match_a_union_find_over_every_document() {
        // Random shards whose keys collide often; both keep rules, several partition counts.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let bands = 3;
        let shards: Vec<ShardBands> = (0..4)
            .map(|k| {
                let docs = 5 + k * 7;
                ShardBands {
                    bands,
                    // Keys spread over the whole u64 range so every partition gets some.
                    band_hashes: (0..docs * bands)
                        .map(|_| next(40).wrapping_mul(0x9e37_79b9_7f4a_7c15))
                        .collect(),
                    exact: (0..docs)
                        .map(|_| next(30).wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
                        .collect(),
                    lengths: (0..docs).map(|_| next(5)).collect(),
                }
            })
            .collect();
        let docs: usize = shards.iter().map(|s| s.docs()).sum();
        // The reference: every document in one union-find, exact keys first.
        let mut uf = UnionFind::new(docs);
        let mut by_key = std::collections::HashMap::<(bool, u64), u32>::new();
        let (mut exact_joined, mut near_joined) = (0, 0);
        for exact_pass in [true, false] {
            let mut gid = 0u32;
            for shard in &shards {
                for doc in 0..shard.docs() {
                    let keys: Vec<u64> = if exact_pass {
                        vec![shard.exact[doc]]
                    } else {
                        shard.band_hashes[doc * bands..(doc + 1) * bands].to_vec()
                    };
                    for key in keys {
                        let first = *by_key.entry((exact_pass, key)).or_insert(gid);
                        let joined = uf.union(first, gid) as u64;
                        if exact_pass {
                            exact_joined += joined;
                        } else {
                            near_joined += joined;
                        }
                    }
                    gid += 1;
                }
            }
        }
        let labels = uf.labels();
        let all_lengths: Vec<u64> = shards.iter().flat_map(|s| s.lengths.clone()).collect();
        for keep in [Keep::First, Keep::Longest] {
            let expected = keep_mask(&labels, keep, Some(&all_lengths));
            for partitions in [1, 2, 5] {
                let dir = tmpdir(&format!("cluster-ref-{partitions}"));
                let (edges, lengths) = edge_and_length_files(&dir, &shards, partitions);
                let res = cluster_edge_files(&edges, &lengths, keep).unwrap();
                let mask: Vec<bool> = (0..shards.len())
                    .flat_map(|k| res.shard_keep_mask(k).unwrap())
                    .collect();
                assert_eq!(mask, expected, "{keep:?} with {partitions} partitions");
                assert_eq!(
                    (res.exact_removed, res.near_removed),
                    (exact_joined, near_joined)
                );
                for (&g, &l) in res.nodes.iter().zip(&res.labels) {
                    assert_eq!(l, labels[g as usize]);
                }
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    #[test]
    fn mismatched_or_missing_files_are_errors() {
        let dir = tmpdir("cluster-bad");
        let (s0, s1) = two_shards();
        let (edges, lengths) = edge_and_length_files(&dir, &[s0, s1], 2);
        // The edges were made for 5 documents; one shard alone holds 3.
        assert!(cluster_edge_files(&edges, &lengths[..1], Keep::First).is_err());
        assert!(cluster_edge_files(&edges, &[dir.join("nope.len")], Keep::First).is_err());
        let none = cluster_edge_files(&[], &lengths, Keep::First).unwrap();
        assert_eq!((none.docs, none.nodes.len()), (5, 0));
        assert_eq!(none.shard_keep_mask(1).unwrap(), vec![true, true]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
