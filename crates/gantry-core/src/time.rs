//! Pass times (GCSJ) as exported in the wild.
//!
//! Times are local wall-clock time in China Standard Time (UTC+8, no DST),
//! held as `NaiveDateTime`. Input with an explicit zone is converted to it.

use chrono::NaiveDateTime;

/// The canonical GCSJ layout, used for every output.
pub const GCSJ_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Parses a pass time: "2023-12-01 08:00:00", "2023/12/1 8:00:00",
/// ISO 8601 with or without "T", fractional seconds and zone.
pub fn parse_pass_time(text: &str) -> Option<NaiveDateTime> {
    let _ = text;
    todo!("formats helper")
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
