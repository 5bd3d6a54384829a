//! The streaming parser: one input fed in chunks, layout and encoding sniffed.

use csv::ByteRecord;
use memchr::{memchr, memchr_iter};

use super::encoding::{self, Encoding, UTF8_BOM};
use super::line::parse_line;
use super::table::{csv_reader, read_header, sniff_delimiter, EtcSpec, Header, TableSpec};
use crate::pass::{Pass, PassRef};
use crate::reject::{RejectReason, Rejection};

/// Receives what an [`InputParser`] reads, in input order.
pub trait ParseSink {
    fn pass(&mut self, pass: PassRef<'_>);
    fn reject(&mut self, rejection: Rejection);
}

impl<S: ParseSink + ?Sized> ParseSink for &mut S {
    fn pass(&mut self, pass: PassRef<'_>) {
        (**self).pass(pass)
    }

    fn reject(&mut self, rejection: Rejection) {
        (**self).reject(rejection)
    }
}

/// A sink that keeps everything, owned (for tests and small inputs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collect {
    pub passes: Vec<Pass>,
    pub rejections: Vec<Rejection>,
}

impl ParseSink for Collect {
    fn pass(&mut self, pass: PassRef<'_>) {
        self.passes.push(pass.to_pass());
    }

    fn reject(&mut self, rejection: Rejection) {
        self.rejections.push(rejection);
    }
}

/// The layout of an input, decided by its first non-blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Format (a): headerless TAB-separated lines of 8 or 12 fields.
    Line,
    /// A CSV or TSV table whose header names GCXH … columns.
    Table,
    /// ETC toll records (XH, CP, RKSJ … columns); two passes per row.
    Etc,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Line => "line",
            Layout::Table => "table",
            Layout::Etc => "etc",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// No non-blank line seen yet.
    Sniffing,
    Line,
    Table {
        delimiter: u8,
        spec: TableSpec,
    },
    Etc {
        delimiter: u8,
        spec: EtcSpec,
    },
    /// The header lacks a required column: every row is rejected with it.
    Missing {
        layout: Layout,
        column: &'static str,
    },
}

/// One input (a file, stdin, a Kafka partition): layout and encoding are
/// sniffed from the first chunk (header line decides: GCXH → table, XH+CP+RKSJ → ETC, else format (a) lines).
///
/// - The header is the first non-blank line; its delimiter is TAB when it
///   has more TABs than commas, else comma. Leading blank lines are skipped.
/// - Encoding: a leading UTF-8 BOM means UTF-8. Otherwise it is decided by
///   the first chunk holding a non-ASCII byte (pure ASCII reads the same in
///   both, and is reported as UTF-8 until then): valid UTF-8 → UTF-8, else
///   GBK. Lines that are not text in that encoding are rejected with
///   [`RejectReason::Encoding`]; the rest still parse.
/// - Line numbers count every line of the input, header and blank lines
///   included, from 1. Blank lines (and table rows whose fields are all
///   empty) are skipped silently.
/// - A table whose header lacks a required column rejects its header and
///   every row with [`RejectReason::MissingColumn`].
/// - A table field quoted across lines is read as one row (numbered by its
///   first line) as long as it is inside one chunk.
#[derive(Debug, Clone)]
pub struct InputParser {
    source: String,
    lines: u64,
    started: bool,
    encoding: Option<Encoding>,
    encoding_settled: bool,
    state: State,
}

impl InputParser {
    pub fn new(source: impl Into<String>) -> Self {
        InputParser {
            source: source.into(),
            lines: 0,
            started: false,
            encoding: None,
            encoding_settled: false,
            state: State::Sniffing,
        }
    }

    /// The source name rejections carry.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Feeds bytes ending at a line boundary (the last chunk may lack the final '\n').
    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl ParseSink) {
        let mut chunk = chunk;
        if !self.started && !chunk.is_empty() {
            self.started = true;
            if let Some(rest) = chunk.strip_prefix(UTF8_BOM) {
                chunk = rest;
                self.encoding = Some(Encoding::Utf8);
                self.encoding_settled = true;
            }
        }
        if chunk.is_empty() {
            return;
        }
        if !self.encoding_settled {
            match encoding::sniff_encoding(chunk) {
                Some(e) => {
                    self.encoding = Some(e);
                    self.encoding_settled = true;
                }
                None => self.encoding = Some(Encoding::Utf8),
            }
        }
        let decoded = encoding::decode(chunk, self.encoding.unwrap_or(Encoding::Utf8));
        let mut bad = BadLines {
            items: decoded.bad,
            next: 0,
            first_line: self.lines + 1,
        };
        self.feed_text(&decoded.text, &mut bad, sink);
    }

    /// Lines consumed so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The layout, once the first non-blank line has been seen.
    pub fn layout(&self) -> Option<Layout> {
        match self.state {
            State::Sniffing => None,
            State::Line => Some(Layout::Line),
            State::Table { .. } => Some(Layout::Table),
            State::Etc { .. } => Some(Layout::Etc),
            State::Missing { layout, .. } => Some(layout),
        }
    }

    /// The encoding, once any byte has been seen.
    pub fn encoding(&self) -> Option<Encoding> {
        self.encoding
    }

    /// The header's missing required column, when the input is unusable.
    pub fn missing_column(&self) -> Option<&'static str> {
        match self.state {
            State::Missing { column, .. } => Some(column),
            _ => None,
        }
    }

    fn rejection(&self, line: u64, reason: RejectReason, raw: &str) -> Rejection {
        Rejection {
            source: self.source.clone(),
            line,
            reason,
            raw: raw.trim_end_matches(['\r', '\n']).to_owned(),
        }
    }

    fn feed_text<S: ParseSink>(&mut self, text: &str, bad: &mut BadLines, sink: &mut S) {
        let mut rest = text;
        while matches!(self.state, State::Sniffing) && !rest.is_empty() {
            let (line, next) = split_line(rest);
            if line.trim_ascii().is_empty() {
                self.lines += 1;
                rest = next;
                continue;
            }
            let delimiter = sniff_delimiter(line);
            self.state = match read_header(line, delimiter) {
                // Not a header: the line is the first data line.
                Header::None => State::Line,
                Header::Table(Ok(spec)) => State::Table { delimiter, spec },
                Header::Etc(Ok(spec)) => State::Etc { delimiter, spec },
                Header::Table(Err(column)) => State::Missing {
                    layout: Layout::Table,
                    column,
                },
                Header::Etc(Err(column)) => State::Missing {
                    layout: Layout::Etc,
                    column,
                },
            };
            if let State::Line = self.state {
                break;
            }
            self.lines += 1;
            rest = next;
            bad.flush(self.lines, &self.source, sink);
            if let State::Missing { column, .. } = self.state {
                sink.reject(self.rejection(self.lines, RejectReason::MissingColumn(column), line));
            }
        }
        match self.state {
            State::Sniffing => {}
            State::Line => self.feed_lines(rest, bad, sink),
            State::Missing { column, .. } => self.feed_missing(rest, column, bad, sink),
            State::Table { delimiter, spec } => {
                self.feed_table(rest, delimiter, bad, sink, |row, sink| {
                    sink.pass(spec.pass(row)?);
                    Ok(())
                })
            }
            State::Etc { delimiter, spec } => {
                let mut ids = (String::new(), String::new());
                self.feed_table(rest, delimiter, bad, sink, |row, sink| {
                    let (entry, exit) = spec.passes(row, &mut ids)?;
                    sink.pass(entry);
                    if let Some(exit) = exit {
                        sink.pass(exit);
                    }
                    Ok(())
                })
            }
        }
        bad.flush(u64::MAX, &self.source, sink);
    }

    /// Format (a): the hot path, nothing allocated per accepted line.
    fn feed_lines<S: ParseSink>(&mut self, text: &str, bad: &mut BadLines, sink: &mut S) {
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = split_line(rest);
            rest = next;
            self.lines += 1;
            if bad.pending() {
                // Broken lines are blank here; report them in order.
                bad.flush(self.lines + 1, &self.source, sink);
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(pass) => sink.pass(pass),
                Err(reason) => sink.reject(self.rejection(self.lines, reason, line)),
            }
        }
    }

    fn feed_missing<S: ParseSink>(
        &mut self,
        text: &str,
        column: &'static str,
        bad: &mut BadLines,
        sink: &mut S,
    ) {
        let mut rest = text;
        while !rest.is_empty() {
            let (line, next) = split_line(rest);
            rest = next;
            self.lines += 1;
            bad.flush(self.lines + 1, &self.source, sink);
            if !line.trim_ascii().is_empty() {
                sink.reject(self.rejection(self.lines, RejectReason::MissingColumn(column), line));
            }
        }
    }

    /// Table rows through the csv reader; `row` emits a row's passes.
    fn feed_table<S: ParseSink>(
        &mut self,
        text: &str,
        delimiter: u8,
        bad: &mut BadLines,
        sink: &mut S,
        mut row_passes: impl FnMut(&ByteRecord, &mut S) -> Result<(), RejectReason>,
    ) {
        let bytes = text.as_bytes();
        let first_line = self.lines + 1;
        let mut reader = csv_reader(text, delimiter);
        let mut row = ByteRecord::new();
        // The line number at byte `at`, counted as we go.
        let (mut at, mut line) = (0usize, first_line);
        loop {
            let before = (reader.position().byte() as usize).min(bytes.len());
            match reader.read_byte_record(&mut row) {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
            let after = (reader.position().byte() as usize).min(bytes.len());
            // The reader's record position includes skipped empty lines.
            let mut start = before.max(at);
            while start < after && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            line += memchr_iter(b'\n', &bytes[at..start]).count() as u64;
            at = start;
            bad.flush(line, &self.source, sink);
            if row.iter().all(<[u8]>::is_empty) {
                continue;
            }
            if let Err(reason) = row_passes(&row, sink) {
                let raw = text.get(start..after).unwrap_or("");
                sink.reject(self.rejection(line, reason, raw));
            }
        }
        self.lines = first_line - 1 + count_lines(bytes);
    }
}

/// Lines of a chunk that were not text, waiting to be reported in order.
struct BadLines {
    /// (0-based index in the chunk, lossy text).
    items: Vec<(u64, String)>,
    next: usize,
    /// The line number of the chunk's first line.
    first_line: u64,
}

impl BadLines {
    #[inline]
    fn pending(&self) -> bool {
        self.next < self.items.len()
    }

    /// Reports the broken lines numbered below `before`.
    fn flush(&mut self, before: u64, source: &str, sink: &mut impl ParseSink) {
        while let Some((index, raw)) = self.items.get_mut(self.next) {
            let line = self.first_line + *index;
            if line >= before {
                break;
            }
            sink.reject(Rejection {
                source: source.to_owned(),
                line,
                reason: RejectReason::Encoding,
                raw: std::mem::take(raw),
            });
            self.next += 1;
        }
    }
}

/// The first line of `text` (without its '\n') and the rest.
#[inline]
fn split_line(text: &str) -> (&str, &str) {
    match memchr(b'\n', text.as_bytes()) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

/// Lines in a chunk: its '\n's, plus one for a last line without '\n'.
fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}
