//! File and stdin source: reads in chunks that end at line boundaries, so
//! a file of any size is parsed in bounded memory and no line is split.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use gantry_core::formats::{InputParser, ParseSink};

/// Bytes read per chunk; a line longer than this grows the buffer.
const CHUNK: usize = 1 << 20;

/// Opens a path, "-" meaning stdin.
pub fn open(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(file))
}

/// The name rejections carry for a path.
pub fn source_name(path: &Path) -> String {
    path.display().to_string()
}

/// Size of a path in bytes, when it is a regular file.
pub fn size_of(path: &Path) -> Option<u64> {
    (path.as_os_str() != "-")
        .then(|| std::fs::metadata(path).ok())
        .flatten()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Feeds everything `input` holds to `parser`, whole lines at a time,
/// calling `progress` with the bytes consumed after each chunk.
pub fn feed_all(
    mut input: impl Read,
    parser: &mut InputParser,
    sink: &mut impl ParseSink,
    mut progress: impl FnMut(u64),
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match input.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if filled > 0 {
                parser.feed(&buf[..filled], sink);
                progress(filled as u64);
            }
            return Ok(());
        }
        filled += n;
        let Some(end) = memchr_last_newline(&buf[..filled]) else {
            continue;
        };
        parser.feed(&buf[..=end], sink);
        progress(end as u64 + 1);
        buf.copy_within(end + 1..filled, 0);
        filled -= end + 1;
    }
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use gantry_core::{PassRef, Rejection};

    use super::*;

    #[derive(Default)]
    struct Collect {
        ids: Vec<String>,
        rejected: Vec<u64>,
    }

    impl ParseSink for Collect {
        fn pass(&mut self, pass: PassRef<'_>) {
            self.ids.push(pass.id.to_owned());
        }
        fn reject(&mut self, rejection: Rejection) {
            self.rejected.push(rejection.line);
        }
    }

    /// A reader that returns one byte at a time, the worst case for splitting.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            out[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn trickled_input_parses_like_whole_input() {
        let text = "1\t成都\t卡口A\t上行\t2023-12-01 08:00:00\t02\t川A12345\t大众\n\
                    bad line\n\
                    2\t成都\t卡口B\t上行\t2023-12-01 08:00:05\t02\t川A12346\t-";
        let mut whole = Collect::default();
        let mut parser = InputParser::new("t");
        feed_all(text.as_bytes(), &mut parser, &mut whole, |_| {}).unwrap();
        let mut trickled = Collect::default();
        let mut parser = InputParser::new("t");
        let mut consumed = 0;
        feed_all(Trickle(text.as_bytes()), &mut parser, &mut trickled, |n| {
            consumed += n
        })
        .unwrap();
        assert_eq!(whole.ids, ["1", "2"]);
        assert_eq!(whole.rejected, [2]);
        assert_eq!(trickled.ids, whole.ids);
        assert_eq!(trickled.rejected, whole.rejected);
        assert_eq!(consumed, text.len() as u64);
    }
}
