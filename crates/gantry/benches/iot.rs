//! The IoT path against the machine's Mosquitto (`scripts/services.sh up`)
//! and a `gantry serve` following it. `scripts/bench.sh iot` runs it; it is
//! long, so not part of CI.
//!
//!   ingest     MQTT → series store, batched payloads (line protocol, 500
//!              points a message, QoS 1), in rounds of 400 messages (Mosquitto
//!              drops what is queued for a subscriber beyond 1,000): from the
//!              first publish until the store counts every point
//!   classic    the same, one point per message (as the seed scripts send)
//!   latency    publish at a steady rate → the point's `points` event on
//!              `/api/stream`, which is sent once the store has committed it
//!              (so `/get_data/` already answers with it)
//!   range      a range query with downsampling over one series of 10M
//!              points (one a second, ~116 days), in-process on the store
//!
//! Sizes: GANTRY_BENCH_IOT_POINTS (ingest, default 2,000,000),
//! GANTRY_BENCH_IOT_CLASSIC (messages, 50,000), GANTRY_BENCH_IOT_RATE
//! (messages/s of the latency run, 10,000), GANTRY_BENCH_IOT_LATENCY_S (10),
//! GANTRY_BENCH_IOT_RANGE (points of the range series, 10,000,000);
//! GANTRY_BENCH_ONLY=range runs the range part alone.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Server;
use gantry_core::iot::{Agg, Point};
use gantry_store::series::{RangeQuery, SeriesStore};
use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn broker() -> (String, u16) {
    let broker = std::env::var("GANTRY_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (host, port) = broker.rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

fn main() {
    let points = env_or("GANTRY_BENCH_IOT_POINTS", 2_000_000);
    let classic = env_or("GANTRY_BENCH_IOT_CLASSIC", 50_000);
    let rate = env_or("GANTRY_BENCH_IOT_RATE", 10_000);
    let latency_s = env_or("GANTRY_BENCH_IOT_LATENCY_S", 10);
    let range_points = env_or("GANTRY_BENCH_IOT_RANGE", 10_000_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/iot");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();

    if std::env::var("GANTRY_BENCH_ONLY").as_deref() == Ok("range") {
        range_run(&dir.join("range"), range_points);
        return;
    }
    let s = serve(&dir);
    let per_message = 500;
    let seconds = ingest(&s, "bench-batched", points / per_message, per_message);
    println!(
        "ingest, MQTT → store, {per_message} points a message: {points} points in {seconds:.2} s = {:.0} points/s",
        points as f64 / seconds
    );
    let seconds = ingest(&s, "bench-classic", classic, 1);
    println!(
        "classic, one point a message: {classic} points in {seconds:.2} s = {:.0} points/s",
        classic as f64 / seconds
    );
    let mut latency = latency_run(&s, rate, latency_s);
    latency.sort_by(f64::total_cmp);
    println!(
        "latency, publish → stored and streamed, {rate} messages/s for {latency_s} s: {} points, \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latency.len(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        percentile(&latency, 1.0)
    );
    drop(s);
    range_run(&dir.join("range"), range_points);
}

/// `gantry serve` following the broker's `bench/#`.
fn serve(dir: &Path) -> Server {
    let (host, port) = broker();
    let data = dir.join("data");
    let input = dir.join("in.tsv");
    let input_s = input.to_str().unwrap();
    common::gantry(&["simulate", "--records", "10", "--fast", "-o", input_s]);
    common::gantry(&["import", input_s, "--data-dir", data.to_str().unwrap()]);
    let config = dir.join("gantry.toml");
    fs::write(
        &config,
        format!(
            "[mqtt]\nhost = {host:?}\nport = {port}\nclient_id = \"gantry-bench-{}\"\n\
             topics = [\"bench/#\"]\nclean_session = true\n",
            std::process::id()
        ),
    )
    .unwrap();
    let s = Server::serve(&data, &["--config", config.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stored(&s).contains_key("probe/up") {
        assert!(Instant::now() < deadline, "gantry never subscribed");
        publish(&[(
            "bench/probe".into(),
            b"{\"device\":\"probe\",\"up\":1}".to_vec(),
        )]);
        std::thread::sleep(Duration::from_millis(200));
    }
    s
}

/// Points stored per series.
fn stored(s: &Server) -> BTreeMap<String, u64> {
    let series = s.json(s.url("/api/iot/series"));
    series
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_owned(),
                x["points"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Publishes every message at QoS 1 and waits for the broker's acks.
fn publish(messages: &[(String, Vec<u8>)]) {
    let (host, port) = broker();
    let id = format!("gantry-bench-device-{}", std::process::id());
    let mut options = MqttOptions::new(id, host, port);
    options
        .set_inflight(1000)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 10_000);
    let sender = std::thread::spawn({
        let client = client.clone();
        let messages = messages.to_vec();
        move || {
            for (topic, payload) in messages {
                client
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .unwrap();
            }
        }
    });
    let mut acked = 0;
    for event in connection.iter() {
        match event.unwrap() {
            Event::Incoming(Packet::PubAck(_)) => acked += 1,
            Event::Outgoing(Outgoing::Disconnect) => break,
            _ => {}
        }
        if acked == messages.len() {
            client.disconnect().unwrap();
        }
    }
    sender.join().unwrap();
    assert_eq!(acked, messages.len());
}

/// Seconds from the first publish until the store holds `messages` ×
/// `per_message` points under `prefix`.
fn ingest(s: &Server, prefix: &str, messages: u64, per_message: u64) -> f64 {
    let t0 = 1_700_000_000_000i64;
    let devices = 20;
    let batch: Vec<(String, Vec<u8>)> = (0..messages)
        .map(|m| {
            let device = m % devices;
            let payload: String = (0..per_message)
                .map(|k| {
                    let n = (m / devices) * per_message + k;
                    format!(
                        "{prefix},device=d{device} v={}.5 {}\n",
                        n % 1000,
                        // Line protocol counts nanoseconds.
                        (t0 + n as i64) * 1_000_000
                    )
                })
                .collect();
            (format!("bench/{prefix}/d{device}"), payload.into_bytes())
        })
        .collect();
    // Mosquitto keeps at most 1,000 messages queued for a subscriber
    // (max_queued_messages) and drops the rest: publish in rounds below
    // that, each once the store has the previous one.
    let start = Instant::now();
    let mut want = 0;
    for round in batch.chunks(400) {
        publish(round);
        want += round.len() as u64 * per_message;
        wait_stored(s, prefix, want);
    }
    start.elapsed().as_secs_f64()
}

/// Waits until the store holds `want` points under `prefix`; fails when
/// the count stops moving for 30 s.
fn wait_stored(s: &Server, prefix: &str, want: u64) {
    let (mut last, mut moved) = (0, Instant::now());
    loop {
        let have: u64 = stored(s)
            .iter()
            .filter(|(id, _)| id.starts_with(prefix))
            .map(|(_, n)| n)
            .sum();
        if have >= want {
            assert_eq!(have, want);
            return;
        }
        if have != last {
            (last, moved) = (have, Instant::now());
        }
        assert!(
            moved.elapsed() < Duration::from_secs(30),
            "stuck at {have} of {want} points"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Milliseconds from each publish to its point's `points` event.
fn latency_run(s: &Server, rate: u64, seconds: u64) -> Vec<f64> {
    let (tx, rx) = mpsc::channel::<(i64, Instant)>();
    let response = s.get(s.url("/api/stream"));
    std::thread::spawn(move || {
        let mut reader = BufReader::new(response);
        let mut event = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            let text = line.trim_end();
            if let Some(name) = text.strip_prefix("event: ") {
                event = name.to_owned();
            } else if let Some(data) = text.strip_prefix("data: ") {
                if event == "points" {
                    let now = Instant::now();
                    let points: serde_json::Value = serde_json::from_str(data).unwrap();
                    for p in points.as_array().unwrap() {
                        if p["series"]
                            .as_str()
                            .is_some_and(|id| id.starts_with("lat,"))
                        {
                            let _ = tx.send((p["value"].as_f64().unwrap() as i64, now));
                        }
                    }
                }
            }
            line.clear();
        }
    });
    let (host, port) = broker();
    let mut options = MqttOptions::new(
        format!("gantry-bench-lat-{}", std::process::id()),
        host,
        port,
    );
    options.set_inflight(1000);
    let (client, mut connection) = Client::new(options, 100_000);
    std::thread::spawn(move || for _ in connection.iter() {});
    let total = rate * seconds;
    let mut sent: HashMap<i64, Instant> = HashMap::with_capacity(total as usize);
    let start = Instant::now();
    let t0 = 1_710_000_000_000i64;
    for n in 0..total as i64 {
        let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let payload = format!("lat,device=d{} v={n} {}", n % 50, (t0 + n) * 1_000_000);
        sent.insert(n, Instant::now());
        client
            .publish(
                format!("bench/lat/d{}", n % 50),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .unwrap();
    }
    let mut latency = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(30);
    while latency.len() < total as usize && Instant::now() < deadline {
        if let Ok((n, at)) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(t) = sent.get(&n) {
                latency.push(at.duration_since(*t).as_secs_f64() * 1000.0);
            }
        }
    }
    let _ = client.disconnect();
    latency
}

/// Builds one series of `n` points a second apart and times downsampled
/// range queries over all of it (best of 5 each).
fn range_run(dir: &Path, n: u64) {
    fs::create_dir_all(dir).unwrap();
    let mut store = SeriesStore::open(dir).unwrap();
    // 2020-09-13 12:00:00 UTC: a whole hour.
    let t0 = 1_599_998_400_000i64;
    let start = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n as i64 {
        batch.push(Point {
            series: "range/value".into(),
            tags: BTreeMap::new(),
            time_ms: t0 + i * 1000,
            value: (i % 3600) as f64,
            extra: Vec::new(),
        });
        if batch.len() == 10_000 {
            store.write(&batch).unwrap();
            batch.clear();
        }
    }
    store.write(&batch).unwrap();
    let build = start.elapsed().as_secs_f64();
    println!(
        "range: {n} points written in-process in {build:.1} s = {:.0} points/s",
        n as f64 / build
    );
    let end = t0 + n as i64 * 1000;
    let hour = 3_600_000;
    let cases = [
        (
            "step 1h, whole hours (hour rollup)",
            t0,
            end / hour * hour,
            hour,
        ),
        (
            "step 5m, whole minutes (minute rollup)",
            t0,
            end / 60_000 * 60_000,
            300_000,
        ),
        (
            "step 1h, bounds off the hour (hour rollup inside, points at the ends)",
            t0 + 1000,
            end,
            hour,
        ),
    ];
    for (label, from, to, step) in cases {
        let query = RangeQuery {
            series: "range/value".into(),
            start_ms: from,
            end_ms: to,
            step_ms: Some(step),
            agg: Agg::Avg,
        };
        let mut best = f64::MAX;
        let mut values = 0;
        for _ in 0..5 {
            let at = Instant::now();
            values = store.range(&query).unwrap().len();
            best = best.min(at.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "range over {n} points, {label}, avg: {values} values in {best:.1} ms (best of 5)"
        );
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}
