//! One module per subcommand.

mod demo;
mod detect;
mod import;
mod serve;
mod shard_of;
mod simulate;
mod tail;
mod warnings;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use gantry_core::{CheckpointDirectory, Detector, DetectorConfig};

use gantry_store::mysql::{MysqlOptions, MysqlStore};
use gantry_store::{PassQuery, SqliteStore, Store};

use crate::cli::{Cli, Command, ConfigCommand, DetectorArgs, StoreArgs};
use crate::clock::china_now_seconds;
use crate::config::{Config, Engine};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import(args) => import::run(args),
        Command::Warnings(args) => warnings::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Detect(args) => detect::run(args),
        Command::ShardOf(args) => shard_of::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Config(ConfigCommand::Check { file }) => {
            println!("{}", Config::load(&file)?.check_report());
            println!("{} is valid", file.display());
            Ok(())
        }
        Command::Config(ConfigCommand::Example) => {
            print!("{}", crate::config::EXAMPLE);
            Ok(())
        }
    }
}

/// The detector settings the options ask for, checked before anything runs.
pub fn detector_config(args: &DetectorArgs) -> anyhow::Result<DetectorConfig> {
    if !(args.speed_limit.is_finite() && args.speed_limit > 0.0) {
        bail!(
            "--speed-limit must be a positive number of km/h, not {}",
            args.speed_limit
        );
    }
    if args.window < 0 || args.lateness < 0 {
        bail!("--window and --lateness must not be negative");
    }
    if args.horizon <= 0 {
        bail!("--horizon must be a positive number of seconds");
    }
    Ok(DetectorConfig {
        speed_limit_kmh: args.speed_limit,
        window_s: args.window,
        lateness_s: args.lateness,
        horizon_s: args.horizon,
        ..DetectorConfig::default()
    })
}

/// Reads a checkpoints CSV (UTF-8 or GBK).
pub fn load_checkpoints(path: &Path) -> anyhow::Result<CheckpointDirectory> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = gantry_core::formats::decode_text(&bytes);
    CheckpointDirectory::from_csv(&text)
        .with_context(|| format!("checkpoints file {} is not usable", path.display()))
}

/// A flag set by Ctrl-C or SIGTERM, so loops stop cleanly and flush.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}

/// Opens (creating if needed) the store the options name: the embedded
/// one, or the MySQL shards of the config's `[store]`.
pub fn open_store(args: &StoreArgs) -> anyhow::Result<Box<dyn Store>> {
    let config = Config::load_or_default(args.config.as_deref())?;
    open_configured(args, &config, false)
}

/// Opens a store that must exist already (for commands that only read).
pub fn open_existing_store(args: &StoreArgs) -> anyhow::Result<Box<dyn Store>> {
    let config = Config::load_or_default(args.config.as_deref())?;
    open_configured(args, &config, true)
}

/// The store of `config`, with `--data-dir` and `--shards` taking
/// precedence for the embedded engine (and refused for MySQL, whose shards
/// are the DSN list).
pub fn open_configured(
    args: &StoreArgs,
    config: &Config,
    existing: bool,
) -> anyhow::Result<Box<dyn Store>> {
    match config.store.engine {
        Engine::Mysql => {
            if args.data_dir.is_some() || args.shards.is_some() {
                bail!("--data-dir and --shards are for the sqlite engine; the config's store.mysql_shards lists the MySQL shards");
            }
            let options = MysqlOptions {
                pool_size: usize::from(config.store.pool_size),
                ..MysqlOptions::default()
            };
            let store = MysqlStore::open(&config.store.mysql_shards, options)
                .context("cannot open the MySQL shards")?;
            Ok(Box::new(store))
        }
        Engine::Sqlite => {
            let dir = args.data_dir.as_ref().unwrap_or(&config.store.data_dir);
            if existing && !dir.is_dir() {
                bail!(
                    "data dir {} does not exist: import or run the demo first",
                    dir.display()
                );
            }
            open_sqlite(dir, args.shards.unwrap_or(config.store.shards))
        }
    }
}

fn open_sqlite(dir: &Path, shards: u16) -> anyhow::Result<Box<dyn Store>> {
    let store = SqliteStore::open(dir, usize::from(shards))
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    Ok(Box::new(store))
}

/// After a restart on the same store, replays the passes of the horizon
/// before the newest stored pass (not before the clock: a replayed history
/// is as old as its records) through the detector so plates seen before the restart are still
/// compared. Warnings it raises again are written idempotently (same ids).
pub fn restore_detector(detector: &mut Detector, store: &mut dyn Store) -> anyhow::Result<()> {
    let horizon = chrono::Duration::seconds(detector.config().horizon_s);
    let newest = PassQuery {
        size: 1,
        ..PassQuery::default()
    };
    let latest = store
        .query_passes(&newest)
        .context("cannot read the newest pass to restore the detector")?
        .items
        .first()
        .map(|p| p.time);
    let Some(latest) = latest else {
        return Ok(());
    };
    let recent = store
        .recent_passes(latest - horizon)
        .context("cannot read recent passes to restore the detector")?;
    if recent.is_empty() {
        return Ok(());
    }
    let now = china_now_seconds();
    let mut warnings = Vec::new();
    for pass in &recent {
        detector.observe(&pass.as_ref(), now, &mut warnings);
    }
    store
        .write(&gantry_store::Batch {
            warnings,
            ..Default::default()
        })
        .context("cannot store restored warnings")?;
    println!(
        "restored detector state from {} recent passes",
        recent.len()
    );
    Ok(())
}
