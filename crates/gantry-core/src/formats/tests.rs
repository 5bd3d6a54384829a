//! Tests of whole inputs through [`InputParser`].

use chrono::{NaiveDate, NaiveDateTime};
use encoding_rs::GBK;

use super::*;
use crate::pass::{Pass, PassRef};
use crate::reject::{RejectReason, Rejection};

fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
}

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Pass(Pass),
    Reject(Rejection),
}

#[derive(Default)]
struct Events(Vec<Ev>);

impl ParseSink for Events {
    fn pass(&mut self, pass: PassRef<'_>) {
        self.0.push(Ev::Pass(pass.to_pass()));
    }
    fn reject(&mut self, rejection: Rejection) {
        self.0.push(Ev::Reject(rejection));
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Ev>,
    lines: u64,
    layout: Option<Layout>,
    encoding: Option<Encoding>,
}

impl Outcome {
    fn passes(&self) -> Vec<&Pass> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Pass(p) => Some(p),
                Ev::Reject(_) => None,
            })
            .collect()
    }

    fn rejections(&self) -> Vec<(u64, RejectReason, &str)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Reject(r) => Some((r.line, r.reason.clone(), r.raw.as_str())),
                Ev::Pass(_) => None,
            })
            .collect()
    }
}

fn run_chunks(chunks: &[&[u8]]) -> Outcome {
    let mut parser = InputParser::new("in.txt");
    let mut sink = Events::default();
    for c in chunks {
        parser.feed(c, &mut sink);
    }
    for e in &sink.0 {
        if let Ev::Reject(r) = e {
            assert_eq!(r.source, "in.txt");
        }
    }
    Outcome {
        events: sink.0,
        lines: parser.lines(),
        layout: parser.layout(),
        encoding: parser.encoding(),
    }
}

fn run(bytes: &[u8]) -> Outcome {
    run_chunks(&[bytes])
}

/// Feeds `bytes` split at every '\n' (two chunks each way) and one line per
/// chunk, and asserts every split gives what one chunk gives.
fn assert_split_invariant(bytes: &[u8]) -> Outcome {
    let whole = run(bytes);
    let cuts: Vec<usize> = memchr::memchr_iter(b'\n', bytes).map(|i| i + 1).collect();
    for &cut in &cuts {
        let split = run_chunks(&[&bytes[..cut], &bytes[cut..]]);
        assert_eq!(split, whole, "split at byte {cut}");
    }
    let mut lines = Vec::new();
    let mut start = 0;
    for &cut in &cuts {
        lines.push(&bytes[start..cut]);
        start = cut;
    }
    lines.push(&bytes[start..]);
    assert_eq!(run_chunks(&lines), whole, "one line per chunk");
    // Every three-way split too, for small inputs.
    if cuts.len() <= 40 {
        for (i, &a) in cuts.iter().enumerate() {
            for &b in &cuts[i + 1..] {
                let split = run_chunks(&[&bytes[..a], &bytes[a..b], &bytes[b..]]);
                assert_eq!(split, whole, "split at {a} and {b}");
            }
        }
    }
    whole
}

const L1: &str = "G001\t成都市\t成都东卡口\t进城\t2023-12-01 08:00:00\t02\t川A12345\t大众朗逸";
const L2: &str =
    "G002\t绵阳市\t绵阳北卡口\t出城\t2023/12/2 9:5:3\t'2\t川B12345\t-\t北京\t0\t0\t大型汽车";

#[test]
fn format_a_lines() {
    let input = format!("{L1}\n{L2}\r\n\n   \n{L1}");
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Line));
    assert_eq!(out.encoding, Some(Encoding::Utf8));
    assert_eq!(out.lines, 5);
    assert!(out.rejections().is_empty());
    let p = out.passes();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].id, "G001");
    assert_eq!(p[0].time, t(2023, 12, 1, 8, 0, 0));
    assert_eq!(p[1].id, "G002");
    assert_eq!(p[1].plate_type, "02");
    assert_eq!(p[1].time, t(2023, 12, 2, 9, 5, 3));
    assert_eq!(p[1].brand, "-");
    assert_eq!(p[1].derived().province, "四川");
    assert_eq!(p[1].derived().vehicle_type, "小型汽车");
}

#[test]
fn format_a_bad_rows_with_line_numbers() {
    let oversize_id = "9".repeat(65);
    let lines = [
        L1.to_owned(),                              // 1 ok
        "G003\tx\ty".to_owned(),                    // 2 field count
        L1.replace("2023-12-01 08:00:00", "later"), // 3 bad time
        L1.replace("G001", ""),                     // 4 empty GCXH
        String::new(),                              // 5 blank
        L1.replace("川A12345", ""),                 // 6 empty HPHM
        L1.replace("成都东卡口", ""),               // 7 empty KKMC
        L1.replace("G001", &oversize_id),           // 8 oversize
        format!("{L1}\t\t\t\t\t"),                  // 9 13 fields
        L2.to_owned(),                              // 10 ok
    ];
    let input = lines.join("\n") + "\n";
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.lines, 10);
    assert_eq!(out.passes().len(), 2);
    let r = out.rejections();
    let reasons: Vec<(u64, RejectReason)> = r.iter().map(|(l, r, _)| (*l, r.clone())).collect();
    assert_eq!(
        reasons,
        vec![
            (
                2,
                RejectReason::FieldCount {
                    found: 3,
                    expected: "8 or 12"
                }
            ),
            (3, RejectReason::BadTime("later".into())),
            (4, RejectReason::EmptyField("GCXH")),
            (6, RejectReason::EmptyField("HPHM")),
            (7, RejectReason::EmptyField("KKMC")),
            (
                8,
                RejectReason::Oversize {
                    field: "GCXH",
                    len: 65,
                    max: 64
                }
            ),
            (
                9,
                RejectReason::FieldCount {
                    found: 13,
                    expected: "8 or 12"
                }
            ),
        ]
    );
    // The raw row is kept as it was.
    assert_eq!(r[0].2, "G003\tx\ty");
    assert_eq!(r[1].2, lines[2]);
}

#[test]
fn format_a_borrows_from_the_chunk() {
    struct Check {
        range: std::ops::Range<usize>,
        seen: usize,
    }
    impl ParseSink for Check {
        fn pass(&mut self, p: PassRef<'_>) {
            for f in [
                p.id,
                p.district,
                p.checkpoint,
                p.direction,
                &*p.plate_type,
                p.plate,
                p.brand,
            ] {
                let at = f.as_ptr() as usize;
                assert!(self.range.contains(&at), "{f:?} was copied");
            }
            assert!(matches!(p.plate_type, std::borrow::Cow::Borrowed(_)));
            self.seen += 1;
        }
        fn reject(&mut self, r: Rejection) {
            panic!("{r:?}")
        }
    }
    let input = format!("{L1}\n{}\n", L1.replace("\t02\t", "\t'02\t"));
    let bytes = input.as_bytes();
    let start = bytes.as_ptr() as usize;
    let mut check = Check {
        range: start..start + bytes.len(),
        seen: 0,
    };
    let mut parser = InputParser::new("k");
    parser.feed(bytes, &mut check);
    assert_eq!(check.seen, 2);
}

#[test]
fn format_a_fed_as_messages_without_newlines() {
    // A Kafka partition: one line per chunk, no '\n'.
    let out = run_chunks(&[L1.as_bytes(), b"garbage", L2.as_bytes()]);
    assert_eq!(out.lines, 3);
    assert_eq!(out.passes().len(), 2);
    assert_eq!(out.rejections()[0].0, 2);
}

#[test]
fn invalid_utf8_line_is_rejected_and_the_rest_parse() {
    let mut input = format!("{L1}\n").into_bytes();
    input.extend_from_slice(b"G9\t\xff\xfe\tK\t\t2023-12-01 08:00:00\t02\t\xe5\xb7\t-\r\n");
    input.extend_from_slice(format!("{L2}\n").as_bytes());
    let out = assert_split_invariant(&input);
    assert_eq!(out.encoding, Some(Encoding::Utf8));
    assert_eq!(out.passes().len(), 2);
    let r = out.rejections();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, 2);
    assert_eq!(r[0].1, RejectReason::Encoding);
    assert!(r[0].2.starts_with("G9\t\u{fffd}"), "{:?}", r[0].2);
    assert!(!r[0].2.ends_with('\r'));
    // Order is kept: pass, reject, pass.
    assert!(matches!(out.events[0], Ev::Pass(_)));
    assert!(matches!(out.events[1], Ev::Reject(_)));
    assert!(matches!(out.events[2], Ev::Pass(_)));
}

#[test]
fn csv_with_quotes_odd_column_order_and_extras() {
    let input = "\
hphm,Note,gcsj,KKMC,hpzl,GCXH,clppxh,xzqhmc,fxlx,PROVINCE,IS_WEEKEND
川A12345,\"a, b\",2023-12-01 08:00:00,\"成都东卡口\",'02,G1,\"大众 \"\"朗逸\"\"\",成都市,进城,北京,9
川B00001,,2023-12-02T00:00:00Z,绵阳北卡口,2,G2,,,,,
 川C12345 , x ,2023-12-03 10:00:00, 卡口C ,02,G3,-,,,,
";
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Table));
    assert_eq!(out.lines, 4);
    assert!(out.rejections().is_empty(), "{:?}", out.rejections());
    let p = out.passes();
    assert_eq!(
        *p[0],
        Pass {
            id: "G1".into(),
            district: "成都市".into(),
            checkpoint: "成都东卡口".into(),
            direction: "进城".into(),
            time: t(2023, 12, 1, 8, 0, 0),
            plate_type: "02".into(),
            plate: "川A12345".into(),
            brand: "大众 \"朗逸\"".into(),
        }
    );
    // Derived columns in the input are ignored.
    assert_eq!(p[0].derived().province, "四川");
    assert_eq!(p[1].plate_type, "02");
    assert_eq!(p[1].time, t(2023, 12, 2, 8, 0, 0));
    assert_eq!(p[1].brand, "-");
    assert_eq!(p[1].district, "");
    assert_eq!(p[2].plate, "川C12345");
    assert_eq!(p[2].checkpoint, "卡口C");
}

#[test]
fn csv_missing_optional_columns() {
    let input = "GCSJ,HPHM,KKMC,GCXH\n2023-12-01 08:00:00,川A12345,K1,G1\n";
    let out = assert_split_invariant(input.as_bytes());
    let p = out.passes();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].district.as_str(), p[0].direction.as_str()), ("", ""));
    assert_eq!(p[0].plate_type, "");
    assert_eq!(p[0].brand, "-");
}

#[test]
fn csv_plate_type_forms() {
    let input = "GCXH,KKMC,GCSJ,HPHM,HPZL\n\
                 G1,K,2023-12-01 08:00:00,川A12345,'02\n\
                 G2,K,2023-12-01 08:00:00,川A12345,2\n\
                 G3,K,2023-12-01 08:00:00,川A12345,02\n\
                 G4,K,2023-12-01 08:00:00,川A12345,\"'52\"\n";
    let out = run(input.as_bytes());
    let types: Vec<&str> = out.passes().iter().map(|p| p.plate_type.as_str()).collect();
    assert_eq!(types, ["02", "02", "02", "52"]);
}

#[test]
fn tsv_table() {
    let input = format!(
        "GCXH\tXZQHMC\tKKMC\tFXLX\tGCSJ\tHPZL\tHPHM\tCLPPXH\tPROVINCE\tIS_WEEKEND\tIS_PEAK_HOUR\tVEHICLE_TYPE_NAME\r\n\
         {L2}\r\n\
         {L1}\t四川\t0\t1\t小型汽车\r\n"
    );
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Table));
    assert!(out.rejections().is_empty(), "{:?}", out.rejections());
    let p = out.passes();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].id, "G002");
    assert_eq!(p[0].plate_type, "02");
    assert_eq!(p[1].id, "G001");
    assert_eq!(p[1].brand, "大众朗逸");
}

#[test]
fn table_bad_rows_with_line_numbers() {
    let long = "卡".repeat(43);
    let input = format!(
        "\n\
         GCXH,KKMC,GCSJ,HPHM,CLPPXH\n\
         G1,K,2023-12-01 08:00:00,川A12345,x\n\
         G2,K,2023-12-01 08:00:00,川A12345\n\
         G3,K,not a time,川A12345,x\n\
         \n\
         ,K,2023-12-01 08:00:00,川A12345,x\n\
         G5,,2023-12-01 08:00:00,川A12345,x\n\
         G6,K,2023-12-01 08:00:00,,x\n\
         G7,{long},2023-12-01 08:00:00,川A12345,x\n\
         ,,,,\n\
         G9,K,2023-12-01 08:00:00,川A12345,x,extra\n\
         G10,\"multi\nline\",2023-12-01 08:00:00,川A12345,x\n\
         G11,K,bad,川A12345,x\n\
         G12,K,2023-12-01 08:00:00,川A12345,x"
    );
    let out = run(input.as_bytes());
    assert_eq!(out.lines, 16);
    let ids: Vec<&str> = out.passes().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["G1", "G10", "G12"]);
    assert_eq!(out.passes()[1].checkpoint, "multi\nline");
    let r: Vec<(u64, RejectReason)> = out
        .rejections()
        .into_iter()
        .map(|(l, r, _)| (l, r))
        .collect();
    let count = RejectReason::FieldCount {
        found: 4,
        expected: "as many as the header",
    };
    assert_eq!(
        r,
        vec![
            (4, count),
            (5, RejectReason::BadTime("not a time".into())),
            (7, RejectReason::EmptyField("GCXH")),
            (8, RejectReason::EmptyField("KKMC")),
            (9, RejectReason::EmptyField("HPHM")),
            (
                10,
                RejectReason::Oversize {
                    field: "KKMC",
                    len: 129,
                    max: 128
                }
            ),
            (
                12,
                RejectReason::FieldCount {
                    found: 6,
                    expected: "as many as the header"
                }
            ),
            (15, RejectReason::BadTime("bad".into())),
        ]
    );
    assert_eq!(out.rejections()[0].2, "G2,K,2023-12-01 08:00:00,川A12345");
    // Splits at line boundaries outside the quoted field give the same.
    let bytes = input.as_bytes();
    let inside = input.find("multi\n").unwrap() + "multi\n".len();
    for cut in memchr::memchr_iter(b'\n', bytes)
        .map(|i| i + 1)
        .filter(|&c| c != inside)
    {
        assert_eq!(
            run_chunks(&[&bytes[..cut], &bytes[cut..]]),
            out,
            "cut {cut}"
        );
    }
}

#[test]
fn missing_required_column_rejects_header_and_rows() {
    let input = "GCXH,KKMC,GCSJ\nG1,K,2023-12-01 08:00:00\n\nG2,K,2023-12-01 08:00:00\n";
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Table));
    assert!(out.passes().is_empty());
    let r: Vec<(u64, RejectReason)> = out
        .rejections()
        .into_iter()
        .map(|(l, r, _)| (l, r))
        .collect();
    let m = RejectReason::MissingColumn("HPHM");
    assert_eq!(r, vec![(1, m.clone()), (2, m.clone()), (4, m)]);

    let mut parser = InputParser::new("x");
    parser.feed(
        b"XH,CP,RKSJ,CKSJ\n1,A,2023-12-01 08:00:00,\n",
        &mut Collect::default(),
    );
    assert_eq!(parser.layout(), Some(Layout::Etc));
    assert_eq!(parser.missing_column(), Some("SFZRKMC"));
}

#[test]
fn gbk_csv() {
    let text = "GCXH,XZQHMC,KKMC,FXLX,GCSJ,HPZL,HPHM,CLPPXH\r\n\
                G1,成都市,成都东卡口,进城,2023/12/1 8:00:00,'02,川A12345,大众朗逸\r\n\
                G2,绵阳市,绵阳北卡口,出城,2023-12-01 09:00:00,1,京A12345,丰田\r\n";
    let (gbk, _, unmappable) = GBK.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err());
    let out = assert_split_invariant(&gbk);
    assert_eq!(out.encoding, Some(Encoding::Gbk));
    assert_eq!(out.layout, Some(Layout::Table));
    assert!(out.rejections().is_empty());
    let p = out.passes();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].district, "成都市");
    assert_eq!(p[0].checkpoint, "成都东卡口");
    assert_eq!(p[0].plate, "川A12345");
    assert_eq!(p[0].brand, "大众朗逸");
    assert_eq!(p[0].plate_type, "02");
    assert_eq!(p[1].plate_type, "01");
    assert_eq!(p[1].derived().province, "北京");
}

#[test]
fn gbk_lines_with_a_broken_row() {
    let mut bytes = GBK.encode(&format!("{L1}\n")).0.into_owned();
    bytes.extend_from_slice(b"G5\tx\xff\xff\tK\n");
    bytes.extend_from_slice(&GBK.encode(&format!("{L2}\n")).0);
    let out = assert_split_invariant(&bytes);
    assert_eq!(out.encoding, Some(Encoding::Gbk));
    assert_eq!(out.layout, Some(Layout::Line));
    assert_eq!(out.passes().len(), 2);
    assert_eq!(out.passes()[0].checkpoint, "成都东卡口");
    let r = out.rejections();
    assert_eq!((r[0].0, &r[0].1), (2, &RejectReason::Encoding));
}

#[test]
fn utf8_bom() {
    let input = "\u{feff}GCXH,KKMC,GCSJ,HPHM\nG1,K,2023-12-01 08:00:00,川A12345\n";
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Table));
    assert_eq!(out.encoding, Some(Encoding::Utf8));
    assert_eq!(out.passes().len(), 1);
    // A BOM in front of a format (a) line too.
    let out = run(format!("\u{feff}{L1}\n").as_bytes());
    assert_eq!(out.layout, Some(Layout::Line));
    assert_eq!(out.passes()[0].id, "G001");
}

#[test]
fn etc_rows_become_entry_and_exit_passes() {
    let input = "\
BZ,CKSJ,SFZCKMC,XH,CP,CX,RKSJ,SFZRKMC
,2023-12-01 10:00:00,成都东站,E1,川A12345,1,2023-12-01 08:00:00,绵阳站
备注,2023-12-01 11:00:00,德阳站,E2,川B12345,3,2023-12-01 09:30:00,成都东站
,,,E3,川C12345,1,2023-12-01 09:00:00,遂宁站
,2023-12-01 12:00:00,,E4,川D12345,2,2023-12-01 09:00:00,遂宁站
,later,德阳站,E5,川E12345,1,2023-12-01 09:00:00,遂宁站
,2023-12-01 12:00:00,德阳站,,川E12345,1,2023-12-01 09:00:00,遂宁站
";
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Etc));
    assert_eq!(out.lines, 7);
    let p = out.passes();
    let summary: Vec<(&str, &str, &str, NaiveDateTime, &str)> = p
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.checkpoint.as_str(),
                p.direction.as_str(),
                p.time,
                p.plate_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("E1-1", "绵阳站", "入口", t(2023, 12, 1, 8, 0, 0), "02"),
            ("E1-2", "成都东站", "出口", t(2023, 12, 1, 10, 0, 0), "02"),
            ("E2-1", "成都东站", "入口", t(2023, 12, 1, 9, 30, 0), "01"),
            ("E2-2", "德阳站", "出口", t(2023, 12, 1, 11, 0, 0), "01"),
            ("E3-1", "遂宁站", "入口", t(2023, 12, 1, 9, 0, 0), "02"),
            ("E4-1", "遂宁站", "入口", t(2023, 12, 1, 9, 0, 0), "01"),
        ]
    );
    for p in &p {
        assert_eq!(p.brand, "-");
        assert_eq!(p.district, "");
    }
    assert_eq!(p[0].plate, "川A12345");
    assert_eq!(p[3].plate, "川B12345");
    let r: Vec<(u64, RejectReason)> = out
        .rejections()
        .into_iter()
        .map(|(l, r, _)| (l, r))
        .collect();
    assert_eq!(
        r,
        vec![
            (6, RejectReason::BadTime("later".into())),
            (7, RejectReason::EmptyField("XH"))
        ]
    );
}

#[test]
fn etc_oversize_id_leaves_room_for_the_suffix() {
    let xh = "1".repeat(63);
    let input = format!(
        "XH,CP,RKSJ,SFZRKMC\n{},A,2023-12-01 08:00:00,S\n{xh},A,2023-12-01 08:00:00,S\n",
        &xh[1..]
    );
    let out = run(input.as_bytes());
    assert_eq!(out.passes().len(), 1);
    assert_eq!(out.passes()[0].id.len(), 64);
    assert_eq!(
        out.rejections()[0].1,
        RejectReason::Oversize {
            field: "XH",
            len: 63,
            max: 62
        }
    );
}

#[test]
fn empty_and_blank_inputs() {
    let out = run(b"");
    assert_eq!((out.lines, out.layout, out.encoding), (0, None, None));
    let out = assert_split_invariant(b"\n  \r\n\n");
    assert_eq!((out.lines, out.layout), (3, None));
    assert!(out.events.is_empty());
    // The layout is decided by the first non-blank line.
    let input = format!("\n\n{L1}\n");
    let out = assert_split_invariant(input.as_bytes());
    assert_eq!(out.layout, Some(Layout::Line));
    assert_eq!(out.lines, 3);
}

#[test]
fn ascii_first_chunk_does_not_decide_gbk_input() {
    // The header chunk is pure ASCII; the GBK rows come in the next chunk.
    let header = b"GCXH,KKMC,GCSJ,HPHM\n";
    let (rows, _, _) = GBK.encode("G1,成都东卡口,2023-12-01 08:00:00,川A12345\n");
    let mut parser = InputParser::new("f.csv");
    let mut sink = Collect::default();
    parser.feed(header, &mut sink);
    assert_eq!(parser.encoding(), Some(Encoding::Utf8));
    parser.feed(&rows, &mut sink);
    assert_eq!(parser.encoding(), Some(Encoding::Gbk));
    assert!(sink.rejections.is_empty());
    assert_eq!(sink.passes[0].checkpoint, "成都东卡口");
}

#[test]
fn write_line_output_reads_back_through_the_parser() {
    let input = format!("{L1}\n{L2}\n");
    let first = run(input.as_bytes());
    let mut text = String::new();
    for p in first.passes() {
        write_line(&p.as_ref(), &mut text);
        text.push('\n');
    }
    assert_eq!(
        text.lines().next().unwrap(),
        format!("{L1}\t四川\t0\t1\t小型汽车")
    );
    let second = run(text.as_bytes());
    assert_eq!(second.passes(), first.passes());
}
