//! Text encodings of inputs: UTF-8 (with or without BOM) or GBK (Excel exports).

use std::borrow::Cow;

use encoding_rs::GBK;
use memchr::memchr;

/// The encoding of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Utf8,
    Gbk,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

/// The UTF-8 byte order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decides the encoding of a chunk: `None` while it is pure ASCII (the same
/// in both); UTF-8 when it is valid UTF-8 (a multi-byte character cut at the
/// chunk end is fine); otherwise GBK, unless most of its non-ASCII lines are
/// valid UTF-8, in which case it is UTF-8 with a few broken lines (a real
/// GBK line is practically never valid UTF-8).
pub fn sniff_encoding(chunk: &[u8]) -> Option<Encoding> {
    if chunk.is_ascii() {
        return None;
    }
    let e = match std::str::from_utf8(chunk) {
        Ok(_) => return Some(Encoding::Utf8),
        Err(e) if e.error_len().is_none() => return Some(Encoding::Utf8),
        Err(e) => e,
    };
    let (mut valid, mut broken) = (0usize, 0usize);
    // Lines before the one with the first error are valid.
    let first_broken = memchr::memrchr(b'\n', &chunk[..e.valid_up_to()]).map_or(0, |i| i + 1);
    valid += chunk[..first_broken]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_ascii())
        .count();
    let mut rest = &chunk[first_broken..];
    while !rest.is_empty() {
        let (line, next) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        if !line.is_ascii() {
            match std::str::from_utf8(line) {
                Ok(_) => valid += 1,
                Err(e) if e.error_len().is_none() && next.is_empty() => {}
                Err(_) => broken += 1,
            }
        }
        rest = next;
    }
    Some(if valid >= broken {
        Encoding::Utf8
    } else {
        Encoding::Gbk
    })
}

/// A chunk as text. Lines that are not text in the encoding are replaced by
/// a single space (a blank line, so line numbers stay put) and listed in
/// `bad` with their 0-based index in the chunk and their lossy text.
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub bad: Vec<(u64, String)>,
}

/// A whole small file (a checkpoints list) as text, UTF-8 or GBK, without
/// a BOM. Lines that are not text become blank.
pub fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    decode(bytes, sniff_encoding(bytes).unwrap_or(Encoding::Utf8)).text
}

/// Decodes a chunk that ends at a line boundary.
pub(crate) fn decode(chunk: &[u8], encoding: Encoding) -> Decoded<'_> {
    let whole = match encoding {
        // SIMD validation: the hot path of format (a) input.
        Encoding::Utf8 => simdutf8::basic::from_utf8(chunk).ok().map(Cow::Borrowed),
        Encoding::Gbk => GBK.decode_without_bom_handling_and_without_replacement(chunk),
    };
    if let Some(text) = whole {
        return Decoded {
            text,
            bad: Vec::new(),
        };
    }
    // Some line is broken: decode line by line.
    let mut text = String::with_capacity(chunk.len() + chunk.len() / 2);
    let mut bad = Vec::new();
    let mut rest = chunk;
    let mut index = 0u64;
    while !rest.is_empty() {
        let (line, newline, next) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &rest[rest.len()..]),
        };
        let decoded = match encoding {
            Encoding::Utf8 => std::str::from_utf8(line).ok().map(Cow::Borrowed),
            Encoding::Gbk => GBK.decode_without_bom_handling_and_without_replacement(line),
        };
        match decoded {
            Some(s) => text.push_str(&s),
            None => {
                let lossy = match encoding {
                    Encoding::Utf8 => String::from_utf8_lossy(line),
                    Encoding::Gbk => GBK.decode_without_bom_handling(line).0,
                };
                bad.push((index, lossy.trim_end_matches('\r').to_owned()));
                text.push(' ');
            }
        }
        if newline {
            text.push('\n');
        }
        index += 1;
        rest = next;
    }
    Decoded {
        text: Cow::Owned(text),
        bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff_encoding(b"GCXH,KKMC\n"), None);
        assert_eq!(sniff_encoding("卡口\n".as_bytes()), Some(Encoding::Utf8));
        // A character cut at the end of the chunk is still UTF-8.
        let cut = &"卡口".as_bytes()[..4];
        assert_eq!(sniff_encoding(cut), Some(Encoding::Utf8));
        let (gbk, _, _) = GBK.encode("成都东卡口,川A12345\n");
        assert_eq!(sniff_encoding(&gbk), Some(Encoding::Gbk));
        // Mostly UTF-8 with one broken line: UTF-8.
        let mut mixed = "卡口\n".as_bytes().to_vec();
        mixed.extend_from_slice(b"x\xff\n");
        mixed.extend_from_slice("卡口\n".as_bytes());
        assert_eq!(sniff_encoding(&mixed), Some(Encoding::Utf8));
        // Mostly GBK: GBK.
        let mut mixed = GBK.encode("成都\n绵阳\n").0.into_owned();
        mixed.extend_from_slice("卡口\n".as_bytes());
        assert_eq!(sniff_encoding(&mixed), Some(Encoding::Gbk));
        mixed.extend_from_slice(&GBK.encode("德阳\n").0);
        assert_eq!(sniff_encoding(&mixed), Some(Encoding::Gbk));
    }

    #[test]
    fn decodes_and_blanks_broken_lines() {
        let d = decode("a\n卡\n".as_bytes(), Encoding::Utf8);
        assert!(matches!(d.text, Cow::Borrowed("a\n卡\n")));
        assert!(d.bad.is_empty());

        let mut bytes = b"a\n".to_vec();
        bytes.extend_from_slice(b"b\xff\xfe\r\n");
        bytes.extend_from_slice("卡".as_bytes());
        let d = decode(&bytes, Encoding::Utf8);
        assert_eq!(d.text, "a\n \n卡");
        assert_eq!(d.bad, vec![(1, "b\u{fffd}\u{fffd}".to_owned())]);

        let mut gbk = GBK.encode("卡口\n").0.into_owned();
        let d = decode(&gbk, Encoding::Gbk);
        assert_eq!(d.text, "卡口\n");
        gbk.extend_from_slice(b"x\x81\n"); // a lead byte with no trail
        gbk.extend_from_slice(b"y");
        let d = decode(&gbk, Encoding::Gbk);
        assert_eq!(d.text, "卡口\n \ny");
        assert_eq!(d.bad.len(), 1);
        assert_eq!(d.bad[0].0, 1);
        assert!(d.bad[0].1.starts_with('x'));
    }
}
