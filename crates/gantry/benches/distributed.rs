//! Distributed mode against the real servers `scripts/services.sh up`
//! starts: two MariaDB instances, Redis and the Kafka-protocol broker, all
//! on this machine. `scripts/bench.sh distributed` runs it; it is long, so
//! not part of CI.
//!
//! One MariaDB on two cores takes only so many rows a second into the pass
//! table with its indexes, so every figure is set beside that ceiling,
//! measured in the same run with the same settings and schema:
//! `LOAD DATA LOCAL INFILE` of the same passes into both shards at once,
//! before the other rows and again after them (the × column uses the
//! mean: this machine's speed drifts within minutes).
//!
//!   ceiling      LOAD DATA of each shard's rows, both shards in parallel
//!   bulk         `gantry import --config` (parse, detect, rollups, warnings)
//!   classic      one connection and one INSERT per row, as the seed scripts
//!   sqlite       `gantry import` into the embedded store, for comparison
//!   sustained    tail → Kafka → 2 workers → 2 shards + Redis, from the tail's
//!                start until the shards count every pass
//!   latency      a log written at a steady rate through the same pipeline:
//!                from a line's append to the log to its warning on Redis
//!
//! Sizes: GANTRY_BENCH_RECORDS (default 1,000,000), GANTRY_BENCH_CLASSIC_ROWS
//! (20,000), GANTRY_BENCH_RATE (lines/s of the latency run, 5,000),
//! GANTRY_BENCH_LATENCY_S (its length, 40) and GANTRY_BENCH_WORKERS (of the
//! sustained and latency runs, 2). GANTRY_BENCH_ONLY=latency runs the
//! latency run alone; =bulk, =classic, =sqlite or =sustained that row
//! beside the ceiling; GANTRY_BENCH_VERBOSE=1 shows gantry's output (the
//! workers' logs at the end of their run).
//! Both runs through Kafka start once the workers' group has settled.
//!
//! Each row starts once both servers have been idle for a second (dropping
//! the last row's databases leaves them background work). Beside each row:
//! the CPU time both MariaDB servers spent while it ran, per row as a
//! multiple of the ceiling's. On two shared cores the servers' CPU and
//! everyone else's add up, so this column tells how much of a gap is the
//! database doing more work and how much is gantry's own.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    create_topic, gantry, kafka_brokers, redis_url, servers, spawn_logged, summary_value,
};
use gantry_core::ShardRouter;
use mysql::prelude::Queryable;

/// The server settings the ceiling is quoted for.
const SETTINGS: [(&str, &str); 3] = [
    ("innodb_buffer_pool_size", "2147483648"),
    ("innodb_flush_log_at_trx_commit", "2"),
    ("local_infile", "1"),
];

const COLUMNS: &str = "gcxh, xzqhmc, kkmc, fxlx, gcsj, hpzl, hphm, clppxh, province, \
                       is_weekend, is_peak_hour, vehicle_type_name";

/// Partitions of the raw topic: two workers take two each.
const PARTITIONS: usize = 4;

/// Workers in the sustained and latency runs (GANTRY_BENCH_WORKERS).
fn workers() -> usize {
    usize::try_from(env_or("GANTRY_BENCH_WORKERS", 2)).unwrap_or(2)
}

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let records = env_or("GANTRY_BENCH_RECORDS", 1_000_000);
    let classic_rows = env_or("GANTRY_BENCH_CLASSIC_ROWS", 20_000);
    let rate = env_or("GANTRY_BENCH_RATE", 5_000);
    let latency_s = env_or("GANTRY_BENCH_LATENCY_S", 40);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data/distributed");
    fs::create_dir_all(&dir).unwrap();
    let servers = servers();
    assert_eq!(servers.len(), 2, "the benchmark wants two MariaDB servers");
    let _ = SERVER_PIDS.set(server_pids(&servers));
    let _settings = ServerSettings::apply(&servers);
    let only = std::env::var("GANTRY_BENCH_ONLY").ok();
    if only.as_deref() != Some("latency") {
        throughput(&servers, &dir, records, classic_rows, only.as_deref());
    }
    if only.is_some_and(|o| o != "latency") {
        return;
    }

    let latency = latency_run(&servers, &dir, rate, latency_s);
    println!(
        "\nlatency, log append → warning on Redis, {rate} lines/s for {latency_s} s \
         (detector lateness 0 s): {} warnings, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latency.len(),
        percentile(&latency, 0.50),
        percentile(&latency, 0.99),
        percentile(&latency, 1.0)
    );
}

/// The rows/s table: every way into the shards beside the ceiling, or
/// only the one `only` names ("bulk", "classic", "sqlite", "sustained").
fn throughput(servers: &[String], dir: &Path, records: u64, classic_rows: u64, only: Option<&str>) {
    let input = Input::simulate(dir, records, None, 5, (records / 2000).max(10));
    let rows = input.rows();
    let mut table = Vec::new();
    let before = load_data_ceiling(servers, &input);
    table.push((
        "LOAD DATA ceiling, 2 shards in parallel, before".to_owned(),
        before,
        rows,
    ));
    let runs = |what: &str| only.is_none_or(|o| o == what);
    if runs("bulk") {
        let bulk = bulk_import(servers, &input);
        table.push((
            "gantry import --config (2 MariaDB shards)".to_owned(),
            bulk,
            rows,
        ));
    }
    if runs("classic") {
        let classic = classic_inserts(servers, &input, classic_rows);
        table.push((
            format!("classic: connection + INSERT per row ({classic_rows} rows)"),
            classic,
            classic_rows,
        ));
    }
    // The embedded import also tells how many passes the pipeline accepts.
    let (sqlite, accepted) = sqlite_import(dir, &input);
    if runs("sqlite") {
        table.push((
            "gantry import, embedded SQLite (2 shards)".to_owned(),
            sqlite,
            rows,
        ));
    }
    if runs("sustained") {
        let sustained = sustained_pipeline(servers, dir, &input, accepted);
        table.push((
            format!("tail → Kafka → {} worker(s) → 2 shards + Redis", workers()),
            sustained,
            rows,
        ));
    }

    // This machine's speed drifts within minutes: the rows between are set
    // beside the mean of a ceiling measured before and one after them.
    let after = load_data_ceiling(servers, &input);
    table.push((
        "LOAD DATA ceiling, 2 shards in parallel, after".to_owned(),
        after,
        rows,
    ));
    let ceiling = (before.seconds + after.seconds) / 2.0;
    let ceiling_cpu = (before.db_cpu + after.db_cpu) / 2.0 / rows as f64;

    println!("\n{records} simulated passes; MariaDB with {SETTINGS:?}");
    println!("| what | rows/s | × ceiling | rows | MariaDB CPU-s | per row × ceiling's |");
    println!("|---|---|---|---|---|---|");
    for (what, timing, n) in &table {
        let per_s = *n as f64 / timing.seconds;
        let ceiling_per_s = rows as f64 / ceiling;
        println!(
            "| {what} | {per_s:.0} | {:.2} | {n} | {:.1} | {:.2} |",
            per_s / ceiling_per_s,
            timing.db_cpu,
            timing.db_cpu / *n as f64 / ceiling_cpu
        );
    }
}

/// Sets [`SETTINGS`] on both servers for the run and puts the old values
/// back after.
struct ServerSettings {
    old: Vec<(String, Vec<(String, String)>)>,
}

impl ServerSettings {
    fn apply(servers: &[String]) -> Self {
        let mut old = Vec::new();
        for server in servers {
            let mut conn = connect(server, None);
            let mut values = Vec::new();
            for (name, value) in SETTINGS {
                let was: String = conn
                    .query_first(format!("SELECT @@GLOBAL.{name}"))
                    .unwrap()
                    .unwrap();
                conn.query_drop(format!("SET GLOBAL {name} = {value}"))
                    .unwrap();
                values.push((name.to_owned(), was));
            }
            old.push((server.clone(), values));
        }
        ServerSettings { old }
    }
}

impl Drop for ServerSettings {
    fn drop(&mut self) {
        for (server, values) in &self.old {
            let mut conn = connect(server, None);
            for (name, was) in values {
                let _ = conn.query_drop(format!("SET GLOBAL {name} = {was}"));
            }
        }
    }
}

fn connect(server: &str, db: Option<&str>) -> mysql::Conn {
    let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(server).unwrap())
        .db_name(db.map(str::to_owned));
    mysql::Conn::new(opts).unwrap()
}

/// DSNs of databases `gantry_bench_{name}_0` and `_1`, one per server,
/// dropped first so each run starts empty (gantry creates its own).
fn shard_dsns(servers: &[String], name: &str) -> Vec<String> {
    let dsns: Vec<String> = servers
        .iter()
        .enumerate()
        .map(|(i, server)| format!("{server}/gantry_bench_{name}_{i}"))
        .collect();
    drop_shards(&dsns);
    dsns
}

/// Creates the databases of `dsns` with gantry's schema, for the loads
/// that do not go through gantry.
fn with_schema(dsns: Vec<String>) -> Vec<String> {
    let schema = include_str!("../../gantry-store/src/mysql/schema.sql");
    for dsn in &dsns {
        let (server, db) = dsn.rsplit_once('/').unwrap();
        let mut conn = connect(server, None);
        conn.query_drop(format!("CREATE DATABASE `{db}`")).unwrap();
        conn.query_drop(format!("USE `{db}`")).unwrap();
        for statement in schema.split(";\n").filter(|s| !sql_is_blank(s)) {
            conn.query_drop(statement).unwrap();
        }
    }
    dsns
}

fn sql_is_blank(statement: &str) -> bool {
    statement
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

/// Simulated passes, with the checkpoints that place them, and each
/// shard's lines split out for `LOAD DATA`.
struct Input {
    file: PathBuf,
    checkpoints: PathBuf,
    by_shard: [PathBuf; 2],
    lines: u64,
}

impl Input {
    fn simulate(dir: &Path, records: u64, rate: Option<u64>, seed: u64, clones: u64) -> Input {
        let name = format!("passes-{records}-{}-{seed}-{clones}", rate.unwrap_or(0));
        let file = dir.join(format!("{name}.tsv"));
        let checkpoints = dir.join(format!("{name}.checkpoints.csv"));
        let mut args = vec![
            "simulate".to_owned(),
            "--fast".into(),
            "--records".into(),
            records.to_string(),
            "--seed".into(),
            seed.to_string(),
            "--clones".into(),
            clones.to_string(),
            "--out".into(),
            file.display().to_string(),
            "--checkpoints-out".into(),
            checkpoints.display().to_string(),
        ];
        if let Some(rate) = rate {
            args.extend(["--rate".into(), rate.to_string()]);
        }
        if !file.exists() {
            gantry(&args.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let by_shard = [0, 1].map(|i| dir.join(format!("{name}.shard-{i}.tsv")));
        let router = ShardRouter::mycat(2);
        let mut outs = by_shard
            .clone()
            .map(|p| BufWriter::new(fs::File::create(p).unwrap()));
        let mut lines = 0;
        for line in BufReader::new(fs::File::open(&file).unwrap()).lines() {
            let line = line.unwrap();
            let kkmc = line.split('\t').nth(2).unwrap_or_default();
            writeln!(outs[router.shard_of(kkmc)], "{line}").unwrap();
            lines += 1;
        }
        for out in &mut outs {
            out.flush().unwrap();
        }
        Input {
            file,
            checkpoints,
            by_shard,
            lines,
        }
    }

    fn rows(&self) -> u64 {
        self.lines
    }

    fn path(&self) -> String {
        self.file.display().to_string()
    }

    /// A gantry.toml over `dsns`, with `detector` lines in `[detector]`,
    /// plus `more`.
    fn config(
        &self,
        dir: &Path,
        name: &str,
        dsns: &[String],
        detector: &str,
        more: &str,
    ) -> String {
        let path = dir.join(format!("{name}.toml"));
        let list: Vec<String> = dsns.iter().map(|d| format!("{d:?}")).collect();
        fs::write(
            &path,
            format!(
                "[store]\nengine = \"mysql\"\nmysql_shards = [{}]\n\
                 [detector]\ncheckpoints = {:?}\n{detector}\n{more}",
                list.join(", "),
                self.checkpoints.display().to_string()
            ),
        )
        .unwrap();
        path.display().to_string()
    }
}

/// How long a run took, and the CPU time the MariaDB servers spent meanwhile.
#[derive(Clone, Copy)]
struct Timing {
    seconds: f64,
    db_cpu: f64,
}

/// The MariaDB servers' process ids (for their CPU time), once per run.
static SERVER_PIDS: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();

/// Each server's process id, from the pid file it names.
fn server_pids(servers: &[String]) -> Vec<u32> {
    servers
        .iter()
        .map(|server| {
            let file: String = connect(server, None)
                .query_first("SELECT @@pid_file")
                .unwrap()
                .unwrap();
            let pid = fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {server}'s pid file {file}: {e}"));
            pid.trim().parse().unwrap()
        })
        .collect()
}

/// CPU seconds (user and system) the servers have used so far.
fn servers_cpu() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let pids = SERVER_PIDS.get().map(Vec::as_slice).unwrap_or_default();
    pids.iter()
        .map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            // Fields after the command's closing parenthesis; utime and
            // stime are the 14th and 15th of the whole line.
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            let used: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
            used as f64 / ticks
        })
        .sum()
}

/// Waits (at most a minute) until the servers have been all but idle for a
/// second: dropping the last run's databases leaves them work to do in
/// the background (purge, freeing pages), which would count against the
/// next run.
fn servers_quiet() {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = servers_cpu();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        let now = servers_cpu();
        if now - last < 0.05 {
            return;
        }
        last = now;
    }
}

/// How long `f` took, and the servers' CPU time meanwhile, from quiet servers.
fn timed(what: &str, f: impl FnOnce()) -> Timing {
    servers_quiet();
    eprintln!("bench: {what} …");
    let cpu = servers_cpu();
    let start = Instant::now();
    f();
    let seconds = start.elapsed().as_secs_f64();
    let db_cpu = servers_cpu() - cpu;
    eprintln!("bench: {what}: {seconds:.1} s, MariaDB {db_cpu:.1} CPU-s");
    Timing { seconds, db_cpu }
}

fn load_data_ceiling(servers: &[String], input: &Input) -> Timing {
    let dsns = with_schema(shard_dsns(servers, "ceiling"));
    let timing = timed("LOAD DATA into both shards", || {
        std::thread::scope(|scope| {
            for (dsn, file) in dsns.iter().zip(&input.by_shard) {
                scope.spawn(move || load_data(dsn, file));
            }
        });
    });
    drop_shards(&dsns);
    timing
}

/// `LOAD DATA LOCAL INFILE` by the `mariadb` client, as a DBA loads a dump.
fn load_data(dsn: &str, file: &Path) {
    let opts = mysql::Opts::from_url(dsn).unwrap();
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE passes CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' ({COLUMNS})",
        file.display()
    );
    let status = Command::new("mariadb")
        .arg("--local-infile=1")
        .arg(format!("-h{}", opts.get_ip_or_hostname()))
        .arg(format!("-P{}", opts.get_tcp_port()))
        .arg(format!("-u{}", opts.get_user().unwrap_or("root")))
        .arg(opts.get_db_name().unwrap())
        .args(["-e", &sql])
        .status()
        .unwrap();
    assert!(status.success(), "LOAD DATA into {dsn} failed");
}

fn drop_shards(dsns: &[String]) {
    for dsn in dsns {
        let (server, db) = dsn.rsplit_once('/').unwrap();
        connect(server, None)
            .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
            .unwrap();
    }
}

/// `gantry import --config` into the MariaDB shards.
fn bulk_import(servers: &[String], input: &Input) -> Timing {
    let dsns = shard_dsns(servers, "bulk");
    let dir = input.file.parent().unwrap();
    let config = input.config(dir, "bulk", &dsns, "", "");
    let timing = timed("gantry import into 2 MariaDB shards", || {
        gantry(&["import", "--config", &config, &input.path()]);
    });
    drop_shards(&dsns);
    timing
}

/// The seed scripts' way: for each row a new connection, one INSERT, a
/// commit, and close.
fn classic_inserts(servers: &[String], input: &Input, rows: u64) -> Timing {
    let dsns = with_schema(shard_dsns(servers, "classic"));
    let router = ShardRouter::mycat(2);
    let lines: Vec<String> = BufReader::new(fs::File::open(&input.file).unwrap())
        .lines()
        .take(usize::try_from(rows).unwrap())
        .map(Result::unwrap)
        .collect();
    let sql = format!("INSERT INTO passes ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    let timing = timed("classic per-row inserts", || {
        for line in &lines {
            let fields: Vec<&str> = line.split('\t').collect();
            let dsn = &dsns[router.shard_of(fields[2])];
            let mut conn = mysql::Conn::new(mysql::Opts::from_url(dsn).unwrap()).unwrap();
            conn.exec_drop(&sql, fields).unwrap();
        }
    });
    drop_shards(&dsns);
    timing
}

/// The embedded import, and how many passes it accepted.
fn sqlite_import(dir: &Path, input: &Input) -> (Timing, u64) {
    let data = dir.join("sqlite-store");
    let _ = fs::remove_dir_all(&data);
    let data_s = data.display().to_string();
    let checkpoints = input.checkpoints.display().to_string();
    let mut accepted = 0;
    let timing = timed("gantry import into embedded SQLite", || {
        let out = gantry(&[
            "import",
            "--data-dir",
            &data_s,
            "--checkpoints",
            &checkpoints,
            &input.path(),
        ]);
        accepted = summary_value(&out.stdout, "accepted");
    });
    let _ = fs::remove_dir_all(&data);
    (timing, accepted)
}

/// Kafka topics and Redis keys of one pipeline run.
struct Pipeline {
    config: String,
    dsns: Vec<String>,
    channel: String,
    /// Where the workers' logs go.
    dir: PathBuf,
}

impl Pipeline {
    fn new(servers: &[String], input: &Input, name: &str, detector: &str) -> Pipeline {
        let dsns = shard_dsns(servers, name);
        let tag = format!("gantry-bench-{name}-{}", std::process::id());
        create_topic(&format!("{tag}-raw"), PARTITIONS as i32);
        create_topic(&format!("{tag}-warnings"), 1);
        let more = format!(
            "[kafka]\nbrokers = {:?}\ntopic = \"{tag}-raw\"\n\
             warnings_topic = \"{tag}-warnings\"\ngroup = \"{tag}\"\n\
             [redis]\nurl = {:?}\nlist = \"{tag}:warnings\"\nchannel = \"{tag}:warnings\"\n\
             max_len = 1000\n[tail]\nsink = \"kafka\"\n",
            kafka_brokers(),
            redis_url()
        );
        let dir = input.file.parent().unwrap();
        Pipeline {
            config: input.config(dir, name, &dsns, detector, &more),
            dsns,
            channel: format!("{tag}:warnings"),
            dir: dir.to_owned(),
        }
    }

    /// `n` workers, in a group that has settled before records flow: a
    /// rebalance stops consumption for seconds, which is the group's
    /// start-up and not the pipeline's latency.
    fn workers(&self, n: usize) -> Running {
        let log = |i: usize| self.dir.join(format!("worker-{i}.log"));
        // A larger earlier run's logs would be shown as this run's.
        (n..)
            .take_while(|&i| fs::remove_file(log(i)).is_ok())
            .count();
        let logs: Vec<PathBuf> = (0..n).map(log).collect();
        let mut workers = Running(
            logs.iter()
                .map(|log| spawn_logged(&["worker", "--config", &self.config], log))
                .collect(),
        );
        wait_settled(&logs, &mut workers.0);
        workers
    }

    fn tail(&self, pattern: &str, positions: &Path) -> Running {
        Running(vec![spawn(&[
            "tail",
            pattern,
            "--config",
            &self.config,
            "--position-file",
            &positions.display().to_string(),
        ])])
    }

    /// Passes the shards have counted so far (their rollups, cheap to read).
    fn stored(&self) -> u64 {
        self.dsns
            .iter()
            .map(|dsn| {
                let mut conn = mysql::Conn::new(mysql::Opts::from_url(dsn).unwrap()).unwrap();
                let n: Option<u64> = conn
                    .query_first(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS UNSIGNED) FROM rollup_checkpoint",
                    )
                    .unwrap();
                n.unwrap_or(0)
            })
            .sum()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if std::env::var_os("GANTRY_BENCH_VERBOSE").is_some() {
            for i in 0.. {
                let Ok(said) = fs::read_to_string(self.dir.join(format!("worker-{i}.log"))) else {
                    break;
                };
                eprintln!("worker {i}:\n{said}");
            }
        }
        drop_shards(&self.dsns);
        let mut conn = redis::Client::open(redis_url())
            .unwrap()
            .get_connection()
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.channel))
            .query(&mut conn)
            .unwrap();
        for key in keys {
            let _: () = redis::cmd("DEL").arg(key).query(&mut conn).unwrap();
        }
    }
}

/// Waits until each worker's last assignment (from its log) is its even
/// share of [`PARTITIONS`] and no log has changed for a while: tansu lists
/// no consumer groups, so the workers' own word is what there is.
fn wait_settled(logs: &[PathBuf], workers: &mut [Child]) {
    let share = PARTITIONS / logs.len();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = Vec::new();
    let mut quiet_since = Instant::now();
    loop {
        for worker in workers.iter_mut() {
            let status = worker.try_wait().unwrap();
            assert!(status.is_none(), "a worker exited: {status:?}");
        }
        let said: Vec<String> = logs
            .iter()
            .map(|log| fs::read_to_string(log).unwrap_or_default())
            .collect();
        if said != last {
            last = said;
            quiet_since = Instant::now();
        }
        let even = last.iter().all(|said| {
            said.lines()
                .rev()
                .find_map(|l| l.split_once("partitions [")?.1.split_once(']'))
                .is_some_and(|(held, _)| held.split(',').count() >= share)
        });
        if even && quiet_since.elapsed() > Duration::from_secs(6) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the workers' group did not settle"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A gantry process; its output is shown with GANTRY_BENCH_VERBOSE=1.
fn spawn(args: &[&str]) -> Child {
    let output = || {
        if std::env::var_os("GANTRY_BENCH_VERBOSE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(args)
        .stdout(output())
        .stderr(output())
        .spawn()
        .unwrap()
}

/// gantry processes, killed when dropped: also when the bench panics,
/// so no worker outlives its run and loads the next.
struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// From the tail's start until the shards hold all `accepted`
/// passes of the input, with the whole file waiting in the log.
fn sustained_pipeline(servers: &[String], dir: &Path, input: &Input, accepted: u64) -> Timing {
    let pipeline = Pipeline::new(servers, input, "sustained", "");
    let workers = pipeline.workers(workers());
    let positions = dir.join("sustained.positions.json");
    let _ = fs::remove_file(&positions);
    let mut tail = None;
    let timing = timed("tail → Kafka → workers → shards + Redis", || {
        tail = Some(pipeline.tail(&input.path(), &positions));
        let deadline = Instant::now() + Duration::from_secs(3600);
        while pipeline.stored() < accepted {
            assert!(Instant::now() < deadline, "the pipeline did not finish");
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    drop((tail, workers));
    timing
}

/// Latencies (ms) from each line's append to the log until the warning it
/// raised is published on Redis, with the log written at `rate` lines/s.
fn latency_run(servers: &[String], dir: &Path, rate: u64, seconds: u64) -> Vec<f64> {
    let input = Input::simulate(dir, rate * seconds, Some(rate), 7, rate * seconds / 200);
    let pipeline = Pipeline::new(servers, &input, "latency", "lateness_s = 0");
    let (tx, rx) = mpsc::channel();
    let channel = pipeline.channel.clone();
    std::thread::spawn(move || subscribe(&channel, &tx));
    let workers = pipeline.workers(workers());
    let live = dir.join("latency.log");
    let positions = dir.join("latency.positions.json");
    let _ = fs::remove_file(&positions);
    fs::write(&live, "").unwrap();
    let tail = pipeline.tail(&live.display().to_string(), &positions);
    let written = write_paced(&input.file, &live, rate);
    std::thread::sleep(Duration::from_secs(5));
    drop((tail, workers));
    let mut latencies: Vec<f64> = rx
        .try_iter()
        .filter_map(|(gcxh, at): (String, Instant)| {
            let appended = written.get(&gcxh)?;
            Some(at.duration_since(*appended).as_secs_f64() * 1000.0)
        })
        .collect();
    assert!(!latencies.is_empty(), "no warning reached Redis");
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// Appends `from`'s lines to `to`, `rate` a second in 20 ms steps;
/// returns when each GCXH was written.
fn write_paced(from: &Path, to: &Path, rate: u64) -> HashMap<String, Instant> {
    let lines: Vec<String> = BufReader::new(fs::File::open(from).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    let mut out = fs::OpenOptions::new().append(true).open(to).unwrap();
    let per_step = usize::try_from((rate / 50).max(1)).unwrap();
    let start = Instant::now();
    let mut written = HashMap::with_capacity(lines.len());
    for (step, chunk) in lines.chunks(per_step).enumerate() {
        let due = start + Duration::from_millis(20 * step as u64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let mut text = String::new();
        for line in chunk {
            text.push_str(line);
            text.push('\n');
        }
        out.write_all(text.as_bytes()).unwrap();
        let now = Instant::now();
        for line in chunk {
            written.insert(line.split('\t').next().unwrap().to_owned(), now);
        }
    }
    written
}

/// Sends (second sighting's GCXH, arrival) of each warning published on
/// `channel`.
fn subscribe(channel: &str, tx: &mpsc::Sender<(String, Instant)>) {
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut pubsub = conn.as_pubsub();
    pubsub.subscribe(channel).unwrap();
    while let Ok(message) = pubsub.get_message() {
        let at = Instant::now();
        let payload: String = message.get_payload().unwrap();
        let warning: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let gcxh = warning["second"]["gcxh"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if tx.send((gcxh, at)).is_err() {
            return;
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}
