//! The MySQL/MariaDB store: one database per shard, on as many servers as
//! the user runs, placed in MyCat dataNode order.
//!
//! A pass goes to the shard MyCat's `PartitionByMurmurHash` picks for its
//! KKMC (the router the SQLite store uses too), so a MyCat deployment over
//! the same databases finds every row where it would have put it. The
//! schema (docs/MYSQL.md, `schema.sql`) is created when missing. Writes are
//! multi-row `INSERT IGNORE` statements, idempotent on GCXH, with the
//! rollups in the same transaction; reads fan out and merge exactly like
//! the SQLite store's, through [`crate::fanout`].

mod shard;

use std::time::Duration;

use chrono::NaiveDate;
use gantry_core::{CheckpointDirectory, ShardRouter};

use self::shard::MysqlShard;
use crate::fanout::Shards;
use crate::work::{split, ShardWork};
use crate::{Batch, Store, StoreError, WriteSummary};

/// Tuning of the MySQL connections and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlOptions {
    /// Connections per shard, at most.
    pub pool_size: usize,
    /// Rows per multi-row INSERT. 12 columns × 1000 rows stays far below
    /// the 65,535 placeholders a prepared statement may have.
    pub rows_per_statement: usize,
    /// How often a transaction that hit a deadlock or a lock wait timeout
    /// is tried again before the error reaches the caller.
    pub lock_retries: u32,
    /// Days ahead of today for which day partitions are created; rows
    /// dated later (clock errors) wait in the catch-all partition.
    pub future_days: i64,
    /// Connect, read and write timeout of every connection.
    pub timeout: Duration,
    /// Passes go in by `LOAD DATA LOCAL INFILE` from memory (multi-row
    /// INSERTs where the server refuses it, or when this is off).
    pub load_data: bool,
}

impl Default for MysqlOptions {
    fn default() -> Self {
        MysqlOptions {
            pool_size: 4,
            rows_per_statement: 1000,
            lock_retries: 5,
            future_days: 2,
            timeout: Duration::from_secs(30),
            load_data: true,
        }
    }
}

/// The MySQL store. See the [module docs](self).
pub struct MysqlStore {
    shards: Vec<MysqlShard>,
    router: ShardRouter,
    closed: bool,
    /// Between `begin_bulk` and `end_bulk`: this process is the shards'
    /// only writer.
    bulk: bool,
}

/// During a bulk load, each shard's part of a batch goes in as this many
/// transactions at once. One `LOAD DATA` uses one core; the largest shard's
/// would leave the other idle once the smaller shards are done. Split by
/// GCXH, so that a GCXH repeated within the batch stays in one of them.
/// (Outside a bulk load, concurrent workers already write each shard side
/// by side; more transactions there only wait on each other's rollups.)
const BULK_TRANSACTIONS_PER_SHARD: usize = 2;

/// A shard's part smaller than this is not worth a second transaction.
const BULK_SPLIT_MIN_PASSES: usize = 4096;

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.shards.iter().map(|s| s.name()).collect();
        f.debug_struct("MysqlStore")
            .field("shards", &names)
            .field("closed", &self.closed)
            .finish()
    }
}

impl MysqlStore {
    /// Connects to one database per DSN (`mysql://user:password@host:port/db`),
    /// in MyCat dataNode order, creating databases and tables if missing.
    /// A DSN without a database uses `gantry_<index>`. A database set up as
    /// another shard, or for another shard count, is an error: its rows
    /// would be on the wrong shard.
    pub fn open(dsns: &[String], options: MysqlOptions) -> Result<Self, StoreError> {
        if dsns.is_empty() {
            return Err(StoreError::NoShards);
        }
        // Two shards in one database would each hold the other's rows.
        let mut names = Vec::with_capacity(dsns.len());
        for (i, dsn) in dsns.iter().enumerate() {
            let (_, _, name) = MysqlShard::locate(dsn, i)?;
            if let Some(j) = names.iter().position(|n| *n == name) {
                return Err(StoreError::InvalidConfig(format!(
                    "shards {j} and {i} are the same database {name}"
                )));
            }
            names.push(name);
        }
        let shards = dsns
            .iter()
            .enumerate()
            .map(|(i, dsn)| MysqlShard::open(dsn, i, dsns.len(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MysqlStore {
            router: ShardRouter::mycat(shards.len()),
            shards,
            closed: false,
            bulk: false,
        })
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shards' names (`host:port/database`), by shard index.
    pub fn shard_names(&self) -> Vec<String> {
        self.shards.iter().map(|s| s.name().to_owned()).collect()
    }

    fn live(&self) -> Result<&[MysqlShard], StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        Ok(&self.shards)
    }

    fn read(&self) -> Result<Shards<'_, MysqlShard>, StoreError> {
        Ok(Shards(self.live()?))
    }
}

/// `work` as `parts` pieces (one when it is small), its passes split by a
/// hash of the GCXH; warnings and rejected rows stay in the first.
fn divide(work: ShardWork<'_>, parts: usize) -> Vec<ShardWork<'_>> {
    if parts <= 1 || work.passes.len() < BULK_SPLIT_MIN_PASSES {
        return vec![work];
    }
    let mut pieces: Vec<ShardWork<'_>> = (0..parts).map(|_| ShardWork::default()).collect();
    for &pass in &work.passes {
        let piece = xxhash_rust::xxh3::xxh3_64(pass.id.as_bytes()) % parts as u64;
        pieces[piece as usize].passes.push(pass);
    }
    pieces[0].warnings = work.warnings;
    pieces[0].rejected = work.rejected;
    pieces
}

/// Runs `f` on every shard, one thread per shard, results in shard order.
fn on_every_shard<T: Send>(
    shards: &[MysqlShard],
    f: impl Fn(&MysqlShard) -> Result<T, StoreError> + Sync,
) -> Vec<Result<T, StoreError>> {
    if shards.len() <= 1 {
        return shards.iter().map(f).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = shards.iter().map(|s| scope.spawn(move || f(s))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

impl Store for MysqlStore {
    /// Each shard commits its part on its own: when one shard fails, the
    /// others may have stored theirs. Writing the batch again is safe
    /// (idempotent on GCXH and warning id), which is what a caller does.
    fn write(&mut self, batch: &Batch) -> Result<WriteSummary, StoreError> {
        let shards = self.live()?;
        let parts = if self.bulk {
            BULK_TRANSACTIONS_PER_SHARD
        } else {
            1
        };
        let work: Vec<(&MysqlShard, ShardWork<'_>)> = shards
            .iter()
            .zip(split(batch, &self.router))
            .flat_map(|(shard, w)| divide(w, parts).into_iter().map(move |w| (shard, w)))
            .filter(|(_, w)| !w.is_empty())
            .collect();
        let results = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .iter()
                .map(|(shard, w)| scope.spawn(move || shard.write(w)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Vec<_>>()
        });
        let mut summary = WriteSummary::default();
        for r in results {
            summary.add(r?);
        }
        Ok(summary)
    }

    fn upsert_checkpoints(&mut self, checkpoints: &CheckpointDirectory) -> Result<(), StoreError> {
        let shards = self.live()?;
        on_every_shard(shards, |s| s.upsert_checkpoints(checkpoints.iter()))
            .into_iter()
            .collect()
    }

    /// See [`MysqlShard::begin_bulk`]: a bulk load into empty shards skips
    /// the lookup of GCXHs it has not stored itself.
    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        on_every_shard(self.live()?, MysqlShard::begin_bulk)
            .into_iter()
            .collect::<Result<(), _>>()?;
        self.bulk = true;
        Ok(())
    }

    /// Every write committed; nothing was dropped to find later.
    fn end_bulk(&mut self) -> Result<u64, StoreError> {
        self.bulk = false;
        for shard in self.live()? {
            shard.end_bulk();
        }
        Ok(0)
    }

    /// Every write commits, so there is nothing to flush.
    fn flush(&mut self) -> Result<(), StoreError> {
        self.live().map(drop)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.closed = true;
        Ok(())
    }

    /// Whole day partitions at a time: no row-by-row delete, so ingest does
    /// not stall.
    fn drop_passes_before(&mut self, day: NaiveDate) -> Result<u64, StoreError> {
        let mut dropped = 0;
        for shard in self.live()? {
            dropped += shard.drop_days_before(day)?;
        }
        Ok(dropped)
    }

    crate::fanout::fan_out_reads!();
}

#[cfg(test)]
mod tests;
