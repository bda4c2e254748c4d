//! Varied-token masks of a (pseudo-winning, losing) pair: the tokens a minimal revision changed.
//!
//! The losing sequence is `a` and the pseudo-winning one `b` of the matcher (so the popular-item
//! rule looks at the pseudo-winning sequence): losing positions inside `replace`/`delete`
//! opcodes and pseudo-winning positions inside `replace`/`insert` opcodes are varied, except
//! tokens in the stop set (stop words carry little of what the revision changed).

use std::collections::HashSet;

use rayon::prelude::*;

use super::matcher::{Opcode, SequenceMatcher, Tag};

/// Per-token masks of one pair: `chosen[t]` for the pseudo-winning tokens, `rejected[t]` for
/// the losing ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VariedMasks {
    pub chosen: Vec<bool>,
    pub rejected: Vec<bool>,
}

/// Marks `ids[lo..hi]` in `mask`, skipping stop tokens.
fn mark(mask: &mut [bool], ids: &[u32], lo: usize, hi: usize, stop: &HashSet<u32>) {
    for t in lo..hi {
        mask[t] = !stop.contains(&ids[t]);
    }
}

fn masks_with(
    matcher: &mut SequenceMatcher,
    ops: &mut Vec<Opcode>,
    chosen: &[u32],
    rejected: &[u32],
    stop: &HashSet<u32>,
) -> VariedMasks {
    matcher.opcodes_into(rejected, chosen, ops);
    let mut out = VariedMasks {
        chosen: vec![false; chosen.len()],
        rejected: vec![false; rejected.len()],
    };
    for op in ops.iter() {
        if matches!(op.tag, Tag::Replace | Tag::Delete) {
            mark(&mut out.rejected, rejected, op.i1, op.i2, stop);
        }
        if matches!(op.tag, Tag::Replace | Tag::Insert) {
            mark(&mut out.chosen, chosen, op.j1, op.j2, stop);
        }
    }
    out
}

/// Varied-token masks of one (pseudo-winning `chosen`, losing `rejected`) pair.
pub fn varied_masks(chosen: &[u32], rejected: &[u32], stop: &HashSet<u32>) -> VariedMasks {
    masks_with(
        &mut SequenceMatcher::new(),
        &mut Vec::new(),
        chosen,
        rejected,
        stop,
    )
}

/// [`varied_masks`] over many pairs in parallel (rayon, one matcher per worker).
///
/// # Panics
/// If `chosen` and `rejected` differ in length (callers check; the binding raises).
pub fn varied_masks_batch<C, R>(
    chosen: &[C],
    rejected: &[R],
    stop: &HashSet<u32>,
) -> Vec<VariedMasks>
where
    C: AsRef<[u32]> + Sync,
    R: AsRef<[u32]> + Sync,
{
    assert_eq!(
        chosen.len(),
        rejected.len(),
        "one rejected sequence per chosen one"
    );
    chosen
        .par_iter()
        .zip(rejected.par_iter())
        .map_init(
            || (SequenceMatcher::new(), Vec::new()),
            |(matcher, ops), (c, r)| masks_with(matcher, ops, c.as_ref(), r.as_ref(), stop),
        )
        .collect()
}

/// [`varied_masks_batch`] with the pairing checked: one rejected sequence per pseudo-chosen one.
pub fn try_varied_masks_batch<C, R>(
    chosen: &[C],
    rejected: &[R],
    stop: &HashSet<u32>,
) -> crate::Result<Vec<VariedMasks>>
where
    C: AsRef<[u32]> + Sync,
    R: AsRef<[u32]> + Sync,
{
    if chosen.len() != rejected.len() {
        return Err(crate::Error::InvalidArgument(format!(
            "{} pseudo-chosen sequences but {} rejected ones",
            chosen.len(),
            rejected.len()
        )));
    }
    Ok(varied_masks_batch(chosen, rejected, stop))
}

/// Token ids of row `row` of argument `what`, each checked to be within `0..2**32`.
pub fn token_ids(values: &[i64], what: &str, row: usize) -> crate::Result<Vec<u32>> {
    values
        .iter()
        .enumerate()
        .map(|(t, &v)| {
            u32::try_from(v).map_err(|_| {
                crate::Error::InvalidArgument(format!(
                    "{what}[{row}][{t}] = {v} is not a token id (0 <= id < 2**32)"
                ))
            })
        })
        .collect()
}

/// The stop set; an id no tokenizer can produce (outside `0..2**32`) never matches a token,
/// so it is left out.
pub fn stop_token_set(ids: impl IntoIterator<Item = i64>) -> HashSet<u32> {
    ids.into_iter()
        .filter_map(|v| u32::try_from(v).ok())
        .collect()
}
