//! Input and output formats: the Flume/Kafka line, headed CSV/TSV tables
//! (UTF-8 or GBK), and ETC toll records.
//!
//! - [`line`](mod@line): format (a), 8 or 12 TAB-separated fields, no header
//!   ([`parse_line`], [`write_line`]).
//! - [`table`]: CSV/TSV with a header naming GCXH … columns, and ETC toll
//!   records (XH, CP, RKSJ …), each row an entry and an exit pass.
//! - [`encoding`]: UTF-8 or GBK, sniffed.
//! - [`input`]: [`InputParser`], which reads any of them from chunks and hands
//!   passes and [`Rejection`](crate::Rejection)s to a [`ParseSink`]. Bad rows
//!   are never fatal.

pub mod encoding;
pub mod input;
pub mod line;
pub mod table;

pub use encoding::{decode_text, sniff_encoding, Encoding};
pub use input::{Collect, InputParser, Layout, ParseSink};
pub use line::{
    parse_line, write_line, BASE_COLUMNS, DERIVED_COLUMNS, MAX_FIELD_LEN, MAX_ID_LEN, UNKNOWN_BRAND,
};
pub use table::{etc_plate_type, ETC_COLUMNS, ETC_ENTRY, ETC_EXIT};

#[cfg(test)]
mod tests;
