//! gantry's storage.
//!
//! [`Store`] is the engine-neutral interface the pipeline writes to and the
//! API reads from. Passes are placed on shards the way MyCat places them
//! (`PartitionByMurmurHash` on KKMC, see [`gantry_core::ShardRouter`]);
//! every query fans out to all shards and merges, so its answer equals the
//! answer a single database would give.
//!
//! [`SqliteStore`] is the embedded implementation: one SQLite file per shard.

mod error;
mod fanout;
mod filter;
pub mod merge;
pub mod mysql;
pub mod series;
pub mod sqlite;
#[cfg(test)]
mod testkit;
mod work;

use std::ops::Range;

use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::{CheckpointDirectory, Pass, Rejection, Warning};

pub use error::StoreError;
pub use series::SeriesStore;
pub use sqlite::{SqliteOptions, SqliteStore};

/// The largest page size a query accepts.
pub const MAX_PAGE_SIZE: u64 = 10_000;

/// How deep a paged query may reach (`page × size`). Merging shards costs
/// memory in proportion to it, so deeper reads must narrow their filters.
pub const MAX_PAGE_DEPTH: u64 = 1_000_000;

/// What one pipeline step hands to the store.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub passes: Vec<Pass>,
    pub warnings: Vec<Warning>,
    pub rejected: Vec<Rejection>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.passes.is_empty() && self.warnings.is_empty() && self.rejected.is_empty()
    }
}

/// What a [`Store::write`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Passes stored for the first time.
    pub inserted: u64,
    /// Passes whose id (GCXH) was already stored, or repeated in the batch: skipped.
    pub duplicates: u64,
    /// Warnings stored for the first time (a warning id already stored is skipped).
    pub warnings_inserted: u64,
    /// Rejected rows stored for the first time (the same source, line, kind
    /// and raw text already stored is skipped, so re-importing a file adds none).
    pub rejected: u64,
}

impl WriteSummary {
    pub fn add(&mut self, other: WriteSummary) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.warnings_inserted += other.warnings_inserted;
        self.rejected += other.rejected;
    }
}

/// Filters and paging for [`Store::query_passes`]. All filters are optional
/// and combine with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassQuery {
    /// KKMC, exact.
    pub checkpoint: Option<String>,
    /// HPHM: exact, or a prefix when it ends with `*` ("川A*").
    pub plate: Option<String>,
    /// HPZL, exact ("02").
    pub plate_type: Option<String>,
    /// PROVINCE, exact ("四川").
    pub province: Option<String>,
    /// Earliest pass time, inclusive.
    pub start: Option<NaiveDateTime>,
    /// Latest pass time, inclusive.
    pub end: Option<NaiveDateTime>,
    /// 1-based page number.
    pub page: u64,
    /// Rows per page, at most [`MAX_PAGE_SIZE`].
    pub size: u64,
}

impl Default for PassQuery {
    fn default() -> Self {
        PassQuery {
            checkpoint: None,
            plate: None,
            plate_type: None,
            province: None,
            start: None,
            end: None,
            page: 1,
            size: 20,
        }
    }
}

impl PassQuery {
    /// True when no filter is set (paging aside).
    pub fn is_unfiltered(&self) -> bool {
        self.checkpoint.is_none()
            && self.plate.as_deref().is_none_or(|p| p == "*")
            && self.plate_type.is_none()
            && self.province.is_none()
            && self.start.is_none()
            && self.end.is_none()
    }
}

/// Where [`Store::pass_chunk`] goes on from: the GCSJ and GCXH of the last
/// pass it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassCursor {
    pub time: NaiveDateTime,
    pub id: String,
}

impl From<&Pass> for PassCursor {
    fn from(pass: &Pass) -> Self {
        PassCursor {
            time: pass.time,
            id: pass.id.clone(),
        }
    }
}

/// Filters and paging for [`Store::warnings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningQuery {
    /// HPHM, exact.
    pub plate: Option<String>,
    /// 1-based page number.
    pub page: u64,
    pub size: u64,
}

impl Default for WarningQuery {
    fn default() -> Self {
        WarningQuery {
            plate: None,
            page: 1,
            size: 20,
        }
    }
}

/// One page of a longer answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many rows match in all, over every page.
    pub total: u64,
    /// 1-based.
    pub page: u64,
    pub size: u64,
}

/// A stored rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Storage order: ids increase as rows are stored.
    pub id: i64,
    pub source: String,
    /// 1-based line in `source`.
    pub line: u64,
    /// [`gantry_core::RejectReason::kind`] ("field_count", "bad_time" …).
    pub kind: String,
    /// The reason as a sentence.
    pub reason: String,
    pub raw: String,
}

/// Where passes, warnings, rollups, rejected rows and checkpoints live.
///
/// Implementations place passes on shards as MyCat would and answer every
/// query as a single database holding all rows would. Writes need `&mut`;
/// queries take `&self`. Object safe: callers hold a `Box<dyn Store>`.
pub trait Store: Send {
    /// Stores a batch. Passes are idempotent on their id (GCXH): a pass
    /// already stored is skipped and changes no count and no rollup;
    /// warnings are idempotent on their id. Rollups are updated for newly
    /// inserted passes only, in the same transaction as the rows (one
    /// transaction per shard).
    fn write(&mut self, batch: &Batch) -> Result<WriteSummary, StoreError>;

    /// Adds or replaces checkpoints (a global table, copied to every shard).
    fn upsert_checkpoints(&mut self, checkpoints: &CheckpointDirectory) -> Result<(), StoreError>;

    /// Prepares for a large import (for example by dropping secondary
    /// indexes). Idempotence still holds. No-op by default.
    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Ends a large import, restoring whatever [`Store::begin_bulk`] removed.
    /// Returns how many passes written since turned out to repeat a GCXH
    /// and were dropped: a store may find repeats only here, so these count
    /// as duplicates, not as inserted.
    fn end_bulk(&mut self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Makes written data durable and cheap to read for other processes.
    fn flush(&mut self) -> Result<(), StoreError>;

    /// Ends bulk mode if on, flushes and releases the store; any later call
    /// fails with [`StoreError::Closed`]. Closing twice is fine.
    fn close(&mut self) -> Result<(), StoreError>;

    /// Passes matching `query`, newest first (time desc, then id desc).
    fn query_passes(&self, query: &PassQuery) -> Result<Page<Pass>, StoreError>;

    /// Up to `limit` passes matching `query`'s filters (its paging is
    /// ignored), in `query_passes` order, strictly after `after`. Streams
    /// every match (an export) without a count or a deep offset per page.
    fn pass_chunk(
        &self,
        query: &PassQuery,
        after: Option<&PassCursor>,
        limit: u64,
    ) -> Result<Vec<Pass>, StoreError>;

    /// Warnings, by second sighting time desc, then id ascending.
    fn warnings(&self, query: &WarningQuery) -> Result<Page<Warning>, StoreError>;

    /// All stored passes.
    fn count_passes(&self) -> Result<u64, StoreError>;

    /// The `limit` busiest checkpoints: count desc, then name.
    fn top_checkpoints(&self, limit: usize) -> Result<Vec<(String, u64)>, StoreError>;

    /// Passes per hour of day on `date`, at one checkpoint or all.
    fn flow_by_hour(
        &self,
        date: NaiveDate,
        checkpoint: Option<&str>,
    ) -> Result<[u64; 24], StoreError>;

    /// Passes per province: count desc, then name.
    fn provinces(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Passes per vehicle type name: count desc, then name.
    fn vehicle_types(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Passes per minute, over all checkpoints, for the minutes whose start
    /// lies in `range`, ascending; minutes without passes are left out.
    fn passes_per_minute(
        &self,
        range: Range<NaiveDateTime>,
    ) -> Result<Vec<(NaiveDateTime, u64)>, StoreError>;

    /// Rejected rows per kind: count desc, then kind.
    fn rejected_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Rejected rows in storage order.
    fn rejected(&self, page: u64, size: u64) -> Result<Page<RejectedRow>, StoreError>;

    /// The stored checkpoints.
    fn checkpoints(&self) -> Result<CheckpointDirectory, StoreError>;

    /// Passes at or after `since`, in time order (then id), for a detector
    /// to rebuild its state after a restart.
    fn recent_passes(&self, since: NaiveDateTime) -> Result<Vec<Pass>, StoreError>;

    /// Passes stored on each shard, by shard index.
    fn shard_counts(&self) -> Result<Vec<u64>, StoreError>;

    /// Retention: drops the stored passes dated before `day`, keeping the
    /// rollups and warnings (statistics keep their history; counts of
    /// stored passes drop). Returns how many passes it dropped.
    fn drop_passes_before(&mut self, day: NaiveDate) -> Result<u64, StoreError>;
}

/// Checks paging parameters the same way for every engine.
pub fn check_page(page: u64, size: u64) -> Result<(), StoreError> {
    if page == 0 {
        return Err(StoreError::InvalidQuery("page numbers start at 1".into()));
    }
    if size > MAX_PAGE_SIZE {
        return Err(StoreError::InvalidQuery(format!(
            "page size {size} is more than {MAX_PAGE_SIZE}"
        )));
    }
    if page.saturating_mul(size) > MAX_PAGE_DEPTH {
        return Err(StoreError::InvalidQuery(format!(
            "page {page} of size {size} reaches past the first {MAX_PAGE_DEPTH} rows; narrow the filters"
        )));
    }
    Ok(())
}
