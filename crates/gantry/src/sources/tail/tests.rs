//! Real files in temporary directories; rotation done the way logrotate
//! and applications do it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::glob::matches;
use super::{decode_line, TailConfig, TailLine, Tailer};

fn append(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(data)
}

fn config(dir: &TempDir, pattern: &str) -> TailConfig {
    TailConfig {
        patterns: vec![dir.path().join(pattern).display().to_string()],
        position_file: dir.path().join("positions.json"),
        ..TailConfig::default()
    }
}

/// Polls until nothing new comes.
fn drain(tailer: &mut Tailer) -> io::Result<Vec<TailLine>> {
    let mut all = Vec::new();
    loop {
        let lines = tailer.poll(1000)?;
        if lines.is_empty() {
            return Ok(all);
        }
        all.extend(lines);
    }
}

fn texts(lines: &[TailLine]) -> Vec<String> {
    lines
        .iter()
        .map(|l| decode_line(&l.bytes).into_owned())
        .collect()
}

fn numbered(lines: &[TailLine]) -> Vec<(String, u64)> {
    lines
        .iter()
        .map(|l| (decode_line(&l.bytes).into_owned(), l.line_no))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn copytruncate(from: &Path, to: &Path) -> io::Result<()> {
    fs::copy(from, to)?;
    OpenOptions::new().write(true).open(from)?.set_len(0)
}

#[test]
fn partial_last_line_waits_for_its_newline() -> io::Result<()> {
    let dir = TempDir::new()?;
    let log = dir.path().join("x.log");
    append(&log, b"a1\nb2\npar")?;
    let mut tailer = Tailer::open(config(&dir, "x.log"))?;
    assert_eq!(texts(&tailer.poll(100)?), ["a1", "b2"]);
    assert!(tailer.poll(100)?.is_empty());
    append(&log, b"tial\r\nc3")?;
    assert_eq!(numbered(&tailer.poll(100)?), [("partial".into(), 3)]);
    append(&log, b"\n")?;
    assert_eq!(numbered(&tailer.poll(100)?), [("c3".into(), 4)]);
    Ok(())
}

#[test]
fn rename_rotation_delivers_each_line_once() -> io::Result<()> {
    // Renamed copy still matching the glob, and renamed out of it.
    for pattern in ["x.log*", "*.log"] {
        let dir = TempDir::new()?;
        let (log, old) = (dir.path().join("x.log"), dir.path().join("x.log.1"));
        append(&log, b"o1\no2\no3\no4\no5\n")?;
        let mut tailer = Tailer::open(config(&dir, pattern))?;
        let mut got = tailer.poll(3)?;
        fs::rename(&log, &old)?;
        append(&log, b"n1\nn2\nn3\n")?;
        append(&old, b"o6\no7\n")?;
        got.extend(drain(&mut tailer)?);
        append(&log, b"n4\n")?;
        got.extend(drain(&mut tailer)?);
        let mut want = numbered_range("o", 1..=7);
        want.extend(numbered_range("n", 1..=4));
        let mut have = numbered(&got);
        have.sort();
        want.sort();
        assert_eq!(have, want, "pattern {pattern}");
    }
    Ok(())
}

fn numbered_range(prefix: &str, range: std::ops::RangeInclusive<u64>) -> Vec<(String, u64)> {
    range.map(|i| (format!("{prefix}{i}"), i)).collect()
}

#[test]
fn copytruncate_with_matching_copy_continues_in_the_copy() -> io::Result<()> {
    let dir = TempDir::new()?;
    let (log, copy) = (dir.path().join("x.log"), dir.path().join("x.log.1"));
    append(&log, b"o1\no2\no3\no4\no5\n")?;
    let mut tailer = Tailer::open(config(&dir, "x.log*"))?;
    let mut got = tailer.poll(3)?;
    append(&log, b"o6\no7\n")?;
    copytruncate(&log, &copy)?;
    // Longer than what was read: only the fingerprint shows the truncation.
    append(
        &log,
        b"new line one, long enough\nnew line two, long enough\n",
    )?;
    got.extend(drain(&mut tailer)?);
    let mut want = numbered_range("o", 1..=7);
    want.push(("new line one, long enough".into(), 1));
    want.push(("new line two, long enough".into(), 2));
    let from_copy = got.iter().filter(|l| l.path == copy);
    assert_eq!(from_copy.count(), 4);
    let mut got = numbered(&got);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn copytruncate_with_unmatched_copy_restarts_at_zero() -> io::Result<()> {
    let dir = TempDir::new()?;
    let (log, copy) = (dir.path().join("x.log"), dir.path().join("x.log.1"));
    append(&log, b"a1\na2\na3\n")?;
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    let mut got = drain(&mut tailer)?;
    // Truncation seen as a smaller size.
    copytruncate(&log, &copy)?;
    got.extend(drain(&mut tailer)?);
    append(&log, b"b1\n")?;
    got.extend(drain(&mut tailer)?);
    // Truncation seen only by the fingerprint: regrown past the offset.
    copytruncate(&log, &copy)?;
    append(&log, b"c1 much longer than before\n")?;
    got.extend(drain(&mut tailer)?);
    let want = [("a1", 1), ("a2", 2), ("a3", 3), ("b1", 1)];
    let mut want: Vec<(String, u64)> = want.iter().map(|&(s, n)| (s.into(), n)).collect();
    want.push(("c1 much longer than before".into(), 1));
    assert_eq!(numbered(&got), want);
    Ok(())
}

#[test]
fn restart_resumes_from_the_last_commit() -> io::Result<()> {
    let dir = TempDir::new()?;
    let log = dir.path().join("x.log");
    let all: String = (1..=10).map(|i| format!("l{i}\n")).collect();
    append(&log, all.as_bytes())?;
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    assert_eq!(texts(&tailer.poll(4)?), ["l1", "l2", "l3", "l4"]);
    tailer.commit()?;
    assert_eq!(texts(&tailer.poll(3)?), ["l5", "l6", "l7"]);
    drop(tailer);
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    let again = drain(&mut tailer)?;
    assert_eq!(numbered(&again), numbered_range("l", 5..=10));
    tailer.commit()?;
    drop(tailer);
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    assert!(drain(&mut tailer)?.is_empty());
    append(&log, b"l11\n")?;
    assert_eq!(numbered(&tailer.poll(10)?), numbered_range("l", 11..=11));
    Ok(())
}

#[test]
fn restart_after_rotations_while_down() -> io::Result<()> {
    let dir = TempDir::new()?;
    let log = dir.path().join("x.log");
    append(&log, b"a1\na2\na3\n")?;
    let mut tailer = Tailer::open(config(&dir, "x.log*"))?;
    assert_eq!(texts(&tailer.poll(2)?), ["a1", "a2"]);
    tailer.commit()?;
    drop(tailer);
    append(&log, b"a4\n")?;
    copytruncate(&log, &dir.path().join("x.log.1"))?;
    append(&log, b"b1\n")?;
    fs::rename(&log, dir.path().join("x.log.2"))?;
    append(&log, b"c1\n")?;
    let mut tailer = Tailer::open(config(&dir, "x.log*"))?;
    let got = sorted(texts(&drain(&mut tailer)?));
    assert_eq!(got, owned(&["a3", "a4", "b1", "c1"]));
    Ok(())
}

/// xorshift64: deterministic, no `rand` dependency.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// The writer side and the consumer's bookkeeping of the crash test.
struct Sim {
    dir: TempDir,
    rng: XorShift,
    seq: u64,
    rotations: u64,
    /// Lines in each log file, so every written line's number is known.
    counts: HashMap<PathBuf, u64>,
    line_no: HashMap<String, u64>,
    /// The last file rotated by rename: the writer may still append to it.
    renamed: Option<PathBuf>,
    delivered: HashSet<String>,
    uncommitted: Vec<String>,
    committed: HashSet<String>,
    tailer: Option<Tailer>,
}

impl Sim {
    fn log(&self) -> PathBuf {
        self.dir.path().join("logs").join("x.log")
    }

    fn config(&self) -> TailConfig {
        TailConfig {
            patterns: vec![self.dir.path().join("logs/x.log*").display().to_string()],
            position_file: self.dir.path().join("positions.json"),
            ..TailConfig::default()
        }
    }

    fn next_line(&mut self, path: &Path) -> String {
        self.seq += 1;
        let pad = self.rng.below(300) as usize;
        let text = format!("L{:06}-{}", self.seq, "x".repeat(pad));
        let count = self.counts.entry(path.to_path_buf()).or_insert(0);
        *count += 1;
        self.line_no.insert(text.clone(), *count);
        text
    }

    /// Appends lines; the last one sometimes in two writes with a poll
    /// between them, which must not deliver its first half.
    fn write(&mut self, path: &Path, n: u64) -> io::Result<()> {
        for i in 0..n {
            let line = format!("{}\n", self.next_line(path));
            if i + 1 == n && self.rng.below(3) == 0 {
                let cut = 1 + self.rng.below(line.len() as u64 - 1) as usize;
                append(path, &line.as_bytes()[..cut])?;
                self.poll()?;
                append(path, &line.as_bytes()[cut..])?;
            } else {
                append(path, line.as_bytes())?;
            }
        }
        Ok(())
    }

    fn poll(&mut self) -> io::Result<()> {
        if self.tailer.is_none() {
            self.tailer = Some(Tailer::open(self.config())?);
        }
        let max = 1 + self.rng.below(40) as usize;
        let lines = match &mut self.tailer {
            Some(tailer) => tailer.poll(max)?,
            None => Vec::new(),
        };
        for line in lines {
            self.receive(line);
        }
        Ok(())
    }

    fn receive(&mut self, line: TailLine) {
        let text = decode_line(&line.bytes).into_owned();
        let want = self.line_no.get(&text);
        assert_eq!(
            want,
            Some(&line.line_no),
            "line {text:?} from {:?}",
            line.path
        );
        assert!(
            !self.committed.contains(&text),
            "{text} came after its commit"
        );
        self.delivered.insert(text.clone());
        self.uncommitted.push(text);
    }

    fn commit(&mut self) -> io::Result<()> {
        if let Some(tailer) = &mut self.tailer {
            tailer.commit()?;
            self.committed.extend(self.uncommitted.drain(..));
        }
        Ok(())
    }

    fn kill(&mut self) {
        self.tailer = None;
        self.uncommitted.clear();
    }

    fn rotate(&mut self, copy: bool) -> io::Result<()> {
        let log = self.log();
        if !log.exists() {
            return Ok(());
        }
        self.rotations += 1;
        let to = log.with_file_name(format!("x.log.{}", self.rotations));
        let count = self.counts.insert(log.clone(), 0).unwrap_or(0);
        self.counts.insert(to.clone(), count);
        if copy {
            copytruncate(&log, &to)?;
            self.renamed = None;
        } else {
            fs::rename(&log, &to)?;
            self.renamed = Some(to);
        }
        Ok(())
    }

    fn step(&mut self) -> io::Result<()> {
        let log = self.log();
        let n = self.rng.below(15);
        self.write(&log, n)?;
        self.poll()?;
        match self.rng.below(12) {
            0..=3 => self.commit()?,
            4 => self.kill(),
            5 => {
                self.commit()?;
                self.kill();
            }
            6 => self.rotate(false)?,
            7 => self.rotate(true)?,
            8 => {
                if let Some(old) = self.renamed.clone() {
                    let n = 1 + self.rng.below(3);
                    self.write(&old, n)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn kill_9_loop_delivers_every_line_and_none_after_commit() -> io::Result<()> {
    let dir = TempDir::new()?;
    fs::create_dir(dir.path().join("logs"))?;
    let mut sim = Sim {
        dir,
        rng: XorShift(0x9E37_79B9_7F4A_7C15),
        seq: 0,
        rotations: 0,
        counts: HashMap::new(),
        line_no: HashMap::new(),
        renamed: None,
        delivered: HashSet::new(),
        uncommitted: Vec::new(),
        committed: HashSet::new(),
        tailer: None,
    };
    for _ in 0..400 {
        sim.step()?;
    }
    sim.kill();
    let mut tailer = Tailer::open(sim.config())?;
    for line in drain(&mut tailer)? {
        sim.receive(line);
    }
    sim.tailer = Some(tailer);
    sim.commit()?;
    let written: HashSet<String> = sim.line_no.keys().cloned().collect();
    assert!(sim.rotations > 20, "rotations: {}", sim.rotations);
    assert_eq!(written.len() as u64, sim.seq);
    assert_eq!(sim.delivered, written);
    assert_eq!(sim.committed, written);
    Ok(())
}

#[test]
fn gbk_lines_decode() -> io::Result<()> {
    let dir = TempDir::new()?;
    let plates = ["川A12345", "京B6789警,卡口03"];
    for plate in plates {
        let (gbk, _, bad) = encoding_rs::GBK.encode(plate);
        assert!(!bad);
        append(&dir.path().join("k.log"), &[&gbk[..], b"\r\n"].concat())?;
    }
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    assert_eq!(texts(&tailer.poll(10)?), plates);
    assert_eq!(decode_line("粤Z1234港".as_bytes()), "粤Z1234港");
    Ok(())
}

#[test]
fn new_matching_files_are_picked_up_and_others_ignored() -> io::Result<()> {
    let dir = TempDir::new()?;
    let cfg = TailConfig {
        patterns: vec![dir.path().join("later/k?.log").display().to_string()],
        ..config(&dir, "unused")
    };
    // The directory does not exist yet: not an error.
    let mut tailer = Tailer::open(cfg)?;
    assert!(tailer.poll(10)?.is_empty());
    let later = dir.path().join("later");
    fs::create_dir(&later)?;
    append(&later.join("k1.log"), b"one\n")?;
    assert_eq!(texts(&tailer.poll(10)?), ["one"]);
    for name in ["k2.log", "k22.log", "k3.txt", ".k4.log"] {
        append(&later.join(name), format!("{name}\n").as_bytes())?;
    }
    assert_eq!(texts(&drain(&mut tailer)?), ["k2.log"]);
    assert!(tailer.take_warnings().is_empty());
    Ok(())
}

#[test]
fn glob_matcher() {
    assert!(matches("*.log", "x.log"));
    assert!(matches("x.log*", "x.log"));
    assert!(matches("x.log*", "x.log.12"));
    assert!(matches("k?.log", "k号.log"));
    assert!(matches("*a*b*", "zzazzbzz"));
    assert!(!matches("*.log", "x.log.1"));
    assert!(!matches("*.log", ".x.log"));
    assert!(matches(".*", ".x"));
    assert!(!matches("a*b", "aab c"));
}

#[test]
fn corrupt_position_file_is_an_error_naming_it() -> io::Result<()> {
    let dir = TempDir::new()?;
    let cfg = config(&dir, "*.log");
    fs::write(&cfg.position_file, b"{\"version\": 1, \"files\": [")?;
    let err = Tailer::open(cfg.clone()).err().map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(
        err.contains("positions.json") && err.contains("corrupt"),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_line_longer_than_a_read_chunk_comes_whole() -> io::Result<()> {
    let dir = TempDir::new()?;
    let log = dir.path().join("x.log");
    let long = vec![b'z'; 3 * super::reader::CHUNK + 17];
    append(&log, &long)?;
    let mut tailer = Tailer::open(config(&dir, "*.log"))?;
    assert!(tailer.poll(10)?.is_empty());
    append(&log, b"\nshort\n")?;
    let got = drain(&mut tailer)?;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].bytes, long);
    assert_eq!(
        (got[1].bytes.as_slice(), got[1].line_no),
        (&b"short"[..], 2)
    );
    Ok(())
}

#[test]
fn read_from_end_skips_existing_lines_but_counts_them() -> io::Result<()> {
    let dir = TempDir::new()?;
    let log = dir.path().join("x.log");
    append(&log, b"old1\nold2\nhalf")?;
    let cfg = TailConfig {
        read_from_start: false,
        ..config(&dir, "*.log")
    };
    let mut tailer = Tailer::open(cfg.clone())?;
    append(&log, b"-done\nnew\n")?;
    append(&dir.path().join("y.log"), b"y1\n")?;
    let mut got = numbered(&drain(&mut tailer)?);
    got.sort();
    let want = [("half-done", 3), ("new", 4), ("y1", 1)];
    let want: Vec<(String, u64)> = want.iter().map(|&(s, n)| (s.into(), n)).collect();
    assert_eq!(got, want);
    Ok(())
}
