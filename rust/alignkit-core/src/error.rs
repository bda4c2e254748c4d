//! The one error type of the core. `alignkit-py` maps each variant to a Python exception in one place.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An I/O error without a path (in-memory streams, pipes).
    #[error("I/O error: {0}")]
    Stream(#[from] std::io::Error),
    /// A caller passed an option or value that cannot work.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Input data that cannot be parsed at all (a file that is not WARC, say).
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A requested feature that this build does not provide yet.
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
