//! Near-duplicate selection over band hashes: argument checks, clustering or the greedy loop,
//! and the keep decision. The Python bindings call these and only convert arrays.

use super::lsh::{error_integrals, greedy_keep, LshIndex, LshParams, Verify};
use super::unionfind::{keep_mask, Keep};
use crate::{Error, Result};

/// How near-duplicates are decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearDupMode {
    /// Union-find clusters over all candidate pairs, one representative kept per cluster.
    Cluster,
    /// datasketch's "query, then insert if new" loop in input order (keeps the first).
    Greedy,
}

impl NearDupMode {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cluster" => Ok(NearDupMode::Cluster),
            "greedy" => Ok(NearDupMode::Greedy),
            other => Err(Error::InvalidArgument(format!(
                "mode must be 'cluster' or 'greedy', not {other:?}"
            ))),
        }
    }
}

/// Explicit `(bands, rows)` when both are given, else the datasketch choice for `threshold`.
pub fn resolve_params(
    num_perm: usize,
    threshold: f64,
    bands: Option<usize>,
    rows: Option<usize>,
) -> Result<LshParams> {
    match (bands, rows) {
        (Some(b), Some(r)) => LshParams::new(b, r, num_perm),
        (None, None) => LshParams::for_threshold(threshold, num_perm, 0.5, 0.5),
        _ => Err(Error::InvalidArgument(
            "give both bands and rows, or neither".into(),
        )),
    }
}

/// [`error_integrals`] with its arguments checked.
pub fn checked_error_integrals(threshold: f64, bands: usize, rows: usize) -> Result<(f64, f64)> {
    if bands == 0 || rows == 0 || !(0.0..=1.0).contains(&threshold) {
        return Err(Error::InvalidArgument(
            "need bands, rows >= 1 and 0 <= threshold <= 1".into(),
        ));
    }
    Ok(error_integrals(threshold, bands, rows))
}

/// Estimated Jaccard of two signatures of equal length.
pub fn checked_jaccard(a: &[u32], b: &[u32]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::InvalidArgument("signatures differ in length".into()));
    }
    Ok(super::minhash::jaccard(a, b))
}

/// A row-major `rows x cols` matrix borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
}

impl<'a, T> Rows<'a, T> {
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::InvalidArgument(format!(
                "{} values do not form a {rows} x {cols} matrix",
                data.len()
            )));
        }
        Ok(Rows { data, rows, cols })
    }
}

/// Signatures checked against the documents they verify: one row per document and, when
/// `num_perm` is known, that many columns.
pub fn verify_signatures<'a>(
    signatures: Rows<'a, u32>,
    docs: usize,
    num_perm: Option<usize>,
    threshold: f64,
) -> Result<Verify<'a>> {
    let width_ok = num_perm.is_none_or(|k| k == signatures.cols);
    if signatures.rows != docs || !width_ok {
        let cols = num_perm.map_or("num_perm".to_string(), |k| k.to_string());
        return Err(Error::InvalidArgument(format!(
            "signatures must have shape ({docs}, {cols}), got ({}, {})",
            signatures.rows, signatures.cols
        )));
    }
    Ok(Verify {
        signatures: signatures.data,
        num_perm: signatures.cols,
        threshold,
    })
}

/// Keep mask, and cluster labels in [`NearDupMode::Cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NearDupDecision {
    pub keep: Vec<bool>,
    /// Label of every document (the smallest id of its cluster); `None` in greedy mode.
    pub labels: Option<Vec<u32>>,
}

/// Near-duplicate decisions from band hashes (`n x bands`). In cluster mode each cluster keeps
/// its first or longest member (`lengths`, one per document); greedy mode keeps the first.
/// With `signatures`, candidate pairs must reach `threshold` estimated Jaccard. Runs on the
/// current rayon pool.
pub fn near_dup_keep(
    band_hashes: Rows<'_, u64>,
    mode: NearDupMode,
    keep: Keep,
    lengths: Option<&[u64]>,
    signatures: Option<Rows<'_, u32>>,
    threshold: f64,
) -> Result<NearDupDecision> {
    let (n, bands) = (band_hashes.rows, band_hashes.cols);
    if bands == 0 {
        return Err(Error::InvalidArgument(
            "band_hashes needs at least one column".into(),
        ));
    }
    if lengths.is_some_and(|l| l.len() != n) {
        return Err(Error::InvalidArgument(
            "lengths must have one value per document".into(),
        ));
    }
    if keep == Keep::Longest && lengths.is_none() {
        return Err(Error::InvalidArgument(
            "keep='longest' needs lengths".into(),
        ));
    }
    if signatures.is_some_and(|s| s.rows != n) {
        return Err(Error::InvalidArgument(
            "signatures must have one row per document".into(),
        ));
    }
    let verify = signatures.map(|s| Verify {
        signatures: s.data,
        num_perm: s.cols,
        threshold,
    });
    match mode {
        NearDupMode::Cluster => {
            let mut index = LshIndex::with_capacity(LshParams { bands, rows: 1 }, n);
            index.extend_band_hashes(band_hashes.data)?;
            index.seal();
            let labels = index.clusters(verify)?.labels();
            let keep = keep_mask(&labels, keep, lengths);
            Ok(NearDupDecision {
                keep,
                labels: Some(labels),
            })
        }
        NearDupMode::Greedy => {
            if keep != Keep::First {
                return Err(Error::InvalidArgument(
                    "mode='greedy' keeps the first document; use keep='first'".into(),
                ));
            }
            Ok(NearDupDecision {
                keep: greedy_keep(band_hashes.data, bands, verify),
                labels: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents 0 and 2 share band 0; 1 and 3 share nothing with anyone. (The index keeps
    /// only the high bits of a band hash, so the values differ there.)
    const H: u64 = 1 << 40;
    const HASHES: [u64; 8] = [H, 10 * H, 2 * H, 20 * H, H, 30 * H, 4 * H, 40 * H];

    fn hashes() -> Rows<'static, u64> {
        Rows::new(&HASHES, 4, 2).unwrap()
    }

    #[test]
    fn cluster_keeps_first_or_longest() {
        let first =
            near_dup_keep(hashes(), NearDupMode::Cluster, Keep::First, None, None, 0.5).unwrap();
        assert_eq!(first.keep, vec![true, true, false, true]);
        assert_eq!(first.labels, Some(vec![0, 1, 0, 3]));
        let lengths = [5, 1, 9, 1];
        let longest = near_dup_keep(
            hashes(),
            NearDupMode::Cluster,
            Keep::Longest,
            Some(&lengths),
            None,
            0.5,
        )
        .unwrap();
        assert_eq!(longest.keep, vec![false, true, true, true]);
    }

    #[test]
    fn greedy_keeps_first_and_has_no_labels() {
        let d = near_dup_keep(hashes(), NearDupMode::Greedy, Keep::First, None, None, 0.5).unwrap();
        assert_eq!(d.keep, vec![true, true, false, true]);
        assert_eq!(d.labels, None);
        let err = near_dup_keep(
            hashes(),
            NearDupMode::Greedy,
            Keep::Longest,
            Some(&[1; 4]),
            None,
            0.5,
        );
        assert!(err.unwrap_err().to_string().contains("keep='first'"));
    }

    #[test]
    fn verification_drops_dissimilar_candidates() {
        // Documents 0 and 2 share a band but their signatures differ in every slot.
        let sigs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        let sigs = Rows::new(&sigs, 4, 4).unwrap();
        let d = near_dup_keep(
            hashes(),
            NearDupMode::Cluster,
            Keep::First,
            None,
            Some(sigs),
            0.5,
        )
        .unwrap();
        assert_eq!(d.keep, vec![true; 4]);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let msg = |r: Result<NearDupDecision>| r.unwrap_err().to_string();
        let m = NearDupMode::Cluster;
        assert!(
            msg(near_dup_keep(hashes(), m, Keep::Longest, None, None, 0.5))
                .contains("needs lengths")
        );
        assert!(msg(near_dup_keep(
            hashes(),
            m,
            Keep::First,
            Some(&[1]),
            None,
            0.5
        ))
        .contains("one value per document"));
        let sigs = Rows::new(&[0u32; 4], 2, 2).unwrap();
        assert!(msg(near_dup_keep(
            hashes(),
            m,
            Keep::First,
            None,
            Some(sigs),
            0.5
        ))
        .contains("one row per document"));
        let empty = Rows::new(&[], 4, 0).unwrap();
        assert!(msg(near_dup_keep(empty, m, Keep::First, None, None, 0.5))
            .contains("at least one column"));
        assert!(NearDupMode::parse("fuzzy")
            .unwrap_err()
            .to_string()
            .contains("'cluster' or 'greedy'"));
        assert!(Rows::new(&[1u64, 2, 3], 2, 2).is_err());
    }

    #[test]
    fn params_and_rates_are_checked() {
        assert_eq!(
            resolve_params(128, 0.7, Some(16), Some(8)).unwrap(),
            LshParams { bands: 16, rows: 8 }
        );
        assert_eq!(
            resolve_params(128, 0.7, None, None).unwrap(),
            LshParams::for_threshold(0.7, 128, 0.5, 0.5).unwrap()
        );
        assert!(resolve_params(128, 0.7, Some(16), None)
            .unwrap_err()
            .to_string()
            .contains("both bands and rows"));
        assert!(checked_error_integrals(1.5, 4, 4).is_err());
        assert!(checked_error_integrals(0.5, 0, 4).is_err());
        assert_eq!(
            checked_error_integrals(0.5, 4, 4).unwrap(),
            error_integrals(0.5, 4, 4)
        );
        assert!(checked_jaccard(&[1, 2], &[1]).is_err());
        assert_eq!(checked_jaccard(&[1, 2], &[1, 3]).unwrap(), 0.5);
    }

    #[test]
    fn verify_signatures_checks_shape() {
        let data = [0u32; 6];
        let ok = verify_signatures(Rows::new(&data, 2, 3).unwrap(), 2, Some(3), 0.4).unwrap();
        assert_eq!((ok.num_perm, ok.threshold), (3, 0.4));
        let err = verify_signatures(Rows::new(&data, 3, 2).unwrap(), 2, Some(3), 0.4).unwrap_err();
        assert!(err.to_string().contains("shape (2, 3)"));
    }
}
