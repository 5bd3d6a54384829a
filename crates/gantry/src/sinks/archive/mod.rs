//! Continuous archives of IoT points and pass records as Parquet files,
//! partitioned by day the Hive way (`points/day=2026-12-06/part-….parquet`,
//! `passes/day=…/shard0-….parquet`), so DuckDB, pyarrow or Spark read the
//! day as a column. A file is rolled when enough rows wait or the oldest
//! has waited long enough — while the process runs, never "at exit".
//!
//! Exactly once, across crashes: a file is named after the range of
//! source positions it holds (queue seqs for points, shard rowids for
//! passes) and committed atomically (written to a hidden temporary file,
//! synced, renamed, the directory synced); the source's cursor moves only
//! after that. A file whose range lies beyond the cursor was renamed
//! before a crash stopped the cursor from moving: it is removed at start,
//! as its rows are still waiting and will be written again. With a `url`,
//! committed files go on to an object store (`remote.rs`).

mod parquet_files;
mod passes;
mod points;
mod remote;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;

use super::forward::pause;
use super::series::SharedSeries;

/// How often an archive looks whether a file is due.
const CHECK: Duration = Duration::from_millis(500);

/// Longest pause between two attempts after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where and how often to archive.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    pub dir: PathBuf,
    /// A file is written once this many rows wait…
    pub roll_rows: usize,
    /// …or the oldest waiting row has waited this long.
    pub roll_after: Duration,
    /// An object store (WebDAV over HTTP) committed files are moved to.
    pub url: Option<String>,
}

/// The running archive threads; [`stop`](Archiver::stop) writes what waits
/// and ends them.
pub struct Archiver {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Archiver {
    /// Archives the points of `series` and, when `passes_store` is given,
    /// the passes of the embedded store in that data dir.
    pub fn start(
        settings: &ArchiveSettings,
        series: Option<SharedSeries>,
        passes_store: Option<PathBuf>,
    ) -> anyhow::Result<Archiver> {
        std::fs::create_dir_all(&settings.dir)
            .with_context(|| format!("cannot create the archive dir {}", settings.dir.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tables: Vec<Box<dyn Table>> = Vec::new();
        if let Some(series) = series {
            tables.push(Box::new(points::PointTable::open(series, &settings.dir)?));
        }
        if let Some(store) = passes_store {
            tables.push(Box::new(passes::PassTable::new(store, &settings.dir)));
        }
        let threads = tables
            .into_iter()
            .map(|table| {
                let (settings, stop) = (settings.clone(), Arc::clone(&stop));
                let remote = settings
                    .url
                    .as_deref()
                    .map(remote::Remote::new)
                    .transpose()?;
                std::thread::Builder::new()
                    .name("archive".into())
                    .spawn(move || run(table, &settings, remote.as_ref(), &stop))
                    .context("cannot start an archive thread")
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Archiver { stop, threads })
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// A source of rows the archive copies: it counts what waits and writes
/// up to a file's worth, moving its own cursor.
trait Table: Send {
    fn name(&self) -> &'static str;
    /// Rows stored and not archived yet.
    fn waiting(&mut self) -> anyhow::Result<u64>;
    /// Archives up to `limit` waiting rows, committing the files before
    /// the cursor moves; returns how many.
    fn archive(&mut self, limit: usize) -> anyhow::Result<usize>;
    /// Removes the files beyond the cursor a failed [`archive`](Table::archive)
    /// (or a crash) left, whose rows will be written again.
    fn recover(&mut self) -> anyhow::Result<()>;
}

fn run(
    mut table: Box<dyn Table>,
    settings: &ArchiveSettings,
    remote: Option<&remote::Remote>,
    stop: &AtomicBool,
) {
    let mut oldest_seen: Option<Instant> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        // Files are uploaded only here, after a roll committed them (or a
        // failed one was undone by `recover`): never one beyond the cursor.
        let result =
            roll_if_due(table.as_mut(), settings, &mut oldest_seen, stopping).and_then(|rolled| {
                match remote {
                    Some(remote) => remote.upload(&settings.dir, table.name()).map(|_| rolled),
                    None => Ok(rolled),
                }
            });
        match result {
            Ok(_) if stopping => return,
            Ok(true) => backoff = Duration::from_secs(1),
            Ok(false) => pause(CHECK, stop),
            Err(e) => {
                if let Err(e) = table.recover() {
                    eprintln!("gantry: archive of {}: {e:#}", table.name());
                }
                if stopping {
                    eprintln!(
                        "gantry: archive of {}: {e:#}; what waits is archived at the next start",
                        table.name()
                    );
                    return;
                }
                eprintln!("gantry: cannot archive {} ({e:#}); retrying", table.name());
                pause(backoff, stop);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Writes a file when enough rows wait, the oldest has waited long enough,
/// or the archive is stopping; returns whether it wrote one.
fn roll_if_due(
    table: &mut dyn Table,
    settings: &ArchiveSettings,
    oldest_seen: &mut Option<Instant>,
    stopping: bool,
) -> anyhow::Result<bool> {
    let waiting = table.waiting()?;
    if waiting == 0 {
        *oldest_seen = None;
        return Ok(false);
    }
    let since = *oldest_seen.get_or_insert_with(Instant::now);
    let due =
        stopping || waiting >= settings.roll_rows as u64 || since.elapsed() >= settings.roll_after;
    if !due {
        return Ok(false);
    }
    let mut left = waiting;
    while left > 0 {
        let written = table.archive(settings.roll_rows)?;
        if written == 0 {
            break;
        }
        left = left.saturating_sub(written as u64);
    }
    *oldest_seen = None;
    Ok(true)
}

/// The directory of one day of a table.
fn day_dir(table_dir: &Path, day: NaiveDate) -> PathBuf {
    table_dir.join(format!("day={day}"))
}

/// The name of a file holding source positions `first..=last`.
fn part_name(prefix: &str, first: i64, last: i64) -> String {
    format!("{prefix}-{first:012}-{last:012}.parquet")
}

/// A committed file of a table: its path and the positions it holds.
#[derive(Debug, PartialEq)]
struct Part {
    path: PathBuf,
    prefix: String,
    first: i64,
    last: i64,
}

/// The committed files under `table_dir`, all days.
fn parts(table_dir: &Path) -> std::io::Result<Vec<Part>> {
    let mut found = Vec::new();
    let Ok(days) = std::fs::read_dir(table_dir) else {
        return Ok(found);
    };
    for day in days {
        let day = day?.path();
        if !day.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&day)? {
            let path = file?.path();
            if let Some(part) = parse_part(&path) {
                found.push(part);
            }
        }
    }
    Ok(found)
}

fn parse_part(path: &Path) -> Option<Part> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".parquet")?;
    let mut fields = stem.rsplitn(3, '-');
    let last = fields.next()?.parse().ok()?;
    let first = fields.next()?.parse().ok()?;
    let prefix = fields.next()?.to_owned();
    Some(Part {
        path: path.to_owned(),
        prefix,
        first,
        last,
    })
}

/// Removes the files of `prefix` holding positions beyond `cursor` (see
/// the module docs) and temporary files a crash left; returns how many.
fn remove_uncommitted(table_dir: &Path, prefix: &str, cursor: i64) -> anyhow::Result<usize> {
    let mut removed = 0;
    for part in parts(table_dir)? {
        if part.prefix == prefix && part.last > cursor {
            std::fs::remove_file(&part.path)
                .with_context(|| format!("cannot remove {}", part.path.display()))?;
            removed += 1;
        }
    }
    for day in std::fs::read_dir(table_dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = file.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&format!(".{prefix}-")) && name.ends_with(".tmp") {
                std::fs::remove_file(file.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Creates `dir/name` atomically: `write` fills a hidden temporary file,
/// which is synced and renamed, then the directory is synced, so a reader
/// or a crash sees the whole file or none.
fn commit(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temporary = dir.join(format!(".{name}.tmp"));
    let file = File::create(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    write(&file).with_context(|| format!("cannot write {}", temporary.display()))?;
    file.sync_all()?;
    drop(file);
    let target = dir.join(name);
    std::fs::rename(&temporary, &target)
        .with_context(|| format!("cannot rename to {}", target.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip_and_sort_by_position() {
        let name = part_name("shard1", 7, 123_456);
        assert_eq!(name, "shard1-000000000007-000000123456.parquet");
        let part = parse_part(&PathBuf::from("/a/day=2026-12-06").join(&name)).unwrap();
        assert_eq!(
            (part.prefix.as_str(), part.first, part.last),
            ("shard1", 7, 123_456)
        );
        assert!(part_name("part", 9, 10) < part_name("part", 11, 12));
        assert_eq!(parse_part(Path::new("/a/.part-1-2.parquet.tmp")), None);
        assert_eq!(parse_part(Path::new("/a/notes.parquet")), None);
    }

    #[test]
    fn files_beyond_the_cursor_and_temporaries_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let day = day_dir(root.path(), NaiveDate::from_ymd_opt(2026, 12, 6).unwrap());
        for (prefix, first, last) in [("part", 1, 10), ("part", 11, 20), ("other", 11, 30)] {
            commit(&day, &part_name(prefix, first, last), |_| Ok(())).unwrap();
        }
        std::fs::write(
            day.join(".part-000000000021-000000000030.parquet.tmp"),
            b"x",
        )
        .unwrap();
        assert_eq!(remove_uncommitted(root.path(), "part", 10).unwrap(), 2);
        let mut left: Vec<_> = parts(root.path())
            .unwrap()
            .into_iter()
            .map(|p| (p.prefix, p.last))
            .collect();
        left.sort();
        assert_eq!(left, [("other".to_owned(), 30), ("part".to_owned(), 10)]);
    }
}
