//! Pass times (GCSJ) as exported in the wild.
//!
//! Times are local wall-clock time in China Standard Time (UTC+8, no DST),
//! held as `NaiveDateTime`. Input with an explicit zone is converted to it.

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

/// The canonical GCSJ layout, used for every output.
pub const GCSJ_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Parses a pass time: "2023-12-01 08:00:00", "2023/12/1 8:00:00",
/// ISO 8601 with or without "T", fractional seconds and zone.
///
/// Accepted shapes (surrounding whitespace ignored):
/// - the canonical `YYYY-MM-DD HH:MM:SS` (a fixed-position fast path, the
///   hot path of `detect` and `import`);
/// - date `YYYY-M-D`, `YYYY/M/D` or `YYYY.M.D` (one or two digit month and day,
///   one separator kind), then `T` or spaces, then `H:M[:S[.fraction]]` (one or
///   two digits each; seconds default to 0 as in Excel's `yyyy/m/d h:mm`);
/// - an optional zone after the time: `Z`, `±HH`, `±HHMM` or `±HH:MM`
///   (optionally after a space). A zoned time is converted to China Standard
///   Time (UTC+8) wall clock;
/// - the compact `YYYYMMDDHHMMSS` some checkpoint systems export.
///
/// Fractional seconds are truncated: pass times are held to the second.
/// Anything else, out-of-range fields (month 13, 30 February, 24:00) and
/// date-only text give `None`.
pub fn parse_pass_time(text: &str) -> Option<NaiveDateTime> {
    let mut text = text.trim_ascii();
    if text.as_bytes().first().is_some_and(|&c| c >= 0x80)
        || text.as_bytes().last().is_some_and(|&c| c >= 0x80)
    {
        // Rare: perhaps Unicode spaces (U+3000) around the time.
        text = text.trim();
    }
    let b = text.as_bytes();
    if b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
    {
        if let Some(t) = parse_canonical(b) {
            return Some(t);
        }
    }
    parse_general(b)
}

/// The fast path: exact `YYYY-MM-DD HH:MM:SS` (separators already checked).
#[inline]
fn parse_canonical(b: &[u8]) -> Option<NaiveDateTime> {
    #[inline(always)]
    fn d(b: u8) -> Option<u32> {
        let v = b.wrapping_sub(b'0');
        if v < 10 {
            Some(v as u32)
        } else {
            None
        }
    }
    let year = d(b[0])? * 1000 + d(b[1])? * 100 + d(b[2])? * 10 + d(b[3])?;
    let month = d(b[5])? * 10 + d(b[6])?;
    let day = d(b[8])? * 10 + d(b[9])?;
    let hour = d(b[11])? * 10 + d(b[12])?;
    let min = d(b[14])? * 10 + d(b[15])?;
    let sec = d(b[17])? * 10 + d(b[18])?;
    NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, min, sec)
}

/// A cursor over ASCII bytes for the general layouts.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Reads `min..=max` decimal digits; `None` when fewer than `min`.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v = 0u32;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + (c - b'0') as u32;
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }

    fn skip_spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }
}

fn parse_general(b: &[u8]) -> Option<NaiveDateTime> {
    if b.len() == 14 && b.iter().all(u8::is_ascii_digit) {
        return parse_compact(b);
    }
    let mut c = Cursor { b, i: 0 };
    let year = c.number(4, 4)?;
    let sep = c.peek().filter(|s| matches!(s, b'-' | b'/' | b'.'))?;
    c.i += 1;
    let month = c.number(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let day = c.number(1, 2)?;
    if !(c.eat(b'T') || c.eat(b't') || c.skip_spaces() > 0) {
        return None;
    }
    let hour = c.number(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let min = c.number(1, 2)?;
    let mut sec = 0;
    if c.eat(b':') {
        sec = c.number(1, 2)?;
        if c.eat(b'.') || c.eat(b',') {
            // Fraction: truncated to whole seconds.
            c.number(1, usize::MAX)?;
        }
    }
    let local = NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, min, sec)?;
    c.skip_spaces();
    let offset_s: i64 = match c.peek() {
        None => return Some(local),
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let hh = c.number(2, 2)?;
            let mm = if c.eat(b':') || c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.number(2, 2)?
            } else {
                0
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            let s = (hh * 3600 + mm * 60) as i64;
            if sign == b'-' {
                -s
            } else {
                s
            }
        }
        Some(_) => return None,
    };
    if c.i != b.len() {
        return None;
    }
    local.checked_add_signed(TimeDelta::seconds(CST_OFFSET_S - offset_s))
}

/// `YYYYMMDDHHMMSS` (all 14 bytes are digits).
fn parse_compact(b: &[u8]) -> Option<NaiveDateTime> {
    let n = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |v, c| v * 10 + (c - b'0') as u32);
    NaiveDate::from_ymd_opt(n(0..4) as i32, n(4..6), n(6..8))?.and_hms_opt(
        n(8..10),
        n(10..12),
        n(12..14),
    )
}

/// China Standard Time is UTC+8 all year.
const CST_OFFSET_S: i64 = 8 * 3600;

/// The China Standard Time wall clock at `epoch_ms` (UTC milliseconds),
/// or `None` outside chrono's range.
pub fn china_time_of_ms(epoch_ms: i64) -> Option<NaiveDateTime> {
    let utc = chrono::DateTime::from_timestamp_millis(epoch_ms)?.naive_utc();
    utc.checked_add_signed(TimeDelta::seconds(CST_OFFSET_S))
}

/// Appends a time the canonical way ("2023-12-01 08:00:00") without allocating.
pub fn write_pass_time(time: NaiveDateTime, out: &mut String) {
    fn two(out: &mut String, v: u32) {
        out.push((b'0' + (v / 10 % 10) as u8) as char);
        out.push((b'0' + (v % 10) as u8) as char);
    }
    let year = time.year();
    if (0..=9999).contains(&year) {
        let y = year as u32;
        two(out, y / 100);
        two(out, y % 100);
    } else {
        // Outside what GCSJ can hold; keep it readable rather than wrong.
        use std::fmt::Write;
        let _ = write!(out, "{year}");
    }
    out.push('-');
    two(out, time.month());
    out.push('-');
    two(out, time.day());
    out.push(' ');
    two(out, time.hour());
    out.push(':');
    two(out, time.minute());
    out.push(':');
    two(out, time.second());
}

/// Formats a time the canonical way ("2023-12-01 08:00:00").
pub fn format_pass_time(time: NaiveDateTime) -> String {
    time.format(GCSJ_FORMAT).to_string()
}

/// Serde adapter writing and reading times in the canonical GCSJ layout.
pub mod gcsj {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&time.format(super::GCSJ_FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_pass_time(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unreadable time {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn canonical_fast_path() {
        assert_eq!(
            parse_pass_time("2023-12-01 08:00:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2024-02-29 23:59:59"),
            Some(t(2024, 2, 29, 23, 59, 59))
        );
        assert_eq!(
            parse_pass_time("  2023-12-01 08:00:00\t"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01 08:00:00\r"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("\u{3000}2023-12-01 08:00:00\u{3000}"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
    }

    #[test]
    fn slashes_and_single_digits() {
        assert_eq!(
            parse_pass_time("2023/12/1 8:00:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023/1/9 18:05:07"),
            Some(t(2023, 1, 9, 18, 5, 7))
        );
        assert_eq!(
            parse_pass_time("2023-12-01 8:5:3"),
            Some(t(2023, 12, 1, 8, 5, 3))
        );
        assert_eq!(
            parse_pass_time("2023.12.01 08:00:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        // Excel's "yyyy/m/d h:mm" drops the seconds.
        assert_eq!(
            parse_pass_time("2023/12/1 8:07"),
            Some(t(2023, 12, 1, 8, 7, 0))
        );
        // Several spaces between date and time.
        assert_eq!(
            parse_pass_time("2023-12-01  08:00:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
    }

    #[test]
    fn iso_t_and_fraction() {
        assert_eq!(
            parse_pass_time("2023-12-01T08:00:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01 08:00:00.999"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T08:00:01.5"),
            Some(t(2023, 12, 1, 8, 0, 1))
        );
        assert_eq!(
            parse_pass_time("2023-12-01 08:00:02,123456789"),
            Some(t(2023, 12, 1, 8, 0, 2))
        );
    }

    #[test]
    fn zones_convert_to_china_standard_time() {
        assert_eq!(
            parse_pass_time("2023-12-01T00:00:00Z"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T00:00:00z"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T08:00:00+08:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T08:00:00+0800"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T08:00:00+08"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01 08:00:00 +08:00"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T20:00:00-05:00"),
            Some(t(2023, 12, 2, 9, 0, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-31T16:30:00.25Z"),
            Some(t(2024, 1, 1, 0, 30, 0))
        );
        assert_eq!(
            parse_pass_time("2023-12-01T05:30:00+05:30"),
            Some(t(2023, 12, 1, 8, 0, 0))
        );
    }

    #[test]
    fn compact_digits() {
        assert_eq!(
            parse_pass_time("20231201080910"),
            Some(t(2023, 12, 1, 8, 9, 10))
        );
        assert_eq!(parse_pass_time("20231301080910"), None);
    }

    #[test]
    fn rejects_garbage_and_out_of_range() {
        for bad in [
            "",
            "   ",
            "-",
            "abc",
            "2023-12-01",
            "2023-12-01 08",
            "2023-13-01 08:00:00",
            "2023-02-30 08:00:00",
            "2023-02-29 08:00:00",
            "2023-12-01 24:00:00",
            "2023-12-01 08:60:00",
            "2023-12-01 08:00:60",
            "2023-12-01 08:00:0x",
            "2023-12-01x08:00:00",
            "2023-12/01 08:00:00",
            "23-12-01 08:00:00",
            "2023-123-01 08:00:00",
            "2023-12-01 08:00:00 junk",
            "2023-12-01 08:00:00.",
            "2023-12-01T00:00:00+25:00",
            "2023-12-01T00:00:00+8",
            "2023-12-01T00:00:00+08:0",
            "2023-12-01T00:00:00+081",
            "２０２３-12-01 08:00:00",
        ] {
            assert_eq!(parse_pass_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn write_matches_chrono_format_and_round_trips() {
        for time in [
            t(2023, 12, 1, 8, 0, 0),
            t(2024, 2, 29, 23, 59, 59),
            t(999, 1, 2, 3, 4, 5),
        ] {
            let mut out = String::new();
            write_pass_time(time, &mut out);
            assert_eq!(out, format_pass_time(time));
            assert_eq!(parse_pass_time(&out), Some(time));
        }
    }

    #[test]
    fn gcsj_serde_round_trip() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct W {
            #[serde(with = "gcsj")]
            t: NaiveDateTime,
        }
        let w = W {
            t: t(2023, 12, 1, 8, 0, 0),
        };
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#"{"t":"2023-12-01 08:00:00"}"#);
        assert_eq!(serde_json::from_str::<W>(&json).unwrap(), w);
        assert_eq!(
            serde_json::from_str::<W>(r#"{"t":"2023/12/1 8:00:00"}"#).unwrap(),
            w
        );
        assert!(serde_json::from_str::<W>(r#"{"t":"soon"}"#).is_err());
    }
}
