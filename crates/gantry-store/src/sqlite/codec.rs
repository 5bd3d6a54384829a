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
}
