//! The Parquet archive through the real binary, read back by independent
//! readers (pyarrow for the points, DuckDB for the passes, both from PyPI;
//! `scripts/test.sh` installs them): every stored point and pass is in
//! exactly one file, in the partition of its day, across a `kill -9`.

mod common;
use common::{small_store, Server};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

/// Counts pyarrow reads from `archive/points`: rows, distinct (series, ts),
/// the value sum, rows whose `day` is not their China day, and days.
const READ_POINTS: &str = r#"
import datetime, json, sys
import pyarrow.dataset as ds
root = sys.argv[1]
try:
    rows = ds.dataset(root + "/points", format="parquet", partitioning="hive").to_table().to_pylist()
except FileNotFoundError:
    rows = []
china = datetime.timezone(datetime.timedelta(hours=8))
print(json.dumps({
    "rows": len(rows),
    "distinct": len({(r["series"], r["ts"]) for r in rows}),
    "sum": sum(r["value"] for r in rows),
    "wrong_day": sum(str(r["ts"].astimezone(china).date()) != str(r["day"]) for r in rows),
    "days": sorted({str(r["day"]) for r in rows}),
    "tags": sorted({r["tags"] for r in rows}),
}))
"#;

/// The same for `archive/passes`, by DuckDB.
const READ_PASSES: &str = r#"
import json, sys, duckdb
root = sys.argv[1]
try:
    rows, distinct, wrong_day, weekend = duckdb.sql(f"""
        SELECT count(*), count(DISTINCT gcxh),
               count(*) FILTER (WHERE CAST(gcsj AS DATE)::VARCHAR <> day::VARCHAR),
               count(*) FILTER (WHERE is_weekend <> (dayofweek(gcsj) IN (0, 6)))
        FROM read_parquet('{root}/passes/*/*.parquet', hive_partitioning = true)
    """).fetchall()[0]
except duckdb.IOException:  # no file yet
    rows = distinct = wrong_day = weekend = 0
print(json.dumps({"rows": rows, "distinct": distinct, "wrong_day": wrong_day, "weekend_wrong": weekend}))
"#;

fn python(script: &str, archive: &Path) -> Value {
    let out = Command::new("python3")
        .args(["-c", script, archive.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the reader failed (scripts/test.sh installs pyarrow and duckdb): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until `read` says `rows` rows are archived, then returns it.
fn wait_rows(read: impl Fn() -> Value, rows: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = read();
        if got["rows"] == rows {
            return got;
        }
        assert!(Instant::now() < deadline, "waited for {rows} rows: {got}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Readings `from..from + count` of one series, one a minute from
/// `start_ms`, as line protocol.
fn readings(start_ms: i64, from: i64, count: i64) -> String {
    (from..from + count)
        .map(|i| format!("room,site=a co2={i}i {}\n", start_ms + i * 60_000))
        .collect()
}

#[test]
fn points_and_passes_are_archived_once_by_day_across_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_store(tmp.path(), 3000);
    let archive = tmp.path().join("archive");
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[archive]\ndir = \"{}\"\nroll_rows = 70\nroll_secs = 1\n",
            archive.display()
        ),
    )
    .unwrap();
    let serve = || Server::serve(&data, &["--config", config.to_str().unwrap()]);
    let s = serve();
    let stored = s.json(s.url("/api/stats/summary"))["total_records"]
        .as_u64()
        .expect("summary has a total");
    assert!(stored > 2000, "{stored} passes stored");

    // 2026-12-05 22:00 China time: 300 minutes cross midnight into the 6th.
    let start_ms = 1_764_943_200_000;
    let post = |s: &Server, from: i64, count: i64| {
        let response = s
            .client
            .post(s.url("/api/iot/write?precision=ms"))
            .body(readings(start_ms, from, count))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    };
    post(&s, 0, 100);
    post(&s, 50, 100); // 50 repeats: stored once, archived once
    let points = wait_rows(|| python(READ_POINTS, &archive), 150);
    assert_eq!(points["distinct"], 150);
    let passes = wait_rows(|| python(READ_PASSES, &archive), stored);
    assert_eq!(
        passes,
        json!({"rows": stored, "distinct": stored, "wrong_day": 0, "weekend_wrong": 0})
    );

    // Points stored just before a kill -9 are archived after the restart,
    // and nothing archived before is written twice.
    post(&s, 150, 100);
    drop(s);
    let s = serve();
    post(&s, 250, 50);
    let points = wait_rows(|| python(READ_POINTS, &archive), 300);
    let sum: i64 = (0..300).sum();
    assert_eq!(points["distinct"], 300);
    assert_eq!(points["sum"], json!(sum as f64));
    assert_eq!(points["wrong_day"], 0);
    assert_eq!(points["days"], json!(["2025-12-05", "2025-12-06"]));
    assert_eq!(points["tags"], json!([r#"{"site":"a"}"#]));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(python(READ_POINTS, &archive)["rows"], 300);
    assert_eq!(python(READ_PASSES, &archive)["rows"], stored);
    drop(s);
}

#[test]
fn a_bad_archive_setting_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("gantry.toml");
    std::fs::write(&config, "[archive]\nroll_rows = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["config", "check", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("archive.roll_rows must be between 1 and 10000000, not 0"),
        "{error}"
    );
}

/// A private Apache httpd serving WebDAV (mod_dav) from `dir/www`, the
/// object store archive files move to. Stopped when dropped.
struct Dav {
    dir: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl Dav {
    fn start(dir: &Path) -> Dav {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // httpd's workers run as www-data: they need the way in and their
        // own directories.
        let uid = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "www-data"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (user, group) = (uid("-u"), uid("-g"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let mut up = Some(dir);
        while let Some(d) =
            up.filter(|d| d.starts_with(std::env::temp_dir()) && *d != std::env::temp_dir())
        {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
            up = d.parent();
        }
        for sub in ["www", "lock"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::os::unix::fs::chown(dir.join(sub), Some(user), Some(group)).unwrap();
        }
        let modules = "/usr/lib/apache2/modules";
        let d = dir.display();
        std::fs::write(
            dir.join("httpd.conf"),
            format!(
                "ServerRoot {d}\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n\
                 PidFile {d}/httpd.pid\nErrorLog {d}/error.log\n\
                 LoadModule mpm_event_module {modules}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {modules}/mod_authz_core.so\n\
                 LoadModule dav_module {modules}/mod_dav.so\n\
                 LoadModule dav_fs_module {modules}/mod_dav_fs.so\n\
                 User www-data\nGroup www-data\nDavLockDB {d}/lock/davlock\n\
                 DocumentRoot {d}/www\n<Directory {d}/www>\n  Dav On\n  Require all granted\n</Directory>\n"
            ),
        )
        .unwrap();
        let mut dav = Dav {
            dir: dir.to_owned(),
            port,
            child: None,
        };
        dav.restart();
        dav
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) {
        let conf = self.dir.join("httpd.conf");
        let child = Command::new("/usr/sbin/apache2")
            .args(["-f", conf.to_str().unwrap(), "-DFOREGROUND"])
            .spawn()
            .expect("apache2 runs (scripts/services.sh up installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "apache2 did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops httpd and its workers (SIGTERM to the parent).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Dav {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Committed archive files still in the local staging dir.
fn local_parts(archive: &Path) -> usize {
    let mut n = 0;
    for day in std::fs::read_dir(archive.join("points"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for file in std::fs::read_dir(day.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            n += usize::from(file.file_name().to_string_lossy().ends_with(".parquet"));
        }
    }
    n
}

#[test]
fn archive_files_move_to_a_webdav_server_through_its_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dav = Dav::start(&tmp.path().join("dav"));
    let data = small_store(tmp.path(), 20);
    let staging = tmp.path().join("staging");
    let config = tmp.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[archive]\ndir = \"{}\"\nurl = \"{}\"\npasses = false\nroll_rows = 40\nroll_secs = 1\n",
            staging.display(),
            dav.url()
        ),
    )
    .unwrap();
    let s = Server::serve(&data, &["--config", config.to_str().unwrap()]);
    let start_ms = 1_764_943_200_000;
    let post = |from: i64, count: i64| {
        let response = s
            .client
            .post(s.url("/api/iot/write?precision=ms"))
            .body(readings(start_ms, from, count))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    };
    let remote = tmp.path().join("dav").join("www");
    post(0, 100);
    let got = wait_rows(|| python(READ_POINTS, &remote), 100);
    assert_eq!(got["distinct"], 100);
    assert_eq!(
        local_parts(&staging),
        0,
        "uploaded files leave the staging dir"
    );

    // The server down: files stay staged, then move once it is back.
    dav.stop();
    post(100, 100);
    let deadline = Instant::now() + Duration::from_secs(30);
    while local_parts(&staging) == 0 {
        assert!(Instant::now() < deadline, "nothing was staged");
        std::thread::sleep(Duration::from_millis(200));
    }
    dav.restart();
    let got = wait_rows(|| python(READ_POINTS, &remote), 200);
    assert_eq!(got["distinct"], 200);
    assert_eq!(got["sum"], json!((0..200).sum::<i64>() as f64));
    assert_eq!(got["wrong_day"], 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(local_parts(&staging), 0);
}
