//! Helpers the integration tests share: running the real binary.

// Each test binary uses a part of these.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};
use serde_json::Value;

mod kafka;
#[allow(unused_imports)] // as above: not every test binary talks to Kafka
pub use kafka::{create_topic, kafka_brokers};

/// `gantry …` with its stderr kept in `log`, for what it says it did.
pub fn spawn_logged(args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Runs `gantry` with `args` and asserts it succeeded.
pub fn gantry(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .output()
        .expect("the gantry binary runs");
    assert!(
        out.status.success(),
        "gantry {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A small store `gantry serve` accepts: `records` simulated passes
/// imported into `dir/data`.
pub fn small_store(dir: &Path, records: u32) -> std::path::PathBuf {
    let input = dir.join("in.tsv");
    let data = dir.join("data");
    let input_s = input.to_str().unwrap();
    let records = records.to_string();
    gantry(&["simulate", "--records", &records, "--fast", "-o", input_s]);
    gantry(&["import", input_s, "--data-dir", data.to_str().unwrap()]);
    data
}

/// The number after `key` in `gantry import`'s summary.
pub fn summary_value(stdout: &[u8], key: &str) -> u64 {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The MariaDB/MySQL servers shards go to: `scripts/services.sh up`'s two
/// instances unless `GANTRY_TEST_MYSQL_SHARDS` names others.
pub fn servers() -> Vec<String> {
    std::env::var("GANTRY_TEST_MYSQL_SHARDS")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306,mysql://root@127.0.0.1:3307".into())
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .collect()
}

pub fn redis_url() -> String {
    std::env::var("GANTRY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A running `gantry serve` (or `demo`), killed when dropped.
pub struct Server {
    pub child: Child,
    base: Url,
    pub client: Client,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    pub fn serve(data: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--data-dir", data.to_str().unwrap(), "--port", "0"];
        args.extend_from_slice(extra);
        Self::spawn(&args, "gantry serve: ")
    }

    /// Runs gantry with `args` and waits for the line that holds the URL.
    pub fn spawn(args: &[&str], marker: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the gantry binary runs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "gantry {args:?} ended before printing its address");
            if line.contains(marker) {
                if let Some(at) = line.find("http://") {
                    break line[at..].split_whitespace().next().unwrap().to_owned();
                }
            }
        };
        let client = Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Server {
            child,
            base: Url::parse(&url).unwrap(),
            client,
            _stdout: stdout,
        }
    }

    pub fn url(&self, path_and_query: &str) -> Url {
        self.base.join(path_and_query).unwrap()
    }

    /// `path` with properly encoded query parameters.
    pub fn url_with(&self, path: &str, params: &[(&str, &str)]) -> Url {
        let mut url = self.url(path);
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    pub fn get(&self, url: Url) -> Response {
        self.client.get(url).send().unwrap()
    }

    /// GET that must succeed with JSON.
    pub fn json(&self, url: Url) -> Value {
        let response = self.get(url.clone());
        let status = response.status();
        let body = response.text().unwrap();
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
    }

    pub fn post(&self, path: &str, body: &str) -> Response {
        self.client
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a Server-Sent Events stream until `want` (event name) has come
/// `count` times or `wait` passed; returns the events read as (name, data).
pub fn read_events(
    response: Response,
    want: &str,
    count: usize,
    wait: Duration,
) -> Vec<(String, Value)> {
    let deadline = Instant::now() + wait;
    let mut reader = BufReader::new(response);
    let mut events = Vec::new();
    let mut name = String::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((name.clone(), serde_json::from_str(data).unwrap()));
            if events.iter().filter(|(n, _)| n == want).count() >= count {
                break;
            }
        }
    }
    events
}
