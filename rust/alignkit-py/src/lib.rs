//! `alignkit._core`: thin pyo3 bindings over `alignkit-core`.
//!
//! Each file wraps the core module of the same name; `error` is the one place where core errors
//! become Python exceptions and `convert` holds the shared type conversions. Checks and decisions
//! live in the core: the bindings convert types, release the GIL and map errors.

mod bmc;
mod convert;
mod dedup;
mod diversity;
mod error;
mod html;
mod http;
mod knn;
mod langid;
mod prepare;
mod quality;
mod rouge;
mod warc;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    warc::register(m)?;
    http::register(m)?;
    html::register(m)?;
    prepare::register(m)?;
    langid::register(m)?;
    quality::register(m)?;
    dedup::register(m)?;
    diversity::register(m)?;
    knn::register(m)?;
    bmc::register(m)?;
    rouge::register(m)?;
    Ok(())
}
