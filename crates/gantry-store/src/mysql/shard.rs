//! One MySQL shard: one database, reached through its own connection pool.

use std::collections::{BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{Local, NaiveDate, NaiveDateTime};
use gantry_core::geo::GeoPoint;
use gantry_core::rollup::RollupDelta;
use gantry_core::time::write_pass_time;
use gantry_core::{Checkpoint, Derived, Pass, Rejection, Rule, Sighting, Warning};
use mysql::prelude::{FromValue, Queryable};
use mysql::{
    LocalInfileHandler, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, TxOpts,
    Value,
};

use super::MysqlOptions;
use crate::fanout::ShardRead;
use crate::work::ShardWork;
use crate::{RejectedRow, StoreError, WriteSummary};

type Filter = crate::filter::Filter<Value>;
type Result<T> = std::result::Result<T, StoreError>;

/// The DDL, run on every open (every statement is idempotent).
const SCHEMA: &str = include_str!("schema.sql");

const PASS_COLUMNS: &str = "gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh";

const INSERT_PASSES: &str = "INSERT INTO passes (gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, \
     clppxh, province, is_weekend, is_peak_hour, vehicle_type_name) VALUES ";

const WARNING_COLUMNS: &str = "id, hphm, hpzl, first_gcxh, first_kkmc, first_gcsj, second_gcxh, \
     second_kkmc, second_gcsj, distance_km, interval_s, speed_kmh, rule, detected_at";

/// `TO_DAYS(d)` in MySQL is chrono's days from the common era plus 365.
const TO_DAYS_OFFSET: i64 = 365;

/// Longest source name kept with a rejected row (the column's width).
const MAX_SOURCE_CHARS: usize = 1024;

/// Passes from memory, as [`write_load_row`] writes them.
const LOAD_PASSES: &str = "LOAD DATA LOCAL INFILE 'passes' INTO TABLE passes \
     CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' \
     LINES TERMINATED BY '\\n' (gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh, \
     province, is_weekend, is_peak_hour, vehicle_type_name)";

/// The server (1148) or MariaDB's settings (4166) forbid `LOAD DATA LOCAL`.
const LOAD_REFUSED: [u16; 2] = [1148, 4166];

/// How a `LOAD DATA` of passes went.
enum Load {
    Done,
    /// Forbidden here: INSERT from now on.
    Refused,
    /// Undone: not every row went in cleanly.
    Unclean,
}

/// MySQL error codes a retry of the same transaction can cure.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
const ER_LOCK_DEADLOCK: u16 = 1213;
/// A row another writer inserted since this transaction looked.
const ER_DUP_ENTRY: u16 = 1062;
/// A table another process dropped meanwhile.
const ER_NO_SUCH_TABLE: u16 = 1146;

pub(crate) struct MysqlShard {
    pool: Pool,
    /// `host:port/database`: no password, safe in messages.
    name: String,
    options: MysqlOptions,
    /// `TO_DAYS` bounds (exclusive) of the day partitions of `passes`.
    partitions: Mutex<BTreeSet<i64>>,
    /// Whether passes go in by `LOAD DATA LOCAL` (until the server refuses).
    load_data: AtomicBool,
    /// Loads undone because not every row went in cleanly.
    unclean_loads: AtomicU64,
    /// During a bulk load into a shard that had no passes: hashes of the
    /// GCXHs stored since, so that only a GCXH whose hash is here needs
    /// looking up (see [`MysqlShard::begin_bulk`]).
    bulk_ids: Mutex<Option<HashSet<u64>>>,
}

impl MysqlShard {
    /// Where shard `index` lives: its DSN's server options, the database
    /// (`gantry_<index>` when the DSN names none) and a printable name.
    pub fn locate(dsn: &str, index: usize) -> Result<(Opts, String, String)> {
        let opts = Opts::from_url(dsn)
            .map_err(|e| StoreError::InvalidConfig(format!("shard {index}: bad MySQL DSN: {e}")))?;
        let db = opts
            .get_db_name()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("gantry_{index}"));
        if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::InvalidConfig(format!(
                "shard {index}: database name {db:?} must be letters, digits and _"
            )));
        }
        let name = format!("{}:{}/{db}", opts.get_ip_or_hostname(), opts.get_tcp_port());
        Ok((opts, db, name))
    }

    /// Connects, creating the database and schema when missing, and checks
    /// (or records) that this database is shard `index` of `count`.
    pub fn open(dsn: &str, index: usize, count: usize, options: &MysqlOptions) -> Result<Self> {
        let (opts, db, name) = Self::locate(dsn, index)?;
        let base = OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(options.timeout))
            .read_timeout(Some(options.timeout))
            .write_timeout(Some(options.timeout));
        let err = |source| StoreError::Mysql {
            shard: name.clone(),
            source,
        };
        // The database may not exist yet: create it over a connection to none.
        let mut setup = mysql::Conn::new(base.clone().db_name(None::<String>)).map_err(err)?;
        // An identifier cannot be a parameter; `db` was checked above.
        setup
            .query_drop(format!(
                "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .map_err(err)?;
        drop(setup);
        let constraints = PoolConstraints::new(1, options.pool_size.max(1))
            .ok_or_else(|| StoreError::InvalidConfig("pool size must be at least 1".into()))?;
        let pool_opts = base
            .db_name(Some(db))
            .init(vec![
                // Each write re-reads what is stored; no snapshot is needed,
                // and READ COMMITTED takes no gap locks, so writers of one
                // shard rarely wait on each other.
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                "SET SESSION lock_wait_timeout = 60",
                "SET SESSION innodb_lock_wait_timeout = 30",
                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
            ])
            .pool_opts(PoolOpts::new().with_constraints(constraints));
        let pool = Pool::new(pool_opts).map_err(err)?;
        let shard = MysqlShard {
            pool,
            name,
            options: options.clone(),
            partitions: Mutex::new(BTreeSet::new()),
            load_data: AtomicBool::new(options.load_data),
            unclean_loads: AtomicU64::new(0),
            bulk_ids: Mutex::new(None),
        };
        shard.create_schema()?;
        shard.fold_minute_rollups()?;
        shard.check_identity(index, count)?;
        shard.load_partitions()?;
        Ok(shard)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether passes still go in by `LOAD DATA LOCAL`, and how many loads
    /// were undone for INSERTs.
    #[cfg(test)]
    pub fn load_data_state(&self) -> (bool, u64) {
        (
            self.load_data.load(Ordering::Relaxed),
            self.unclean_loads.load(Ordering::Relaxed),
        )
    }

    fn err(&self, source: mysql::Error) -> StoreError {
        StoreError::Mysql {
            shard: self.name.clone(),
            source,
        }
    }

    fn conn(&self) -> Result<mysql::PooledConn> {
        self.pool.get_conn().map_err(|e| self.err(e))
    }

    fn create_schema(&self) -> Result<()> {
        let mut conn = self.conn()?;
        for statement in SCHEMA.split(";\n").map(strip_comments) {
            if !statement.is_empty() {
                conn.query_drop(statement).map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// A shard made before rollups were kept per checkpoint and hour has
    /// `rollup_minute`: its counts move to `rollup_checkpoint_hour` in one
    /// transaction (added there, deleted here), then the table goes, so a
    /// crash between the two steps adds nothing twice.
    fn fold_minute_rollups(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let old: Option<u8> = conn
            .query_first(
                "SELECT 1 FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'rollup_minute'",
            )
            .map_err(|e| self.err(e))?;
        if old.is_none() {
            return Ok(());
        }
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .map_err(|e| self.err(e))?;
        let folded = tx
            .query_drop(
                "INSERT INTO rollup_checkpoint_hour (kkmc, day, hour, n) \
                 SELECT kkmc, DATE(minute), HOUR(minute), SUM(n) FROM rollup_minute \
                 GROUP BY kkmc, DATE(minute), HOUR(minute) \
                 ON DUPLICATE KEY UPDATE n = rollup_checkpoint_hour.n + VALUES(n)",
            )
            .and_then(|()| tx.query_drop("DELETE FROM rollup_minute"))
            .and_then(|()| tx.commit());
        match folded {
            // Another process opening this shard folded and dropped it.
            Err(mysql::Error::MySqlError(e)) if e.code == ER_NO_SUCH_TABLE => Ok(()),
            Err(e) => Err(self.err(e)),
            Ok(()) => conn
                .query_drop("DROP TABLE IF EXISTS rollup_minute")
                .map_err(|e| self.err(e)),
        }
    }

    fn check_identity(&self, index: usize, count: usize) -> Result<()> {
        let mut conn = self.conn()?;
        let want = [
            ("shard_index", index.to_string()),
            ("shard_count", count.to_string()),
        ];
        for (key, value) in want.iter().chain([&("passes_dropped", "0".to_string())]) {
            conn.exec_drop(
                "INSERT IGNORE INTO meta (`key`, `value`) VALUES (?, ?)",
                (key, value),
            )
            .map_err(|e| self.err(e))?;
        }
        let stored: Vec<(String, String)> = conn
            .query("SELECT `key`, `value` FROM meta WHERE `key` IN ('shard_index', 'shard_count')")
            .map_err(|e| self.err(e))?;
        let get = |k: &str| {
            stored
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let (i, c) = (get("shard_index"), get("shard_count"));
        if i != Some(want[0].1.as_str()) || c != Some(want[1].1.as_str()) {
            return Err(StoreError::BadMetadata {
                path: self.name.clone().into(),
                message: format!(
                    "this database is shard {} of {}, expected shard {index} of {count}",
                    i.unwrap_or("?"),
                    c.unwrap_or("?")
                ),
            });
        }
        Ok(())
    }

    // ---- day partitions ----

    /// Reads the partition bounds of `passes` from the server.
    fn load_partitions(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let rows: Vec<Option<String>> = conn
            .query(
                "SELECT PARTITION_DESCRIPTION FROM information_schema.PARTITIONS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'passes'",
            )
            .map_err(|e| self.err(e))?;
        let bounds = rows
            .into_iter()
            .flatten()
            .filter_map(|d| d.trim().parse::<i64>().ok())
            .collect();
        *self.partitions.lock().unwrap_or_else(|p| p.into_inner()) = bounds;
        Ok(())
    }

    /// Gives each day of `days` a partition of its own, unless an existing
    /// one already covers it or it lies beyond `future_days` from today.
    /// Partitions only grow upwards (p_future is split), so a day older
    /// than the first partition shares that one, which retention drops
    /// later than it would its own: never too early.
    fn ensure_partitions(&self, days: impl Iterator<Item = NaiveDate>) -> Result<()> {
        let latest = to_days(Local::now().date_naive()) + self.options.future_days;
        let wanted: BTreeSet<i64> = days
            .map(to_days)
            .filter(|&d| d <= latest)
            .map(|d| d + 1)
            .collect();
        let missing = |known: &BTreeSet<i64>| -> Vec<i64> {
            let top = known.last().copied().unwrap_or(i64::MIN);
            wanted.iter().copied().filter(|&b| b > top).collect()
        };
        let todo = missing(&self.partitions.lock().unwrap_or_else(|p| p.into_inner()));
        if todo.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = todo
            .iter()
            .map(|&b| format!("PARTITION p{} VALUES LESS THAN ({b})", day_label(b - 1)))
            .collect();
        // Bounds are integers this function computed, not user data.
        let sql = format!(
            "ALTER TABLE passes REORGANIZE PARTITION p_future INTO ({}, \
             PARTITION p_future VALUES LESS THAN MAXVALUE)",
            parts.join(", ")
        );
        let altered = self.conn()?.query_drop(sql);
        // Another writer may have added them meanwhile: look again.
        self.load_partitions()?;
        match altered {
            Err(e)
                if !missing(&self.partitions.lock().unwrap_or_else(|p| p.into_inner()))
                    .is_empty() =>
            {
                Err(self.err(e))
            }
            _ => Ok(()),
        }
    }

    /// Drops the day partitions holding only passes before `day`; returns
    /// the passes they held.
    pub fn drop_days_before(&self, day: NaiveDate) -> Result<u64> {
        self.load_partitions()?;
        let cutoff = to_days(day);
        let names: Vec<String> = self
            .partitions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|&&b| b <= cutoff)
            .map(|&b| format!("p{}", day_label(b - 1)))
            .collect();
        if names.is_empty() {
            return Ok(0);
        }
        // Partition names are ones this store made from dates. The rows
        // dropped are counted under the table lock, so that no late pass
        // slips in between count and drop: the count of stored passes stays
        // the rollups' total minus every pass dropped.
        let list = names.join(", ");
        let mut conn = self.conn()?;
        conn.query_drop("LOCK TABLES passes WRITE, meta WRITE")
            .map_err(|e| self.err(e))?;
        let result = (|| -> mysql::Result<u64> {
            let dropped: Option<u64> =
                conn.query_first(format!("SELECT count(*) FROM passes PARTITION ({list})"))?;
            let dropped = dropped.unwrap_or(0);
            conn.exec_drop(
                "UPDATE meta SET `value` = CAST(`value` AS SIGNED) + ? WHERE `key` = 'passes_dropped'",
                (dropped,),
            )?;
            conn.query_drop(format!("ALTER TABLE passes DROP PARTITION {list}"))?;
            Ok(dropped)
        })();
        let unlocked = conn.query_drop("UNLOCK TABLES");
        let dropped = result.map_err(|e| self.err(e))?;
        unlocked.map_err(|e| self.err(e))?;
        self.load_partitions()?;
        Ok(dropped)
    }

    // ---- writes ----

    /// Starts a bulk load. When the shard holds no passes yet, the GCXHs
    /// this process stores are remembered (as 64-bit hashes), and a pass
    /// whose hash is not among them cannot be stored already: its lookup
    /// is skipped, which on a day-partitioned table probes every day. A
    /// hash seen before (a repeat, or a collision) is still looked up, so
    /// GCXH stays unique. This trusts that no other process writes this
    /// shard until [`MysqlShard::end_bulk`], as a database's own loaders do;
    /// the primary key (gcxh, gcsj) still stops an exact repeat from anyone.
    pub fn begin_bulk(&self) -> Result<()> {
        let mut conn = self.conn()?;
        let any: Option<u8> = conn
            .query_first("SELECT 1 FROM passes LIMIT 1")
            .map_err(|e| self.err(e))?;
        *self.bulk_ids.lock().unwrap_or_else(|p| p.into_inner()) = any.is_none().then(HashSet::new);
        Ok(())
    }

    pub fn end_bulk(&self) {
        *self.bulk_ids.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Of `passes`, those that may be stored already: all of them, unless
    /// a bulk load into an empty shard knows which GCXHs it stored.
    fn maybe_stored<'p>(&self, passes: &[&'p Pass]) -> Vec<&'p Pass> {
        let ids = self.bulk_ids.lock().unwrap_or_else(|p| p.into_inner());
        match ids.as_ref() {
            Some(ids) => passes
                .iter()
                .copied()
                .filter(|p| ids.contains(&id_hash(&p.id)))
                .collect(),
            None => passes.to_vec(),
        }
    }

    /// Remembers GCXHs just committed, during a bulk load.
    fn remember_stored(&self, passes: &[&Pass]) {
        let mut ids = self.bulk_ids.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ids) = ids.as_mut() {
            ids.extend(passes.iter().map(|p| id_hash(&p.id)));
        }
    }

    /// Stores this shard's part of a batch in one transaction, retrying it
    /// when it lost a lock conflict with another writer.
    pub fn write(&self, work: &ShardWork<'_>) -> Result<WriteSummary> {
        if work.is_empty() {
            return Ok(WriteSummary::default());
        }
        self.ensure_partitions(work.passes.iter().map(|p| p.time.date()))?;
        let mut attempt = 0;
        loop {
            let result = self.write_once(work);
            if result.is_err() {
                // A failed commit may have stored what it was not told of:
                // from now on every GCXH is looked up.
                self.end_bulk();
            }
            match result {
                Err(StoreError::Mysql { source, .. })
                    if is_conflict(&source) && attempt < self.options.lock_retries =>
                {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20 << attempt.min(6)));
                }
                other => return other,
            }
        }
    }

    fn write_once(&self, work: &ShardWork<'_>) -> Result<WriteSummary> {
        let mut conn = self.conn()?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .map_err(|e| self.err(e))?;
        let mut summary = WriteSummary::default();
        let mut delta = RollupDelta::new();

        // Of passes with one id, the first is kept, as the SQLite store does.
        let mut passes = work.passes.clone();
        passes.sort_by(|a, b| a.id.cmp(&b.id));
        passes.dedup_by(|later, first| later.id == first.id);
        let stored = self.existing(
            &mut tx,
            "SELECT gcxh FROM passes WHERE gcxh IN ",
            self.maybe_stored(&passes).iter().map(|p| p.id.as_str()),
        )?;
        passes.retain(|p| !stored.contains(p.id.as_str()));
        summary.inserted = passes.len() as u64;
        summary.duplicates = work.passes.len() as u64 - summary.inserted;
        // Derived once: the rollups and the rows both need it. Stored in
        // time order: two of the four indexes order by GCSJ (alone, and
        // within a checkpoint), and rows in time order extend them at
        // their ends, as passes arrive; GCXH order would help only the
        // primary key, whose keys in one batch lie far apart anyway.
        let mut rows: Vec<(&Pass, Derived)> = passes.iter().map(|p| (*p, p.derived())).collect();
        rows.sort_by_key(|(p, _)| p.time);
        for (p, d) in &rows {
            delta.add_counts(&p.checkpoint, p.time, d.province, d.vehicle_type, 1);
        }
        self.insert_passes(&mut tx, &rows)?;

        let mut warnings = work.warnings.clone();
        warnings.sort_by(|a, b| a.id.cmp(&b.id));
        warnings.dedup_by(|later, first| later.id == first.id);
        let stored = self.existing(
            &mut tx,
            "SELECT id FROM warnings WHERE id IN ",
            warnings.iter().map(|w| w.id.as_str()),
        )?;
        warnings.retain(|w| !stored.contains(w.id.as_str()));
        summary.warnings_inserted = warnings.len() as u64;
        let rows = warnings.iter().map(|w| warning_values(w));
        let head = format!("INSERT INTO warnings ({WARNING_COLUMNS}) VALUES ");
        self.insert_rows(&mut tx, &head, "", 14, rows)?;

        let mut rejected: Vec<(String, &Rejection)> =
            work.rejected.iter().map(|r| (rejection_id(r), r)).collect();
        rejected.dedup_by(|later, first| later.0 == first.0);
        let stored = self.existing(
            &mut tx,
            "SELECT id FROM rejected WHERE id IN ",
            rejected.iter().map(|(id, _)| id.as_str()),
        )?;
        rejected.retain(|(id, _)| !stored.contains(id.as_str()));
        summary.rejected = rejected.len() as u64;
        let rows = rejected.iter().map(|(id, r)| {
            vec![
                Value::from(id.as_str()),
                Value::from(r.source.chars().take(MAX_SOURCE_CHARS).collect::<String>()),
                Value::from(r.line),
                Value::from(r.reason.kind()),
                Value::from(r.reason.to_string()),
                Value::from(r.raw.as_str()),
            ]
        });
        let head = "INSERT INTO rejected (id, source, line, reason_kind, reason, raw) VALUES ";
        self.insert_rows(&mut tx, head, "", 6, rows)?;

        // Last: concurrent writers of this shard share rollup rows, and
        // each holds their locks until it commits.
        self.add_rollups(&mut tx, &delta)?;
        tx.commit().map_err(|e| self.err(e))?;
        self.remember_stored(&passes);
        Ok(summary)
    }

    /// Stores passes not stored yet: by `LOAD DATA LOCAL INFILE` from memory
    /// where the server allows it (it parses plain text as it arrives, the
    /// way its own loader does), else by multi-row INSERTs.
    fn insert_passes(
        &self,
        tx: &mut mysql::Transaction<'_>,
        passes: &[(&Pass, Derived)],
    ) -> Result<()> {
        if passes.is_empty() {
            return Ok(());
        }
        if self.load_data.load(Ordering::Relaxed) {
            match self.load_passes(tx, passes)? {
                Load::Done => return Ok(()),
                Load::Refused => self.load_data.store(false, Ordering::Relaxed),
                Load::Unclean => {
                    self.unclean_loads.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.insert_rows(
            tx,
            INSERT_PASSES,
            "",
            12,
            passes.iter().map(|(p, d)| pass_values(p, d)),
        )
    }

    /// `LOAD DATA LOCAL INFILE` of `passes`. LOCAL turns bad values into
    /// warnings and skips duplicate keys, so a load that did not store
    /// every row cleanly is undone ([`Load::Unclean`]): INSERT then reports
    /// the precise error, or the conflict with another writer, retried.
    fn load_passes(
        &self,
        tx: &mut mysql::Transaction<'_>,
        passes: &[(&Pass, Derived)],
    ) -> Result<Load> {
        let mut text = Vec::with_capacity(passes.len() * 192);
        for (p, d) in passes {
            write_load_row(&mut text, p, d);
        }
        tx.query_drop("SAVEPOINT before_load")
            .map_err(|e| self.err(e))?;
        tx.set_local_infile_handler(Some(LocalInfileHandler::new(move |_, out| {
            out.write_all(&text)
        })));
        let loaded = tx.query_drop(LOAD_PASSES);
        tx.set_local_infile_handler(None);
        match loaded {
            Err(mysql::Error::MySqlError(e)) if LOAD_REFUSED.contains(&e.code) => Ok(Load::Refused),
            Err(e) => Err(self.err(e)),
            Ok(()) if tx.affected_rows() == passes.len() as u64 && tx.warnings() == 0 => {
                Ok(Load::Done)
            }
            Ok(()) => {
                tx.query_drop("ROLLBACK TO SAVEPOINT before_load")
                    .map_err(|e| self.err(e))?;
                Ok(Load::Unclean)
            }
        }
    }

    /// Which of `keys` `select` (a query ending in `IN `) finds stored.
    fn existing<'k>(
        &self,
        tx: &mut mysql::Transaction<'_>,
        select: &str,
        keys: impl Iterator<Item = &'k str>,
    ) -> Result<BTreeSet<String>> {
        let keys: Vec<&str> = keys.collect();
        let mut found = BTreeSet::new();
        for chunk in keys.chunks(self.options.rows_per_statement.max(1)) {
            let sql = format!("{select}({})", placeholders(1, chunk.len()));
            let params: Vec<Value> = chunk.iter().map(|k| Value::from(*k)).collect();
            let rows: Vec<String> = tx.exec(sql, positional(params)).map_err(|e| self.err(e))?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Inserts `rows` of `width` values, several rows per statement.
    fn insert_rows(
        &self,
        tx: &mut mysql::Transaction<'_>,
        head: &str,
        tail: &str,
        width: usize,
        rows: impl Iterator<Item = Vec<Value>>,
    ) -> Result<()> {
        let per_statement = self.options.rows_per_statement.max(1);
        let mut params: Vec<Value> = Vec::with_capacity(per_statement * width);
        let mut flush = |params: &mut Vec<Value>| -> Result<()> {
            if params.is_empty() {
                return Ok(());
            }
            let n = params.len() / width;
            let sql = format!("{head}{}{tail}", placeholders(width, n));
            tx.exec_drop(sql, Params::Positional(std::mem::take(params)))
                .map_err(|e| self.err(e))
        };
        for row in rows {
            params.extend(row);
            if params.len() >= per_statement * width {
                flush(&mut params)?;
            }
        }
        flush(&mut params)
    }

    /// Adds the counts of newly stored passes to the rollups, each table's
    /// rows in key order so that concurrent writers lock them in one order.
    fn add_rollups(&self, tx: &mut mysql::Transaction<'_>, delta: &RollupDelta) -> Result<()> {
        if delta.is_empty() {
            return Ok(());
        }
        const ADD: &str = " ON DUPLICATE KEY UPDATE n = n + VALUES(n)";
        let rows = delta.per_checkpoint_hour().into_iter().map(|(k, d, h, n)| {
            vec![
                Value::from(k),
                Value::from(d),
                Value::from(h),
                Value::from(n),
            ]
        });
        self.insert_rows(
            tx,
            "INSERT INTO rollup_checkpoint_hour (kkmc, day, hour, n) VALUES ",
            ADD,
            4,
            rows,
        )?;
        let mut totals = delta.per_minute();
        totals.sort_unstable();
        let rows = totals
            .into_iter()
            .map(|(m, n)| vec![Value::from(m), Value::from(n)]);
        self.insert_rows(
            tx,
            "INSERT INTO rollup_minute_total (minute, n) VALUES ",
            ADD,
            2,
            rows,
        )?;
        let keyed: [(&str, Vec<(&str, u64)>); 3] = [
            (
                "INSERT INTO rollup_checkpoint (kkmc, n) VALUES ",
                delta.per_checkpoint().collect(),
            ),
            (
                "INSERT INTO rollup_province (province, n) VALUES ",
                delta.per_province().collect(),
            ),
            (
                "INSERT INTO rollup_vehicle_type (vehicle_type_name, n) VALUES ",
                delta.per_vehicle_type().collect(),
            ),
        ];
        for (head, mut counts) in keyed {
            counts.sort_unstable();
            let rows = counts
                .into_iter()
                .map(|(k, n)| vec![Value::from(k), Value::from(n)]);
            self.insert_rows(tx, head, ADD, 2, rows)?;
        }
        let mut hours: Vec<_> = delta.per_hour().collect();
        hours.sort_unstable();
        let rows = hours
            .into_iter()
            .map(|(d, h, n)| vec![Value::from(d), Value::from(h), Value::from(n)]);
        self.insert_rows(
            tx,
            "INSERT INTO rollup_hour (day, hour, n) VALUES ",
            ADD,
            3,
            rows,
        )
    }

    pub fn upsert_checkpoints<'a>(
        &self,
        checkpoints: impl Iterator<Item = &'a Checkpoint>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .map_err(|e| self.err(e))?;
        let mut sorted: Vec<&Checkpoint> = checkpoints.collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let rows = sorted.into_iter().map(|c| {
            vec![
                Value::from(c.name.as_str()),
                Value::from(c.code.as_str()),
                Value::from(c.location.map(|p| p.lon)),
                Value::from(c.location.map(|p| p.lat)),
            ]
        });
        self.insert_rows(
            &mut tx,
            "INSERT INTO checkpoints (kkmc, kkbh, lon, lat) VALUES ",
            " ON DUPLICATE KEY UPDATE kkbh = VALUES(kkbh), lon = VALUES(lon), lat = VALUES(lat)",
            4,
            rows,
        )?;
        tx.commit().map_err(|e| self.err(e))
    }

    // ---- reads ----

    fn rows(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        let mut conn = self.conn()?;
        conn.exec(sql, positional(params)).map_err(|e| self.err(e))
    }

    fn query_u64(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        let rows = self.rows(sql, params)?;
        match rows.into_iter().next() {
            Some(mut row) => self.take(&mut row, 0),
            None => Ok(0),
        }
    }

    fn counts(&self, sql: &str, params: Vec<Value>) -> Result<Vec<(String, u64)>> {
        self.rows(sql, params)?
            .into_iter()
            .map(|mut r| Ok((self.take(&mut r, 0)?, self.take(&mut r, 1)?)))
            .collect()
    }

    /// Column `i` of `row` as a `T`, or an error naming the shard.
    fn take<T: FromValue>(&self, row: &mut Row, i: usize) -> Result<T> {
        match row.take_opt::<T, usize>(i) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(self.corrupt(format!("column {i}: {e}"))),
            None => Err(self.corrupt(format!("column {i} is missing"))),
        }
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.name.clone().into(),
            message,
        }
    }

    fn passes(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Pass>> {
        self.rows(sql, params)?
            .into_iter()
            .map(|mut r| {
                Ok(Pass {
                    id: self.take(&mut r, 0)?,
                    district: self.take(&mut r, 1)?,
                    checkpoint: self.take(&mut r, 2)?,
                    direction: self.take(&mut r, 3)?,
                    time: self.take(&mut r, 4)?,
                    plate_type: self.take(&mut r, 5)?,
                    plate: self.take(&mut r, 6)?,
                    brand: self.take(&mut r, 7)?,
                })
            })
            .collect()
    }

    fn warning(&self, r: &mut Row) -> Result<Warning> {
        let rule: String = self.take(r, 12)?;
        Ok(Warning {
            id: self.take(r, 0)?,
            plate: self.take(r, 1)?,
            plate_type: self.take(r, 2)?,
            first: Sighting {
                pass_id: self.take(r, 3)?,
                checkpoint: self.take(r, 4)?,
                time: self.take(r, 5)?,
            },
            second: Sighting {
                pass_id: self.take(r, 6)?,
                checkpoint: self.take(r, 7)?,
                time: self.take(r, 8)?,
            },
            distance_km: self.take(r, 9)?,
            interval_s: self.take(r, 10)?,
            speed_kmh: self.take(r, 11)?,
            rule: Rule::parse(&rule).ok_or_else(|| self.corrupt(format!("rule {rule:?}")))?,
            detected_at: self.take(r, 13)?,
        })
    }
}

impl ShardRead for MysqlShard {
    type Value = Value;

    /// The rollups count every pass ever stored; retention's drops are
    /// taken off.
    fn pass_count(&self) -> Result<u64> {
        self.query_u64(
            "SELECT CAST(coalesce((SELECT sum(n) FROM rollup_checkpoint), 0) - \
             coalesce((SELECT CAST(`value` AS SIGNED) FROM meta WHERE `key` = 'passes_dropped'), 0) \
             AS SIGNED)",
            vec![],
        )
    }

    fn count_matching(&self, filter: &Filter) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM passes{}", filter.where_sql);
        self.query_u64(&sql, filter.params.clone())
    }

    fn province_count(&self, province: &str) -> Result<u64> {
        self.query_u64(
            "SELECT CAST(coalesce(sum(n), 0) AS SIGNED) FROM rollup_province WHERE province = ?",
            vec![Value::from(province)],
        )
    }

    fn pass_keys(
        &self,
        filter: &Filter,
        limit: u64,
        _by_time: bool,
    ) -> Result<Vec<(NaiveDateTime, String)>> {
        let mut params = filter.params.clone();
        params.push(Value::from(limit));
        let sql = format!(
            "SELECT gcsj, gcxh FROM passes{} ORDER BY gcsj DESC, gcxh DESC LIMIT ?",
            filter.where_sql
        );
        self.rows(&sql, params)?
            .into_iter()
            .map(|mut r| Ok((self.take(&mut r, 0)?, self.take(&mut r, 1)?)))
            .collect()
    }

    fn pass_page(
        &self,
        filter: &Filter,
        limit: u64,
        offset: u64,
        _by_time: bool,
    ) -> Result<Vec<Pass>> {
        let mut params = filter.params.clone();
        params.push(Value::from(limit));
        params.push(Value::from(offset));
        let sql = format!(
            "SELECT {PASS_COLUMNS} FROM passes{} ORDER BY gcsj DESC, gcxh DESC LIMIT ? OFFSET ?",
            filter.where_sql
        );
        self.passes(&sql, params)
    }

    fn pass_by_id(&self, id: &str) -> Result<Option<Pass>> {
        let sql = format!("SELECT {PASS_COLUMNS} FROM passes WHERE gcxh = ? LIMIT 1");
        Ok(self.passes(&sql, vec![Value::from(id)])?.pop())
    }

    fn passes_since(&self, since: NaiveDateTime) -> Result<Vec<Pass>> {
        let sql = format!("SELECT {PASS_COLUMNS} FROM passes WHERE gcsj >= ? ORDER BY gcsj, gcxh");
        self.passes(&sql, vec![Value::from(since)])
    }

    fn warning_count(&self, plate: Option<&str>) -> Result<u64> {
        match plate {
            Some(p) => self.query_u64(
                "SELECT count(*) FROM warnings WHERE hphm = ?",
                vec![Value::from(p)],
            ),
            None => self.query_u64("SELECT count(*) FROM warnings", vec![]),
        }
    }

    fn warnings(&self, plate: Option<&str>, limit: u64) -> Result<Vec<Warning>> {
        let order = "ORDER BY second_gcsj DESC, id LIMIT ?";
        let (sql, params) = match plate {
            Some(p) => (
                format!("SELECT {WARNING_COLUMNS} FROM warnings WHERE hphm = ? {order}"),
                vec![Value::from(p), Value::from(limit)],
            ),
            None => (
                format!("SELECT {WARNING_COLUMNS} FROM warnings {order}"),
                vec![Value::from(limit)],
            ),
        };
        self.rows(&sql, params)?
            .iter_mut()
            .map(|r| self.warning(r))
            .collect()
    }

    fn checkpoint_counts(&self) -> Result<Vec<(String, u64)>> {
        self.counts("SELECT kkmc, n FROM rollup_checkpoint", vec![])
    }

    fn province_counts(&self) -> Result<Vec<(String, u64)>> {
        self.counts("SELECT province, n FROM rollup_province", vec![])
    }

    fn vehicle_type_counts(&self) -> Result<Vec<(String, u64)>> {
        self.counts(
            "SELECT vehicle_type_name, n FROM rollup_vehicle_type",
            vec![],
        )
    }

    fn hours(&self, date: NaiveDate, checkpoint: Option<&str>) -> Result<Vec<(u64, u64)>> {
        let rows = match checkpoint {
            None => self.rows(
                "SELECT hour, n FROM rollup_hour WHERE day = ?",
                vec![Value::from(date)],
            )?,
            Some(k) => self.rows(
                "SELECT hour, n FROM rollup_checkpoint_hour WHERE kkmc = ? AND day = ?",
                vec![Value::from(k), Value::from(date)],
            )?,
        };
        rows.into_iter()
            .map(|mut r| Ok((self.take(&mut r, 0)?, self.take(&mut r, 1)?)))
            .collect()
    }

    fn minutes(&self, range: &Range<NaiveDateTime>) -> Result<Vec<(NaiveDateTime, u64)>> {
        self.rows(
            "SELECT minute, n FROM rollup_minute_total WHERE minute >= ? AND minute < ?",
            vec![Value::from(range.start), Value::from(range.end)],
        )?
        .into_iter()
        .map(|mut r| Ok((self.take(&mut r, 0)?, self.take(&mut r, 1)?)))
        .collect()
    }

    fn rejected_counts(&self) -> Result<Vec<(String, u64)>> {
        self.counts(
            "SELECT reason_kind, count(*) FROM rejected GROUP BY reason_kind",
            vec![],
        )
    }

    fn rejected_total(&self) -> Result<u64> {
        self.query_u64("SELECT count(*) FROM rejected", vec![])
    }

    fn rejected_rows(&self, limit: u64, offset: u64) -> Result<Vec<RejectedRow>> {
        self.rows(
            "SELECT seq, source, line, reason_kind, reason, raw FROM rejected \
             ORDER BY seq LIMIT ? OFFSET ?",
            vec![Value::from(limit), Value::from(offset)],
        )?
        .into_iter()
        .map(|mut r| {
            Ok(RejectedRow {
                id: self.take(&mut r, 0)?,
                source: self.take(&mut r, 1)?,
                line: self.take(&mut r, 2)?,
                kind: self.take(&mut r, 3)?,
                reason: self.take(&mut r, 4)?,
                raw: self.take(&mut r, 5)?,
            })
        })
        .collect()
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        self.rows(
            "SELECT kkmc, kkbh, lon, lat FROM checkpoints ORDER BY kkmc",
            vec![],
        )?
        .into_iter()
        .map(|mut r| {
            let lon: Option<f64> = self.take(&mut r, 2)?;
            let lat: Option<f64> = self.take(&mut r, 3)?;
            Ok(Checkpoint {
                name: self.take(&mut r, 0)?,
                code: self.take(&mut r, 1)?,
                location: lon.zip(lat).map(|(lon, lat)| GeoPoint { lon, lat }),
            })
        })
        .collect()
    }
}

fn warning_values(w: &Warning) -> Vec<Value> {
    vec![
        Value::from(w.id.as_str()),
        Value::from(w.plate.as_str()),
        Value::from(w.plate_type.as_str()),
        Value::from(w.first.pass_id.as_str()),
        Value::from(w.first.checkpoint.as_str()),
        Value::from(w.first.time),
        Value::from(w.second.pass_id.as_str()),
        Value::from(w.second.checkpoint.as_str()),
        Value::from(w.second.time),
        Value::from(w.distance_km),
        Value::from(w.interval_s),
        Value::from(w.speed_kmh),
        Value::from(w.rule.as_str()),
        Value::from(w.detected_at),
    ]
}

/// The stored id of a rejected row: re-importing a file finds its rows
/// already stored by (source, line, kind, raw).
fn rejection_id(r: &Rejection) -> String {
    let mut key = Vec::with_capacity(r.source.len() + r.raw.len() + 32);
    for part in [
        r.source.as_bytes(),
        &r.line.to_le_bytes(),
        r.reason.kind().as_bytes(),
    ] {
        key.extend_from_slice(part);
        key.push(0);
    }
    key.extend_from_slice(r.raw.as_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

/// A GCXH's hash for [`MysqlShard::begin_bulk`]'s memory: 8 bytes a pass
/// instead of the text.
fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// `(?, ?), (?, ?)`: `rows` groups of `width` placeholders.
fn placeholders(width: usize, rows: usize) -> String {
    let group = format!("({})", vec!["?"; width].join(", "));
    vec![group.as_str(); rows].join(", ")
}

fn positional(params: Vec<Value>) -> Params {
    if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params)
    }
}

fn to_days(day: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&day)) + TO_DAYS_OFFSET
}

/// `YYYYMMDD` of a `TO_DAYS` value.
fn day_label(to_days: i64) -> String {
    i32::try_from(to_days - TO_DAYS_OFFSET)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(|d| d.format("%Y%m%d").to_string())
        .unwrap_or_else(|| to_days.to_string())
}

/// A statement of schema.sql without its comment lines.
fn strip_comments(statement: &str) -> String {
    statement
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// A pass's columns for a multi-row INSERT, in [`INSERT_PASSES`] order.
fn pass_values(p: &Pass, d: &Derived) -> Vec<Value> {
    vec![
        Value::from(p.id.as_str()),
        Value::from(p.district.as_str()),
        Value::from(p.checkpoint.as_str()),
        Value::from(p.direction.as_str()),
        Value::from(p.time),
        Value::from(p.plate_type.as_str()),
        Value::from(p.plate.as_str()),
        Value::from(p.brand.as_str()),
        Value::from(d.province),
        Value::from(d.is_weekend),
        Value::from(d.is_peak_hour),
        Value::from(d.vehicle_type),
    ]
}

/// A pass as one line of [`LOAD_PASSES`]: tab-separated fields, with
/// backslash, tab, newline, carriage return and NUL escaped.
fn write_load_row(out: &mut Vec<u8>, p: &Pass, d: &Derived) {
    let mut time = String::with_capacity(19);
    write_pass_time(p.time, &mut time);
    let fields: [&str; 12] = [
        &p.id,
        &p.district,
        &p.checkpoint,
        &p.direction,
        &time,
        &p.plate_type,
        &p.plate,
        &p.brand,
        d.province,
        if d.is_weekend { "1" } else { "0" },
        if d.is_peak_hour { "1" } else { "0" },
        d.vehicle_type,
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let bytes = field.as_bytes();
        // Almost no field needs escaping: copy those whole.
        if !bytes
            .iter()
            .any(|&b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0))
        {
            out.extend_from_slice(bytes);
            continue;
        }
        for &b in bytes {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                0 => out.extend_from_slice(b"\\0"),
                _ => out.push(b),
            }
        }
    }
    out.push(b'\n');
}

/// A conflict with a concurrent writer, which the same transaction, tried
/// again, gets past.
fn is_conflict(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m)
        if matches!(m.code, ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT | ER_DUP_ENTRY))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn to_days_matches_mysql() {
        // SELECT TO_DAYS('2026-12-05') → 740320 on MariaDB 10.11.
        let d = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(to_days(d), 740320);
        assert_eq!(day_label(to_days(d)), "20261205");
    }

    #[test]
    fn placeholder_groups() {
        assert_eq!(placeholders(2, 3), "(?, ?), (?, ?), (?, ?)");
    }

    #[test]
    fn schema_statements_lose_only_comments() {
        let statements: Vec<String> = SCHEMA
            .split(";\n")
            .map(strip_comments)
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(statements.len(), 11);
        assert!(statements
            .iter()
            .all(|s| s.starts_with("CREATE TABLE IF NOT EXISTS")));
    }
}
