//! The position file: where each followed file was left. Written to a
//! temporary file, synced and renamed over the old one, so a crash leaves
//! either the previous or the new positions, never a mix.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::identity::{FileId, Fingerprint, MAX_FINGERPRINT};

const VERSION: u32 = 1;

/// The next unread byte of a file and how many lines come before it, so
/// line numbers resume where they stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub offset: u64,
    pub lines: u64,
}

/// One file's saved state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(with = "path_repr")]
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: Option<Fingerprint>,
    pub offset: u64,
    pub lines: u64,
}

impl Record {
    pub fn id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }

    pub fn pos(&self) -> Pos {
        Pos {
            offset: self.offset,
            lines: self.lines,
        }
    }
}

/// Followed files, and states left behind by files that were truncated or
/// vanished, which a copy of them (same fingerprint) takes over.
#[derive(Debug, Default)]
pub struct Positions {
    pub files: Vec<Record>,
    pub retired: Vec<Record>,
}

#[derive(Deserialize)]
struct Stored {
    version: u32,
    files: Vec<Record>,
    #[serde(default)]
    retired: Vec<Record>,
}

/// The saved positions; none when the file does not exist yet.
pub fn load(path: &Path) -> io::Result<Positions> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Positions::default()),
        Err(e) => return Err(named(path, e)),
    };
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e))?;
    if stored.version != VERSION {
        return Err(corrupt(path, format!("unknown version {}", stored.version)));
    }
    let p = Positions {
        files: stored.files,
        retired: stored.retired,
    };
    let too_long = p.files.iter().chain(&p.retired).any(|r| {
        r.fingerprint
            .is_some_and(|f| f.len == 0 || f.len > MAX_FINGERPRINT as u64)
    });
    if too_long {
        return Err(corrupt(path, "fingerprint length out of range"));
    }
    Ok(p)
}

/// The bytes [`store`] writes: compared with the last commit's to skip
/// rewriting unchanged positions.
pub fn encode(positions: &Positions) -> io::Result<Vec<u8>> {
    let stored = StoredRef {
        version: VERSION,
        files: &positions.files,
        retired: &positions.retired,
    };
    serde_json::to_vec_pretty(&stored).map_err(io::Error::other)
}

#[derive(Serialize)]
struct StoredRef<'a> {
    version: u32,
    files: &'a [Record],
    retired: &'a [Record],
}

/// Replaces the position file atomically: temporary file in the same
/// directory, fsync, rename, fsync of the directory so the rename persists.
pub fn store(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let write = || -> io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| named(path, e))
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("position file {}: {e}", path.display()))
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("position file {} is corrupt: {e}", path.display()),
    )
}

/// Paths as text when they are UTF-8, else as their raw bytes, so a file
/// named in GBK still round-trips.
mod path_repr {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => s.serialize_str(text),
            None => s.collect_seq(path.as_os_str().as_bytes()),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(text) => PathBuf::from(text),
            Repr::Bytes(bytes) => PathBuf::from(OsString::from_vec(bytes)),
        })
    }
}
