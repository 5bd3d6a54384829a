//! `gantry serve`: the HTTP API over an existing store, until Ctrl-C.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use gantry_core::DetectorConfig;
use gantry_store::{SqliteStore, Store};

use crate::api::{Cors, Feed, Mode, Server, ServerConfig};
use crate::cli::{ServeArgs, StoreArgs};
use crate::config::{Config, Engine};
use crate::sinks::archive::Archiver;
use crate::sinks::forward::{Forwarder, PointSink};
use crate::sinks::influxdb::InfluxSink;
use crate::sinks::kafka::KafkaReadings;
use crate::sinks::mac_data::MacDataSink;
use crate::sinks::series::SharedSeries;
use crate::sinks::series_retention::SeriesRetention;
use crate::sinks::thingsboard::ThingsboardSink;
use crate::sources::mqtt::MqttLink;

/// Read connections: queries that can run at once.
const READERS: usize = 2;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load_or_default(args.config.as_deref())?;
    let dir = &args.data_dir;
    let (readers, source) = if config.store.engine == Engine::Mysql {
        let store_args = StoreArgs {
            config: args.config.clone(),
            data_dir: None,
            shards: None,
        };
        let readers = (0..READERS)
            .map(|_| super::open_configured(&store_args, &config, true))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (
            readers,
            crate::config::mask_passwords(&config.store.mysql_shards.join(", ")),
        )
    } else {
        (open_dir_readers(&args)?, dir.display().to_string())
    };
    let cors = Cors::from_args(&args.http.cors_origins)?;
    let shards = readers[0].shard_counts().map(|c| c.len()).unwrap_or(0);
    let stop = super::stop_flag()?;
    let series = SharedSeries::open(if config.store.engine == Engine::Mysql {
        &config.store.data_dir
    } else {
        dir
    })?;
    let mqtt = Arc::new(MqttLink::start(config.mqtt.as_ref(), series.clone())?);
    let forwarders = forwarders(&config, &series)?;
    let archive = archive(&config, dir, &series)?;
    let retention = SeriesRetention::start(series.clone(), config.series.retention())?;
    let server = Server::start(ServerConfig {
        bind: args.http.bind,
        port: args.http.port,
        cors,
        mode: Mode::Serve,
        readers,
        feed: Feed::new(),
        detector: DetectorConfig::default(),
        redis: config.redis.clone(),
        series,
        mqtt: Arc::clone(&mqtt),
    })?;
    println!(
        "gantry serve: {} over {source} ({shards} shards)",
        server.url()
    );
    println!("{}", server.describe());
    if let Some(mqtt) = &config.mqtt {
        println!(
            "IoT readings from MQTT {}:{} topics {}",
            mqtt.host,
            mqtt.port,
            mqtt.topics.join(", ")
        );
    }
    println!("Ctrl-C stops it.");
    while !stop.load(Ordering::SeqCst) && server.is_running() {
        std::thread::sleep(Duration::from_millis(100));
    }
    mqtt.stop();
    for forwarder in forwarders {
        forwarder.stop();
    }
    if let Some(archive) = archive {
        archive.stop();
    }
    if let Some(retention) = retention {
        retention.stop();
    }
    server.stop()
}

/// Readers of the embedded store in `--data-dir`.
fn open_dir_readers(args: &ServeArgs) -> anyhow::Result<Vec<Box<dyn Store>>> {
    let dir = &args.data_dir;
    if !dir.is_dir() {
        bail!(
            "data dir {} does not exist: import or run the demo first",
            dir.display()
        );
    }
    open_readers(dir, args.shards)
}

/// Read-only connections to the store in `dir`, checked against `--shards`.
pub fn open_readers(
    dir: &std::path::Path,
    shards: Option<u16>,
) -> anyhow::Result<Vec<Box<dyn Store>>> {
    (0..READERS)
        .map(|_| {
            let store = SqliteStore::open_readonly(dir)
                .with_context(|| format!("cannot open the store in {}", dir.display()))?;
            if let Some(asked) = shards {
                if store.shard_count() != usize::from(asked) {
                    bail!(
                        "data dir {} holds {} shards, --shards says {asked}",
                        dir.display(),
                        store.shard_count()
                    );
                }
            }
            Ok(Box::new(store) as Box<dyn Store>)
        })
        .collect()
}

/// The Parquet archive the config asks for: points, and the passes of an
/// embedded store in `dir`.
fn archive(
    config: &Config,
    dir: &std::path::Path,
    series: &SharedSeries,
) -> anyhow::Result<Option<Archiver>> {
    let Some(archive) = &config.archive else {
        return Ok(None);
    };
    let embedded = config.store.engine == Engine::Sqlite;
    let data_dir = if embedded {
        dir
    } else {
        &config.store.data_dir
    };
    let settings = archive.settings(data_dir);
    println!("Parquet archive in {}", settings.dir.display());
    if archive.passes && !embedded {
        println!("(passes of MySQL shards are not archived: only the embedded store's)");
    }
    Archiver::start(
        &settings,
        archive.points.then(|| series.clone()),
        (archive.passes && embedded).then(|| dir.to_owned()),
    )
    .map(Some)
}

/// A forwarder for each external sink of IoT points the config names.
fn forwarders(config: &Config, series: &SharedSeries) -> anyhow::Result<Vec<Forwarder>> {
    let mut sinks: Vec<(Box<dyn PointSink>, usize)> = Vec::new();
    if let Some(influx) = &config.influxdb {
        sinks.push((Box::new(InfluxSink::new(influx)?), influx.batch));
    }
    if let Some(mac_data) = &config.mac_data {
        sinks.push((Box::new(MacDataSink::new(mac_data)?), mac_data.batch));
    }
    if let Some(thingsboard) = &config.thingsboard {
        sinks.push((
            Box::new(ThingsboardSink::new(thingsboard)?),
            thingsboard.batch,
        ));
    }
    if let Some(kafka) = config
        .kafka
        .as_ref()
        .filter(|k| !k.readings_topic.is_empty())
    {
        let readings = KafkaReadings::new(&kafka.brokers, &kafka.readings_topic)?;
        sinks.push((Box::new(readings), kafka.batch_max));
    }
    sinks
        .into_iter()
        .map(|(sink, batch)| {
            println!(
                "IoT points forwarded to {}",
                crate::config::mask_passwords(&sink.name())
            );
            Forwarder::start(series.clone(), sink, batch)
        })
        .collect()
}
