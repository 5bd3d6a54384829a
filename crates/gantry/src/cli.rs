//! Command-line interface.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "gantry", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import pass files (format (a) lines, headed CSV/TSV in UTF-8 or GBK, ETC records) into the store.
    Import(ImportArgs),
    /// Print every cloned-plate warning in the store.
    Warnings(WarningsArgs),
    /// Generate simulated checkpoint traffic as format (a) lines.
    Simulate(SimulateArgs),
    /// Publish simulated IoT devices (temperature, humidity, pressure) to an MQTT broker, in all three payload shapes.
    SimulateSensors(SimulateSensorsArgs),
    /// Stream files or stdin through the detector and print warnings as JSON lines; stores nothing.
    Detect(DetectArgs),
    /// Print the shard MyCat's PartitionByMurmurHash picks for each checkpoint name.
    ShardOf(ShardOfArgs),
    /// Run simulator → pipeline → store continuously, printing live counts until Ctrl-C.
    Demo(DemoArgs),
    /// Serve the HTTP API (JSON queries, statistics, live warnings) over an existing store.
    Serve(ServeArgs),
    /// Follow growing files of format (a) lines (UTF-8 or GBK), as Flume's TAILDIR does, into the store.
    Tail(TailArgs),
    /// Consume the raw topic as one of a Kafka consumer group: detect, store, push warnings to Redis and Kafka, then commit.
    Worker(WorkerArgs),
    /// Check a gantry.toml, or print a commented example of every key.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE (and the GANTRY_… overrides) and summarise what it sets.
    Check { file: PathBuf },
    /// Print a commented gantry.toml with every key and its default.
    Example,
}

/// Which store to use: the embedded one by default, or what `--config` names.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// gantry.toml to read (its [store] section picks the engine: sqlite or mysql).
    #[arg(long, env = "GANTRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory of the embedded store (one SQLite file per shard) [default: gantry-data, or the config's].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of shards, fixed when the data directory is created [default: 2, or the config's].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub shards: Option<u16>,
}

/// Cloned-plate detector settings.
#[derive(Debug, Args, Clone)]
pub struct DetectorArgs {
    /// Checkpoints CSV with header kkmc,kkbh,lon,lat (more columns allowed).
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Straight-line speed above which two sightings are impossible, km/h.
    #[arg(long, default_value_t = 200.0)]
    pub speed_limit: f64,
    /// Fallback window when a checkpoint has no coordinates, seconds.
    #[arg(long, default_value_t = 300)]
    pub window: i64,
    /// How late a record may arrive and still be ordered, seconds.
    #[arg(long, default_value_t = 300)]
    pub lateness: i64,
    /// How long a plate's last sighting is kept, seconds.
    #[arg(long, default_value_t = 6 * 3600)]
    pub horizon: i64,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Files to import ("-" for stdin).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WarningFormat {
    Jsonl,
    Table,
}

#[derive(Debug, Args)]
pub struct WarningsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: WarningFormat,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Stop after this many records (default: run until Ctrl-C).
    #[arg(long)]
    pub records: Option<u64>,
    /// Records per second in real time; the fleet is sized for it.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Write as fast as possible instead of in real time (needs --records).
    #[arg(long)]
    pub fast: bool,
    /// Vehicles in the fleet (default: sized for --rate).
    #[arg(long)]
    pub vehicles: Option<usize>,
    /// Seed: the same options and seed give the same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cloned plates to inject (each driven by two vehicles far apart).
    #[arg(long, default_value_t = 5)]
    pub clones: usize,
    /// Share of records with placeholder or unreadable plates.
    #[arg(long, default_value_t = 0.01)]
    pub placeholders: f64,
    /// Some records arrive up to this many seconds late.
    #[arg(long, default_value_t = 0)]
    pub max_delay: u32,
    /// Share of records written twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicates: f64,
    /// Event time of the first record, "YYYY-MM-DD HH:MM:SS" (default: now in real time, 2023-12-01 00:00:00 with --fast).
    #[arg(long)]
    pub start: Option<String>,
    /// Output file (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Write the ground truth (cloned plates, CSV hphm,hpzl) here.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Write the network's checkpoints CSV (kkmc,kkbh,lon,lat) here.
    #[arg(long)]
    pub checkpoints_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Files to read ("-" or none for stdin).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShardOfArgs {
    /// Number of shards (MyCat data nodes).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub shards: u16,
    /// Checkpoint names (KKMC).
    #[arg(required = true)]
    pub kkmc: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory (default: a new temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of shards.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub shards: u16,
    /// Simulated records per second.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Cloned plates the simulator injects: one sets off at once, the others
    /// over the first 10 minutes; each raises a warning every ~15 minutes.
    #[arg(long, default_value_t = 30)]
    pub clones: usize,
    /// Seed of the simulator (default: from the clock, so a restarted demo
    /// on the same data dir generates new pass ids, not the old ones again).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How late a record may arrive and still be ordered, seconds. Warnings
    /// wait this long, so the live demo keeps it short.
    #[arg(long, default_value_t = 30)]
    pub lateness: i64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Port of the embedded MQTT broker devices publish to (default 1883, or a free port when 1883 is taken; 0: any free port).
    #[arg(long)]
    pub mqtt_port: Option<u16>,
    /// Simulated IoT devices publishing to the embedded broker once a second (0: none).
    #[arg(long, default_value_t = 6)]
    pub sensors: usize,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, Args)]
pub struct SimulateSensorsArgs {
    /// MQTT broker host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// MQTT broker port.
    #[arg(long, default_value_t = 1883)]
    pub port: u16,
    /// Number of devices (dev-01 …); device i publishes in payload shape i mod 3.
    #[arg(long, default_value_t = 6)]
    pub devices: usize,
    /// Milliseconds between two rounds of readings.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Stop after this many rounds (default: run until Ctrl-C).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Topics are PREFIX/DEVICE.
    #[arg(long, default_value = "sensors")]
    pub topic_prefix: String,
    /// Chance a device skips a round.
    #[arg(long, default_value_t = 0.05)]
    pub dropout: f64,
    /// Chance a message is garbage the store must refuse.
    #[arg(long, default_value_t = 0.02)]
    pub garbage: f64,
    /// MQTT QoS of the messages, 0 or 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Seed of the simulated devices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Where the HTTP API listens.
#[derive(Debug, Args, Clone)]
pub struct HttpArgs {
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port the HTTP API listens on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Also let web pages from this origin ("http://host:port") call the API (CORS); repeatable, "*" for any.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// gantry.toml to read; with store.engine = "mysql" the API serves the MariaDB/MySQL shards.
    #[arg(long, env = "GANTRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory of the store to serve (read only, alongside any writer).
    #[arg(long, default_value = "gantry-data")]
    pub data_dir: PathBuf,
    /// Number of shards the store must have (default: whatever it was created with).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub shards: Option<u16>,
    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    /// Files or globs ("/var/log/kakou/*.log"; wildcards in the file name) [default: the config's tail.paths].
    pub paths: Vec<String>,
    /// Where read positions are kept across restarts [default: the config's tail.position_file].
    #[arg(long)]
    pub position_file: Option<PathBuf>,
    /// Start files already present (and not in the position file) at their end, not their start.
    #[arg(long)]
    pub from_end: bool,
    /// Exit once no new line has arrived for this many milliseconds (default: follow until Ctrl-C).
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// gantry.toml with [kafka], [store] and optionally [redis] and [detector].
    #[arg(long, env = "GANTRY_CONFIG")]
    pub config: PathBuf,
    /// Release the detector's reorder buffer once no record has come for this long, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub idle_flush_ms: u64,
    /// Exit once no record has come for this many milliseconds, the worker holds its share of the partitions and the group has committed every record of the topic (default: run until Ctrl-C).
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
}
