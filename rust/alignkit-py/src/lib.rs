//! `alignkit._core`: thin pyo3 bindings over `alignkit-core`.
//!
//! Files mirror the Python layer: `webr_*` back `alignkit.webr`, `bmc` backs `alignkit.bmc`.
//! Long calls release the GIL.

mod bmc;
mod convert;
mod error;
mod webr_dedup;
mod webr_diversity;
mod webr_html;
mod webr_prepare;
mod webr_quality;
mod webr_warc;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    webr_warc::register(m)?;
    webr_html::register(m)?;
    webr_prepare::register(m)?;
    webr_quality::register(m)?;
    webr_dedup::register(m)?;
    webr_diversity::register(m)?;
    bmc::register(m)?;
    Ok(())
}
