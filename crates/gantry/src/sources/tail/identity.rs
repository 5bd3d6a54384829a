//! Who a followed file is: its device + inode while it exists, and a
//! fingerprint of its first bytes, which survives copying and shows when
//! the content behind an inode was replaced (truncation, inode reuse).

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// Largest fingerprint, so a bad setting or a hand-edited position file
/// cannot make every poll read a large prefix of every file.
pub const MAX_FINGERPRINT: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// xxh3-64 of a file's first `len` bytes. The length is kept because a
/// short file's fingerprint covers fewer bytes than the configured size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub len: u64,
    pub hash: u64,
}

impl Fingerprint {
    /// Of a file's first bytes (`prefix`): the first `want` bytes when the
    /// file has that many, else the complete lines it has, so a file shorter
    /// than `want` is still identifiable once its first line is written.
    /// `None` while not even one line is complete.
    pub fn of_prefix(prefix: &[u8], want: usize) -> Option<Fingerprint> {
        let len = if prefix.len() >= want {
            want
        } else {
            prefix.iter().rposition(|&b| b == b'\n')? + 1
        };
        Some(Fingerprint {
            len: len as u64,
            hash: xxh3_64(&prefix[..len]),
        })
    }

    /// Whether a file whose first bytes are `prefix` starts with the bytes
    /// this fingerprint was taken from.
    pub fn matches(&self, prefix: &[u8]) -> bool {
        usize::try_from(self.len)
            .ok()
            .and_then(|len| prefix.get(..len))
            .is_some_and(|head| xxh3_64(head) == self.hash)
    }
}

/// Up to `len` bytes from the start of `file`.
pub fn read_prefix(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut got = 0;
    while got < len {
        match read_at(file, &mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// `read_at`, retried when a signal interrupts it.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
