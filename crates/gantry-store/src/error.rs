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

    #[error("MySQL error on shard {shard}: {source}")]
    Mysql {
        /// `host:port/database`, never the password.
        shard: String,
        #[source]
        source: mysql::Error,
    },

    #[error("{0}")]
    InvalidConfig(String),

    #[error("{}: unreadable stored value: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },

    #[error("invalid query: {0}")]
    InvalidQuery(String),

    #[error("the store was opened read-only")]
    ReadOnly,

    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the same write may succeed later unchanged: a server that is
    /// down, restarting or overloaded, or a lock conflict. A caller retries
    /// these with back-off; any other error is about the data or the setup.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Mysql { source, .. } => mysql_transient(source),
            StoreError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            StoreError::BulkRolledBack { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

fn mysql_transient(e: &mysql::Error) -> bool {
    use mysql::{DriverError, Error};
    match e {
        Error::IoError(_) | Error::CodecError(_) => true,
        Error::DriverError(d) => matches!(
            d,
            DriverError::ConnectTimeout | DriverError::CouldNotConnect(_) | DriverError::Timeout
        ),
        // Too many connections, lock wait timeout, deadlock, server gone
        // away or lost, shutdown in progress, connection killed.
        Error::MySqlError(m) => matches!(m.code, 1040 | 1205 | 1213 | 2006 | 2013 | 1053 | 1927),
        _ => e.is_connectivity_error(),
    }
}
