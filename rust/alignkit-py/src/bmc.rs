//! Bindings of `alignkit_core::bmc`: the difflib-exact sequence matcher and varied-token masks.
//! Sequences are lists of ints or 1-D integer numpy arrays; batch calls release the GIL and run
//! on a local rayon pool.

use std::cell::RefCell;

use alignkit_core::bmc::{stop_token_set, token_ids, try_varied_masks_batch, SequenceMatcher};
use alignkit_core::Error;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use crate::convert::run_pooled;
use crate::error::CoreError;

/// `(tag, i1, i2, j1, j2)` as difflib writes an opcode.
type OpcodeTuple = (&'static str, usize, usize, usize, usize);
/// Per-pair token masks: `(chosen_masks, rejected_masks)`.
type MaskLists = (Vec<Vec<bool>>, Vec<Vec<bool>>);

/// Integer ids from a list/tuple of ints or a 1-D integer numpy array.
fn int_seq(obj: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    macro_rules! try_array {
        ($($t:ty),*) => {$(
            if let Ok(arr) = obj.extract::<PyReadonlyArray1<'_, $t>>() {
                return Ok(arr.as_array().iter().map(|&v| v as i64).collect());
            }
        )*};
    }
    try_array!(i64, i32, u32, u16, i16, u8, i8);
    if let Ok(arr) = obj.extract::<PyReadonlyArray1<'_, u64>>() {
        return arr
            .as_array()
            .iter()
            .map(|&v| {
                i64::try_from(v).map_err(|_| {
                    CoreError(Error::InvalidArgument(format!(
                        "id {v} does not fit in int64"
                    )))
                    .into()
                })
            })
            .collect();
    }
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(CoreError(Error::InvalidArgument(
            "expected a sequence of ints, got a string".into(),
        ))
        .into());
    }
    obj.extract::<Vec<i64>>()
}

fn token_rows(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Vec<u32>>> {
    obj.try_iter()?
        .enumerate()
        .map(|(row, item)| Ok(token_ids(&int_seq(&item?)?, what, row).map_err(CoreError)?))
        .collect()
}

thread_local! {
    /// One matcher per thread, so single calls reuse its tables instead of allocating them.
    static MATCHER: RefCell<SequenceMatcher> = RefCell::new(SequenceMatcher::new());
}

/// `difflib.SequenceMatcher(None, a, b).get_opcodes()` for integer sequences.
#[pyfunction]
fn sequence_opcodes(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Vec<OpcodeTuple>> {
    let (a, b) = (int_seq(a)?, int_seq(b)?);
    let ops = py.detach(|| MATCHER.with_borrow_mut(|m| m.opcodes(&a, &b)));
    Ok(ops
        .iter()
        .map(|o| (o.tag.as_str(), o.i1, o.i2, o.j1, o.j2))
        .collect())
}

/// Varied-token masks of (pseudo-winning, losing) pairs: `(chosen_masks, rejected_masks)`.
#[pyfunction]
#[pyo3(signature = (pseudo_chosen_ids, rejected_ids, stop_token_ids=None, *, workers=None))]
fn varied_token_masks(
    py: Python<'_>,
    pseudo_chosen_ids: &Bound<'_, PyAny>,
    rejected_ids: &Bound<'_, PyAny>,
    stop_token_ids: Option<&Bound<'_, PyAny>>,
    workers: Option<usize>,
) -> PyResult<MaskLists> {
    let chosen = token_rows(pseudo_chosen_ids, "pseudo_chosen_ids")?;
    let rejected = token_rows(rejected_ids, "rejected_ids")?;
    let stop_ids: Vec<i64> = match stop_token_ids {
        None => Vec::new(),
        Some(obj) => obj
            .try_iter()?
            .map(|item| item?.extract())
            .collect::<PyResult<_>>()?,
    };
    let stop = stop_token_set(stop_ids);
    let masks = run_pooled(py, workers, || {
        try_varied_masks_batch(&chosen, &rejected, &stop)
    })?;
    Ok(masks.into_iter().map(|m| (m.chosen, m.rejected)).unzip())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sequence_opcodes, m)?)?;
    m.add_function(wrap_pyfunction!(varied_token_masks, m)?)?;
    Ok(())
}
