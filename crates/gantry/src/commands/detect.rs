//! `gantry detect`: files or stdin through the detector, warnings out as
//! JSON lines, nothing stored. The quick check of a file, and the path to
//! compare with stream processors.
//!
//! Two threads: one reads, parses and prepares (plate check, checkpoint
//! interning); the other keeps per-plate state and writes warnings.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Context};
use crossbeam_channel::{bounded, Receiver, Sender};
use gantry_core::formats::{InputParser, ParseSink};
use gantry_core::{CheckpointDirectory, Detector, Observation, PassRef, Preparer, Rejection};

use crate::cli::DetectArgs;
use crate::clock::china_now;
use crate::sinks::jsonl;
use crate::sources::file;

/// Observations per message between the threads.
const BATCH: usize = 8_192;

/// What the parsing thread hands the detecting thread.
struct Prepared {
    /// Checkpoints first seen in this batch, in id order.
    new_checkpoints: Vec<String>,
    observations: Vec<Observation>,
}

/// What the parsing thread counted.
#[derive(Default)]
struct ParseCounts {
    rejected: BTreeMap<&'static str, u64>,
    untracked: u64,
}

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let config = super::detector_config(&args.detector)?;
    let checkpoints = match &args.detector.checkpoints {
        Some(path) => super::load_checkpoints(path)?,
        None => CheckpointDirectory::new(),
    };
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let started = Instant::now();
    let mut detector = Detector::new(config, checkpoints);
    let preparer = detector.preparer();
    let (tx, rx) = bounded::<Prepared>(8);
    // Emptied batch vectors go back for reuse: fresh half-megabyte vectors
    // for every batch cost more in page faults than the parsing itself.
    let (recycle_tx, recycle_rx) = bounded::<Vec<Observation>>(16);
    let parser = std::thread::Builder::new()
        .name("parse".into())
        .spawn(move || parse_all(&files, preparer, tx, recycle_rx))
        .context("cannot start the parsing thread")?;

    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut warnings = Vec::new();
    for batch in rx {
        detector.learn_checkpoints(&batch.new_checkpoints);
        let now = china_now();
        let mut observations = batch.observations;
        for observation in observations.drain(..) {
            detector.observe_prepared(observation, now, &mut warnings);
        }
        let _ = recycle_tx.try_send(observations);
        if let Err(e) = write_all(&mut out, &mut warnings) {
            // `gantry detect … | head` closes the pipe early: stop quietly.
            // Dropping the receiver stops the parsing thread too.
            return if is_broken_pipe(&e) { Ok(()) } else { Err(e) };
        }
    }
    let counts = parser
        .join()
        .map_err(|_| anyhow!("the parsing thread panicked"))??;
    detector.flush(china_now(), &mut warnings);
    write_all(&mut out, &mut warnings)?;
    out.flush()?;

    let stats = detector.stats();
    let records = stats.observed + counts.untracked;
    eprintln!(
        "{records} records, {} warnings, {} rejected, {} untracked plates, {} late, {:.0} records/s",
        stats.warnings,
        counts.rejected.values().sum::<u64>(),
        counts.untracked,
        stats.late,
        records as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    for (reason, n) in &counts.rejected {
        eprintln!("  rejected {n}: {reason}");
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
        || e.downcast_ref::<serde_json::Error>()
            .and_then(|e| e.io_error_kind())
            .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
}

fn write_all(out: &mut impl Write, warnings: &mut Vec<gantry_core::Warning>) -> anyhow::Result<()> {
    for warning in warnings.drain(..) {
        jsonl::write_warning(out, &warning)?;
    }
    Ok(())
}

/// The parsing thread: every file through the parser and the preparer.
fn parse_all(
    files: &[PathBuf],
    preparer: Preparer,
    tx: Sender<Prepared>,
    recycled: Receiver<Vec<Observation>>,
) -> anyhow::Result<ParseCounts> {
    let mut sink = PrepareSink {
        preparer,
        batch: Vec::with_capacity(BATCH),
        counts: ParseCounts::default(),
        tx,
        recycled,
        closed: false,
    };
    for path in files {
        let input = file::open(path)?;
        let mut parser = InputParser::new(file::source_name(path));
        file::feed_all(input, &mut parser, &mut sink, |_| {})
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    sink.send();
    sink.counts.untracked = sink.preparer.untracked();
    Ok(sink.counts)
}

struct PrepareSink {
    preparer: Preparer,
    batch: Vec<Observation>,
    counts: ParseCounts,
    tx: Sender<Prepared>,
    recycled: Receiver<Vec<Observation>>,
    /// The detecting thread stopped (its output failed): parse no further.
    closed: bool,
}

impl PrepareSink {
    fn empty_batch(&self) -> Vec<Observation> {
        self.recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH))
    }

    fn send(&mut self) {
        let empty = self.empty_batch();
        let batch = Prepared {
            new_checkpoints: self.preparer.take_new_checkpoints(),
            observations: std::mem::replace(&mut self.batch, empty),
        };
        self.closed |= self.tx.send(batch).is_err();
    }
}

impl ParseSink for PrepareSink {
    fn pass(&mut self, pass: PassRef<'_>) {
        if self.closed {
            return;
        }
        if let Some(observation) = self.preparer.prepare(&pass) {
            self.batch.push(observation);
            if self.batch.len() >= BATCH {
                self.send();
            }
        }
    }

    fn reject(&mut self, rejection: Rejection) {
        *self
            .counts
            .rejected
            .entry(rejection.reason.kind())
            .or_default() += 1;
    }
}
