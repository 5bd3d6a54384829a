//! The embedded time-series store for IoT readings: series with tags,
//! points idempotent on (series, millisecond), range queries downsampled by
//! step and aggregation, and 1-minute and 1-hour rollups kept as points
//! arrive — what users otherwise run InfluxDB for, in one SQLite file.
//!
//! A range query whose step and bounds fall on whole minutes (hours) reads
//! the minute (hour) rollup instead of the points, so a day of per-second
//! readings downsampled to minutes reads 1,440 rows, not 86,400; rollups
//! outlive the points [`SeriesStore::apply_retention`] removes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use gantry_core::iot::retention::RetentionPolicy;
use gantry_core::iot::{step_start, Agg, Point};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::sqlite::AtPath;
use crate::StoreError;

const SCHEMA: &str = include_str!("schema.sql");

/// The file the store keeps under a data dir.
pub const FILE_NAME: &str = "series.sqlite";

/// The most values one range query returns; a wider range needs a step.
pub const MAX_RANGE_VALUES: i64 = 100_000;

/// How long a write waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A series as listed: its tags and newest value.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub points: u64,
    /// Epoch ms and value of the newest point.
    pub last: Option<(i64, f64)>,
}

/// Points of one series in `[start_ms, end_ms)`, one value per `step_ms`
/// (reduced by `agg`), or every point when `step_ms` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeQuery {
    pub series: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: Option<i64>,
    pub agg: Agg,
}

/// Count, mean, min and max of one series over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesStats {
    pub name: String,
    pub count: u64,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// A payload no format fits, as [`SeriesStore::reject`] keeps it.
#[derive(Debug, Clone, Copy)]
pub struct RejectedPayload<'a> {
    pub at_ms: i64,
    pub source: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub payload: &'a [u8],
}

/// What a [`SeriesStore::write`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PointsWritten {
    /// Points stored for the first time.
    pub inserted: u64,
    /// Points whose series already held a point at that millisecond.
    pub duplicates: u64,
}

/// A stored point queued for an external sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub seq: i64,
    pub series: String,
    pub tags: BTreeMap<String, String>,
    pub time_ms: i64,
    pub value: f64,
}

/// The store. See the [module docs](self).
pub struct SeriesStore {
    conn: Connection,
    path: PathBuf,
}

impl SeriesStore {
    /// Opens (creating when missing) `series.sqlite` under `dir`.
    pub fn open(dir: &Path) -> Result<SeriesStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let mut conn = Connection::open(&path).at(&path)?;
        // Several servers may open one data dir at once (each creates the
        // schema when missing): wait for each other rather than fail.
        conn.busy_timeout(BUSY_TIMEOUT).at(&path)?;
        // Writes, ranges (a statement per source and aggregation), stats
        // and the sinks' queue share this connection: keep all prepared.
        conn.set_prepared_statement_cache_capacity(64);
        until_not_busy(|| {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        })
        .at(&path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .at(&path)?;
        // IMMEDIATE: a schema check that reads, then writes, would get
        // SQLITE_BUSY at once (no busy wait) when another process wrote
        // in between.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        tx.execute_batch(SCHEMA).at(&path)?;
        tx.commit().at(&path)?;
        Ok(SeriesStore { conn, path })
    }

    /// Stores `points` in one transaction; a point whose series already
    /// holds one at that millisecond is skipped (the first one stays), so
    /// a replayed message changes nothing.
    pub fn write(&mut self, points: &[Point]) -> Result<PointsWritten, StoreError> {
        let path = self.path.clone();
        // IMMEDIATE takes the write lock first, so a writer in another
        // process makes this one wait (busy timeout) instead of failing.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let forwarding = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM forward_cursor)")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, bool>(0)))
            .at(&path)?;
        let mut written = PointsWritten::default();
        let mut ids: HashMap<&str, i64> = HashMap::new();
        let mut additions = Additions::default();
        for point in points {
            let id = match ids.get(point.series.as_str()) {
                Some(&id) => id,
                None => {
                    let id = series_id_or_insert(&tx, point).at(&path)?;
                    ids.insert(&point.series, id);
                    id
                }
            };
            if insert_point(&tx, id, point).at(&path)? {
                written.inserted += 1;
                additions.add(id, point);
                if forwarding {
                    queue_point(&tx, id, point).at(&path)?;
                }
            } else {
                written.duplicates += 1;
            }
        }
        additions.apply(&tx).at(&path)?;
        tx.commit().at(&path)?;
        Ok(written)
    }

    /// Registers an external sink: from now on every stored point is
    /// queued for it until [`forwarded`](Self::forwarded) says it has it.
    /// A sink registered before keeps its place.
    pub fn register_sink(&mut self, sink: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO forward_cursor (sink, seq) \
                 SELECT ?1, coalesce(max(seq), 0) FROM forward_queue",
                [sink],
            )
            .at(&self.path)?;
        Ok(())
    }

    /// Up to `limit` points queued for `sink`, oldest first.
    pub fn pending(&self, sink: &str, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT q.seq, s.name, s.tags, q.ts, q.value FROM forward_queue q \
                 JOIN series s ON s.id = q.series \
                 WHERE q.seq > (SELECT seq FROM forward_cursor WHERE sink = ?1) \
                 ORDER BY q.seq LIMIT ?2",
            )
            .at(&self.path)?;
        let rows = statement
            .query_map(
                params![sink, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    let tags: String = r.get(2)?;
                    Ok(Queued {
                        seq: r.get(0)?,
                        series: r.get(1)?,
                        tags: serde_json::from_str(&tags).unwrap_or_default(),
                        time_ms: r.get(3)?,
                        value: r.get(4)?,
                    })
                },
            )
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().at(&self.path)
    }

    /// The queue position `sink` has every point through, or `None` for
    /// a sink never registered.
    pub fn cursor(&self, sink: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT seq FROM forward_cursor WHERE sink = ?1",
                [sink],
                |r| r.get(0),
            )
            .optional()
            .at(&self.path)
    }

    /// `sink` has every queued point through `seq`; points every sink
    /// has are dropped from the queue.
    pub fn forwarded(&mut self, sink: &str, seq: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        tx.execute(
            "UPDATE forward_cursor SET seq = max(seq, ?2) WHERE sink = ?1",
            params![sink, seq],
        )
        .at(&path)?;
        tx.execute(
            "DELETE FROM forward_queue WHERE seq <= (SELECT min(seq) FROM forward_cursor)",
            [],
        )
        .at(&path)?;
        tx.commit().at(&path)
    }

    /// Points queued for `sink` that it does not have yet.
    pub fn backlog(&self, sink: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM forward_queue \
                 WHERE seq > (SELECT seq FROM forward_cursor WHERE sink = ?1)",
                [sink],
                |r| r.get(0),
            )
            .at(&self.path)
    }

    /// Keeps a payload no format fits, with its source (MQTT topic or
    /// "http"), the reason code and message, so nothing is lost silently.
    pub fn reject(&mut self, rejected: &RejectedPayload<'_>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO rejected (at_ms, source, reason, message, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    rejected.at_ms,
                    rejected.source,
                    rejected.reason,
                    rejected.message,
                    rejected.payload
                ])
            })
            .at(&self.path)?;
        Ok(())
    }

    /// Rejected payloads per reason code.
    pub fn rejected_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT reason, count(*) FROM rejected GROUP BY reason")
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                ))
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().at(&self.path)
    }

    /// Every series, by name.
    pub fn series(&self) -> Result<Vec<SeriesInfo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, tags, points, last_ts, last_value FROM series ORDER BY name",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map([], |r| {
                let tags: String = r.get(1)?;
                let last = match (r.get::<_, Option<i64>>(3)?, r.get::<_, Option<f64>>(4)?) {
                    (Some(ts), Some(value)) => Some((ts, value)),
                    _ => None,
                };
                Ok((r.get::<_, String>(0)?, tags, r.get::<_, i64>(2)?, last))
            })
            .at(&self.path)?;
        let mut out = Vec::new();
        for row in rows {
            let (name, tags, points, last) = row.at(&self.path)?;
            out.push(SeriesInfo {
                tags: self.tags(&tags)?,
                name,
                points: u64::try_from(points).unwrap_or(0),
                last,
            });
        }
        Ok(out)
    }

    /// The newest point of every series, for the in-memory latest values a
    /// server restores on start.
    pub fn latest(&self) -> Result<BTreeMap<String, (i64, f64)>, StoreError> {
        Ok(self
            .series()?
            .into_iter()
            .filter_map(|s| Some((s.name, s.last?)))
            .collect())
    }

    /// The newest point of one series, if it has any.
    pub fn latest_of(&self, name: &str) -> Result<Option<(i64, f64)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT last_ts, last_value FROM series WHERE name = ?1 AND last_ts IS NOT NULL",
            )
            .and_then(|mut s| {
                s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .at(&self.path)
    }

    /// `(ts, value)` pairs of the query, in time order; downsampled ones are
    /// stamped with their step's start.
    pub fn range(&self, query: &RangeQuery) -> Result<Vec<(i64, f64)>, StoreError> {
        check_range(query)?;
        let Some(id) = self.series_id(&query.series)? else {
            return Ok(Vec::new());
        };
        let Some(step) = query.step_ms else {
            return self.raw_points(id, query);
        };
        let (start, end) = (query.start_ms, query.end_ms);
        let parts = match rollup_for(start, end, step) {
            Some(source) => vec![(source, start, end)],
            None => split_parts(start, end, step),
        };
        self.downsample(id, &parts, step, query.agg)
    }

    /// Count, mean, min and max per series over `[start_ms, end_ms)` — the
    /// classic Spark job's per-sensor averages.
    pub fn stats(&self, start_ms: i64, end_ms: i64) -> Result<Vec<SeriesStats>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.name, count(*), avg(p.value), min(p.value), max(p.value) \
                 FROM points p JOIN series s ON s.id = p.series \
                 WHERE p.ts >= ?1 AND p.ts < ?2 GROUP BY p.series ORDER BY s.name",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(params![start_ms, end_ms], |r| {
                Ok(SeriesStats {
                    name: r.get(0)?,
                    count: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    avg: r.get(2)?,
                    min: r.get(3)?,
                    max: r.get(4)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().at(&self.path)
    }

    /// Retention by `policy` at `now_ms`: drops each series' points older
    /// than its measurement's days, a series at a time (short write locks
    /// between ingest), keeping rollups and latest values. Returns how many.
    pub fn apply_retention(
        &mut self,
        policy: &RetentionPolicy,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        if !policy.drops_anything() {
            return Ok(0);
        }
        let series: Vec<(i64, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, name FROM series")
                .at(&self.path)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .at(&self.path)?;
            rows.collect::<rusqlite::Result<_>>().at(&self.path)?
        };
        let mut dropped = 0;
        for (id, name) in series {
            let Some(days) = policy.days_for(&name) else {
                continue;
            };
            let before_ms = now_ms.saturating_sub(i64::from(days) * 86_400_000);
            dropped += self
                .conn
                .prepare_cached("DELETE FROM points WHERE series = ?1 AND ts < ?2")
                .and_then(|mut s| s.execute(params![id, before_ms]))
                .at(&self.path)? as u64;
        }
        Ok(dropped)
    }

    /// Whether a series of that name has ever had a point.
    pub fn has_series(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.series_id(name)?.is_some())
    }

    fn series_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT id FROM series WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .at(&self.path)
    }

    /// One value per step from `parts` (sources and their time spans, in
    /// time order). Rows are read in time order and folded into steps as
    /// they come: a `GROUP BY` step would sort every row in a temporary
    /// b-tree first, which took most of a long range's time.
    fn downsample(
        &self,
        id: i64,
        parts: &[(Source, i64, i64)],
        step: i64,
        agg: Agg,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut steps: Vec<(i64, Partial)> = Vec::new();
        for &(source, from, to) in parts.iter().filter(|(_, from, to)| from < to) {
            let sql = rows_sql(source, agg);
            let mut stmt = self.conn.prepare_cached(&sql).at(&self.path)?;
            let mut rows = stmt.query(params![id, from, to]).at(&self.path)?;
            while let Some(row) = rows.next().at(&self.path)? {
                let (at, partial) = Partial::of_row(source, agg, row).at(&self.path)?;
                let at = step_start(at, step);
                match steps.last_mut() {
                    Some((last, sofar)) if *last == at => sofar.merge(&partial),
                    _ => steps.push((at, partial)),
                }
            }
        }
        Ok(steps
            .into_iter()
            .map(|(at, p)| (at, p.value(agg)))
            .collect())
    }

    fn raw_points(&self, id: i64, query: &RangeQuery) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ts, value FROM points WHERE series = ?1 AND ts >= ?2 AND ts < ?3 \
                 ORDER BY ts LIMIT ?4",
            )
            .at(&self.path)?;
        let rows = stmt
            .query_map(
                params![id, query.start_ms, query.end_ms, MAX_RANGE_VALUES + 1],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)),
            )
            .at(&self.path)?;
        let points: Vec<(i64, f64)> = rows.collect::<rusqlite::Result<_>>().at(&self.path)?;
        if points.len() as i64 > MAX_RANGE_VALUES {
            return Err(StoreError::InvalidQuery(format!(
                "the range holds more than {MAX_RANGE_VALUES} points: give a step"
            )));
        }
        Ok(points)
    }

    fn tags(&self, json: &str) -> Result<BTreeMap<String, String>, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: format!("series tags {json:?}: {e}"),
        })
    }
}

/// Inserts one point of series `id`; `false` when the series already
/// held a point at that millisecond.
fn insert_point(tx: &Transaction<'_>, id: i64, point: &Point) -> rusqlite::Result<bool> {
    let extra =
        (!point.extra.is_empty()).then(|| serde_json::to_string(&point.extra).unwrap_or_default());
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO points (series, ts, value, extra) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, point.time_ms, point.value, extra])?;
    Ok(inserted == 1)
}

/// What one write adds to the series rows (count, newest value) and to the
/// minute and hour rollups, summed per series and bucket so each row is
/// updated once per write rather than once per point.
#[derive(Default)]
struct Additions {
    series: BTreeMap<i64, Partial>,
    minutes: BTreeMap<(i64, i64), Partial>,
    hours: BTreeMap<(i64, i64), Partial>,
}

impl Additions {
    fn add(&mut self, id: i64, point: &Point) {
        let partial = Partial::point(point.time_ms, point.value);
        merge_into(&mut self.series, id, &partial);
        merge_into(
            &mut self.minutes,
            (id, step_start(point.time_ms, MINUTE_MS)),
            &partial,
        );
        merge_into(
            &mut self.hours,
            (id, step_start(point.time_ms, HOUR_MS)),
            &partial,
        );
    }

    fn apply(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for (id, p) in &self.series {
            tx.prepare_cached(
                "UPDATE series SET points = points + ?4, \
                   last_value = CASE WHEN last_ts IS NULL OR ?2 >= last_ts THEN ?3 ELSE last_value END, \
                   last_ts = max(coalesce(last_ts, ?2), ?2) \
                 WHERE id = ?1",
            )?
            .execute(params![id, p.last.0, p.last.1, p.n])?;
        }
        for (table, rows) in [("rollup_1m", &self.minutes), ("rollup_1h", &self.hours)] {
            for (&(id, bucket), p) in rows {
                add_to_rollup(tx, table, id, bucket, p)?;
            }
        }
        Ok(())
    }
}

fn merge_into<K: Ord>(into: &mut BTreeMap<K, Partial>, key: K, partial: &Partial) {
    into.entry(key)
        .and_modify(|p| p.merge(partial))
        .or_insert(*partial);
}

fn queue_point(tx: &Transaction<'_>, series: i64, point: &Point) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO forward_queue (series, ts, value) VALUES (?1, ?2, ?3)")?
        .execute(params![series, point.time_ms, point.value])?;
    Ok(())
}

fn series_id_or_insert(tx: &Transaction<'_>, point: &Point) -> rusqlite::Result<i64> {
    let found = tx
        .prepare_cached("SELECT id FROM series WHERE name = ?1")?
        .query_row([&point.series], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    let tags = serde_json::to_string(&point.tags).unwrap_or_else(|_| "{}".into());
    tx.prepare_cached("INSERT INTO series (name, tags) VALUES (?1, ?2)")?
        .execute(params![point.series, tags])?;
    Ok(tx.last_insert_rowid())
}

/// Adds `p` to a rollup row. `table` is one of two constant names, never
/// user input.
fn add_to_rollup(
    tx: &Transaction<'_>,
    table: &str,
    id: i64,
    bucket: i64,
    p: &Partial,
) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO {table} (series, bucket, n, sum, min, max, last_ts, last_value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (series, bucket) DO UPDATE SET \
           n = n + excluded.n, sum = sum + excluded.sum, \
           min = min(min, excluded.min), max = max(max, excluded.max), \
           last_value = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last_value ELSE last_value END, \
           last_ts = max(last_ts, excluded.last_ts)"
    );
    tx.prepare_cached(&sql)?.execute(params![
        id, bucket, p.n, p.sum, p.min, p.max, p.last.0, p.last.1
    ])?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Points,
    Minutes,
    Hours,
}

/// The coarsest rollup that answers a query exactly: its step and bounds
/// must fall on the rollup's boundaries.
fn rollup_for(start_ms: i64, end_ms: i64, step_ms: i64) -> Option<Source> {
    [(HOUR_MS, Source::Hours), (MINUTE_MS, Source::Minutes)]
        .into_iter()
        .find(|(unit, _)| step_ms % unit == 0 && start_ms % unit == 0 && end_ms % unit == 0)
        .map(|(_, source)| source)
}

/// The parts of a range whose bounds are off the rollups' edges: the
/// whole minutes (hours, when the step is whole hours) inside it from the
/// rollup, the ragged ends from the points — so a long range off the hour
/// still reads few rows.
fn split_parts(start: i64, end: i64, step: i64) -> Vec<(Source, i64, i64)> {
    let unit = [HOUR_MS, MINUTE_MS].into_iter().find(|u| step % u == 0);
    let inner = unit.map(|u| {
        (
            start + (u - start.rem_euclid(u)) % u,
            end - end.rem_euclid(u),
            u,
        )
    });
    match inner {
        Some((from, to, unit)) if from < to => {
            let rollup = if unit == HOUR_MS {
                Source::Hours
            } else {
                Source::Minutes
            };
            vec![
                (Source::Points, start, from),
                (rollup, from, to),
                (Source::Points, to, end),
            ]
        }
        _ => vec![(Source::Points, start, end)],
    }
}

/// The rows of a source in `[?2, ?3)` of series `?1`, in time order: a
/// point's time and value, or a rollup's bucket and only the columns `agg`
/// needs (each column read costs, over a long range's many rows).
fn rows_sql(source: Source, agg: Agg) -> String {
    let table = match source {
        Source::Points => {
            return "SELECT ts, value FROM points WHERE series = ?1 AND ts >= ?2 AND ts < ?3 \
                    ORDER BY ts"
                .into()
        }
        Source::Minutes => "rollup_1m",
        Source::Hours => "rollup_1h",
    };
    let columns = match agg {
        Agg::Avg => "n, sum",
        Agg::Sum => "sum",
        Agg::Count => "n",
        Agg::Min => "min",
        Agg::Max => "max",
        Agg::Last => "last_ts, last_value",
    };
    format!(
        "SELECT bucket, {columns} FROM {table} \
         WHERE series = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket"
    )
}

/// One step's aggregate over part of its span.
#[derive(Debug, Clone, Copy)]
struct Partial {
    n: i64,
    sum: f64,
    min: f64,
    max: f64,
    /// Time and value of the newest point.
    last: (i64, f64),
}

impl Partial {
    /// Nothing yet: what any merge leaves as it was.
    const EMPTY: Partial = Partial {
        n: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        last: (i64::MIN, f64::NAN),
    };

    fn point(ts: i64, value: f64) -> Partial {
        Partial {
            n: 1,
            sum: value,
            min: value,
            max: value,
            last: (ts, value),
        }
    }

    /// The time and aggregate of one row of [`rows_sql`].
    fn of_row(
        source: Source,
        agg: Agg,
        row: &rusqlite::Row<'_>,
    ) -> rusqlite::Result<(i64, Partial)> {
        let at = row.get(0)?;
        if source == Source::Points {
            return Ok((at, Partial::point(at, row.get(1)?)));
        }
        let mut p = Partial::EMPTY;
        match agg {
            Agg::Avg => (p.n, p.sum) = (row.get(1)?, row.get(2)?),
            Agg::Sum => p.sum = row.get(1)?,
            Agg::Count => p.n = row.get(1)?,
            Agg::Min => p.min = row.get(1)?,
            Agg::Max => p.max = row.get(1)?,
            Agg::Last => p.last = (row.get(1)?, row.get(2)?),
        }
        Ok((at, p))
    }

    fn merge(&mut self, other: &Partial) {
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.last.0 > self.last.0 {
            self.last = other.last;
        }
    }

    fn value(&self, agg: Agg) -> f64 {
        match agg {
            Agg::Avg => self.sum / self.n as f64,
            Agg::Min => self.min,
            Agg::Max => self.max,
            Agg::Sum => self.sum,
            Agg::Count => self.n as f64,
            Agg::Last => self.last.1,
        }
    }
}

fn check_range(query: &RangeQuery) -> Result<(), StoreError> {
    let bad = |why: String| Err(StoreError::InvalidQuery(why));
    if query.end_ms <= query.start_ms {
        return bad("end must be after start".into());
    }
    match query.step_ms {
        Some(step) if step <= 0 => bad("step must be positive".into()),
        Some(step) if (query.end_ms - query.start_ms) / step > MAX_RANGE_VALUES => bad(format!(
            "start..end at this step gives more than {MAX_RANGE_VALUES} values: widen the step"
        )),
        _ => Ok(()),
    }
}

/// Runs `f` again while SQLite answers "busy" without waiting itself
/// (switching the journal mode of a file another process has open), for
/// at most [`BUSY_TIMEOUT`].
fn until_not_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
