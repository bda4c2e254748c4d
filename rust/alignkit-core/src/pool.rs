//! Local rayon pools for batch calls.

use crate::{Error, Result};

/// A rayon pool of `workers` threads (all cores when `None`). Local pools, not the global one,
/// so a forked child never inherits a half-initialised global pool.
pub fn thread_pool(workers: Option<usize>) -> Result<rayon::ThreadPool> {
    if workers == Some(0) {
        return Err(Error::InvalidArgument("workers must be at least 1".into()));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers.unwrap_or(0))
        .build()
        .map_err(|e| Error::Stream(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_have_the_asked_size() {
        assert_eq!(thread_pool(Some(2)).unwrap().current_num_threads(), 2);
        assert!(thread_pool(None).unwrap().current_num_threads() >= 1);
        let err = thread_pool(Some(0)).unwrap_err().to_string();
        assert!(err.contains("workers must be at least 1"));
    }
}
