//! The distributed pieces against real servers, driven through the real
//! binary: the two MariaDB instances `scripts/services.sh up` starts (3306
//! and 3307, or `GANTRY_TEST_MYSQL_SHARDS`), Redis (`GANTRY_TEST_REDIS`)
//! and the Kafka-protocol broker (`GANTRY_TEST_KAFKA`).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use common::{create_topic, gantry, kafka_brokers, redis_url, servers, spawn_logged, Server};
use gantry_core::ShardRouter;
use mysql::prelude::Queryable;

/// Two shard databases of this test, one per server; dropped on drop.
struct Shards {
    dsns: Vec<String>,
}

impl Shards {
    fn new(tag: &str) -> Self {
        let dsns = servers()
            .iter()
            .cycle()
            .take(2)
            .enumerate()
            .map(|(i, s)| format!("{s}/gantry_it_{tag}_{}_{i}", std::process::id()))
            .collect();
        let shards = Shards { dsns };
        shards.drop_all();
        shards
    }

    fn config(&self, dir: &Path) -> String {
        self.config_with(dir, "")
    }

    /// A gantry.toml using these shards, plus `more` sections.
    fn config_with(&self, dir: &Path, more: &str) -> String {
        let path = dir.join("gantry.toml");
        let list: Vec<String> = self.dsns.iter().map(|d| format!("{d:?}")).collect();
        fs::write(
            &path,
            format!(
                "[store]\nengine = \"mysql\"\nmysql_shards = [{}]\ndata_dir = {:?}\n{more}",
                list.join(", "),
                dir.join("data").display().to_string()
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    }

    fn conn(dsn: &str, with_db: bool) -> mysql::Conn {
        let opts = mysql::Opts::from_url(dsn).unwrap();
        let builder = mysql::OptsBuilder::from_opts(opts);
        let builder = if with_db {
            builder
        } else {
            builder.db_name(None::<String>)
        };
        mysql::Conn::new(builder).unwrap()
    }

    /// (rows, distinct GCXH) of each shard.
    fn counts(&self) -> Vec<(u64, u64)> {
        self.dsns
            .iter()
            .map(|dsn| {
                Self::conn(dsn, true)
                    .query_first("SELECT count(*), count(DISTINCT gcxh) FROM passes")
                    .unwrap()
                    .unwrap()
            })
            .collect()
    }

    fn drop_all(&self) {
        for dsn in &self.dsns {
            let db = mysql::Opts::from_url(dsn)
                .unwrap()
                .get_db_name()
                .unwrap()
                .to_owned();
            Self::conn(dsn, false)
                .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
                .unwrap();
        }
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        self.drop_all();
    }
}

/// Kafka topics, consumer group and Redis keys of one test, as config
/// sections; the Redis keys are deleted on drop.
struct Streams {
    tag: String,
    redis: String,
}

impl Streams {
    fn new(tag: &str) -> Self {
        Self::on_redis(tag, &redis_url())
    }

    /// Streams whose warnings go to the Redis server at `url`.
    fn on_redis(tag: &str, url: &str) -> Self {
        let streams = Streams {
            tag: format!("gantry-it-{tag}-{}", std::process::id()),
            redis: url.to_owned(),
        };
        create_topic(&format!("{}-raw", streams.tag), 4);
        create_topic(&format!("{}-warnings", streams.tag), 1);
        streams.clear_redis();
        streams
    }

    fn sections(&self) -> String {
        let t = &self.tag;
        format!(
            "[kafka]\nbrokers = {:?}\ntopic = \"{t}-raw\"\nwarnings_topic = \"{t}-warnings\"\n\
             group = \"{t}\"\nbatch_linger_ms = 100\n\
             [redis]\nurl = {:?}\nlist = \"{t}:warnings\"\nchannel = \"{t}:warnings\"\nmax_len = 100000\n\
             [tail]\nsink = \"kafka\"\n",
            kafka_brokers(),
            self.redis
        )
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(self.redis.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Warning ids on the Redis list, newest first.
    fn redis_ids(&self) -> Vec<String> {
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{}:warnings", self.tag))
            .arg(0)
            .arg(-1)
            .query(&mut self.redis())
            .unwrap();
        items
            .iter()
            .map(|j| {
                serde_json::from_str::<serde_json::Value>(j).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn clear_redis(&self) {
        let mut conn = self.redis();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.tag))
            .query(&mut conn)
            .unwrap();
        for key in keys {
            let _: () = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
        }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.clear_redis();
    }
}

/// The tests that stop a shared server take this exclusively; the others
/// share it, so an outage never hits a test that did not ask for one.
static SERVERS: RwLock<()> = RwLock::new(());

fn servers_shared() -> RwLockReadGuard<'static, ()> {
    SERVERS.read().unwrap_or_else(PoisonError::into_inner)
}

fn servers_exclusive() -> RwLockWriteGuard<'static, ()> {
    SERVERS.write().unwrap_or_else(PoisonError::into_inner)
}

fn spawn_gantry(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Simulated input and the embedded import of it: the reference a
/// distributed run must equal.
struct Reference {
    lines: Vec<String>,
    warnings: BTreeSet<String>,
    shard_counts: [u64; 2],
}

fn reference(dir: &Path, records: u32, seed: u32) -> Reference {
    let input = dir.join("all.log");
    let input_s = input.to_string_lossy().into_owned();
    let (records, seed) = (records.to_string(), seed.to_string());
    gantry(&[
        "simulate",
        "--records",
        &records,
        "--fast",
        "--seed",
        &seed,
        "--clones",
        "60",
        "-o",
        &input_s,
    ]);
    let data = dir.join("reference").to_string_lossy().into_owned();
    gantry(&["import", &input_s, "--data-dir", &data]);
    let lines: Vec<String> = fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let router = ShardRouter::mycat(2);
    let mut shard_counts = [0u64; 2];
    for line in &lines {
        shard_counts[router.shard_of(line.split('\t').nth(2).unwrap())] += 1;
    }
    Reference {
        warnings: warning_ids(&["--data-dir", &data]),
        lines,
        shard_counts,
    }
}

/// Every GCXH stored once on its MyCat shard, warnings equal by id.
fn assert_equal(shards: &Shards, config: &str, reference: &Reference) {
    let [a, b] = reference.shard_counts;
    assert_eq!(shards.counts(), vec![(a, a), (b, b)], "rows per shard");
    assert!(!reference.warnings.is_empty());
    assert_eq!(
        warning_ids(&["--config", config]),
        reference.warnings,
        "stored warnings"
    );
}

/// The Redis list holds each warning once, and all of them.
fn assert_redis(streams: &Streams, reference: &Reference) {
    let ids = streams.redis_ids();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "a warning pushed twice: {ids:?}");
    assert_eq!(unique, reference.warnings, "Redis list");
}

/// Warning ids in `gantry warnings` output.
fn warning_ids(args: &[&str]) -> BTreeSet<String> {
    let mut all = vec!["warnings"];
    all.extend_from_slice(args);
    let out = gantry(&all);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Appends `lines` to the live log while rotating it twice: by rename
/// (kakou.log → kakou.log.1) a third of the way, by copytruncate (copy to
/// kakou.log.2, then empty kakou.log) at two thirds.
/// Each chunk of 150 lines is followed by `pause`.
fn write_with_rotations(dir: &Path, lines: &[&str], pause: Duration) {
    let live = dir.join("kakou.log");
    let mut file = fs::File::create(&live).unwrap();
    const CHUNK: usize = 150;
    let third = lines.len() / 3 / CHUNK * CHUNK;
    for (i, chunk) in lines.chunks(CHUNK).enumerate() {
        let at = i * CHUNK;
        if at == third {
            fs::rename(&live, dir.join("kakou.log.1")).unwrap();
            file = fs::File::create(&live).unwrap();
        }
        if at == 2 * third {
            fs::copy(&live, dir.join("kakou.log.2")).unwrap();
            file.set_len(0).unwrap();
            file = fs::OpenOptions::new().append(true).open(&live).unwrap();
        }
        for line in chunk {
            writeln!(file, "{line}").unwrap();
        }
        file.flush().unwrap();
        std::thread::sleep(pause);
    }
}

#[test]
fn tail_into_mariadb_shards_survives_kill_9_and_rotation() {
    let _servers = servers_shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let input = dir.join("all.log");
    let input_s = input.to_string_lossy().into_owned();
    gantry(&[
        "simulate",
        "--records",
        "6000",
        "--fast",
        "--seed",
        "9",
        "--clones",
        "6",
        "-o",
        &input_s,
    ]);
    let reference = dir.join("reference");
    let reference_s = reference.to_string_lossy().into_owned();
    gantry(&["import", &input_s, "--data-dir", &reference_s]);

    let shards = Shards::new("tail");
    let config = shards.config(dir);
    let live = dir.join("live");
    fs::create_dir(&live).unwrap();
    let pattern = live.join("kakou.log*").to_string_lossy().into_owned();
    let positions = dir.join("positions.json").to_string_lossy().into_owned();
    let text = fs::read_to_string(&input).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    let tail = |extra: &[&str]| {
        let mut args = vec![
            "tail",
            pattern.as_str(),
            "--config",
            &config,
            "--position-file",
            &positions,
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_with_rotations(&live, &lines, Duration::from_millis(80)));
        // kill -9 at varied moments while lines flow.
        let mut round = 0u64;
        while !writer.is_finished() {
            let mut child = tail(&[]);
            std::thread::sleep(Duration::from_millis(150 + (round * 137) % 500));
            child.kill().unwrap();
            child.wait().unwrap();
            round += 1;
        }
        writer.join().unwrap();
        assert!(round >= 5, "only {round} kills happened");
    });
    let status = tail(&["--idle-exit-ms", "1500"]).wait().unwrap();
    assert!(status.success());

    let router = ShardRouter::mycat(2);
    let mut expected = [0u64; 2];
    for line in &lines {
        let kkmc = line.split('\t').nth(2).unwrap();
        expected[router.shard_of(kkmc)] += 1;
    }
    let counts = shards.counts();
    assert_eq!(
        counts,
        vec![(expected[0], expected[0]), (expected[1], expected[1])],
        "every line stored exactly once, on its MyCat shard"
    );
    let stored = warning_ids(&["--config", &config]);
    let wanted = warning_ids(&["--data-dir", &reference_s]);
    assert!(!wanted.is_empty());
    assert_eq!(stored, wanted, "warnings equal the uninterrupted import");
}

#[test]
fn tail_kafka_two_workers_equal_the_embedded_run() {
    let _servers = servers_shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = reference(dir, 6000, 21);
    let shards = Shards::new("kafka");
    let streams = Streams::new("pipeline");
    let config = shards.config_with(dir, &streams.sections());
    let input = dir.join("all.log").to_string_lossy().into_owned();
    let positions = dir.join("positions.json").to_string_lossy().into_owned();

    let workers: Vec<_> = (0..2)
        .map(|_| spawn_gantry(&["worker", "--config", &config, "--idle-exit-ms", "6000"]))
        .collect();
    gantry(&[
        "tail",
        &input,
        "--config",
        &config,
        "--position-file",
        &positions,
        "--idle-exit-ms",
        "500",
    ]);
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    assert_equal(&shards, &config, &reference);
    assert_redis(&streams, &reference);
    assert_realtime_api(&shards, &streams, dir, &config);
}

/// `GET /api/warnings/realtime` serves the Redis list when `[redis]` is
/// configured, and the store when that Redis cannot be reached.
fn assert_realtime_api(shards: &Shards, streams: &Streams, dir: &Path, config: &str) {
    let newest: Vec<String> = streams.redis_ids().into_iter().take(5).collect();
    let realtime = |config: &str| {
        let server = Server::spawn(
            &["serve", "--config", config, "--port", "0"],
            "gantry serve: ",
        );
        let url = server.url(&format!("/api/warnings/realtime?limit={}", newest.len()));
        let response = server.get(url);
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let source = response.headers()["x-gantry-source"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: serde_json::Value = response.json().unwrap();
        let ids: Vec<String> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect();
        (source, ids)
    };
    assert_eq!(realtime(config), ("redis".to_owned(), newest.clone()));

    let elsewhere = dir.join("redis-down");
    fs::create_dir_all(&elsewhere).unwrap();
    let down = shards.config_with(&elsewhere, "[redis]\nurl = \"redis://127.0.0.1:1\"\n");
    let (source, ids) = realtime(&down);
    assert_eq!(source, "store");
    assert_eq!(ids.len(), newest.len());
}

#[test]
fn workers_killed_at_random_lose_and_double_nothing() {
    let _servers = servers_shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = reference(dir, 8000, 33);
    let shards = Shards::new("kill");
    let streams = Streams::new("kill");
    let config = shards.config_with(dir, &streams.sections());
    let live = dir.join("live");
    fs::create_dir(&live).unwrap();
    let pattern = live.join("kakou.log*").to_string_lossy().into_owned();
    let positions = dir.join("positions.json").to_string_lossy().into_owned();
    let lines: Vec<&str> = reference.lines.iter().map(String::as_str).collect();

    // One worker runs throughout; the other is killed -9 twenty times
    // while the tail feeds Kafka. tansu 0.6 keeps a killed member's
    // partitions assigned to it after its session times out (the survivor
    // is handed only its own again), so a last worker started once the
    // survivor has gone idle takes up whatever the dead ones left.
    let mut steady = spawn_gantry(&["worker", "--config", &config, "--idle-exit-ms", "25000"]);
    let mut tail = spawn_gantry(&[
        "tail",
        &pattern,
        "--config",
        &config,
        "--position-file",
        &positions,
    ]);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_with_rotations(&live, &lines, Duration::from_millis(80)));
        for round in 0..20u64 {
            let mut victim = spawn_gantry(&["worker", "--config", &config]);
            std::thread::sleep(Duration::from_millis(200 + (round * 373) % 1300));
            victim.kill().unwrap();
            victim.wait().unwrap();
        }
        writer.join().unwrap();
    });
    std::thread::sleep(Duration::from_secs(2));
    tail.kill().unwrap();
    tail.wait().unwrap();
    assert!(steady.wait().unwrap().success());
    gantry(&["worker", "--config", &config, "--idle-exit-ms", "8000"]);
    assert_equal(&shards, &config, &reference);
    assert_redis(&streams, &reference);
}

/// Waits up to `limit` for `log` to contain `text`.
fn wait_for_log(log: &Path, text: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if fs::read_to_string(log).is_ok_and(|l| l.contains(text)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The live log of a paced run: `reference`'s lines written in chunks
/// (with both rotations) while `tail` feeds Kafka; `during` runs beside
/// the writer. Ends when the writer is done.
struct LiveRun {
    pattern: String,
    positions: String,
    live: std::path::PathBuf,
}

impl LiveRun {
    fn new(dir: &Path) -> Self {
        let live = dir.join("live");
        fs::create_dir(&live).unwrap();
        LiveRun {
            pattern: live.join("kakou.log*").to_string_lossy().into_owned(),
            positions: dir.join("positions.json").to_string_lossy().into_owned(),
            live,
        }
    }

    /// Writes the lines, 150 per `pause`, with `tail` running; `during`
    /// runs meanwhile.
    fn run(&self, config: &str, reference: &Reference, pause: Duration, during: impl FnOnce()) {
        let mut tail = spawn_gantry(&[
            "tail",
            &self.pattern,
            "--config",
            config,
            "--position-file",
            &self.positions,
        ]);
        let lines: Vec<&str> = reference.lines.iter().map(String::as_str).collect();
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| write_with_rotations(&self.live, &lines, pause));
            during();
            writer.join().unwrap();
        });
        std::thread::sleep(Duration::from_secs(2));
        tail.kill().unwrap();
        tail.wait().unwrap();
    }
}

#[test]
fn one_worker_stopped_for_good_the_other_takes_over() {
    let _servers = servers_shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = reference(dir, 8000, 51);
    let shards = Shards::new("takeover");
    let streams = Streams::new("takeover");
    let config = shards.config_with(dir, &streams.sections());
    let doomed_log = dir.join("doomed.log");
    let survivor_log = dir.join("survivor.log");
    let mut survivor = spawn_logged(
        &["worker", "--config", &config, "--idle-exit-ms", "15000"],
        &survivor_log,
    );
    let mut doomed = spawn_logged(&["worker", "--config", &config], &doomed_log);
    LiveRun::new(dir).run(&config, &reference, Duration::from_millis(250), || {
        // Killed for good once it holds partitions and has worked a while.
        assert!(
            wait_for_log(&doomed_log, "partitions [", Duration::from_secs(30)),
            "the second worker never got partitions"
        );
        std::thread::sleep(Duration::from_secs(2));
        doomed.kill().unwrap();
        doomed.wait().unwrap();
    });
    assert!(survivor.wait().unwrap().success());
    eprintln!("{}", fs::read_to_string(&survivor_log).unwrap());
    assert_equal(&shards, &config, &reference);
    assert_redis(&streams, &reference);
}

/// The second MariaDB instance, stopped until this is dropped; then
/// `scripts/services.sh up` starts it again (also when a test fails).
struct MariadbOutage;

impl MariadbOutage {
    fn begin() -> Self {
        let pid_file = std::env::var("GANTRY_TEST_MARIADB2_PID_FILE")
            .unwrap_or_else(|_| "/var/lib/gantry-services/mariadb-3307/mariadbd.pid".into());
        let pid = fs::read_to_string(&pid_file)
            .unwrap_or_else(|e| panic!("{pid_file}: {e}"))
            .trim()
            .to_owned();
        let alive = || {
            Command::new("kill")
                .args(["-0", &pid])
                .status()
                .unwrap()
                .success()
        };
        assert!(Command::new("kill").arg(&pid).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(60);
        while alive() {
            assert!(Instant::now() < deadline, "MariaDB {pid} did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
        MariadbOutage
    }
}

impl Drop for MariadbOutage {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/services.sh");
        let up = Command::new("bash")
            .args([script, "up"])
            .env("GANTRY_SKIP_KAFKA", "1")
            .status()
            .unwrap();
        assert!(up.success(), "the second MariaDB did not come back");
    }
}

#[test]
fn second_shard_stopped_for_10_s_pauses_and_resumes() {
    let _servers = servers_exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = reference(dir, 8000, 57);
    let shards = Shards::new("outage");
    let streams = Streams::new("outage");
    let config = shards.config_with(dir, &streams.sections());
    let log = dir.join("worker.log");
    let mut worker = spawn_logged(
        &["worker", "--config", &config, "--idle-exit-ms", "12000"],
        &log,
    );
    LiveRun::new(dir).run(&config, &reference, Duration::from_millis(250), || {
        std::thread::sleep(Duration::from_secs(3));
        let outage = MariadbOutage::begin();
        std::thread::sleep(Duration::from_secs(10));
        drop(outage);
    });
    assert!(worker.wait().unwrap().success());
    let said = fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("unavailable, retrying"),
        "the worker never waited for the shard: {said}"
    );
    assert_equal(&shards, &config, &reference);
    assert_redis(&streams, &reference);
}

/// A Redis server of one test, on its own port, persisting every write
/// (append-only file, fsync always) as a production list would.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    fn start(dir: &Path, port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        let redis = OwnRedis {
            child,
            port,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// kill -9, `down` of nothing, and the same server again.
    fn crash_and_restart(&mut self, down: Duration) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(down);
        *self = OwnRedis::start(&self.dir, self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn redis_restarted_mid_stream_gets_every_warning_once() {
    let _servers = servers_shared();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = reference(dir, 8000, 63);
    let redis_dir = dir.join("redis");
    fs::create_dir(&redis_dir).unwrap();
    let mut redis = OwnRedis::start(&redis_dir, free_port());
    let shards = Shards::new("redis");
    let streams = Streams::on_redis("redis", &redis.url());
    let config = shards.config_with(dir, &streams.sections());
    let log = dir.join("worker.log");
    let mut worker = spawn_logged(
        &["worker", "--config", &config, "--idle-exit-ms", "10000"],
        &log,
    );
    LiveRun::new(dir).run(&config, &reference, Duration::from_millis(250), || {
        std::thread::sleep(Duration::from_secs(4));
        redis.crash_and_restart(Duration::from_secs(5));
    });
    assert!(worker.wait().unwrap().success());
    let said = fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("Redis unavailable"),
        "no warning met the outage: {said}"
    );
    assert_equal(&shards, &config, &reference);
    assert_redis(&streams, &reference);
}
