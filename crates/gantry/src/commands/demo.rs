//! `gantry demo`: simulator → pipeline → store, live, until Ctrl-C; beside
//! it, simulated sensors → embedded MQTT broker → series store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_core::{Detector, DetectorConfig};
use gantry_sim::sensors::{SensorConfig, SensorSim};
use gantry_sim::{SimConfig, Simulator};
use gantry_store::{SqliteStore, Store};

use crate::api::{Cors, Feed, LiveStore, Mode, Server, ServerConfig};
use crate::cli::DemoArgs;
use crate::clock::china_now_seconds;
use crate::config::{ArchiveConfig, MqttConfig};
use crate::pipeline::{Pipeline, BATCH};
use crate::sinks::archive::Archiver;
use crate::sinks::mqtt::MqttPublisher;
use crate::sinks::series::SharedSeries;
use crate::sources::mqtt::{broker, MqttLink};
use crate::sources::simulator::PacedSimulator;

use super::simulate_sensors::Devices;

/// How often batches are written and the live line is printed.
const TICK: Duration = Duration::from_secs(1);

/// The demo rolls an archive file a minute, so files appear while one looks.
const ARCHIVE_ROLL_SECS: u64 = 60;

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of records per second");
    }
    if args.lateness < 0 {
        bail!("--lateness must not be negative");
    }
    let cors = Cors::from_args(&args.http.cors_origins)?;
    let data_dir = data_dir(args.data_dir)?;
    let shards = usize::from(args.shards);
    let mut store = SqliteStore::open(&data_dir, shards)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let sim = Simulator::new(SimConfig {
        seed: args
            .seed
            .unwrap_or_else(|| china_now_seconds().and_utc().timestamp() as u64),
        start: china_now_seconds(),
        clones: args.clones,
        // Warnings throughout the first minutes, not one burst at the start.
        clone_start_spread_s: 600,
        ..SimConfig::for_rate(args.rate)
    });
    let checkpoints = sim.network().checkpoints();
    store
        .upsert_checkpoints(&checkpoints)
        .context("cannot store checkpoints")?;
    println!(
        "gantry demo: {} checkpoints, {} shards, data in {}",
        checkpoints.len(),
        shards,
        data_dir.display()
    );
    println!("Ctrl-C stops it cleanly.");
    let config = DetectorConfig {
        lateness_s: args.lateness,
        ..DetectorConfig::default()
    };
    let feed = Feed::new();
    let series = SharedSeries::open(&data_dir)?;
    let archive = start_archive(&data_dir, &series)?;
    let (mqtt, broker) = embedded_mqtt(args.mqtt_port, &series)?;
    let stop = super::stop_flag()?;
    let sensors = start_sensors(args.sensors, broker, Arc::clone(&stop))?;
    let server = Server::start(ServerConfig {
        bind: args.http.bind,
        port: args.http.port,
        cors,
        mode: Mode::Demo,
        readers: super::serve::open_readers(&data_dir, None)?,
        feed: feed.clone(),
        detector: config.clone(),
        redis: None,
        series,
        mqtt: Arc::clone(&mqtt),
    })?;
    println!("{}", server.describe());
    let mut detector = Detector::new(config, checkpoints);
    super::restore_detector(&mut detector, &mut store)?;
    let store = LiveStore::new(Box::new(store), feed);
    let mut pipeline = Pipeline::new(detector, Box::new(store), BATCH);
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut source = PacedSimulator::new(sim, true);
    let mut last_tick = Instant::now();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.store(true, Ordering::SeqCst);
        }
        let Some(event) = source.next_event(&stop) else {
            break;
        };
        gantry_core::formats::ParseSink::pass(&mut pipeline, event.pass.as_ref());
        if last_tick.elapsed() >= TICK {
            pipeline.tick()?;
            print_live(&pipeline);
            last_tick = Instant::now();
        }
    }
    let (summary, mut store) = pipeline.finish()?;
    store.close().context("cannot close the store")?;
    archive.stop();
    if let Some(sensors) = sensors {
        let _ = sensors.join();
    }
    mqtt.stop();
    server.stop()?;
    let w = summary.written;
    println!(
        "stopped: {} passes stored, {} duplicates, {} warnings; data in {}",
        w.inserted,
        w.duplicates,
        w.warnings_inserted,
        data_dir.display()
    );
    Ok(())
}

/// The Parquet archive of points and passes under `data_dir/archive`.
fn start_archive(data_dir: &std::path::Path, series: &SharedSeries) -> anyhow::Result<Archiver> {
    let settings = ArchiveConfig {
        roll_secs: ARCHIVE_ROLL_SECS,
        ..ArchiveConfig::default()
    }
    .settings(data_dir);
    println!(
        "Parquet archive in {} (a file a minute, partitioned by day)",
        settings.dir.display()
    );
    Archiver::start(&settings, Some(series.clone()), Some(data_dir.to_owned()))
}

/// The in-process broker devices publish to, and the source following it.
fn embedded_mqtt(
    port: Option<u16>,
    series: &SharedSeries,
) -> anyhow::Result<(Arc<MqttLink>, SocketAddr)> {
    let address = broker::start(port)?;
    let config = MqttConfig {
        host: address.ip().to_string(),
        port: address.port(),
        client_id: "gantry-demo".into(),
        // The broker lives and dies with this process: nothing to resume.
        clean_session: true,
        ..MqttConfig::default()
    };
    println!(
        "MQTT broker at mqtt://{address}: readings published under {} are stored",
        config.topics.join(", ")
    );
    let link = MqttLink::start(Some(&config), series.clone())?;
    Ok((Arc::new(link), address))
}

/// `devices` simulated sensors publishing to the broker once a second on
/// their own thread, until `stop`.
fn start_sensors(
    devices: usize,
    broker: SocketAddr,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    if devices == 0 {
        return Ok(None);
    }
    let mut publisher = MqttPublisher::connect(
        &broker.ip().to_string(),
        broker.port(),
        "gantry-demo-sensors",
        1,
    )?;
    let sim = SensorSim::new(SensorConfig {
        seed: china_now_seconds().and_utc().timestamp() as u64,
        devices,
        ..SensorConfig::default()
    });
    println!("{devices} simulated sensors publish to mqtt://{broker}/sensors/dev-NN every second");
    let devices = Devices {
        sim,
        interval: Duration::from_secs(1),
        rounds: None,
    };
    let thread = std::thread::Builder::new()
        .name("sensors".into())
        .spawn(move || {
            if let Err(e) = devices.publish(&mut publisher, &stop) {
                eprintln!("gantry demo: the simulated sensors stopped: {e:#}");
            }
            publisher.close();
        })
        .context("cannot start the simulated sensors")?;
    Ok(Some(thread))
}

fn print_live(pipeline: &Pipeline) {
    let w = pipeline.written();
    let d = pipeline.detector_stats();
    println!(
        "{}  passes {:>8}  warnings {:>4}  plates tracked {:>6}",
        china_now_seconds(),
        w.inserted,
        w.warnings_inserted,
        d.tracked_plates
    );
}

/// The data dir asked for, or a new temporary one (kept after exit so the
/// data can be inspected; its path is printed).
fn data_dir(asked: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match asked {
        Some(dir) => Ok(dir),
        None => Ok(tempfile::Builder::new()
            .prefix("gantry-demo-")
            .tempdir()
            .context("cannot create a temporary data dir")?
            .keep()),
    }
}
