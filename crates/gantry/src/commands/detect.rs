//! `gantry detect`: files or stdin through the detector, warnings out as
//! JSON lines, nothing stored. The quick check of a file, and the path to
//! compare with stream processors.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDateTime;
use gantry_core::formats::{InputParser, ParseSink};
use gantry_core::{CheckpointDirectory, Detector, PassRef, Rejection, Warning};

use crate::cli::DetectArgs;
use crate::clock::china_now;
use crate::sinks::jsonl;
use crate::sources::file;

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
    let stdout = io::stdout().lock();
    let mut sink = DetectSink {
        detector: Detector::new(config, checkpoints),
        warnings: Vec::new(),
        rejected: BTreeMap::new(),
        now: china_now(),
        out: BufWriter::with_capacity(1 << 16, stdout),
    };
    for path in &files {
        let input = file::open(path)?;
        let mut parser = InputParser::new(file::source_name(path));
        file::feed_all(input, &mut parser, &mut sink, |_| {})
            .with_context(|| format!("cannot read {}", path.display()))?;
        sink.write_warnings()?;
    }
    let now = china_now();
    sink.detector.flush(now, &mut sink.warnings);
    sink.write_warnings()?;
    sink.out.flush()?;
    let stats = sink.detector.stats();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} records, {} warnings, {} rejected, {} untracked plates, {} late, {:.0} records/s",
        stats.observed,
        stats.warnings,
        sink.rejected.values().sum::<u64>(),
        stats.untracked,
        stats.late,
        stats.observed as f64 / seconds.max(1e-9)
    );
    for (reason, n) in &sink.rejected {
        eprintln!("  rejected {n}: {reason}");
    }
    Ok(())
}

struct DetectSink<W: Write> {
    detector: Detector,
    warnings: Vec<Warning>,
    rejected: BTreeMap<&'static str, u64>,
    now: NaiveDateTime,
    out: W,
}

impl<W: Write> DetectSink<W> {
    fn write_warnings(&mut self) -> anyhow::Result<()> {
        for warning in self.warnings.drain(..) {
            jsonl::write_warning(&mut self.out, &warning)?;
        }
        self.now = china_now();
        Ok(())
    }
}

impl<W: Write> ParseSink for DetectSink<W> {
    fn pass(&mut self, pass: PassRef<'_>) {
        self.detector.observe(&pass, self.now, &mut self.warnings);
    }

    fn reject(&mut self, rejection: Rejection) {
        *self.rejected.entry(rejection.reason.kind()).or_default() += 1;
    }
}
