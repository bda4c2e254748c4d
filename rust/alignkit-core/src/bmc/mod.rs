//! BMC (bridging and modeling correlations) support: the difflib-exact sequence matcher and
//! the varied-token masks that decide which tokens get confidence-based weights.

pub mod matcher;
pub mod varied;

#[cfg(test)]
mod tests;

pub use matcher::{opcodes, Match, Opcode, SequenceMatcher, Tag};
pub use varied::{
    stop_token_set, token_ids, try_varied_masks_batch, varied_masks, varied_masks_batch,
    VariedMasks,
};
