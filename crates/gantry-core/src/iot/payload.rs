//! JSON payloads: format (a), a list of series with their values, and
//! format (b), one flat object per device reading.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{PayloadError, Point};

/// Keys naming the device of a flat object, first present wins. The others
/// present become tags, never series: an id is not a measurement.
pub const DEVICE_KEYS: [&str; 5] = ["device", "device_id", "sensor_id", "sensor", "id"];

/// Keys holding the time of a flat object's reading, first present wins.
pub const TIME_KEYS: [&str; 2] = ["timestamp", "time"];

/// Reads a JSON payload: format (a) when `"values"` is an array holding
/// objects (or an empty array), else format (b).
pub(super) fn parse_json(
    text: &str,
    topic: &str,
    arrival_ms: i64,
) -> Result<Vec<Point>, PayloadError> {
    let object = match serde_json::from_str::<Value>(text).map_err(json_error)? {
        Value::Object(object) => object,
        other => return Err(PayloadError::NotObject(kind(&other))),
    };
    let points = match object.get("values") {
        Some(Value::Array(items)) if items.is_empty() || items.iter().any(Value::is_object) => {
            values_list(items, arrival_ms)?
        }
        _ => flat_object(&object, topic, arrival_ms)?,
    };
    if points.is_empty() {
        return Err(PayloadError::NoValues);
    }
    Ok(points)
}

/// serde_json refuses numbers beyond `f64` ("number out of range") instead
/// of making them infinite: that is a non-finite number, not broken JSON.
fn json_error(e: serde_json::Error) -> PayloadError {
    let message = e.to_string();
    if message.starts_with("number out of range") {
        PayloadError::NonFinite(format!(
            "the number at line {} column {}",
            e.line(),
            e.column()
        ))
    } else {
        PayloadError::BadJson(message)
    }
}

/// Format (a): each entry one series, time the arrival time.
fn values_list(items: &[Value], arrival_ms: i64) -> Result<Vec<Point>, PayloadError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| values_entry(index, item, arrival_ms))
        .collect()
}

/// `{"id":"<series>","values":[reading, extra…]}`.
fn values_entry(index: usize, item: &Value, arrival_ms: i64) -> Result<Point, PayloadError> {
    let bad = |why| PayloadError::BadEntry { index, why };
    let Value::Object(entry) = item else {
        return Err(bad("not an object"));
    };
    let series = match entry.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => return Err(bad("\"id\" is not a non-empty string or a number")),
        None => return Err(bad("no \"id\"")),
    };
    let Some(Value::Array(values)) = entry.get("values") else {
        return Err(bad("no \"values\" list"));
    };
    let mut numbers = values.iter().map(|v| {
        number(v).ok_or_else(|| {
            PayloadError::BadValue(format!("the values of {series:?} hold {}", kind(v)))
        })
    });
    let value = numbers
        .next()
        .ok_or_else(|| bad("empty \"values\" list"))??;
    let extra = numbers.collect::<Result<_, _>>()?;
    Ok(Point {
        series,
        tags: BTreeMap::new(),
        time_ms: arrival_ms,
        value,
        extra,
    })
}

/// Format (b): numeric fields are series of the device, string fields tags.
fn flat_object(
    object: &Map<String, Value>,
    topic: &str,
    arrival_ms: i64,
) -> Result<Vec<Point>, PayloadError> {
    let (device_key, device) = device(object, topic)?;
    let time_ms = time(object)?.unwrap_or(arrival_ms);
    let mut tags = BTreeMap::new();
    let mut readings = Vec::new();
    for (key, value) in object {
        if Some(key.as_str()) == device_key || TIME_KEYS.contains(&key.as_str()) {
            continue;
        }
        if key.is_empty() {
            return Err(PayloadError::EmptyKey);
        }
        match value {
            Value::Null => {}
            Value::String(s) => {
                tags.insert(key.clone(), s.clone());
            }
            Value::Number(n) if DEVICE_KEYS.contains(&key.as_str()) => {
                tags.insert(key.clone(), n.to_string());
            }
            Value::Bool(_) | Value::Number(_) => {
                // Never `None`: both are numbers.
                if let Some(reading) = number(value) {
                    readings.push((key, reading));
                }
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(PayloadError::NestedValue {
                    field: key.clone(),
                    kind: kind(value),
                })
            }
        }
    }
    tags.insert("device".to_owned(), device.clone());
    Ok(readings
        .into_iter()
        .map(|(field, value)| Point {
            series: format!("{device}/{field}"),
            tags: tags.clone(),
            time_ms,
            value,
            extra: Vec::new(),
        })
        .collect())
}

/// The device: the first of [`DEVICE_KEYS`] present (not `null`), else the
/// topic. Returns the key it came from.
fn device(
    object: &Map<String, Value>,
    topic: &str,
) -> Result<(Option<&'static str>, String), PayloadError> {
    for key in DEVICE_KEYS {
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if !id.trim().is_empty() => return Ok((Some(key), id.clone())),
            Some(Value::Number(id)) => return Ok((Some(key), id.to_string())),
            Some(_) => return Err(PayloadError::BadDevice { key }),
        }
    }
    if topic.trim().is_empty() {
        return Err(PayloadError::NoDevice);
    }
    Ok((None, topic.to_owned()))
}

/// The reading's time from the first of [`TIME_KEYS`] present (not `null`):
/// RFC 3339 text with a zone, or epoch time as a number or numeric text.
fn time(object: &Map<String, Value>) -> Result<Option<i64>, PayloadError> {
    let Some((key, value)) = TIME_KEYS
        .iter()
        .find_map(|&key| Some((key, object.get(key).filter(|v| !v.is_null())?)))
    else {
        return Ok(None);
    };
    let ms = match value {
        Value::Number(n) => n.as_f64().and_then(epoch_ms),
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| t.timestamp_millis())
            .or_else(|| s.trim().parse().ok().and_then(epoch_ms)),
        _ => None,
    };
    match ms {
        Some(ms) => Ok(Some(ms)),
        None => Err(PayloadError::BadTime(format!(
            "{key} {value} (expected RFC 3339 with a zone, or epoch seconds or milliseconds)"
        ))),
    }
}

/// Epoch time to milliseconds, its unit told by magnitude: below 1e11 it is
/// seconds, below 1e14 milliseconds, below 1e17 microseconds, else
/// nanoseconds. Each unit thus covers 1973 to 5138; milliseconds before
/// March 1973 would read as seconds, which no live device sends.
/// Fractions of a millisecond are rounded.
fn epoch_ms(t: f64) -> Option<i64> {
    if !t.is_finite() {
        return None;
    }
    let magnitude = t.abs();
    let ms = if magnitude < 1e11 {
        t * 1e3
    } else if magnitude < 1e14 {
        t
    } else if magnitude < 1e17 {
        t / 1e3
    } else {
        t / 1e6
    };
    // `as` saturates; chrono's range refuses the saturated ends.
    let ms = ms.round() as i64;
    DateTime::<Utc>::from_timestamp_millis(ms).map(|_| ms)
}

/// A JSON reading as a number: booleans are 0 and 1.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_payload;
    use super::*;

    use crate::iot::testkit::{point, tags};

    const ARRIVAL: i64 = 1_700_000_000_000;

    fn parse(payload: &str, topic: &str) -> Result<Vec<Point>, PayloadError> {
        parse_payload(payload.as_bytes(), topic, ARRIVAL)
    }

    fn reason(payload: &str) -> &'static str {
        parse(payload, "topic").unwrap_err().reason()
    }

    fn time_of(payload: &str) -> i64 {
        parse(payload, "t").unwrap()[0].time_ms
    }

    #[test]
    fn values_list_is_one_series_per_entry_at_arrival_time() {
        let points = parse(
            r#"{"values":[{"id":"gantry-7/speed","values":[61.5,3,-0.25]},{"id":"flow","values":[12]},{"id":7,"values":[true]}]}"#,
            "ignored",
        )
        .unwrap();
        assert_eq!(
            points,
            vec![
                Point {
                    series: "gantry-7/speed".into(),
                    tags: BTreeMap::new(),
                    time_ms: ARRIVAL,
                    value: 61.5,
                    extra: vec![3.0, -0.25],
                },
                point("flow", &BTreeMap::new(), ARRIVAL, 12.0),
                point("7", &BTreeMap::new(), ARRIVAL, 1.0),
            ]
        );
    }

    #[test]
    fn values_list_refuses_malformed_entries() {
        assert_eq!(reason(r#"{"values":[]}"#), "no_values");
        assert_eq!(
            parse(
                r#"{"values":[{"id":"a","values":[1]},{"values":[1]}]}"#,
                "t"
            )
            .unwrap_err(),
            PayloadError::BadEntry {
                index: 1,
                why: "no \"id\""
            }
        );
        assert_eq!(
            reason(r#"{"values":[{"id":"","values":[1]}]}"#),
            "bad_entry"
        );
        assert_eq!(
            reason(r#"{"values":[{"id":null,"values":[1]}]}"#),
            "bad_entry"
        );
        assert_eq!(
            reason(r#"{"values":[{"id":"a","values":[]}]}"#),
            "bad_entry"
        );
        assert_eq!(reason(r#"{"values":[{"id":"a"}]}"#), "bad_entry");
        assert_eq!(reason(r#"{"values":[{"id":"a","values":3}]}"#), "bad_entry");
        assert_eq!(
            reason(r#"{"values":[{"id":"a","values":[1]},5]}"#),
            "bad_entry"
        );
        let err = parse(r#"{"values":[{"id":"a","values":[1,"x"]}]}"#, "t").unwrap_err();
        assert_eq!(err.reason(), "bad_value");
        assert_eq!(
            err.to_string(),
            "bad value: the values of \"a\" hold a string"
        );
        assert_eq!(
            reason(r#"{"values":[{"id":"a","values":[null]}]}"#),
            "bad_value"
        );
    }

    #[test]
    fn flat_object_with_sensor_id_and_rfc3339_timestamp() {
        let points = parse(
            r#"{"sensor_id":1,"temperature":25.5,"humidity":60,"timestamp":"2023-05-20T10:00:00Z"}"#,
            "sensors/1",
        )
        .unwrap();
        let tags = tags(&[("device", "1")]);
        assert_eq!(
            points,
            vec![
                point("1/humidity", &tags, 1_684_576_800_000, 60.0),
                point("1/temperature", &tags, 1_684_576_800_000, 25.5),
            ]
        );
    }

    #[test]
    fn flat_object_with_device_epoch_seconds_and_string_tags() {
        let points = parse(
            r#"{"time":1684576800.123,"device":"pi-01","temperature":21.3,"humidity":48,"experiment":"e1"}"#,
            "lab",
        )
        .unwrap();
        let tags = tags(&[("device", "pi-01"), ("experiment", "e1")]);
        assert_eq!(
            points,
            vec![
                point("pi-01/humidity", &tags, 1_684_576_800_123, 48.0),
                point("pi-01/temperature", &tags, 1_684_576_800_123, 21.3),
            ]
        );
    }

    #[test]
    fn epoch_unit_follows_magnitude() {
        let at = |t: &str| time_of(&format!(r#"{{"device":"d","v":1,"time":{t}}}"#));
        assert_eq!(at("1684576800"), 1_684_576_800_000);
        assert_eq!(at("1684576800.5"), 1_684_576_800_500);
        assert_eq!(at("1684576800123"), 1_684_576_800_123);
        assert_eq!(at("1684576800123456"), 1_684_576_800_123);
        assert_eq!(at("1684576800123456789"), 1_684_576_800_123);
        assert_eq!(at("0"), 0);
        assert_eq!(at("-86400"), -86_400_000);
        assert_eq!(at("99999999999"), 99_999_999_999_000);
        assert_eq!(at("100000000000"), 100_000_000_000);
        assert_eq!(at("\"1684576800\""), 1_684_576_800_000);
    }

    #[test]
    fn time_keys_and_zones() {
        assert_eq!(
            time_of(r#"{"device":"d","v":1,"timestamp":"2023-05-20T18:00:00.250+08:00"}"#),
            1_684_576_800_250
        );
        // `timestamp` before `time`; neither becomes a series.
        let points = parse(r#"{"device":"d","v":1,"timestamp":0,"time":5}"#, "t").unwrap();
        assert_eq!(
            points,
            vec![point("d/v", &tags(&[("device", "d")]), 0, 1.0)]
        );
        assert_eq!(time_of(r#"{"device":"d","v":1}"#), ARRIVAL);
        assert_eq!(time_of(r#"{"device":"d","v":1,"time":null}"#), ARRIVAL);
    }

    #[test]
    fn unreadable_times_are_refused() {
        assert_eq!(
            reason(r#"{"v":1,"timestamp":"2023-05-20T10:00:00"}"#),
            "bad_time"
        );
        assert_eq!(reason(r#"{"v":1,"timestamp":"yesterday"}"#), "bad_time");
        assert_eq!(reason(r#"{"v":1,"time":"NaN"}"#), "bad_time");
        assert_eq!(reason(r#"{"v":1,"time":true}"#), "bad_time");
        assert_eq!(reason(r#"{"v":1,"time":[1]}"#), "bad_time");
        assert_eq!(reason(r#"{"v":1,"time":1e300}"#), "bad_time");
        assert_eq!(
            parse(r#"{"v":1,"time":"soon"}"#, "t").unwrap_err().to_string(),
            "unreadable time: time \"soon\" (expected RFC 3339 with a zone, or epoch seconds or milliseconds)"
        );
    }

    #[test]
    fn topic_is_the_device_when_the_payload_names_none() {
        let points = parse(r#"{"temperature":20,"room":"kitchen"}"#, "home/kitchen").unwrap();
        assert_eq!(
            points,
            vec![point(
                "home/kitchen/temperature",
                &tags(&[("device", "home/kitchen"), ("room", "kitchen")]),
                ARRIVAL,
                20.0
            )]
        );
        assert_eq!(
            parse(r#"{"temperature":20}"#, " ").unwrap_err(),
            PayloadError::NoDevice
        );
    }

    #[test]
    fn first_device_key_wins_and_other_ids_are_tags() {
        let points = parse(
            r#"{"id":9,"sensor":"dht22","device_id":null,"device":"pi-01","t":1}"#,
            "x",
        )
        .unwrap();
        assert_eq!(
            points,
            vec![point(
                "pi-01/t",
                &tags(&[("device", "pi-01"), ("id", "9"), ("sensor", "dht22")]),
                ARRIVAL,
                1.0
            )]
        );
        let points = parse(r#"{"sensor":"s-1","t":1}"#, "x").unwrap();
        assert_eq!(points[0].series, "s-1/t");
        let points = parse(r#"{"device_id":"esp-3","sensor":"s","t":1}"#, "x").unwrap();
        assert_eq!(points[0].series, "esp-3/t");
    }

    #[test]
    fn unusable_device_ids_are_refused() {
        assert_eq!(
            parse(r#"{"device":true,"t":1}"#, "x").unwrap_err(),
            PayloadError::BadDevice { key: "device" }
        );
        assert_eq!(reason(r#"{"device":"","t":1}"#), "bad_device");
        assert_eq!(reason(r#"{"sensor_id":{"n":1},"t":1}"#), "bad_device");
    }

    #[test]
    fn booleans_are_zero_and_one_and_nulls_no_reading() {
        let points = parse(
            r#"{"device":"door","open":true,"alarm":false,"battery":null}"#,
            "x",
        )
        .unwrap();
        let tags = tags(&[("device", "door")]);
        assert_eq!(
            points,
            vec![
                point("door/alarm", &tags, ARRIVAL, 0.0),
                point("door/open", &tags, ARRIVAL, 1.0),
            ]
        );
    }

    #[test]
    fn nested_values_are_refused_by_name() {
        let err = parse(r#"{"device":"d","t":1,"gps":{"lat":1}}"#, "x").unwrap_err();
        assert_eq!(
            err,
            PayloadError::NestedValue {
                field: "gps".into(),
                kind: "an object"
            }
        );
        assert_eq!(
            err.to_string(),
            "field \"gps\" holds an object; a flat object holds only numbers, strings and booleans"
        );
        assert_eq!(
            reason(r#"{"device":"d","t":1,"values":[1,2]}"#),
            "nested_value"
        );
        assert_eq!(reason(r#"{"device":"d","t":1,"tags":[]}"#), "nested_value");
    }

    #[test]
    fn objects_without_numbers_are_refused() {
        assert_eq!(reason(r#"{"device":"d","status":"ok"}"#), "no_values");
        assert_eq!(reason(r#"{"device":"d","v":null}"#), "no_values");
        assert_eq!(reason("{}"), "no_values");
        assert_eq!(reason(r#"{"device":"d","":1}"#), "empty_key");
    }

    #[test]
    fn numbers_beyond_f64_are_non_finite() {
        let err = parse(r#"{"device":"d","v":1e999}"#, "x").unwrap_err();
        assert_eq!(err.reason(), "non_finite");
        assert_eq!(
            err.to_string(),
            "the number at line 1 column 23 is not a finite number"
        );
        let huge = format!(
            r#"{{"values":[{{"id":"a","values":[1{}]}}]}}"#,
            "0".repeat(400)
        );
        assert_eq!(reason(&huge), "non_finite");
        // Large but finite integers are readings.
        let points = parse(r#"{"device":"d","v":18446744073709551615}"#, "x").unwrap();
        assert_eq!(points[0].value, 18_446_744_073_709_551_615.0);
    }
}
