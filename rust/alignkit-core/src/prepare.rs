//! Shard preparation: WARC/WET shard to text documents.
