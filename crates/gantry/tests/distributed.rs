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
use std::time::Duration;

use common::gantry;
use gantry_core::ShardRouter;
use mysql::prelude::Queryable;

fn servers() -> Vec<String> {
    std::env::var("GANTRY_TEST_MYSQL_SHARDS")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306,mysql://root@127.0.0.1:3307".into())
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .collect()
}

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
                "[store]\nengine = \"mysql\"\nmysql_shards = [{}]\n{more}",
                list.join(", ")
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

fn kafka_brokers() -> String {
    std::env::var("GANTRY_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:19092".into())
}

fn redis_url() -> String {
    std::env::var("GANTRY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates `name` with `partitions` partitions on the test broker.
fn create_topic(name: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .create()
        .unwrap();
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(admin.create_topics([&topic], &AdminOptions::new()))
        .unwrap();
    for r in results {
        r.unwrap();
    }
}

/// Kafka topics, consumer group and Redis keys of one test, as config
/// sections; the Redis keys are deleted on drop.
struct Streams {
    tag: String,
}

impl Streams {
    fn new(tag: &str) -> Self {
        let streams = Streams {
            tag: format!("gantry-it-{tag}-{}", std::process::id()),
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
            redis_url()
        )
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(redis_url())
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
        "6",
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
fn write_with_rotations(dir: &Path, lines: &[&str]) {
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
        std::thread::sleep(Duration::from_millis(80));
    }
}

#[test]
fn tail_into_mariadb_shards_survives_kill_9_and_rotation() {
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
        let writer = scope.spawn(|| write_with_rotations(&live, &lines));
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
}

#[test]
fn workers_killed_at_random_lose_and_double_nothing() {
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
        let writer = scope.spawn(|| write_with_rotations(&live, &lines));
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
