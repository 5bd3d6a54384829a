//! IoT device payloads (MQTT messages, HTTP bodies) read into [`Point`]s.
//!
//! Devices send one of three shapes; [`parse_payload`] sniffs which:
//! - **(a) a values list**, `{"values":[{"id":"<series>","values":[v, …]}, …]}`:
//!   one point per entry, the first value the reading, the rest kept in
//!   [`Point::extra`]. Time is the arrival time.
//! - **(b) a flat object**, `{"device":"pi-01","temperature":21.3,"time":…}`:
//!   one point per numeric (or boolean, as 0 or 1) field, series
//!   `"{device}/{field}"`, string fields as tags. The device is the first of
//!   [`DEVICE_KEYS`] present, else the MQTT topic; the time is the first of
//!   [`TIME_KEYS`] present (RFC 3339, or epoch seconds or milliseconds told
//!   apart by magnitude), else the arrival time. `null` fields are no reading.
//! - **(c) InfluxDB line protocol**, `weather,location=us temperature=82 1465839830100400200`:
//!   one point per numeric field ([`parse_line_protocol`]).
//!
//! A payload is taken whole or refused whole with a [`PayloadError`]: a device
//! that sends one bad field learns of it instead of losing it quietly. Time is
//! passed in (`arrival_ms`), never read from a clock.

mod agg;
mod line_protocol;
mod payload;
pub mod retention;
pub mod window;

use std::collections::BTreeMap;

pub use agg::{step_start, Agg};
pub use line_protocol::{parse_line_protocol, Precision};
pub use payload::{DEVICE_KEYS, TIME_KEYS};

/// One reading of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The series id: format (a)'s id, `"{device}/{field}"` or
    /// `"{measurement}{,tag=value…}/{field}"`.
    pub series: String,
    /// Labels of the reading: the device, string fields, line protocol tags.
    pub tags: BTreeMap<String, String>,
    /// Epoch milliseconds, UTC.
    pub time_ms: i64,
    /// The reading; always finite.
    pub value: f64,
    /// Format (a)'s values after the first; empty for the other formats.
    pub extra: Vec<f64>,
}

/// Why a payload was refused. [`reason`](PayloadError::reason) gives a short
/// code to count by; `Display` gives the message for the device's owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is not UTF-8 text")]
    NotUtf8,
    #[error("payload is empty")]
    Empty,
    /// Starts like JSON (`{` or `[`) but does not parse.
    #[error("payload starts like JSON but does not parse: {0}")]
    BadJson(String),
    /// Valid JSON, but an array, string … rather than an object.
    #[error("JSON payload is {0}, not an object")]
    NotObject(&'static str),
    #[error("payload is neither JSON nor InfluxDB line protocol ({0})")]
    NotJsonOrLineProtocol(String),
    /// A line protocol line that does not parse (after a first good line,
    /// or any line given to [`parse_line_protocol`]).
    #[error("line {line}: {why}")]
    BadLine { line: usize, why: String },
    /// NaN, infinity, or a number too large for a 64-bit float.
    #[error("{0} is not a finite number")]
    NonFinite(String),
    /// A flat object (format (b)) holding an object or array.
    #[error(
        "field {field:?} holds {kind}; a flat object holds only numbers, strings and booleans"
    )]
    NestedValue { field: String, kind: &'static str },
    /// A number was expected and something else came, or it is out of range.
    #[error("bad value: {0}")]
    BadValue(String),
    #[error("unreadable time: {0}")]
    BadTime(String),
    /// The payload parsed but holds no numeric value to record.
    #[error("no numeric values in the payload")]
    NoValues,
    #[error("no device id (device, device_id, sensor_id, sensor or id) and no topic")]
    NoDevice,
    #[error("device id in {key:?} must be a non-empty string or a number")]
    BadDevice { key: &'static str },
    /// An entry of format (a)'s `values` list is malformed.
    #[error("entry {index} of \"values\": {why}")]
    BadEntry { index: usize, why: &'static str },
    /// A tag or field named twice, or a string field named like a tag.
    #[error("duplicate key: {0}")]
    DuplicateKey(String),
    #[error("a field has an empty name")]
    EmptyKey,
}

impl PayloadError {
    /// A short, stable code for counting refusals by kind ("non_finite", "bad_time" …).
    pub fn reason(&self) -> &'static str {
        match self {
            PayloadError::NotUtf8 => "not_utf8",
            PayloadError::Empty => "empty",
            PayloadError::BadJson(_) => "bad_json",
            PayloadError::NotObject(_) => "not_object",
            PayloadError::NotJsonOrLineProtocol(_) => "not_json_or_line_protocol",
            PayloadError::BadLine { .. } => "bad_line",
            PayloadError::NonFinite(_) => "non_finite",
            PayloadError::NestedValue { .. } => "nested_value",
            PayloadError::BadValue(_) => "bad_value",
            PayloadError::BadTime(_) => "bad_time",
            PayloadError::NoValues => "no_values",
            PayloadError::NoDevice => "no_device",
            PayloadError::BadDevice { .. } => "bad_device",
            PayloadError::BadEntry { .. } => "bad_entry",
            PayloadError::DuplicateKey(_) => "duplicate_key",
            PayloadError::EmptyKey => "empty_key",
        }
    }
}

/// Reads a device payload of any of the three formats into points.
///
/// `topic` is the MQTT topic (or any name of the sender): the device of a
/// flat object that names none. `arrival_ms` is the time of points whose
/// payload carries none.
///
/// The payload must be UTF-8; a byte-order mark and surrounding whitespace
/// are ignored. Text starting with `{` or `[` is JSON: an object whose
/// `"values"` is an array holding objects is format (a), any other object
/// format (b). Anything else is line protocol with nanosecond timestamps.
/// When its first line does not parse, the payload is
/// [`NotJsonOrLineProtocol`](PayloadError::NotJsonOrLineProtocol).
pub fn parse_payload(
    payload: &[u8],
    topic: &str,
    arrival_ms: i64,
) -> Result<Vec<Point>, PayloadError> {
    let text = std::str::from_utf8(payload).map_err(|_| PayloadError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
    if text.is_empty() {
        return Err(PayloadError::Empty);
    }
    if text.starts_with(['{', '[']) {
        payload::parse_json(text, topic, arrival_ms)
    } else {
        line_protocol::parse_lines(text, Precision::Ns, arrival_ms, true)
    }
}

/// Builders the parsers' tests share.
#[cfg(test)]
mod testkit {
    use std::collections::BTreeMap;

    use super::Point;

    pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn point(series: &str, tags: &BTreeMap<String, String>, time_ms: i64, value: f64) -> Point {
        Point {
            series: series.to_owned(),
            tags: tags.clone(),
            time_ms,
            value,
            extra: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(payload: &str) -> &'static str {
        parse_payload(payload.as_bytes(), "topic", 0)
            .unwrap_err()
            .reason()
    }

    #[test]
    fn sniffs_each_format() {
        let a = parse_payload(br#"{"values":[{"id":"s","values":[1]}]}"#, "t", 5).unwrap();
        assert_eq!(a[0].series, "s");
        let b = parse_payload(br#"{"device":"d","v":1}"#, "t", 5).unwrap();
        assert_eq!(b[0].series, "d/v");
        let c = parse_payload(b"m,k=v f=1", "t", 5).unwrap();
        assert_eq!(c[0].series, "m,k=v/f");
    }

    #[test]
    fn trims_whitespace_and_byte_order_mark() {
        let points =
            parse_payload(b"\xef\xbb\xbf \n {\"device\":\"d\",\"v\":1}\r\n", "t", 5).unwrap();
        assert_eq!(points[0].series, "d/v");
        let points = parse_payload(b"\n\n  m f=2  \n", "t", 5).unwrap();
        assert_eq!(points[0].value, 2.0);
    }

    #[test]
    fn refuses_what_fits_no_format() {
        assert_eq!(
            parse_payload(b"\xff\xfe{}", "t", 0).unwrap_err(),
            PayloadError::NotUtf8
        );
        assert_eq!(reason(""), "empty");
        assert_eq!(reason(" \r\n\t"), "empty");
        assert_eq!(reason("hello"), "not_json_or_line_protocol");
        assert_eq!(reason("hello world"), "not_json_or_line_protocol");
        assert_eq!(reason("42"), "not_json_or_line_protocol");
        assert_eq!(reason(r#"{"device":"d","v":1"#), "bad_json");
        assert_eq!(reason("[1, 2]"), "not_object");
        assert_eq!(reason(&"[".repeat(100_000)), "bad_json");
        assert_eq!(
            parse_payload(b"[1]", "t", 0).unwrap_err().to_string(),
            "JSON payload is an array, not an object"
        );
    }

    #[test]
    fn a_bad_later_line_is_a_bad_line_not_a_bad_format() {
        let err = parse_payload(b"m f=1\nm f=", "t", 0).unwrap_err();
        assert_eq!(err.reason(), "bad_line");
        assert!(
            matches!(err, PayloadError::BadLine { line: 2, .. }),
            "{err:?}"
        );
    }

    /// Line protocol text: the characters that matter to the parser, often.
    fn line_protocol_ish() -> impl Strategy<Value = String> {
        "[a-z0-9 ,=\\\\\"\\.\\-+eEiutfTF#{}\\[\\]:\r\n\t🚀]{0,80}"
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
            topic in ".{0,8}",
            arrival_ms in any::<i64>(),
        ) {
            if let Ok(points) = parse_payload(&bytes, &topic, arrival_ms) {
                prop_assert!(!points.is_empty());
                prop_assert!(points.iter().all(|p| p.value.is_finite()));
            }
        }

        #[test]
        fn line_protocol_like_text_never_panics(text in line_protocol_ish(), arrival_ms in any::<i64>()) {
            let _ = parse_payload(text.as_bytes(), "t", arrival_ms);
            for precision in [Precision::Ns, Precision::Us, Precision::Ms, Precision::S] {
                if let Ok(points) = parse_line_protocol(&text, precision, arrival_ms) {
                    prop_assert!(!points.is_empty());
                    prop_assert!(points.iter().all(|p| p.value.is_finite()));
                }
            }
        }

        #[test]
        fn json_like_text_never_panics(
            text in "\\{[a-z0-9 ,:\"\\.\\-eE\\[\\]{}]{0,60}",
            arrival_ms in any::<i64>(),
        ) {
            if let Ok(points) = parse_payload(text.as_bytes(), "t", arrival_ms) {
                prop_assert!(points.iter().all(|p| p.value.is_finite()));
            }
        }
    }
}
