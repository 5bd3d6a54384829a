//! The archive of pass records from the embedded shards: each shard is
//! read in storage (rowid) order after the rowid its last file ended at,
//! kept in `passes/_cursor-shard<i>` (written atomically after the files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use gantry_core::Pass;
use gantry_store::SqliteStore;

use super::{commit, day_dir, parquet_files, part_name, remove_uncommitted, Table};

pub struct PassTable {
    store_dir: PathBuf,
    dir: PathBuf,
    /// Opened once the store exists (the demo creates it after starting).
    store: Option<SqliteStore>,
    /// Per shard: the rowid archived files reach.
    cursors: Vec<i64>,
}

impl PassTable {
    pub fn new(store_dir: PathBuf, archive_dir: &Path) -> PassTable {
        PassTable {
            store_dir,
            dir: archive_dir.join("passes"),
            store: None,
            cursors: Vec::new(),
        }
    }

    /// Opens the store, with each shard's cursor, on first use; `false`
    /// while there is no store yet.
    fn open(&mut self) -> anyhow::Result<bool> {
        if self.store.is_none() {
            let Ok(store) = SqliteStore::open_readonly(&self.store_dir) else {
                return Ok(false);
            };
            self.cursors = (0..store.shard_count())
                .map(|shard| self.resume(shard))
                .collect::<anyhow::Result<_>>()?;
            self.store = Some(store);
        }
        Ok(true)
    }

    /// Reads shard `shard`'s cursor and removes files beyond it.
    fn resume(&self, shard: usize) -> anyhow::Result<i64> {
        let path = self.dir.join(cursor_name(shard));
        let cursor = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .with_context(|| format!("{} holds no rowid", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        self.remove_beyond(shard, cursor)?;
        Ok(cursor)
    }

    fn remove_beyond(&self, shard: usize, cursor: i64) -> anyhow::Result<()> {
        let removed = remove_uncommitted(&self.dir, &prefix(shard), cursor)?;
        if removed > 0 {
            eprintln!("gantry: removed {removed} unconfirmed pass archive files of shard {shard}; writing them again");
        }
        Ok(())
    }
}

impl Table for PassTable {
    fn name(&self) -> &'static str {
        "passes"
    }

    fn waiting(&mut self) -> anyhow::Result<u64> {
        let (true, Some(store)) = (self.open()?, &self.store) else {
            return Ok(0);
        };
        let mut waiting = 0;
        for (shard, &cursor) in self.cursors.iter().enumerate() {
            waiting += store.count_after(shard, cursor)?;
        }
        Ok(waiting)
    }

    fn recover(&mut self) -> anyhow::Result<()> {
        for (shard, &cursor) in self.cursors.iter().enumerate() {
            self.remove_beyond(shard, cursor)?;
        }
        Ok(())
    }

    fn archive(&mut self, limit: usize) -> anyhow::Result<usize> {
        let (true, Some(store)) = (self.open()?, &self.store) else {
            return Ok(0);
        };
        for (shard, cursor) in self.cursors.iter_mut().enumerate() {
            let rows = store.passes_after(shard, *cursor, limit as u64)?;
            let (Some(&(first, _)), Some(&(last, _))) = (rows.first(), rows.last()) else {
                continue;
            };
            let name = part_name(&prefix(shard), first, last);
            for (day, passes) in by_day(&rows) {
                commit(&day_dir(&self.dir, day), &name, |file| {
                    parquet_files::write_passes(file, &passes)
                })?;
            }
            commit(&self.dir, &cursor_name(shard), |mut file| {
                use std::io::Write;
                Ok(writeln!(file, "{last}")?)
            })?;
            *cursor = last;
            return Ok(rows.len());
        }
        Ok(0)
    }
}

fn prefix(shard: usize) -> String {
    format!("shard{shard}")
}

fn cursor_name(shard: usize) -> String {
    format!("_cursor-shard{shard}")
}

/// Passes grouped by the day of their pass time (local time, GCSJ).
fn by_day(rows: &[(i64, Pass)]) -> BTreeMap<NaiveDate, Vec<&Pass>> {
    let mut days: BTreeMap<NaiveDate, Vec<&Pass>> = BTreeMap::new();
    for (_, pass) in rows {
        days.entry(pass.time.date()).or_default().push(pass);
    }
    days
}
