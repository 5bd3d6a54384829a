use std::path::PathBuf;

/// Why a store operation failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the shard count must be at least 1")]
    NoShards,

    #[error("data dir {} holds {found} shards, {asked} were asked for", dir.display())]
    ShardCountMismatch {
        dir: PathBuf,
        found: usize,
        asked: usize,
    },

    #[error("cannot use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: {message}", path.display())]
    BadMetadata { path: PathBuf, message: String },

    #[error("SQLite error on {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "{source}; the {passes} passes written to {} in bulk mode since its last commit \
         were rolled back too: import them again",
        path.display()
    )]
    BulkRolledBack {
        path: PathBuf,
        passes: u64,
        #[source]
        source: Box<StoreError>,
    },

    #[error("{}: unreadable stored value: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },

    #[error("invalid query: {0}")]
    InvalidQuery(String),

    #[error("the store was opened read-only")]
    ReadOnly,

    #[error("the store is closed")]
    Closed,
}
