//! One module per subcommand.

mod demo;
mod detect;
mod import;
mod serve;
mod shard_of;
mod simulate;
mod warnings;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use gantry_core::{CheckpointDirectory, DetectorConfig};

use gantry_store::{SqliteStore, Store};

use crate::cli::{Cli, Command, DetectorArgs, StoreArgs};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import(args) => import::run(args),
        Command::Warnings(args) => warnings::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Detect(args) => detect::run(args),
        Command::ShardOf(args) => shard_of::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
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

/// Opens (creating if needed) the embedded store the options name.
pub fn open_store(args: &StoreArgs) -> anyhow::Result<Box<dyn Store>> {
    open_sqlite(&args.data_dir, args.shards)
}

/// Opens a store that must exist already (for commands that only read).
pub fn open_existing_store(args: &StoreArgs) -> anyhow::Result<Box<dyn Store>> {
    if !args.data_dir.is_dir() {
        bail!(
            "data dir {} does not exist: import or run the demo first",
            args.data_dir.display()
        );
    }
    open_store(args)
}

fn open_sqlite(dir: &Path, shards: u16) -> anyhow::Result<Box<dyn Store>> {
    let store = SqliteStore::open(dir, usize::from(shards))
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    Ok(Box::new(store))
}
