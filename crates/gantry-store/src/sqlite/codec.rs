//! Values as SQLite holds them: times as canonical GCSJ text.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use gantry_core::time::GCSJ_FORMAT;

/// Appends `time` as 'YYYY-MM-DD HH:MM:SS' to `out` (cleared first).
/// Hand-rolled: chrono's formatter costs more than the SQLite insert.
pub(crate) fn write_time(time: NaiveDateTime, out: &mut String) {
    out.clear();
    let year = time.year();
    if !(0..=9999).contains(&year) {
        let _ = write!(out, "{}", time.format(GCSJ_FORMAT));
        return;
    }
    let mut b = *b"0000-00-00 00:00:00";
    let two = |b: &mut [u8], at: usize, v: u32| {
        b[at] = b'0' + (v / 10) as u8;
        b[at + 1] = b'0' + (v % 10) as u8;
    };
    let y = year as u32;
    two(&mut b, 0, y / 100);
    two(&mut b, 2, y % 100);
    two(&mut b, 5, time.month());
    two(&mut b, 8, time.day());
    two(&mut b, 11, time.hour());
    two(&mut b, 14, time.minute());
    two(&mut b, 17, time.second());
    // Only ASCII digits and separators were written.
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

/// `time` as 'YYYY-MM-DD HH:MM:SS'.
pub(crate) fn time_text(time: NaiveDateTime) -> String {
    let mut s = String::with_capacity(19);
    write_time(time, &mut s);
    s
}

/// `date` as 'YYYY-MM-DD'.
pub(crate) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Reads a time written by [`write_time`].
pub(crate) fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
    {
        let num = |from: usize, len: usize| -> Option<u32> {
            b[from..from + len].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        return NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?.and_hms_opt(
            num(11, 2)?,
            num(14, 2)?,
            num(17, 2)?,
        );
    }
    NaiveDateTime::parse_from_str(text, GCSJ_FORMAT).ok()
}

/// The smallest string greater than every string starting with `prefix`,
/// in byte (= code point) order; `None` when there is none.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for text in [
            "2023-12-01 08:05:09",
            "1999-01-31 23:59:59",
            "0001-01-01 00:00:00",
        ] {
            let t = NaiveDateTime::parse_from_str(text, GCSJ_FORMAT).unwrap();
            assert_eq!(time_text(t), text);
            assert_eq!(parse_time(text), Some(t));
        }
        assert_eq!(parse_time("2023-02-30 00:00:00"), None);
        assert_eq!(parse_time("2023-12-01T08:05:09"), None);
        assert_eq!(parse_time("x"), None);
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound("川A").as_deref(), Some("川B"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound(""), None);
        // Everything starting with the prefix sorts below the bound.
        let up = prefix_upper_bound("川A").unwrap();
        assert!("川A\u{10FFFF}\u{10FFFF}" < up.as_str());
        assert!("川A" < up.as_str());
    }
}
