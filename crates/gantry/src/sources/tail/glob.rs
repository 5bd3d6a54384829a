//! Path patterns: `*` and `?` in the file-name part only, so one directory
//! listing per pattern finds every candidate and nothing recurses.

use std::fs;
use std::io;
use std::path::PathBuf;

/// A pattern split into the directory to list and the file-name pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    dir: PathBuf,
    /// `None` when the pattern names one file: no listing needed.
    name: Option<Vec<char>>,
    literal: PathBuf,
}

impl Pattern {
    pub fn parse(text: &str) -> Pattern {
        let literal = PathBuf::from(text);
        let name = literal
            .file_name()
            .map(|n| n.to_string_lossy().chars().collect::<Vec<_>>())
            .filter(|n| n.iter().any(|&c| c == '*' || c == '?'));
        let dir = match literal.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Pattern { dir, name, literal }
    }

    /// Appends the paths this pattern names now, sorted. A missing directory
    /// names nothing (its files may appear later); other listing errors go
    /// to `problems`.
    pub fn expand(&self, out: &mut Vec<PathBuf>, problems: &mut Vec<(PathBuf, io::Error)>) {
        let Some(name) = &self.name else {
            out.push(self.literal.clone());
            return;
        };
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => return problems.push((self.dir.clone(), e)),
        };
        let mut found = Vec::new();
        for item in listing {
            match item {
                Ok(item) if name_matches(name, &item.file_name().to_string_lossy()) => {
                    found.push(item.path())
                }
                Ok(_) => {}
                Err(e) => problems.push((self.dir.clone(), e)),
            }
        }
        found.sort();
        out.extend(found);
    }
}

/// Whether `name` matches `pattern`. As in a shell, a leading `.` must be
/// matched literally, which also keeps temporary files (`.tmp…`) out.
#[cfg(test)]
pub fn matches(pattern: &str, name: &str) -> bool {
    name_matches(&pattern.chars().collect::<Vec<_>>(), name)
}

fn name_matches(pattern: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    if name.first() == Some(&'.') && pattern.first() != Some(&'.') {
        return false;
    }
    wildcard(pattern, &name)
}

/// Linear-backtracking wildcard match: on a mismatch, the last `*` takes
/// one more character. No recursion, so no input can blow the stack.
fn wildcard(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    p = sp + 1;
                    n = sn + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}
