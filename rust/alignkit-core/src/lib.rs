//! alignkit-core: the pure-Rust engine behind `alignkit._core`.
//!
//! No Python here: everything is usable (and tested, benchmarked, fuzzed) from plain Rust.
//! The `alignkit-py` crate is a thin binding layer over these modules.

pub mod bmc;
pub mod charset;
pub mod dedup;
pub mod diversity;
pub mod error;
pub mod html;
pub mod http;
pub mod knn;
pub mod langid;
pub mod pool;
pub mod prepare;
pub mod quality;
pub mod rouge;
pub mod warc;

pub use error::{Error, Result};
