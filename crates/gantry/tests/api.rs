//! The HTTP API through the real binary, over loopback: a store filled by
//! `gantry simulate --fast | gantry import`, served by `gantry serve --port 0`
//! (one server per test, killed when the test ends), and `gantry demo`.

mod common;
use common::{gantry, read_events, summary_value, Server};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

const INJECTION: &str = "' OR 1=1 --";

/// A store built once for every test of this file.
struct Fixture {
    dir: PathBuf,
    data: PathBuf,
    accepted: u64,
    warnings: u64,
}

impl Fixture {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("api-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = |name: &str| dir.join(name).display().to_string();
        gantry(&[
            "simulate",
            "--fast",
            "--records",
            "40000",
            "--seed",
            "11",
            "--clones",
            "8",
            "--vehicles",
            "4000",
            "--placeholders",
            "0.02",
            "--duplicates",
            "0.01",
            "--out",
            &f("passes.tsv"),
            "--checkpoints-out",
            &f("checkpoints.csv"),
        ]);
        let data = dir.join("data");
        let out = gantry(&[
            "import",
            "--data-dir",
            data.to_str().unwrap(),
            "--checkpoints",
            &f("checkpoints.csv"),
            &f("passes.tsv"),
        ]);
        let fixture = Fixture {
            accepted: summary_value(&out.stdout, "accepted"),
            warnings: summary_value(&out.stdout, "warnings"),
            dir: dir.clone(),
            data,
        };
        assert!(fixture.accepted > 39_000 && fixture.warnings > 0);
        fixture
    })
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

fn sum_values(list: &Value) -> u64 {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| u(&e["value"]))
        .sum()
}

#[test]
fn health_and_statistics_match_the_import() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);

    let health = s.json(s.url("/api/health"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["mode"], "serve");
    let shards = health["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[1]["index"], 1);
    let shard_sum: u64 = shards.iter().map(|s| u(&s["passes"])).sum();
    assert_eq!(shard_sum, f.accepted);
    assert_eq!(u(&health["total_records"]), f.accepted);

    let summary = s.json(s.url("/api/stats/summary"));
    assert_eq!(u(&summary["total_records"]), f.accepted);
    assert_eq!(u(&summary["warnings_total"]), f.warnings);
    let as_of = summary["as_of"].as_str().unwrap().to_owned();
    let newest = s.json(s.url("/api/query?size=1"));
    assert_eq!(
        newest["rows"][0]["gcsj"],
        as_of.as_str(),
        "as_of is the newest pass time"
    );
    let day = &as_of[..10];
    let flow = s.json(s.url_with("/api/stats/flow_24h", &[("date", day)]));
    assert_eq!(u(&summary["records_today"]), sum_values(&flow));
    // The last complete minute before the one holding as_of.
    let minute_start = |back: i64| {
        let t = chrono::NaiveDateTime::parse_from_str(&as_of[..16], "%Y-%m-%d %H:%M").unwrap()
            - chrono::TimeDelta::minutes(back);
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    };
    let before = |t: String| {
        let t = chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S").unwrap()
            - chrono::TimeDelta::seconds(1);
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    };
    let last_minute = s.json(s.url_with(
        "/api/query",
        &[
            ("start", &minute_start(1)),
            ("end", &before(minute_start(0))),
            ("size", "1"),
        ],
    ));
    assert_eq!(u(&summary["last_minute"]), u(&last_minute["total"]));
    assert!(u(&summary["last_minute"]) > 0);

    let all = s.json(s.url("/api/stats/kkmc_count?limit=1000"));
    assert_eq!(
        u(&summary["checkpoints"]),
        all.as_array().unwrap().len() as u64
    );
    assert_eq!(sum_values(&all), f.accepted);
    let values: Vec<u64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| u(&e["value"]))
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "descending");
    let top = s.json(s.url("/api/stats/kkmc_count?limit=3"));
    assert_eq!(top.as_array().unwrap().len(), 3);
    assert_eq!(top[0], all[0]);
    let default = s.json(s.url("/api/stats/kkmc_count"));
    assert_eq!(default.as_array().unwrap().len(), 10);

    let provinces = s.json(s.url("/api/stats/map_data"));
    assert_eq!(sum_values(&provinces), f.accepted);
    assert!(provinces
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "四川"));
    let types = s.json(s.url("/api/stats/vehicle_type"));
    assert_eq!(sum_values(&types), f.accepted);
    assert!(types
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "小型汽车"));
}

#[test]
fn query_pages_add_up_to_the_total() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let busiest = s.json(s.url("/api/stats/kkmc_count?limit=1"));
    let kkmc = busiest[0]["name"].as_str().unwrap();
    let count = u(&busiest[0]["value"]);

    let mut seen = BTreeSet::new();
    let mut last_time = String::from("9999");
    let mut page = 1;
    loop {
        let p = page.to_string();
        let body = s.json(s.url_with(
            "/api/query",
            &[("kkmc", kkmc), ("size", "100"), ("page", &p)],
        ));
        assert_eq!(u(&body["total"]), count, "total is exact");
        assert_eq!(u(&body["page"]), page);
        assert_eq!(u(&body["size"]), 100);
        let rows = body["rows"].as_array().unwrap();
        if rows.is_empty() {
            break;
        }
        for row in rows {
            assert_eq!(row["kkmc"], kkmc);
            let t = row["gcsj"].as_str().unwrap().to_owned();
            assert!(t <= last_time, "newest first, across pages");
            last_time = t;
            assert!(
                seen.insert(row["gcxh"].as_str().unwrap().to_owned()),
                "no row twice"
            );
            for field in [
                "xzqhmc",
                "fxlx",
                "hpzl",
                "hphm",
                "clppxh",
                "province",
                "vehicle_type_name",
            ] {
                assert!(row[field].is_string(), "{field} in {row}");
            }
        }
        page += 1;
    }
    assert_eq!(seen.len() as u64, count, "the pages hold every row once");

    // POST takes the same filters as a JSON body.
    let get = s.json(s.url_with(
        "/api/query",
        &[("kkmc", kkmc), ("size", "7"), ("page", "2")],
    ));
    let posted = s.post(
        "/api/query",
        &json!({"kkmc": kkmc, "size": 7, "page": "2"}).to_string(),
    );
    assert_eq!(posted.status(), StatusCode::OK);
    assert_eq!(posted.json::<Value>().unwrap(), get);
    let empty = s.post("/api/query", "");
    assert_eq!(u(&empty.json::<Value>().unwrap()["total"]), f.accepted);

    let defaults = s.json(s.url("/api/query"));
    assert_eq!((u(&defaults["page"]), u(&defaults["size"])), (1, 20));
    assert_eq!(defaults["rows"].as_array().unwrap().len(), 20);
    let beyond = s.json(s.url("/api/query?size=1000&page=1000"));
    assert_eq!(beyond["rows"].as_array().unwrap().len(), 0);
}

#[test]
fn plate_prefix_type_province_and_time_range() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let first = s.json(s.url("/api/query?size=1"));
    let plate = first["rows"][0]["hphm"].as_str().unwrap().to_owned();
    let exact = s.json(s.url_with("/api/query", &[("hphm", &plate), ("size", "1000")]));
    assert!(u(&exact["total"]) >= 1);
    for row in exact["rows"].as_array().unwrap() {
        assert_eq!(row["hphm"], plate.as_str());
    }
    let prefix: String = plate.chars().take(2).collect();
    let starred = format!("{prefix}*");
    let by_prefix = s.json(s.url_with("/api/query", &[("hphm", &starred), ("size", "1000")]));
    assert!(u(&by_prefix["total"]) > u(&exact["total"]));
    assert!(u(&by_prefix["total"]) < f.accepted);
    for row in by_prefix["rows"].as_array().unwrap() {
        assert!(row["hphm"].as_str().unwrap().starts_with(&prefix), "{row}");
    }

    let sichuan = s.json(s.url_with("/api/query", &[("province", "四川"), ("size", "50")]));
    let provinces = s.json(s.url("/api/stats/map_data"));
    let want = provinces
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "四川")
        .map(|p| u(&p["value"]))
        .unwrap();
    assert_eq!(u(&sichuan["total"]), want);
    let small = s.json(s.url_with("/api/query", &[("hpzl", "2"), ("size", "50")]));
    assert!(u(&small["total"]) > 0);
    for row in small["rows"].as_array().unwrap() {
        assert_eq!(row["hpzl"], "02", "hpzl=2 means 02");
    }

    // One hour of passes equals the hourly flow, and two halves add up.
    let summary = s.json(s.url("/api/stats/summary"));
    let day = summary["as_of"].as_str().unwrap()[..10].to_owned();
    let flow = s.json(s.url_with("/api/stats/flow_24h", &[("date", &day)]));
    let (start, mid, mid_next, end) = (
        format!("{day} 08:00:00"),
        format!("{day} 08:29:59"),
        format!("{day} 08:30:00"),
        format!("{day} 08:59:59"),
    );
    let hour = s.json(s.url_with(
        "/api/query",
        &[("start", &start), ("end", &end), ("size", "1000")],
    ));
    assert_eq!(u(&hour["total"]), u(&flow[8]["value"]));
    assert!(u(&hour["total"]) > 0);
    for row in hour["rows"].as_array().unwrap() {
        let t = row["gcsj"].as_str().unwrap();
        assert!(t >= start.as_str() && t <= end.as_str(), "{t}");
    }
    let a = s.json(s.url_with("/api/query", &[("start", &start), ("end", &mid)]));
    let b = s.json(s.url_with("/api/query", &[("start", &mid_next), ("end", &end)]));
    assert_eq!(u(&a["total"]) + u(&b["total"]), u(&hour["total"]));
    let whole_day = s.json(s.url_with("/api/query", &[("start", &day), ("end", &day)]));
    assert_eq!(
        u(&whole_day["total"]),
        sum_values(&flow),
        "a bare date is the whole day"
    );
}

#[test]
fn flow_has_24_hours() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let default = s.json(s.url("/api/stats/flow_24h"));
    let hours = default.as_array().unwrap();
    assert_eq!(hours.len(), 24);
    for (i, h) in hours.iter().enumerate() {
        assert_eq!(u(&h["hour"]), i as u64);
    }
    let busiest = s.json(s.url("/api/stats/kkmc_count?limit=1"));
    let kkmc = busiest[0]["name"].as_str().unwrap();
    let day = s.json(s.url("/api/stats/summary"))["as_of"]
        .as_str()
        .unwrap()[..10]
        .to_owned();
    let one = s.json(s.url_with("/api/stats/flow_24h", &[("date", &day), ("kkmc", kkmc)]));
    assert_eq!(one.as_array().unwrap().len(), 24);
    let on_day = s.json(s.url_with(
        "/api/query",
        &[("kkmc", kkmc), ("start", &day), ("end", &day)],
    ));
    assert_eq!(sum_values(&one), u(&on_day["total"]));
    let other_day = s.json(s.url("/api/stats/flow_24h?date=1999-01-01"));
    assert_eq!(sum_values(&other_day), 0);
    assert_eq!(other_day.as_array().unwrap().len(), 24);
}

#[test]
fn warnings_pages_and_trail_of_a_warned_plate() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let mut ids = BTreeSet::new();
    let mut page = 1;
    loop {
        let p = page.to_string();
        let body = s.json(s.url_with("/api/warnings", &[("size", "100"), ("page", &p)]));
        assert_eq!(u(&body["total"]), f.warnings);
        let rows = body["rows"].as_array().unwrap();
        if rows.is_empty() {
            break;
        }
        for w in rows {
            assert!(ids.insert(w["id"].as_str().unwrap().to_owned()));
        }
        page += 1;
    }
    assert_eq!(ids.len() as u64, f.warnings);

    let realtime = s.json(s.url("/api/warnings/realtime?limit=5"));
    let realtime = realtime.as_array().unwrap();
    assert_eq!(realtime.len(), 5);
    let first_page = s.json(s.url("/api/warnings?size=5"));
    assert_eq!(realtime, first_page["rows"].as_array().unwrap());
    let times: Vec<&str> = realtime
        .iter()
        .map(|w| w["second"]["gcsj"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|t| t[0] >= t[1]), "newest first");
    let w = &realtime[0];
    for field in [
        "id",
        "hphm",
        "hpzl",
        "first",
        "second",
        "distance_km",
        "interval_s",
        "speed_kmh",
        "rule",
        "detected_at",
    ] {
        assert!(w.get(field).is_some(), "{field} in {w}");
    }
    assert_eq!(
        s.json(s.url("/api/warnings/realtime"))
            .as_array()
            .unwrap()
            .len(),
        10
    );

    // Every warning of one plate, by plate.
    let plate = w["hphm"].as_str().unwrap();
    let of_plate = s.json(s.url_with("/api/warnings", &[("hphm", plate), ("size", "1000")]));
    assert!(u(&of_plate["total"]) >= 1);
    for row in of_plate["rows"].as_array().unwrap() {
        assert_eq!(row["hphm"], plate);
    }

    // Its trail has the impossible leg the warning is about.
    let trail = s.json(s.url_with("/api/trail", &[("hphm", plate)]));
    assert_eq!(trail["hphm"], plate);
    assert_eq!(trail["truncated"], false);
    let sightings = trail["sightings"].as_array().unwrap();
    let legs = trail["legs"].as_array().unwrap();
    assert_eq!(u(&trail["total"]), sightings.len() as u64);
    assert_eq!(legs.len() + 1, sightings.len());
    let times: Vec<&str> = sightings
        .iter()
        .map(|p| p["gcsj"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "time order");
    assert!(sightings
        .iter()
        .all(|p| p["lon"].is_f64() && p["lat"].is_f64()));
    let warned_leg = legs
        .iter()
        .find(|l| {
            sightings[l["from"].as_u64().unwrap() as usize]["gcxh"] == w["first"]["gcxh"]
                && sightings[l["to"].as_u64().unwrap() as usize]["gcxh"] == w["second"]["gcxh"]
        })
        .expect("the warned pair is a leg of the trail");
    assert_eq!(warned_leg["impossible"], true);
    assert_eq!(warned_leg["rule"], w["rule"]);
    assert_eq!(warned_leg["distance_km"], w["distance_km"]);
    let impossible = legs.iter().filter(|l| l["impossible"] == true).count();
    assert!(impossible >= 1);
    for leg in legs
        .iter()
        .filter(|l| l["impossible"] == true && l["speed_kmh"].is_f64())
    {
        assert!(leg["speed_kmh"].as_f64().unwrap() > trail["speed_limit_kmh"].as_f64().unwrap());
    }

    // A time range narrows it.
    let start = times[times.len() / 2];
    let later = s.json(s.url_with("/api/trail", &[("hphm", plate), ("start", start)]));
    assert!(later["sightings"].as_array().unwrap().len() < sightings.len());
    let unknown = s.json(s.url_with("/api/trail", &[("hphm", "川A0000Z")]));
    assert_eq!(u(&unknown["total"]), 0);
    assert_eq!(unknown["legs"].as_array().unwrap().len(), 0);
}

#[test]
fn stream_sends_ticks() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let response = s.get(s.url("/api/stream"));
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = read_events(response, "tick", 2, Duration::from_secs(15));
    let ticks: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "tick")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(ticks.len(), 2, "{events:?}");
    for tick in ticks {
        assert_eq!(u(&tick["total_records"]), f.accepted);
        assert_eq!(u(&tick["warnings_total"]), f.warnings);
        assert_eq!(u(&tick["new_records"]), 0);
        assert!(tick["time"].is_string());
    }
}

#[test]
fn stream_sends_warnings_another_process_stores() {
    let f = fixture();
    let data = f.dir.join("live-data");
    let _ = std::fs::remove_dir_all(&data);
    let data_s = data.display().to_string();
    let checkpoints = f.path("checkpoints.csv");
    // An empty store, served; then an import by another process.
    let empty = f.path("empty.tsv");
    std::fs::write(&empty, "").unwrap();
    gantry(&[
        "import",
        "--data-dir",
        &data_s,
        "--checkpoints",
        &checkpoints,
        &empty,
    ]);
    let s = Server::serve(&data, &[]);
    let response = s.get(s.url("/api/stream"));
    let first = read_events(response, "tick", 1, Duration::from_secs(10));
    assert!(!first.is_empty(), "a first tick");
    let response = s.get(s.url("/api/stream"));
    let importer = std::thread::spawn({
        let (data_s, passes) = (data_s.clone(), f.path("passes.tsv"));
        move || {
            std::thread::sleep(Duration::from_millis(500));
            gantry(&[
                "import",
                "--data-dir",
                &data_s,
                "--checkpoints",
                &checkpoints,
                &passes,
            ])
        }
    });
    let events = read_events(response, "warning", 3, Duration::from_secs(30));
    importer.join().unwrap();
    let warned: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "warning")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        warned.len(),
        3,
        "warnings arrive over the stream: {events:?}"
    );
    for w in warned {
        let plate = w["hphm"].as_str().unwrap();
        let stored = s.json(s.url_with("/api/warnings", &[("hphm", plate), ("size", "1000")]));
        assert!(
            stored["rows"].as_array().unwrap().contains(w),
            "{w} is stored"
        );
    }
}

#[test]
fn bad_parameters_are_json_400s_naming_them() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let cases: &[(&str, &str)] = &[
        ("/api/query?size=abc", "size"),
        ("/api/query?size=0", "size"),
        ("/api/query?size=1001", "size"),
        ("/api/query?size=1.5", "size"),
        ("/api/query?page=0", "page"),
        ("/api/query?page=-2", "page"),
        ("/api/query?page=2000&size=1000", "page"),
        ("/api/query?page=1&page=2", "page"),
        ("/api/query?start=yesterday", "start"),
        ("/api/query?end=2023-02-30%2010:00:00", "end"),
        ("/api/query?start=2023-12-02&end=2023-12-01", "end"),
        ("/api/query?colour=red", "colour"),
        ("/api/stats/kkmc_count?limit=0", "limit"),
        ("/api/stats/kkmc_count?limit=many", "limit"),
        ("/api/stats/kkmc_count?limit=5000", "limit"),
        ("/api/stats/kkmc_count?top=5", "top"),
        ("/api/stats/flow_24h?date=2023-13-01", "date"),
        ("/api/stats/flow_24h?date=today", "date"),
        ("/api/stats/flow_24h?hour=1", "hour"),
        ("/api/warnings/realtime?limit=-1", "limit"),
        ("/api/warnings?size=0", "size"),
        ("/api/warnings?page=first", "page"),
        ("/api/warnings?plate=x", "plate"),
        ("/api/trail", "hphm"),
        ("/api/trail?hphm=", "hphm"),
        ("/api/trail?hphm=%E5%B7%9DA*", "hphm"),
        ("/api/trail?hphm=x&start=noon", "start"),
        ("/api/trail?hphm=x&end=2023-12-01T25:00:00", "end"),
    ];
    for (path, parameter) in cases {
        let response = s.get(s.url(path));
        check_bad(response, parameter, path);
    }
    let bodies: &[(&str, &str)] = &[
        (r#"{"size": "x"}"#, "size"),
        (r#"{"size": 0}"#, "size"),
        (r#"{"page": -1}"#, "page"),
        (r#"{"bogus": 1}"#, "bogus"),
        (r#"{"start": 5}"#, "start"),
        (r#"{"end": "soon"}"#, "end"),
        (r#"{"kkmc": ["a"]}"#, "kkmc"),
        ("not json", "body"),
        ("[1, 2]", "body"),
        (r#"{"size": 5"#, "body"),
        (r#"{"size": 5} {}"#, "body"),
    ];
    for (body, parameter) in bodies {
        check_bad(s.post("/api/query", body), parameter, body);
    }

    let missing = s.get(s.url("/api/nothing-here"));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.json::<Value>().unwrap()["error"].is_string());
    let wrong_method = s.client.delete(s.url("/api/query")).send().unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.json::<Value>().unwrap()["error"].is_string());
}

fn check_bad(response: Response, parameter: &str, what: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{what}"
    );
    let body: Value = response.json().unwrap();
    assert_eq!(body["parameter"], parameter, "{what}: {body}");
    assert!(!body["error"].as_str().unwrap().is_empty(), "{what}");
}

#[test]
fn sql_injection_is_plain_data() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    for attack in [INJECTION, "'; DROP TABLE passes; --", "\" OR \"\"=\""] {
        for field in ["kkmc", "hphm", "hpzl", "province"] {
            let got = s.json(s.url_with("/api/query", &[(field, attack)]));
            assert_eq!(u(&got["total"]), 0, "{field}={attack}");
            let posted = s.post("/api/query", &json!({ field: attack }).to_string());
            assert_eq!(
                u(&posted.json::<Value>().unwrap()["total"]),
                0,
                "{field}={attack}"
            );
        }
        let starred = format!("{attack}*");
        assert_eq!(
            u(&s.json(s.url_with("/api/query", &[("hphm", &starred)]))["total"]),
            0
        );
        let warnings = s.json(s.url_with("/api/warnings", &[("hphm", attack)]));
        assert_eq!(u(&warnings["total"]), 0);
        let flow = s.json(s.url_with("/api/stats/flow_24h", &[("kkmc", attack)]));
        assert_eq!(sum_values(&flow), 0);
        let trail = s.json(s.url_with("/api/trail", &[("hphm", attack)]));
        assert_eq!(u(&trail["total"]), 0);
        for field in ["start", "end"] {
            check_bad(
                s.get(s.url_with("/api/query", &[(field, attack)])),
                field,
                attack,
            );
        }
        check_bad(
            s.get(s.url_with("/api/stats/flow_24h", &[("date", attack)])),
            "date",
            attack,
        );
        check_bad(
            s.get(s.url_with("/api/stats/kkmc_count", &[("limit", attack)])),
            "limit",
            attack,
        );
    }
    // Nothing was dropped or changed.
    let health = s.json(s.url("/api/health"));
    assert_eq!(u(&health["total_records"]), f.accepted);
}

#[test]
fn cors_headers_only_for_configured_origins() {
    let f = fixture();
    let allowed = "http://allowed.example:5173";
    let origin_of = |s: &Server, origin: &str| {
        let response = s
            .client
            .get(s.url("/api/health"))
            .header(ORIGIN, origin)
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let same_origin = Server::serve(&f.data, &[]);
    assert_eq!(origin_of(&same_origin, allowed), None);
    assert_eq!(origin_of(&same_origin, "http://evil.example"), None);

    let open = Server::serve(
        &f.data,
        &[
            "--cors-origin",
            allowed,
            "--cors-origin",
            "http://other.example",
        ],
    );
    assert_eq!(origin_of(&open, allowed).as_deref(), Some(allowed));
    assert_eq!(
        origin_of(&open, "http://other.example").as_deref(),
        Some("http://other.example")
    );
    assert_eq!(origin_of(&open, "http://evil.example"), None);
    let preflight = open
        .client
        .request(reqwest::Method::OPTIONS, open.url("/api/query"))
        .header(ORIGIN, allowed)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], allowed);

    let bad = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args([
            "serve",
            "--data-dir",
            f.data.to_str().unwrap(),
            "--port",
            "0",
            "--cors-origin",
            "not an origin",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--cors-origin"));
}

#[test]
fn metrics_count_routes_and_records() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    s.json(s.url("/api/health"));
    s.json(s.url("/api/health"));
    s.json(s.url("/api/query?size=1"));
    assert_eq!(
        s.get(s.url("/api/query?size=0")).status(),
        StatusCode::BAD_REQUEST
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let response = s.get(s.url("/metrics"));
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        let text = response.text().unwrap();
        // The store's totals come with the first poll, within a second.
        if text.contains(&format!("gantry_records_accepted_total {}", f.accepted))
            || Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("gantry_records_accepted_total ") as u64, f.accepted);
    assert_eq!(value("gantry_warnings_total ") as u64, f.warnings);
    value("gantry_records_rejected_total ");
    value("gantry_records_duplicate_total ");
    assert_eq!(
        value(r#"gantry_http_requests_total{method="GET",route="/api/health",status="200"}"#),
        2.0
    );
    assert_eq!(
        value(r#"gantry_http_requests_total{method="GET",route="/api/query",status="400"}"#),
        1.0
    );
    assert_eq!(
        value(r#"gantry_http_request_duration_seconds_count{method="GET",route="/api/health"}"#),
        2.0
    );
    value(
        r#"gantry_http_request_duration_seconds_bucket{method="GET",route="/api/query",le="0.1"}"#,
    );
}

#[test]
fn openapi_lists_every_path() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let doc = s.json(s.url("/api/openapi.json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        "/api/health",
        "/api/query",
        "/api/export",
        "/api/checkpoints",
        "/api/stats/summary",
        "/api/stats/kkmc_count",
        "/api/stats/flow_24h",
        "/api/predict",
        "/api/stats/map_data",
        "/api/stats/vehicle_type",
        "/api/warnings/realtime",
        "/api/warnings",
        "/api/trail",
        "/api/stream",
        "/api/openapi.json",
        "/metrics",
        "/api/iot/series",
        "/api/iot/series/{id}",
        "/api/iot/stats",
        "/api/iot/regress",
        "/api/iot/windows",
        "/api/iot/forecast/{id}",
    ];
    let post_only = ["/api/iot/write", "/connect/", "/publish/", "/get_data/"];
    for route in post_only {
        assert!(
            paths[route]["post"]["requestBody"].is_object(),
            "POST {route}"
        );
    }
    assert_eq!(
        paths.len(),
        routes.len() + post_only.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for route in routes {
        assert!(paths[route]["get"].is_object(), "GET {route}");
        // Every documented route answers (a forecast needs more than
        // the fixture's day: 422, which the document lists).
        if ![
            "/api/stream",
            "/api/trail",
            "/api/iot/series/{id}",
            "/api/iot/regress",
            "/api/iot/forecast/{id}",
        ]
        .contains(&route)
        {
            let status = s.get(s.url(route)).status();
            let documented = status.as_str();
            assert!(
                paths[route]["get"]["responses"][documented].is_object(),
                "{route}: {status}"
            );
            if route != "/api/predict" {
                assert_eq!(status, StatusCode::OK, "{route}");
            }
        }
    }
    assert!(paths["/api/query"]["post"]["requestBody"].is_object());
    let params: BTreeSet<&str> = paths["/api/query"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        BTreeSet::from(["kkmc", "hphm", "hpzl", "province", "start", "end", "page", "size"])
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "PassPage",
        "PassRow",
        "Warning",
        "Trail",
        "ErrorBody",
        "Summary",
        "Tick",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
}

#[test]
fn dashboard_pages_are_served() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    for page in ["/", "/query.html", "/trail.html"] {
        let response = s.get(s.url(page));
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = response.text().unwrap();
        // The built page loads its bundle from /assets/ (hashed names).
        let script = html
            .split("src=\"/assets/")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{page} loads no built script: {html}"));
        let bundle = s.get(s.url(&format!("/assets/{script}")));
        assert_eq!(bundle.status(), StatusCode::OK, "{script}");
        assert!(bundle.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript"));
    }
    let missing = s.get(s.url("/no/such/page"));
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.json::<Value>().unwrap()["error"].is_string());
}

#[test]
fn export_streams_every_match_as_csv() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let csv_rows = |params: &[(&str, &str)]| {
        let response = s.get(s.url_with("/api/export", params));
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let body = response.text().unwrap();
        let body = body
            .strip_prefix('\u{feff}')
            .expect("a UTF-8 BOM for Excel");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    };
    // Everything: more rows than one chunk, in query order, each once.
    let (header, all) = csv_rows(&[]);
    assert_eq!(
        header,
        [
            "gcxh",
            "xzqhmc",
            "kkmc",
            "fxlx",
            "gcsj",
            "hpzl",
            "hphm",
            "clppxh",
            "province",
            "vehicle_type_name"
        ]
    );
    assert_eq!(all.len() as u64, f.accepted);
    let ids: BTreeSet<&str> = all.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), all.len(), "no pass twice");
    assert!(
        all.windows(2)
            .all(|w| (&w[0][4], &w[0][0]) > (&w[1][4], &w[1][0])),
        "newest first"
    );
    let first_page = s.json(s.url("/api/query?size=1000"));
    for (row, json) in all.iter().zip(first_page["rows"].as_array().unwrap()) {
        for (i, name) in header.iter().enumerate() {
            assert_eq!(row[i], json[name.as_str()].as_str().unwrap(), "{name}");
        }
    }
    // Filtered: the same set as the query's total.
    let busiest = s.json(s.url("/api/stats/kkmc_count?limit=1"));
    let kkmc = busiest[0]["name"].as_str().unwrap();
    let (_, rows) = csv_rows(&[("kkmc", kkmc), ("hpzl", "2")]);
    let query = s.json(s.url_with(
        "/api/query",
        &[("kkmc", kkmc), ("hpzl", "2"), ("size", "1")],
    ));
    assert_eq!(rows.len() as u64, u(&query["total"]));
    assert!(rows.iter().all(|r| r[2] == kkmc && r[5] == "02"));
    // Paging does not apply; bad filters are 400s like the query's.
    check_bad(
        s.get(s.url("/api/export?size=10")),
        "size",
        "does not apply",
    );
    check_bad(
        s.get(s.url("/api/export?start=yesterday")),
        "start",
        "start",
    );
}

#[test]
fn checkpoints_list_names_and_coordinates() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    let list = s.json(s.url("/api/checkpoints"));
    let list = list.as_array().unwrap();
    let file = std::fs::read_to_string(f.path("checkpoints.csv")).unwrap();
    assert_eq!(list.len(), file.lines().count() - 1);
    let names: Vec<&str> = list.iter().map(|c| c["kkmc"].as_str().unwrap()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "by name");
    let line = file.lines().nth(1).unwrap();
    let fields: Vec<&str> = line.split(',').collect();
    let entry = list.iter().find(|c| c["kkmc"] == fields[0]).unwrap();
    assert_eq!(entry["kkbh"], fields[1]);
    let lon: f64 = fields[2].parse().unwrap();
    assert!((entry["lon"].as_f64().unwrap() - lon).abs() < 1e-9);
}

#[test]
fn serve_stops_gracefully_with_a_stream_open() {
    let f = fixture();
    let mut s = Server::serve(&f.data, &[]);
    let response = s.get(s.url("/api/stream"));
    let mut reader = BufReader::new(response);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let stopped = Command::new("kill")
        .args(["-INT", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

#[test]
fn demo_serves_the_api_while_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let s = Server::spawn(
        &[
            "demo",
            "--data-dir",
            &data,
            "--port",
            "0",
            "--seconds",
            "6",
            "--rate",
            "300",
            "--clones",
            "20",
            "--lateness",
            "1",
        ],
        "API at ",
    );
    let health = s.json(s.url("/api/health"));
    assert_eq!(health["mode"], "demo");
    let stream = s.get(s.url("/api/stream"));
    let events = read_events(stream, "tick", 2, Duration::from_secs(15));
    assert!(
        events.iter().filter(|(n, _)| n == "tick").count() >= 2,
        "{events:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut total = 0;
    while Instant::now() < deadline && total == 0 {
        total = u(&s.json(s.url("/api/health"))["total_records"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(total > 0, "the demo's passes are served while it runs");
    let query = s.json(s.url("/api/query?size=5"));
    assert_eq!(
        u(&query["total"]).min(5),
        query["rows"].as_array().unwrap().len() as u64
    );
    // Warnings the stream delivered are the stored ones.
    for (_, w) in events.iter().filter(|(n, _)| n == "warning") {
        let stored = s.json(s.url_with("/api/warnings", &[("hphm", w["hphm"].as_str().unwrap())]));
        assert!(u(&stored["total"]) >= 1);
    }
    let mut s = s;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop after --seconds"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
}

#[test]
fn serve_outlives_clients_that_hang_up() {
    let f = fixture();
    let s = Server::serve(&f.data, &[]);
    for _ in 0..3 {
        let stream = s.get(s.url("/api/stream"));
        let first = read_events(stream, "tick", 1, Duration::from_secs(10));
        assert!(!first.is_empty(), "a first tick");
        // The stream's connection is closed here; the next ticks hit it.
    }
    std::thread::sleep(Duration::from_millis(2500));
    let health = s.json(s.url("/api/health"));
    assert_eq!(health["status"], "ok");
}
