//! One followed file: its open handle, how far poll has returned it, and
//! the bytes read past that point that do not yet end a line.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::identity::{read_at, read_prefix, FileId, Fingerprint};
use super::position::{Pos, Record};
use super::TailLine;

/// Bytes read from one file per poll, unless a single line is longer.
pub const CHUNK: usize = 1 << 20;

/// How long a file that left the patterns (renamed away, deleted) stays
/// open after reaching its end: the writer may still append a few lines
/// before it reopens its log.
const ROTATE_WAIT: Duration = Duration::from_secs(5);

pub struct Entry {
    /// Where the file was last seen.
    pub path: PathBuf,
    pub id: FileId,
    pub fp: Option<Fingerprint>,
    /// Up to the end of the last line poll returned.
    pub pos: Pos,
    /// `None` until opened (after a restart), or when it cannot be opened.
    file: Option<File>,
    /// File bytes from `pos.offset` on, already read.
    pending: Vec<u8>,
    /// File size at this poll's check: reads stop there.
    len: u64,
    /// When a scan first missed it.
    vanished: Option<Instant>,
}

impl Entry {
    /// A newly found file of size `len`, to be read from `pos`.
    pub fn new(
        path: PathBuf,
        id: FileId,
        fp: Option<Fingerprint>,
        file: File,
        len: u64,
        pos: Pos,
    ) -> Entry {
        Entry {
            path,
            id,
            pos,
            fp,
            file: Some(file),
            pending: Vec::new(),
            len,
            vanished: None,
        }
    }

    /// From the position file; opened when a scan finds it.
    pub fn restored(record: Record) -> Entry {
        Entry {
            id: record.id(),
            pos: record.pos(),
            fp: record.fingerprint,
            path: record.path,
            file: None,
            pending: Vec::new(),
            len: 0,
            vanished: None,
        }
    }

    pub fn record(&self) -> Record {
        Record {
            path: self.path.clone(),
            dev: self.id.dev,
            ino: self.id.ino,
            fingerprint: self.fp,
            offset: self.pos.offset,
            lines: self.pos.lines,
        }
    }

    /// The saved state a copy of this file may take over; a file never
    /// fingerprinted has no line read, so a copy starts at 0 anyway.
    pub fn into_retired(self) -> Option<Record> {
        self.fp.is_some().then(|| self.record())
    }

    /// Found by this poll's scan at `path`.
    pub fn seen(&mut self, path: PathBuf) -> io::Result<()> {
        self.path = path;
        self.vanished = None;
        self.reopen()
    }

    /// Missed by this poll's scan: drained through the open handle, or
    /// through the remembered path if it still holds the same file.
    pub fn missing(&mut self, now: Instant) -> io::Result<()> {
        if self.vanished.is_none() {
            self.vanished = Some(now);
            return self.reopen();
        }
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = open_verified(&self.path, self.id)?;
        }
        Ok(())
    }

    /// Gone from the patterns and nothing more to read from it.
    pub fn is_dead(&self, now: Instant) -> bool {
        self.vanished.is_some_and(|since| {
            self.file.is_none() || (self.drained() && now.duration_since(since) >= ROTATE_WAIT)
        })
    }

    fn drained(&self) -> bool {
        self.end() >= self.len && !self.pending.contains(&b'\n')
    }

    fn end(&self) -> u64 {
        self.pos.offset + self.pending.len() as u64
    }

    /// Re-reads size and first bytes. If the file is now shorter than what
    /// was read, or starts with other bytes, its content was replaced
    /// (copytruncate, inode reuse): it restarts at 0, and its old state is
    /// returned for a copy of the old content to take over.
    pub fn check(&mut self, want: usize) -> io::Result<Option<Record>> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let len = file.metadata()?.len();
        let prefix = read_prefix(file, want.max(self.fp.map_or(0, |f| f.len as usize)))?;
        let replaced = len < self.end() || self.fp.is_some_and(|f| !f.matches(&prefix));
        self.len = len;
        let fresh = Fingerprint::of_prefix(&prefix, want);
        if !replaced {
            self.fp = fresh.or(self.fp);
            return Ok(None);
        }
        let old = self.record();
        self.fp = fresh;
        self.pos = Pos::default();
        self.pending.clear();
        Ok(old.fingerprint.is_some().then_some(old))
    }

    /// Moves up to `budget` complete lines to `out`.
    pub fn read_lines(&mut self, budget: usize, out: &mut Vec<TailLine>) -> io::Result<()> {
        self.fill()?;
        self.emit(budget, out);
        if self.pending.capacity() > 2 * CHUNK {
            self.pending.shrink_to(CHUNK);
        }
        Ok(())
    }

    /// Reads up to [`CHUNK`] bytes, more only while no line is complete.
    fn fill(&mut self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        if self.pending.contains(&b'\n') {
            return Ok(());
        }
        loop {
            let end = self.pos.offset + self.pending.len() as u64;
            if end >= self.len {
                return Ok(());
            }
            let want = (self.len - end).min(CHUNK as u64) as usize;
            let old = self.pending.len();
            self.pending.resize(old + want, 0);
            let got = match read_at(file, &mut self.pending[old..], end) {
                Ok(got) => got,
                Err(e) => {
                    self.pending.truncate(old);
                    return Err(e);
                }
            };
            self.pending.truncate(old + got);
            if got == 0 || self.pending[old..].contains(&b'\n') {
                return Ok(());
            }
        }
    }

    fn emit(&mut self, budget: usize, out: &mut Vec<TailLine>) {
        let mut used = 0;
        for _ in 0..budget {
            let Some(nl) = self.pending[used..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &self.pending[used..used + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.pos.lines += 1;
            out.push(TailLine {
                path: self.path.clone(),
                line_no: self.pos.lines,
                bytes: line.to_vec(),
            });
            used += nl + 1;
        }
        self.pending.drain(..used);
        self.pos.offset += used as u64;
    }
}

/// Opens `path` if it still holds file `id`: the path may have been
/// rotated between the scan and the open.
pub fn open_verified(path: &Path, id: FileId) -> io::Result<Option<File>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let same = FileId::of(&file.metadata()?) == id;
    Ok(same.then_some(file))
}

/// End of the last complete line before `end`, and the lines before it:
/// where to start in a file whose earlier content is not wanted.
pub fn complete_lines_upto(file: &File, end: u64) -> io::Result<Pos> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut at, mut pos) = (0u64, Pos::default());
    while at < end {
        let want = (end - at).min(buf.len() as u64) as usize;
        let got = read_at(file, &mut buf[..want], at)?;
        if got == 0 {
            break;
        }
        for (i, _) in buf[..got].iter().enumerate().filter(|(_, &b)| b == b'\n') {
            pos.lines += 1;
            pos.offset = at + i as u64 + 1;
        }
        at += got as u64;
    }
    Ok(pos)
}
