//! Format (a): the Flume/Kafka line.
//!
//! 12 TAB-separated fields, no header:
//! `GCXH XZQHMC KKMC FXLX GCSJ HPZL HPHM CLPPXH PROVINCE IS_WEEKEND IS_PEAK_HOUR VEHICLE_TYPE_NAME`.
//! The 8 base fields alone are accepted too. The last 4 are derived: they are
//! ignored on input and recomputed through [`Derived`] on output.

use memchr::memchr3;

use crate::pass::{Derived, PassRef};
use crate::plate::normalize_plate_type;
use crate::reject::RejectReason;
use crate::time::{parse_pass_time, write_pass_time};

/// The base columns, in line order.
pub const BASE_COLUMNS: [&str; 8] = [
    "GCXH", "XZQHMC", "KKMC", "FXLX", "GCSJ", "HPZL", "HPHM", "CLPPXH",
];
/// The derived columns that follow the base ones in a full line.
pub const DERIVED_COLUMNS: [&str; 4] = [
    "PROVINCE",
    "IS_WEEKEND",
    "IS_PEAK_HOUR",
    "VEHICLE_TYPE_NAME",
];
/// Longest pass id (GCXH) accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest value of any other field accepted, in bytes.
pub const MAX_FIELD_LEN: usize = 128;
/// What a line's field count must be, as a rejection reports it.
pub const LINE_FIELD_COUNTS: &str = "8 or 12";

/// Brand (CLPPXH) when unknown.
pub const UNKNOWN_BRAND: &str = "-";

/// The 8 base fields of a row as text, before checking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawPass<'a> {
    pub id: &'a str,
    pub district: &'a str,
    pub checkpoint: &'a str,
    pub direction: &'a str,
    pub time: &'a str,
    pub plate_type: &'a str,
    pub plate: &'a str,
    pub brand: &'a str,
}

impl<'a> RawPass<'a> {
    /// Checks a row and reads it into a pass. Fields are trimmed of ASCII
    /// whitespace; an empty brand becomes "-"; HPZL is normalised.
    ///
    /// Checks, in order: field sizes (GCXH ≤ 64 bytes, others ≤ 128), then
    /// empty GCXH / KKMC / HPHM, then the time.
    #[inline]
    pub(crate) fn check(self) -> Result<PassRef<'a>, RejectReason> {
        let f = [
            self.id.trim_ascii(),
            self.district.trim_ascii(),
            self.checkpoint.trim_ascii(),
            self.direction.trim_ascii(),
            self.time.trim_ascii(),
            self.plate_type.trim_ascii(),
            self.plate.trim_ascii(),
            self.brand.trim_ascii(),
        ];
        for (i, v) in f.iter().enumerate() {
            let max = if i == 0 { MAX_ID_LEN } else { MAX_FIELD_LEN };
            if v.len() > max {
                return Err(RejectReason::Oversize {
                    field: BASE_COLUMNS[i],
                    len: v.len(),
                    max,
                });
            }
        }
        let [id, district, checkpoint, direction, time, plate_type, plate, brand] = f;
        if id.is_empty() {
            return Err(RejectReason::EmptyField("GCXH"));
        }
        if checkpoint.is_empty() {
            return Err(RejectReason::EmptyField("KKMC"));
        }
        if plate.is_empty() {
            return Err(RejectReason::EmptyField("HPHM"));
        }
        let Some(time) = parse_pass_time(time) else {
            return Err(RejectReason::BadTime(time.to_owned()));
        };
        Ok(PassRef {
            id,
            district,
            checkpoint,
            direction,
            time,
            plate_type: normalize_plate_type(plate_type),
            plate,
            brand: if brand.is_empty() {
                UNKNOWN_BRAND
            } else {
                brand
            },
        })
    }
}

/// Parses one format (a) line (8 or 12 TAB-separated fields; a trailing
/// "\n" / "\r\n" is stripped). Borrows from `line`; allocates nothing unless
/// the line is rejected.
///
/// The 4 derived fields of a 12-field line are ignored, not checked.
pub fn parse_line(line: &str) -> Result<PassRef<'_>, RejectReason> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = [""; 12];
    let n = split_tabs(line, &mut fields);
    if n != 8 && n != 12 {
        return Err(RejectReason::FieldCount {
            found: n,
            expected: LINE_FIELD_COUNTS,
        });
    }
    RawPass {
        id: fields[0],
        district: fields[1],
        checkpoint: fields[2],
        direction: fields[3],
        time: fields[4],
        plate_type: fields[5],
        plate: fields[6],
        brand: fields[7],
    }
    .check()
}

/// Splits `line` at TABs into `fields` (the first 12) and returns how many
/// fields it has. Scans 8 bytes at a time.
#[inline]
fn split_tabs<'a>(line: &'a str, fields: &mut [&'a str; 12]) -> usize {
    const TABS: u64 = u64::from_ne_bytes([b'\t'; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let bytes = line.as_bytes();
    let mut n = 0;
    let mut start = 0;
    let mut field_end = |at: usize, n: &mut usize| {
        if let Some(f) = fields.get_mut(*n) {
            *f = &line[start..at];
        }
        *n += 1;
        start = at + 1;
    };
    let mut words = bytes.chunks_exact(8);
    let mut base = 0;
    for word in &mut words {
        let x = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]) ^ TABS;
        // The high bit of each byte that is a TAB (exact: no carries between bytes).
        let mut hits = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while hits != 0 {
            field_end(base + (hits.trailing_zeros() / 8) as usize, &mut n);
            hits &= hits - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b'\t' {
            field_end(base + i, &mut n);
        }
    }
    if let Some(f) = fields.get_mut(n) {
        *f = &line[start..];
    }
    n + 1
}

/// Appends a pass as a 12-field format (a) line, without the trailing newline:
/// the 8 base fields, then PROVINCE, IS_WEEKEND and IS_PEAK_HOUR as `1`/`0`,
/// and VEHICLE_TYPE_NAME, all recomputed through [`Derived`].
///
/// TAB, CR and LF inside a field are written as spaces so the line stays one
/// line. `parse_line` reads the line back to the same pass for passes as the
/// parsers produce them (trimmed fields, brand "-" rather than empty).
pub fn write_line(pass: &PassRef<'_>, out: &mut String) {
    let derived = Derived::of(pass.plate, &pass.plate_type, pass.time);
    push_field(out, pass.id);
    out.push('\t');
    push_field(out, pass.district);
    out.push('\t');
    push_field(out, pass.checkpoint);
    out.push('\t');
    push_field(out, pass.direction);
    out.push('\t');
    write_pass_time(pass.time, out);
    out.push('\t');
    push_field(out, &pass.plate_type);
    out.push('\t');
    push_field(out, pass.plate);
    out.push('\t');
    push_field(out, pass.brand);
    out.push('\t');
    out.push_str(derived.province);
    out.push('\t');
    out.push(if derived.is_weekend { '1' } else { '0' });
    out.push('\t');
    out.push(if derived.is_peak_hour { '1' } else { '0' });
    out.push('\t');
    out.push_str(derived.vehicle_type);
}

#[inline]
fn push_field(out: &mut String, field: &str) {
    if memchr3(b'\t', b'\n', b'\r', field.as_bytes()).is_none() {
        out.push_str(field);
    } else {
        out.extend(field.chars().map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use chrono::{NaiveDate, NaiveDateTime};
    use proptest::prelude::*;

    use super::*;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    const BASE: &str =
        "G001\t成都市\t成都东卡口\t进城\t2023-12-01 08:00:00\t02\t川A12345\t大众朗逸";

    #[test]
    fn parses_eight_fields() {
        let p = parse_line(BASE).unwrap();
        assert_eq!(p.id, "G001");
        assert_eq!(p.district, "成都市");
        assert_eq!(p.checkpoint, "成都东卡口");
        assert_eq!(p.direction, "进城");
        assert_eq!(p.time, t(2023, 12, 1, 8, 0, 0));
        assert_eq!(p.plate_type, "02");
        assert_eq!(p.plate, "川A12345");
        assert_eq!(p.brand, "大众朗逸");
        // Everything borrows from the line.
        assert!(matches!(p.plate_type, Cow::Borrowed(_)));
    }

    #[test]
    fn twelve_fields_ignore_derived_values() {
        let line = format!("{BASE}\t北京\t1\t1\t大型汽车\r");
        let p = parse_line(&line).unwrap();
        assert_eq!(p, parse_line(BASE).unwrap());
        let d = p.derived();
        assert_eq!(d.province, "四川");
        assert!(!d.is_weekend); // 2023-12-01 is a Friday
        assert!(d.is_peak_hour);
        assert_eq!(d.vehicle_type, "小型汽车");
    }

    #[test]
    fn crlf_and_lf_are_stripped() {
        assert_eq!(
            parse_line(&format!("{BASE}\r\n")).unwrap(),
            parse_line(BASE).unwrap()
        );
        assert_eq!(
            parse_line(&format!("{BASE}\n")).unwrap(),
            parse_line(BASE).unwrap()
        );
    }

    #[test]
    fn normalises_plate_type_and_brand() {
        for (raw, want) in [
            ("'02", "02"),
            ("2", "02"),
            ("02", "02"),
            (" 1 ", "01"),
            ("", ""),
        ] {
            let line = BASE.replace("\t02\t", &format!("\t{raw}\t"));
            assert_eq!(parse_line(&line).unwrap().plate_type, want, "{raw:?}");
        }
        let line = BASE.replace("大众朗逸", "");
        assert_eq!(parse_line(&line).unwrap().brand, "-");
        let line = BASE.replace("大众朗逸", "  ");
        assert_eq!(parse_line(&line).unwrap().brand, "-");
    }

    #[test]
    fn wrong_field_counts() {
        let fields: Vec<&str> = BASE.split('\t').collect();
        for n in [1usize, 2, 7, 9, 11, 13, 20] {
            let line = (0..n).map(|i| fields[i % 8]).collect::<Vec<_>>().join("\t");
            assert_eq!(
                parse_line(&line),
                Err(RejectReason::FieldCount {
                    found: n,
                    expected: "8 or 12"
                }),
                "{n}"
            );
        }
    }

    #[test]
    fn empty_required_fields() {
        let set = |i: usize, v: &str| {
            let mut f: Vec<&str> = BASE.split('\t').collect();
            f[i] = v;
            f.join("\t")
        };
        assert_eq!(
            parse_line(&set(0, "")),
            Err(RejectReason::EmptyField("GCXH"))
        );
        assert_eq!(
            parse_line(&set(0, "  ")),
            Err(RejectReason::EmptyField("GCXH"))
        );
        assert_eq!(
            parse_line(&set(2, "")),
            Err(RejectReason::EmptyField("KKMC"))
        );
        assert_eq!(
            parse_line(&set(6, "")),
            Err(RejectReason::EmptyField("HPHM"))
        );
        // District, direction, plate type and brand may be empty.
        for i in [1, 3, 5, 7] {
            assert!(parse_line(&set(i, "")).is_ok(), "{i}");
        }
        assert_eq!(
            parse_line(&set(4, "yesterday")),
            Err(RejectReason::BadTime("yesterday".into()))
        );
        assert_eq!(
            parse_line(&set(4, "")),
            Err(RejectReason::BadTime(String::new()))
        );
    }

    #[test]
    fn oversize_fields() {
        let set = |i: usize, v: &str| {
            let mut f: Vec<&str> = BASE.split('\t').collect();
            f[i] = v;
            f.join("\t")
        };
        let id = "9".repeat(65);
        assert_eq!(
            parse_line(&set(0, &id)),
            Err(RejectReason::Oversize {
                field: "GCXH",
                len: 65,
                max: 64
            })
        );
        assert!(parse_line(&set(0, &"9".repeat(64))).is_ok());
        let name = "卡".repeat(43); // 129 bytes
        assert_eq!(
            parse_line(&set(2, &name)),
            Err(RejectReason::Oversize {
                field: "KKMC",
                len: 129,
                max: 128
            })
        );
        assert!(parse_line(&set(7, &"x".repeat(128))).is_ok());
        assert_eq!(
            parse_line(&set(7, &"x".repeat(129))),
            Err(RejectReason::Oversize {
                field: "CLPPXH",
                len: 129,
                max: 128
            })
        );
    }

    #[test]
    fn tab_splitting_at_every_position() {
        // TABs at every offset, around the 8-byte words, with multi-byte text.
        for len in 0..40 {
            for text in ["x", "卡"] {
                let parts: Vec<String> = (0..len).map(|i| text.repeat(i % 5)).collect();
                let line = parts.join("\t");
                let mut fields = [""; 12];
                let n = split_tabs(&line, &mut fields);
                let want: Vec<&str> = line.split('\t').collect();
                assert_eq!(n, want.len(), "{line:?}");
                assert_eq!(&fields[..n.min(12)], &want[..n.min(12)], "{line:?}");
            }
        }
    }

    #[test]
    fn write_line_layout() {
        let p = parse_line(BASE).unwrap();
        let mut out = String::new();
        write_line(&p, &mut out);
        assert_eq!(out, format!("{BASE}\t四川\t0\t1\t小型汽车"));
        // Weekend, off-peak, unknown type and special plate.
        let line = "G2\t\t某卡口\t\t2023/12/2 12:00:00\t'23\t川A1234警\t";
        let p = parse_line(line).unwrap();
        out.clear();
        write_line(&p, &mut out);
        assert_eq!(
            out,
            "G2\t\t某卡口\t\t2023-12-02 12:00:00\t23\t川A1234警\t-\t警用\t1\t0\t警用汽车"
        );
        assert_eq!(parse_line(&out).unwrap(), p);
    }

    #[test]
    fn write_line_keeps_one_line() {
        let mut p = parse_line(BASE).unwrap();
        p.brand = "a\tb\nc\rd";
        let mut out = String::new();
        write_line(&p, &mut out);
        assert!(!out.contains('\n') && !out.contains('\r'));
        assert_eq!(out.matches('\t').count(), 11);
        assert_eq!(parse_line(&out).unwrap().brand, "a b c d");
    }

    fn field() -> impl Strategy<Value = String> {
        // Trimmed, non-empty, no TAB/CR/LF: the normal form parsers produce.
        "[^\t\r\n ]([^\t\r\n]{0,10}[^\t\r\n ])?".prop_filter("trimmed", |s| s.trim_ascii() == s)
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(
            id in field(),
            district in proptest::option::of(field()),
            checkpoint in field(),
            direction in proptest::option::of(field()),
            secs in 0i64..4_000_000_000,
            plate_type in "(0[1-9]|[1-5][0-9]|[A-Z]{2})",
            plate in field(),
            brand in field(),
        ) {
            let time = chrono::DateTime::from_timestamp(secs, 0).unwrap().naive_utc();
            let p = PassRef {
                id: &id,
                district: district.as_deref().unwrap_or(""),
                checkpoint: &checkpoint,
                direction: direction.as_deref().unwrap_or(""),
                time,
                plate_type: Cow::Borrowed(&plate_type),
                plate: &plate,
                brand: &brand,
            };
            let mut out = String::new();
            write_line(&p, &mut out);
            prop_assert_eq!(parse_line(&out), Ok(p));
        }
    }
}
