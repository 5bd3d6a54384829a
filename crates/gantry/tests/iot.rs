//! The IoT HTTP API through the real binary: points written to
//! `POST /api/iot/write` as devices send them, read back as series, ranges
//! and stats; bad payloads refused with their reason and kept.

mod common;
use common::{gantry, read_events, Server};
use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

/// A data dir `gantry serve` accepts (a small imported store).
fn data_dir(dir: &Path) -> std::path::PathBuf {
    common::small_store(dir, 50)
}

fn write(s: &Server, query: &str, body: &str) -> (StatusCode, Value) {
    let response = s
        .client
        .post(s.url(&format!("/api/iot/write{query}")))
        .body(body.to_owned())
        .send()
        .unwrap();
    let status = response.status();
    (status, response.json().unwrap())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn points_written_in_every_format_are_read_back_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let s = Server::serve(&data, &[]);
    let t = now_ms() / 60_000 * 60_000 - 120_000; // two whole minutes ago

    // Line protocol in milliseconds: two fields, one string field as tag.
    let lines = format!(
        "weather,location=us temperature=20.5,humidity=40i,note=\"ok\" {t}\n\
         weather,location=us temperature=21.5,humidity=42i {}\n",
        t + 30_000
    );
    let (status, out) = write(&s, "?precision=ms", &lines);
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(
        (out["points"].as_u64(), out["inserted"].as_u64()),
        (Some(4), Some(4))
    );
    // The same body again stores nothing new.
    let (_, again) = write(&s, "?precision=ms", &lines);
    assert_eq!(
        (again["inserted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(4))
    );

    // A flat JSON object with epoch seconds, and a values list (arrival time).
    let flat = format!(
        "{{\"device\":\"pi-01\",\"temperature\":21.3,\"humidity\":48,\"experiment\":\"e1\",\"time\":{}}}",
        t as f64 / 1000.0
    );
    assert_eq!(write(&s, "", &flat).0, StatusCode::OK);
    let list = r#"{"values":[{"id":"mac-7","values":[3.5, 1, 2]}]}"#;
    assert_eq!(write(&s, "", list).0, StatusCode::OK);

    let series = s.json(s.url("/api/iot/series"));
    let ids: Vec<&str> = series
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "mac-7",
            "pi-01/humidity",
            "pi-01/temperature",
            "weather,location=us/humidity",
            "weather,location=us/temperature",
        ]
    );
    let temperature = &series[4];
    assert_eq!(temperature["points"], 2);
    assert_eq!(temperature["last_value"], 21.5);
    assert_eq!(temperature["last_ts"], t + 30_000);
    assert_eq!(series[1]["tags"]["experiment"], "e1");

    // The id holds a slash and a comma: both the plain and the encoded form work.
    let start = t.to_string();
    let end = (t + 60_000).to_string();
    let range = |id: &str, extra: &[(&str, &str)]| {
        let mut params = vec![("start", start.as_str()), ("end", end.as_str())];
        params.extend_from_slice(extra);
        s.json(s.url_with(&format!("/api/iot/series/{id}"), &params))
    };
    let raw = range("weather,location=us/temperature", &[]);
    assert_eq!(
        raw["points"],
        serde_json::json!([[t, 20.5], [t + 30_000, 21.5]])
    );
    let avg = range("weather%2Clocation%3Dus%2Ftemperature", &[("step", "1m")]);
    assert_eq!(avg["points"], serde_json::json!([[t, 21.0]]));
    let max = range(
        "weather,location=us/humidity",
        &[("step", "1m"), ("agg", "max")],
    );
    assert_eq!(max["points"], serde_json::json!([[t, 42.0]]));

    let stats = s.json(s.url("/api/iot/stats?window=1h"));
    let humidity = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "weather,location=us/humidity")
        .unwrap();
    assert_eq!(
        (
            &humidity["count"],
            &humidity["avg"],
            &humidity["min"],
            &humidity["max"]
        ),
        (
            &Value::from(2),
            &Value::from(41.0),
            &Value::from(40.0),
            &Value::from(42.0)
        )
    );

    // After a restart the series and their latest values are still there.
    drop(s);
    let s = Server::serve(&data, &[]);
    let series = s.json(s.url("/api/iot/series"));
    assert_eq!(series[4]["last_value"], 21.5);
}

#[test]
fn bad_payloads_and_parameters_are_400s_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let s = Server::serve(&data, &[]);
    for (query, body, reason) in [
        (
            "",
            "{\"device\":\"x\",\"t\":{\"nested\":1}}",
            "nested_value",
        ),
        ("", "{\"values\":", "bad_json"),
        ("", "m v=inf", "non_finite"),
        ("", "just words", "not_json_or_line_protocol"),
        ("", "", "empty"),
    ] {
        let (status, out) = write(&s, query, body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {out}");
        assert_eq!(out["parameter"], "body");
        assert!(
            out["error"].as_str().unwrap().contains(reason),
            "{body}: {out}"
        );
    }
    let (status, out) = write(&s, "?precision=minutes", "m v=1 1");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(out["parameter"], "precision");
    for (query, parameter) in [
        ("step=10", "step"),
        ("agg=median", "agg"),
        ("start=yesterday", "start"),
        ("colour=red", "colour"),
    ] {
        let response = s.get(s.url(&format!("/api/iot/series/a?{query}")));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let out: Value = response.json().unwrap();
        assert_eq!(out["parameter"], parameter, "{query}: {out}");
    }
    let unknown = s.get(s.url("/api/iot/series/none"));
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // Nothing was stored from the refused bodies, and each one was kept.
    assert_eq!(s.json(s.url("/api/iot/series")), serde_json::json!([]));
    drop(s);
    let conn = rusqlite::Connection::open(data.join("series.sqlite")).unwrap();
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM rejected WHERE source = 'http'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 5);
}

/// The test broker, `host:port` (scripts/services.sh starts Mosquitto).
fn mqtt_broker() -> (String, u16) {
    let broker = std::env::var("GANTRY_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (host, port) = broker.rsplit_once(':').unwrap();
    (host.to_owned(), port.parse().unwrap())
}

/// Publishes every (topic, payload) at QoS 1 and returns once the broker
/// acknowledged all of them.
fn publish(messages: &[(String, String)]) {
    let (host, port) = mqtt_broker();
    publish_to(&host, port, messages);
}

fn publish_to(host: &str, port: u16, messages: &[(String, String)]) {
    try_publish_to(host, port, messages).unwrap();
}

/// [`publish_to`], with a connection error returned: a broker that is
/// still starting may refuse or abort the connection.
fn try_publish_to(host: &str, port: u16, messages: &[(String, String)]) -> Result<(), String> {
    use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
    let id = format!("gantry-it-device-{}", std::process::id());
    let mut options = MqttOptions::new(id, host, port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 64);
    for (topic, payload) in messages {
        client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.as_bytes())
            .unwrap();
    }
    let mut acked = 0;
    for event in connection.iter() {
        match event.map_err(|e| e.to_string())? {
            Event::Incoming(Packet::PubAck(_)) => acked += 1,
            Event::Outgoing(Outgoing::Disconnect) => break,
            _ => {}
        }
        if acked == messages.len() {
            client.disconnect().unwrap();
        }
    }
    assert_eq!(acked, messages.len());
    Ok(())
}

/// Points stored per series, from the API.
fn counts(s: &Server) -> std::collections::BTreeMap<String, u64> {
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

/// Waits up to 20 s for `done` over the stored counts.
fn wait_for(s: &Server, done: impl Fn(&std::collections::BTreeMap<String, u64>) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = counts(s);
        if done(&now) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out at {now:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A config that follows the test broker's `{prefix}/#` as client
/// `{prefix}-gantry` with a kept session.
fn mqtt_config(dir: &Path, prefix: &str) -> std::path::PathBuf {
    let (host, port) = mqtt_broker();
    let config = dir.join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[mqtt]\nhost = {host:?}\nport = {port}\nclient_id = \"{prefix}-gantry\"\n\
             topics = [\"{prefix}/#\"]\n"
        ),
    )
    .unwrap();
    config
}

/// Publishes a probe a few times a second until the server has stored it:
/// then it has subscribed.
fn wait_subscribed(s: &Server, prefix: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !counts(s).contains_key("probe/up") {
        assert!(
            std::time::Instant::now() < deadline,
            "gantry never subscribed"
        );
        publish(&[(
            format!("{prefix}/probe"),
            "{\"device\":\"probe\",\"up\":1}".into(),
        )]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn mqtt_readings_are_stored_and_those_sent_while_down_arrive_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let prefix = format!("gantry-it-{}", std::process::id());
    let config = mqtt_config(tmp.path(), &prefix);
    let serve = || Server::serve(&data, &["--config", config.to_str().unwrap()]);
    let topic = |t: &str| format!("{prefix}/{t}");

    // The first start subscribes the kept session.
    let s = serve();
    wait_subscribed(&s, &prefix);

    let t = 1_684_576_800_000i64;
    // A batched payload well over rumqttc's default 10 KiB packet limit.
    let batch: String = (0..2000)
        .map(|i| format!("batch,site=lab v={i} {}\n", (t + i) * 1_000_000))
        .collect();
    assert!(batch.len() > 60_000);
    publish(&[
        (topic("batch"), batch),
        (
            topic("pi-01"),
            format!("{{\"device\":\"pi-01\",\"temperature\":21.3,\"time\":{t}}}"),
        ),
        (topic("lab"), format!("room,floor=2 co2=612i {t}000000")),
        (
            topic("mac"),
            r#"{"values":[{"id":"mac-7","values":[3.5]}]}"#.into(),
        ),
        (
            topic("pi-01"),
            "{\"device\":\"pi-01\",\"temperature\":".into(),
        ),
    ]);
    wait_for(&s, |c| {
        c.get("pi-01/temperature") == Some(&1)
            && c.get("batch,site=lab/v") == Some(&2000)
            && c.get("room,floor=2/co2") == Some(&1)
            && c.get("mac-7") == Some(&1)
    });

    // Down hard; the broker keeps the persistent session's messages.
    drop(s);
    let while_down: Vec<(String, String)> = (1..=5)
        .map(|i| {
            (
                topic("pi-01"),
                format!(
                    "{{\"device\":\"pi-01\",\"temperature\":{i},\"time\":{}}}",
                    t + i * 1000
                ),
            )
        })
        .collect();
    publish(&while_down);
    // The restart also follows one more topic: the kept session must not
    // stop gantry from subscribing to it.
    let config_text = std::fs::read_to_string(&config).unwrap();
    let more_topics = config_text.replace(
        &format!("topics = [\"{prefix}/#\"]"),
        &format!("topics = [\"{prefix}/#\", \"{prefix}-more/#\"]"),
    );
    assert_ne!(config_text, more_topics);
    std::fs::write(&config, more_topics).unwrap();
    let s = serve();
    wait_for(&s, |c| c.get("pi-01/temperature") == Some(&6));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !counts(&s).contains_key("more/up") {
        assert!(
            std::time::Instant::now() < deadline,
            "the new topic was never followed"
        );
        publish(&[(
            format!("{prefix}-more/x"),
            "{\"device\":\"more\",\"up\":1}".into(),
        )]);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let last = s.json(s.url("/api/iot/series"));
    let temperature = last
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "pi-01/temperature")
        .unwrap()
        .clone();
    assert_eq!(temperature["last_value"], 5.0);
    drop(s);

    // The broken payload was kept with its topic and reason.
    let conn = rusqlite::Connection::open(data.join("series.sqlite")).unwrap();
    let (source, reason): (String, String) = conn
        .query_row("SELECT source, reason FROM rejected", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (source.as_str(), reason.as_str()),
        (topic("pi-01").as_str(), "bad_json")
    );
    forget_session(&format!("{prefix}-gantry"));
}

/// Connects once with a clean session, so the broker drops what it keeps
/// for `client_id`.
fn forget_session(client_id: &str) {
    use rumqttc::{Client, Event, MqttOptions, Packet};
    let (host, port) = mqtt_broker();
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_clean_session(true);
    let (client, mut connection) = Client::new(options, 8);
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => client.disconnect().unwrap(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

#[test]
fn the_demo_runs_a_broker_devices_publish_to() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let data = tmp.path().join("data").display().to_string();
    let s = Server::spawn(
        &[
            "demo",
            "--data-dir",
            &data,
            "--port",
            "0",
            "--mqtt-port",
            &port,
            "--seconds",
            "30",
            "--rate",
            "20",
        ],
        "API at ",
    );
    let port: u16 = port.parse().unwrap();
    // The demo's own source may still be connecting: publish until stored.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let reading = |n: i64| {
        let time = 1_684_576_800_000 + n * 1000;
        let payload = format!("{{\"device\":\"pi-01\",\"temperature\":{n},\"time\":{time}}}");
        ("sensors/pi-01".to_owned(), payload)
    };
    let mut n = 0;
    while !counts(&s).contains_key("pi-01/temperature") {
        assert!(std::time::Instant::now() < deadline, "nothing stored");
        n += 1;
        if let Err(e) = try_publish_to("127.0.0.1", port, &[reading(n)]) {
            eprintln!("the demo's broker is not ready yet: {e}");
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Once connected, every reading is stored, once.
    let before = counts(&s)["pi-01/temperature"];
    let more: Vec<_> = (n + 1..=n + 3).map(reading).collect();
    publish_to("127.0.0.1", port, &more);
    publish_to("127.0.0.1", port, &more);
    wait_for(&s, |c| c["pi-01/temperature"] == before + 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(counts(&s)["pi-01/temperature"], before + 3);
}

fn post_json(s: &Server, path: &str, body: Value) -> (StatusCode, Value) {
    let response = s.post(path, &body.to_string());
    let status = response.status();
    (status, response.json().unwrap())
}

#[test]
fn the_classic_endpoints_connect_publish_and_read_back() {
    use serde_json::json;
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let s = Server::serve(&data, &[]);
    let prefix = format!("gantry-it-classic-{}", std::process::id());
    let id = format!("{prefix}-mac");

    // No broker yet: nothing to publish on, nothing stored.
    let (status, _) = post_json(&s, "/publish/", json!({"topic": "t", "payload": "x"}));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, out) = post_json(&s, "/get_data/", json!({ "id": id }));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out, json!({"status": "not_found", "id": id, "value": null}));
    let (status, out) = post_json(&s, "/connect/", json!({"data": {"port": 1883}}));
    assert_eq!(
        (status, &out["parameter"]),
        (StatusCode::BAD_REQUEST, &json!("data.host"))
    );

    let (host, port) = mqtt_broker();
    let (_, out) = post_json(
        &s,
        "/connect/",
        json!({"data": {"host": host, "port": port.to_string(), "clientid": format!("{prefix}-gantry"),
                        "topics": [format!("{prefix}/#")]}}),
    );
    assert_eq!(out, json!({"rc_status": "success"}));

    // What gantry publishes comes back through its own subscription.
    let get = |s: &Server| post_json(s, "/get_data/", json!({ "id": id })).1;
    let send = |s: &Server, value: f64| {
        let payload = json!({"values": [{"id": id, "values": [value]}]});
        let (status, out) = post_json(
            s,
            "/publish/",
            json!({"topic": format!("{prefix}/mac"), "payload": payload}),
        );
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(
            out,
            json!({"status": "published", "topic": format!("{prefix}/mac")})
        );
    };
    let wait_value = |s: &Server, value: f64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while get(s)["value"] != json!(value) {
            assert!(std::time::Instant::now() < deadline, "{}", get(s));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    send(&s, 7.5);
    wait_value(&s, 7.5);
    assert_eq!(get(&s), json!({"status": "ok", "id": id, "value": 7.5}));

    // A broker that does not answer is reported; the old connection stays.
    let (_, out) = post_json(
        &s,
        "/connect/",
        json!({"data": {"host": "127.0.0.1", "port": 1}}),
    );
    let rc = out["rc_status"].as_str().unwrap();
    assert!(rc.contains("127.0.0.1:1"), "{rc}");
    send(&s, 8.5);
    wait_value(&s, 8.5);
    drop(s);
    forget_session(&format!("{prefix}-gantry"));
}

#[test]
fn simulated_sensors_reach_the_store_in_all_three_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let (host, port) = mqtt_broker();
    let prefix = format!("gantry-sim-{}", std::process::id());
    let config = mqtt_config(tmp.path(), &prefix);
    let s = Server::serve(&data, &["--config", config.to_str().unwrap()]);
    wait_subscribed(&s, &prefix);

    let port = port.to_string();
    let out = gantry(&[
        "simulate-sensors",
        "--host",
        &host,
        "--port",
        &port,
        "--topic-prefix",
        &prefix,
        "--rounds",
        "8",
        "--interval-ms",
        "100",
        "--dropout",
        "0",
        "--garbage",
        "0.25",
        "--seed",
        "7",
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    // "published 48 messages (11 refusable garbage) to …"
    let numbers: Vec<u64> = stdout
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(2)
        .collect();
    let (messages, garbage) = (numbers[0], numbers[1]);
    assert_eq!(messages, 6 * 8, "{stdout}");
    assert!(garbage > 0 && garbage < messages, "{stdout}");
    eprintln!("{stdout}");
    // Each good message holds three readings, stored once.
    let stored = |c: &std::collections::BTreeMap<String, u64>| -> u64 {
        c.iter()
            .filter(|(id, _)| id.contains("dev-"))
            .map(|(_, n)| n)
            .sum()
    };
    wait_for(&s, |c| stored(c) >= (messages - garbage) * 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let c = counts(&s);
    assert_eq!(stored(&c), (messages - garbage) * 3, "{c:?}");
    for id in [
        "dev-01/temperature",
        "dev-02/humidity",
        "climate,device=dev-03/pressure",
        "dev-04/pressure",
        "dev-05/temperature",
        "climate,device=dev-06/humidity",
    ] {
        assert!(c.get(id).is_some_and(|&n| n > 0), "{id} missing: {c:?}");
    }
    drop(s);
    forget_session(&format!("{prefix}-gantry"));
}

#[test]
fn the_stream_sends_the_points_of_each_write() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::serve(&data_dir(tmp.path()), &[]);
    let response = s.get(s.url("/api/stream"));
    let t = now_ms();
    let writer = std::thread::spawn({
        let url = s.url("/api/iot/write?precision=ms");
        move || {
            // The stream may need a moment to subscribe.
            std::thread::sleep(std::time::Duration::from_millis(500));
            let body = format!("room,floor=2 co2=612i,temp=21.5 {t}");
            let client = reqwest::blocking::Client::new();
            assert!(client
                .post(url)
                .body(body)
                .send()
                .unwrap()
                .status()
                .is_success());
        }
    });
    let events = read_events(response, "points", 1, std::time::Duration::from_secs(15));
    writer.join().unwrap();
    let points: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == "points")
        .flat_map(|(_, data)| data.as_array().unwrap())
        .collect();
    let mut got: Vec<(String, i64, f64)> = points
        .iter()
        .map(|p| {
            (
                p["series"].as_str().unwrap().to_owned(),
                p["ts"].as_i64().unwrap(),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("room,floor=2/co2".to_owned(), t, 612.0),
            ("room,floor=2/temp".to_owned(), t, 21.5),
        ],
        "{events:?}"
    );
}

/// A private InfluxDB 1.x (Debian's `influxd`, which scripts/services.sh
/// installs) on free ports and its own data dir, so a test can stop it.
struct Influxd {
    dir: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl Influxd {
    fn start(dir: &Path) -> Influxd {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (port, rpc) = (free(), free());
        let d = dir.display();
        std::fs::write(
            dir.join("influxdb.conf"),
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  \
                 query-log-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{port}\"\n  \
                 log-enabled = false\n[monitor]\n  store-enabled = false\n"
            ),
        )
        .unwrap();
        let mut influxd = Influxd {
            dir: dir.to_owned(),
            port,
            child: None,
        };
        influxd.restart();
        influxd
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = std::process::Command::new("influxd")
            .args(["-config", self.dir.join("influxdb.conf").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("influxd runs (scripts/services.sh up installs it)");
        self.child = Some(child);
        let client = reqwest::blocking::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !client
            .get(format!("{}/ping", self.url()))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "influxd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Points and their sum per series, read back with InfluxQL.
    fn counts(&self, database: &str) -> std::collections::BTreeMap<String, (u64, f64)> {
        let url = format!("{}/query", self.url());
        let q = "SELECT count(value), sum(value) FROM machine_data GROUP BY data_id";
        let body: Value = reqwest::blocking::Client::new()
            .get(url)
            .query(&[("db", database), ("q", q)])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for series in body["results"][0]["series"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let row = &series["values"][0];
            out.insert(
                series["tags"]["data_id"].as_str().unwrap().to_owned(),
                (row[1].as_u64().unwrap(), row[2].as_f64().unwrap()),
            );
        }
        out
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn influxdb_gets_every_point_once_through_an_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let influx_dir = tmp.path().join("influxdb");
    std::fs::create_dir_all(&influx_dir).unwrap();
    let mut influxd = Influxd::start(&influx_dir);
    let database = format!("gantry_it_{}", std::process::id());
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[influxdb]\nurl = \"{}\"\ndatabase = \"{database}\"\nbatch = 70\n",
            influxd.url()
        ),
    )
    .unwrap();
    let data = data_dir(tmp.path());
    let serve = || Server::serve(&data, &["--config", config.to_str().unwrap()]);
    let s = serve();
    let t = 1_684_576_800_000i64;
    // 100 readings of two series, as line protocol, in 4 posts of 25.
    let post = |s: &Server, from: i64| {
        let body: String = (from..from + 25)
            .map(|i| format!("room,floor=2 co2={i}i,temp={}.5 {}\n", i % 30, t + i * 1000))
            .collect();
        let (status, _) = write(s, "?precision=ms", &body);
        assert_eq!(status, StatusCode::OK);
    };
    let expected = |n: i64| {
        std::collections::BTreeMap::from([
            (
                "room,floor=2/co2".to_owned(),
                (n as u64, (0..n).sum::<i64>() as f64),
            ),
            (
                "room,floor=2/temp".to_owned(),
                (n as u64, (0..n).map(|i| (i % 30) as f64 + 0.5).sum::<f64>()),
            ),
        ])
    };
    let wait = |influxd: &Influxd, want: std::collections::BTreeMap<String, (u64, f64)>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let got = influxd.counts(&database);
            if got == want {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{got:?} != {want:?}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    post(&s, 0);
    post(&s, 25);
    wait(&influxd, expected(50));

    // InfluxDB down: the points wait, also through a hard restart of
    // gantry; InfluxDB back up: they arrive, once.
    influxd.stop();
    post(&s, 50);
    drop(s);
    let s = serve();
    post(&s, 75);
    std::thread::sleep(std::time::Duration::from_secs(2));
    influxd.restart();
    wait(&influxd, expected(100));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(influxd.counts(&database), expected(100));
}

#[test]
fn mac_data_gets_every_point_once_in_the_classic_table() {
    use mysql::prelude::Queryable;
    let tmp = tempfile::tempdir().unwrap();
    let server = common::servers()[0].clone();
    let database = format!("gantry_it_mac_{}", std::process::id());
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!("[mac_data]\ndsn = \"{server}/{database}\"\nbatch = 40\n"),
    )
    .unwrap();
    let s = Server::serve(
        &data_dir(tmp.path()),
        &["--config", config.to_str().unwrap()],
    );
    let t = 1_684_576_800_000i64;
    let body: String = (0..100)
        .map(|i| {
            format!(
                "{{\"device\":\"pi-01\",\"temperature\":{i}.25,\"time\":{}}}",
                t + i * 1000
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    // One JSON object per request, as devices send them; each twice.
    for line in body.lines().chain(body.lines()) {
        let (status, _) = write(&s, "", line);
        assert_eq!(status, StatusCode::OK);
    }
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&server).unwrap()).unwrap();
    let count = |conn: &mut mysql::Conn| -> (u64, f64) {
        conn.query_first(format!(
            "SELECT count(*), coalesce(sum(CAST(payload AS DOUBLE)), 0) FROM `{database}`.mac_data"
        ))
        .unwrap_or(None)
        .unwrap_or((0, 0.0))
    };
    let want = (100u64, (0..100).map(|i| i as f64 + 0.25).sum::<f64>());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count(&mut conn) != want {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?} != {want:?}",
            count(&mut conn)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let first: (String, String, String) = conn
        .query_first(format!(
            "SELECT data_id, payload, CAST(time AS CHAR) FROM `{database}`.mac_data ORDER BY time LIMIT 1"
        ))
        .unwrap()
        .unwrap();
    assert_eq!(
        first,
        (
            "pi-01/temperature".to_owned(),
            "0.25".to_owned(),
            "2023-05-20 18:00:00.000".to_owned()
        )
    );
    drop(s);
    conn.query_drop(format!("DROP DATABASE `{database}`"))
        .unwrap();
}

#[test]
fn kafka_gets_every_reading_as_json() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let tmp = tempfile::tempdir().unwrap();
    let topic = format!("gantry-it-readings-{}", std::process::id());
    common::create_topic(&topic, 2);
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbrokers = \"{}\"\nreadings_topic = \"{topic}\"\n",
            common::kafka_brokers()
        ),
    )
    .unwrap();
    let s = Server::serve(
        &data_dir(tmp.path()),
        &["--config", config.to_str().unwrap()],
    );
    let t = 1_684_576_800_000i64;
    let body: String = (0..30)
        .map(|i| format!("weather,site=lab temp={i}.5,hum={i}i {}\n", t + i * 1000))
        .collect();
    // Written twice: the replay is a duplicate, not a second reading.
    for _ in 0..2 {
        let (status, _) = write(&s, "?precision=ms", &body);
        assert_eq!(status, StatusCode::OK);
    }
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", common::kafka_brokers())
        .set("group.id", format!("{topic}-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut readings = std::collections::BTreeSet::new();
    let mut records = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while records < 60 && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(std::time::Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let json: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        let id = json["data_id"].as_str().unwrap().to_owned();
        assert_eq!(message.key(), Some(id.as_bytes()));
        assert_eq!(json["tags"]["site"], "lab");
        readings.insert((id, json["ts"].as_i64().unwrap(), json["value"].to_string()));
        records += 1;
    }
    // Once more to see that nothing beyond the 60 readings comes.
    std::thread::sleep(std::time::Duration::from_millis(500));
    while let Some(message) = consumer.poll(std::time::Duration::from_millis(500)) {
        message.unwrap();
        records += 1;
    }
    assert_eq!(records, 60);
    assert_eq!(readings.len(), 60);
    assert!(readings.contains(&(
        "weather,site=lab/temp".to_owned(),
        t + 3000,
        "3.5".to_owned()
    )));
    assert!(readings.contains(&(
        "weather,site=lab/hum".to_owned(),
        t + 29_000,
        "29.0".to_owned()
    )));
}

/// A stand-in for a ThingsBoard server (ThingsBoard itself cannot be
/// installed from the registries this machine reaches): keeps each
/// telemetry post of device token `T0K3N`, and answers 503 while `down`.
struct TelemetryServer {
    url: String,
    posts: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl TelemetryServer {
    fn start() -> TelemetryServer {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::StatusCode as Status;
        use std::sync::atomic::Ordering;
        type Shared = (
            std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
            std::sync::Arc<std::sync::atomic::AtomicBool>,
        );
        async fn telemetry(
            State((posts, down)): State<Shared>,
            UrlPath(token): UrlPath<String>,
            axum::Json(body): axum::Json<Value>,
        ) -> Status {
            if token != "T0K3N" {
                return Status::UNAUTHORIZED;
            }
            if down.load(Ordering::SeqCst) {
                return Status::SERVICE_UNAVAILABLE;
            }
            posts.lock().unwrap().push(body);
            Status::OK
        }
        let posts = std::sync::Arc::default();
        let down = std::sync::Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/api/v1/{token}/telemetry", axum::routing::post(telemetry))
            .with_state((std::sync::Arc::clone(&posts), std::sync::Arc::clone(&down)));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        TelemetryServer { url, posts, down }
    }

    /// (series, ts) → value over every accepted post.
    fn received(&self) -> Vec<(String, i64, f64)> {
        let mut out = Vec::new();
        for post in self.posts.lock().unwrap().iter() {
            for entry in post.as_array().unwrap() {
                let ts = entry["ts"].as_i64().unwrap();
                for (series, value) in entry["values"].as_object().unwrap() {
                    out.push((series.clone(), ts, value.as_f64().unwrap()));
                }
            }
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }
}

#[test]
fn thingsboard_telemetry_gets_every_point_once_through_an_outage() {
    use std::sync::atomic::Ordering;
    let tmp = tempfile::tempdir().unwrap();
    let tb = TelemetryServer::start();
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[thingsboard]\nurl = \"{}\"\ntoken = \"T0K3N\"\nbatch = 7\n",
            tb.url
        ),
    )
    .unwrap();
    let s = Server::serve(
        &data_dir(tmp.path()),
        &["--config", config.to_str().unwrap()],
    );
    let t = 1_684_576_800_000i64;
    let post = |from: i64, to: i64| {
        for i in from..to {
            let body = format!(
                "{{\"device\":\"pi-01\",\"temperature\":{i},\"humidity\":{},\"time\":{}}}",
                100 - i,
                t + i * 1000
            );
            assert_eq!(write(&s, "", &body).0, StatusCode::OK);
        }
    };
    let expected = |n: i64| {
        let mut want: Vec<(String, i64, f64)> = (0..n)
            .flat_map(|i| {
                [
                    ("pi-01/humidity".to_owned(), t + i * 1000, (100 - i) as f64),
                    ("pi-01/temperature".to_owned(), t + i * 1000, i as f64),
                ]
            })
            .collect();
        want.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        want
    };
    let wait = |n: i64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while tb.received().len() < 2 * n as usize {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                tb.received().len()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(tb.received(), expected(n));
    };
    post(0, 20);
    wait(20);
    tb.down.store(true, Ordering::SeqCst);
    post(20, 40);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(tb.received().len(), 40, "nothing accepted while down");
    tb.down.store(false, Ordering::SeqCst);
    wait(40);
}

#[test]
fn regression_of_one_series_on_another() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::serve(&data_dir(tmp.path()), &[]);
    // An hour of minutes: temperature = 40 − 0.3 × humidity, exactly.
    let start = now_ms() / 60_000 * 60_000 - 60 * 60_000;
    let body: String = (0..60)
        .map(|i| {
            let humidity = 40 + (i * 7) % 30;
            let temperature = 40.0 - 0.3 * humidity as f64;
            format!("{{\"device\":\"reg-1\",\"humidity\":{humidity},\"temperature\":{temperature},\"time\":{}}}", start + i * 60_000)
        })
        .collect::<Vec<_>>()
        .join("\n");
    for line in body.lines() {
        assert_eq!(write(&s, "", line).0, StatusCode::OK);
    }
    let url = s.url_with(
        "/api/iot/regress",
        &[
            ("y", "reg-1/temperature"),
            ("x", "reg-1/humidity"),
            ("window", "2h"),
        ],
    );
    let fit = s.json(url);
    assert_eq!(fit["pairs"], 60, "{fit}");
    assert!((fit["slope"].as_f64().unwrap() + 0.3).abs() < 1e-6, "{fit}");
    assert!(
        (fit["intercept"].as_f64().unwrap() - 40.0).abs() < 1e-6,
        "{fit}"
    );
    assert!((fit["r2"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{fit}");
    let latest = &fit["latest"];
    assert_eq!(latest["ts"], start + 59 * 60_000);
    assert!((latest["predicted"].as_f64().unwrap() - latest["y"].as_f64().unwrap()).abs() < 1e-6);

    let status = |params: &[(&str, &str)]| {
        let response = s.get(s.url_with("/api/iot/regress", params));
        let code = response.status();
        let body: Value = response.json().unwrap();
        (
            code,
            body["parameter"].clone(),
            body["error"].as_str().unwrap().to_owned(),
        )
    };
    let (code, parameter, _) = status(&[("x", "reg-1/humidity")]);
    assert_eq!(
        (code, parameter),
        (StatusCode::BAD_REQUEST, Value::from("y"))
    );
    let (code, _, error) = status(&[("y", "reg-1/temperature"), ("x", "nope/humidity")]);
    assert_eq!(code, StatusCode::NOT_FOUND, "{error}");
    let (code, parameter, _) = status(&[
        ("y", "reg-1/temperature"),
        ("x", "reg-1/humidity"),
        ("step", "soon"),
    ]);
    assert_eq!(
        (code, parameter),
        (StatusCode::BAD_REQUEST, Value::from("step"))
    );
    // Two minutes of data make two pairs: too few for a line.
    let (code, _, error) = status(&[
        ("y", "reg-1/temperature"),
        ("x", "reg-1/humidity"),
        ("window", "2m"),
    ]);
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error.contains("at least 3"), "{error}");
}
