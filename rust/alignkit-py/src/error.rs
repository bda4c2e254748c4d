//! The one place where core errors become Python exceptions.

use alignkit_core::Error;
use pyo3::exceptions::{PyFileNotFoundError, PyNotImplementedError, PyOSError, PyPermissionError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(_core, MalformedInputError, PyValueError, "Input data that cannot be parsed.");

/// Wrapper so `?` converts core errors into `PyErr` inside bindings.
pub struct CoreError(pub Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(err): CoreError) -> PyErr {
        let msg = err.to_string();
        match err {
            Error::Io { source, .. } | Error::Stream(source) => match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                _ => PyOSError::new_err(msg),
            },
            Error::InvalidArgument(_) => PyValueError::new_err(msg),
            Error::Malformed(_) => MalformedInputError::new_err(msg),
            Error::Unsupported(_) => PyNotImplementedError::new_err(msg),
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MalformedInputError", py.get_type::<MalformedInputError>())?;
    Ok(())
}
