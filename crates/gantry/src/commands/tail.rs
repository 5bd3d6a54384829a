//! `gantry tail`: follows growing files of format (a) lines, as Flume's
//! TAILDIR source does, into the store (`tail.sink = "pipeline"`, the
//! default) or onto Kafka's raw topic (`tail.sink = "kafka"`) for workers.
//! Read positions are committed only after the store holds the lines (and
//! the warnings they raised), or Kafka acknowledged them, so a restart,
//! even after `kill -9`, resumes where they left off; lines sent again are
//! skipped by their GCXH and warnings by their id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_core::formats::{parse_line, write_line};
use gantry_core::Detector;
use gantry_store::{Batch, WriteSummary};
use rdkafka::message::{Header, OwnedHeaders};

use crate::cli::TailArgs;
use crate::clock::china_now;
use crate::config::{Config, KafkaConfig, TailSink};
use crate::pipeline::{detect_lines, SourcedLine};
use crate::sinks::kafka::KafkaSink;
use crate::sources::tail::{decode_line, TailConfig, TailLine, Tailer};

/// Lines per store write or Kafka flush.
const MAX_LINES: usize = 8192;
/// How often an idle tailer looks for new lines.
const POLL: Duration = Duration::from_millis(50);

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let config = Config::load_or_default(args.store.config.as_deref())?;
    let detector_config = super::detector_config(&args.detector)?;
    let patterns = if args.paths.is_empty() {
        config.tail.paths.clone()
    } else {
        args.paths.clone()
    };
    if patterns.is_empty() {
        bail!("no files to follow: name them, or set tail.paths in the config");
    }
    let position_file = args
        .position_file
        .clone()
        .unwrap_or_else(|| config.tail.position_file.clone());
    let mut tailer = Tailer::open(TailConfig {
        patterns,
        position_file: position_file.clone(),
        read_from_start: !args.from_end,
        ..TailConfig::default()
    })
    .with_context(|| {
        format!(
            "cannot start from position file {}",
            position_file.display()
        )
    })?;
    let stop = super::stop_flag()?;
    let idle_exit = args.idle_exit_ms.map(Duration::from_millis);

    if config.tail.sink == TailSink::Kafka {
        let kafka = config
            .kafka
            .as_ref()
            .context("tail.sink = \"kafka\" needs a [kafka] section")?;
        return to_kafka(&mut tailer, kafka, &stop, idle_exit);
    }

    let mut store = super::open_configured(&args.store, &config, false)?;
    let checkpoints =
        super::checkpoints_with(store.as_mut(), args.detector.checkpoints.as_deref())?;
    let mut detector = Detector::new(detector_config, checkpoints);
    super::restore_detector(&mut detector, store.as_mut())?;
    let mut total = WriteSummary::default();
    let lines_read = follow(&mut tailer, &stop, idle_exit, |lines| {
        let sources: Vec<String> = lines.iter().map(|l| l.path.display().to_string()).collect();
        let sourced = lines.iter().zip(&sources).map(|(l, source)| SourcedLine {
            source,
            line: l.line_no,
            bytes: &l.bytes,
        });
        let batch = detect_lines(sourced, &mut detector, china_now());
        total.add(super::store_batch(store.as_mut(), &batch, &stop)?);
        Ok(())
    })?;
    // Warnings the detector still holds for late records.
    let mut warnings = Vec::new();
    detector.flush(china_now(), &mut warnings);
    let last = Batch {
        warnings,
        ..Batch::default()
    };
    total.add(super::store_batch(store.as_mut(), &last, &stop)?);
    store.close().context("cannot close the store")?;
    println!(
        "lines {lines_read}  accepted {}  duplicates {}  rejected {}  warnings {} new",
        total.inserted, total.duplicates, total.rejected, total.warnings_inserted
    );
    Ok(())
}

/// Hands each poll's lines to `deliver`, then commits their positions;
/// returns the lines read. Ends on Ctrl-C, or after `idle_exit` without a
/// new line.
fn follow(
    tailer: &mut Tailer,
    stop: &AtomicBool,
    idle_exit: Option<Duration>,
    mut deliver: impl FnMut(&[TailLine]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut last_line = Instant::now();
    let mut lines_read = 0u64;
    while !stop.load(Ordering::SeqCst) {
        for warning in tailer.take_warnings() {
            eprintln!("gantry tail: {warning}");
        }
        let lines = tailer
            .poll(MAX_LINES)
            .context("cannot read the tailed files")?;
        if lines.is_empty() {
            if idle_exit.is_some_and(|limit| last_line.elapsed() >= limit) {
                break;
            }
            std::thread::sleep(POLL);
            continue;
        }
        last_line = Instant::now();
        lines_read += lines.len() as u64;
        deliver(&lines)?;
        tailer.commit().context("cannot save read positions")?;
    }
    Ok(lines_read)
}

/// Produces every line to the raw topic as the classic Flume → Kafka
/// pipeline does: one format (a) line (12 fields) per record, keyed by
/// HPHM so one plate's records stay in one partition, with the file and
/// line in `source`/`line` headers. A line that does not parse goes as it
/// is, unkeyed, for the workers to keep as a rejected row.
fn to_kafka(
    tailer: &mut Tailer,
    kafka: &KafkaConfig,
    stop: &AtomicBool,
    idle_exit: Option<Duration>,
) -> anyhow::Result<()> {
    let sink = KafkaSink::new(&kafka.brokers)?;
    let mut line = String::new();
    let mut names = SourceName::default();
    let lines_read = follow(tailer, stop, idle_exit, |lines| {
        super::retry("Kafka", stop, || {
            for l in lines {
                let text = decode_line(&l.bytes);
                let headers = OwnedHeaders::new()
                    .insert(Header {
                        key: "source",
                        value: Some(names.of(&l.path).as_bytes()),
                    })
                    .insert(Header {
                        key: "line",
                        value: Some(l.line_no.to_string().as_bytes()),
                    });
                match parse_line(&text) {
                    Ok(pass) => {
                        line.clear();
                        write_line(&pass, &mut line);
                        sink.send(
                            &kafka.topic,
                            Some(pass.plate),
                            line.as_bytes(),
                            Some(headers),
                        )?;
                    }
                    Err(_) => sink.send(&kafka.topic, None, &l.bytes, Some(headers))?,
                }
            }
            sink.flush(Duration::from_secs(30))
        })
    })?;
    println!("lines {lines_read} sent to {}", kafka.topic);
    Ok(())
}

/// A file's name as text, kept for the next line: lines come in runs
/// from one file, and rendering the path for each one showed in a
/// profile of the tail.
#[derive(Default)]
struct SourceName {
    path: PathBuf,
    name: String,
}

impl SourceName {
    fn of(&mut self, path: &Path) -> &str {
        if self.path != path {
            self.path = path.to_owned();
            self.name = path.display().to_string();
        }
        &self.name
    }
}
