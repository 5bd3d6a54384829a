//! Rejected input rows: never fatal, always kept with their reason.

use std::fmt;

/// Why a row was rejected. Each variant is one thing that can go wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The row has a field count no known layout accepts.
    FieldCount {
        found: usize,
        expected: &'static str,
    },
    /// The pass time could not be read.
    BadTime(String),
    /// A required field (GCXH, HPHM, KKMC …) is empty.
    EmptyField(&'static str),
    /// A field is longer than the store accepts.
    Oversize {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// The bytes are not text in any encoding we read.
    Encoding,
    /// A header row lacks a required column.
    MissingColumn(&'static str),
    /// The row parsed, but the store refused it for good (the dead letter
    /// of a pipeline that must not stop on one row).
    Unstorable(String),
}

impl RejectReason {
    /// A short, stable key for counting rejections by kind ("field_count", "bad_time" …).
    pub fn kind(&self) -> &'static str {
        match self {
            RejectReason::FieldCount { .. } => "field_count",
            RejectReason::BadTime(_) => "bad_time",
            RejectReason::EmptyField(_) => "empty_field",
            RejectReason::Oversize { .. } => "oversize",
            RejectReason::Encoding => "encoding",
            RejectReason::MissingColumn(_) => "missing_column",
            RejectReason::Unstorable(_) => "unstorable",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::FieldCount { found, expected } => {
                write!(f, "{found} fields, expected {expected}")
            }
            RejectReason::BadTime(t) => write!(f, "unreadable pass time {t:?}"),
            RejectReason::EmptyField(name) => write!(f, "empty {name}"),
            RejectReason::Oversize { field, len, max } => {
                write!(f, "{field} is {len} bytes, more than {max}")
            }
            RejectReason::Encoding => write!(f, "not UTF-8 or GBK text"),
            RejectReason::MissingColumn(c) => write!(f, "header has no {c} column"),
            RejectReason::Unstorable(why) => write!(f, "the store refused it: {why}"),
        }
    }
}

/// A rejected row with where it came from, so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The file (or "-" for stdin, or a source name) the row came from.
    pub source: String,
    /// 1-based line number in that source.
    pub line: u64,
    pub reason: RejectReason,
    /// The raw row as text (lossily decoded when it was not valid text).
    pub raw: String,
}
