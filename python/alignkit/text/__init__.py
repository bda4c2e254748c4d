"""Text utilities shared by every method: language identification and quality filters
(`alignkit.text.quality`) and in-memory exact and near-duplicate detection
(`alignkit.text.dedup`), both running in the Rust core."""
