//! Streaming window aggregates and next-value forecasts of IoT series
//! through the real binary: points written to `POST /api/iot/write`, then
//! `/api/iot/windows` checked against the windows worked out here from the
//! same points, the stream's `window` events, a restart, and
//! `/api/iot/forecast/{id}`. Needs no external service.

mod common;
use common::{read_events, Server};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

const MIN: i64 = 60_000;

/// `(count, avg, min, max, last)` of each window, by start.
type Windows = BTreeMap<i64, (u64, f64, f64, f64, f64)>;

/// Query parameters, the status they get and the parameter it names.
type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, &'a str);

/// A data dir `gantry serve` accepts (a small imported store).
fn data_dir(dir: &Path) -> PathBuf {
    common::small_store(dir, 50)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Line protocol in ms, one line per `(ts, value)` of `measurement`'s
/// field `v` (series `"{measurement}/v"`).
fn lines(measurement: &str, points: &[(i64, f64)]) -> String {
    points
        .iter()
        .map(|(ts, v)| format!("{measurement} v={v} {ts}\n"))
        .collect()
}

fn write(s: &Server, body: &str) -> Value {
    let response = s
        .client
        .post(s.url("/api/iot/write?precision=ms"))
        .body(body.to_owned())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().unwrap()
}

/// `(count, avg, min, max, last)` per window start: the points of each
/// window of `size` starting every `slide`, worked out one window at a time.
fn expected(points: &[(i64, f64)], size: i64, slide: i64) -> Windows {
    let first = points.iter().map(|(t, _)| *t).min().unwrap();
    let last = points.iter().map(|(t, _)| *t).max().unwrap();
    let mut out = BTreeMap::new();
    let mut start = first.div_euclid(slide) * slide - size + slide;
    while start <= last {
        let mut inside: Vec<(i64, f64)> = points
            .iter()
            .copied()
            .filter(|(t, _)| (start..start + size).contains(t))
            .collect();
        inside.sort_by_key(|(t, _)| *t);
        if let Some(&(_, newest)) = inside.last() {
            let values: Vec<f64> = inside.iter().map(|(_, v)| *v).collect();
            let n = values.len();
            out.insert(
                start,
                (
                    n as u64,
                    values.iter().sum::<f64>() / n as f64,
                    values.iter().copied().fold(f64::INFINITY, f64::min),
                    values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    newest,
                ),
            );
        }
        start += slide;
    }
    out
}

/// The windows of one series as answered: closed and open, by start.
fn answered(body: &Value) -> (Windows, Vec<i64>) {
    let series = &body["series"][0];
    let mut all = BTreeMap::new();
    let mut closed = Vec::new();
    for (list, is_closed) in [(&series["closed"], true), (&series["open"], false)] {
        for w in list.as_array().unwrap() {
            let start = w["start"].as_i64().unwrap();
            let f = |k: &str| w[k].as_f64().unwrap();
            all.insert(
                start,
                (
                    w["count"].as_u64().unwrap(),
                    f("avg"),
                    f("min"),
                    f("max"),
                    f("last"),
                ),
            );
            if is_closed {
                closed.push(start);
            }
        }
    }
    (all, closed)
}

fn assert_windows(got: &Windows, want: &Windows) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (start, (count, avg, min, max, last)) in want {
        let g = got[start];
        assert_eq!(
            (g.0, g.2, g.3, g.4),
            (*count, *min, *max, *last),
            "window {start}"
        );
        assert!(
            (g.1 - avg).abs() < 1e-9,
            "window {start}: avg {} vs {avg}",
            g.1
        );
    }
}

/// Waits (10 s at most) for `done`.
fn wait_until(done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn windows(s: &Server, params: &[(&str, &str)]) -> Value {
    s.json(s.url_with("/api/iot/windows", params))
}

#[test]
fn live_windows_equal_the_posted_points_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let s = Server::serve(&data, &[]);
    let stream = s.get(s.url("/api/stream"));
    // Ten minutes of points 10 s apart, ending 5 s ago at the latest.
    let base = (now_ms() - 11 * MIN) / MIN * MIN;
    let mut accepted: Vec<(i64, f64)> = (0..60)
        .map(|i| (base + i * 10_000, ((i * 37) % 23) as f64 + 0.25))
        .collect();
    write(&s, &lines("win", &accepted));
    let newest = base + 59 * 10_000;
    // A duplicate (the store and the windows keep the first), a point 2 s
    // late (within the 5 s lateness: counted), and one from the first
    // minute, long closed: stored, but too late for the live windows.
    let late = (newest - 2_000, 99.0);
    let too_late = (base + 1_000, -50.0);
    write(
        &s,
        &lines("win", &[(base + 20_000, 1234.0), late, too_late]),
    );
    accepted.push(late);
    let id = "win/v";
    // The live windows take the payloads a moment after they are stored:
    // wait until the second one is in (the late point in minute 9).
    let in_minute_9 = accepted
        .iter()
        .filter(|(t, _)| *t >= base + 9 * MIN)
        .count();
    wait_until(|| {
        let now = windows(&s, &[("series", id)]);
        now["series"][0]["open"][0]["count"] == in_minute_9
    });

    let tumbling = windows(&s, &[("series", id), ("kind", "tumbling"), ("size", "1m")]);
    assert_eq!(
        (tumbling["live"].as_bool(), tumbling["size_ms"].as_i64()),
        (Some(true), Some(MIN))
    );
    let (got, closed) = answered(&tumbling);
    assert_windows(&got, &expected(&accepted, MIN, MIN));
    let want_closed: Vec<i64> = (0..9).map(|m| base + m * MIN).collect();
    assert_eq!(
        closed, want_closed,
        "minutes ending 5 s before the newest point are closed"
    );
    assert_eq!(tumbling["series"][0]["watermark"], newest - 5_000);

    let sliding = windows(
        &s,
        &[
            ("series", id),
            ("kind", "sliding"),
            ("size", "5m"),
            ("slide", "1m"),
        ],
    );
    assert_eq!(sliding["live"], true);
    let (got, closed) = answered(&sliding);
    assert_windows(&got, &expected(&accepted, 5 * MIN, MIN));
    assert_eq!(
        closed.len(),
        9,
        "windows starting from base − 4 min to base + 4 min"
    );
    // limit: the newest closed windows only.
    let two = windows(&s, &[("series", id), ("kind", "sliding"), ("limit", "2")]);
    assert_eq!(answered(&two).1, closed[7..]);

    // Every series' newest closed window by default.
    let all = windows(&s, &[]);
    let listed = all["series"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["closed"].as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["closed"][0]["start"], base + 8 * MIN);

    // The stream told of the windows as they closed.
    let events = read_events(stream, "window", 9 + 9, Duration::from_secs(10));
    let closed_events: Vec<&Value> = events
        .iter()
        .filter(|(name, data)| name == "window" && data["kind"] == "tumbling")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(closed_events.len(), 9, "{events:?}");
    assert_eq!(closed_events[3]["series"], id);
    assert_eq!(closed_events[3]["start"], base + 3 * MIN);
    assert_eq!(
        closed_events[3]["avg"],
        tumbling["series"][0]["closed"][3]["avg"]
    );

    // A size not kept live is worked out from the stored points, in time
    // order: the point too late for the live windows counts there.
    let mut stored = accepted.clone();
    stored.push(too_late);
    let two_minutes = windows(&s, &[("series", id), ("size", "2m")]);
    assert_eq!(two_minutes["live"], false);
    assert_windows(
        &answered(&two_minutes).0,
        &expected(&stored, 2 * MIN, 2 * MIN),
    );

    // After a restart the live windows are seeded from the store (so the
    // stored late point is in them now).
    drop(s);
    let s = Server::serve(&data, &[]);
    let again = windows(&s, &[("series", id), ("kind", "tumbling")]);
    let (got, closed) = answered(&again);
    assert_windows(&got, &expected(&stored, MIN, MIN));
    assert_eq!(closed, want_closed);
}

#[test]
fn bad_window_parameters_are_400s_naming_the_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::serve(&data_dir(tmp.path()), &[]);
    write(&s, &lines("known", &[(now_ms(), 1.0)]));
    let cases: [Case; 9] = [
        (&[("kind", "hopping")], StatusCode::BAD_REQUEST, "kind"),
        (&[("size", "0s")], StatusCode::BAD_REQUEST, "size"),
        (&[("size", "soon")], StatusCode::BAD_REQUEST, "size"),
        (
            &[("kind", "sliding"), ("size", "5m"), ("slide", "2m")],
            StatusCode::BAD_REQUEST,
            "slide",
        ),
        (
            &[("kind", "tumbling"), ("size", "5m"), ("slide", "1m")],
            StatusCode::BAD_REQUEST,
            "slide",
        ),
        (&[("limit", "0")], StatusCode::BAD_REQUEST, "limit"),
        (&[("limit", "many")], StatusCode::BAD_REQUEST, "limit"),
        (&[("size", "2m")], StatusCode::BAD_REQUEST, "series"),
        (&[("series", "nope/v")], StatusCode::NOT_FOUND, ""),
    ];
    for (params, status, parameter) in cases {
        let response = s.get(s.url_with("/api/iot/windows", params));
        let code = response.status();
        let body: Value = response.json().unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        assert_eq!(code, status, "{params:?}: {body}");
        assert!(!error.is_empty(), "{params:?}: {body}");
        if !parameter.is_empty() {
            assert_eq!(body["parameter"], parameter, "{params:?}: {body}");
        }
    }
    // A known series with a size not kept live answers.
    let ok = windows(&s, &[("series", "known/v"), ("size", "10m")]);
    assert_eq!(ok["series"][0]["open"][0]["count"], 1);
}

#[test]
fn forecasts_follow_the_series_and_refuse_what_they_cannot_do() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::serve(&data_dir(tmp.path()), &[]);
    // Three hours of minutes: a slow wave with a reading that alternates
    // half a degree above and below it. The last value is always about a
    // degree off; a model of the recent values learns the alternation.
    let start = (now_ms() - 3 * 3_600_000) / MIN * MIN;
    let points: Vec<(i64, f64)> = (0..180)
        .map(|i| {
            let wave = 20.0 + 3.0 * (i as f64 / 40.0).sin();
            let wobble = if i % 2 == 0 { 0.5 } else { -0.5 };
            (start + i * MIN, wave + wobble)
        })
        .collect();
    write(&s, &lines("fc", &points));
    let f = s.json(s.url_with(
        "/api/iot/forecast/fc/v",
        &[("step", "1m"), ("horizon", "5")],
    ));
    assert_eq!(f["step_ms"], MIN);
    assert_eq!(f["history_steps"], 180);
    assert_eq!(f["last_step"], start + 179 * MIN);
    let predicted = f["points"].as_array().unwrap();
    assert_eq!(predicted.len(), 5);
    for (k, p) in predicted.iter().enumerate() {
        let ts = start + (180 + k as i64) * MIN;
        assert_eq!(p[0], ts);
        let i = 180 + k as i64;
        let truth = 20.0 + 3.0 * (i as f64 / 40.0).sin() + if i % 2 == 0 { 0.5 } else { -0.5 };
        let value = p[1].as_f64().unwrap();
        assert!((value - truth).abs() < 0.3, "step {k}: {value} vs {truth}");
    }
    let b = &f["backtest"];
    assert_eq!(b["steps"], 36);
    let (model, baseline) = (
        b["model_mae"].as_f64().unwrap(),
        b["baseline_mae"].as_f64().unwrap(),
    );
    assert!(baseline > 0.9, "{b}");
    assert!(model < 0.2 * baseline, "{b}");

    let status = |path: &str, params: &[(&str, &str)]| {
        let response = s.get(s.url_with(path, params));
        let code = response.status();
        let body: Value = response.json().unwrap();
        (
            code,
            body["parameter"].clone(),
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let (code, _, error) = status("/api/iot/forecast/nope/v", &[]);
    assert_eq!(code, StatusCode::NOT_FOUND, "{error}");
    for (params, parameter) in [
        (&[("step", "soon")][..], "step"),
        (&[("horizon", "0")][..], "horizon"),
        (&[("horizon", "1000")][..], "horizon"),
        (&[("horizon", "x")][..], "horizon"),
    ] {
        let (code, got, error) = status("/api/iot/forecast/fc/v", params);
        assert_eq!(
            (code, got),
            (StatusCode::BAD_REQUEST, Value::from(parameter)),
            "{params:?}: {error}"
        );
    }
    // Three hours in steps of an hour: too few for the model.
    let (code, _, error) = status("/api/iot/forecast/fc/v", &[("step", "1h")]);
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error.contains("not enough history"), "{error}");
}
