//! `gantry tail`: follows growing files of format (a) lines into the store,
//! as Flume's TAILDIR source feeds Kafka. Read positions are committed only
//! after the store holds the lines (and the warnings they raised), so a
//! restart, even after `kill -9`, resumes where the store left off; lines
//! read again are skipped by their GCXH and warnings by their id.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gantry_core::formats::parse_line;
use gantry_core::{Detector, Rejection};
use gantry_store::{Batch, Store, WriteSummary};

use crate::cli::TailArgs;
use crate::clock::china_now;
use crate::config::{Config, TailSink};
use crate::sources::tail::{decode_line, TailConfig, TailLine, Tailer};

/// Lines per store write.
const MAX_LINES: usize = 8192;
/// How often an idle tailer looks for new lines.
const POLL: Duration = Duration::from_millis(200);
/// Longest wait between two tries of a write the store refused for a
/// passing reason (server down, lock conflict).
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub fn run(args: TailArgs) -> anyhow::Result<()> {
    let config = Config::load_or_default(args.store.config.as_deref())?;
    let detector_config = super::detector_config(&args.detector)?;
    if config.tail.sink == TailSink::Kafka {
        bail!("tail.sink = \"kafka\" is not available yet: use sink = \"pipeline\"");
    }
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

    let mut store = super::open_configured(&args.store, &config, false)?;
    let mut checkpoints = store
        .checkpoints()
        .context("cannot read stored checkpoints")?;
    if let Some(path) = &args.detector.checkpoints {
        for checkpoint in super::load_checkpoints(path)?.iter() {
            checkpoints.upsert(checkpoint.clone());
        }
        store
            .upsert_checkpoints(&checkpoints)
            .context("cannot store checkpoints")?;
    }
    let mut detector = Detector::new(detector_config, checkpoints);
    super::restore_detector(&mut detector, store.as_mut())?;

    let stop = super::stop_flag()?;
    let idle_exit = args.idle_exit_ms.map(Duration::from_millis);
    let mut last_line = Instant::now();
    let mut total = WriteSummary::default();
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
        let batch = batch_of(&lines, &mut detector);
        total.add(write_until_stored(store.as_mut(), &batch, &stop)?);
        tailer.commit().context("cannot save read positions")?;
    }
    // Warnings the detector still holds for late records.
    let mut warnings = Vec::new();
    detector.flush(china_now(), &mut warnings);
    let last = Batch {
        warnings,
        ..Batch::default()
    };
    total.add(write_until_stored(store.as_mut(), &last, &stop)?);
    store.close().context("cannot close the store")?;
    println!(
        "lines {lines_read}  accepted {}  duplicates {}  rejected {}  warnings {} new",
        total.inserted, total.duplicates, total.rejected, total.warnings_inserted
    );
    Ok(())
}

/// Parses `lines` and runs their passes through the detector: one batch
/// with the passes, the warnings they raised and the rejected lines.
fn batch_of(lines: &[TailLine], detector: &mut Detector) -> Batch {
    let now = china_now();
    let mut batch = Batch::default();
    for line in lines {
        let text = decode_line(&line.bytes);
        match parse_line(&text) {
            Ok(pass) => {
                detector.observe(&pass, now, &mut batch.warnings);
                batch.passes.push(pass.to_pass());
            }
            Err(reason) => batch.rejected.push(Rejection {
                source: line.path.display().to_string(),
                line: line.line_no,
                reason,
                raw: text.into_owned(),
            }),
        }
    }
    batch
}

/// Writes `batch`, waiting out errors that pass (a shard restarting, a lock
/// conflict) with growing pauses; the tail does not move on meanwhile, so
/// the files buffer the input. Other errors, and Ctrl-C, end the run.
fn write_until_stored(
    store: &mut dyn Store,
    batch: &Batch,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<WriteSummary> {
    let mut pause = Duration::from_millis(100);
    loop {
        match store.write(batch) {
            Ok(summary) => return Ok(summary),
            Err(e) if e.is_transient() && !stop.load(Ordering::SeqCst) => {
                eprintln!("gantry tail: store unavailable, retrying in {pause:?}: {e}");
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e).context("cannot store the lines read"),
        }
    }
}
