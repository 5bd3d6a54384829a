//! Tail source: follows growing log files, like Flume's TAILDIR, through
//! rename and copytruncate rotation, with positions the caller commits once
//! the lines it was given are safely written downstream.
//!
//! Delivery: [`Tailer::poll`] returns complete lines and moves only the
//! in-memory position; [`Tailer::commit`] persists it. After a crash
//! (kill -9), lines polled but not committed come again, committed ones
//! never: at-least-once here, exactly-once with idempotent writes.
//!
//! Identity: a file is its device + inode; a fingerprint (xxh3 of its first
//! bytes) shows when the content behind an inode was replaced, and
//! recognises a copy of a file already read, as Vector does.
//!
//! Copytruncate race: lines the writer appends after the copy is taken and
//! before the original is truncated are in neither file, so no reader can
//! deliver them. If the copy matches no pattern, lines not yet read when the
//! truncation happens are lost too; poll often, or rotate by rename.

mod glob;
mod identity;
mod position;
mod reader;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::io;
use std::mem;
use std::path::PathBuf;
use std::time::Instant;

use glob::Pattern;
use identity::{read_prefix, FileId, Fingerprint, MAX_FINGERPRINT};
use position::{Pos, Positions, Record};
use reader::{complete_lines_upto, open_verified, Entry};

/// States of truncated or vanished files kept for a copy to take over;
/// older ones are forgotten.
const MAX_RETIRED: usize = 64;

#[derive(Clone, Debug)]
pub struct TailConfig {
    /// Paths, or globs with `*` and `?` in the file name only; as in a
    /// shell, a wildcard does not match a leading `.`.
    pub patterns: Vec<String>,
    pub position_file: PathBuf,
    /// `false`: files already there when the tailer opens, with no saved
    /// position, start at their end. Files appearing later always start at 0,
    /// or lines written just after a rotation would be lost.
    pub read_from_start: bool,
    /// Bytes fingerprinted at the start of each file (1..=64 KiB).
    pub fingerprint_bytes: usize,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig {
            patterns: Vec::new(),
            position_file: PathBuf::from("tail.positions.json"),
            read_from_start: true,
            fingerprint_bytes: 256,
        }
    }
}

/// One complete line, without its `\n` (or `\r\n`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailLine {
    /// Where the file was last seen (its rotated name after a rename).
    pub path: PathBuf,
    /// 1-based, counted from the start of the file.
    pub line_no: u64,
    pub bytes: Vec<u8>,
}

/// UTF-8 as is; anything else is taken as GBK, which kakou systems write.
pub fn decode_line(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(bytes).0,
    }
}

/// Follows the files a [`TailConfig`] names; see the module docs for the
/// delivery protocol and rotation handling.
pub struct Tailer {
    config: TailConfig,
    patterns: Vec<Pattern>,
    entries: Vec<Entry>,
    retired: VecDeque<Record>,
    /// Where the next poll starts reading, so no file starves the others.
    cursor: usize,
    /// What the last commit wrote.
    committed: Option<Vec<u8>>,
    warnings: Vec<String>,
    warned: HashSet<PathBuf>,
}

impl Tailer {
    /// Loads the position file (missing: start afresh; corrupt: an error
    /// naming it) and finds the files the patterns name now.
    pub fn open(config: TailConfig) -> io::Result<Tailer> {
        let saved = position::load(&config.position_file)?;
        let mut tailer = Tailer {
            patterns: config.patterns.iter().map(|p| Pattern::parse(p)).collect(),
            entries: restore(saved.files),
            retired: saved.retired.into(),
            config,
            cursor: 0,
            committed: None,
            warnings: Vec::new(),
            warned: HashSet::new(),
        };
        tailer.refresh(true)?;
        if !tailer.config.read_from_start {
            tailer.commit()?;
        }
        Ok(tailer)
    }

    /// Up to `max_lines` new complete lines. The persisted position does
    /// not move: see [`Tailer::commit`].
    pub fn poll(&mut self, max_lines: usize) -> io::Result<Vec<TailLine>> {
        self.refresh(false)?;
        self.read(max_lines)
    }

    /// Persists the positions of every line poll has returned, atomically.
    pub fn commit(&mut self) -> io::Result<()> {
        let positions = Positions {
            files: self.entries.iter().map(Entry::record).collect(),
            retired: self.retired.iter().cloned().collect(),
        };
        let bytes = position::encode(&positions)?;
        if self.committed.as_ref() == Some(&bytes) {
            return Ok(());
        }
        position::store(&self.config.position_file, &bytes)?;
        self.committed = Some(bytes);
        Ok(())
    }

    /// Files or directories that could not be read (permissions, ...), each
    /// reported once until it reads again; they do not stop the others.
    pub fn take_warnings(&mut self) -> Vec<String> {
        mem::take(&mut self.warnings)
    }

    /// Scans the patterns, checks followed files for replaced content, and
    /// follows new files. Order matters: a truncated file must leave its old
    /// state behind before its copy, found among the new files, claims it.
    fn refresh(&mut self, first: bool) -> io::Result<()> {
        let mut found = self.scan();
        self.check_entries(&mut found)?;
        self.retire_dead();
        for (id, path) in found.rest() {
            self.adopt(id, path, first)?;
        }
        Ok(())
    }

    fn scan(&mut self) -> Found {
        let (mut paths, mut problems) = (Vec::new(), Vec::new());
        for pattern in &self.patterns {
            pattern.expand(&mut paths, &mut problems);
        }
        let own = fs::metadata(&self.config.position_file).ok();
        let own = own.map(|m| FileId::of(&m));
        let mut found = Found::default();
        for path in paths {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() && Some(FileId::of(&m)) != own => {
                    found.insert(FileId::of(&m), path)
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => problems.push((path, e)),
            }
        }
        self.warn_all(problems);
        found
    }

    fn check_entries(&mut self, found: &mut Found) -> io::Result<()> {
        let (want, now) = (self.fingerprint_bytes(), Instant::now());
        let (mut retired, mut problems) = (Vec::new(), Vec::new());
        for entry in &mut self.entries {
            let opened = match found.take(entry.id) {
                Some(path) => entry.seen(path),
                None => entry.missing(now),
            };
            if let Err(e) = opened {
                problems.push((entry.path.clone(), e));
            }
            retired.extend(entry.check(want)?);
        }
        self.retire(retired);
        self.warn_all(problems);
        Ok(())
    }

    /// Forgets files gone from the patterns once drained, keeping their
    /// state for a copy.
    fn retire_dead(&mut self) {
        let now = Instant::now();
        let (dead, live): (Vec<Entry>, Vec<Entry>) = mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| e.is_dead(now));
        self.entries = live;
        self.retire(dead.into_iter().filter_map(Entry::into_retired));
    }

    fn retire(&mut self, records: impl IntoIterator<Item = Record>) {
        self.retired.extend(records);
        while self.retired.len() > MAX_RETIRED {
            self.retired.pop_front();
        }
    }

    /// Starts following a file the patterns newly name: a copy of a
    /// truncated or vanished file continues where that one stopped; a copy
    /// of a file still followed is skipped (its original is read).
    fn adopt(&mut self, id: FileId, path: PathBuf, first: bool) -> io::Result<()> {
        let file = match open_verified(&path, id) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.warn(path, e);
                return Ok(());
            }
        };
        self.warned.remove(&path);
        let len = file.metadata()?.len();
        let prefix = read_prefix(&file, self.prefix_len())?;
        let pos = match self.claim(&prefix) {
            Some(pos) if pos.offset <= len => pos,
            // The copy was taken before the last lines read: all read.
            Some(_) => complete_lines_upto(&file, len)?,
            None if self.is_copy(&prefix) => return Ok(()),
            None if first && !self.config.read_from_start => complete_lines_upto(&file, len)?,
            None => Pos::default(),
        };
        let fp = Fingerprint::of_prefix(&prefix, self.fingerprint_bytes());
        self.entries.push(Entry::new(path, id, fp, file, len, pos));
        Ok(())
    }

    /// Takes over the state of a retired file whose content this file
    /// starts with.
    fn claim(&mut self, prefix: &[u8]) -> Option<Pos> {
        let matches = |r: &Record| r.fingerprint.is_some_and(|f| f.matches(prefix));
        let at = self.retired.iter().position(matches)?;
        self.retired.remove(at).map(|r| r.pos())
    }

    fn is_copy(&self, prefix: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.fp.is_some_and(|f| f.matches(prefix)))
    }

    fn read(&mut self, max_lines: usize) -> io::Result<Vec<TailLine>> {
        let mut out = Vec::new();
        let n = self.entries.len();
        let start = self.cursor % n.max(1);
        self.cursor = self.cursor.wrapping_add(1);
        for k in 0..n {
            let budget = max_lines.saturating_sub(out.len());
            if budget == 0 {
                break;
            }
            self.entries[(start + k) % n].read_lines(budget, &mut out)?;
        }
        Ok(out)
    }

    fn fingerprint_bytes(&self) -> usize {
        self.config.fingerprint_bytes.clamp(1, MAX_FINGERPRINT)
    }

    /// Enough first bytes to compare with every known fingerprint, which
    /// may be longer than the configured one if the setting shrank.
    fn prefix_len(&self) -> usize {
        let known = self.entries.iter().filter_map(|e| e.fp);
        let known = known.chain(self.retired.iter().filter_map(|r| r.fingerprint));
        let longest = known.map(|f| f.len as usize).max().unwrap_or(0);
        longest.max(self.fingerprint_bytes())
    }

    fn warn_all(&mut self, problems: Vec<(PathBuf, io::Error)>) {
        for (path, e) in problems {
            self.warn(path, e);
        }
    }

    fn warn(&mut self, path: PathBuf, e: io::Error) {
        let text = format!("{}: {e}", path.display());
        if self.warned.insert(path) {
            self.warnings.push(text);
        }
    }
}

/// Saved files, one per device + inode (a hand-edited file may repeat one).
fn restore(records: Vec<Record>) -> Vec<Entry> {
    let mut ids = HashSet::new();
    records
        .into_iter()
        .filter(|r| ids.insert(r.id()))
        .map(Entry::restored)
        .collect()
}

/// Files a scan found, in pattern order, one path per device + inode.
#[derive(Default)]
struct Found {
    list: Vec<Option<(FileId, PathBuf)>>,
    index: HashMap<FileId, usize>,
}

impl Found {
    fn insert(&mut self, id: FileId, path: PathBuf) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.index.entry(id) {
            slot.insert(self.list.len());
            self.list.push(Some((id, path)));
        }
    }

    fn take(&mut self, id: FileId) -> Option<PathBuf> {
        let at = *self.index.get(&id)?;
        self.list[at].take().map(|(_, path)| path)
    }

    /// Files no followed entry took: new to the tailer.
    fn rest(self) -> impl Iterator<Item = (FileId, PathBuf)> {
        self.list.into_iter().flatten()
    }
}
