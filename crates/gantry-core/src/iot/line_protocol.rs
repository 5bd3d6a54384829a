//! InfluxDB line protocol, as the InfluxDB v2 reference defines it:
//!
//! ```text
//! measurement[,tag=value…] field=value[,field=value…] [timestamp]
//! ```
//!
//! - One point per line; blank lines and lines starting with `#` are skipped,
//!   a trailing `\r` is dropped. Spaces (or tabs) separate the three parts.
//! - Escapes: `\,` and `\ ` in the measurement; `\,`, `\=` and `\ ` in tag
//!   keys, tag values and field keys; `\"` in string field values; `\\` is a
//!   backslash everywhere. Any other backslash is itself.
//! - Field values: floats (`1`, `-1.5e3`), integers (`3i`), unsigned
//!   integers (`3u`), booleans (`t`, `T`, `true`, `True`, `TRUE` and the
//!   same for false) and double-quoted strings. A newline ends the line even
//!   inside a string, as the reference does not allow newlines in values.
//! - The timestamp is an integer in the request's [`Precision`].
//!
//! Hand-written rather than taken from the `influxdb-line-protocol` crate:
//! its last release (2.0.0, 2023) points at a repository gone private, and
//! it pulls in `nom` 7 and `snafu` 0.7 for what is a page of code here.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use super::{PayloadError, Point};

/// The unit of line protocol timestamps: the `precision` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds, the line protocol default.
    #[default]
    Ns,
    Us,
    Ms,
    S,
}

impl Precision {
    /// Reads the `precision` query parameter: `ns` (or `n`, as InfluxDB 1.x
    /// writes it), `us` (or `u`), `ms` or `s`.
    pub fn from_query(text: &str) -> Option<Precision> {
        match text {
            "ns" | "n" => Some(Precision::Ns),
            "us" | "u" => Some(Precision::Us),
            "ms" => Some(Precision::Ms),
            "s" => Some(Precision::S),
            _ => None,
        }
    }

    /// A timestamp in this unit as epoch milliseconds, rounded down so that
    /// times before 1970 order like the others. `None` on overflow.
    fn to_ms(self, t: i64) -> Option<i64> {
        match self {
            Precision::Ns => Some(t.div_euclid(1_000_000)),
            Precision::Us => Some(t.div_euclid(1_000)),
            Precision::Ms => Some(t),
            Precision::S => t.checked_mul(1_000),
        }
    }
}

/// Reads line protocol: one point per numeric or boolean field, series
/// `"{measurement}{,tag=value…}/{field}"` with the tags sorted by key and
/// escaped as InfluxDB writes its series keys (`weather,location=us/temperature`).
/// Tags and string fields are the points' tags. Lines without a timestamp
/// take `arrival_ms`.
///
/// Integers beyond 2^53 lose precision, as every value is an `f64`.
pub fn parse_line_protocol(
    text: &str,
    precision: Precision,
    arrival_ms: i64,
) -> Result<Vec<Point>, PayloadError> {
    parse_lines(text, precision, arrival_ms, false)
}

/// [`parse_line_protocol`], where `sniffing` means the text may be no line
/// protocol at all: a first line that does not parse is then
/// [`PayloadError::NotJsonOrLineProtocol`].
pub(super) fn parse_lines(
    text: &str,
    precision: Precision,
    arrival_ms: i64,
    sniffing: bool,
) -> Result<Vec<Point>, PayloadError> {
    let mut points = Vec::new();
    let mut parsed_one = false;
    for (index, line) in text.split('\n').enumerate() {
        let line = line.trim_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let number = index + 1;
        let parsed = Line::parse(line).map_err(|why| {
            if sniffing && !parsed_one {
                PayloadError::NotJsonOrLineProtocol(format!("line {number}: {why}"))
            } else {
                PayloadError::BadLine { line: number, why }
            }
        })?;
        parsed_one = true;
        parsed.push_points(number, precision, arrival_ms, &mut points)?;
    }
    if points.is_empty() {
        return Err(PayloadError::NoValues);
    }
    Ok(points)
}

/// Bytes ending a name or an unquoted value.
const BLANKS: &[u8] = b" \t";
const END_MEASUREMENT: &[u8] = b", \t";
const END_KEY: &[u8] = b"=, \t";
const END_VALUE: &[u8] = b", \t";

/// Characters a backslash escapes, besides a backslash.
const MEASUREMENT_ESCAPES: &[char] = &[',', ' '];
const KEY_ESCAPES: &[char] = &[',', '=', ' '];
const STRING_ESCAPES: &[char] = &['"'];

/// One line split into its parts, names unescaped, values read.
struct Line<'a> {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    timestamp: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// Splits a line (trimmed, not blank); the error says what is wrong.
    fn parse(line: &'a str) -> Result<Line<'a>, String> {
        let mut c = Cursor { s: line, i: 0 };
        let measurement = c.take_until(END_MEASUREMENT);
        if measurement.is_empty() {
            return Err("no measurement".into());
        }
        let mut tags = Vec::new();
        while c.eat(b',') {
            let (key, value) = c.pair("tag", false)?;
            tags.push((unescape(key, KEY_ESCAPES), unescape(value, KEY_ESCAPES)));
        }
        if !c.skip_blanks() {
            return Err(format!("no field set after {:?}", &line[..c.i]));
        }
        let mut fields = Vec::new();
        loop {
            let (key, raw) = c.pair("field", true)?;
            let key = unescape(key, KEY_ESCAPES);
            let value = field_value(raw)
                .ok_or_else(|| format!("field {key:?} has unreadable value {raw:?}"))?;
            fields.push((key, value));
            if !c.eat(b',') {
                break;
            }
        }
        let timestamp = if c.skip_blanks() {
            Some(c.take_until(BLANKS))
        } else {
            None
        };
        if !c.rest().is_empty() {
            return Err(format!("unexpected {:?}", c.rest()));
        }
        Ok(Line {
            measurement: unescape(measurement, MEASUREMENT_ESCAPES),
            tags,
            fields,
            timestamp,
        })
    }

    /// Appends a point per numeric field. Numbers out of range and the
    /// timestamp are checked here, once the line is known to be line
    /// protocol, so their errors say what is wrong rather than "bad line".
    fn push_points(
        self,
        line: usize,
        precision: Precision,
        arrival_ms: i64,
        points: &mut Vec<Point>,
    ) -> Result<(), PayloadError> {
        let time_ms = match self.timestamp {
            None => arrival_ms,
            Some(raw) => timestamp_ms(raw, precision).ok_or_else(|| {
                PayloadError::BadTime(format!("line {line}: timestamp {raw:?} in {precision:?}"))
            })?,
        };
        let mut tags = BTreeMap::new();
        for (key, value) in self.tags {
            if let Some(key) = insert_new(&mut tags, key, value) {
                return Err(PayloadError::DuplicateKey(format!(
                    "line {line}: tag {key:?}"
                )));
            }
        }
        let series_key = series_key(&self.measurement, &tags);
        let mut numbers: Vec<(String, f64)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, value) in self.fields {
            let name = format!("line {line} field {key:?}");
            if !seen.insert(key.clone()) {
                return Err(PayloadError::DuplicateKey(name));
            }
            match value {
                FieldValue::Number(v) => numbers.push((key, v)),
                FieldValue::Text(text) => {
                    if insert_new(&mut tags, key, text).is_some() {
                        let what = format!("{name}, a string, is named like a tag");
                        return Err(PayloadError::DuplicateKey(what));
                    }
                }
                FieldValue::NonFinite => return Err(PayloadError::NonFinite(name)),
                FieldValue::OutOfRange(raw) => {
                    let what = format!("{name} is out of range: {raw}");
                    return Err(PayloadError::BadValue(what));
                }
            }
        }
        points.extend(numbers.into_iter().map(|(field, value)| Point {
            series: format!("{series_key}/{field}"),
            tags: tags.clone(),
            time_ms,
            value,
            extra: Vec::new(),
        }));
        Ok(())
    }
}

/// Inserts a key not yet present; gives the key back when it was.
fn insert_new(map: &mut BTreeMap<String, String>, key: String, value: String) -> Option<String> {
    match map.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
            None
        }
        Entry::Occupied(slot) => Some(slot.key().clone()),
    }
}

/// `measurement,k1=v1,k2=v2` with the tags sorted, escaped as InfluxDB's
/// series keys are, so that one series is always one id.
fn series_key(measurement: &str, tags: &BTreeMap<String, String>) -> String {
    let mut key = String::with_capacity(measurement.len() + 16 * tags.len());
    push_escaped(&mut key, measurement, MEASUREMENT_ESCAPES);
    for (k, v) in tags {
        key.push(',');
        push_escaped(&mut key, k, KEY_ESCAPES);
        key.push('=');
        push_escaped(&mut key, v, KEY_ESCAPES);
    }
    key
}

fn push_escaped(out: &mut String, text: &str, special: &[char]) {
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Drops the backslash before a backslash or one of `escapes`; any other
/// backslash is a literal one.
fn unescape(raw: &str, escapes: &[char]) -> String {
    if !raw.contains('\\') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next) = chars.peek() {
                if next == '\\' || escapes.contains(&next) {
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// What a field's raw value reads as. The last two are refused with their
/// own reasons once the whole line has parsed.
#[derive(Debug, PartialEq)]
enum FieldValue {
    Number(f64),
    Text(String),
    /// NaN, infinity, or a float beyond `f64`.
    NonFinite,
    /// An integer beyond `i64` (or `u64` for `u`), as written.
    OutOfRange(String),
}

/// Reads a raw field value; `None` when it is no kind of value.
fn field_value(raw: &str) -> Option<FieldValue> {
    if let Some(quoted) = raw.strip_prefix('"') {
        let inner = quoted.strip_suffix('"')?;
        return Some(FieldValue::Text(unescape(inner, STRING_ESCAPES)));
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => Some(FieldValue::Number(1.0)),
        "f" | "F" | "false" | "False" | "FALSE" => Some(FieldValue::Number(0.0)),
        _ => {
            if let Some(digits) = raw.strip_suffix('i') {
                integer(digits, true)
            } else if let Some(digits) = raw.strip_suffix('u') {
                integer(digits, false)
            } else {
                float(raw)
            }
        }
    }
}

/// `-?[0-9]+` (no sign when unsigned) as `i64` or `u64`, then `f64`.
fn integer(digits: &str, signed: bool) -> Option<FieldValue> {
    let unsigned = if signed {
        digits.strip_prefix('-').unwrap_or(digits)
    } else {
        digits
    };
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = if signed {
        digits.parse::<i64>().ok().map(|v| v as f64)
    } else {
        digits.parse::<u64>().ok().map(|v| v as f64)
    };
    Some(value.map_or_else(
        || FieldValue::OutOfRange(digits.to_owned()),
        FieldValue::Number,
    ))
}

/// A decimal float (`1`, `-1.5`, `.5`, `2e-3`). `NaN`, `inf` and overflow
/// are [`FieldValue::NonFinite`], to be counted as such.
fn float(raw: &str) -> Option<FieldValue> {
    let unsigned = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if ["nan", "inf", "infinity"]
        .iter()
        .any(|word| unsigned.eq_ignore_ascii_case(word))
    {
        return Some(FieldValue::NonFinite);
    }
    let numeric = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+');
    if !unsigned.bytes().any(|b| b.is_ascii_digit()) || !unsigned.bytes().all(numeric) {
        return None;
    }
    let value: f64 = raw.parse().ok()?;
    Some(if value.is_finite() {
        FieldValue::Number(value)
    } else {
        FieldValue::NonFinite
    })
}

/// `-?[0-9]+` in `precision`, as epoch milliseconds.
fn timestamp_ms(raw: &str, precision: Precision) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    precision.to_ms(raw.parse().ok()?)
}

/// A position in a line. Stops are ASCII, so the slices it hands out
/// always fall on character boundaries.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.i += 1;
        }
        found
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    /// Skips spaces and tabs; whether there were any.
    fn skip_blanks(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(|b| BLANKS.contains(&b)) {
            self.i += 1;
        }
        self.i > start
    }

    /// The raw text up to the first unescaped byte of `stops` or the end.
    fn take_until(&mut self, stops: &[u8]) -> &'a str {
        let bytes = self.s.as_bytes();
        let start = self.i;
        while let Some(&b) = bytes.get(self.i) {
            if stops.contains(&b) {
                break;
            }
            // An escaped byte never stops; a continuation byte never is one.
            self.i += if b == b'\\' { 2 } else { 1 };
        }
        self.i = self.i.min(bytes.len());
        &self.s[start..self.i]
    }

    /// A double-quoted string with its quotes, backslash escaping any byte.
    fn quoted(&mut self) -> Result<&'a str, String> {
        let bytes = self.s.as_bytes();
        let start = self.i;
        self.i += 1;
        while let Some(&b) = bytes.get(self.i) {
            self.i += if b == b'\\' { 2 } else { 1 };
            if b == b'"' {
                return Ok(&self.s[start..self.i]);
            }
        }
        self.i = bytes.len();
        Err(format!("unterminated string {:?}", &self.s[start..]))
    }

    /// `key=value` of a tag or field, the value raw; a field's may be a
    /// quoted string (quotes kept), where separators do not count.
    fn pair(&mut self, what: &str, quotes: bool) -> Result<(&'a str, &'a str), String> {
        let key = self.take_until(END_KEY);
        if key.is_empty() {
            return Err(format!("missing {what} key at {:?}", self.rest()));
        }
        if !self.eat(b'=') {
            return Err(format!("{what} {key:?} has no '='"));
        }
        let value = if quotes && self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            self.take_until(END_VALUE)
        };
        if value.is_empty() {
            return Err(format!("{what} {key:?} has no value"));
        }
        Ok((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::iot::testkit::{point, tags};

    const ARRIVAL: i64 = 1_700_000_000_000;

    fn parse(text: &str) -> Result<Vec<Point>, PayloadError> {
        parse_line_protocol(text, Precision::Ns, ARRIVAL)
    }

    fn reason(text: &str) -> &'static str {
        parse(text).unwrap_err().reason()
    }

    fn series(text: &str) -> Vec<String> {
        parse(text).unwrap().into_iter().map(|p| p.series).collect()
    }

    #[test]
    fn reference_example() {
        let points =
            parse("weather,location=us-midwest,season=summer temperature=82 1465839830100400200")
                .unwrap();
        assert_eq!(
            points,
            vec![point(
                "weather,location=us-midwest,season=summer/temperature",
                &tags(&[("location", "us-midwest"), ("season", "summer")]),
                1_465_839_830_100,
                82.0
            )]
        );
    }

    #[test]
    fn series_key_sorts_tags_like_influxdb() {
        assert_eq!(
            series("weather,season=summer,location=us temperature=1"),
            ["weather,location=us,season=summer/temperature"]
        );
        assert_eq!(series("weather temperature=1"), ["weather/temperature"]);
    }

    #[test]
    fn every_field_type() {
        let points = parse(
            r#"m,host=a f=1.0,f2=3i,f3="str",f4=t,f5=7u,f6=FALSE,f7=-1.5e3,f8=-4i,f9=True,f10=.5 1684576800000000000"#,
        )
        .unwrap();
        let tags = tags(&[("f3", "str"), ("host", "a")]);
        let at = |field: &str, value: f64| {
            point(
                &format!("m,host=a/{field}"),
                &tags,
                1_684_576_800_000,
                value,
            )
        };
        assert_eq!(
            points,
            vec![
                at("f", 1.0),
                at("f2", 3.0),
                at("f4", 1.0),
                at("f5", 7.0),
                at("f6", 0.0),
                at("f7", -1500.0),
                at("f8", -4.0),
                at("f9", 1.0),
                at("f10", 0.5),
            ]
        );
        let booleans = "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE";
        let values: Vec<f64> = parse(booleans).unwrap().iter().map(|p| p.value).collect();
        assert_eq!(values, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn time_defaults_to_arrival_and_follows_precision() {
        assert_eq!(parse("m v=1").unwrap()[0].time_ms, ARRIVAL);
        let at = |text: &str, precision| {
            parse_line_protocol(text, precision, ARRIVAL).unwrap()[0].time_ms
        };
        assert_eq!(
            at("m v=1 1684576800123456789", Precision::Ns),
            1_684_576_800_123
        );
        assert_eq!(
            at("m v=1 1684576800123456", Precision::Us),
            1_684_576_800_123
        );
        assert_eq!(at("m v=1 1684576800123", Precision::Ms), 1_684_576_800_123);
        assert_eq!(at("m v=1 1684576800", Precision::S), 1_684_576_800_000);
        // Before 1970, rounded down.
        assert_eq!(at("m v=1 -1", Precision::Ns), -1);
        assert_eq!(at("m v=1 -1500", Precision::Us), -2);
        assert_eq!(at("m v=1 0", Precision::Ns), 0);
    }

    #[test]
    fn precision_from_query() {
        assert_eq!(Precision::from_query("ns"), Some(Precision::Ns));
        assert_eq!(Precision::from_query("n"), Some(Precision::Ns));
        assert_eq!(Precision::from_query("us"), Some(Precision::Us));
        assert_eq!(Precision::from_query("u"), Some(Precision::Us));
        assert_eq!(Precision::from_query("ms"), Some(Precision::Ms));
        assert_eq!(Precision::from_query("s"), Some(Precision::S));
        assert_eq!(Precision::from_query("h"), None);
        assert_eq!(Precision::from_query("MS"), None);
        assert_eq!(Precision::from_query(""), None);
        assert_eq!(Precision::default(), Precision::Ns);
    }

    #[test]
    fn several_lines_comments_blank_lines_and_crlf() {
        let text = "# weather\r\n\r\ncpu,host=a usage=1 1000000\r\n  \n\tmem,host=a used=2i,free=3i 2000000   \n# end";
        let points = parse(text).unwrap();
        let host = tags(&[("host", "a")]);
        assert_eq!(
            points,
            vec![
                point("cpu,host=a/usage", &host, 1, 1.0),
                point("mem,host=a/used", &host, 2, 2.0),
                point("mem,host=a/free", &host, 2, 3.0),
            ]
        );
    }

    #[test]
    fn escapes_in_names() {
        let points =
            parse(r"my\ Measurement,tag\ Key1=tag\ Value1,tag\,k=v\=1 field\ Key=100").unwrap();
        assert_eq!(
            points,
            vec![point(
                r"my\ Measurement,tag\ Key1=tag\ Value1,tag\,k=v\=1/field Key",
                &tags(&[("tag Key1", "tag Value1"), ("tag,k", "v=1")]),
                ARRIVAL,
                100.0
            )]
        );
        // A measurement escapes commas and spaces only; `=` is plain there.
        assert_eq!(series(r"a\,b=c\ d v=1"), [r"a\,b=c\ d/v"]);
        // `\\` is a backslash; any other backslash is itself.
        let points = parse(r"m,path=C:\\temp\x v=1").unwrap();
        assert_eq!(points[0].tags["path"], r"C:\temp\x");
    }

    #[test]
    fn escapes_in_string_fields() {
        let points = parse(
            r#"m,k=v quote="\"string\" within",spaces="a b,c=d",slash="back\\slash \n",emoji="Launch 🚀",empty="",v=1"#,
        )
        .unwrap();
        assert_eq!(
            points,
            vec![point(
                "m,k=v/v",
                &tags(&[
                    ("empty", ""),
                    ("emoji", "Launch 🚀"),
                    ("k", "v"),
                    ("quote", "\"string\" within"),
                    ("slash", r"back\slash \n"),
                    ("spaces", "a b,c=d"),
                ]),
                ARRIVAL,
                1.0
            )]
        );
        let points = parse("m,tagKey=🍭 fieldKey=2").unwrap();
        assert_eq!(points[0].series, "m,tagKey=🍭/fieldKey");
    }

    #[test]
    fn malformed_lines_are_bad_lines() {
        for text in [
            "m",
            "m ",
            ",t=a v=1",
            "m, v=1",
            "m,t v=1",
            "m,=a v=1",
            "m,t= v=1",
            "m v",
            "m v=",
            "m =1",
            "m v=1,",
            "m v=abc",
            "m v=1.2.3",
            "m v=--1",
            "m v=e",
            "m v=1x",
            "m v=i",
            "m v=-u",
            "m v=1.5i",
            r#"m s="unterminated"#,
            r#"m s="a"b"#,
            r#"m s="a\"#,
            "m v=1 1 2",
            r"m\",
            r"m,t=a\",
        ] {
            assert_eq!(reason(text), "bad_line", "{text:?}");
        }
        assert_eq!(
            parse("m v=1\nm v=abc").unwrap_err(),
            PayloadError::BadLine {
                line: 2,
                why: "field \"v\" has unreadable value \"abc\"".into()
            }
        );
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        for text in [
            "m v=NaN",
            "m v=nan",
            "m v=-Inf",
            "m v=+infinity",
            "m v=1e999",
            "m v=-1e400",
        ] {
            assert_eq!(reason(text), "non_finite", "{text:?}");
        }
        assert_eq!(
            parse("m ok=1\nm v=NaN").unwrap_err().to_string(),
            "line 2 field \"v\" is not a finite number"
        );
    }

    #[test]
    fn integers_out_of_range_are_bad_values() {
        assert_eq!(reason("m v=9223372036854775808i"), "bad_value");
        assert_eq!(reason("m v=18446744073709551616u"), "bad_value");
        let points = parse("m a=-9223372036854775808i,b=18446744073709551615u").unwrap();
        assert_eq!(points[0].value, -9_223_372_036_854_775_808.0);
        assert_eq!(points[1].value, 18_446_744_073_709_551_615.0);
    }

    #[test]
    fn unreadable_timestamps_are_bad_times() {
        assert_eq!(reason("m v=1 12ab"), "bad_time");
        assert_eq!(reason("m v=1 1.5"), "bad_time");
        assert_eq!(reason("m v=1 -"), "bad_time");
        assert_eq!(reason("m v=1 99999999999999999999"), "bad_time");
        let overflow = parse_line_protocol("m v=1 9223372036854775807", Precision::S, 0);
        assert_eq!(overflow.unwrap_err().reason(), "bad_time");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        assert_eq!(reason("m,t=a,t=b v=1"), "duplicate_key");
        assert_eq!(reason("m v=1,v=2"), "duplicate_key");
        assert_eq!(reason(r#"m,s=a s="b",v=1"#), "duplicate_key");
        assert_eq!(reason(r#"m s="a",s="b",v=1"#), "duplicate_key");
        assert_eq!(reason(r#"m s="a",s=1"#), "duplicate_key");
        assert_eq!(reason(r#"m s=1,s="a""#), "duplicate_key");
        // A numeric field may share a tag's name: the series tells them apart.
        assert_eq!(series("m,host=a host=1"), ["m,host=a/host"]);
    }

    #[test]
    fn lines_without_numbers_are_no_values() {
        assert_eq!(reason(r#"m s="only text""#), "no_values");
        assert_eq!(reason("# only a comment\n\n"), "no_values");
        assert_eq!(reason(""), "no_values");
    }
}
