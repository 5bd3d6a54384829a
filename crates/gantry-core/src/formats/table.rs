//! Headed tables (CSV or TSV with GCXH … columns) and ETC toll records.
//!
//! Both have a header line naming their columns (case-insensitive, any
//! order, extra columns ignored). The header decides the layout: a GCXH
//! column makes a pass table, XH + CP + RKSJ an ETC table.

use std::borrow::Cow;

use csv::ByteRecord;

use super::line::{RawPass, BASE_COLUMNS, MAX_FIELD_LEN, MAX_ID_LEN, UNKNOWN_BRAND};
use crate::pass::PassRef;
use crate::reject::RejectReason;
use crate::time::parse_pass_time;

/// What a data row's field count must be, as a rejection reports it.
pub const TABLE_FIELD_COUNT: &str = "as many as the header";

/// Columns a pass table must have.
pub const TABLE_REQUIRED: [&str; 4] = ["GCXH", "KKMC", "GCSJ", "HPHM"];
/// ETC columns, in the usual order.
pub const ETC_COLUMNS: [&str; 8] = ["XH", "CP", "CX", "SFZRKMC", "RKSJ", "CKSJ", "SFZCKMC", "BZ"];
/// Columns an ETC table must have.
pub const ETC_REQUIRED: [&str; 4] = ["XH", "CP", "RKSJ", "SFZRKMC"];
/// Direction (FXLX) of an ETC entry pass.
pub const ETC_ENTRY: &str = "入口";
/// Direction (FXLX) of an ETC exit pass.
pub const ETC_EXIT: &str = "出口";

/// The delimiter of a header line: TAB when it has more TABs than commas.
pub(crate) fn sniff_delimiter(line: &str) -> u8 {
    let tabs = memchr::memchr_iter(b'\t', line.as_bytes()).count();
    let commas = memchr::memchr_iter(b',', line.as_bytes()).count();
    if tabs > commas {
        b'\t'
    } else {
        b','
    }
}

/// A csv reader over one chunk of text, fields trimmed, rows of any width.
pub(crate) fn csv_reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        // Chunks may be single lines (a Kafka message): size the buffer to them.
        .buffer_capacity(text.len().clamp(64, 1 << 16))
        .from_reader(text.as_bytes())
}

/// A field of a row as text ("" when absent).
#[inline]
pub(crate) fn field(row: &ByteRecord, col: Option<usize>) -> &str {
    col.and_then(|c| row.get(c))
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
}

/// What a header line announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// A pass table, or the required column it lacks.
    Table(Result<TableSpec, &'static str>),
    /// An ETC table, or the required column it lacks.
    Etc(Result<EtcSpec, &'static str>),
    /// Not a header: the line is data.
    None,
}

/// Reads a candidate header line.
pub(crate) fn read_header(line: &str, delimiter: u8) -> Header {
    let mut reader = csv_reader(line, delimiter);
    let mut row = ByteRecord::new();
    if !matches!(reader.read_byte_record(&mut row), Ok(true)) {
        return Header::None;
    }
    let names: Vec<String> = (0..row.len())
        .map(|i| {
            field(&row, Some(i))
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_uppercase()
        })
        .collect();
    let col = |name: &str| names.iter().position(|n| n == name);
    let width = names.len();
    if col("GCXH").is_some() {
        if let Some(missing) = TABLE_REQUIRED.into_iter().find(|c| col(c).is_none()) {
            return Header::Table(Err(missing));
        }
        return Header::Table(Ok(TableSpec {
            width,
            cols: BASE_COLUMNS.map(col),
        }));
    }
    if col("XH").is_some() && col("CP").is_some() && col("RKSJ").is_some() {
        if let Some(missing) = ETC_REQUIRED.into_iter().find(|c| col(c).is_none()) {
            return Header::Etc(Err(missing));
        }
        return Header::Etc(Ok(EtcSpec {
            width,
            id: col("XH"),
            plate: col("CP"),
            class: col("CX"),
            entry: col("SFZRKMC"),
            entry_time: col("RKSJ"),
            exit: col("SFZCKMC"),
            exit_time: col("CKSJ"),
        }));
    }
    Header::None
}

/// Where a pass table keeps each base column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableSpec {
    /// Columns in the header; every row must have as many fields.
    pub width: usize,
    /// The column of each of [`BASE_COLUMNS`].
    pub cols: [Option<usize>; 8],
}

impl TableSpec {
    /// Reads one data row. Missing optional columns read as "" (brand "-").
    pub(crate) fn pass<'r>(&self, row: &'r ByteRecord) -> Result<PassRef<'r>, RejectReason> {
        if row.len() != self.width {
            return Err(RejectReason::FieldCount {
                found: row.len(),
                expected: TABLE_FIELD_COUNT,
            });
        }
        let f = |i: usize| field(row, self.cols[i]);
        RawPass {
            id: f(0),
            district: f(1),
            checkpoint: f(2),
            direction: f(3),
            time: f(4),
            plate_type: f(5),
            plate: f(6),
            brand: f(7),
        }
        .check()
    }
}

/// Where an ETC table keeps each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EtcSpec {
    pub width: usize,
    pub id: Option<usize>,
    pub plate: Option<usize>,
    pub class: Option<usize>,
    pub entry: Option<usize>,
    pub entry_time: Option<usize>,
    pub exit: Option<usize>,
    pub exit_time: Option<usize>,
}

/// HPZL for an ETC vehicle class (CX): class 1 (一型客车, "1", "01", "'1")
/// is a small car "02"; any other class "01".
pub fn etc_plate_type(class: &str) -> &'static str {
    let c = class
        .trim()
        .trim_start_matches('\'')
        .trim()
        .trim_start_matches('0');
    if c == "1" {
        "02"
    } else {
        "01"
    }
}

impl EtcSpec {
    /// Reads one ETC row into its entry pass and, when the row has an exit
    /// (both SFZCKMC and CKSJ), its exit pass. Pass ids are "{XH}-1" and
    /// "{XH}-2", built in `ids`.
    ///
    /// A row is accepted or rejected whole: an unreadable exit time rejects
    /// the entry too.
    pub(crate) fn passes<'r>(
        &self,
        row: &'r ByteRecord,
        ids: &'r mut (String, String),
    ) -> Result<(PassRef<'r>, Option<PassRef<'r>>), RejectReason> {
        if row.len() != self.width {
            return Err(RejectReason::FieldCount {
                found: row.len(),
                expected: TABLE_FIELD_COUNT,
            });
        }
        let id = field(row, self.id);
        let plate = field(row, self.plate);
        let entry = field(row, self.entry);
        let entry_time = field(row, self.entry_time);
        let exit = field(row, self.exit);
        let exit_time = field(row, self.exit_time);
        const MAX_XH: usize = MAX_ID_LEN - 2;
        for (name, v, max) in [
            ("XH", id, MAX_XH),
            ("CP", plate, MAX_FIELD_LEN),
            ("SFZRKMC", entry, MAX_FIELD_LEN),
            ("RKSJ", entry_time, MAX_FIELD_LEN),
            ("SFZCKMC", exit, MAX_FIELD_LEN),
            ("CKSJ", exit_time, MAX_FIELD_LEN),
        ] {
            if v.len() > max {
                return Err(RejectReason::Oversize {
                    field: name,
                    len: v.len(),
                    max,
                });
            }
        }
        for (name, v) in [("XH", id), ("CP", plate), ("SFZRKMC", entry)] {
            if v.is_empty() {
                return Err(RejectReason::EmptyField(name));
            }
        }
        let Some(entered) = parse_pass_time(entry_time) else {
            return Err(RejectReason::BadTime(entry_time.to_owned()));
        };
        let exited = if exit.is_empty() || exit_time.is_empty() {
            None
        } else {
            match parse_pass_time(exit_time) {
                Some(t) => Some(t),
                None => return Err(RejectReason::BadTime(exit_time.to_owned())),
            }
        };
        let plate_type = etc_plate_type(field(row, self.class));
        ids.0.clear();
        ids.0.push_str(id);
        ids.0.push_str("-1");
        ids.1.clear();
        if exited.is_some() {
            ids.1.push_str(id);
            ids.1.push_str("-2");
        }
        let ids: &'r (String, String) = ids;
        let (entry_id, exit_id) = (ids.0.as_str(), ids.1.as_str());
        let pass = |id: &'r str, checkpoint: &'r str, direction: &'static str, time| PassRef {
            id,
            district: "",
            checkpoint,
            direction,
            time,
            plate_type: Cow::Borrowed(plate_type),
            plate,
            brand: UNKNOWN_BRAND,
        };
        Ok((
            pass(entry_id, entry, ETC_ENTRY, entered),
            exited.map(|t| pass(exit_id, exit, ETC_EXIT, t)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("GCXH,KKMC,GCSJ,HPHM"), b',');
        assert_eq!(sniff_delimiter("GCXH\tKKMC\tGCSJ\tHPHM"), b'\t');
        assert_eq!(sniff_delimiter("GCXH\tKKMC\tGCSJ,x\tHPHM"), b'\t');
        assert_eq!(sniff_delimiter("GCXH"), b',');
    }

    #[test]
    fn headers() {
        let Header::Table(Ok(spec)) = read_header("hphm, gcsj ,Extra,\"KKMC\",gcxh", b',') else {
            panic!()
        };
        assert_eq!(spec.width, 5);
        assert_eq!(
            spec.cols,
            [Some(4), None, Some(3), None, Some(1), None, Some(0), None]
        );
        assert_eq!(
            read_header("GCXH,KKMC,HPHM", b','),
            Header::Table(Err("GCSJ"))
        );
        assert_eq!(
            read_header("XH,CP,RKSJ,CKSJ", b','),
            Header::Etc(Err("SFZRKMC"))
        );
        assert!(matches!(
            read_header("bz,rksj,cp,sfzrkmc,xh", b','),
            Header::Etc(Ok(_))
        ));
        assert_eq!(read_header("G1\t成都\t卡口", b'\t'), Header::None);
        assert_eq!(read_header("XH,CP", b','), Header::None);
    }

    #[test]
    fn etc_classes() {
        assert_eq!(etc_plate_type("1"), "02");
        assert_eq!(etc_plate_type("01"), "02");
        assert_eq!(etc_plate_type("'1"), "02");
        assert_eq!(etc_plate_type(" 1 "), "02");
        for other in ["2", "3", "11", "10", "", "0", "客车"] {
            assert_eq!(etc_plate_type(other), "01", "{other:?}");
        }
    }
}
