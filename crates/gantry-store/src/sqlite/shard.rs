//! One shard: one SQLite file and one connection.

use std::path::{Path, PathBuf};

use std::ops::Range;

use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::geo::GeoPoint;
use gantry_core::rollup::RollupDelta;
use gantry_core::{Checkpoint, Derived, Pass, Rule, Sighting, Warning};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::codec::{date_text, parse_time, time_text, write_time};
use super::SqliteOptions;
use crate::fanout::ShardRead;
use crate::work::ShardWork;
use crate::{RejectedRow, StoreError, WriteSummary};

/// A pass filter with SQLite values.
pub(crate) type Filter = crate::filter::Filter<Value>;

/// The DDL, run on every read-write open (every statement is idempotent).
pub(crate) const SCHEMA: &str = include_str!("schema.sql");

/// The secondary indexes of `passes` that bulk mode drops. All three: even
/// for time-ordered input, keeping the gcsj and (kkmc, gcsj) indexes during
/// a load cost ~1.4× the CPU of rebuilding them by sorting at the end.
/// The GCXH index, by which writes skip passes already stored.
const KEY_INDEX: &str = "idx_passes_gcxh";

pub const BULK_INDEXES: [&str; 4] = [
    KEY_INDEX,
    "idx_passes_gcsj",
    "idx_passes_hphm",
    "idx_passes_kkmc_gcsj",
];

const PASS_COLUMNS: &str = "gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh";

/// Skips a GCXH already stored (see schema.sql: the writer keeps it unique).
const INSERT_PASS: &str =
    "INSERT INTO passes (gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh, \
     province, is_weekend, is_peak_hour, vehicle_type_name) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
     WHERE NOT EXISTS (SELECT 1 FROM passes WHERE gcxh = ?1)";

/// Appends: in bulk mode repeats are removed when the key index is built.
/// (OR IGNORE: a shard from before the key index had a PRIMARY KEY still
/// skips repeats here.)
const INSERT_PASS_BULK: &str =
    "INSERT OR IGNORE INTO passes (gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh, \
     province, is_weekend, is_peak_hour, vehicle_type_name) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

const INSERT_WARNING: &str = "INSERT INTO warnings (id, hphm, hpzl, first_gcxh, first_kkmc, \
     first_gcsj, second_gcxh, second_kkmc, second_gcsj, distance_km, interval_s, speed_kmh, rule, \
     detected_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
     ON CONFLICT (id) DO NOTHING";

const WARNING_COLUMNS: &str = "id, hphm, hpzl, first_gcxh, first_kkmc, first_gcsj, second_gcxh, \
     second_kkmc, second_gcsj, distance_km, interval_s, speed_kmh, rule, detected_at";

const INSERT_REJECTED: &str = "INSERT INTO rejected (source, line, reason_kind, reason, raw) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (source, line, reason_kind, raw) DO NOTHING";

const UPSERT_MINUTE: &str = "INSERT INTO rollup_minute (kkmc, minute, n) VALUES (?1, ?2, ?3) \
     ON CONFLICT (kkmc, minute) DO UPDATE SET n = n + excluded.n";
const UPSERT_MINUTE_TOTAL: &str = "INSERT INTO rollup_minute_total (minute, n) VALUES (?1, ?2) \
     ON CONFLICT (minute) DO UPDATE SET n = n + excluded.n";
const UPSERT_CHECKPOINT_COUNT: &str = "INSERT INTO rollup_checkpoint (kkmc, n) VALUES (?1, ?2) \
     ON CONFLICT (kkmc) DO UPDATE SET n = n + excluded.n";
const UPSERT_PROVINCE: &str = "INSERT INTO rollup_province (province, n) VALUES (?1, ?2) \
     ON CONFLICT (province) DO UPDATE SET n = n + excluded.n";
const UPSERT_VEHICLE_TYPE: &str = "INSERT INTO rollup_vehicle_type (vehicle_type_name, n) \
     VALUES (?1, ?2) ON CONFLICT (vehicle_type_name) DO UPDATE SET n = n + excluded.n";
const UPSERT_HOUR: &str = "INSERT INTO rollup_hour (day, hour, n) VALUES (?1, ?2, ?3) \
     ON CONFLICT (day, hour) DO UPDATE SET n = n + excluded.n";

const UPSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (kkmc, kkbh, lon, lat) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kkmc) DO UPDATE SET \
     kkbh = excluded.kkbh, lon = excluded.lon, lat = excluded.lat";

/// Attaches the shard file's path to SQLite errors.
pub(crate) trait AtPath<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> AtPath<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        })
    }
}

pub(crate) struct ShardDb {
    conn: Connection,
    path: PathBuf,
    /// Passes written in the open transaction, when one is open (bulk mode
    /// keeps one open over several batches).
    pending: Option<u64>,
    /// Passes are appended without the GCXH index (a bulk load into an
    /// empty shard); repeats are removed when it is built.
    append: bool,
}

impl ShardDb {
    /// Opens (creating if needed) a shard for writing and brings its schema
    /// up to date, recreating any missing index.
    pub fn open_rw(
        path: PathBuf,
        index: usize,
        count: usize,
        options: &SqliteOptions,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .at(&path)?;
        let mut db = ShardDb {
            conn,
            path,
            pending: None,
            append: false,
        };
        db.configure(options, false)?;
        // A bulk load that never finished left its passes unindexed and
        // perhaps repeated: finish its work.
        let unfinished = db.has_table("passes")? && !db.has_index(KEY_INDEX)?;
        if unfinished {
            db.remove_repeats()?;
        }
        db.conn.execute_batch(SCHEMA).at(&db.path)?;
        db.check_identity(index, count)?;
        Ok(db)
    }

    /// Opens an existing shard for reading only; its schema is left alone.
    pub fn open_ro(
        path: PathBuf,
        index: usize,
        count: usize,
        options: &SqliteOptions,
    ) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::BadMetadata {
                message: "shard file is missing".into(),
                path,
            });
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .at(&path)?;
        let db = ShardDb {
            conn,
            path,
            pending: None,
            append: false,
        };
        db.configure(options, true)?;
        db.check_identity(index, count)?;
        Ok(db)
    }

    fn configure(&self, options: &SqliteOptions, read_only: bool) -> Result<(), StoreError> {
        let c = &self.conn;
        let p = &self.path;
        c.busy_timeout(options.busy_timeout).at(p)?;
        if !read_only {
            // Only takes effect on a new, empty file. Bigger pages make the
            // b-trees shallower: random gcxh inserts and index builds run
            // ~1.5× faster than with 4 KiB pages.
            c.pragma_update(None, "page_size", options.page_size)
                .at(p)?;
            let mode: String = c
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .at(p)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::BadMetadata {
                    path: p.clone(),
                    message: format!("cannot switch to WAL journaling (got {mode})"),
                });
            }
            c.pragma_update(None, "synchronous", "NORMAL").at(p)?;
            c.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint_pages)
                .at(p)?;
            // Let the WAL shrink back after a checkpoint.
            c.pragma_update(None, "journal_size_limit", 128 * 1024 * 1024)
                .at(p)?;
        } else {
            c.pragma_update(None, "query_only", true).at(p)?;
        }
        // A negative cache_size is in KiB.
        c.pragma_update(None, "cache_size", -(i64::from(options.cache_mib) * 1024))
            .at(p)?;
        // Sorts and index builds spill to temporary files instead of RAM, which
        // keeps the memory of large index builds bounded by cache_size.
        c.pragma_update(None, "temp_store", "FILE").at(p)?;
        c.pragma_update(None, "mmap_size", i64::from(options.mmap_mib) * 1024 * 1024)
            .at(p)?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// Records, or checks, which shard of how many this file is.
    fn check_identity(&self, index: usize, count: usize) -> Result<(), StoreError> {
        let get = |key: &str| -> Result<Option<String>, StoreError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .at(&self.path)
        };
        let stored = get("shard_index")?.zip(get("shard_count")?);
        match stored {
            Some((i, c)) => {
                if i != index.to_string() || c != count.to_string() {
                    return Err(StoreError::BadMetadata {
                        path: self.path.clone(),
                        message: format!(
                            "this file is shard {i} of {c}, expected shard {index} of {count}"
                        ),
                    });
                }
            }
            None if self.conn.is_readonly("main").at(&self.path)? => {
                return Err(StoreError::BadMetadata {
                    path: self.path.clone(),
                    message: "not set up as a shard yet".into(),
                });
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
                    .at(&self.path)?;
                stmt.execute(["format", "1"]).at(&self.path)?;
                stmt.execute(["shard_index", &index.to_string()])
                    .at(&self.path)?;
                stmt.execute(["shard_count", &count.to_string()])
                    .at(&self.path)?;
            }
        }
        Ok(())
    }

    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.conn.execute_batch(sql).at(&self.path)
    }

    /// Stores this shard's part of a batch: passes, their rollups, warnings
    /// and rejected rows in one transaction. With `commit_every` (bulk
    /// mode), the transaction stays open over later batches until it holds
    /// that many passes: random gcxh keys dirty most of the key index on
    /// every commit, so fewer, larger commits write far less. A failure then
    /// rolls back every batch since the last commit, and says so.
    pub fn write(
        &mut self,
        work: &ShardWork<'_>,
        commit_every: Option<u64>,
    ) -> Result<WriteSummary, StoreError> {
        if work.is_empty() {
            return Ok(WriteSummary::default());
        }
        if self.pending.is_none() {
            self.exec("BEGIN IMMEDIATE")?;
            self.pending = Some(0);
        }
        // No SAVEPOINT per batch: it would copy every page already dirty
        // in the open transaction to a sub-journal, batch after batch.
        match self.write_rows(work) {
            Ok(summary) => {
                let rows = self.pending.unwrap_or(0) + work.passes.len() as u64;
                self.pending = Some(rows);
                if commit_every.is_none_or(|limit| rows >= limit) {
                    self.commit()?;
                }
                Ok(summary)
            }
            Err(e) => {
                let earlier = self.pending.unwrap_or(0);
                self.rollback();
                if earlier > 0 {
                    return Err(StoreError::BulkRolledBack {
                        path: self.path.clone(),
                        passes: earlier,
                        source: Box::new(e),
                    });
                }
                Err(e)
            }
        }
    }

    /// Commits the open transaction, if any.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.take().is_some() {
            if let Err(e) = self.exec("COMMIT") {
                self.rollback();
                return Err(e);
            }
        }
        Ok(())
    }

    fn rollback(&mut self) {
        self.pending = None;
        if !self.conn.is_autocommit() {
            // Nothing more to do if even this fails: the connection is
            // unusable and the next statement reports why.
            let _ = self.exec("ROLLBACK");
        }
    }

    fn write_rows(&self, work: &ShardWork<'_>) -> Result<WriteSummary, StoreError> {
        let mut summary = WriteSummary::default();
        let path = &self.path;
        let conn = &self.conn;
        let mut delta = RollupDelta::new();
        if !work.passes.is_empty() {
            // In gcxh order, consecutive inserts into the gcxh index land on
            // the same or neighbouring pages, so each page is read at most
            // once per batch even when the index outgrows the page cache
            // (random ids otherwise miss the cache on nearly every row).
            // Stable: of two passes with one id, the first one is kept.
            // Without the key index yet, rows go in as they come.
            let mut passes = work.passes.clone();
            let insert = if self.append {
                INSERT_PASS_BULK
            } else {
                passes.sort_by(|a, b| a.id.cmp(&b.id));
                INSERT_PASS
            };
            let mut stmt = conn.prepare_cached(insert).at(path)?;
            let mut gcsj = String::with_capacity(19);
            for pass in passes {
                let derived = pass.derived();
                write_time(pass.time, &mut gcsj);
                stmt.raw_bind_parameter(1, pass.id.as_str()).at(path)?;
                stmt.raw_bind_parameter(2, pass.district.as_str())
                    .at(path)?;
                stmt.raw_bind_parameter(3, pass.checkpoint.as_str())
                    .at(path)?;
                stmt.raw_bind_parameter(4, pass.direction.as_str())
                    .at(path)?;
                stmt.raw_bind_parameter(5, gcsj.as_str()).at(path)?;
                stmt.raw_bind_parameter(6, pass.plate_type.as_str())
                    .at(path)?;
                stmt.raw_bind_parameter(7, pass.plate.as_str()).at(path)?;
                stmt.raw_bind_parameter(8, pass.brand.as_str()).at(path)?;
                stmt.raw_bind_parameter(9, derived.province).at(path)?;
                stmt.raw_bind_parameter(10, derived.is_weekend).at(path)?;
                stmt.raw_bind_parameter(11, derived.is_peak_hour).at(path)?;
                stmt.raw_bind_parameter(12, derived.vehicle_type).at(path)?;
                if stmt.raw_execute().at(path)? > 0 {
                    summary.inserted += 1;
                    delta.add_counts(
                        &pass.checkpoint,
                        pass.time,
                        derived.province,
                        derived.vehicle_type,
                        1,
                    );
                } else {
                    summary.duplicates += 1;
                }
            }
        }
        if !delta.is_empty() {
            add_rollups(conn, &delta, path)?;
        }
        if !work.warnings.is_empty() {
            let mut stmt = conn.prepare_cached(INSERT_WARNING).at(path)?;
            for w in &work.warnings {
                let n = stmt
                    .execute(params![
                        w.id,
                        w.plate,
                        w.plate_type,
                        w.first.pass_id,
                        w.first.checkpoint,
                        time_text(w.first.time),
                        w.second.pass_id,
                        w.second.checkpoint,
                        time_text(w.second.time),
                        w.distance_km,
                        w.interval_s,
                        w.speed_kmh,
                        w.rule.as_str(),
                        time_text(w.detected_at),
                    ])
                    .at(path)?;
                summary.warnings_inserted += n as u64;
            }
        }
        if !work.rejected.is_empty() {
            let mut stmt = conn.prepare_cached(INSERT_REJECTED).at(path)?;
            for r in work.rejected {
                let line = i64::try_from(r.line).unwrap_or(i64::MAX);
                let n = stmt
                    .execute(params![
                        r.source,
                        line,
                        r.reason.kind(),
                        r.reason.to_string(),
                        r.raw
                    ])
                    .at(path)?;
                summary.rejected += n as u64;
            }
        }
        Ok(summary)
    }

    pub fn upsert_checkpoints<'a>(
        &mut self,
        checkpoints: impl Iterator<Item = &'a Checkpoint>,
    ) -> Result<(), StoreError> {
        self.commit()?;
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        {
            let mut stmt = tx.prepare_cached(UPSERT_CHECKPOINT).at(path)?;
            for c in checkpoints {
                let (lon, lat) = match c.location {
                    Some(p) => (Some(p.lon), Some(p.lat)),
                    None => (None, None),
                };
                stmt.execute(params![c.name, c.code, lon, lat]).at(path)?;
            }
        }
        tx.commit().at(path)
    }

    /// Drops the secondary indexes of `passes`.
    /// Drops the pass indexes for a bulk load. An empty shard loses its
    /// GCXH index too, and passes are appended (repeats are removed at the
    /// end); a shard with passes keeps it, so rows already stored are
    /// skipped as they come (deleting them afterwards costs more).
    pub fn drop_bulk_indexes(&mut self) -> Result<(), StoreError> {
        self.append = self.pass_count()? == 0;
        let keep = if self.append { None } else { Some(KEY_INDEX) };
        for name in BULK_INDEXES.into_iter().filter(|n| Some(*n) != keep) {
            // Index names are fixed identifiers, not user data.
            self.conn
                .execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .at(&self.path)?;
        }
        Ok(())
    }

    /// Whether bulk mode appends passes with no GCXH index.
    pub fn appends(&self) -> bool {
        self.append
    }

    /// Ends bulk mode's appending: builds the GCXH index, then removes every
    /// pass whose GCXH an earlier row (lower rowid) holds, with its counts in
    /// the rollups. Returns how many it removed.
    pub fn remove_repeats(&mut self) -> Result<u64, StoreError> {
        self.commit()?;
        self.append = false;
        if self.has_index(KEY_INDEX)? {
            return Ok(0);
        }
        self.exec("BEGIN IMMEDIATE")?;
        let removed = self.remove_repeats_in_transaction();
        match removed {
            Ok(n) => self.exec("COMMIT").map(|()| n),
            Err(e) => {
                let _ = self.exec("ROLLBACK");
                Err(e)
            }
        }
    }

    fn remove_repeats_in_transaction(&self) -> Result<u64, StoreError> {
        // Most loads repeat no GCXH: then a unique build checks that during
        // its sort, for free. Should it fail, the plain index is built and
        // the repeats found by one walk over it.
        match self.exec(&format!("CREATE UNIQUE INDEX {KEY_INDEX} ON passes (gcxh)")) {
            Ok(()) => return Ok(0),
            Err(StoreError::Sqlite { source, .. })
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            }
            Err(e) => return Err(e),
        }
        self.exec(&format!("CREATE INDEX {KEY_INDEX} ON passes (gcxh)"))?;
        let repeats = self.repeated_rowids()?;
        // Their counts come out of the rollups.
        let mut delta = RollupDelta::new();
        let mut read = self
            .conn
            .prepare("SELECT kkmc, gcsj, hphm, hpzl FROM passes WHERE rowid = ?1")
            .at(&self.path)?;
        let mut delete = self
            .conn
            .prepare("DELETE FROM passes WHERE rowid = ?1")
            .at(&self.path)?;
        for rowid in &repeats {
            let (checkpoint, time, plate, plate_type) = read
                .query_row([rowid], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .at(&self.path)?;
            let time = self.time(&time)?;
            let derived = Derived::of(&plate, &plate_type, time);
            delta.add_counts(&checkpoint, time, derived.province, derived.vehicle_type, 1);
            delete.execute([rowid]).at(&self.path)?;
        }
        subtract_rollups(&self.conn, &delta, &self.path)?;
        Ok(repeats.len() as u64)
    }

    /// The rowids of every pass but the first (lowest rowid) of each GCXH,
    /// from one walk over the GCXH index in (gcxh, rowid) order.
    fn repeated_rowids(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT gcxh, rowid FROM passes ORDER BY gcxh, rowid")
            .at(&self.path)?;
        let mut rows = stmt.query([]).at(&self.path)?;
        let mut previous: Vec<u8> = Vec::new();
        let mut repeats = Vec::new();
        while let Some(row) = rows.next().at(&self.path)? {
            let id = row.get_ref(0).at(&self.path)?;
            let id = id
                .as_bytes()
                .map_err(|e| self.corrupt(format!("gcxh: {e}")))?;
            if id == previous.as_slice() {
                repeats.push(row.get(1).at(&self.path)?);
            } else {
                previous.clear();
                previous.extend_from_slice(id);
            }
        }
        Ok(repeats)
    }

    fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.has_schema_object("table", name)
    }

    fn has_index(&self, name: &str) -> Result<bool, StoreError> {
        self.has_schema_object("index", name)
    }

    fn has_schema_object(&self, kind: &str, name: &str) -> Result<bool, StoreError> {
        self.query_u64(
            "SELECT count(*) FROM sqlite_schema WHERE type = ?1 AND name = ?2",
            &[Value::Text(kind.into()), Value::Text(name.into())],
        )
        .map(|n| n > 0)
    }

    /// Creates every missing index (the schema is idempotent).
    pub fn ensure_schema(&self) -> Result<(), StoreError> {
        self.conn.execute_batch(SCHEMA).at(&self.path)
    }

    /// Sets the page cache size, MiB, freeing what a smaller cache no longer holds.
    /// Switches between WAL and a rollback journal. A bulk load appends new
    /// pages, which a rollback journal does not copy, while WAL writes every
    /// page twice (log, then checkpoint). SQLite keeps WAL while another
    /// connection (a reader) is open: then the switch is skipped, which is
    /// only slower. The next read-write open restores WAL in any case.
    pub fn set_wal(&self, wal: bool) -> Result<(), StoreError> {
        let mode = if wal { "WAL" } else { "DELETE" };
        let switched = self
            .conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| {
                r.get::<_, String>(0)
            });
        match switched {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(())
            }
            other => other.map(drop).at(&self.path),
        }
    }

    #[cfg(test)]
    pub fn journal_mode(&self) -> String {
        self.conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap_or_default()
    }

    pub fn set_cache_mib(&self, mib: u32) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "cache_size", -(i64::from(mib) * 1024))
            .at(&self.path)?;
        self.conn.release_memory().at(&self.path)
    }

    /// Deletes the passes dated before `day`, in chunks of their own
    /// transactions so that writers wait at most one chunk, counting them
    /// in `meta` so the count of stored passes stays exact.
    pub fn drop_passes_before(&mut self, day: NaiveDate) -> Result<u64, StoreError> {
        const CHUNK: i64 = 50_000;
        self.commit()?;
        let before = date_text(day);
        let mut dropped = 0u64;
        loop {
            self.exec("BEGIN IMMEDIATE")?;
            let deleted = self
                .conn
                .execute(
                    "DELETE FROM passes WHERE rowid IN \
                     (SELECT rowid FROM passes WHERE gcsj < ?1 LIMIT ?2)",
                    params![before, CHUNK],
                )
                .and_then(|n| {
                    self.conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('passes_dropped', ?1) \
                         ON CONFLICT (key) DO UPDATE SET \
                         value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                        params![n as i64],
                    )?;
                    Ok(n)
                })
                .at(&self.path);
            let n = match deleted {
                Ok(n) => n,
                Err(e) => {
                    let _ = self.exec("ROLLBACK");
                    return Err(e);
                }
            };
            self.exec("COMMIT")?;
            dropped += n as u64;
            if (n as i64) < CHUNK {
                return Ok(dropped);
            }
        }
    }

    pub fn checkpoint_wal(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .at(&self.path)
    }

    /// Cheap statistics upkeep before closing, so the planner picks indexes well.
    pub fn optimize(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA analysis_limit = 1000; PRAGMA optimize;")
            .at(&self.path)
    }

    /// Names of this shard's indexes, for tests and diagnostics.
    pub fn index_names(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
            .at(&self.path)?;
        let rows = stmt.query_map([], |r| r.get(0)).at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .at(&self.path)
    }

    // ---- queries ----

    fn query_values<T>(
        &self,
        sql: &str,
        params: &[Value],
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).at(&self.path)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), map)
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<Vec<T>>>().at(&self.path)
    }

    fn query_u64(&self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).at(&self.path)?;
        let n: i64 = stmt
            .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
            .at(&self.path)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }

    fn time(&self, text: &str) -> Result<NaiveDateTime, StoreError> {
        parse_time(text).ok_or_else(|| self.corrupt(format!("time {text:?}")))
    }

    fn counts(&self, sql: &str, params: &[Value]) -> Result<Vec<(String, u64)>, StoreError> {
        self.query_values(sql, params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })
    }

    /// Runs a query over `passes` that orders by time, walking the gcsj
    /// index when `by_time` and the index exists (bulk mode drops it).
    fn ordered<T>(
        &self,
        by_time: bool,
        run: impl Fn(&str) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if !by_time {
            return run("");
        }
        match run(" INDEXED BY idx_passes_gcsj") {
            Err(StoreError::Sqlite { source, .. })
                if source.to_string().contains("no such index") =>
            {
                run("")
            }
            other => other,
        }
    }

    fn passes(&self, sql: &str, params: &[Value]) -> Result<Vec<Pass>, StoreError> {
        let rows = self.query_values(sql, params, pass_row)?;
        rows.into_iter()
            .map(|(mut pass, gcsj)| {
                pass.time = self.time(&gcsj)?;
                Ok(pass)
            })
            .collect()
    }

    /// Up to `limit` passes stored after row `rowid`, in storage order,
    /// each with its rowid: a position a reader (the archive) can resume
    /// from, as rows only ever append.
    pub fn passes_after(&self, rowid: i64, limit: u64) -> Result<Vec<(i64, Pass)>, StoreError> {
        let sql = format!(
            "SELECT {PASS_COLUMNS}, rowid FROM passes WHERE rowid > ? ORDER BY rowid LIMIT ?"
        );
        let params = [Value::Integer(rowid), Value::Integer(clamp_i64(limit))];
        let rows = self.query_values(&sql, &params, |r| Ok((pass_row(r)?, r.get(8)?)))?;
        rows.into_iter()
            .map(|((mut pass, gcsj), rowid)| {
                pass.time = self.time(&gcsj)?;
                Ok((rowid, pass))
            })
            .collect()
    }

    /// How many passes are stored after row `rowid`.
    pub fn count_after(&self, rowid: i64) -> Result<u64, StoreError> {
        self.query_u64(
            "SELECT count(*) FROM passes WHERE rowid > ?",
            &[Value::Integer(rowid)],
        )
    }
}

/// A pass from the [`PASS_COLUMNS`] of a row, its time still as stored.
fn pass_row(r: &Row<'_>) -> rusqlite::Result<(Pass, String)> {
    Ok((
        Pass {
            id: r.get(0)?,
            district: r.get(1)?,
            checkpoint: r.get(2)?,
            direction: r.get(3)?,
            time: NaiveDateTime::default(),
            plate_type: r.get(5)?,
            plate: r.get(6)?,
            brand: r.get(7)?,
        },
        r.get(4)?,
    ))
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Adds a delta to the rollup tables inside the caller's transaction.
fn add_rollups(conn: &Connection, delta: &RollupDelta, path: &Path) -> Result<(), StoreError> {
    apply_rollups(conn, delta, 1, path)
}

/// Takes counts back out of the rollups (of passes removed as repeats).
fn subtract_rollups(conn: &Connection, delta: &RollupDelta, path: &Path) -> Result<(), StoreError> {
    apply_rollups(conn, delta, -1, path)
}

fn apply_rollups(
    conn: &Connection,
    delta: &RollupDelta,
    sign: i64,
    path: &Path,
) -> Result<(), StoreError> {
    let n = |v: u64| sign * i64::try_from(v).unwrap_or(i64::MAX);
    {
        let mut stmt = conn.prepare_cached(UPSERT_MINUTE).at(path)?;
        let mut minute = String::with_capacity(19);
        for (checkpoint, at, count) in delta.per_checkpoint_minute() {
            write_time(at, &mut minute);
            stmt.execute(params![checkpoint, minute, n(count)])
                .at(path)?;
        }
    }
    {
        let mut stmt = conn.prepare_cached(UPSERT_MINUTE_TOTAL).at(path)?;
        let mut minute = String::with_capacity(19);
        for (at, count) in delta.per_minute() {
            write_time(at, &mut minute);
            stmt.execute(params![minute, n(count)]).at(path)?;
        }
    }
    {
        let mut stmt = conn.prepare_cached(UPSERT_CHECKPOINT_COUNT).at(path)?;
        for (checkpoint, count) in delta.per_checkpoint() {
            stmt.execute(params![checkpoint, n(count)]).at(path)?;
        }
    }
    {
        let mut stmt = conn.prepare_cached(UPSERT_PROVINCE).at(path)?;
        for (province, count) in delta.per_province() {
            stmt.execute(params![province, n(count)]).at(path)?;
        }
    }
    {
        let mut stmt = conn.prepare_cached(UPSERT_VEHICLE_TYPE).at(path)?;
        for (vehicle_type, count) in delta.per_vehicle_type() {
            stmt.execute(params![vehicle_type, n(count)]).at(path)?;
        }
    }
    {
        let mut stmt = conn.prepare_cached(UPSERT_HOUR).at(path)?;
        for (date, hour, count) in delta.per_hour() {
            stmt.execute(params![super::codec::date_text(date), hour, n(count)])
                .at(path)?;
        }
    }
    Ok(())
}

impl ShardRead for ShardDb {
    type Value = Value;

    /// Passes stored on this shard.
    /// The rollups count every pass ever stored; retention's deletes are
    /// taken off.
    fn pass_count(&self) -> Result<u64, StoreError> {
        self.query_u64(
            "SELECT coalesce((SELECT sum(n) FROM rollup_checkpoint), 0) - \
             coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'passes_dropped'), 0)",
            &[],
        )
    }

    fn count_matching(&self, filter: &Filter) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM passes{}", filter.where_sql);
        self.query_u64(&sql, &filter.params)
    }

    /// (gcsj, gcxh) of the first `limit` matching passes, newest first.
    /// `by_time`: see [`Filter::walk_time_index`].
    fn pass_keys(
        &self,
        filter: &Filter,
        limit: u64,
        by_time: bool,
    ) -> Result<Vec<(NaiveDateTime, String)>, StoreError> {
        let mut params = filter.params.clone();
        params.push(Value::Integer(clamp_i64(limit)));
        let keys: Vec<(String, String)> = self.ordered(by_time, |hint| {
            let sql = format!(
                "SELECT gcsj, gcxh FROM passes{hint}{} ORDER BY gcsj DESC, gcxh DESC LIMIT ?",
                filter.where_sql
            );
            self.query_values(&sql, &params, |r| Ok((r.get(0)?, r.get(1)?)))
        })?;
        keys.into_iter()
            .map(|(gcsj, id)| Ok((self.time(&gcsj)?, id)))
            .collect()
    }

    /// Matching passes newest first, `limit` from `offset`.
    fn pass_page(
        &self,
        filter: &Filter,
        limit: u64,
        offset: u64,
        by_time: bool,
    ) -> Result<Vec<Pass>, StoreError> {
        let mut params = filter.params.clone();
        params.push(Value::Integer(clamp_i64(limit)));
        params.push(Value::Integer(clamp_i64(offset)));
        self.ordered(by_time, |hint| {
            let sql = format!(
                "SELECT {PASS_COLUMNS} FROM passes{hint}{} ORDER BY gcsj DESC, gcxh DESC LIMIT ? OFFSET ?",
                filter.where_sql
            );
            self.passes(&sql, &params)
        })
    }

    fn pass_by_id(&self, id: &str) -> Result<Option<Pass>, StoreError> {
        let sql = format!("SELECT {PASS_COLUMNS} FROM passes WHERE gcxh = ?");
        Ok(self.passes(&sql, &[Value::Text(id.to_owned())])?.pop())
    }

    /// Passes at or after `since`, oldest first.
    fn passes_since(&self, since: NaiveDateTime) -> Result<Vec<Pass>, StoreError> {
        let sql = format!("SELECT {PASS_COLUMNS} FROM passes WHERE gcsj >= ? ORDER BY gcsj, gcxh");
        self.passes(&sql, &[Value::Text(time_text(since))])
    }

    fn warning_count(&self, plate: Option<&str>) -> Result<u64, StoreError> {
        match plate {
            Some(p) => self.query_u64(
                "SELECT count(*) FROM warnings WHERE hphm = ?",
                &[Value::Text(p.to_owned())],
            ),
            None => self.query_u64("SELECT count(*) FROM warnings", &[]),
        }
    }

    /// The first `limit` warnings by second sighting time desc, then id.
    fn warnings(&self, plate: Option<&str>, limit: u64) -> Result<Vec<Warning>, StoreError> {
        let order = "ORDER BY second_gcsj DESC, id LIMIT ?";
        let (sql, params) = match plate {
            Some(p) => (
                format!("SELECT {WARNING_COLUMNS} FROM warnings WHERE hphm = ? {order}"),
                vec![Value::Text(p.to_owned()), Value::Integer(clamp_i64(limit))],
            ),
            None => (
                format!("SELECT {WARNING_COLUMNS} FROM warnings {order}"),
                vec![Value::Integer(clamp_i64(limit))],
            ),
        };
        let rows: Vec<(Warning, [String; 3], String)> = self.query_values(&sql, &params, |r| {
            let sighting = |id: usize, kkmc: usize| -> rusqlite::Result<Sighting> {
                Ok(Sighting {
                    pass_id: r.get(id)?,
                    checkpoint: r.get(kkmc)?,
                    time: NaiveDateTime::default(),
                })
            };
            let warning = Warning {
                id: r.get(0)?,
                plate: r.get(1)?,
                plate_type: r.get(2)?,
                first: sighting(3, 4)?,
                second: sighting(6, 7)?,
                distance_km: r.get(9)?,
                interval_s: r.get(10)?,
                speed_kmh: r.get(11)?,
                rule: Rule::Speed,
                detected_at: NaiveDateTime::default(),
            };
            Ok((warning, [r.get(5)?, r.get(8)?, r.get(13)?], r.get(12)?))
        })?;
        rows.into_iter()
            .map(|(mut w, [first, second, detected], rule)| {
                w.first.time = self.time(&first)?;
                w.second.time = self.time(&second)?;
                w.detected_at = self.time(&detected)?;
                w.rule =
                    Rule::parse(&rule).ok_or_else(|| self.corrupt(format!("rule {rule:?}")))?;
                Ok(w)
            })
            .collect()
    }

    fn checkpoint_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.counts("SELECT kkmc, n FROM rollup_checkpoint", &[])
    }

    fn province_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.counts("SELECT province, n FROM rollup_province", &[])
    }

    fn province_count(&self, province: &str) -> Result<u64, StoreError> {
        self.query_u64(
            "SELECT coalesce(sum(n), 0) FROM rollup_province WHERE province = ?",
            &[Value::Text(province.to_owned())],
        )
    }

    fn vehicle_type_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.counts("SELECT vehicle_type_name, n FROM rollup_vehicle_type", &[])
    }

    /// (hour, count) on the day `day` ('YYYY-MM-DD'), at one checkpoint or all.
    fn hours(
        &self,
        date: NaiveDate,
        checkpoint: Option<&str>,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let day = date_text(date);
        let next_day = date
            .succ_opt()
            .map(date_text)
            .unwrap_or_else(|| "9999-99-99".into());
        let map = |r: &Row<'_>| -> rusqlite::Result<(u64, u64)> {
            Ok((
                u64::try_from(r.get::<_, i64>(0)?).unwrap_or(u64::MAX),
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        };
        match checkpoint {
            None => self.query_values(
                "SELECT hour, n FROM rollup_hour WHERE day = ?",
                &[Value::Text(day.to_owned())],
                map,
            ),
            Some(k) => self.query_values(
                "SELECT CAST(substr(minute, 12, 2) AS INTEGER) AS hour, sum(n) FROM rollup_minute \
                 WHERE kkmc = ?1 AND minute >= ?2 AND minute < ?3 GROUP BY hour",
                &[
                    Value::Text(k.to_owned()),
                    Value::Text(format!("{day} 00:00:00")),
                    Value::Text(format!("{next_day} 00:00:00")),
                ],
                map,
            ),
        }
    }

    /// (minute, count) for minutes in [start, end) given as GCSJ text.
    fn minutes(
        &self,
        range: &Range<NaiveDateTime>,
    ) -> Result<Vec<(NaiveDateTime, u64)>, StoreError> {
        let rows = self.counts(
            "SELECT minute, n FROM rollup_minute_total WHERE minute >= ?1 AND minute < ?2",
            &[
                Value::Text(time_text(range.start)),
                Value::Text(time_text(range.end)),
            ],
        )?;
        rows.into_iter()
            .map(|(minute, n)| Ok((self.time(&minute)?, n)))
            .collect()
    }

    fn rejected_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.counts(
            "SELECT reason_kind, count(*) FROM rejected GROUP BY reason_kind",
            &[],
        )
    }

    fn rejected_total(&self) -> Result<u64, StoreError> {
        self.query_u64("SELECT count(*) FROM rejected", &[])
    }

    fn rejected_rows(&self, limit: u64, offset: u64) -> Result<Vec<RejectedRow>, StoreError> {
        self.query_values(
            "SELECT id, source, line, reason_kind, reason, raw FROM rejected ORDER BY id LIMIT ?1 OFFSET ?2",
            &[Value::Integer(clamp_i64(limit)), Value::Integer(clamp_i64(offset))],
            |r| {
                Ok(RejectedRow {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    line: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    kind: r.get(3)?,
                    reason: r.get(4)?,
                    raw: r.get(5)?,
                })
            },
        )
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.query_values(
            "SELECT kkmc, kkbh, lon, lat FROM checkpoints ORDER BY kkmc",
            &[],
            |r| {
                let lon: Option<f64> = r.get(2)?;
                let lat: Option<f64> = r.get(3)?;
                Ok(Checkpoint {
                    name: r.get(0)?,
                    code: r.get(1)?,
                    location: lon.zip(lat).map(|(lon, lat)| GeoPoint { lon, lat }),
                })
            },
        )
    }
}
