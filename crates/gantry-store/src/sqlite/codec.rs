//! Values as SQLite holds them: times as canonical GCSJ text.

use chrono::{NaiveDate, NaiveDateTime};
use gantry_core::time::{parse_pass_time, write_pass_time};

/// Writes `time` as 'YYYY-MM-DD HH:MM:SS' into `out` (cleared first),
/// with the core's allocation-free writer.
pub(crate) fn write_time(time: NaiveDateTime, out: &mut String) {
    out.clear();
    write_pass_time(time, out);
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

/// Reads a time written by [`write_time`] (the core's parser takes the
/// canonical layout on its fast path).
pub(crate) fn parse_time(text: &str) -> Option<NaiveDateTime> {
    parse_pass_time(text)
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
            let t = NaiveDateTime::parse_from_str(text, gantry_core::time::GCSJ_FORMAT).unwrap();
            assert_eq!(time_text(t), text);
            assert_eq!(parse_time(text), Some(t));
        }
        assert_eq!(parse_time("2023-02-30 00:00:00"), None);
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
