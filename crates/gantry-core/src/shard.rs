//! Shard routing bit-compatible with MyCat 1.6 `PartitionByMurmurHash`.

/// Picks a shard for a checkpoint name (KKMC) as MyCat would.
#[derive(Debug, Clone)]
pub struct ShardRouter {}
