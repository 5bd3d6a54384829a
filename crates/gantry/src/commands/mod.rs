//! One module per subcommand.

mod demo;
mod detect;
mod import;
mod serve;
mod shard_of;
mod simulate;
mod simulate_sensors;
mod tail;
mod warnings;
mod worker;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::NaiveDateTime;
use gantry_core::{
    CheckpointDirectory, Detector, DetectorConfig, Pass, RejectReason, Rejection, Warning,
};

use gantry_store::mysql::{MysqlOptions, MysqlStore};
use gantry_store::{Batch, PassQuery, SqliteStore, Store, StoreError, WriteSummary};

use crate::cli::{Cli, Command, ConfigCommand, DetectorArgs, StoreArgs};
use crate::clock::china_now_seconds;
use crate::config::{Config, Engine};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import(args) => import::run(args),
        Command::Warnings(args) => warnings::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::SimulateSensors(args) => simulate_sensors::run(args),
        Command::Detect(args) => detect::run(args),
        Command::ShardOf(args) => shard_of::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Worker(args) => worker::run(args),
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

/// The detector settings of a config's `[detector]` (checked when loaded).
pub fn detector_from_config(c: &crate::config::DetectorConfig) -> DetectorConfig {
    DetectorConfig {
        speed_limit_kmh: c.speed_limit_kmh,
        window_s: c.window_s,
        lateness_s: c.lateness_s,
        horizon_s: c.horizon_s,
        ..DetectorConfig::default()
    }
}

/// The store's checkpoints, with those of `file` (when given) added and stored.
pub fn checkpoints_with(
    store: &mut dyn Store,
    file: Option<&Path>,
) -> anyhow::Result<CheckpointDirectory> {
    let mut checkpoints = store
        .checkpoints()
        .context("cannot read stored checkpoints")?;
    if let Some(path) = file {
        for checkpoint in load_checkpoints(path)?.iter() {
            checkpoints.upsert(checkpoint.clone());
        }
        store
            .upsert_checkpoints(&checkpoints)
            .context("cannot store checkpoints")?;
    }
    Ok(checkpoints)
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
/// is as old as its records) through the detector, so plates seen before
/// the restart are still compared. Warnings it raises again are written
/// idempotently (same ids) and returned, for other sinks.
pub fn restore_detector(
    detector: &mut Detector,
    store: &mut dyn Store,
) -> anyhow::Result<Vec<Warning>> {
    let recent = recent_passes(store, detector.config().horizon_s)?;
    restore_with(store, &recent, |pass, now, out| {
        detector.observe(&pass.as_ref(), now, out);
        true
    })
}

/// The stored passes of the last `horizon_s` seconds before the newest one,
/// in time order.
pub fn recent_passes(store: &dyn Store, horizon_s: i64) -> anyhow::Result<Vec<Pass>> {
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
        return Ok(Vec::new());
    };
    store
        .recent_passes(latest - chrono::Duration::seconds(horizon_s))
        .context("cannot read recent passes to restore the detector")
}

/// Hands each pass to `observe` (which returns whether a detector took
/// it) and stores the warnings raised.
pub fn restore_with(
    store: &mut dyn Store,
    passes: &[Pass],
    mut observe: impl FnMut(&Pass, NaiveDateTime, &mut Vec<Warning>) -> bool,
) -> anyhow::Result<Vec<Warning>> {
    let now = china_now_seconds();
    let mut warnings = Vec::new();
    let mut restored = 0u64;
    for pass in passes {
        if observe(pass, now, &mut warnings) {
            restored += 1;
        }
    }
    if restored == 0 {
        return Ok(warnings);
    }
    store
        .write(&gantry_store::Batch {
            warnings: warnings.clone(),
            ..Default::default()
        })
        .context("cannot store restored warnings")?;
    println!("restored detector state from {restored} recent passes");
    Ok(warnings)
}

/// Longest wait between two tries of a write the store refused for a
/// passing reason (server down, lock conflict). Short enough that a worker
/// retrying through an outage still polls Kafka within its poll interval.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Writes `batch`, waiting out errors that pass (a shard restarting, a lock
/// conflict) with growing pauses, so the source does not move on and the
/// input waits where it is (files, Kafka). A batch the store refuses for
/// good is written pass by pass, and each pass it still refuses becomes a
/// rejected row with the store's reason (the dead letter), so one bad row
/// neither stops the pipeline nor goes missing. Ctrl-C ends the waiting.
pub fn store_batch(
    store: &mut dyn Store,
    batch: &Batch,
    stop: &AtomicBool,
) -> anyhow::Result<WriteSummary> {
    match write_retrying(store, batch, stop)? {
        Ok(summary) => Ok(summary),
        Err(e) if batch.passes.len() > 1 || !batch.warnings.is_empty() => {
            eprintln!("gantry: the store refused a batch ({e}); writing it pass by pass");
            dead_letter(store, batch, stop)
        }
        Err(e) => Err(e).context("the store refused a batch"),
    }
}

/// `Ok(Err(e))`: the store refused for good.
fn write_retrying(
    store: &mut dyn Store,
    batch: &Batch,
    stop: &AtomicBool,
) -> anyhow::Result<Result<WriteSummary, StoreError>> {
    let mut pause = Duration::from_millis(100);
    loop {
        match store.write(batch) {
            Ok(summary) => return Ok(Ok(summary)),
            Err(e) if e.is_transient() => {
                if stop.load(Ordering::SeqCst) {
                    return Err(e).context("stopped while the store was unavailable");
                }
                eprintln!("gantry: store unavailable, retrying in {pause:?}: {e}");
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

fn dead_letter(
    store: &mut dyn Store,
    batch: &Batch,
    stop: &AtomicBool,
) -> anyhow::Result<WriteSummary> {
    let mut total = WriteSummary::default();
    let mut refused = Vec::new();
    for pass in &batch.passes {
        let one = Batch {
            passes: vec![pass.clone()],
            ..Batch::default()
        };
        match write_retrying(store, &one, stop)? {
            Ok(summary) => total.add(summary),
            Err(e) => {
                let mut raw = String::new();
                gantry_core::formats::write_line(&pass.as_ref(), &mut raw);
                refused.push(Rejection {
                    source: "store".into(),
                    line: 0,
                    reason: RejectReason::Unstorable(e.to_string()),
                    raw,
                });
            }
        }
    }
    let rest = Batch {
        passes: Vec::new(),
        warnings: batch.warnings.clone(),
        rejected: batch.rejected.iter().cloned().chain(refused).collect(),
    };
    match write_retrying(store, &rest, stop)? {
        Ok(summary) => total.add(summary),
        Err(e) => return Err(e).context("the store refused even the rejected rows"),
    }
    Ok(total)
}

/// Runs `attempt` until it succeeds, pausing longer after each failure
/// (up to [`MAX_BACKOFF`]); Ctrl-C ends the waiting with the last error.
pub fn retry(
    what: &str,
    stop: &AtomicBool,
    mut attempt: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut pause = Duration::from_millis(100);
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(e) if !stop.load(Ordering::SeqCst) => {
                eprintln!("gantry: {what} unavailable, retrying in {pause:?}: {e:#}");
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e).context(format!("stopped while {what} was unavailable")),
        }
    }
}
