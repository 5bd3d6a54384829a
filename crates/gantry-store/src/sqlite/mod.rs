//! The embedded store: one SQLite file per shard, in WAL mode.
//!
//! Layout of a data dir:
//!
//! ```text
//! gantry-store.meta    engine and shard count ("shards = 2")
//! shard-0.sqlite       passes of the checkpoints MyCat routes to shard 0,
//!                      their rollups and warnings; rejected rows; checkpoints
//! shard-1.sqlite       …
//! ```
//!
//! Writes go to every shard in parallel, one thread and one connection per
//! shard, one transaction per shard per batch. Other processes may open the
//! same dir read-only ([`SqliteStore::open_readonly`]) while a writer runs.

mod codec;
mod shard;
#[cfg(test)]
mod tests;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_core::{CheckpointDirectory, Pass, ShardRouter};

use self::shard::ShardDb;
use crate::fanout::Shards;
use crate::work::split;
use crate::{Batch, Store, StoreError, WriteSummary};

pub(crate) use self::shard::AtPath;
pub use self::shard::BULK_INDEXES;

/// The metadata file of a data dir.
pub const META_FILE: &str = "gantry-store.meta";

/// Page cache while rebuilding indexes after a bulk load, MiB per shard.
/// It also bounds each in-memory run of SQLite's sorter (a linked-list merge
/// sort); runs that stay near the CPU caches sort fastest. Measured on 10M
/// passes: 16 MiB 18.1 s, 8 MiB 14.7 s, 4 MiB 12.7 s, 2 MiB 13.3 s.
const INDEX_BUILD_CACHE_MIB: u32 = 4;

/// Tuning of the SQLite connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Page cache per shard connection, MiB. Bounds the memory of writes and
    /// index builds: peak RSS grows with shards × this, not with data size.
    pub cache_mib: u32,
    /// Memory-mapped reads per shard connection, MiB (0: off). Mapped pages
    /// count towards RSS, so keep this modest on a writer.
    pub mmap_mib: u32,
    /// How long to wait for a lock held by another connection.
    pub busy_timeout: Duration,
    /// Pages of WAL after which a commit copies the WAL back into the database.
    pub wal_autocheckpoint_pages: u32,
    /// Page size of new shard files, bytes (a power of two, 512–65536).
    pub page_size: u32,
    /// Page cache of all shards together while in bulk mode, MiB, split
    /// evenly (but at least `cache_mib` per shard), for the shards that keep
    /// their GCXH index (those that hold passes; an empty shard appends
    /// with `cache_mib`). Random gcxh keys touch
    /// the whole key index on every batch; it must stay cached to load fast
    /// (the key index takes ~28 MiB per million passes of a shard).
    pub bulk_cache_total_mib: u32,
    /// In bulk mode, a shard commits once it holds this many new passes
    /// (and at `end_bulk`, `flush` and `close`) instead of after every batch.
    pub bulk_commit_rows: u64,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            cache_mib: 64,
            mmap_mib: 0,
            busy_timeout: Duration::from_secs(10),
            wal_autocheckpoint_pages: 8192,
            page_size: 16384,
            bulk_cache_total_mib: 384,
            bulk_commit_rows: 1_000_000,
        }
    }
}

impl SqliteOptions {
    /// Settings for a process that only reads (an API server).
    pub fn reader() -> Self {
        SqliteOptions {
            cache_mib: 32,
            mmap_mib: 128,
            ..Self::default()
        }
    }
}

/// The embedded store. See the [module docs](self).
pub struct SqliteStore {
    dir: PathBuf,
    options: SqliteOptions,
    shards: Vec<ShardDb>,
    router: ShardRouter,
    read_only: bool,
    bulk: bool,
    closed: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("dir", &self.dir)
            .field("shards", &self.shards.len())
            .field("read_only", &self.read_only)
            .field("bulk", &self.bulk)
            .field("closed", &self.closed)
            .finish()
    }
}

impl SqliteStore {
    /// Opens the store in `data_dir` for reading and writing, creating the dir
    /// and `shards` shard files if missing. A dir created with another shard
    /// count is an error: rows would be on the wrong shards.
    pub fn open(data_dir: &Path, shards: usize) -> Result<Self, StoreError> {
        Self::open_with(data_dir, shards, SqliteOptions::default())
    }

    pub fn open_with(
        data_dir: &Path,
        shards: usize,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        if shards == 0 {
            return Err(StoreError::NoShards);
        }
        fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.to_owned(),
            source,
        })?;
        match read_meta(data_dir)? {
            Some(found) if found != shards => {
                return Err(StoreError::ShardCountMismatch {
                    dir: data_dir.to_owned(),
                    found,
                    asked: shards,
                })
            }
            Some(_) => {}
            None => {
                if shard_path(data_dir, 0).exists() {
                    return Err(StoreError::BadMetadata {
                        path: data_dir.join(META_FILE),
                        message:
                            "missing, but the dir holds shard files; restore it or use another dir"
                                .into(),
                    });
                }
                write_meta(data_dir, shards)?;
            }
        }
        let dbs = (0..shards)
            .map(|i| ShardDb::open_rw(shard_path(data_dir, i), i, shards, &options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::assemble(data_dir, options, dbs, false))
    }

    fn assemble(
        data_dir: &Path,
        options: SqliteOptions,
        dbs: Vec<ShardDb>,
        read_only: bool,
    ) -> Self {
        SqliteStore {
            dir: data_dir.to_owned(),
            options,
            router: ShardRouter::mycat(dbs.len()),
            shards: dbs,
            read_only,
            bulk: false,
            closed: false,
        }
    }

    /// Opens an existing store for reading only, alongside a writer.
    pub fn open_readonly(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_readonly_with(data_dir, SqliteOptions::reader())
    }

    pub fn open_readonly_with(data_dir: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let shards = read_meta(data_dir)?.ok_or_else(|| StoreError::BadMetadata {
            path: data_dir.join(META_FILE),
            message: "not found: no gantry store in this dir".into(),
        })?;
        let dbs = (0..shards)
            .map(|i| ShardDb::open_ro(shard_path(data_dir, i), i, shards, &options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::assemble(data_dir, options, dbs, true))
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The file of shard `index`.
    pub fn shard_path(&self, index: usize) -> PathBuf {
        shard_path(&self.dir, index)
    }

    /// Up to `limit` passes of shard `index` stored after row `rowid`, in
    /// storage order, with their rowids (see [`ShardDb::passes_after`]).
    pub fn passes_after(
        &self,
        index: usize,
        rowid: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Pass)>, StoreError> {
        self.shard(index)?.passes_after(rowid, limit)
    }

    /// Passes of shard `index` stored after row `rowid`.
    pub fn count_after(&self, index: usize, rowid: i64) -> Result<u64, StoreError> {
        self.shard(index)?.count_after(rowid)
    }

    fn shard(&self, index: usize) -> Result<&ShardDb, StoreError> {
        self.live()?
            .get(index)
            .ok_or_else(|| StoreError::BadMetadata {
                path: self.dir.clone(),
                message: format!("no shard {index}: the store has {}", self.shards.len()),
            })
    }

    pub fn is_bulk(&self) -> bool {
        self.bulk
    }

    /// Index names on each shard (from `sqlite_master`).
    pub fn index_names(&self) -> Result<Vec<Vec<String>>, StoreError> {
        self.live()?.iter().map(ShardDb::index_names).collect()
    }

    /// Bulk mode for large imports: drops the indexes of `passes` (on a
    /// shard that holds passes the GCXH index stays, so stored passes are
    /// still skipped as they come; an empty shard appends and removes repeats
    /// at the end) until [`Self::end_bulk`], [`Store::close`] or drop
    /// rebuilds them, enlarges
    /// the page cache ([`SqliteOptions::bulk_cache_total_mib`]) and commits
    /// every [`SqliteOptions::bulk_commit_rows`] passes per shard rather than
    /// every batch. Other connections see bulk writes once committed. Should
    /// the process die in bulk mode, or a write fail, the batches since the
    /// last commit are lost (import again: it is idempotent) and the next
    /// read-write open removes repeats and rebuilds the indexes.
    pub fn begin_bulk(&mut self) -> Result<(), StoreError> {
        self.writable()?;
        if self.bulk {
            return Ok(());
        }
        let per_shard = (self.options.bulk_cache_total_mib / self.shards.len() as u32)
            .max(self.options.cache_mib);
        for db in &mut self.shards {
            db.commit()?;
            db.set_wal(false)?;
        }
        self.bulk = true;
        for db in &mut self.shards {
            db.drop_bulk_indexes()?;
            // Appending touches only the table's last pages; the large cache
            // is for the key index a shard with passes keeps.
            let mib = if db.appends() {
                self.options.cache_mib
            } else {
                per_shard
            };
            db.set_cache_mib(mib)?;
        }
        Ok(())
    }

    /// Commits, restores the page cache, builds the GCXH index and removes
    /// repeated passes, then rebuilds the other indexes [`Self::begin_bulk`]
    /// dropped, all shards in parallel. Returns the repeats removed.
    pub fn end_bulk(&mut self) -> Result<u64, StoreError> {
        self.writable()?;
        if !self.bulk {
            return Ok(0);
        }
        let cache_mib = self.options.cache_mib;
        let results = on_every_shard(&mut self.shards, |db| {
            db.commit()?;
            // Index builds sort in memory up to the cache size, then spill to
            // sorted runs in temporary files and merge them. A small cache
            // bounds that memory (the bulk cache, freed just before, is not
            // given back to the system) at little cost in speed.
            db.set_cache_mib(INDEX_BUILD_CACHE_MIB.min(cache_mib))?;
            let removed = db.remove_repeats()?;
            db.ensure_schema()?;
            db.set_wal(true)?;
            db.set_cache_mib(cache_mib)?;
            Ok(removed)
        });
        let removed = results.into_iter().sum::<Result<u64, _>>()?;
        self.bulk = false;
        Ok(removed)
    }

    /// Commits what bulk mode holds in open transactions.
    fn commit_all(&mut self) -> Result<(), StoreError> {
        self.shards.iter_mut().try_for_each(ShardDb::commit)
    }

    fn live(&self) -> Result<&[ShardDb], StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        Ok(&self.shards)
    }

    fn read(&self) -> Result<Shards<'_, ShardDb>, StoreError> {
        Ok(Shards(self.live()?))
    }

    fn writable(&self) -> Result<(), StoreError> {
        self.live()?;
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        Ok(())
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<WriteSummary, StoreError> {
        self.writable()?;
        let work = split(batch, &self.router);

        let commit_every = self.bulk.then_some(self.options.bulk_commit_rows);
        let busy = work.iter().filter(|w| !w.is_empty()).count();
        let results: Vec<Result<WriteSummary, StoreError>> = if busy <= 1 {
            self.shards
                .iter_mut()
                .zip(&work)
                .map(|(db, w)| db.write(w, commit_every))
                .collect()
        } else {
            std::thread::scope(|scope| {
                let mut jobs = self
                    .shards
                    .iter_mut()
                    .zip(&work)
                    .filter(|(_, w)| !w.is_empty());
                // This thread writes one shard itself; the others get a thread each.
                let (own_db, own_work) = jobs.next().expect("busy > 1");
                let handles: Vec<_> = jobs
                    .map(|(db, w)| scope.spawn(move || db.write(w, commit_every)))
                    .collect();
                let mut results = vec![own_db.write(own_work, commit_every)];
                for handle in handles {
                    match handle.join() {
                        Ok(r) => results.push(r),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
                results
            })
        };
        let mut summary = WriteSummary::default();
        for r in results {
            summary.add(r?);
        }
        Ok(summary)
    }

    fn close_inner(&mut self) -> Result<(), StoreError> {
        if self.closed {
            return Ok(());
        }
        let mut result = Ok(());
        if self.bulk {
            result = self.end_bulk().map(|_| ());
        }
        if !self.read_only {
            for db in &self.shards {
                let r = db.optimize();
                if result.is_ok() {
                    result = r;
                }
            }
        }
        self.closed = true;
        // Dropping the last connection checkpoints the WAL into the database.
        self.shards.clear();
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if self.bulk && !self.closed {
            // Errors cannot be reported from drop; the next open rebuilds
            // whatever index is still missing.
            let _ = self.end_bulk();
        }
    }
}

/// Runs `f` on every shard, in parallel when there are several.
fn on_every_shard<T: Send>(
    shards: &mut [ShardDb],
    f: impl Fn(&mut ShardDb) -> Result<T, StoreError> + Sync,
) -> Vec<Result<T, StoreError>> {
    if shards.len() <= 1 {
        return shards.iter_mut().map(f).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = shards
            .iter_mut()
            .map(|db| scope.spawn(move || f(db)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn shard_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("shard-{index}.sqlite"))
}

/// The shard count recorded in a data dir, `None` when there is no record.
fn read_meta(dir: &Path) -> Result<Option<usize>, StoreError> {
    let path = dir.join(META_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    let bad = |message: String| StoreError::BadMetadata {
        path: path.clone(),
        message,
    };
    let mut shards = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad(format!("unreadable line {line:?}")));
        };
        match (key.trim(), value.trim()) {
            ("engine", "sqlite") | ("format", "1") => {}
            ("engine", other) => {
                return Err(bad(format!("written by engine {other:?}, not sqlite")))
            }
            ("format", other) => return Err(bad(format!("unknown format {other:?}"))),
            ("shards", n) => match n.parse::<usize>() {
                Ok(n) if n > 0 => shards = Some(n),
                _ => return Err(bad(format!("bad shard count {n:?}"))),
            },
            _ => {}
        }
    }
    shards.map(Some).ok_or_else(|| bad("no shard count".into()))
}

fn write_meta(dir: &Path, shards: usize) -> Result<(), StoreError> {
    let path = dir.join(META_FILE);
    let tmp = dir.join(format!("{META_FILE}.tmp"));
    let text = format!(
        "# gantry data dir: do not edit; the shard count decides where rows live.\n\
         engine = sqlite\nformat = 1\nshards = {shards}\n"
    );
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(text.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))
}

impl Store for SqliteStore {
    fn write(&mut self, batch: &Batch) -> Result<WriteSummary, StoreError> {
        self.write_batch(batch)
    }

    fn upsert_checkpoints(&mut self, checkpoints: &CheckpointDirectory) -> Result<(), StoreError> {
        self.writable()?;
        let results = on_every_shard(&mut self.shards, |db| {
            db.upsert_checkpoints(checkpoints.iter())
        });
        results.into_iter().collect()
    }

    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        SqliteStore::begin_bulk(self)
    }

    fn end_bulk(&mut self) -> Result<u64, StoreError> {
        SqliteStore::end_bulk(self)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.writable()?;
        self.commit_all()?;
        self.shards.iter().try_for_each(ShardDb::checkpoint_wal)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.close_inner()
    }

    fn drop_passes_before(&mut self, day: chrono::NaiveDate) -> Result<u64, StoreError> {
        self.writable()?;
        let results = on_every_shard(&mut self.shards, |db| db.drop_passes_before(day));
        results.into_iter().sum()
    }

    crate::fanout::fan_out_reads!();
}
